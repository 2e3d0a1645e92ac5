package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/rotorlocal"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// Endpoint is the local deployment under test: started on one data file
// and address, killed and started again on them.
type Endpoint interface {
	// Start starts the endpoint with the given --fault specifications and
	// returns its URL once rotor is deployed on it.
	Start(ctx context.Context, faults []string) (string, error)
	// Kill stops it without a clean shutdown where it can.
	Kill() error
	// LogPath is the file holding the endpoint's and functions' output,
	// across restarts.
	LogPath() string
}

// freeAddr finds a loopback address that is free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Process runs `rotor local serve -v` as a child process with in-process
// functions: a kill is a SIGKILL of its process group, which the functions
// die with.
type Process struct {
	Rotor string // the rotor binary
	Dir   string // holds the data file and the log

	mu   sync.Mutex
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// NewProcess returns a Process keeping its data and log in dir.
func NewProcess(rotor, dir string) *Process { return &Process{Rotor: rotor, Dir: dir} }

// LogPath implements Endpoint.
func (p *Process) LogPath() string { return p.Dir + "/endpoint.log" }

// Start implements Endpoint.
func (p *Process) Start(ctx context.Context, faults []string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return "", errors.New("chaos: the endpoint process is already running")
	}
	if p.addr == "" {
		addr, err := freeAddr()
		if err != nil {
			return "", err
		}
		p.addr = addr
	}
	if p.log == nil {
		f, err := os.OpenFile(p.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return "", err
		}
		p.log = f
	}
	args := []string{"local", "serve", "-v", "--addr", p.addr, "--data", p.Dir + "/local.db"}
	for _, f := range faults {
		args = append(args, "--fault", f)
	}
	fmt.Fprintf(p.log, "chaos: start rotor %s\n", strings.Join(args, " "))
	ready := &watchWriter{want: "state machine"}
	cmd := exec.Command(p.Rotor, args...)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(p.log, ready), p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that SIGKILL reaches all it started
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start rotor local serve: %w", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	url := "http://" + p.addr
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for !ready.seen() {
		select {
		case <-done:
			// The log goes with the test's directory: quote its end.
			return "", fmt.Errorf("rotor local serve exited before it was ready (%v); the end of %s:\n%s", waitErr, p.LogPath(), logTail(p.LogPath()))
		case <-deadline.C:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return "", fmt.Errorf("rotor local serve was not ready within 60 s; see %s", p.LogPath())
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.cmd, p.done = cmd, done
	return url, nil
}

// Kill implements Endpoint: SIGKILL to the process group, then reap it.
func (p *Process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.cmd = nil
	fmt.Fprintf(p.log, "chaos: killed\n")
	return err
}

// Close kills the process if it runs and closes the log.
func (p *Process) Close() error {
	err := p.Kill()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil {
		err = errors.Join(err, p.log.Close())
		p.log = nil
	}
	return err
}

// watchWriter notes when its input has contained want.
type watchWriter struct {
	want string
	mu   sync.Mutex
	tail string
	ok   bool
}

func (w *watchWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ok {
		w.tail += string(b)
		w.ok = strings.Contains(w.tail, w.want)
		if len(w.tail) > 4096 {
			w.tail = w.tail[len(w.tail)-len(w.want):]
		}
	}
	return len(b), nil
}

func (w *watchWriter) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ok
}

// InProcess runs rotorlocal in this process: a kill is Host.Close, so
// executions stop at a clean point rather than mid-call. For quick runs
// and the harness's own tests; Process is the real test.
type InProcess struct {
	Dir string

	mu   sync.Mutex
	addr string
	host *rotorlocal.Host
	log  *os.File
}

// LogPath implements Endpoint.
func (e *InProcess) LogPath() string { return e.Dir + "/endpoint.log" }

// Start implements Endpoint.
func (e *InProcess) Start(ctx context.Context, faults []string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.host != nil {
		return "", errors.New("chaos: the in-process endpoint is already running")
	}
	o := rotorlocal.Options{Addr: e.addr, DataFile: e.Dir + "/local.db"}
	for _, f := range faults {
		fault, err := localaws.ParseFault(f)
		if err != nil {
			return "", err
		}
		o.Faults = append(o.Faults, fault)
	}
	if e.log == nil {
		f, err := os.OpenFile(e.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return "", err
		}
		e.log = f
	}
	o.FunctionLog = e.log
	o.Log = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := rotorlocal.Start(ctx, o)
	if err != nil {
		return "", err
	}
	e.host = h
	e.addr = strings.TrimPrefix(h.URL, "http://")
	return h.URL, nil
}

// Kill implements Endpoint.
func (e *InProcess) Kill() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.host == nil {
		return nil
	}
	err := e.host.Close()
	e.host = nil
	return err
}

// Close closes the host if it runs and the log.
func (e *InProcess) Close() error {
	err := e.Kill()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.log != nil {
		err = errors.Join(err, e.log.Close())
		e.log = nil
	}
	return err
}

// logTail is the end of the endpoint's log, for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return srvtest.Tail(string(b), 30)
}

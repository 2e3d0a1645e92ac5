package lambda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoEmulator is returned by StartRIE when the Lambda Runtime Interface
// Emulator binary cannot be found.
var ErrNoEmulator = errors.New(`aws-lambda-rie (the Lambda Runtime Interface Emulator) not found: run "make tools" to install it`)

// RIEOptions configure StartRIE.
type RIEOptions struct {
	// Emulator is the path of the aws-lambda-rie binary. Default: $ROTOR_RIE
	// (which the Makefile exports), then aws-lambda-rie on PATH.
	Emulator string
	// Bootstrap is the path of the function binary (a custom runtime's
	// bootstrap, e.g. one built with aws-lambda-go for the host's
	// architecture). It runs in its own directory, as in /var/task.
	Bootstrap string
	// Env is added to the emulator's environment, which the emulator hands
	// on to the function (e.g. AWS_ENDPOINT_URL, AWS_REGION, static
	// credentials; AWS_LAMBDA_FUNCTION_TIMEOUT in seconds, default 300).
	Env []string
	// Stdout and Stderr receive the emulator's and the function's output
	// (the function's logs go to stdout, the emulator's own to stderr);
	// nil discards.
	Stdout, Stderr io.Writer
	// StartTimeout bounds the wait for the emulator to listen. Default 10 s.
	StartTimeout time.Duration
}

// RIEFunction is one function binary running under its own Lambda Runtime
// Interface Emulator process, listening on loopback. The emulator starts
// the function at the first invocation (the cold start) and restarts it
// after it crashes. It must see one invocation at a time: route it through
// Lambda.RegisterURL, which serializes calls.
type RIEFunction struct {
	cmd    *exec.Cmd
	url    string
	stderr *tailBuffer

	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed

	closeOnce sync.Once
	closeErr  error
}

// StartRIE starts aws-lambda-rie for opts.Bootstrap on two free loopback
// ports (one for invocations, one for the runtime API) and waits until it
// accepts connections. ctx bounds the start only: the process runs until
// Close.
func StartRIE(ctx context.Context, opts RIEOptions) (*RIEFunction, error) {
	emulator, err := findEmulator(opts.Emulator)
	if err != nil {
		return nil, err
	}
	if opts.Bootstrap == "" {
		return nil, errors.New("StartRIE: no Bootstrap (the function binary) given")
	}
	bootstrap, err := filepath.Abs(opts.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("StartRIE: %w", err)
	}
	if st, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("StartRIE: function binary: %w", err)
	} else if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("StartRIE: function binary %s is not an executable file", bootstrap)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	// The ports are free when picked but not reserved: if another process
	// takes one before the emulator binds it, try again with others.
	for attempt := 1; ; attempt++ {
		f, err := startRIE(ctx, emulator, bootstrap, opts)
		if err == nil || attempt == 3 || !errors.Is(err, errAddrInUse) {
			return f, err
		}
	}
}

var errAddrInUse = errors.New("address already in use")

func findEmulator(path string) (string, error) {
	if path == "" {
		path = os.Getenv("ROTOR_RIE")
	}
	if path == "" {
		p, err := exec.LookPath("aws-lambda-rie")
		if err != nil {
			return "", fmt.Errorf("%w (ROTOR_RIE is unset and it is not on PATH)", ErrNoEmulator)
		}
		return p, nil
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return "", fmt.Errorf("%w (no file at %s)", ErrNoEmulator, path)
	}
	return path, nil
}

func startRIE(ctx context.Context, emulator, bootstrap string, opts RIEOptions) (*RIEFunction, error) {
	ports, err := freeLoopbackAddrs(2)
	if err != nil {
		return nil, fmt.Errorf("StartRIE: picking ports: %w", err)
	}
	cmd := exec.Command(emulator,
		"--runtime-interface-emulator-address", ports[0],
		"--runtime-api-address", ports[1],
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdout = opts.Stdout
	tail := &tailBuffer{max: 4 << 10}
	cmd.Stderr = tail
	if opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, opts.Stderr)
	}
	// The function inherits the output pipes: do not wait for it to close
	// them once the emulator has exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("StartRIE: starting %s: %w", emulator, err)
	}
	f := &RIEFunction{
		cmd:    cmd,
		url:    "http://" + ports[0] + "/2015-03-31/functions/function/invocations",
		stderr: tail,
		done:   make(chan struct{}),
	}
	go func() {
		f.waitErr = cmd.Wait()
		close(f.done)
	}()

	deadline := time.NewTimer(opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", ports[0], 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return f, nil
		}
		select {
		case <-f.done:
			err := fmt.Errorf("StartRIE: %s exited before listening (%v)%s", emulator, f.waitErr, f.stderrTail())
			if strings.Contains(tail.String(), "address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return nil, err
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("StartRIE: waiting for the emulator to listen on %s: %w", ports[0], ctx.Err())
		case <-deadline.C:
			f.Close()
			return nil, fmt.Errorf("StartRIE: the emulator did not listen on %s within %v%s", ports[0], opts.StartTimeout, f.stderrTail())
		case <-tick.C:
		}
	}
}

// freeLoopbackAddrs returns n distinct free 127.0.0.1 addresses.
func freeLoopbackAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// URL is the invocations URL, for Lambda.RegisterURL.
func (f *RIEFunction) URL() string { return f.url }

func (f *RIEFunction) stderrTail() string {
	s := strings.TrimSpace(f.stderr.String())
	if s == "" {
		return ""
	}
	return "; its stderr ends with:\n" + s
}

// Close stops the emulator (SIGTERM, which also stops the function; SIGKILL
// after 3 s) and waits for it. It reports an error if the emulator had
// already exited on its own.
func (f *RIEFunction) Close() error {
	f.closeOnce.Do(func() {
		select {
		case <-f.done:
			f.closeErr = fmt.Errorf("aws-lambda-rie had exited (%v)%s", f.waitErr, f.stderrTail())
			return
		default:
		}
		if err := f.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = f.cmd.Process.Kill()
		}
		select {
		case <-f.done:
		case <-time.After(3 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	})
	return f.closeErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
		if i := bytes.IndexByte(t.buf, '\n'); i >= 0 && i < len(t.buf)-1 {
			t.buf = t.buf[i+1:]
		}
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Package redistest starts throwaway Redis servers for tests, so that code
// talking to Redis is tested against the real server and its real ACLs
// rather than a fake.
//
// The contract:
//
//   - Every server is its own redis-server with a generated configuration
//     (no redis.conf of the machine applies) in its own temporary directory,
//     serving on 127.0.0.1 at a free TCP port (Redis has no "port 0"), with
//     no persistence (save "", appendonly no) and protected mode on. With
//     Options.TLS it also serves TLS on a second port (TLSPort), with a
//     certificate for 127.0.0.1 and localhost from a CA of its own (CAFile);
//     Port stays plaintext, for the helpers and for tests that say
//     "disable".
//   - The "default" user is off; the only user is AdminUser, with every
//     permission and a random password (AdminPassword) that the
//     configuration holds only as its SHA-256, so the cleartext is on no disk
//     and in no log.
//   - Start returns once the server answers PING as AdminUser; Close (or the
//     test's cleanup, whether it passed or failed) stops the server and
//     removes the directory. The server's log is kept for Log until Close.
//   - Binary: redis-server from $ROTOR_REDIS_BINDIR if set, else /usr/bin,
//     /usr/sbin, then $PATH. Missing Redis fails the test, because CI must run
//     these tests; `make tools` installs it. Only with ROTOR_DB_OPTIONAL=1
//     does Start skip instead, saying so. A ROTOR_REDIS_BINDIR without
//     redis-server always fails: it is a mistake, not an absent install.
//   - As root, the server runs as the "redis" OS user when it exists, else as
//     "nobody"; never as root, and never the distribution's own service.
package redistest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// NotInstalledMessage is what a test sees when no redis-server is found.
const NotInstalledMessage = "redis-server is not installed: run make tools (it installs Debian's redis-server)"

// ErrNotInstalled means no redis-server was found.
var ErrNotInstalled = errors.New(NotInstalledMessage)

const (
	// AdminUser is the ACL user with every permission on every server.
	AdminUser = "admin"
	// Host is where every server listens.
	Host = srvtest.Host

	defaultStartTimeout = 20 * time.Second
	stopGrace           = 5 * time.Second
	portAttempts        = 3
)

// Options adjust a server. The zero value is the documented default.
type Options struct {
	// Config are extra configuration lines ("maxclients 50"), after the
	// defaults and so overriding them where Redis lets a later line win.
	Config []string
	// StartTimeout bounds the wait for PING; zero means 20 seconds.
	StartTimeout time.Duration
	// TLS also serves TLS on TLSPort (see the package comment).
	TLS bool
}

// Server is a running Redis. Its fields are read-only.
type Server struct {
	Host          string
	Port          int
	AdminUser     string
	AdminPassword string
	// Binary is the redis-server that runs.
	Binary string
	// TLSPort serves TLS with Options.TLS, else it is 0.
	TLSPort int
	// CAFile is the PEM file of the CA that signed the TLS certificate
	// (Options.TLS); "" without TLS.
	CAFile string

	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the server process has been reaped
	outFile *os.File

	closeOnce sync.Once
	closeErr  error
}

// Start starts a server for the test and stops it in t.Cleanup. It fails the
// test if the server cannot start, or skips it when Redis is missing and
// ROTOR_DB_OPTIONAL=1 (see the package comment).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := Binary(); errors.Is(err, ErrNotInstalled) {
		if os.Getenv("ROTOR_DB_OPTIONAL") == "1" {
			t.Skip("SKIPPED, NOT TESTED: " + NotInstalledMessage + " (skipping because ROTOR_DB_OPTIONAL=1)")
		}
		t.Fatal(NotInstalledMessage + " (set ROTOR_DB_OPTIONAL=1 to skip instead)")
	}
	s, err := StartServer(context.Background(), opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redistest: last lines of the server log on port %d:\n%s", s.Port, srvtest.Tail(s.Log(), 30))
		}
		if err := s.Close(); err != nil {
			t.Errorf("redistest: %v", err)
		}
	})
	return s
}

// StartServer starts a server outside a test (benchmarks, tools); the caller
// must Close it. ctx bounds only the start, not the server's life.
func StartServer(ctx context.Context, opts Options) (s *Server, err error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	cred, err := srvtest.ServerCredential("redis")
	if err != nil {
		return nil, err
	}
	dir, err := srvtest.MakeDir("rotor-redistest-", cred)
	if err != nil {
		return nil, err
	}
	s = &Server{
		Host:          Host,
		AdminUser:     AdminUser,
		AdminPassword: rand.Text(),
		Binary:        bin,
		dir:           dir,
		logPath:       filepath.Join(dir, "redis.log"),
	}
	// Not "s = nil" in a deferred function: a "return nil, err" has already
	// set the named result s to nil by the time it runs.
	srv := s
	defer func() {
		if err != nil {
			_ = srv.Close()
		}
	}()
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	extra := opts.Config
	if opts.TLS {
		tlsLines, err := s.setupTLS(cred)
		if err != nil {
			return nil, fmt.Errorf("redistest: TLS: %w", err)
		}
		// Before the caller's lines, so that those still win.
		extra = append(tlsLines, extra...)
	}
	for attempt := 1; ; attempt++ {
		err := s.start(ctx, cred, extra, opts.TLS)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port taken")

func (s *Server) config(port, tlsPort int, extra []string) string {
	sum := sha256.Sum256([]byte(s.AdminPassword))
	lines := []string{
		"bind " + Host,
		"port " + strconv.Itoa(port),
		"protected-mode yes",
		"daemonize no",
		"dir " + s.dir,
		"logfile " + s.logPath,
		"loglevel notice",
		`save ""`,
		"appendonly no",
		"databases 16",
		// The default user would otherwise accept anyone without a password.
		"user default off resetpass nocommands",
		"user " + AdminUser + " on #" + hex.EncodeToString(sum[:]) + " ~* &* +@all",
	}
	if tlsPort != 0 {
		lines = append(lines, "tls-port "+strconv.Itoa(tlsPort))
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

// start runs redis-server on a fresh free port and waits for PING.
func (s *Server) start(ctx context.Context, cred *syscall.Credential, extra []string, withTLS bool) error {
	port, err := srvtest.FreePort()
	if err != nil {
		return err
	}
	s.Port = port
	if withTLS {
		if s.TLSPort, err = srvtest.FreePort(); err != nil {
			return err
		}
	}
	conf := filepath.Join(s.dir, "redis.conf")
	if err := srvtest.WriteOwned(conf, []byte(s.config(port, s.TLSPort, extra)), cred); err != nil {
		return err
	}
	// redis-server logs to logfile; stdout and stderr catch only what it
	// prints before it opens that (a bad configuration), appended for Log.
	out, err := os.OpenFile(filepath.Join(s.dir, "redis-server.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Not exec.CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(s.Binary, conf)
	srvtest.Prepare(cmd, s.dir, cred, syscall.SIGKILL, "REDIS")
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.outFile = cmd, exited, out

	client := s.Client()
	defer client.Close()
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := client.Ping(attemptCtx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			out.Close()
			s.outFile = nil
			log := s.Log()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("redis-server on port %d or %d: %w", port, s.TLSPort, errPortTaken)
			}
			return fmt.Errorf("redis-server exited before answering PING (%s); its log:\n%s", cmd.ProcessState, srvtest.Tail(log, 30))
		case <-ctx.Done():
			return fmt.Errorf("redis-server on port %d did not answer PING: %v (last: %v); its log:\n%s", port, ctx.Err(), err, srvtest.Tail(s.Log(), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Client is a new client logged in as AdminUser; the caller closes it.
func (s *Server) Client() *redis.Client {
	return s.ClientAs(s.AdminUser, s.AdminPassword)
}

// ClientAs is a new client for user and password; the caller closes it. It
// does not retry, so that a refused login surfaces at once.
func (s *Server) ClientAs(user, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            s.Addr(),
		Username:        user,
		Password:        password,
		MaxRetries:      -1,
		DialTimeout:     2 * time.Second,
		DisableIdentity: true, // no CLIENT SETINFO: nothing in the log it does not need
		Protocol:        2,
	})
}

// Do runs one command as AdminUser and fails the test on error.
func (s *Server) Do(t testing.TB, args ...any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client()
	defer c.Close()
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		// The arguments may hold a password; the command name alone is safe.
		t.Fatalf("redistest: %v: %v", args[0], err)
	}
	return v
}

// Close stops the server (SIGTERM, SIGKILL after 5 s) and removes its
// directory. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.cmd != nil {
			if err := srvtest.Stop(s.cmd, s.exited, syscall.SIGTERM, stopGrace); err != nil {
				errs = append(errs, fmt.Errorf("redis-server on port %d: %w", s.Port, err))
			}
		}
		if s.outFile != nil {
			s.outFile.Close()
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Dir is the server's directory (its configuration and log), removed by
// Close.
func (s *Server) Dir() string { return s.dir }

// Log is the server's log so far, after anything it printed before opening
// it. It is kept until Close.
func (s *Server) Log() string {
	return srvtest.ReadLogs(filepath.Join(s.dir, "redis-server.out"), s.logPath)
}

// Binary finds redis-server (see the package comment for the order). The
// error wraps ErrNotInstalled when none was found.
func Binary() (string, error) {
	if dir := os.Getenv("ROTOR_REDIS_BINDIR"); dir != "" {
		p := filepath.Join(dir, "redis-server")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("ROTOR_REDIS_BINDIR=%s holds no redis-server", dir)
		}
		return p, nil
	}
	p, ok := srvtest.FindBinary("redis-server", "/usr/bin", "/usr/sbin")
	if !ok {
		return "", ErrNotInstalled
	}
	return p, nil
}

// setupTLS writes the server's certificate, key and CA into its directory
// and returns the configuration lines that serve TLS with them. Clients
// need no certificate of their own (tls-auth-clients no): they
// authenticate with their ACL user's password, as rotor's do.
func (s *Server) setupTLS(cred *syscall.Credential) ([]string, error) {
	caDER, der, key, err := srvtest.ServerCert()
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(s.dir, "server.crt"), filepath.Join(s.dir, "server.key")
	s.CAFile = filepath.Join(s.dir, "ca.crt")
	if err := srvtest.WriteOwned(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), cred); err != nil {
		return nil, err
	}
	if err := srvtest.WriteOwned(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cred); err != nil {
		return nil, err
	}
	if err := srvtest.WriteOwned(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cred); err != nil {
		return nil, err
	}
	return []string{
		"tls-cert-file " + certFile,
		"tls-key-file " + keyFile,
		"tls-ca-cert-file " + s.CAFile,
		"tls-auth-clients no",
	}, nil
}

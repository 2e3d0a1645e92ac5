// Package pgtest starts throwaway PostgreSQL clusters for tests, so that code
// talking to PostgreSQL is tested against the real server and its real SCRAM
// authentication rather than a fake.
//
// The contract:
//
//   - Every cluster is its own initdb in its own temporary directory, serving
//     on 127.0.0.1 at a free TCP port, with scram-sha-256 authentication, a
//     random superuser password, fsync off, ssl off and log_statement=all.
//     Start returns once the server accepts a connection; Close (or the test's
//     cleanup, whether it passed or failed) stops the server and removes the
//     directory.
//   - The server's own log is kept and returned by Cluster.Log, so tests can
//     prove that no plaintext secret reached it.
//   - Binaries: $ROTOR_PG_BINDIR if set, else `pg_config --bindir`, else the
//     highest version under /usr/lib/postgresql/*/bin, each only if it holds
//     both initdb and postgres.
//   - Missing PostgreSQL fails the test, because CI must run these tests;
//     `make tools` installs it. Only with ROTOR_PG_OPTIONAL=1 in the
//     environment does Start skip instead, with a message saying so. A
//     ROTOR_PG_BINDIR that holds no PostgreSQL always fails: it is a mistake,
//     not an absent install.
//   - As root, initdb and postgres refuse to run, so they run as the "postgres"
//     OS user when it exists, else as "nobody".
//   - Fake (StartFake) is not PostgreSQL but an impostor at a loopback port
//     for attack tests: it asks every client for a cleartext password, an MD5
//     hash, a SCRAM-SHA-256 proof or nothing, optionally over TLS with a
//     certificate no client trusts, records every byte each client sends,
//     and refuses the login. It needs no PostgreSQL installed.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// NotInstalledMessage is what a test sees when no PostgreSQL is found.
const NotInstalledMessage = "PostgreSQL is not installed: run make tools (it installs Debian's postgresql-15)"

// ErrNotInstalled means no PostgreSQL binaries were found at all.
var ErrNotInstalled = errors.New(NotInstalledMessage)

const (
	// SuperUser is the bootstrap superuser of every cluster.
	SuperUser = "postgres"
	// Host is where every cluster listens: loopback only, as the clusters
	// trust nothing but their random password.
	Host = "127.0.0.1"

	defaultStartTimeout = 20 * time.Second
	// stopGrace is how long a fast shutdown may take before SIGKILL; a
	// cluster with fsync off has nothing worth waiting longer for.
	stopGrace = 5 * time.Second
	// portAttempts covers the window between finding a free port and the
	// server binding it, when another process may take it.
	portAttempts = 3
)

// Options adjust a cluster. The zero value is the documented default.
type Options struct {
	// Settings are extra server settings, passed as `-c name=value` after
	// the defaults and so overriding them (e.g. "ssl": "on" with its
	// ssl_cert_file and ssl_key_file, which the server's OS user must be
	// able to read).
	Settings map[string]string
	// StartTimeout bounds the wait for the server to accept connections;
	// zero means 20 seconds.
	StartTimeout time.Duration
	// TLS turns ssl on with a certificate for 127.0.0.1 and localhost from a
	// CA of the cluster's own (Cluster.CAFile), and accepts TCP connections
	// over TLS only.
	TLS bool
}

// Cluster is a running server. Its fields are read-only.
type Cluster struct {
	Host          string
	Port          int
	SuperUser     string
	SuperPassword string
	// BinDir is where initdb and postgres came from.
	BinDir string
	// CAFile is the PEM file of the CA that signed the server's certificate
	// (Options.TLS); "" without TLS.
	CAFile string

	dir     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the server process has been reaped
	logFile *os.File

	closeOnce sync.Once
	closeErr  error
}

// Start starts a cluster for the test and stops it in t.Cleanup. It fails the
// test if the cluster cannot start, or skips it when PostgreSQL is missing and
// ROTOR_PG_OPTIONAL=1 (see the package comment).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if _, err := BinDir(); errors.Is(err, ErrNotInstalled) {
		if os.Getenv("ROTOR_PG_OPTIONAL") == "1" {
			t.Skip("SKIPPED, NOT TESTED: " + NotInstalledMessage + " (skipping because ROTOR_PG_OPTIONAL=1)")
		}
		t.Fatal(NotInstalledMessage + " (set ROTOR_PG_OPTIONAL=1 to skip instead)")
	}
	c, err := StartCluster(context.Background(), opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: last lines of the server log on port %d:\n%s", c.Port, srvtest.Tail(c.Log(), 30))
		}
		if err := c.Close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// StartCluster starts a cluster outside a test (benchmarks, tools); the
// caller must Close it. ctx bounds only the start, not the server's life.
func StartCluster(ctx context.Context, opts Options) (c *Cluster, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := srvtest.ServerCredential("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := srvtest.MakeDir("rotor-pgtest-", cred)
	if err != nil {
		return nil, err
	}
	c = &Cluster{
		Host:          Host,
		SuperUser:     SuperUser,
		SuperPassword: rand.Text(),
		BinDir:        bin,
		dir:           dir,
		logPath:       filepath.Join(dir, "postgres.log"),
	}
	// The returns below set the named result to nil before this runs:
	// close the cluster they abandon through a variable of its own.
	started := c
	defer func() {
		if err != nil {
			_ = started.Close()
		}
	}()
	if err := c.initdb(ctx, cred); err != nil {
		return nil, err
	}
	settings := maps.Clone(opts.Settings)
	if opts.TLS {
		tlsSettings, err := c.setupTLS(cred)
		if err != nil {
			return nil, fmt.Errorf("pgtest: TLS: %w", err)
		}
		if settings == nil {
			settings = map[string]string{}
		}
		for k, v := range tlsSettings {
			if _, set := settings[k]; !set {
				settings[k] = v
			}
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := c.start(ctx, cred, settings)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return nil, err
		}
	}
}

func (c *Cluster) initdb(ctx context.Context, cred *syscall.Credential) error {
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := srvtest.WriteOwned(pwfile, []byte(c.SuperPassword+"\n"), cred); err != nil {
		return err
	}
	// The password has no business on disk once the cluster holds its hash.
	defer os.Remove(pwfile)
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "initdb"),
		"--pgdata="+filepath.Join(c.dir, "data"),
		"--auth=scram-sha-256",
		"--username="+SuperUser,
		"--pwfile="+pwfile,
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
	)
	srvtest.Prepare(cmd, c.dir, cred, 0, "PG")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

var errPortTaken = errors.New("port taken")

// start runs postgres on a fresh free port and waits until it accepts a
// connection.
func (c *Cluster) start(ctx context.Context, cred *syscall.Credential, extra map[string]string) error {
	port, err := srvtest.FreePort()
	if err != nil {
		return err
	}
	c.Port = port
	settings := map[string]string{
		"listen_addresses":        Host,
		"unix_socket_directories": c.dir,
		"fsync":                   "off",
		"password_encryption":     "scram-sha-256",
		"log_statement":           "all",
		"log_destination":         "stderr",
		"logging_collector":       "off",
		"ssl":                     "off",
		"max_connections":         "100",
	}
	maps.Copy(settings, extra)
	args := []string{"-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(port)}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}

	// Appending keeps a failed attempt's messages in Log for the error.
	logFile, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Not exec.CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(filepath.Join(c.BinDir, "postgres"), args...)
	srvtest.Prepare(cmd, c.dir, cred, 0, "PG")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// If the test binary dies without cleanup (a timeout panic, a kill), the
	// server must not outlive it; SIGQUIT is PostgreSQL's immediate shutdown,
	// which still releases its shared memory.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	c.cmd, c.exited, c.logFile = cmd, exited, logFile

	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := c.Connect(attemptCtx)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-exited:
			c.cmd, c.exited = nil, nil
			logFile.Close()
			c.logFile = nil
			log := c.Log()
			if strings.Contains(log, "could not bind") || strings.Contains(log, "already in use") {
				return fmt.Errorf("postgres on port %d: %w", port, errPortTaken)
			}
			return fmt.Errorf("postgres exited before accepting connections (%s); its log:\n%s", cmd.ProcessState, srvtest.Tail(log, 30))
		case <-ctx.Done():
			return fmt.Errorf("postgres on port %d did not accept connections: %v (last: %v); its log:\n%s", port, ctx.Err(), err, srvtest.Tail(c.Log(), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the server (fast shutdown, SIGKILL after 5 s) and removes the
// cluster's directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		if c.cmd != nil {
			if err := srvtest.Stop(c.cmd, c.exited, syscall.SIGINT, stopGrace); err != nil {
				errs = append(errs, fmt.Errorf("postgres on port %d: %w", c.Port, err))
			}
		}
		if c.logFile != nil {
			c.logFile.Close()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Dir is the cluster's directory (data/, the log, the server's socket),
// owned by the server's OS user and removed by Close.
func (c *Cluster) Dir() string { return c.dir }

// Log is everything the server has written to stderr so far. It is kept
// until Close.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(pgtest: cannot read the server log: %v)", err)
	}
	return string(b)
}

// DSN is a connection URL for user on db over TCP. sslmode=disable because
// the server runs with ssl=off (a libpq default of "prefer" would only add a
// round trip), or verify-full against CAFile with Options.TLS.
func (c *Cluster) DSN(user, password, db string) string {
	u := &url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	if c.CAFile != "" {
		u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {c.CAFile}}.Encode()
	}
	if password == "" {
		u.User = url.User(user)
	}
	return u.String()
}

// Connect connects as the superuser to the "postgres" database.
func (c *Cluster) Connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, c.DSN(c.SuperUser, c.SuperPassword, "postgres"))
}

// Exec runs sql as the superuser on its own connection, so that session
// settings never leak from one call into the next, and fails the test on
// error. Without args, sql may hold several statements.
func (c *Cluster) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatalf("pgtest: connect as %s: %v", c.SuperUser, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: exec: %v", err)
	}
}

// BinDir finds the directory holding initdb and postgres (see the package
// comment for the order). The error wraps ErrNotInstalled when nothing was
// found.
func BinDir() (string, error) {
	if dir := os.Getenv("ROTOR_PG_BINDIR"); dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("ROTOR_PG_BINDIR=%s holds no initdb and postgres", dir)
		}
		return dir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		// libpq-dev alone brings pg_config without the server.
		if dir := strings.TrimSpace(string(out)); hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVersion := "", []int(nil)
	for _, dir := range dirs {
		v, ok := parseVersion(filepath.Base(filepath.Dir(dir)))
		if ok && hasServer(dir) && slices.Compare(v, bestVersion) > 0 {
			best, bestVersion = dir, v
		}
	}
	if best == "" {
		return "", ErrNotInstalled
	}
	return best, nil
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// parseVersion reads Debian's version directory names ("15", "9.6"), so that
// 10 sorts above 9.6.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

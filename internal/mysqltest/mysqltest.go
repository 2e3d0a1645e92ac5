// Package mysqltest starts throwaway MariaDB servers for tests, so that code
// talking to MySQL-compatible databases is tested against a real server and
// its real authentication rather than a fake.
//
// The contract:
//
//   - Every server is its own mariadb-install-db in its own temporary
//     directory, started as `mariadbd --no-defaults` (no my.cnf of the
//     machine applies), serving on 127.0.0.1 at a free TCP port with its
//     socket in that directory, name resolution off, and the general query
//     log on (Server.GeneralLog), so that tests can prove which statements,
//     and so which plaintext passwords, reached the server.
//   - root has a random password (Server.RootPassword) for root@localhost
//     (socket) and root@127.0.0.1 (TCP); no other account can log in. The
//     password is set from its hash, so the cleartext is never in a log.
//   - Start returns once the server answers as root over TCP; Close (or the
//     test's cleanup, whether it passed or failed) stops the server and
//     removes the directory.
//   - Binaries: mariadbd from $ROTOR_MARIADB_BINDIR if set, else /usr/sbin,
//     /usr/bin, then $PATH; mariadb-install-db beside it, in ../bin, or on
//     $PATH. Missing MariaDB fails the test, because CI must run these tests;
//     `make tools` installs it. Only with ROTOR_DB_OPTIONAL=1 does Start skip
//     instead, saying so. A ROTOR_MARIADB_BINDIR without mariadbd always
//     fails: it is a mistake, not an absent install.
//   - As root, the server runs as the "mysql" OS user when it exists, else as
//     "nobody"; never as root, and never the distribution's own service.
//   - With Options.TLS the server serves a certificate from a CA of its own
//     (Server.CAFile) and refuses TCP without TLS; DSN, Open and Exec then
//     connect over TLS verified against that CA.
//   - StartFake starts no MariaDB: a Fake speaks only the connection phase,
//     asks for the password by one chosen method, records what each client
//     sent (decrypted) and refuses every login, so that tests can prove
//     what a client gives a host that is not the real server.
package mysqltest

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"database/sql"
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

	"github.com/go-sql-driver/mysql"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// NotInstalledMessage is what a test sees when no MariaDB is found.
const NotInstalledMessage = "MariaDB is not installed: run make tools (it installs Debian's mariadb-server)"

// ErrNotInstalled means no mariadbd or mariadb-install-db was found.
var ErrNotInstalled = errors.New(NotInstalledMessage)

const (
	// RootUser is the administrative account of every server.
	RootUser = "root"
	// Host is where every server listens.
	Host = srvtest.Host

	defaultStartTimeout = 30 * time.Second
	// stopGrace is how long a shutdown may take before SIGKILL; a throwaway
	// server has nothing worth waiting longer for.
	stopGrace = 10 * time.Second
	// portAttempts covers the window between finding a free port and the
	// server binding it, when another process may take it.
	portAttempts = 3
)

// Options adjust a server. The zero value is the documented default.
type Options struct {
	// Args are extra mariadbd options ("--name=value"), after the defaults
	// and so overriding them.
	Args []string
	// StartTimeout bounds the wait for the server to answer; zero means 30 s.
	StartTimeout time.Duration
	// TLS gives the server a certificate for 127.0.0.1 and localhost from a
	// CA of its own (Server.CAFile) and makes it accept TCP connections
	// over TLS only (require_secure_transport), so that a client that does
	// not use TLS is refused rather than silently served.
	TLS bool
}

// Server is a running MariaDB. Its fields are read-only.
type Server struct {
	Host         string
	Port         int
	RootUser     string
	RootPassword string
	// Mariadbd is the server binary that runs.
	Mariadbd string
	// CAFile is the PEM file of the CA that signed the server's certificate
	// (Options.TLS); "" without TLS.
	CAFile string

	installDB  string
	tlsName    string // the driver's registered TLS configuration (Options.TLS)
	dir        string
	logPath    string
	generalLog string
	socket     string
	cmd        *exec.Cmd
	exited     chan struct{} // closed when the server process has been reaped
	logFile    *os.File

	closeOnce sync.Once
	closeErr  error
}

// Start starts a server for the test and stops it in t.Cleanup. It fails the
// test if the server cannot start, or skips it when MariaDB is missing and
// ROTOR_DB_OPTIONAL=1 (see the package comment).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, _, err := Binaries(); errors.Is(err, ErrNotInstalled) {
		if os.Getenv("ROTOR_DB_OPTIONAL") == "1" {
			t.Skip("SKIPPED, NOT TESTED: " + NotInstalledMessage + " (skipping because ROTOR_DB_OPTIONAL=1)")
		}
		t.Fatal(NotInstalledMessage + " (set ROTOR_DB_OPTIONAL=1 to skip instead)")
	}
	s, err := StartServer(context.Background(), opts)
	if err != nil {
		t.Fatalf("mysqltest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mysqltest: last lines of the server log on port %d:\n%s", s.Port, srvtest.Tail(s.Log(), 30))
		}
		if err := s.Close(); err != nil {
			t.Errorf("mysqltest: %v", err)
		}
	})
	return s
}

// StartServer starts a server outside a test (benchmarks, tools); the caller
// must Close it. ctx bounds only the start, not the server's life.
func StartServer(ctx context.Context, opts Options) (s *Server, err error) {
	mariadbd, installDB, err := Binaries()
	if err != nil {
		return nil, err
	}
	cred, err := srvtest.ServerCredential("mysql")
	if err != nil {
		return nil, err
	}
	dir, err := srvtest.MakeDir("rotor-mysqltest-", cred)
	if err != nil {
		return nil, err
	}
	s = &Server{
		Host:         Host,
		RootUser:     RootUser,
		RootPassword: rand.Text(),
		Mariadbd:     mariadbd,
		installDB:    installDB,
		dir:          dir,
		logPath:      filepath.Join(dir, "mariadb.log"),
		generalLog:   filepath.Join(dir, "general.log"),
		socket:       filepath.Join(dir, "mysqld.sock"),
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
	if err := s.installDatabase(ctx, cred); err != nil {
		return nil, err
	}
	args := opts.Args
	if opts.TLS {
		tlsArgs, err := s.setupTLS(cred)
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		args = append(tlsArgs, args...)
	}
	for attempt := 1; ; attempt++ {
		err := s.start(ctx, cred, args)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == portAttempts {
			return nil, err
		}
	}
	if err := s.secureAccounts(ctx); err != nil {
		return nil, fmt.Errorf("setting root's password: %w", err)
	}
	return s, nil
}

func (s *Server) installDatabase(ctx context.Context, cred *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, s.installDB,
		"--no-defaults",
		"--datadir="+filepath.Join(s.dir, "data"),
		// Its own tmpdir: concurrent installs sharing /tmp fail now and then
		// ("Unknown table 'mysql.tmp_user_sys'").
		"--tmpdir="+s.dir,
		// root@localhost gets an (empty, until secureAccounts) password
		// rather than unix_socket authentication, which would tie it to the
		// OS user "root".
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
	)
	srvtest.Prepare(cmd, s.dir, cred, syscall.SIGKILL, "MYSQL", "MARIADB")
	if out, err := cmd.CombinedOutput(); err != nil {
		// The cause comes first; the rest is generic advice.
		return fmt.Errorf("mariadb-install-db: %v\n%s", err, head(string(out), 15))
	}
	return nil
}

var errPortTaken = errors.New("port taken")

// start runs mariadbd on a fresh free port and waits until root (still
// without a password, and only over the socket) can connect.
func (s *Server) start(ctx context.Context, cred *syscall.Credential, extra []string) error {
	port, err := srvtest.FreePort()
	if err != nil {
		return err
	}
	s.Port = port
	args := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(s.dir, "data"),
		"--tmpdir=" + s.dir,
		"--pid-file=" + filepath.Join(s.dir, "mariadbd.pid"),
		"--socket=" + s.socket,
		"--bind-address=" + Host,
		"--port=" + strconv.Itoa(port),
		"--skip-networking=0",
		"--skip-name-resolve",
		"--log-error=" + s.logPath,
		"--general-log=1",
		"--general-log-file=" + s.generalLog,
		"--log-output=FILE",
		// Durability is worth nothing to a throwaway server; start-up and
		// shutdown time are.
		"--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=8M",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--innodb-fast-shutdown=2",
		"--skip-log-bin",
		"--max-connections=100",
	}
	args = append(args, extra...)

	// mariadbd writes its own log (--log-error); stdout and stderr catch
	// only what it prints before it opens that, appended for Log.
	logFile, err := os.OpenFile(filepath.Join(s.dir, "mariadbd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Not exec.CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(s.Mariadbd, args...)
	srvtest.Prepare(cmd, s.dir, cred, syscall.SIGKILL, "MYSQL", "MARIADB")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("mariadbd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.logFile = cmd, exited, logFile

	cfg := s.config(RootUser, "", "")
	cfg.Net, cfg.Addr = "unix", s.socket
	cfg.TLSConfig = "" // a socket is local: no TLS
	for {
		err := ping(ctx, cfg)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			logFile.Close()
			s.logFile = nil
			log := s.Log()
			if strings.Contains(log, "Address already in use") || strings.Contains(log, "Do you already have another server running on port") {
				return fmt.Errorf("mariadbd on port %d: %w", port, errPortTaken)
			}
			return fmt.Errorf("mariadbd exited before accepting connections (%s); its log:\n%s", cmd.ProcessState, srvtest.Tail(log, 30))
		case <-ctx.Done():
			return fmt.Errorf("mariadbd on port %d did not accept connections: %v (last: %v); its log:\n%s", port, ctx.Err(), err, srvtest.Tail(s.Log(), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// secureAccounts leaves root@localhost and root@127.0.0.1 with the random
// password and drops every other account that could log in (anonymous
// users, root at other hosts). Over the socket, as root is still
// passwordless there.
func (s *Server) secureAccounts(ctx context.Context) error {
	cfg := s.config(RootUser, "", "")
	cfg.Net, cfg.Addr = "unix", s.socket
	cfg.TLSConfig = "" // a socket is local: no TLS
	cfg.MultiStatements = false
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection: the statements below must see each other's effects.
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, "SELECT User, Host FROM mysql.user WHERE NOT (User = 'root' AND Host = 'localhost') AND User <> 'mariadb.sys'")
	if err != nil {
		return err
	}
	var drop []string
	for rows.Next() {
		var u, h string
		if err := rows.Scan(&u, &h); err != nil {
			rows.Close()
			return err
		}
		drop = append(drop, fmt.Sprintf("DROP USER %s@%s", quote(u), quote(h)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	hash := nativePasswordHash(s.RootPassword)
	stmts := append(drop,
		"CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY PASSWORD '"+hash+"'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		"GRANT PROXY ON ''@'%' TO 'root'@'127.0.0.1' WITH GRANT OPTION",
		"ALTER USER 'root'@'localhost' IDENTIFIED BY PASSWORD '"+hash+"'",
	)
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st); err != nil {
			// The statement holds a hash at most, never the password.
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

// nativePasswordHash is mysql_native_password's stored form of password
// ("*" and the upper-case hex of SHA1(SHA1(password))), so that setting it
// puts no cleartext in the general log.
func nativePasswordHash(password string) string {
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	return fmt.Sprintf("*%X", h2[:])
}

func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func ping(ctx context.Context, cfg *mysql.Config) error {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.PingContext(attemptCtx)
}

func (s *Server) config(user, password, db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = user, password, db
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	cfg.Timeout = 5 * time.Second
	cfg.TLSConfig = s.tlsName
	return cfg
}

// DSN is a github.com/go-sql-driver/mysql data source name for user on db
// ("" for none) over TCP; with Options.TLS, over TLS verified against
// CAFile.
func (s *Server) DSN(user, password, db string) string {
	return s.config(user, password, db).FormatDSN()
}

// Open opens a database handle as root over TCP; the caller closes it.
func (s *Server) Open() (*sql.DB, error) {
	return sql.Open("mysql", s.DSN(s.RootUser, s.RootPassword, ""))
}

// Exec runs query as root on a connection of its own, so that session state
// never leaks from one call into the next, and fails the test on error.
func (s *Server) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := s.Open()
	if err != nil {
		t.Fatalf("mysqltest: open as %s: %v", s.RootUser, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("mysqltest: exec: %v", err)
	}
}

// Close stops the server (SIGTERM, SIGKILL after 10 s) and removes its
// directory. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.cmd != nil {
			if err := srvtest.Stop(s.cmd, s.exited, syscall.SIGTERM, stopGrace); err != nil {
				errs = append(errs, fmt.Errorf("mariadbd on port %d: %w", s.Port, err))
			}
		}
		if s.logFile != nil {
			s.logFile.Close()
		}
		if s.tlsName != "" {
			mysql.DeregisterTLSConfig(s.tlsName)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Dir is the server's directory (data/, the logs, the socket), owned by the
// server's OS user and removed by Close.
func (s *Server) Dir() string { return s.dir }

// Log is the server's error log so far, after anything it printed before
// opening it. It is kept until Close.
func (s *Server) Log() string {
	return srvtest.ReadLogs(filepath.Join(s.dir, "mariadbd.out"), s.logPath)
}

// GeneralLog is every statement the server has received so far, as the
// general query log recorded it.
func (s *Server) GeneralLog() string {
	b, err := os.ReadFile(s.generalLog)
	if err != nil {
		return fmt.Sprintf("(mysqltest: cannot read the general log: %v)", err)
	}
	return string(b)
}

// Binaries finds mariadbd and mariadb-install-db (see the package comment
// for the order). The error wraps ErrNotInstalled when either is missing.
func Binaries() (mariadbd, installDB string, err error) {
	if dir := os.Getenv("ROTOR_MARIADB_BINDIR"); dir != "" {
		p := filepath.Join(dir, "mariadbd")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return "", "", fmt.Errorf("ROTOR_MARIADB_BINDIR=%s holds no mariadbd", dir)
		}
		mariadbd = p
	} else {
		p, ok := srvtest.FindBinary("mariadbd", "/usr/sbin", "/usr/bin")
		if !ok {
			return "", "", ErrNotInstalled
		}
		mariadbd = p
	}
	dir := filepath.Dir(mariadbd)
	installDB, ok := srvtest.FindBinary("mariadb-install-db", dir, filepath.Join(filepath.Dir(dir), "bin"))
	if !ok {
		return "", "", fmt.Errorf("%w (found %s but no mariadb-install-db)", ErrNotInstalled, mariadbd)
	}
	return mariadbd, installDB, nil
}

package pgtest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotorhq/rotor/internal/pgtest"
)

func TestRoleConnectsOverTCPWithSCRAM(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	if c.Host != "127.0.0.1" || c.Port == 0 || c.SuperUser != "postgres" || c.SuperPassword == "" {
		t.Fatalf("cluster = host %q port %d superuser %q password set %v", c.Host, c.Port, c.SuperUser, c.SuperPassword != "")
	}

	password := rand.Text()
	c.Exec(t, "CREATE ROLE app LOGIN PASSWORD '"+password+"'")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("app", password, "postgres"))
	if err != nil {
		t.Fatalf("connect as app: %v", err)
	}
	defer conn.Close(ctx)

	var user, enc, addr string
	if err := conn.QueryRow(ctx, "SELECT current_user, host(inet_server_addr())").Scan(&user, &addr); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SHOW password_encryption").Scan(&enc); err != nil {
		t.Fatal(err)
	}
	if user != "app" || enc != "scram-sha-256" || addr != "127.0.0.1" {
		t.Errorf("current_user %q, password_encryption %q, server address %q; want app, scram-sha-256, 127.0.0.1 (TCP)", user, enc, addr)
	}

	// The stored verifier is SCRAM, so the server really did check a SCRAM
	// exchange rather than trusting the connection.
	var verifier string
	queryRow(t, c, "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'", &verifier)
	if !strings.HasPrefix(verifier, "SCRAM-SHA-256$") {
		t.Errorf("app's stored password starts %.16q, want a SCRAM-SHA-256 verifier", verifier)
	}

	if conn, err := pgx.Connect(ctx, c.DSN("app", password+"x", "postgres")); err == nil {
		conn.Close(ctx)
		t.Error("a wrong password was accepted")
	}

	// log_statement=all: the statement, password and all, is in the log. Tests
	// of code that must not send plaintext passwords rely on exactly this.
	if log := c.Log(); !strings.Contains(log, "statement: CREATE ROLE app LOGIN PASSWORD '"+password+"'") {
		t.Errorf("the server log lacks the CREATE ROLE statement; log:\n%s", log)
	}
}

func TestTwoClustersAtOnce(t *testing.T) {
	skipIfOptionalAndMissing(t)
	// Started concurrently, as parallel tests would, so that they also race
	// for free ports.
	var (
		wg       sync.WaitGroup
		clusters [2]*pgtest.Cluster
		errs     [2]error
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range clusters {
		wg.Go(func() { clusters[i], errs[i] = pgtest.StartCluster(ctx, pgtest.Options{}) })
	}
	wg.Wait()
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() {
				if err := c.Close(); err != nil {
					t.Error(err)
				}
			})
		}
		if errs[i] != nil {
			t.Fatalf("cluster %d: %v", i, errs[i])
		}
	}
	a, b := clusters[0], clusters[1]
	if a.Port == b.Port {
		t.Fatalf("both clusters on port %d", a.Port)
	}
	if a.SuperPassword == b.SuperPassword {
		t.Error("both clusters have the same superuser password")
	}

	// A marker in one must not show in the other: they are separate servers.
	a.Exec(t, "CREATE DATABASE only_in_a")
	for _, tc := range []struct {
		c    *pgtest.Cluster
		want bool
	}{{a, true}, {b, false}} {
		var exists bool
		queryRow(t, tc.c, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'only_in_a')", &exists)
		if exists != tc.want {
			t.Errorf("port %d: only_in_a exists = %v, want %v", tc.c.Port, exists, tc.want)
		}
	}

	// Each superuser password opens its own cluster only.
	if conn, err := pgx.Connect(ctx, b.DSN(b.SuperUser, a.SuperPassword, "postgres")); err == nil {
		conn.Close(ctx)
		t.Error("cluster a's superuser password opened cluster b")
	}
}

func TestCloseStopsServerAndRemovesDirectory(t *testing.T) {
	skipIfOptionalAndMissing(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgtest.StartCluster(ctx, pgtest.Options{Settings: map[string]string{"max_connections": "20"}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctx)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	var maxConns string
	err = conn.QueryRow(ctx, "SHOW max_connections").Scan(&maxConns)
	conn.Close(ctx)
	if err != nil || maxConns != "20" {
		t.Errorf("max_connections = %q (%v), want the Settings override 20", maxConns, err)
	}

	dir := c.Dir()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close (%v)", dir, err)
	}
	if conn, err := c.Connect(ctx); err == nil {
		conn.Close(ctx)
		t.Error("the server still accepts connections after Close")
	}
}

// skipIfOptionalAndMissing applies Start's rule for a missing PostgreSQL to
// the tests that call StartCluster directly.
func skipIfOptionalAndMissing(t *testing.T) {
	t.Helper()
	if _, err := pgtest.BinDir(); errors.Is(err, pgtest.ErrNotInstalled) {
		pgtest.Start(t, pgtest.Options{}) // skips or fails, never returns
	}
}

func queryRow(t *testing.T, c *pgtest.Cluster, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestTLS(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{TLS: true})
	ctx := context.Background()
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatalf("connect with verify-full against the cluster's CA: %v", err)
	}
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("the connection does not use TLS: %v %v", ssl, err)
	}
	conn.Close(ctx)
	plain := strings.Replace(c.DSN(c.SuperUser, c.SuperPassword, "postgres"), "sslmode=verify-full", "sslmode=disable", 1)
	if conn, err := pgx.Connect(ctx, plain); err == nil {
		conn.Close(ctx)
		t.Error("a connection without TLS was accepted")
	}
}

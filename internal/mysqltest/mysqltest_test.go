package mysqltest_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/mysqltest"
	"github.com/rotorhq/rotor/internal/srvtest"
)

func TestServer(t *testing.T) {
	began := time.Now()
	s := mysqltest.Start(t, mysqltest.Options{})
	t.Logf("MariaDB started in %v (port %d)", time.Since(began).Round(time.Millisecond), s.Port)
	if s.Host != "127.0.0.1" || s.Port == 0 || s.RootUser != "root" || s.RootPassword == "" {
		t.Fatalf("server = host %q port %d root %q password set %v", s.Host, s.Port, s.RootUser, s.RootPassword != "")
	}

	password := rand.Text()
	s.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '"+password+"'")
	s.Exec(t, "CREATE DATABASE appdb")
	s.Exec(t, "GRANT ALL ON appdb.* TO 'app'@'127.0.0.1'")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("root and a created user log in over TCP", func(t *testing.T) {
		for _, tc := range []struct {
			user, password, db string
			want               []string
		}{
			{"root", s.RootPassword, "", []string{"root@127.0.0.1", "127.0.0.1"}},
			{"app", password, "appdb", []string{"app@127.0.0.1", "127.0.0.1"}},
		} {
			db := open(t, s.DSN(tc.user, tc.password, tc.db))
			var cur, addr string
			// A TCP connection reports the server's address; a socket reports "".
			if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER(), SUBSTRING_INDEX(USER(), '@', -1)").Scan(&cur, &addr); err != nil {
				t.Fatalf("%s: %v", tc.user, err)
			}
			if diff := cmp.Diff(tc.want, []string{cur, addr}); diff != "" {
				t.Errorf("%s: current user, client host (-want +got):\n%s", tc.user, diff)
			}
		}
	})

	t.Run("wrong or missing passwords are refused", func(t *testing.T) {
		for _, tc := range []struct{ user, password string }{
			{"root", s.RootPassword + "x"},
			{"root", ""},
			{"app", password + "x"},
			{"app", ""},
			{"", ""}, // no anonymous account
			{"mysql", ""},
		} {
			db := open(t, s.DSN(tc.user, tc.password, ""))
			err := db.PingContext(ctx)
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1045 {
				t.Errorf("user %q with a wrong password: %v; want access denied (1045)", tc.user, err)
			}
		}
	})

	t.Run("the general log records statements, but not root's password", func(t *testing.T) {
		log := s.GeneralLog()
		if !strings.Contains(log, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '"+password+"'") {
			t.Errorf("the general log lacks the CREATE USER statement; log:\n%s", srvtest.Tail(log, 20))
		}
		if strings.Contains(log, s.RootPassword) {
			t.Error("root's password is in the general log")
		}
		if strings.Contains(s.Log(), s.RootPassword) {
			t.Error("root's password is in the error log")
		}
	})

	t.Run("the server is not root", func(t *testing.T) {
		// The server creates its own log, so the log's owner is the server's
		// OS user.
		fi, err := os.Stat(filepath.Join(s.Dir(), "mariadb.log"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("mariadb.log is owned by root: mariadbd ran as root")
		}
	})

	t.Run("close stops the server", func(t *testing.T) {
		dir := s.Dir()
		began := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("MariaDB stopped in %v", time.Since(began).Round(time.Millisecond))
		if srvtest.Accepts(s.Port) {
			t.Errorf("port %d still accepts connections after Close", s.Port)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s still exists after Close", dir)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestTwoServersAtOnce(t *testing.T) {
	// Started concurrently, as parallel tests would, so that they also race
	// for free ports; each must hold its own password.
	var (
		wg      sync.WaitGroup
		servers [2]*mysqltest.Server
		errs    [2]error
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = mysqltest.StartServer(ctx, mysqltest.Options{}) })
	}
	wg.Wait()
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
	}
	a, b := servers[0], servers[1]
	if a.Port == b.Port || a.RootPassword == b.RootPassword {
		t.Fatalf("two servers share port %d or a password", a.Port)
	}
	for _, tc := range []struct {
		name     string
		dsn      string
		wantDeny bool
	}{
		{"a with its password", a.DSN("root", a.RootPassword, ""), false},
		{"b with its password", b.DSN("root", b.RootPassword, ""), false},
		{"a with b's password", a.DSN("root", b.RootPassword, ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := open(t, tc.dsn).PingContext(ctx)
			if denied := err != nil; denied != tc.wantDeny {
				t.Errorf("ping: %v; want denied %v", err, tc.wantDeny)
			}
		})
	}
}

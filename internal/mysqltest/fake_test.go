package mysqltest_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/mysqltest"
)

// TestFake: the fake learns the password from a driver that answers what
// it asks (cleartext, sha256_password, caching_sha2_password's full
// authentication, with or without TLS), and nothing from
// mysql_native_password or client_ed25519; every login is refused.
func TestFake(t *testing.T) {
	const password = "fake-test-Pw_0123456789abcdef"
	for _, tc := range []struct {
		ask, greeting string
		tls           bool
		learns        bool
	}{
		{"mysql_clear_password", "mysql_native_password", false, true},
		{"sha256_password", "", false, true},
		{"sha256_password", "", true, true},
		{"caching_sha2_password", "", false, true},
		{"caching_sha2_password", "mysql_native_password", true, true},
		{"mysql_native_password", "", false, false},
		{"client_ed25519", "mysql_native_password", true, false},
	} {
		t.Run(fmt.Sprintf("%s greeting=%s tls=%v", tc.ask, tc.greeting, tc.tls), func(t *testing.T) {
			f := mysqltest.StartFake(t, mysqltest.FakeOptions{Ask: tc.ask, Greeting: tc.greeting, TLS: tc.tls})
			cfg := mysql.NewConfig()
			cfg.User, cfg.Passwd = "victim", password
			cfg.Net, cfg.Addr = "tcp", fmt.Sprintf("%s:%d", f.Host, f.Port)
			cfg.Timeout = 5 * time.Second
			cfg.AllowCleartextPasswords = true // an unguarded client
			cfg.Logger = &mysql.NopLogger{}
			if tc.tls {
				cfg.TLS = &tls.Config{InsecureSkipVerify: true}
			}
			c, err := mysql.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := sql.OpenDB(c).PingContext(ctx); err == nil {
				t.Error("the fake let the client in")
			}
			f.Close()
			conns := f.Conns()
			if len(conns) == 0 {
				t.Fatal("the fake saw no connection")
			}
			var want []string
			if tc.learns {
				want = []string{password}
			}
			if diff := cmp.Diff(want, conns[0].Passwords); diff != "" {
				t.Errorf("passwords the fake learned (-want +got):\n%s", diff)
			}
			if conns[0].User != "victim" || conns[0].TLS != tc.tls {
				t.Errorf("user %q, TLS %v; want victim, %v", conns[0].User, conns[0].TLS, tc.tls)
			}
		})
	}
}

// TestTLSServer: a server started with TLS refuses TCP without it and
// serves it verified against CAFile.
func TestTLSServer(t *testing.T) {
	s := mysqltest.Start(t, mysqltest.Options{TLS: true})
	if s.CAFile == "" {
		t.Fatal("no CAFile")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cipher string
	db := open(t, s.DSN(s.RootUser, s.RootPassword, ""))
	if err := db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'").Scan(&cipher); err != nil || cipher == "" {
		t.Errorf("over TLS: cipher %q, %v", cipher, err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = s.RootUser, s.RootPassword
	cfg.Net, cfg.Addr = "tcp", fmt.Sprintf("%s:%d", s.Host, s.Port)
	if err := open(t, cfg.FormatDSN()).PingContext(ctx); err == nil {
		t.Error("a client without TLS was served")
	}
}

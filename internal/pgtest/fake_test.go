package pgtest_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotorhq/rotor/internal/pgtest"
)

// TestFakeRecordsWhatAClientSends: the fake is the witness of the attack
// tests, so it must see a password when a client does send one. pgx with
// no require_auth sends whatever the fake asks for.
func TestFakeRecordsWhatAClientSends(t *testing.T) {
	const user, password = "victim", "fake-Witness-pw_3d9a"
	md5Inner := fmt.Sprintf("%x", md5.Sum([]byte(password+user)))
	for _, tc := range []struct {
		ask     pgtest.Ask
		tls     bool
		sslmode string
		want    func(t *testing.T, c pgtest.FakeConn)
	}{
		{pgtest.AskCleartext, false, "disable", func(t *testing.T, c pgtest.FakeConn) {
			if diff := cmp.Diff([]string{password}, c.Passwords); diff != "" {
				t.Errorf("passwords (-want +got):\n%s", diff)
			}
		}},
		{pgtest.AskCleartext, true, "require", func(t *testing.T, c pgtest.FakeConn) {
			if !c.TLS || len(c.Passwords) != 1 || c.Passwords[0] != password {
				t.Errorf("over TLS: TLS %v, %d passwords; want the password, decrypted", c.TLS, len(c.Passwords))
			}
		}},
		{pgtest.AskMD5, false, "prefer", func(t *testing.T, c pgtest.FakeConn) {
			if len(c.Passwords) != 1 || !strings.HasPrefix(c.Passwords[0], "md5") || len(c.Passwords[0]) != 35 {
				t.Fatalf("want one md5 digest, got %d passwords", len(c.Passwords))
			}
			if strings.Contains(c.Passwords[0], md5Inner) || strings.Contains(string(c.Raw), password) {
				t.Error("the MD5 answer holds the password or its unsalted hash")
			}
		}},
		{pgtest.AskSCRAM, false, "disable", func(t *testing.T, c pgtest.FakeConn) {
			if len(c.SASL) != 2 || !strings.Contains(c.SASL[0], ",r=") || !strings.Contains(c.SASL[1], ",p=") {
				t.Errorf("want client-first and client-final (with a proof), got %d SASL messages", len(c.SASL))
			}
			if len(c.Passwords) != 0 || strings.Contains(string(c.Raw), password) {
				t.Error("SCRAM revealed the password")
			}
		}},
	} {
		t.Run(fmt.Sprintf("%s tls=%v", tc.ask, tc.tls), func(t *testing.T) {
			f := pgtest.StartFake(t, pgtest.FakeOptions{Ask: tc.ask, TLS: tc.tls})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s/app?sslmode=%s", f.Address(), tc.sslmode))
			if err != nil {
				t.Fatal(err)
			}
			cfg.User, cfg.Password = user, password
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err == nil {
				conn.Close(ctx)
				t.Fatal("the fake let a client in")
			}
			if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
				t.Errorf("connect = %v, want the fake's SQLSTATE 28P01", err)
			}
			f.Close()
			// prefer tries TLS first, on a connection of its own that ends
			// at the fake's 'N'.
			var started []pgtest.FakeConn
			for _, c := range f.Conns() {
				if c.User != "" {
					started = append(started, c)
				}
			}
			if len(started) != 1 || started[0].User != user || started[0].Database != "app" {
				t.Fatalf("%d connections sent a startup message, want one from %s to app", len(started), user)
			}
			tc.want(t, started[0])
		})
	}
}

// TestFakeAskingNothing: the fake lets a client in without a password and
// records the first thing it sends.
func TestFakeAskingNothing(t *testing.T) {
	f := pgtest.StartFake(t, pgtest.FakeOptions{Ask: pgtest.AskNothing})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://app@"+f.Address()+"/app?sslmode=disable")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	_, _ = conn.Exec(ctx, "SELECT 'sent-to-the-fake'", pgx.QueryExecModeSimpleProtocol)
	conn.Close(ctx)
	f.Close()
	conns := f.Conns()
	if len(conns) != 1 || !strings.Contains(string(conns[0].Raw), "sent-to-the-fake") {
		t.Errorf("want one connection whose query the fake recorded, got %d", len(conns))
	}
}

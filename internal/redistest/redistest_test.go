package redistest_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/rotorhq/rotor/internal/redistest"
	"github.com/rotorhq/rotor/internal/srvtest"
)

func TestServer(t *testing.T) {
	began := time.Now()
	s := redistest.Start(t, redistest.Options{})
	t.Logf("Redis started in %v (port %d)", time.Since(began).Round(time.Millisecond), s.Port)
	if s.Host != "127.0.0.1" || s.Port == 0 || s.AdminUser != "admin" || s.AdminPassword == "" {
		t.Fatalf("server = host %q port %d admin %q password set %v", s.Host, s.Port, s.AdminUser, s.AdminPassword != "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	password := rand.Text()
	s.Do(t, "ACL", "SETUSER", "app", "on", ">"+password, "~app:*", "+@read", "+@write")

	t.Run("the admin and a created user run commands", func(t *testing.T) {
		admin := s.Client()
		defer admin.Close()
		if err := admin.Set(ctx, "app:k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		who, err := admin.Do(ctx, "ACL", "WHOAMI").Text()
		if err != nil {
			t.Fatal(err)
		}
		app := s.ClientAs("app", password)
		defer app.Close()
		got, err := app.Get(ctx, "app:k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"admin", "v"}, []string{who, got}); diff != "" {
			t.Errorf("ACL WHOAMI as admin, GET app:k as app (-want +got):\n%s", diff)
		}
		// app's ACL holds: a key outside its pattern is refused.
		if err := app.Get(ctx, "other").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("GET other as app: %v; want NOPERM", err)
		}
	})

	t.Run("wrong passwords and the default user are refused", func(t *testing.T) {
		for _, tc := range []struct{ user, password, want string }{
			{"admin", s.AdminPassword + "x", "WRONGPASS"},
			{"app", password + "x", "WRONGPASS"},
			{"default", "", "NOAUTH"},
			{"", "", "NOAUTH"},
			{"default", "anything", "WRONGPASS"},
		} {
			c := s.ClientAs(tc.user, tc.password)
			err := c.Ping(ctx).Err()
			c.Close()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("PING as %q: %v; want %s", tc.user, err, tc.want)
			}
		}
	})

	t.Run("no password on disk or in the log", func(t *testing.T) {
		conf, err := os.ReadFile(s.Dir() + "/redis.conf")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(conf), s.AdminPassword) {
			t.Error("the admin password is in redis.conf in cleartext")
		}
		if log := s.Log(); strings.Contains(log, s.AdminPassword) || strings.Contains(log, password) {
			t.Error("a password is in the server log")
		}
		if !strings.Contains(s.Log(), "Ready to accept connections") {
			t.Errorf("the server log lacks its ready line; log:\n%s", srvtest.Tail(s.Log(), 10))
		}
	})

	t.Run("the server is not root", func(t *testing.T) {
		// The server creates its own log, so the log's owner is the server's
		// OS user.
		fi, err := os.Stat(filepath.Join(s.Dir(), "redis.log"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("redis.log is owned by root: redis-server ran as root")
		}
	})

	t.Run("close stops the server", func(t *testing.T) {
		dir := s.Dir()
		began := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("Redis stopped in %v", time.Since(began).Round(time.Millisecond))
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

func TestTwoServersAtOnce(t *testing.T) {
	// Started concurrently, as parallel tests would, so that they also race
	// for free ports; each must hold its own password.
	var (
		wg      sync.WaitGroup
		servers [2]*redistest.Server
		errs    [2]error
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = redistest.StartServer(ctx, redistest.Options{}) })
	}
	wg.Wait()
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		t.Cleanup(func() { s.Close() })
	}
	a, b := servers[0], servers[1]
	if a.Port == b.Port || a.AdminPassword == b.AdminPassword {
		t.Fatalf("two servers share port %d or a password", a.Port)
	}
	for _, tc := range []struct {
		name     string
		s        *redistest.Server
		password string
		wantDeny bool
	}{
		{"a with its password", a, a.AdminPassword, false},
		{"b with its password", b, b.AdminPassword, false},
		{"a with b's password", a, b.AdminPassword, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.s.ClientAs(redistest.AdminUser, tc.password)
			defer c.Close()
			err := c.Ping(ctx).Err()
			if denied := err != nil; denied != tc.wantDeny {
				t.Errorf("ping: %v; want denied %v", err, tc.wantDeny)
			}
		})
	}
}

// TestTLSMonitorAndProxy: a server with TLS answers a client that verifies
// it against CAFile and refuses one that trusts only the system's roots;
// MONITOR shows ordinary commands, redacts AUTH and leaves ACL commands
// out; the proxy records every byte, ACL commands included.
func TestTLSMonitorAndProxy(t *testing.T) {
	s := redistest.Start(t, redistest.Options{TLS: true})
	if s.TLSPort == 0 || s.CAFile == "" {
		t.Fatalf("TLS server: port %d, CA file %q", s.TLSPort, s.CAFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("TLS", func(t *testing.T) {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			t.Fatal("CAFile holds no certificate")
		}
		for _, tc := range []struct {
			name   string
			config *tls.Config
			ok     bool
		}{
			{"verified against CAFile", &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, true},
			{"verified against the system's roots", &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(s.Host, strconv.Itoa(s.TLSPort)), Username: s.AdminUser,
					Password: s.AdminPassword, TLSConfig: tc.config, MaxRetries: -1, DisableIdentity: true, Protocol: 2})
				defer c.Close()
				err := c.Ping(ctx).Err()
				if (err == nil) != tc.ok {
					t.Errorf("PING over TLS: %v; want success %v", err, tc.ok)
				}
			})
		}
	})

	t.Run("monitor and proxy", func(t *testing.T) {
		password := rand.Text()
		m := s.Monitor(t)
		p := s.Proxy(t)
		c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), Username: s.AdminUser,
			Password: s.AdminPassword, MaxRetries: -1, DisableIdentity: true, Protocol: 2})
		for _, args := range [][]any{{"SET", "k", "v"}, {"ACL", "SETUSER", "monitored", ">" + password}} {
			if err := c.Do(ctx, args...).Err(); err != nil {
				t.Fatalf("%v: %v", args[0], err)
			}
		}
		c.Close()
		lines := m.Stop(t)
		text := strings.Join(lines, "\n")
		// go-redis sends HELLO in lower case, and MONITOR shows commands as
		// clients spelled them.
		for _, want := range []string{`"hello" "2" "auth" "(redacted)" "(redacted)"`, `"SET" "k" "v"`} {
			if !strings.Contains(text, want) {
				t.Errorf("MONITOR lacks %s; it showed:\n%s", want, text)
			}
		}
		if strings.Contains(text, "SETUSER") || strings.Contains(text, s.AdminPassword) || strings.Contains(text, password) {
			t.Error("MONITOR showed an ACL command or a password")
		}
		sent := p.Close()
		if len(sent) != 1 {
			t.Fatalf("the proxy saw %d connections, want 1", len(sent))
		}
		cmds, err := redistest.Commands(sent[0])
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"hello", "2", "auth", s.AdminUser, s.AdminPassword}, {"SET", "k", "v"}, {"ACL", "SETUSER", "monitored", ">" + password}}
		if diff := cmp.Diff(want, cmds); diff != "" {
			// Which commands differ, not their arguments: two are passwords.
			t.Errorf("the proxy recorded %d commands, want %d the same", len(cmds), len(want))
		}
	})
}

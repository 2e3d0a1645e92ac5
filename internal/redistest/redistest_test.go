package redistest_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

package redis_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/provider/redis"
	"github.com/rotorhq/rotor/internal/redistest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// One server for the package, plaintext on Port and TLS on TLSPort, with
// every command in SLOWLOG: each case makes its own users on it.
var (
	srv *redistest.Server
	seq atomic.Int64
)

const (
	masterUser     = "rotor_master"
	masterPassword = "m4ster-Pw_for-the-redis-tests.9d2f1b"
)

// masterRules are what the package documentation says a master needs,
// and nothing more: the tests prove they are enough.
var masterRules = []any{"+acl|getuser", "+acl|setuser", "+acl|dryrun", "+client|kill"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	s, err := redistest.StartServer(context.Background(), redistest.Options{TLS: true,
		Config: []string{"slowlog-log-slower-than 0", "slowlog-max-len 100000"}})
	if err != nil {
		if errors.Is(err, redistest.ErrNotInstalled) && os.Getenv("ROTOR_DB_OPTIONAL") == "1" {
			fmt.Fprintln(os.Stderr, "SKIPPED, NOT TESTED: the redis provider tests: "+err.Error()+" (skipping because ROTOR_DB_OPTIONAL=1)")
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	srv = s
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := s.Client()
	defer admin.Close()
	args := append([]any{"ACL", "SETUSER", masterUser, "on", "#" + hashOf(masterPassword)}, masterRules...)
	if err := admin.Do(ctx, args...).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "create the master user:", err)
		return 1
	}
	return m.Run()
}

func hashOf(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// consumerRules are a consumer's: its keys, reads and writes, PING; not
// ACL WHOAMI, so that Verify's check of a user without it runs everywhere.
var consumerRules = []any{"~app:*", "+@read", "+@write", "+ping"}

// selfRules are a user that rotates itself (the self strategy).
var selfRules = []any{"+acl|getuser", "+acl|setuser", "+acl|dryrun", "+client|kill", "+acl|whoami", "+ping"}

// newUser creates an ACL user with a password and rules, as a user is
// before rotor manages it.
func newUser(t *testing.T, prefix string, rules ...any) (string, string) {
	t.Helper()
	n := seq.Add(1)
	name := fmt.Sprintf("%s_%d", prefix, n)
	pw := fmt.Sprintf("initial-%d-Pw_4c8e2b7d9f", n)
	srv.Do(t, append([]any{"ACL", "SETUSER", name, "on", "#" + hashOf(pw)}, rules...)...)
	return name, pw
}

func newConsumer(t *testing.T) (string, string) { return newUser(t, "app", consumerRules...) }
func newSelf(t *testing.T) (string, string)     { return newUser(t, "self", selfRules...) }

// secretValue is a managed (or, for self, master-layout) value on the
// package's server, without TLS said explicitly, with a field of the
// consumer's own.
func secretValue(user, password string) []byte {
	return valueWith(user, password, nil)
}

func valueWith(user, password string, with map[string]any) []byte {
	doc := map[string]any{"host": srv.Host, "port": srv.Port, "username": user, "password": password,
		"tls": "disable", "consumer": "kept-as-is"}
	for k, v := range with {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	return b
}

// masterSecret is the master secret's value: the package's server, where
// the test master logs in without TLS (so tls disable, said explicitly as
// a master must). Each field of with replaces the default; a nil one
// removes it.
func masterSecret(with map[string]any) []byte {
	doc := map[string]any{"host": srv.Host, "port": srv.Port, "username": masterUser, "password": masterPassword, "tls": "disable"}
	for k, v := range with {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	return b
}

type creds struct{ Username, Password string }

func credsOf(t *testing.T, v []byte) creds {
	t.Helper()
	var c creds
	if err := json.Unmarshal(v, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// login reports whether user/password authenticates, independently of the
// provider: PING answers, or is refused for want of the right (NOPERM),
// which only an authenticated user is told.
func login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := srv.ClientAs(user, password)
	defer c.Close()
	err := c.Ping(ctx).Err()
	return err == nil || goredis.IsPermissionError(err)
}

func live(v []byte) bool {
	var c creds
	if json.Unmarshal(v, &c) != nil {
		return false
	}
	return login(c.Username, c.Password)
}

// passwords names the passwords user holds by the labels of named (label
// to password), sorted; a hash none of them has is "other". Labels, not
// hashes, reach the test output.
func passwords(t *testing.T, user string, named map[string]string) []string {
	t.Helper()
	v := srv.Do(t, "ACL", "GETUSER", user)
	fields, _ := v.([]any)
	var out []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] != "passwords" {
			continue
		}
		list, _ := fields[i+1].([]any)
		for _, h := range list {
			label := "other"
			for name, pw := range named {
				if hashOf(pw) == h {
					label = name
				}
			}
			out = append(out, label)
		}
	}
	slices.Sort(out)
	return out
}

func harness(strategy string) providertest.Harness {
	return providertest.Harness{
		Name: redis.Name,
		Setup: func(t *testing.T) *providertest.Case {
			c := &providertest.Case{
				Provider: &redis.Provider{},
				Options:  provider.Options{"strategy": strategy},
				Live:     live,
				Break: func(v []byte) []byte {
					out, _ := provider.SetFields(v, map[string]any{"password": "not-the-password-0"})
					return out
				},
			}
			if strategy == redis.Self {
				user, pw := newSelf(t)
				c.SecretID = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cache/" + user
				c.Current = secretValue(user, pw)
				c.Chain = true
				c.Secrets = func() []string { return []string{pw, hashOf(pw), masterPassword} }
				return c
			}
			user, pw := newConsumer(t)
			c.SecretID = "arn:aws:secretsmanager:us-east-1:000000000000:secret:cache/" + user
			c.Current = secretValue(user, pw)
			c.Master = masterSecret(nil)
			c.Secrets = func() []string { return []string{pw, hashOf(pw), masterPassword, hashOf(masterPassword)} }
			return c
		},
		BadOptions: map[string]provider.Options{
			"unknown strategy":        {"strategy": "triple"},
			"short password":          {"password-length": "12"},
			"password length no int":  {"password-length": "32 chars"},
			"alphabet breaks URLs":    {"password-alphabet": "abcdefghijklmnopqrstuvwxyz@"},
			"connect timeout no time": {"connect-timeout": "forever"},
			"command timeout too big": {"command-timeout": "1h"},
			"unknown option":          {"colour": "blue"},
			"postgres's option":       {"statement-timeout": "10s"},
		},
	}
}

func TestConformanceMultiPassword(t *testing.T) { providertest.Run(t, harness(redis.MultiPassword)) }
func TestConformanceSelf(t *testing.T)          { providertest.Run(t, harness(redis.Self)) }

var p = &redis.Provider{}

// steps runs the provider's steps for one rotation of a strategy: the
// master is the package's for multi-password and none for self.
type steps struct {
	t        *testing.T
	strategy string
	master   []byte
}

func stepsFor(t *testing.T, strategy string) steps {
	s := steps{t: t, strategy: strategy}
	if strategy != redis.Self {
		s.master = masterSecret(nil)
	}
	return s
}

func (s steps) opts() provider.Options { return provider.Options{"strategy": s.strategy} }

// create runs Create with a fresh password and returns the value.
func (s steps) create(current []byte) []byte {
	s.t.Helper()
	pw, err := provider.NewPassword(p, s.opts())
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := p.Create(context.Background(), &provider.CreateRequest{SecretID: "s", Token: "t", Current: current,
		Master: s.master, Options: s.opts(), Password: pw})
	if err != nil {
		s.t.Fatalf("create: %v", err)
	}
	return resp.Value
}

func (s steps) apply(value, current []byte) error {
	return p.Apply(context.Background(), &provider.ApplyRequest{SecretID: "s", Token: "t", Value: value, Current: current,
		Master: s.master, Options: s.opts()})
}

func (s steps) verify(value []byte) error {
	return p.Verify(context.Background(), &provider.VerifyRequest{SecretID: "s", Token: "t", Value: value, Options: s.opts()})
}

func (s steps) revoke(value, current []byte) error {
	return p.Revoke(context.Background(), &provider.RevokeRequest{SecretID: "s", VersionID: "v", Value: value, Current: current,
		Master: s.master, Options: s.opts()})
}

// rotate creates and applies a new value over current.
func (s steps) rotate(current []byte) []byte {
	s.t.Helper()
	v := s.create(current)
	if err := s.apply(v, current); err != nil {
		s.t.Fatalf("apply: %v", err)
	}
	return v
}

func newUserFor(t *testing.T, strategy string) (string, string) {
	if strategy == redis.Self {
		return newSelf(t)
	}
	return newConsumer(t)
}

var strategies = []string{redis.MultiPassword, redis.Self}

// openConn is a connection authenticated as user, kept open.
func openConn(t *testing.T, user, password string) *goredis.Conn {
	t.Helper()
	c := srv.ClientAs(user, password)
	t.Cleanup(func() { c.Close() })
	conn := c.Conn()
	t.Cleanup(func() { conn.Close() })
	if err := conn.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING as %s: %v", user, err)
	}
	return conn
}

// TestGracePeriod: between apply and expire both passwords log in; revoke
// ends the old password and every connection of the user, including one
// on the new password, which must reconnect (and can).
func TestGracePeriod(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			st := stepsFor(t, strategy)
			user, pw := newUserFor(t, strategy)
			cur := secretValue(user, pw)
			next := st.rotate(cur)
			newPw := credsOf(t, next).Password
			if err := st.verify(next); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !login(user, pw) || !login(user, newPw) {
				t.Fatalf("during the grace period: old logs in %v, new logs in %v; want both", login(user, pw), login(user, newPw))
			}
			onOld, onNew := openConn(t, user, pw), openConn(t, user, newPw)
			if err := st.revoke(cur, next); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			ctx := context.Background()
			if login(user, pw) {
				t.Error("the old password still logs in after revoke")
			}
			if err := onOld.Ping(ctx).Err(); err == nil {
				t.Error("a connection authenticated with the old password survived revoke")
			}
			if err := onNew.Ping(ctx).Err(); err == nil {
				t.Error("a connection on the new password survived revoke; the documentation says consumers must reconnect")
			}
			if !login(user, newPw) {
				t.Error("the new password does not log in after revoke")
			}
			if diff := cmp.Diff([]string{"new"}, passwords(t, user, map[string]string{"old": pw, "new": newPw})); diff != "" {
				t.Errorf("passwords after revoke (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPasswordSets: what each step, repeated, retried or interleaved with
// another rotation, leaves as the user's passwords.
func TestPasswordSets(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				// run rotates from the user's initial value "cur" and returns
				// the labelled passwords to expect.
				run  func(t *testing.T, st steps, user, pw string, cur []byte) (named map[string]string, want []string)
				want string
			}{
				{name: "apply repeated", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					v := st.rotate(cur)
					for range 2 {
						if err := st.apply(v, cur); err != nil {
							t.Fatalf("apply again: %v", err)
						}
					}
					return map[string]string{"cur": pw, "new": credsOf(t, v).Password}, []string{"cur", "new"}
				}},
				{name: "a retried create: the first attempt's password is dropped", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					first := st.rotate(cur)
					second := st.rotate(cur)
					return map[string]string{"cur": pw, "first": credsOf(t, first).Password, "second": credsOf(t, second).Password}, []string{"cur", "second"}
				}},
				{name: "a rotation during another's grace period ends it", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					v1 := st.rotate(cur)
					v2 := st.rotate(v1)
					// The first rotation's expire, later: its password is gone
					// already, which is success.
					if err := st.revoke(cur, v2); err != nil {
						t.Fatalf("revoke: %v", err)
					}
					return map[string]string{"v0": pw, "v1": credsOf(t, v1).Password, "v2": credsOf(t, v2).Password}, []string{"v1", "v2"}
				}},
				{name: "revoke after rollback leaves exactly the current", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					v := st.rotate(cur)
					for range 2 {
						if err := st.revoke(v, cur); err != nil {
							t.Fatalf("revoke: %v", err)
						}
					}
					return map[string]string{"cur": pw, "new": credsOf(t, v).Password}, []string{"cur"}
				}},
				{name: "passwords added outside rotor are dropped at apply", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					srv.Do(t, "ACL", "SETUSER", user, "#"+hashOf("added-by-hand-Pw_1"))
					v := st.rotate(cur)
					return map[string]string{"cur": pw, "new": credsOf(t, v).Password, "by hand": "added-by-hand-Pw_1"}, []string{"cur", "new"}
				}},
				{name: "revoke puts back a current password removed outside rotor", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					v := st.rotate(cur)
					srv.Do(t, "ACL", "SETUSER", user, "!"+hashOf(pw))
					if err := st.revoke(v, cur); err != nil {
						t.Fatalf("revoke: %v", err)
					}
					return map[string]string{"cur": pw, "new": credsOf(t, v).Password}, []string{"cur"}
				}},
				{name: "apply after the current password stopped working", run: func(t *testing.T, st steps, user, pw string, cur []byte) (map[string]string, []string) {
					v := st.rotate(cur)
					// An earlier attempt applied v; then the current password
					// stopped working (removed by hand, say). self logs in
					// with v; the master does not need either.
					srv.Do(t, "ACL", "SETUSER", user, "!"+hashOf(pw))
					if err := st.apply(v, cur); err != nil {
						t.Fatalf("apply again: %v", err)
					}
					return map[string]string{"cur": pw, "new": credsOf(t, v).Password}, []string{"cur", "new"}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := stepsFor(t, strategy)
					user, pw := newUserFor(t, strategy)
					named, want := tc.run(t, st, user, pw, secretValue(user, pw))
					if diff := cmp.Diff(want, passwords(t, user, named)); diff != "" {
						t.Errorf("passwords (-want +got):\n%s", diff)
					}
					for label, pw := range named {
						if got := login(user, pw); got != slices.Contains(want, label) {
							t.Errorf("%s logs in: %v, want %v", label, got, !got)
						}
					}
				})
			}
		})
	}
}

// TestSelfCrashes: the self strategy logs in with whichever of its
// passwords still works, and says so when neither does.
func TestSelfCrashes(t *testing.T) {
	st := stepsFor(t, redis.Self)
	t.Run("revoke when the current password is refused uses the revoked one", func(t *testing.T) {
		user, pw := newSelf(t)
		cur := secretValue(user, pw)
		v := st.rotate(cur)
		srv.Do(t, "ACL", "SETUSER", user, "!"+hashOf(pw))
		if err := st.revoke(v, cur); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"cur"}, passwords(t, user, map[string]string{"cur": pw, "new": credsOf(t, v).Password})); diff != "" {
			t.Errorf("passwords (-want +got):\n%s", diff)
		}
	})
	t.Run("revoke when neither password logs in: already gone", func(t *testing.T) {
		user, pw := newSelf(t)
		cur := secretValue(user, pw)
		v := st.create(cur) // never applied
		srv.Do(t, "ACL", "SETUSER", user, "resetpass", "#"+hashOf("someone-else-Pw_2"))
		if err := st.revoke(v, cur); err != nil {
			t.Fatalf("revoke: %v", err)
		}
	})
	t.Run("apply when neither password logs in", func(t *testing.T) {
		user, pw := newSelf(t)
		cur := secretValue(user, pw)
		v := st.create(cur)
		srv.Do(t, "ACL", "SETUSER", user, "resetpass", "#"+hashOf("someone-else-Pw_2"))
		err := st.apply(v, cur)
		if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), "refused both the current and the new password") {
			t.Errorf("apply = %v (%s), want InvalidInput saying both were refused", err, k)
		}
		if diff := cmp.Diff([]string{"other"}, passwords(t, user, map[string]string{"cur": pw, "new": credsOf(t, v).Password})); diff != "" {
			t.Errorf("passwords (-want +got):\n%s", diff)
		}
	})
}

// TestNoPasswordReachesTheServer: over a whole rotation of each strategy,
// with MONITOR and SLOWLOG watching and every byte recorded on the way to
// the server: ACL SETUSER carries hashes only, no password appears in
// MONITOR or SLOWLOG, and a password crosses the wire only in the AUTH or
// HELLO of a login with that very password.
func TestNoPasswordReachesTheServer(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			user, pw := newUserFor(t, strategy)
			proxy := srv.Proxy(t)
			// Every connection goes through the proxy: the master's by its
			// secret, the value's (verify, self) by its own host and port.
			at := map[string]any{"port": proxy.Port}
			st := steps{t: t, strategy: strategy}
			if strategy != redis.Self {
				st.master = masterSecret(at)
			}
			cur := valueWith(user, pw, at)
			srv.Do(t, "SLOWLOG", "RESET")
			mon := srv.Monitor(t)

			next := st.rotate(cur)
			newPw := credsOf(t, next).Password
			if err := st.verify(next); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := st.revoke(cur, next); err != nil {
				t.Fatalf("revoke: %v", err)
			}

			lines := mon.Stop(t)
			sent := proxy.Close()
			slowlog := slowlogText(t)
			secrets := map[string]string{"the old password": pw, "the new password": newPw, "the master password": masterPassword}

			// MONITOR shows rotor's logins, redacted, and (Redis leaves
			// administrative commands out) no ACL or CLIENT command.
			monitor := strings.Join(lines, "\n")
			if n := strings.Count(strings.ToLower(monitor), `"hello" "2" "auth" "(redacted)" "(redacted)"`); n < 4 {
				t.Errorf("MONITOR shows %d redacted HELLO ... AUTH, want one per step at least (4); is the capture real?", n)
			}
			// SLOWLOG holds every command, ACL SETUSER with its arguments
			// redacted by Redis.
			if !strings.Contains(slowlog, "ACL SETUSER (redacted)") || !strings.Contains(slowlog, "CLIENT KILL USER "+user) {
				t.Error("SLOWLOG lacks rotor's ACL SETUSER or CLIENT KILL: is the capture real?")
			}
			for what, s := range secrets {
				for where, text := range map[string]string{"MONITOR": monitor, "SLOWLOG": slowlog} {
					if strings.Contains(text, s) || strings.Contains(text, hashOf(s)) {
						t.Errorf("%s shows %s or its hash", where, what)
					}
				}
			}

			// On the wire: every ACL SETUSER has only hash rules, the new
			// password went as its hash, and each password travelled only to
			// log in as its own user.
			var setusers [][]string
			logins := map[string]int{}
			for i, raw := range sent {
				cmds, err := redistest.Commands(raw)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				rawCount := map[string]int{}
				for what, s := range secrets {
					rawCount[what] = strings.Count(string(raw), s)
				}
				inLogins := map[string]int{}
				for _, cmd := range cmds {
					name := strings.ToUpper(cmd[0])
					if name == "ACL" && len(cmd) > 1 && strings.ToUpper(cmd[1]) == "SETUSER" {
						setusers = append(setusers, cmd)
					}
					u, pass, isLogin := loginArgs(cmd)
					for what, s := range secrets {
						if isLogin && pass == s {
							inLogins[what]++
							logins[what]++
							if want := map[string]string{"the master password": masterUser}[what]; want != "" && u != want || want == "" && u != user {
								t.Errorf("connection %d logged in as %q with %s", i, u, what)
							}
						}
					}
				}
				for what := range secrets {
					if rawCount[what] != inLogins[what] {
						t.Errorf("connection %d carried %s %d times, %d of them in logins", i, what, rawCount[what], inLogins[what])
					}
				}
			}
			if len(setusers) == 0 {
				t.Fatal("no ACL SETUSER crossed the wire: is the capture real?")
			}
			sawNew := false
			for _, cmd := range setusers {
				if cmd[2] != user {
					t.Errorf("ACL SETUSER for user %q, want %q", cmd[2], user)
				}
				for _, rule := range cmd[3:] {
					isHash := (strings.HasPrefix(rule, "#") || strings.HasPrefix(rule, "!")) && len(rule) == 65
					if rule != "resetpass" && !isHash {
						t.Errorf("ACL SETUSER with a rule that is neither resetpass nor a hash (%d bytes)", len(rule))
					}
					sawNew = sawNew || rule == "#"+hashOf(newPw)
				}
			}
			if !sawNew {
				t.Error("no ACL SETUSER carried #<sha256 of the new password>")
			}
			if logins["the new password"] == 0 {
				t.Error("verify did not log in with the new password through the proxy")
			}
			if strategy == redis.Self && logins["the master password"] != 0 {
				t.Error("the self strategy used the master's password")
			}
		})
	}
}

// loginArgs returns the user and password of an AUTH user password or a
// HELLO ... AUTH user password command.
func loginArgs(cmd []string) (user, password string, ok bool) {
	switch strings.ToUpper(cmd[0]) {
	case "AUTH":
		if len(cmd) == 3 {
			return cmd[1], cmd[2], true
		}
	case "HELLO":
		for i := 1; i+2 < len(cmd); i++ {
			if strings.ToUpper(cmd[i]) == "AUTH" {
				return cmd[i+1], cmd[i+2], true
			}
		}
	}
	return "", "", false
}

// slowlogText is SLOWLOG GET's commands, one line each.
func slowlogText(t *testing.T) string {
	t.Helper()
	entries, _ := srv.Do(t, "SLOWLOG", "GET", "-1").([]any)
	var lines []string
	for _, e := range entries {
		fields, _ := e.([]any)
		if len(fields) < 4 {
			continue
		}
		args, _ := fields[3].([]any)
		var words []string
		for _, a := range args {
			words = append(words, fmt.Sprint(a))
		}
		lines = append(lines, strings.Join(words, " "))
	}
	return strings.Join(lines, "\n")
}

// TestVerify: what Verify accepts and what it refuses, and as what kind.
func TestVerify(t *testing.T) {
	user, pw := newConsumer(t)
	whoUser, whoPw := newUser(t, "who", append(slices.Clone(consumerRules), "+acl|whoami")...)
	offUser, offPw := newConsumer(t)
	srv.Do(t, "ACL", "SETUSER", offUser, "off")
	closed := closedPort(t)
	tlsAt := map[string]any{"port": srv.TLSPort, "tls": "verify-full", "cacert": srv.CAFile}
	for _, tc := range []struct {
		name     string
		strategy string
		value    []byte
		want     rotorerr.Kind // "" for success
		says     string
	}{
		{"a user without ACL WHOAMI, by its login", "", secretValue(user, pw), "", ""},
		{"a user with ACL WHOAMI", "", secretValue(whoUser, whoPw), "", ""},
		{"verify-full against the server's CA", "", valueWith(user, pw, tlsAt), "", ""},
		{"verify-full by name (localhost)", "", valueWith(user, pw, map[string]any{"host": "localhost", "port": srv.TLSPort, "tls": "verify-full", "cacert": srv.CAFile}), "", ""},
		{"require at the TLS port", "", valueWith(user, pw, map[string]any{"port": srv.TLSPort, "tls": "require"}), "", ""},
		{"self: verify-full against the server's CA", redis.Self, valueWith(user, pw, tlsAt), "", ""},
		{"a wrong password", "", secretValue(user, whoPw), rotorerr.VerificationFailed, "refused the login"},
		{"a user that is off", "", secretValue(offUser, offPw), rotorerr.VerificationFailed, "refused the login"},
		{"a user that does not exist", "", secretValue("no_such_user", pw), rotorerr.VerificationFailed, "refused the login"},
		{"verify-full against the system's roots", "", valueWith(user, pw, map[string]any{"port": srv.TLSPort, "tls": "verify-full"}), rotorerr.VerificationFailed, "certificate is not trusted"},
		{"TLS by default at a plaintext port", "", valueWith(user, pw, map[string]any{"tls": nil}), rotorerr.Transient, "a server that does not speak TLS never answers the handshake"},
		{"self: tls require", redis.Self, valueWith(user, pw, map[string]any{"port": srv.TLSPort, "tls": "require"}), rotorerr.InvalidInput, `tls "require" does not check the server's certificate`},
		{"an unreachable server", "", valueWith(user, pw, map[string]any{"port": closed}), rotorerr.Transient, "connect"},
		{"no password", "", valueWith(user, pw, map[string]any{"password": nil}), rotorerr.InvalidInput, "has no password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := provider.Options{"connect-timeout": "500ms"}
			if tc.strategy != "" {
				o["strategy"] = tc.strategy
			}
			err := p.Verify(context.Background(), &provider.VerifyRequest{SecretID: "s", Token: "t", Value: tc.value, Options: o})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("verify = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
			noSecretIn(t, err, pw, whoPw, offPw)
		})
	}
}

// TestMasterOverTLS: a master that verifies the server rotates; one that
// cannot verify it, or would not, sends nothing and changes nothing.
func TestMasterOverTLS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		master []byte
		want   rotorerr.Kind // "" for success
		says   string
	}{
		{"verify-full with the server's CA", masterSecret(map[string]any{"port": srv.TLSPort, "tls": "verify-full", "cacert": srv.CAFile}), "", ""},
		{"verify-full by default, with the server's CA", masterSecret(map[string]any{"port": srv.TLSPort, "tls": nil, "cacert": srv.CAFile}), "", ""},
		{"verify-full against the system's roots", masterSecret(map[string]any{"port": srv.TLSPort, "tls": nil}), rotorerr.InvalidInput, "certificate is not trusted"},
		{"verify-full at a plaintext port", masterSecret(map[string]any{"tls": nil}), rotorerr.Transient, "a server that does not speak TLS never answers the handshake"},
		{"require", masterSecret(map[string]any{"port": srv.TLSPort, "tls": "require"}), rotorerr.InvalidInput, `tls "require" does not check the server's certificate`},
		{"a CA file that is missing", masterSecret(map[string]any{"port": srv.TLSPort, "tls": nil, "cacert": "/nonexistent/ca.pem"}), rotorerr.InvalidInput, "cannot be read"},
		{"a CA file that holds no certificate", masterSecret(map[string]any{"port": srv.TLSPort, "tls": nil, "cacert": "/etc/hostname"}), rotorerr.InvalidInput, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, pw := newConsumer(t)
			cur := secretValue(user, pw)
			st := steps{t: t, strategy: redis.MultiPassword, master: tc.master}
			newPw, _ := provider.NewPassword(p, nil)
			resp, err := p.Create(context.Background(), &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: tc.master,
				Options: provider.Options{"connect-timeout": "500ms"}, Password: newPw})
			if err == nil {
				err = st.apply(resp.Value, cur)
			}
			if err == nil {
				err = st.revoke(cur, resp.Value)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rotation: %v", err)
				}
				if !login(user, newPw) || login(user, pw) {
					t.Error("want the new password working and the old one refused")
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("rotation = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
			noSecretIn(t, err, pw, newPw, masterPassword)
			if diff := cmp.Diff([]string{"cur"}, passwords(t, user, map[string]string{"cur": pw})); diff != "" {
				t.Errorf("a refused rotation changed the passwords (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadInput: each mistake is a named error and changes nothing at the
// server.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	user, pw := newConsumer(t)
	offUser, offPw := newConsumer(t)
	srv.Do(t, "ACL", "SETUSER", offUser, "off")
	unreachable := masterSecret(map[string]any{"port": closedPort(t)})
	// Masters missing one of the rules each.
	lacking := map[string][]byte{}
	for i, rule := range masterRules {
		var rules []any
		rules = append(rules, masterRules[:i]...)
		rules = append(rules, masterRules[i+1:]...)
		name, mpw := newUser(t, "weak", rules...)
		lacking[rule.(string)] = masterSecret(map[string]any{"username": name, "password": mpw})
	}
	before := listACL(t)
	for _, tc := range []struct {
		name            string
		current, master []byte
		o               provider.Options
		want            rotorerr.Kind
		says            string
	}{
		{"a wrong master password", secretValue(user, pw), masterSecret(map[string]any{"password": "wrong-password"}), nil, rotorerr.InvalidInput, "refused the login of user \"rotor_master\""},
		{"an unreachable master host", secretValue(user, pw), unreachable, nil, rotorerr.Transient, "connect"},
		{"a missing user", secretValue("no_such_user", pw), masterSecret(nil), nil, rotorerr.InvalidInput, `ACL user "no_such_user" does not exist`},
		{"a user that is off", secretValue(offUser, offPw), masterSecret(nil), nil, rotorerr.InvalidInput, "is off; rotor does not turn users on"},
		{"a malformed secret", []byte(`{"host": "x", "port": }`), masterSecret(nil), nil, rotorerr.InvalidInput, "not a JSON object"},
		{"a port that is text", []byte(`{"host":"x","port":"fifty","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"port"`},
		{"a port out of range", []byte(`{"host":"x","port":70000,"username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"port" is not a port number`},
		{"no host", []byte(`{"username":"u","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, "has no host"},
		{"no username", []byte(`{"host":"x","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, "has no username"},
		{"a host list", []byte(`{"host":"a.example,b.example","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"host" is not one DNS name`},
		{"an unknown tls mode", valueWith(user, pw, map[string]any{"tls": "prefer"}), masterSecret(nil), nil, rotorerr.InvalidInput, `"tls" is "prefer"`},
		{"a CA file without verify-full", valueWith(user, pw, map[string]any{"cacert": "/etc/ssl/ca.pem"}), masterSecret(nil), nil, rotorerr.InvalidInput, `"cacert" is only read with tls "verify-full"`},
		{"a username that is a number", []byte(`{"host":"x","username":7}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"username" is not a string`},
		{"a master without host", secretValue(user, pw), masterSecret(map[string]any{"host": nil}), nil, rotorerr.InvalidInput, `master secret has no "host"`},
		{"a master with tls require", secretValue(user, pw), masterSecret(map[string]any{"tls": "require"}), nil, rotorerr.InvalidInput, `tls "require" does not check`},
		{"a master without username", secretValue(user, pw), masterSecret(map[string]any{"username": nil}), nil, rotorerr.InvalidInput, "master secret needs username and password"},
		{"a master without +acl|getuser", secretValue(user, pw), lacking["+acl|getuser"], nil, rotorerr.InvalidInput, "grant it +acl|getuser"},
		{"a master without +acl|setuser", secretValue(user, pw), lacking["+acl|setuser"], nil, rotorerr.InvalidInput, "grant it +acl|setuser"},
		{"a master without +acl|dryrun", secretValue(user, pw), lacking["+acl|dryrun"], nil, rotorerr.InvalidInput, "grant it +acl|dryrun"},
		{"a master without +client|kill", secretValue(user, pw), lacking["+client|kill"], nil, rotorerr.InvalidInput, "grant it +client|kill"},
		{"no master", secretValue(user, pw), nil, nil, rotorerr.InvalidInput, "a master secret is required"},
		{"the master rotating itself", secretValue(masterUser, masterPassword), masterSecret(nil), nil, rotorerr.InvalidInput, "is the user being rotated"},
		{"self: a value without host", []byte(`{"username":"u","password":"p"}`), nil, provider.Options{"strategy": "self"}, rotorerr.InvalidInput, `current value has no "host"`},
		{"self: a user without the rights", secretValue(user, pw), nil, provider.Options{"strategy": "self"}, rotorerr.InvalidInput, "grant it +acl|getuser"},
		{"self: a wrong password", secretValue(user, "wrong-password"), nil, provider.Options{"strategy": "self"}, rotorerr.InvalidInput, "refused the login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newPw, err := provider.NewPassword(p, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: tc.current, Master: tc.master, Options: tc.o, Password: newPw})
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Create = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
			noSecretIn(t, err, pw, offPw, masterPassword, newPw)
		})
	}
	if after := listACL(t); after != before || !login(user, pw) {
		t.Error("a refused create changed the ACL users")
	}
}

// listACL is ACL LIST, hashes included, for comparing: never print it.
func listACL(t *testing.T) string {
	t.Helper()
	return fmt.Sprint(srv.Do(t, "ACL", "LIST"))
}

// TestRevokeRefusals: revoke never touches the current password, nor
// works without knowing it.
func TestRevokeRefusals(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			st := stepsFor(t, strategy)
			user, pw := newUserFor(t, strategy)
			cur := secretValue(user, pw)
			next := st.rotate(cur)
			for _, tc := range []struct {
				name           string
				value, current []byte
				says           string
			}{
				{"the current value", next, next, "it holds the current password"},
				{"the current password in another version", valueWith(user, credsOf(t, next).Password, map[string]any{"consumer": "other"}), next, "it holds the current password"},
				{"no current value", cur, nil, "no current value"},
				{"an unreadable current value", cur, []byte("{"), "cannot be read"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					err := st.revoke(tc.value, tc.current)
					if k := rotorerr.Classify(err); k != rotorerr.Unsafe || !strings.Contains(err.Error(), tc.says) {
						t.Errorf("revoke = %v (%s), want Unsafe saying %q", err, k, tc.says)
					}
				})
			}
			if diff := cmp.Diff([]string{"cur", "new"}, passwords(t, user, map[string]string{"cur": pw, "new": credsOf(t, next).Password})); diff != "" {
				t.Errorf("refused revokes changed the passwords (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateKeepsFields: the value keeps every field beside the password.
func TestCreateKeepsFields(t *testing.T) {
	user, pw := newConsumer(t)
	st := stepsFor(t, redis.MultiPassword)
	v := st.create(valueWith(user, pw, map[string]any{"port": fmt.Sprint(srv.Port)}))
	var doc map[string]any
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "password")
	want := map[string]any{"host": srv.Host, "port": fmt.Sprint(srv.Port), "username": user, "tls": "disable", "consumer": "kept-as-is"}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("created value, password aside (-want +got):\n%s", diff)
	}
	if login(user, credsOf(t, v).Password) {
		t.Error("create made the new password work: it must change nothing")
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  string
		err   bool
	}{
		{"a password", `{"host":"h","username":"u","password":"the-leakable-Pw_1"}`, "the-leakable-Pw_1", false},
		{"no password", `{"host":"h","username":"u"}`, "", false},
		{"not JSON", `nope`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := p.Identify([]byte(tc.value), nil)
			if (err != nil) != tc.err {
				t.Fatalf("Identify: %v, want error %v", err, tc.err)
			}
			if err == nil && string(id.Secret) != tc.want {
				t.Errorf("Identify found %d bytes, want the password (%d)", len(id.Secret), len(tc.want))
			}
		})
	}
}

func TestStrategyAbilities(t *testing.T) {
	for _, tc := range []struct {
		o                        provider.Options
		needsMaster, rotatesSelf bool
	}{
		{nil, true, false},
		{provider.Options{"strategy": redis.MultiPassword}, true, false},
		{provider.Options{"strategy": redis.Self}, false, true},
	} {
		got := []bool{provider.NeedsMaster(p, tc.o), provider.RotatesSelf(p, tc.o)}
		if diff := cmp.Diff([]bool{tc.needsMaster, tc.rotatesSelf}, got); diff != "" {
			t.Errorf("options %v: NeedsMaster, RotatesSelf (-want +got):\n%s", tc.o, diff)
		}
	}
	needs, err := provider.NeedsOf(redis.Name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(provider.Needs{Network: []provider.Network{provider.NetPrivate}}, needs); diff != "" {
		t.Errorf("Needs (-want +got):\n%s", diff)
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func noSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && s != "" && (strings.Contains(err.Error(), s) || strings.Contains(err.Error(), hashOf(s))) {
			t.Errorf("the error contains a password or its hash: %v", rotorerr.Classify(err))
		}
	}
}

package redis_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/redis"
	"github.com/rotorhq/rotor/internal/redistest"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/srvtest"
)

// fake is an impostor at an address a secret may name (a typo, a hijacked
// DNS name, an attacker's machine): it records every byte each client
// sends, before and, with TLS, after the handshake, and answers whatever
// arrives with an error, as a server that knows no user would. With TLS
// its certificate is for 127.0.0.1 from a CA no client is given. An
// echoing fake quotes what it received in its error, as a hostile server
// may, to see whether rotor repeats it.
type fake struct {
	Host string
	Port int

	echo      bool
	tlsConfig *tls.Config
	ln        net.Listener
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns []*fakeConn
}

type fakeConn struct {
	raw, plain bytes.Buffer // as received; decrypted (TLS) or the same
	handshake  bool         // the client completed a TLS handshake
}

func startFake(t *testing.T, withTLS bool) *fake { return startFakeEcho(t, withTLS, false) }

func startFakeEcho(t *testing.T, withTLS, echo bool) *fake {
	t.Helper()
	f := &fake{Host: srvtest.Host, echo: echo}
	if withTLS {
		_, der, key, err := srvtest.ServerCert()
		if err != nil {
			t.Fatal(err)
		}
		f.tlsConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(f.Host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	f.ln, f.Port = ln, ln.Addr().(*net.TCPAddr).Port
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *fake) accept() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{}
		f.mu.Lock()
		f.conns = append(f.conns, fc)
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(nc, fc) })
	}
}

// recorder records what is read from a connection.
type recorder struct {
	net.Conn
	f   *fake
	buf *bytes.Buffer
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.f.mu.Lock()
	r.buf.Write(p[:n])
	r.f.mu.Unlock()
	return n, err
}

func (f *fake) serve(nc net.Conn, fc *fakeConn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	var c net.Conn = recorder{Conn: nc, f: f, buf: &fc.raw}
	if f.tlsConfig != nil {
		tc := tls.Server(c, f.tlsConfig)
		if tc.Handshake() != nil {
			return
		}
		f.mu.Lock()
		fc.handshake = true
		f.mu.Unlock()
		c = tc
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			f.mu.Lock()
			if f.tlsConfig != nil {
				fc.plain.Write(buf[:n])
			}
			f.mu.Unlock()
			reply := "-ERR unknown command\r\n"
			if f.echo {
				reply = "-ERR unknown command " + strings.NewReplacer("\r", " ", "\n", " ").Replace(string(buf[:n])) + "\r\n"
			}
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *fake) close() {
	f.ln.Close()
	f.wg.Wait()
}

// received closes the fake and returns what each connection sent, the
// plaintext after a TLS handshake, or else the raw bytes.
func (f *fake) received() []fakeConn {
	f.close()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeConn
	for _, c := range f.conns {
		var r fakeConn
		r.raw.Write(c.raw.Bytes())
		r.plain.Write(c.plain.Bytes())
		if f.tlsConfig == nil {
			r.plain.Write(c.raw.Bytes())
		}
		r.handshake = c.handshake
		out = append(out, r)
	}
	return out
}

// carries reports which of the named secrets, or their hashes, any
// connection carried, in its raw or its decrypted bytes.
func carries(conns []fakeConn, named map[string]string) []string {
	var out []string
	for what, s := range named {
		for _, c := range conns {
			if bytes.Contains(c.raw.Bytes(), []byte(s)) || bytes.Contains(c.plain.Bytes(), []byte(s)) ||
				bytes.Contains(c.plain.Bytes(), []byte(hashOf(s))) {
				out = append(out, what)
				break
			}
		}
	}
	return out
}

// atFake is a value for user whose host and port are the fake's.
func atFake(f *fake, user, password string, fields map[string]any) []byte {
	with := map[string]any{"host": f.Host, "port": f.Port}
	for k, v := range fields {
		with[k] = v
	}
	return valueWith(user, password, with)
}

// fast are options that keep a step at an impostor short.
var fast = provider.Options{"connect-timeout": "1s", "command-timeout": "1s"}

// TestAttackManagedPointsAway: the master secret names the real server and
// the managed secret the impostor. The master goes to the real server
// only; the fake gets exactly one connection, Verify's, as the managed
// user. Unless the managed secret says tls disable or require, it gets no
// password in any form, and Verify fails; with them, the new password
// goes there as the consumers' own clients would send it (the owner's
// choice), never the master's or the old one. Revoking the new version
// (the rollback) leaves the old password alone at the real server.
func TestAttackManagedPointsAway(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		fakeTLS bool
		echo    bool
		tls     any // the managed secret's; nil leaves it out (verify-full)
		says    string
		getsNew bool
	}{
		{"verify-full by default, no TLS there", false, false, nil, "does not speak TLS", false},
		{"verify-full, an untrusted certificate there", true, false, "verify-full", "certificate is not trusted", false},
		{"disable: the owner's choice", false, false, "disable", "did not accept the login", true},
		{"disable, at an impostor that echoes", false, true, "disable", "did not accept the login", true},
		{"require: the owner's choice", true, false, "require", "did not accept the login", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeEcho(t, tc.fakeTLS, tc.echo)
			user, pw := newConsumer(t)
			o := provider.Options{"connect-timeout": "1s", "command-timeout": "1s"}
			cur := atFake(f, user, pw, map[string]any{"tls": tc.tls})
			newPw, err := provider.NewPassword(p, o)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: newPw})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if !login(user, newPw) {
				t.Fatal("apply did not set the new password at the real server")
			}
			err = p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value, Options: o})
			if k := rotorerr.Classify(err); k != rotorerr.VerificationFailed || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("verify = %v (%s), want VerificationFailed saying %q", err, k, tc.says)
			}
			noSecretIn(t, err, pw, newPw, masterPassword)
			if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: resp.Value, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
				t.Fatalf("revoke (the rollback): %v", err)
			}
			if !login(user, pw) || login(user, newPw) {
				t.Error("after the rollback: want the old password working and the new one refused at the real server")
			}

			conns := f.received()
			if len(conns) != 1 {
				t.Fatalf("the fake saw %d connections, want exactly verify's", len(conns))
			}
			want := []string(nil)
			if tc.getsNew {
				want = []string{"the new password"}
			}
			got := carries(conns, map[string]string{"the master password": masterPassword, "the old password": pw, "the new password": newPw})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("what reached the fake (-want +got):\n%s", diff)
			}
			if tc.getsNew {
				cmds, _ := redistest.Commands(conns[0].plain.Bytes())
				if len(cmds) == 0 {
					t.Fatal("the fake recorded no command")
				}
				if u, pass, ok := loginArgs(cmds[0]); !ok || u != user || pass != newPw {
					t.Errorf("the first command at the fake is not a login as %s with the new password", user)
				}
			}
		})
	}
}

// TestAttackMasterWithoutHost: a managed secret naming the impostor, with
// a master that names no host, must not send the master anywhere: every
// step that would use the master refuses, naming the missing field, and
// the fake sees no connection.
func TestAttackMasterWithoutHost(t *testing.T) {
	ctx := context.Background()
	bare, _ := json.Marshal(map[string]any{"username": masterUser, "password": masterPassword, "tls": "disable"})
	f := startFake(t, false)
	user, pw := newConsumer(t)
	before := listACL(t)
	cur := atFake(f, user, pw, map[string]any{"tls": "disable"})
	newPw, _ := provider.NewPassword(p, nil)
	next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
	for name, step := range map[string]func() error{
		"create": func() error {
			_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: bare, Password: newPw})
			return err
		},
		"apply": func() error {
			return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: bare})
		},
		"revoke": func() error {
			return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: bare})
		},
	} {
		err := step()
		if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), `master secret has no "host"`) {
			t.Errorf("%s = %v (%s), want InvalidInput naming the master's missing \"host\"", name, err, k)
		}
		noSecretIn(t, err, pw, newPw, masterPassword)
	}
	if conns := f.received(); len(conns) != 0 {
		t.Errorf("the fake received %d connections, want none", len(conns))
	}
	if listACL(t) != before {
		t.Error("the ACL users changed")
	}
}

// TestAttackMasterAtFake: a master secret (or a self value) that itself
// names the impostor never gives the master password away: TLS that the
// impostor cannot pass goes no further than the handshake, and "require",
// which would pass anyone, is refused before connecting.
func TestAttackMasterAtFake(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		fakeTLS bool
		tls     any // nil: verify-full by default
		says    string
		conns   bool // whether the fake sees connections at all
	}{
		{"verify-full by default, no TLS there", false, nil, "does not speak TLS", true},
		{"verify-full, an untrusted certificate there", true, "verify-full", "certificate is not trusted", true},
		{"verify-full with the real server's CA", true, nil, "certificate is not trusted", true},
		{"require", true, "require", `tls "require" does not check the server's certificate`, false},
	} {
		for _, strategy := range strategies {
			t.Run(tc.name+"/"+strategy, func(t *testing.T) {
				f := startFake(t, tc.fakeTLS)
				user, pw := newUserFor(t, strategy)
				before := listACL(t)
				at := map[string]any{"host": f.Host, "port": f.Port, "tls": tc.tls}
				if tc.name == "verify-full with the real server's CA" {
					at["cacert"] = srv.CAFile
				}
				o := provider.Options{"strategy": strategy, "connect-timeout": "1s", "command-timeout": "1s"}
				st := steps{t: t, strategy: strategy}
				cur := secretValue(user, pw)
				if strategy == redis.Self {
					cur = valueWith(user, pw, at) // the value is the master
				} else {
					st.master = masterSecret(at)
				}
				newPw, _ := provider.NewPassword(p, nil)
				next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
				run := map[string]func() error{
					"create": func() error {
						_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: st.master, Options: o, Password: newPw})
						return err
					},
					"apply": func() error {
						return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: st.master, Options: o})
					},
					"revoke": func() error {
						return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: st.master, Options: o})
					},
				}
				if strategy == redis.Self {
					// Verify logs in as a master would.
					run["verify"] = func() error {
						return p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: next, Options: o})
					}
				}
				for name, step := range run {
					err := step()
					want := rotorerr.InvalidInput
					if name == "verify" && tc.conns {
						want = rotorerr.VerificationFailed
					}
					if k := rotorerr.Classify(err); k != want || !strings.Contains(err.Error(), tc.says) {
						t.Errorf("%s = %v (%s), want %s saying %q", name, err, k, want, tc.says)
					}
					noSecretIn(t, err, pw, newPw, masterPassword)
				}
				conns := f.received()
				if tc.conns && len(conns) == 0 {
					t.Fatal("the fake saw no connection: the test proves nothing")
				}
				if !tc.conns && len(conns) != 0 {
					t.Errorf("the fake saw %d connections, want none", len(conns))
				}
				for i, c := range conns {
					if c.handshake {
						t.Errorf("connection %d completed a TLS handshake with the impostor", i)
					}
				}
				if got := carries(conns, map[string]string{"the master password": masterPassword, "the old password": pw, "the new password": newPw}); len(got) != 0 {
					t.Errorf("the fake received %v", got)
				}
				if listACL(t) != before {
					t.Error("the ACL users changed")
				}
			})
		}
	}
}

// TestAttackMasterAsTarget: the master's own user is never a
// multi-password target: changing its passwords (and revoking its
// connections) would lock rotor out or hand its credential over.
func TestAttackMasterAsTarget(t *testing.T) {
	ctx := context.Background()
	before := listACL(t)
	cur := secretValue(masterUser, masterPassword)
	old := secretValue(masterUser, "an-older-master-Pw_1")
	newPw, _ := provider.NewPassword(p, nil)
	next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
	for _, tc := range []struct {
		name string
		run  func() error
		want rotorerr.Kind
	}{
		{"create", func() error {
			_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Password: newPw})
			return err
		}, rotorerr.InvalidInput},
		{"apply", func() error {
			return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: masterSecret(nil)})
		}, rotorerr.InvalidInput},
		{"revoke", func() error {
			return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: old, Current: cur, Master: masterSecret(nil)})
		}, rotorerr.Unsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), `"`+masterUser+`"`) {
				t.Errorf("%s = %v (%s), want %s naming the master's user", tc.name, err, k, tc.want)
			}
			noSecretIn(t, err, masterPassword, newPw)
		})
	}
	if listACL(t) != before || !login(masterUser, masterPassword) {
		t.Error("the master's user changed")
	}
}

// TestAttackUsernames: a username cannot add ACL rules, whatever it holds.
// Every command sends it as an argument of its own; names Redis refuses
// (spaces, control characters) are refused before connecting; names that
// look like rules are names: a missing one is not created, an existing
// one keeps its rules.
func TestAttackUsernames(t *testing.T) {
	ctx := context.Background()
	o := fast
	t.Run("names with spaces or control characters", func(t *testing.T) {
		for _, name := range []string{"app on >pw +@all ~* allcommands", "app\r\nACL SETUSER evil on >pw +@all", "app\x00nopass", "app\tallkeys", "app\u00a0on"} {
			before := listACL(t)
			cur := secretValue(name, "initial-Pw_for-an-attack-1")
			newPw, _ := provider.NewPassword(p, nil)
			next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
			errs := map[string]error{}
			_, errs["create"] = p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: newPw})
			errs["apply"] = p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o})
			errs["verify"] = p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: next, Options: o})
			errs["revoke"] = p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o})
			for step, err := range errs {
				if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), "holds a space or a control character") {
					t.Errorf("%s for username %q = %v (%s), want InvalidInput", step, name, err, k)
				}
			}
			if listACL(t) != before {
				t.Errorf("username %q changed the ACL users", name)
			}
		}
	})
	ruleNames := []string{"on", "off", ">pw", "<pw", "+@all", "allcommands", "allkeys", "nopass", "reset", "resetpass", "~*", "&*", "#" + hashOf("pw")}
	t.Run("missing users named like rules", func(t *testing.T) {
		for _, name := range ruleNames {
			before := listACL(t)
			cur := secretValue(name, "initial-Pw_for-an-attack-2")
			newPw, _ := provider.NewPassword(p, nil)
			next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
			_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: newPw})
			if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("create for user %q = %v (%s), want InvalidInput: does not exist", name, err, k)
			}
			err = p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o})
			if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("apply for user %q = %v (%s), want InvalidInput: does not exist", name, err, k)
			}
			if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
				t.Errorf("revoke for missing user %q = %v, want success (nothing to revoke)", name, err)
			}
			if listACL(t) != before {
				t.Errorf("user %q was created or the ACL users changed", name)
			}
		}
	})
	t.Run("existing users named like rules", func(t *testing.T) {
		for _, name := range ruleNames {
			pw := "initial-Pw_for-" + fmt.Sprint(len(name)) + "-rule-named-user"
			srv.Do(t, append([]any{"ACL", "SETUSER", name, "on", "#" + hashOf(pw)}, consumerRules...)...)
			before := rulesOf(t, name)
			others := listACLExcept(t, name)
			st := steps{t: t, strategy: redis.MultiPassword, master: masterSecret(nil)}
			cur := secretValue(name, pw)
			next := st.rotate(cur)
			if err := st.verify(next); err != nil {
				t.Errorf("verify for user %q: %v", name, err)
			}
			if err := st.revoke(cur, next); err != nil {
				t.Errorf("revoke for user %q: %v", name, err)
			}
			if diff := cmp.Diff(before, rulesOf(t, name)); diff != "" {
				t.Errorf("user %q's rules changed (-before +after):\n%s", name, diff)
			}
			if !login(name, credsOf(t, next).Password) || login(name, pw) {
				t.Errorf("user %q: want the new password working and the old one refused", name)
			}
			if listACLExcept(t, name) != others {
				t.Errorf("rotating user %q changed other users", name)
			}
			srv.Do(t, "ACL", "DELUSER", name)
		}
	})
}

// rulesOf is a user's ACL GETUSER, passwords aside.
func rulesOf(t *testing.T, name string) map[string]string {
	t.Helper()
	fields, _ := srv.Do(t, "ACL", "GETUSER", name).([]any)
	out := map[string]string{}
	for i := 0; i+1 < len(fields); i += 2 {
		if k := fmt.Sprint(fields[i]); k != "passwords" {
			out[k] = fmt.Sprint(fields[i+1])
		}
	}
	return out
}

// listACLExcept is ACL LIST without the user name's line: never print it.
func listACLExcept(t *testing.T, name string) string {
	t.Helper()
	rules, _ := srv.Do(t, "ACL", "LIST").([]any)
	var out []string
	for _, r := range rules {
		if line := fmt.Sprint(r); !strings.HasPrefix(line, "user "+name+" ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestAttackBadOptions: options no step understands change nothing: each
// step refuses them before connecting.
func TestAttackBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, strategy := range strategies {
		t.Run(strategy, func(t *testing.T) {
			st := stepsFor(t, strategy)
			user, pw := newUserFor(t, strategy)
			cur := secretValue(user, pw)
			next := st.rotate(cur)
			before := listACL(t)
			for label, bad := range map[string]provider.Options{
				"unknown option":    {"strategy": strategy, "acl-rules": "+@all"},
				"short password":    {"strategy": strategy, "password-length": "8"},
				"unknown strategy":  {"strategy": "multi"},
				"negative timeout":  {"strategy": strategy, "command-timeout": "-1s"},
				"alphabet with '@'": {"strategy": strategy, "password-alphabet": "abcdefghijklmnopqrstuvwxyz0123456789@"},
			} {
				newPw, _ := provider.NewPassword(p, provider.Options{"strategy": strategy})
				errs := map[string]error{}
				_, errs["create"] = p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: next, Master: st.master, Options: bad, Password: newPw})
				errs["apply"] = p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: st.master, Options: bad})
				errs["verify"] = p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: next, Options: bad})
				errs["revoke"] = p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: cur, Current: next, Master: st.master, Options: bad})
				for step, err := range errs {
					if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), "rotor:") {
						t.Errorf("%s with %s = %v (%s), want InvalidInput naming the tag", step, label, err, k)
					}
				}
				if listACL(t) != before {
					t.Errorf("%s changed the ACL users", label)
				}
			}
		})
	}
}

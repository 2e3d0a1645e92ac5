package postgres_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// sslRequest is all a client sends a server before TLS: a connection that
// sent only this sent no user, no password, nothing.
var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// forms are the encodings of a password a server could read or replay:
// the password, its base64 and hex forms, and the unsalted MD5 hash
// md5(password + user) that the MD5 method is built on (and that unlocks
// any MD5 challenge). A salted MD5 answer is a PasswordMessage, which the
// tests require to be absent altogether.
func forms(user, password string) map[string]string {
	return map[string]string{
		"raw":                password,
		"base64":             base64.StdEncoding.EncodeToString([]byte(password)),
		"base64url":          base64.RawURLEncoding.EncodeToString([]byte(password)),
		"hex":                hex.EncodeToString([]byte(password)),
		"md5(password+user)": fmt.Sprintf("%x", md5.Sum([]byte(password+user))),
	}
}

// cred names a user's password for noLeak.
type cred struct{ user, password string }

// noLeak fails the test if any connection the fake received carries any
// form of any of the passwords, or any password message at all.
func noLeak(t *testing.T, conns []pgtest.FakeConn, creds ...cred) {
	t.Helper()
	for i, c := range conns {
		if len(c.Passwords) > 0 {
			t.Errorf("connection %d (user %q) sent %d password messages (cleartext or MD5)", i, c.User, len(c.Passwords))
		}
		for _, cr := range creds {
			for form, s := range forms(cr.user, cr.password) {
				if bytes.Contains(c.Raw, []byte(s)) {
					t.Errorf("connection %d (user %q) carried the %s form of %s's password", i, c.User, form, cr.user)
				}
			}
		}
	}
}

// started are the connections that got as far as a startup message; every
// other one must have sent an SSLRequest and nothing more.
func started(t *testing.T, conns []pgtest.FakeConn) []pgtest.FakeConn {
	t.Helper()
	var out []pgtest.FakeConn
	for i, c := range conns {
		if c.User != "" {
			out = append(out, c)
		} else if !bytes.Equal(c.Raw, sslRequest) {
			t.Errorf("connection %d sent no startup message but %d bytes other than an SSLRequest", i, len(c.Raw))
		}
	}
	return out
}

// atFake is a managed secret's value for role user whose host and port are
// the fake's.
func atFake(f *pgtest.Fake, user, password string, fields map[string]any) []byte {
	doc := map[string]any{"engine": "postgres", "host": f.Host, "port": f.Port, "username": user, "password": password, "dbname": "postgres"}
	for k, v := range fields {
		doc[k] = v
	}
	b, _ := json.Marshal(doc)
	return b
}

func noSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error contains a password: %v", rotorerr.Classify(err))
		}
	}
}

// TestAttackMasterWithoutHost (issue 10): a managed secret naming the
// attacker's server, with a master that names no host, used to send the
// master password there. Now every step that would use the master refuses,
// naming the missing field, and the fake sees no connection at all.
func TestAttackMasterWithoutHost(t *testing.T) {
	ctx := context.Background()
	// The master secret of the issue: a credential and nothing else.
	bare, _ := json.Marshal(map[string]any{"username": masterRole, "password": masterPassword})
	for _, tc := range []struct {
		ask     pgtest.Ask
		sslmode any // the managed secret's; nil leaves it out (prefer)
		master  []byte
	}{
		{pgtest.AskCleartext, "disable", bare},
		{pgtest.AskCleartext, nil, bare},
		{pgtest.AskMD5, "disable", bare},
		{pgtest.AskSCRAM, "disable", masterSecret(map[string]any{"host": nil, "port": nil})},
	} {
		t.Run(fmt.Sprintf("%s sslmode=%v", tc.ask, tc.sslmode), func(t *testing.T) {
			fake := pgtest.StartFake(t, pgtest.FakeOptions{Ask: tc.ask})
			user, pw := newRole(t)
			before := rolpassword(t, user)
			cur := atFake(fake, user, pw, map[string]any{"sslmode": tc.sslmode})
			newPw, err := provider.NewPassword(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
			steps := map[string]func() error{
				"create": func() error {
					_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: tc.master, Password: newPw})
					return err
				},
				"apply": func() error {
					return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: tc.master})
				},
				"revoke": func() error {
					return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: tc.master})
				},
			}
			for name, step := range steps {
				err := step()
				if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), `master secret has no "host"`) {
					t.Errorf("%s = %v (%s), want InvalidInput naming the master's missing \"host\"", name, err, k)
				}
				noSecretIn(t, err, pw, newPw, masterPassword)
			}
			fake.Close()
			if conns := fake.Conns(); len(conns) != 0 {
				t.Errorf("the fake received %d connections, want none", len(conns))
			}
			if rolpassword(t, user) != before || !login(user, pw) {
				t.Error("the role's password changed")
			}
		})
	}
}

// TestAttackManagedPointsAway (issue 10): the master names the real server
// and the managed secret the attacker's. The master goes to the real
// server only; the fake gets exactly one connection, verify's, as the
// managed role, and no password in any form: over a connection that does
// not verify the server, verify logs in only by SCRAM-SHA-256, which the
// fake cannot pass. Verify fails, and revoking the new version (the
// rollback) restores the old password at the real server.
func TestAttackManagedPointsAway(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ask     pgtest.Ask
		tls     bool
		sslmode any // the managed secret's
		says    string
		sasl    int // SCRAM messages verify sends the fake
	}{
		{pgtest.AskCleartext, false, "disable", "asked for the password in cleartext", 0},
		{pgtest.AskCleartext, false, nil, "asked for the password in cleartext", 0},
		{pgtest.AskCleartext, true, "require", "asked for the password in cleartext", 0},
		{pgtest.AskMD5, false, "disable", "asked for an MD5 password hash", 0},
		{pgtest.AskNothing, false, "disable", "asked for no password at all", 0},
		{pgtest.AskSCRAM, false, "disable", "refused the login", 2},
	} {
		t.Run(fmt.Sprintf("%s tls=%v sslmode=%v", tc.ask, tc.tls, tc.sslmode), func(t *testing.T) {
			for _, strategy := range []string{"single", "alternating"} {
				t.Run(strategy, func(t *testing.T) {
					fake := pgtest.StartFake(t, pgtest.FakeOptions{Ask: tc.ask, TLS: tc.tls})
					o := provider.Options{"strategy": strategy}
					user, pw := newRole(t)
					cur := atFake(fake, user, pw, map[string]any{"sslmode": tc.sslmode})
					newPw, err := provider.NewPassword(p, o)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: newPw})
					if err != nil {
						t.Fatalf("create: %v", err)
					}
					role := credsOf(t, resp.Value).Username
					if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
						t.Fatalf("apply: %v", err)
					}
					if !login(role, newPw) {
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
					if !login(user, pw) || login(role, newPw) {
						t.Error("after the rollback: want the old password working and the new one refused at the real server")
					}

					fake.Close()
					conns := started(t, fake.Conns())
					var users []string
					for _, c := range conns {
						users = append(users, c.User)
						if len(c.SASL) != tc.sasl {
							t.Errorf("%d SCRAM messages from %q, want %d", len(c.SASL), c.User, tc.sasl)
						}
					}
					if diff := cmp.Diff([]string{role}, users); diff != "" {
						t.Errorf("who logged in at the fake (-want +got):\n%s", diff)
					}
					noLeak(t, fake.Conns(), cred{masterRole, masterPassword}, cred{role, newPw}, cred{user, pw})
				})
			}
		})
	}
}

// TestAttackMasterAtFake: a master secret that itself names the attacker's
// server (a typo, a hijacked DNS name, an explicit sslmode disable) still
// never gives the master password away: cleartext, MD5 and "no
// authentication" are refused before anything is sent, SCRAM sends a proof
// that reveals nothing, TLS that does not verify the server goes no further
// than the handshake, and require insists on channel binding.
func TestAttackMasterAtFake(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ask     pgtest.Ask
		tls     bool
		sslmode any // the master's; nil leaves it out (verify-full)
		says    string
		startup bool // whether the master got as far as a startup message
		sasl    int
	}{
		{"cleartext", pgtest.AskCleartext, false, "disable", "asked for the password in cleartext; rotor refuses to send the master password that way", true, 0},
		{"md5", pgtest.AskMD5, false, "disable", "asked for an MD5 password hash; rotor refuses to send the master password that way", true, 0},
		{"no authentication", pgtest.AskNothing, false, "disable", "asked for no password at all", true, 0},
		{"scram", pgtest.AskSCRAM, false, "disable", "refused the login", true, 2},
		{"no TLS, default sslmode", pgtest.AskCleartext, false, nil, "does not offer TLS, which sslmode verify-full requires", false, 0},
		{"untrusted TLS, default sslmode", pgtest.AskCleartext, true, nil, "TLS certificate is not trusted", false, 0},
		{"untrusted TLS, verify-ca", pgtest.AskCleartext, true, "verify-ca", "TLS certificate is not trusted", false, 0},
		{"TLS cleartext, require", pgtest.AskCleartext, true, "require", "rotor refuses to send the master password that way", true, 0},
		{"TLS md5, require", pgtest.AskMD5, true, "require", "rotor refuses to send the master password that way", true, 0},
		{"TLS scram without channel binding, require", pgtest.AskSCRAM, true, "require", "did not authenticate with channel binding", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := pgtest.StartFake(t, pgtest.FakeOptions{Ask: tc.ask, TLS: tc.tls})
			m := masterSecret(map[string]any{"host": fake.Host, "port": fake.Port, "sslmode": tc.sslmode})
			user, pw := newRole(t)
			before := rolpassword(t, user)
			cur := secretValue(user, pw)
			newPw, err := provider.NewPassword(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
			for _, step := range []struct {
				name string
				run  func() error
			}{
				{"create", func() error {
					_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: m, Password: newPw})
					return err
				}},
				{"apply", func() error {
					return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: m})
				}},
				{"revoke", func() error {
					return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: m})
				}},
			} {
				err := step.run()
				if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), tc.says) {
					t.Errorf("%s = %v (%s), want InvalidInput saying %q", step.name, err, k, tc.says)
				}
				noSecretIn(t, err, pw, newPw, masterPassword)
			}
			fake.Close()
			all := fake.Conns()
			if len(all) == 0 {
				t.Fatal("the fake saw no connection: the test proves nothing")
			}
			conns := started(t, all)
			if !tc.startup && len(conns) != 0 {
				t.Errorf("%d connections got as far as a startup message, want none", len(conns))
			}
			for _, c := range conns {
				if c.User != masterRole {
					t.Errorf("a connection as %q, want only the master's", c.User)
				}
				if len(c.SASL) != tc.sasl {
					t.Errorf("%d SCRAM messages, want %d", len(c.SASL), tc.sasl)
				}
			}
			noLeak(t, all, cred{masterRole, masterPassword}, cred{user, newPw}, cred{user, pw})
			if rolpassword(t, user) != before {
				t.Error("the role's password changed")
			}
		})
	}
}

// TestMasterLayout: the master's own fields decide where it connects; the
// managed secret's host may be another name for the server (a proxy, a
// DNS alias), and a master carrying rotor's consent field is accepted.
func TestMasterLayout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		master []byte
		value  func(user, pw string) []byte
		want   rotorerr.Kind // "" for success
		says   string
	}{
		{"a master with rotor's consent field", masterSecret(map[string]any{"rotor": map[string]any{"serves": []string{"db/*"}}}), secretValue, "", ""},
		{"a managed secret naming the server by another name", masterSecret(nil), func(user, pw string) []byte {
			v, _ := provider.SetFields(secretValue(user, pw), map[string]any{"host": "localhost"})
			return v
		}, "", ""},
		{"a master without sslmode at a server without TLS", masterSecret(map[string]any{"sslmode": nil}), secretValue, rotorerr.InvalidInput,
			"does not offer TLS, which sslmode verify-full requires; rotor sent no password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, pw := newRole(t)
			cur := tc.value(user, pw)
			newPw, _ := provider.NewPassword(p, nil)
			resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: tc.master, Password: newPw})
			if err == nil {
				err = p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: tc.master})
			}
			if err == nil {
				err = p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value})
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
			if !login(user, pw) {
				t.Error("a refused rotation changed the password")
			}
		})
	}
}

// TestRevokeAfterHostRename: the versions' hosts are their consumers'
// business; revoking an old version still works after the owner renamed
// the host (to a proxy, say), on the master's server.
func TestRevokeAfterHostRename(t *testing.T) {
	ctx := context.Background()
	user, pw := newRole(t)
	o := provider.Options{"strategy": "alternating"}
	initial := secretValue(user, pw)
	v1 := create(t, initial, o)
	renamed, _ := provider.SetFields(v1, map[string]any{"host": "localhost"})
	if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "v0", Value: initial, Current: renamed,
		Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if login(user, pw) {
		t.Error("the revoked role still logs in")
	}
	if c := credsOf(t, v1); !login(c.Username, c.Password) {
		t.Error("revoking the old role broke the current one")
	}
}

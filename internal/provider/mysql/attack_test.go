package mysql_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/mysqltest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/mysql"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// forms are the encodings of a password a server could read or replay:
// the password, its base64 and hex forms, and what each authentication
// method derives from it that logs in as well as the password does
// (mysql_native_password's SHA1(password), caching_sha2_password's
// SHA256(password), ed25519's secret scalar).
func forms(password string) map[string]string {
	s1 := sha1.Sum([]byte(password))
	s256 := sha256.Sum256([]byte(password))
	s512 := sha512.Sum512([]byte(password))
	return map[string]string{
		"raw":            password,
		"base64":         base64.StdEncoding.EncodeToString([]byte(password)),
		"hex":            hex.EncodeToString([]byte(password)),
		"SHA1":           string(s1[:]),
		"SHA256":         string(s256[:]),
		"ed25519 scalar": string(s512[:32]),
	}
}

// noLeak fails the test if any connection the fake received carries any
// form of any of the passwords, or if the fake learned a password.
func noLeak(t *testing.T, conns []mysqltest.FakeConn, passwords ...string) {
	t.Helper()
	for i, c := range conns {
		if len(c.Passwords) > 0 {
			t.Errorf("connection %d (user %q) gave the fake %d passwords", i, c.User, len(c.Passwords))
		}
		for _, pw := range passwords {
			for form, s := range forms(pw) {
				if bytes.Contains(c.Raw, []byte(s)) {
					t.Errorf("connection %d (user %q) carried the %s form of a password", i, c.User, form)
				}
			}
		}
	}
}

// atFake is a managed secret's value for user whose host and port are the
// fake's.
func atFake(f *mysqltest.Fake, user, password string, fields map[string]any) []byte {
	doc := map[string]any{"engine": "mysql", "host": f.Host, "port": f.Port, "username": user, "password": password}
	for k, v := range fields {
		doc[k] = v
	}
	b, _ := json.Marshal(doc)
	return b
}

// The fakes of these tests: how each asks, and what rotor says when it
// refuses to answer.
var askings = []fakeCase{
	{mysqltest.FakeOptions{Ask: "mysql_clear_password", Greeting: "mysql_native_password"}, "asked for mysql_clear_password"},
	{mysqltest.FakeOptions{Ask: "mysql_clear_password"}, "asked for mysql_clear_password"},
	{mysqltest.FakeOptions{Ask: "sha256_password"}, "announced sha256_password"},
	{mysqltest.FakeOptions{Ask: "sha256_password", TLS: true}, "announced sha256_password"},
	{mysqltest.FakeOptions{Ask: "sha256_password", Greeting: "mysql_native_password", TLS: true}, "asked for sha256_password"},
	{mysqltest.FakeOptions{Ask: "caching_sha2_password"}, "caching_sha2_password's full authentication"},
	{mysqltest.FakeOptions{Ask: "caching_sha2_password", TLS: true}, "caching_sha2_password's full authentication"},
	{mysqltest.FakeOptions{Ask: "mysql_old_password", Greeting: "mysql_native_password"}, "asked for mysql_old_password"},
	{mysqltest.FakeOptions{Ask: "mysql_native_password"}, ""},
	{mysqltest.FakeOptions{Ask: "client_ed25519", Greeting: "mysql_native_password", TLS: true}, ""},
}

type fakeCase struct {
	opts mysqltest.FakeOptions
	says string // "" when rotor answers (and the fake refuses the login)
}

func (o fakeCase) name() string {
	return fmt.Sprintf("%s greeting=%s tls=%v", o.opts.Ask, o.opts.Greeting, o.opts.TLS)
}

// TestAttackManagedPointsAway: the master names the real server and the
// managed secret a fake. The master goes to the real server only; the
// fake gets exactly one connection, verify's, as the managed user, and no
// password in any form: over a connection that does not verify the server
// rotor answers only methods that keep the password to the client. Verify
// fails, and revoking the new version (the rollback) restores the old
// password at the real server.
func TestAttackManagedPointsAway(t *testing.T) {
	ctx := context.Background()
	for _, tc := range askings {
		t.Run(tc.name(), func(t *testing.T) {
			for _, strategy := range []string{mysql.Single, mysql.Alternating} {
				t.Run(strategy, func(t *testing.T) {
					fake := mysqltest.StartFake(t, tc.opts)
					o := provider.Options{"strategy": strategy}
					user, pw := newUser(t)
					tlsMode := "disable"
					if tc.opts.TLS {
						tlsMode = "require"
					}
					cur := atFake(fake, user, pw, map[string]any{"tls": tlsMode})
					newPw, _ := provider.NewPassword(p, o)
					resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: newPw})
					if err != nil {
						t.Fatalf("create: %v", err)
					}
					target := credsOf(t, resp.Value).Username
					if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
						t.Fatalf("apply: %v", err)
					}
					if !login(target, newPw) {
						t.Fatal("apply did not set the new password at the real server")
					}
					err = p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value, Options: o})
					says := tc.says
					if says == "" {
						says = "refused the login"
					}
					if k := rotorerr.Classify(err); k != rotorerr.VerificationFailed || !strings.Contains(err.Error(), says) {
						t.Errorf("verify = %v (%s), want VerificationFailed saying %q", err, k, says)
					}
					noSecretIn(t, err, pw, newPw, masterPassword)
					if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: resp.Value, Current: cur, Master: masterSecret(nil), Options: o}); err != nil {
						t.Fatalf("revoke (the rollback): %v", err)
					}
					if !login(user, pw) || login(target, newPw) {
						t.Error("after the rollback: want the old password working and the new one refused at the real server")
					}
					fake.Close()
					var users []string
					for _, c := range fake.Conns() {
						users = append(users, c.User)
					}
					want := []string{target}
					if strings.Contains(tc.says, "announced") {
						// Refused at the greeting: the fake got no handshake
						// response at all, so not even the user name.
						want = []string{""}
					}
					if diff := cmp.Diff(want, users); diff != "" {
						t.Errorf("who logged in at the fake (-want +got):\n%s", diff)
					}
					noLeak(t, fake.Conns(), masterPassword, newPw, pw)
				})
			}
		})
	}
}

// TestAttackMasterAtFake: a master secret that itself names the fake (a
// typo, a hijacked DNS name, tls disable or require said explicitly) never
// gives the master password away: methods that would are refused before
// the driver answers them, and a fake without a trusted certificate gets
// no further than the TLS handshake under the default verify-full.
func TestAttackMasterAtFake(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		opts mysqltest.FakeOptions
		tls  any // the master's; nil leaves it out (verify-full)
		says string
	}{
		{"no TLS, default tls", mysqltest.FakeOptions{Ask: "mysql_native_password"}, nil, "does not offer TLS, which tls verify-full requires; rotor sent no password"},
		{"untrusted TLS, default tls", mysqltest.FakeOptions{Ask: "mysql_clear_password", TLS: true}, nil, "TLS certificate is not trusted"},
		{"untrusted TLS, verify-ca", mysqltest.FakeOptions{Ask: "mysql_clear_password", TLS: true}, "verify-ca", "TLS certificate is not trusted"},
		{"native, disable", mysqltest.FakeOptions{Ask: "mysql_native_password"}, "disable", "refused the login"},
	}
	for _, a := range askings {
		if a.says == "" {
			continue
		}
		mode := "disable"
		if a.opts.TLS {
			mode = "require"
		}
		cases = append(cases, struct {
			name string
			opts mysqltest.FakeOptions
			tls  any
			says string
		}{a.name() + " tls=" + mode, a.opts, mode, a.says})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := mysqltest.StartFake(t, tc.opts)
			m := masterSecret(map[string]any{"host": fake.Host, "port": fake.Port, "tls": tc.tls})
			user, pw := newUser(t)
			before := accountsTable(t)
			cur := secretValue(user, pw)
			newPw, _ := provider.NewPassword(p, nil)
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
			conns := fake.Conns()
			if len(conns) == 0 {
				t.Fatal("the fake saw no connection: the test proves nothing")
			}
			for _, c := range conns {
				if c.User != "" && c.User != masterUser {
					t.Errorf("a connection as %q, want only the master's", c.User)
				}
			}
			noLeak(t, conns, masterPassword, newPw, pw)
			if diff := cmp.Diff(before, accountsTable(t)); diff != "" {
				t.Errorf("accounts changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestAttackMasterWithoutHost: a managed secret naming the fake, with a
// master that names no host: every step that would use the master refuses,
// naming the missing field, and the fake sees no connection at all.
func TestAttackMasterWithoutHost(t *testing.T) {
	ctx := context.Background()
	bare, _ := json.Marshal(map[string]any{"username": masterUser, "password": masterPassword})
	for _, m := range [][]byte{bare, masterSecret(map[string]any{"host": nil, "port": nil})} {
		fake := mysqltest.StartFake(t, mysqltest.FakeOptions{Ask: "mysql_clear_password"})
		user, pw := newUser(t)
		cur := atFake(fake, user, pw, map[string]any{"tls": "disable"})
		newPw, _ := provider.NewPassword(p, nil)
		next, _ := provider.SetFields(cur, map[string]any{"password": newPw})
		steps := map[string]func() error{
			"create": func() error {
				_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: m, Password: newPw})
				return err
			},
			"apply": func() error {
				return p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: m})
			},
			"revoke": func() error {
				return p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: m})
			},
		}
		for name, step := range steps {
			err := step()
			if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), `master secret has no "host"`) {
				t.Errorf("%s = %v (%s), want InvalidInput naming the master's missing \"host\"", name, err, k)
			}
		}
		fake.Close()
		if n := len(fake.Conns()); n != 0 {
			t.Errorf("the fake received %d connections, want none", n)
		}
		if !login(user, pw) {
			t.Error("the user's password changed")
		}
	}
}

// TestUsernames: user names with quotes, backticks, '@', wildcards,
// backslashes, spaces and non-ASCII are accounts like any other: rotated
// on their own, without touching the accounts a pattern or an injection
// would reach.
func TestUsernames(t *testing.T) {
	names := []string{
		`o'brien`, "back`tick", `a@b`, `pct%`, `under_score`, `back\slash`, `with space`, `Ünïcödé`,
		`x'; DROP USER 'rotor_master'@'%'; --`, "x` IDENTIFIED BY 'pwned",
	}
	// Bystanders a LIKE, a wildcard or a broken quote would reach.
	bystanders := []string{"pctx", "underXscore", "back", "o", "x"}
	quote := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	for _, b := range bystanders {
		server.Exec(t, "CREATE USER "+quote(b)+"@'%' IDENTIFIED BY PASSWORD '"+nativeHash("bystander-Pw_1")+"'")
	}
	for _, strategy := range []string{mysql.Single, mysql.Alternating} {
		for i, name := range names {
			t.Run(fmt.Sprintf("%s %d", strategy, i), func(t *testing.T) {
				user := fmt.Sprintf("%s%d", name, seq.Add(1))
				pw := "initial-Pw_for-a-strange-name"
				server.Exec(t, "CREATE USER "+quote(user)+"@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
				server.Exec(t, "GRANT SELECT ON shop.orders TO "+quote(user)+"@'%'")
				before := accountsTable(t)
				o := provider.Options{"strategy": strategy}
				v := create(t, secretValue(user, pw), o)
				c := credsOf(t, v)
				if err := p.Verify(context.Background(), &provider.VerifyRequest{SecretID: "s", Token: "t", Value: v, Options: o}); err != nil {
					t.Errorf("verify: %v", err)
				}
				if !login(c.Username, c.Password) || login(user, "wrong"+pw) {
					t.Error("the new password does not log in")
				}
				if strategy == mysql.Alternating {
					if c.Username != user+"_clone" {
						t.Errorf("the clone is %q", c.Username)
					}
					if diff := cmp.Diff(grantsOf(t, user, "%"), grantsOf(t, c.Username, "%")); diff != "" {
						t.Errorf("the clone's grants differ (-base +clone):\n%s", diff)
					}
				}
				// Only the rotated user's account (or the new clone) changed.
				rows := func(table [][]string) map[string]string {
					m := map[string]string{}
					for _, r := range table {
						m[r[0]+"@"+r[1]] = r[2]
					}
					return m
				}
				b, a := rows(before), rows(accountsTable(t))
				for k, priv := range a {
					if k != c.Username+"@%" && b[k] != priv {
						t.Errorf("account %q appeared or changed", k)
					}
				}
				for k := range b {
					if _, ok := a[k]; !ok {
						t.Errorf("account %q vanished", k)
					}
				}
				for _, b := range bystanders {
					if !login(b, "bystander-Pw_1") {
						t.Errorf("bystander %q no longer logs in", b)
					}
				}
				if !login(masterUser, masterPassword) {
					t.Fatal("the master no longer logs in")
				}
			})
		}
	}
}

// TestCloneSuffix: a user whose name already ends in _clone is the clone of
// the name without it, which must exist; a clone that exists before rotor
// makes it (someone else's user of that name) is made to match the base.
func TestCloneSuffix(t *testing.T) {
	ctx := context.Background()
	o := provider.Options{"strategy": mysql.Alternating}
	t.Run("a clone without its base", func(t *testing.T) {
		n := seq.Add(1)
		orphan := fmt.Sprintf("orphan_%d_clone", n)
		server.Exec(t, "CREATE USER '"+orphan+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash("orphan-Pw_1")+"'")
		pw, _ := provider.NewPassword(p, o)
		_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: secretValue(orphan, "orphan-Pw_1"), Master: masterSecret(nil), Options: o, Password: pw})
		if k := rotorerr.Classify(err); k != rotorerr.InvalidInput || !strings.Contains(err.Error(), fmt.Sprintf(`user "orphan_%d" has no account`, n)) {
			t.Errorf("create = %v (%s), want InvalidInput naming the missing base", err, k)
		}
	})
	t.Run("a double suffix", func(t *testing.T) {
		// x_clone_clone takes turns with x_clone: one suffix is stripped.
		base, pw := newUser(t)
		server.Exec(t, "RENAME USER '"+base+"'@'%' TO '"+base+"_clone'@'%'")
		newPw, _ := provider.NewPassword(p, o)
		resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: secretValue(base+"_clone_clone", pw), Master: masterSecret(nil), Options: o, Password: newPw})
		if err != nil {
			t.Fatal(err)
		}
		if got := credsOf(t, resp.Value).Username; got != base+"_clone" {
			t.Errorf("the next user of %s_clone_clone is %q, want %s_clone", base, got, base)
		}
	})
	t.Run("a stranger's user at the clone's name", func(t *testing.T) {
		user, pw := newUser(t)
		server.Exec(t, "CREATE USER '"+user+"_clone'@'%' IDENTIFIED BY PASSWORD '"+nativeHash("stranger-Pw_1")+"'")
		server.Exec(t, "GRANT ALL ON shop.* TO '"+user+"_clone'@'%'")
		v := create(t, secretValue(user, pw), o)
		if c := credsOf(t, v); !login(c.Username, c.Password) || login(user+"_clone", "stranger-Pw_1") {
			t.Error("want the clone on the new password only")
		}
		if diff := cmp.Diff(grantsOf(t, user, "%"), grantsOf(t, user+"_clone", "%")); diff != "" {
			t.Errorf("the clone kept privileges its base has not (-base +clone):\n%s", diff)
		}
	})
}

// TestBadOptionsChangeNothing: every step refuses bad options before it
// connects, and no account changes.
func TestBadOptionsChangeNothing(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	cur := secretValue(user, pw)
	next, _ := provider.SetFields(cur, map[string]any{"password": "next-Pw_0123456789abcdefghijkl"})
	before := accountsTable(t)
	for label, o := range badOptions {
		t.Run(label, func(t *testing.T) {
			for name, err := range map[string]error{
				"create": func() error {
					_, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: masterSecret(nil), Options: o, Password: "next-Pw_0123456789abcdefghijkl"})
					return err
				}(),
				"apply":  p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o}),
				"verify": p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: cur, Options: o}),
				"revoke": p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: next, Current: cur, Master: masterSecret(nil), Options: o}),
			} {
				if rotorerr.Classify(err) != rotorerr.InvalidInput || !strings.Contains(err.Error(), "rotor:") {
					t.Errorf("%s = %v, want InvalidInput naming the tag", name, err)
				}
			}
		})
	}
	if diff := cmp.Diff(before, accountsTable(t)); diff != "" {
		t.Errorf("accounts changed (-before +after):\n%s", diff)
	}
}

package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/postgres"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// One server for the package: each case makes its own roles on it.
var (
	cluster *pgtest.Cluster
	seq     atomic.Int64
)

const (
	masterRole     = "rotor_master"
	masterPassword = "m4ster-Pw_for-the-tests.7c1e9a"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	c, err := pgtest.StartCluster(ctx, pgtest.Options{})
	if err != nil {
		if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("ROTOR_PG_OPTIONAL") == "1" {
			fmt.Fprintln(os.Stderr, "SKIPPING the postgres provider tests: "+err.Error())
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	cluster = c
	conn, err := c.Connect(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// pg_signal_backend lets it end the sessions of a role it shuts out.
	_, err = conn.Exec(ctx, "CREATE ROLE "+masterRole+" WITH LOGIN CREATEROLE PASSWORD '"+masterPassword+"' IN ROLE pg_signal_backend")
	conn.Close(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// secretValue is a managed secret's value in AWS's layout.
func secretValue(user, password string) []byte {
	b, _ := json.Marshal(map[string]any{"engine": "postgres", "host": cluster.Host, "port": cluster.Port,
		"username": user, "password": password, "dbname": "postgres", "sslmode": "disable",
		"dbInstanceIdentifier": "kept-as-is"})
	return b
}

// masterSecret is the master secret's value: the package's cluster, where
// the test master logs in with SCRAM-SHA-256 over TCP without TLS (so
// sslmode disable, said explicitly as a master must). Each field of with
// replaces the default; a nil one removes it. Every master of these tests
// is made here, so that what a master must carry is written once.
func masterSecret(with map[string]any) []byte {
	doc := map[string]any{"engine": "postgres", "host": cluster.Host, "port": cluster.Port,
		"username": masterRole, "password": masterPassword, "dbname": "postgres", "sslmode": "disable"}
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

// newRole creates a login role with a password, as a consumer's role is
// before rotor manages it.
func newRole(t *testing.T) (string, string) {
	t.Helper()
	name := fmt.Sprintf("app_%d", seq.Add(1))
	pw := fmt.Sprintf("initial-%d-Pw_4c8e2b7d9f", seq.Load())
	cluster.Exec(t, "CREATE ROLE "+name+" WITH LOGIN PASSWORD '"+pw+"'")
	return name, pw
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

// login reports whether user/password logs in, independently of the
// provider.
func login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.DSN(user, password, "postgres"))
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

func live(v []byte) bool {
	var c creds
	if json.Unmarshal(v, &c) != nil {
		return false
	}
	return login(c.Username, c.Password)
}

func harness(strategy string) providertest.Harness {
	return providertest.Harness{
		Name: postgres.Name,
		Setup: func(t *testing.T) *providertest.Case {
			user, pw := newRole(t)
			return &providertest.Case{
				Provider: &postgres.Provider{},
				SecretID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db/" + user,
				Current:  secretValue(user, pw),
				Master:   masterSecret(nil),
				Options:  provider.Options{"strategy": strategy},
				Live:     live,
				Secrets:  func() []string { return []string{pw, masterPassword} },
				Break: func(v []byte) []byte {
					out, _ := provider.SetFields(v, map[string]any{"password": "not-the-password-0"})
					return out
				},
			}
		},
		BadOptions: map[string]provider.Options{
			"unknown strategy":        {"strategy": "triple"},
			"short password":          {"password-length": "12"},
			"password length no int":  {"password-length": "32 chars"},
			"alphabet breaks URLs":    {"password-alphabet": "abcdefghijklmnopqrstuvwxyz@"},
			"connect timeout no time": {"connect-timeout": "forever"},
			"unknown option":          {"colour": "blue"},
		},
	}
}

func TestConformanceSingle(t *testing.T)      { providertest.Run(t, harness(postgres.Single)) }
func TestConformanceAlternating(t *testing.T) { providertest.Run(t, harness(postgres.Alternating)) }

// TestConformanceSelf runs the suite on a master that rotates itself: its
// value is a master secret's (with the consent the core reads, which must
// survive every rotation), and no other master is involved.
func TestConformanceSelf(t *testing.T) {
	h := harness(postgres.Self)
	h.Setup = func(t *testing.T) *providertest.Case {
		user, pw := newRole(t)
		cluster.Exec(t, "ALTER ROLE "+user+" WITH CREATEROLE")
		current := masterSecret(map[string]any{"username": user, "password": pw,
			"rotor": map[string]any{"serves": []string{"db/*"}}})
		return &providertest.Case{
			Provider: &postgres.Provider{},
			SecretID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:masters/" + user,
			Current:  current,
			Options:  provider.Options{"strategy": postgres.Self},
			Live: func(v []byte) bool {
				var doc struct {
					creds
					Rotor json.RawMessage `json:"rotor"`
				}
				// A value that lost the consent would stop serving.
				return json.Unmarshal(v, &doc) == nil && len(doc.Rotor) > 0 && login(doc.Username, doc.Password)
			},
			Secrets: func() []string { return []string{pw} },
			Chain:   true,
			Break: func(v []byte) []byte {
				out, _ := provider.SetFields(v, map[string]any{"password": "not-the-password-0"})
				return out
			},
		}
	}
	providertest.Run(t, h)
}

var p = &postgres.Provider{}

func create(t *testing.T, current []byte, o provider.Options) []byte {
	t.Helper()
	pw, err := provider.NewPassword(p, o)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Create(context.Background(), &provider.CreateRequest{SecretID: "s", Token: "t", Current: current,
		Master: masterSecret(nil), Options: o, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value,
		Current: current, Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatal(err)
	}
	return resp.Value
}

func rolpassword(t *testing.T, role string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := cluster.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pw *string
	if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&pw); err != nil {
		t.Fatalf("pg_authid for %s: %v", role, err)
	}
	if pw == nil {
		return ""
	}
	return *pw
}

// TestSCRAMAndNoPlaintext: what reaches the server is a SCRAM-SHA-256
// verifier, and the statement log (log_statement=all) never holds a
// password rotor set.
func TestSCRAMAndNoPlaintext(t *testing.T) {
	for _, strategy := range []string{postgres.Single, postgres.Alternating} {
		t.Run(strategy, func(t *testing.T) {
			user, pw := newRole(t)
			o := provider.Options{"strategy": strategy}
			v := create(t, secretValue(user, pw), o)
			c := credsOf(t, v)
			if !login(c.Username, c.Password) {
				t.Fatal("the new password does not log in")
			}
			if got := rolpassword(t, c.Username); !strings.HasPrefix(got, "SCRAM-SHA-256$4096:") {
				t.Errorf("pg_authid.rolpassword of %s is %.14q..., want a SCRAM-SHA-256 verifier", c.Username, got)
			}
			if strings.Contains(cluster.Log(), c.Password) {
				t.Error("the server log contains the new password")
			}
			if !strings.Contains(cluster.Log(), "PASSWORD 'SCRAM-SHA-256$") {
				t.Error("the server log shows no ALTER/CREATE ROLE with a verifier: is log_statement=all on?")
			}
			var doc map[string]any
			_ = json.Unmarshal(v, &doc)
			if doc["dbInstanceIdentifier"] != "kept-as-is" || doc["engine"] != "postgres" {
				t.Errorf("fields beside the credential were not kept: %v", doc["dbInstanceIdentifier"])
			}
		})
	}
}

// TestAlternating: the clone is made with the base role's grants and
// memberships; the roles take turns; revoking the previous role shuts it
// out and ends its sessions.
func TestAlternating(t *testing.T) {
	ctx := context.Background()
	user, pw := newRole(t)
	group := user + "_readers"
	cluster.Exec(t, "CREATE ROLE "+group+" NOLOGIN")
	cluster.Exec(t, "GRANT "+group+" TO "+user)
	cluster.Exec(t, "CREATE TABLE "+user+"_orders (id int)")
	cluster.Exec(t, "INSERT INTO "+user+"_orders VALUES (1), (2)")
	cluster.Exec(t, "GRANT SELECT ON "+user+"_orders TO "+user)
	cluster.Exec(t, "CREATE TABLE "+user+"_reports (id int)")
	cluster.Exec(t, "GRANT SELECT ON "+user+"_reports TO "+group)
	o := provider.Options{"strategy": postgres.Alternating}
	initial := secretValue(user, pw)

	v1 := create(t, initial, o)
	c1 := credsOf(t, v1)
	if c1.Username != user+"_clone" {
		t.Fatalf("the first rotation's role is %q, want %s_clone", c1.Username, user)
	}
	conn, err := pgx.Connect(ctx, cluster.DSN(c1.Username, c1.Password, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+user+"_orders) + (SELECT count(*) FROM "+user+"_reports)").Scan(&n); err != nil || n != 2 {
		t.Errorf("the clone cannot read what %s and its group may: %d, %v", user, n, err)
	}
	conn.Close(ctx)
	if !login(user, pw) {
		t.Fatal("the first role stopped working before expire")
	}

	// The old role's open session ends with its revocation.
	old, err := pgx.Connect(ctx, cluster.DSN(user, pw, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "v0", Value: initial, Current: v1,
		Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatal(err)
	}
	if login(user, pw) {
		t.Error("the revoked role still logs in")
	}
	if err := old.Ping(ctx); err == nil {
		t.Error("the revoked role's session survived")
	}
	if !login(c1.Username, c1.Password) {
		t.Error("revoking the old role broke the current one")
	}

	// The next rotation returns to the first role, with LOGIN again.
	v2 := create(t, v1, o)
	c2 := credsOf(t, v2)
	if c2.Username != user || !login(c2.Username, c2.Password) {
		t.Errorf("the second rotation: role %q, logs in %v", c2.Username, login(c2.Username, c2.Password))
	}
	if !login(c1.Username, c1.Password) {
		t.Error("the clone stopped working before its expire")
	}
	// Revoking a version two back, whose role is current again, must not
	// shut that role out.
	if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "v0", Value: initial, Current: v2,
		Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatal(err)
	}
	if !login(c2.Username, c2.Password) || login(user, pw) {
		t.Error("revoking an old password of the current role: want the current password working, the old one not")
	}
}

// TestBadInput: each mistake is a named error and changes nothing at the
// server.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	user, pw := newRole(t)
	before := rolpassword(t, user)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	unreachable := masterSecret(map[string]any{"host": "127.0.0.1", "port": closedPort})
	cluster.Exec(t, "CREATE ROLE "+user+"_weak WITH LOGIN PASSWORD 'weak-master-Pw_1'")
	cluster.Exec(t, "CREATE ROLE "+user+"_creator WITH LOGIN CREATEROLE PASSWORD 'creator-master-Pw_2'")
	weak := masterSecret(map[string]any{"username": user + "_weak", "password": "weak-master-Pw_1"})
	creator := masterSecret(map[string]any{"username": user + "_creator", "password": "creator-master-Pw_2"})
	for _, tc := range []struct {
		name            string
		current, master []byte
		o               provider.Options
		want            rotorerr.Kind
		says            string
	}{
		{"a wrong master password", secretValue(user, pw), masterSecret(map[string]any{"password": "wrong-password"}), nil, rotorerr.InvalidInput, "check the master secret"},
		{"an unreachable master host", secretValue(user, pw), unreachable, nil, rotorerr.Transient, "connect to 127.0.0.1"},
		{"a missing role", secretValue("no_such_role", pw), masterSecret(nil), nil, rotorerr.InvalidInput, `role "no_such_role" does not exist`},
		{"a missing role (alternating)", secretValue("no_such_role", pw), masterSecret(nil), provider.Options{"strategy": "alternating"}, rotorerr.InvalidInput, `role "no_such_role" does not exist`},
		{"a malformed secret", []byte(`{"host": "x", "port": }`), masterSecret(nil), nil, rotorerr.InvalidInput, "not a JSON object"},
		{"a port that is text", []byte(`{"host":"x","port":"fifty","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"port"`},
		{"another engine", []byte(`{"engine":"mysql","host":"x","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `engine is "mysql"`},
		{"no host", []byte(`{"username":"u","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, "has no host"},
		{"a host list", []byte(`{"host":"a.example,b.example","username":"u","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"host" is not one DNS name`},
		{"a master without host", secretValue(user, pw), masterSecret(map[string]any{"host": nil}), nil, rotorerr.InvalidInput, `master secret has no "host"`},
		{"a master with a host list", secretValue(user, pw), masterSecret(map[string]any{"host": "127.0.0.1,db.example"}), nil, rotorerr.InvalidInput, `master secret: field "host" is not one DNS name`},
		{"a master with a socket directory", secretValue(user, pw), masterSecret(map[string]any{"host": "/var/run/postgresql"}), nil, rotorerr.InvalidInput, `master secret: field "host" is not one DNS name`},
		{"a master with sslmode prefer", secretValue(user, pw), masterSecret(map[string]any{"sslmode": "prefer"}), nil, rotorerr.InvalidInput, `sslmode "prefer" may fall back to an unencrypted connection`},
		{"a master with sslmode allow", secretValue(user, pw), masterSecret(map[string]any{"sslmode": "allow"}), nil, rotorerr.InvalidInput, `sslmode "allow" may fall back to an unencrypted connection`},
		{"a master without username", secretValue(user, pw), masterSecret(map[string]any{"username": nil}), nil, rotorerr.InvalidInput, "master secret needs username and password"},
		{"a master without CREATEROLE", secretValue(user, pw), weak, nil, rotorerr.InvalidInput, "has neither CREATEROLE nor SUPERUSER"},
		{"a master that cannot end sessions (alternating)", secretValue(user, pw), creator, provider.Options{"strategy": "alternating"}, rotorerr.InvalidInput, "not a member of pg_signal_backend"},
		{"no master", secretValue(user, pw), nil, nil, rotorerr.InvalidInput, "a master secret is required"},
		{"the master rotating itself", secretValue(masterRole, masterPassword), masterSecret(nil), nil, rotorerr.InvalidInput, "is the role being rotated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pwNew, err := provider.NewPassword(p, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: tc.current, Master: tc.master, Options: tc.o, Password: pwNew})
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Create = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
			if err != nil && (strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), masterPassword) || strings.Contains(err.Error(), pwNew)) {
				t.Error("the error contains a password")
			}
		})
	}
	if after := rolpassword(t, user); after != before || !login(user, pw) {
		t.Error("a refused create changed the role's password")
	}
	var clones int
	conn, err := cluster.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'no_such_role%'").Scan(&clones); err != nil || clones != 0 {
		t.Errorf("roles made by refused creates: %d %v", clones, err)
	}
}

// TestVerify: a value that does not log in is VerificationFailed, one that
// logs in as another role too; an unreachable server is Transient.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	user, pw := newRole(t)
	other, otherPw := newRole(t)
	verify := func(v []byte) error {
		return p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: v})
	}
	if err := verify(secretValue(user, pw)); err != nil {
		t.Errorf("Verify(working) = %v", err)
	}
	if err := verify(secretValue(user, otherPw)); !errors.Is(err, rotorerr.VerificationFailed) {
		t.Errorf("Verify(wrong password) = %v, want VerificationFailed", err)
	}
	cluster.Exec(t, "ALTER ROLE "+other+" NOLOGIN")
	if err := verify(secretValue(other, otherPw)); !errors.Is(err, rotorerr.VerificationFailed) {
		t.Errorf("Verify(NOLOGIN role) = %v, want VerificationFailed", err)
	}
	if err := verify([]byte(`{"host":"127.0.0.1","port":1,"username":"u","password":"p","sslmode":"disable"}`)); rotorerr.Classify(err) != rotorerr.Transient {
		t.Errorf("Verify(unreachable) = %v, want Transient", err)
	}
}

// TestSingleRevokeRestoresCurrent: revoking a single-strategy version that
// was applied but not kept (a rollback) sets the current password back.
func TestSingleRevokeRestoresCurrent(t *testing.T) {
	user, pw := newRole(t)
	cur := secretValue(user, pw)
	v := create(t, cur, nil)
	if login(user, pw) {
		t.Fatal("single: the old password still works after apply")
	}
	if err := p.Revoke(context.Background(), &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: v, Current: cur,
		Master: masterSecret(nil)}); err != nil {
		t.Fatal(err)
	}
	if !login(user, pw) || live(v) {
		t.Error("after revoking the new version: want the current password working and the new one refused")
	}
	err := p.Revoke(context.Background(), &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: cur, Current: cur,
		Master: masterSecret(nil)})
	if !errors.Is(err, rotorerr.Unsafe) {
		t.Errorf("revoking the current credential = %v, want Unsafe", err)
	}
}

// TestTLS: against a server that accepts TCP over TLS only, the master
// connects as its own secret says (verify-full by default) and verify as
// the managed secret says; a master that cannot verify the server, or does
// not use TLS, is refused with a named error.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.Options{TLS: true})
	c.Exec(t, "CREATE ROLE "+masterRole+" WITH LOGIN CREATEROLE PASSWORD '"+masterPassword+"' IN ROLE pg_signal_backend")
	c.Exec(t, "CREATE ROLE tls_app WITH LOGIN PASSWORD 'tls-App-pw_0c9d8e7f6a5b'")
	with := func(base, fields map[string]any) map[string]any {
		doc := maps.Clone(base)
		for k, v := range fields {
			if v == nil {
				delete(doc, k)
			} else {
				doc[k] = v
			}
		}
		return doc
	}
	value := func(fields map[string]any) []byte {
		b, _ := json.Marshal(with(map[string]any{"engine": "postgres", "host": c.Host, "port": c.Port, "username": "tls_app",
			"password": "tls-App-pw_0c9d8e7f6a5b", "sslmode": "verify-full", "sslrootcert": c.CAFile}, fields))
		return b
	}
	// The TLS cluster's master: masterSecret's fields, this server, no sslmode.
	master := func(fields map[string]any) []byte {
		return masterSecret(with(map[string]any{"host": c.Host, "port": c.Port, "sslmode": nil, "sslrootcert": c.CAFile}, fields))
	}
	rotate := func(cur, m []byte) ([]byte, error) {
		pw, _ := provider.NewPassword(p, nil)
		resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: m, Password: pw})
		if err != nil {
			return nil, err
		}
		if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: m}); err != nil {
			return nil, err
		}
		return resp.Value, p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value})
	}
	for _, tc := range []struct {
		name          string
		master, value map[string]any
		want          rotorerr.Kind // "" for success
		says          string
	}{
		{"master verify-full (the default) against the server's CA", nil, nil, "", ""},
		{"master verify-full said explicitly", map[string]any{"sslmode": "verify-full"}, nil, "", ""},
		{"master verify-ca", map[string]any{"sslmode": "verify-ca"}, nil, "", ""},
		{"master require, with channel binding", map[string]any{"sslmode": "require", "sslrootcert": nil}, nil, "", ""},
		{"value require", nil, map[string]any{"sslmode": "require", "sslrootcert": nil}, "", ""},
		{"value prefer (its default)", nil, map[string]any{"sslmode": nil, "sslrootcert": nil}, "", ""},
		{"master verify-full against the system's roots", map[string]any{"sslrootcert": nil}, nil, rotorerr.InvalidInput, "TLS certificate is not trusted"},
		{"master disable, which the server refuses", map[string]any{"sslmode": "disable"}, nil, rotorerr.InvalidInput, "refused the login"},
		{"master prefer", map[string]any{"sslmode": "prefer"}, nil, rotorerr.InvalidInput, `sslmode "prefer" may fall back`},
		{"master CA file missing", map[string]any{"sslrootcert": "/nonexistent/ca.pem"}, nil, rotorerr.InvalidInput, "connection settings"},
		{"master sslmode that does not exist", map[string]any{"sslmode": "always"}, nil, rotorerr.InvalidInput, `sslmode "always"`},
		{"value verify-full against the system's roots", nil, map[string]any{"sslrootcert": nil}, rotorerr.VerificationFailed, "TLS certificate is not trusted"},
		{"value disable, which the server refuses", nil, map[string]any{"sslmode": "disable"}, rotorerr.VerificationFailed, "refused the login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := rotate(value(tc.value), master(tc.master))
			// Each case starts from the same password.
			defer c.Exec(t, "ALTER ROLE tls_app WITH PASSWORD 'tls-App-pw_0c9d8e7f6a5b'")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rotation over TLS: %v", err)
				}
				var doc map[string]any
				_ = json.Unmarshal(v, &doc)
				if diff := cmp.Diff(with(map[string]any{"sslmode": "verify-full"}, tc.value)["sslmode"], doc["sslmode"]); diff != "" {
					t.Errorf("the value's sslmode was not kept (-want +got):\n%s", diff)
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("rotation = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
		})
	}
}

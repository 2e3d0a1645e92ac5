package mysql_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/edwards25519"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/mysqltest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/mysql"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// One server for the package: each case makes its own users on it.
var (
	server *mysqltest.Server
	seq    atomic.Int64
)

const (
	masterUser     = "rotor_master"
	masterPassword = "m4ster-Pw_for-the-tests.7c1e9a"
	// shop is the database the tests' users are granted on.
	shop = "shop"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	s, err := mysqltest.StartServer(ctx, mysqltest.Options{})
	if err != nil {
		if errors.Is(err, mysqltest.ErrNotInstalled) && os.Getenv("ROTOR_DB_OPTIONAL") == "1" {
			fmt.Fprintln(os.Stderr, "SKIPPING the mysql provider tests: "+err.Error())
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	server = s
	db, err := s.Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	// The master of these tests holds what the package documentation says
	// a master needs, and privileges on shop to pass on; nothing more.
	for _, st := range []string{
		"INSTALL SONAME 'auth_ed25519'",
		"CREATE DATABASE " + shop,
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT)",
		"INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b')",
		"CREATE TABLE shop.reports (id INT PRIMARY KEY)",
		"CREATE USER '" + masterUser + "'@'%' IDENTIFIED BY PASSWORD '" + nativeHash(masterPassword) + "'",
		"GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '" + masterUser + "'@'%'",
		"GRANT SELECT, UPDATE ON mysql.* TO '" + masterUser + "'@'%'",
		"GRANT ALL PRIVILEGES ON shop.* TO '" + masterUser + "'@'%' WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, st); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", st, err)
			return 1
		}
	}
	return m.Run()
}

// nativeHash is mysql_native_password's stored form, so that the tests'
// own users are made without a cleartext password in the general log.
func nativeHash(pw string) string {
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	return fmt.Sprintf("*%X", h2[:])
}

// secretValue is a managed secret's value in AWS's layout.
func secretValue(user, password string) []byte {
	b, _ := json.Marshal(map[string]any{"engine": "mariadb", "host": server.Host, "port": server.Port,
		"username": user, "password": password, "dbname": shop, "tls": "disable",
		"dbInstanceIdentifier": "kept-as-is"})
	return b
}

// masterSecret is the master secret's value: the package's server over TCP
// without TLS (so tls disable, said explicitly as a master must). Each
// field of with replaces the default; a nil one removes it.
func masterSecret(with map[string]any) []byte {
	doc := map[string]any{"engine": "mariadb", "host": server.Host, "port": server.Port,
		"username": masterUser, "password": masterPassword, "tls": "disable"}
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

// newUser creates a user with a password and SELECT on shop.orders, as a
// consumer's account is before rotor manages it.
func newUser(t *testing.T) (string, string) {
	t.Helper()
	n := seq.Add(1)
	name := fmt.Sprintf("app_%d", n)
	pw := fmt.Sprintf("initial-%d-Pw_4c8e2b7d9f", n)
	server.Exec(t, "CREATE USER '"+name+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	server.Exec(t, "GRANT SELECT ON shop.orders TO '"+name+"'@'%'")
	return name, pw
}

// newEd25519User creates a user on MariaDB's ed25519 plugin.
func newEd25519User(t *testing.T) (string, string) {
	t.Helper()
	n := seq.Add(1)
	name := fmt.Sprintf("ed_%d", n)
	pw := fmt.Sprintf("initial-%d-Ed_7d9f4c8e2b", n)
	server.Exec(t, "CREATE USER '"+name+"'@'%' IDENTIFIED VIA ed25519 USING '"+ed25519Hash(pw)+"'")
	server.Exec(t, "GRANT SELECT ON shop.orders TO '"+name+"'@'%'")
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

// dsn is a driver configuration for user on the package's server,
// independent of the provider.
func dsn(user, password string) string {
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Net, cfg.Addr = "tcp", fmt.Sprintf("%s:%d", server.Host, server.Port)
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

// login reports whether user/password logs in, independently of the
// provider.
func login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn(user, password))
	if err != nil {
		return false
	}
	defer db.Close()
	err = db.PingContext(ctx)
	if errors.Is(err, gomysql.ErrMalformPkt) {
		// The driver's client_ed25519 fails one login in 256 (see connect).
		err = db.PingContext(ctx)
	}
	return err == nil
}

func live(v []byte) bool {
	var c creds
	if json.Unmarshal(v, &c) != nil {
		return false
	}
	return login(c.Username, c.Password)
}

var badOptions = map[string]provider.Options{
	"unknown strategy":          {"strategy": "triple"},
	"short password":            {"password-length": "12"},
	"password length no int":    {"password-length": "32 chars"},
	"alphabet breaks DSNs":      {"password-alphabet": "abcdefghijklmnopqrstuvwxyz@"},
	"alphabet with a quote":     {"password-alphabet": "abcdefghijklmnopqrstuvwxyz'"},
	"connect timeout no time":   {"connect-timeout": "forever"},
	"statement timeout too big": {"statement-timeout": "1h"},
	"unknown option":            {"colour": "blue"},
}

func harness(strategy string, newAccount func(*testing.T) (string, string)) providertest.Harness {
	return providertest.Harness{
		Name: mysql.Name,
		Setup: func(t *testing.T) *providertest.Case {
			user, pw := newAccount(t)
			return &providertest.Case{
				Provider: &mysql.Provider{},
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
		BadOptions: badOptions,
	}
}

// selfAccount is an account that may alter itself (the self strategy's
// master), with its value in the master layout.
func selfAccount(t *testing.T) (string, string, []byte) {
	t.Helper()
	n := seq.Add(1)
	name := fmt.Sprintf("admin_%d", n)
	pw := fmt.Sprintf("initial-%d-Adm_2b7d9f4c8e", n)
	server.Exec(t, "CREATE USER '"+name+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	server.Exec(t, "GRANT CREATE USER ON *.* TO '"+name+"'@'%'")
	server.Exec(t, "GRANT SELECT ON mysql.global_priv TO '"+name+"'@'%'")
	b, _ := json.Marshal(map[string]any{"engine": "mariadb", "host": server.Host, "port": server.Port,
		"username": name, "password": pw, "tls": "disable", "rotor": map[string]any{"serves": []string{"db/*"}}})
	return name, pw, b
}

func selfHarness() providertest.Harness {
	return providertest.Harness{
		Name: mysql.Name,
		Setup: func(t *testing.T) *providertest.Case {
			_, pw, v := selfAccount(t)
			return &providertest.Case{
				Provider: &mysql.Provider{},
				SecretID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db/master",
				Current:  v,
				Options:  provider.Options{"strategy": mysql.Self},
				Live:     live,
				Secrets:  func() []string { return []string{pw} },
				Chain:    true,
				Break: func(v []byte) []byte {
					out, _ := provider.SetFields(v, map[string]any{"password": "not-the-password-0"})
					return out
				},
			}
		},
		BadOptions: badOptions,
	}
}

func TestConformanceSingle(t *testing.T) {
	providertest.Run(t, harness(mysql.Single, newUser))
}

func TestConformanceAlternating(t *testing.T) {
	providertest.Run(t, harness(mysql.Alternating, newUser))
}

func TestConformanceSelf(t *testing.T) { providertest.Run(t, selfHarness()) }

func TestConformanceSingleEd25519(t *testing.T) {
	providertest.Run(t, harness(mysql.Single, newEd25519User))
}

var p = &mysql.Provider{}

// create runs Create and Apply as the core does, returning the new value.
func create(t *testing.T, current []byte, o provider.Options) []byte {
	t.Helper()
	pw, err := provider.NewPassword(p, o)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Create(context.Background(), &provider.CreateRequest{SecretID: "s", Token: "t", Current: current,
		Master: masterSecret(nil), Options: o, Password: pw})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := p.Apply(context.Background(), &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value,
		Current: current, Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return resp.Value
}

func revoke(t *testing.T, v, current []byte, o provider.Options) {
	t.Helper()
	if err := p.Revoke(context.Background(), &provider.RevokeRequest{SecretID: "s", VersionID: "v", Value: v,
		Current: current, Master: masterSecret(nil), Options: o}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

// query runs a query as root and returns its rows, each column a string.
func query(t *testing.T, q string, args ...any) [][]string {
	t.Helper()
	db, err := server.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out
}

// authString is the stored hash of user@host, read by root.
func authString(t *testing.T, user, host string) string {
	t.Helper()
	rows := query(t, "SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv WHERE User = ? AND Host = ?", user, host)
	if len(rows) != 1 {
		t.Fatalf("%s@%s: %d accounts", user, host, len(rows))
	}
	return rows[0][0]
}

// accountsTable is every account's row of mysql.global_priv, to show that
// a refused step changed nothing.
func accountsTable(t *testing.T) [][]string {
	t.Helper()
	return query(t, "SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host")
}

// identified matches the IDENTIFIED clause SHOW GRANTS prints, up to the
// account settings or the WITH clause.
var identified = regexp.MustCompile(` IDENTIFIED (BY PASSWORD|VIA) .*?'[^']*'( OR [a-z_0-9]+ USING '[^']*')*`)

// grantsOf is SHOW GRANTS FOR user@host as root, with the grantee and the
// IDENTIFIED clause written out of each line, sorted: what two accounts
// with the same privileges share.
func grantsOf(t *testing.T, user, host string) []string {
	t.Helper()
	grantee := "`" + strings.ReplaceAll(user, "`", "``") + "`@`" + host + "`"
	var out []string
	for _, r := range query(t, "SHOW GRANTS FOR "+grantee) {
		line := identified.ReplaceAllString(r[0], "")
		if !strings.Contains(line, grantee) {
			t.Fatalf("a line of SHOW GRANTS FOR %s does not name it", grantee)
		}
		out = append(out, strings.ReplaceAll(line, grantee, "<grantee>"))
	}
	sort.Strings(out)
	return out
}

// TestGeneralLog: after a whole rotation of each strategy, the server's
// general query log holds the hashes rotor set and none of the passwords.
func TestGeneralLog(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		strategy string
		account  func(*testing.T) (string, string, []byte)
		hash     func(string) string
	}{
		{"single", mysql.Single, managed(newUser), nativeHash},
		{"single ed25519", mysql.Single, managed(newEd25519User), ed25519Hash},
		{"alternating", mysql.Alternating, managed(newUser), nativeHash},
		{"self", mysql.Self, selfAccount, nativeHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, cur := tc.account(t)
			o := provider.Options{"strategy": tc.strategy}
			m := masterSecret(nil)
			if tc.strategy == mysql.Self {
				m = nil
			}
			pw, _ := provider.NewPassword(p, o)
			resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: m, Options: o, Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: m, Options: o}); err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value, Options: o}); err != nil {
				t.Fatal(err)
			}
			// Expire: the previous version for alternating, a rollback for
			// the others (which sets a password again).
			if tc.strategy == mysql.Alternating {
				err = p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "v0", Value: cur, Current: resp.Value, Master: m, Options: o})
			} else {
				err = p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: resp.Value, Current: cur, Master: m, Options: o})
			}
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			_ = json.Unmarshal(resp.Value, &doc)
			if tc.strategy != mysql.Self && (doc["dbInstanceIdentifier"] != "kept-as-is" || doc["engine"] != "mariadb" || doc["dbname"] != shop) {
				t.Errorf("fields beside the credential were not kept: %v, %v, %v", doc["dbInstanceIdentifier"], doc["engine"], doc["dbname"])
			}
			if tc.strategy == mysql.Self && doc["rotor"] == nil {
				t.Error("the self strategy's value lost its consent field")
			}
			log := server.GeneralLog()
			if !strings.Contains(log, tc.hash(pw)) {
				t.Error("the general log does not show the new password's hash: is it on, and is that how rotor set it?")
			}
			for name, secret := range map[string]string{"the new password": pw, "the current password": credsOf(t, cur).Password} {
				if strings.Contains(log, secret) {
					t.Errorf("the general log contains %s", name)
				}
			}
			if strings.Contains(log, masterPassword) {
				t.Error("the general log contains the master password")
			}
		})
	}
}

func managed(newAccount func(*testing.T) (string, string)) func(*testing.T) (string, string, []byte) {
	return func(t *testing.T) (string, string, []byte) {
		u, pw := newAccount(t)
		return u, pw, secretValue(u, pw)
	}
}

// ed25519Hash is MariaDB's ed25519 stored form written out again here
// (TestEd25519HashIsMariaDBs holds it to the server's own function).
func ed25519Hash(pw string) string {
	h := sha512.Sum512([]byte(pw))
	sc, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic(err)
	}
	return base64.RawStdEncoding.EncodeToString((&edwards25519.Point{}).ScalarBaseMult(sc).Bytes())
}

// TestEd25519HashIsMariaDBs: the hash computed in Go is what MariaDB's own
// ed25519_password() computes (for throwaway passwords: the function puts
// its argument in the general log), and a user set from it logs in with
// the driver's client_ed25519.
func TestEd25519HashIsMariaDBs(t *testing.T) {
	server.Exec(t, "CREATE FUNCTION IF NOT EXISTS ed25519_password RETURNS STRING SONAME 'auth_ed25519.so'")
	for i, pw := range []string{"a", "throwaway-Pw_0123456789abcdefghijklmnop", "ÄÖÜ-unicode-€", strings.Repeat("x", 256)} {
		got := ed25519Hash(pw)
		want := query(t, "SELECT ed25519_password(?)", pw)[0][0]
		if got != want {
			t.Errorf("password %d: Go computes %s, MariaDB %s", i, got, want)
		}
		user := fmt.Sprintf("edproof_%d", seq.Add(1))
		server.Exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED VIA ed25519 USING '"+got+"'")
		if !login(user, pw) || login(user, pw+"x") {
			t.Errorf("password %d: the user set from the Go hash: right password logs in %v, wrong one %v", i, login(user, pw), login(user, pw+"x"))
		}
	}
}

// TestAlternating: the clone is made on every host of the base user, with
// exactly its grants (roles, default role, column privileges, grant
// option) and account settings, and its own hash, never the base's; the
// users take turns; expire locks the previous user and ends its sessions;
// grants the base gains or loses later follow to the clone at its next
// turn.
func TestAlternating(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	role := user + "_readers"
	for _, st := range []string{
		"CREATE USER '" + user + "'@'localhost' IDENTIFIED BY PASSWORD '" + nativeHash(pw) + "'",
		"ALTER USER '" + user + "'@'%' WITH MAX_USER_CONNECTIONS 7",
		"GRANT INSERT ON shop.orders TO '" + user + "'@'%'",
		"GRANT UPDATE (note) ON shop.orders TO '" + user + "'@'%' WITH GRANT OPTION",
		"GRANT SELECT ON shop.orders TO '" + user + "'@'localhost'",
		"CREATE ROLE " + role,
		"GRANT SELECT ON shop.reports TO " + role,
		"GRANT " + role + " TO '" + user + "'@'%'",
		"SET DEFAULT ROLE " + role + " FOR '" + user + "'@'%'",
		"GRANT " + role + " TO '" + masterUser + "'@'%' WITH ADMIN OPTION",
	} {
		server.Exec(t, st)
	}
	o := provider.Options{"strategy": mysql.Alternating}
	initial := secretValue(user, pw)
	clone := user + "_clone"
	sameGrants := func(when string) {
		t.Helper()
		for _, host := range []string{"%", "localhost"} {
			if diff := cmp.Diff(grantsOf(t, user, host), grantsOf(t, clone, host)); diff != "" {
				t.Errorf("%s: the grants of %s@%s and %s@%s differ (-base +clone):\n%s", when, user, host, clone, host, diff)
			}
		}
	}

	v1 := create(t, initial, o)
	c1 := credsOf(t, v1)
	if c1.Username != clone {
		t.Fatalf("the first rotation's user is %q, want %s", c1.Username, clone)
	}
	sameGrants("first rotation")
	for _, host := range []string{"%", "localhost"} {
		if got, base := authString(t, clone, host), authString(t, user, host); got == base || got != nativeHash(c1.Password) {
			t.Errorf("%s@%s: its hash is the base's %v, is its own password's %v", clone, host, got == base, got == nativeHash(c1.Password))
		}
	}
	if got := query(t, "SHOW CREATE USER '"+clone+"'@'%'")[0][0]; !strings.Contains(got, "MAX_USER_CONNECTIONS 7") {
		t.Error("the clone did not get the base's account settings (MAX_USER_CONNECTIONS 7)")
	}
	db, err := sql.Open("mysql", dsn(c1.Username, c1.Password))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM shop.orders) + (SELECT COUNT(*) FROM shop.reports)").Scan(&n); err != nil {
		t.Errorf("the clone cannot read what %s and its default role may: %v", user, err)
	}
	db.Close()
	if !login(user, pw) {
		t.Fatal("the first user stopped working before expire")
	}

	// The previous user's open session ends with its revocation.
	old, err := sql.Open("mysql", dsn(user, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	old.SetMaxOpenConns(1)
	if err := old.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	revoke(t, initial, v1, o)
	if login(user, pw) {
		t.Error("the revoked user still logs in")
	}
	if got := query(t, "SHOW CREATE USER '"+user+"'@'%'")[0][0]; !strings.Contains(got, "ACCOUNT LOCK") {
		t.Error("the revoked user is not locked")
	}
	if got := authString(t, user, "%"); got == nativeHash(pw) {
		t.Error("the revoked user kept its password's hash")
	}
	var one int
	if err := old.QueryRowContext(ctx, "SELECT 1").Scan(&one); err == nil {
		t.Error("the revoked user's session survived")
	}
	if !login(c1.Username, c1.Password) {
		t.Error("revoking the old user broke the current one")
	}

	// The next rotation returns to the first user, unlocked.
	v2 := create(t, v1, o)
	c2 := credsOf(t, v2)
	if c2.Username != user || !login(c2.Username, c2.Password) {
		t.Errorf("the second rotation: user %q, logs in %v", c2.Username, login(c2.Username, c2.Password))
	}
	if !login(c1.Username, c1.Password) {
		t.Error("the clone stopped working before its expire")
	}

	// The base gains and loses privileges; the clone gains one of its own.
	server.Exec(t, "GRANT DELETE ON shop.orders TO '"+user+"'@'%'")
	server.Exec(t, "REVOKE INSERT ON shop.orders FROM '"+user+"'@'%'")
	server.Exec(t, "GRANT SELECT ON shop.reports TO '"+clone+"'@'localhost'")
	revoke(t, v1, v2, o)
	if login(c1.Username, c1.Password) {
		t.Error("the revoked clone still logs in")
	}
	v3 := create(t, v2, o)
	c3 := credsOf(t, v3)
	if c3.Username != clone || !login(c3.Username, c3.Password) {
		t.Errorf("the third rotation: user %q, logs in %v", c3.Username, login(c3.Username, c3.Password))
	}
	sameGrants("third rotation, after the base's grants changed")

	// Revoking a version two back, whose user is current again, must not
	// shut that user out: it gets the current password again.
	revoke(t, v1, v3, o)
	if !login(c3.Username, c3.Password) || login(c1.Username, c1.Password) {
		t.Error("revoking an old password of the current user: want the current password working, the old one not")
	}
}

// TestEveryAccountOfTheUser: a user name with accounts at several hosts
// gets the new password on all of them, and back on all of them when the
// rotation is rolled back.
func TestEveryAccountOfTheUser(t *testing.T) {
	user, pw := newUser(t)
	server.Exec(t, "CREATE USER '"+user+"'@'127.0.0.1' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	server.Exec(t, "CREATE USER '"+user+"'@'10.%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	cur := secretValue(user, pw)
	v := create(t, cur, nil)
	c := credsOf(t, v)
	hosts := []string{"%", "10.%", "127.0.0.1"}
	for _, h := range hosts {
		if authString(t, user, h) != nativeHash(c.Password) {
			t.Errorf("%s@%s did not get the new password", user, h)
		}
	}
	revoke(t, v, cur, nil)
	for _, h := range hosts {
		if authString(t, user, h) != nativeHash(pw) {
			t.Errorf("%s@%s did not get the current password back", user, h)
		}
	}
}

// TestConverges: a step that landed but whose answer was lost is run
// again, and a rollback after it restores the old credential.
func TestConverges(t *testing.T) {
	ctx := context.Background()
	t.Run("single: apply twice, then roll back", func(t *testing.T) {
		user, pw := newUser(t)
		cur := secretValue(user, pw)
		v := create(t, cur, nil)
		if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: v, Current: cur, Master: masterSecret(nil)}); err != nil {
			t.Fatalf("apply again: %v", err)
		}
		if !live(v) || login(user, pw) {
			t.Fatal("after applying twice: want the new password only")
		}
		revoke(t, v, cur, nil)
		if !login(user, pw) || live(v) {
			t.Error("after the rollback: want the old password only")
		}
	})
	t.Run("alternating: a clone left half made", func(t *testing.T) {
		user, pw := newUser(t)
		server.Exec(t, "GRANT INSERT, UPDATE ON shop.* TO '"+user+"'@'%'")
		// A crash after CREATE USER and before the grants.
		server.Exec(t, "CREATE USER '"+user+"_clone'@'%' IDENTIFIED BY PASSWORD '"+nativeHash("lost-Pw_0")+"' ACCOUNT LOCK")
		o := provider.Options{"strategy": mysql.Alternating}
		v := create(t, secretValue(user, pw), o)
		if !live(v) {
			t.Fatal("the clone does not log in")
		}
		if diff := cmp.Diff(grantsOf(t, user, "%"), grantsOf(t, user+"_clone", "%")); diff != "" {
			t.Errorf("the half-made clone's grants were not completed (-base +clone):\n%s", diff)
		}
	})
	t.Run("self: the current password no longer logs in", func(t *testing.T) {
		_, pw, cur := selfAccount(t)
		o := provider.Options{"strategy": mysql.Self}
		newPw, _ := provider.NewPassword(p, o)
		resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Options: o, Password: newPw})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Options: o}); err != nil {
				t.Fatalf("apply #%d: %v", i+1, err)
			}
		}
		if !live(resp.Value) || live(cur) {
			t.Fatal("after applying twice: want the new password only")
		}
		if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "t", Value: resp.Value, Current: cur, Options: o}); err != nil {
			t.Fatalf("revoke (the rollback): %v", err)
		}
		if !live(cur) || live(resp.Value) {
			t.Error("after the rollback: want the old password only")
		}
		_ = pw
	})
}

// limitedMaster makes a master account with the given grants (statements
// with %s for the account) and returns its secret.
func limitedMaster(t *testing.T, grants ...string) []byte {
	t.Helper()
	name := fmt.Sprintf("master_%d", seq.Add(1))
	pw := "limited-master-Pw_" + name
	acct := "'" + name + "'@'%'"
	server.Exec(t, "CREATE USER "+acct+" IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	for _, g := range grants {
		server.Exec(t, fmt.Sprintf(g, acct))
	}
	return masterSecret(map[string]any{"username": name, "password": pw})
}

// TestBadInput: each mistake is a named error and changes no account.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	server.Exec(t, "GRANT INSERT ON shop.orders TO '"+user+"'@'%'")
	sock := fmt.Sprintf("sock_%d", seq.Add(1))
	server.Exec(t, "CREATE USER '"+sock+"'@'%' IDENTIFIED VIA unix_socket")
	both := fmt.Sprintf("both_%d", seq.Add(1))
	server.Exec(t, "CREATE USER '"+both+"'@'%' IDENTIFIED VIA ed25519 USING '"+ed25519Hash("x")+"' OR mysql_native_password USING '"+nativeHash("y")+"'")
	defaultRole := fmt.Sprintf("dr_%d", seq.Add(1))
	server.Exec(t, "CREATE USER '"+defaultRole+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	server.Exec(t, "CREATE ROLE "+defaultRole+"_role")
	server.Exec(t, "GRANT "+defaultRole+"_role TO '"+defaultRole+"'@'%'")
	server.Exec(t, "SET DEFAULT ROLE "+defaultRole+"_role FOR '"+defaultRole+"'@'%'")
	server.Exec(t, "GRANT "+defaultRole+"_role TO '"+masterUser+"'@'%' WITH ADMIN OPTION")

	full := []string{"GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO %s", "GRANT SELECT ON mysql.* TO %s"}
	noCreateUser := limitedMaster(t, "GRANT PROCESS, CONNECTION ADMIN ON *.* TO %s", "GRANT SELECT ON mysql.* TO %s")
	noSelect := limitedMaster(t, "GRANT CREATE USER ON *.* TO %s")
	onlyPriv := limitedMaster(t, "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO %s", "GRANT SELECT ON mysql.global_priv TO %s")
	noProcess := limitedMaster(t, "GRANT CREATE USER, CONNECTION ADMIN ON *.* TO %s", "GRANT SELECT ON mysql.* TO %s", "GRANT ALL ON shop.* TO %s WITH GRANT OPTION")
	noKill := limitedMaster(t, "GRANT CREATE USER, PROCESS ON *.* TO %s", "GRANT SELECT ON mysql.* TO %s", "GRANT ALL ON shop.* TO %s WITH GRANT OPTION")
	noGrantOption := limitedMaster(t, append(full, "GRANT ALL ON shop.* TO %s")...)
	noInsert := limitedMaster(t, append(full, "GRANT SELECT ON shop.* TO %s WITH GRANT OPTION")...)
	noRoleAdmin := limitedMaster(t, append(full, "GRANT ALL ON shop.* TO %s WITH GRANT OPTION", "GRANT UPDATE ON mysql.* TO %s")...)
	noUpdate := limitedMaster(t, append(full, "GRANT "+defaultRole+"_role TO %s WITH ADMIN OPTION")...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	alt := provider.Options{"strategy": mysql.Alternating}
	long := strings.Repeat("l", 125)
	server.Exec(t, "CREATE USER '"+long+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	before := accountsTable(t)
	for _, tc := range []struct {
		name            string
		current, master []byte
		o               provider.Options
		want            rotorerr.Kind
		says            string
	}{
		{"a wrong master password", secretValue(user, pw), masterSecret(map[string]any{"password": "wrong-password"}), nil, rotorerr.InvalidInput, "refused the login of user \"rotor_master\""},
		{"an unreachable master host", secretValue(user, pw), masterSecret(map[string]any{"host": "127.0.0.1", "port": closedPort}), nil, rotorerr.Transient, "connect to 127.0.0.1"},
		{"a missing user", secretValue("no_such_user", pw), masterSecret(nil), nil, rotorerr.InvalidInput, `user "no_such_user" has no account`},
		{"a missing user (alternating)", secretValue("no_such_user", pw), masterSecret(nil), alt, rotorerr.InvalidInput, `user "no_such_user" has no account`},
		{"a user that is a role", secretValue(defaultRole+"_role", pw), masterSecret(nil), nil, rotorerr.InvalidInput, "has no account"},
		{"a malformed secret", []byte(`{"host": "x", "port": }`), masterSecret(nil), nil, rotorerr.InvalidInput, "not a JSON object"},
		{"a port that is text", []byte(`{"host":"x","port":"fifty","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"port"`},
		{"another engine", []byte(`{"engine":"postgres","host":"x","username":"u"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `engine is "postgres"`},
		{"an unknown tls mode", []byte(`{"host":"x","username":"u","tls":"always"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `tls "always"`},
		{"no host", []byte(`{"username":"u","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, "has no host"},
		{"a host list", []byte(`{"host":"a.example,b.example","username":"u","password":"p"}`), masterSecret(nil), nil, rotorerr.InvalidInput, `"host" is not one DNS name`},
		{"a control character in the username", []byte(`{"host":"x","username":"a\u0000b"}`), masterSecret(nil), nil, rotorerr.InvalidInput, "control character"},
		{"a master without host", secretValue(user, pw), masterSecret(map[string]any{"host": nil}), nil, rotorerr.InvalidInput, `master secret has no "host"`},
		{"a master with a socket path", secretValue(user, pw), masterSecret(map[string]any{"host": "/var/run/mysqld/mysqld.sock"}), nil, rotorerr.InvalidInput, `master secret: field "host" is not one DNS name`},
		{"a master with tls preferred", secretValue(user, pw), masterSecret(map[string]any{"tls": "preferred"}), nil, rotorerr.InvalidInput, `tls "preferred" falls back to an unencrypted connection`},
		{"a master without username", secretValue(user, pw), masterSecret(map[string]any{"username": nil}), nil, rotorerr.InvalidInput, "master secret needs username and password"},
		{"no master", secretValue(user, pw), nil, nil, rotorerr.InvalidInput, "a master secret is required"},
		{"the master rotating itself", secretValue(masterUser, masterPassword), masterSecret(nil), nil, rotorerr.InvalidInput, "is the user being rotated"},
		{"the master as the base of a clone", secretValue(masterUser+"_clone", "x"), masterSecret(nil), alt, rotorerr.InvalidInput, "is the user being rotated"},
		{"a master without CREATE USER", secretValue(user, pw), noCreateUser, nil, rotorerr.InvalidInput, "lacks the CREATE USER privilege"},
		{"a master that cannot read the accounts", secretValue(user, pw), noSelect, nil, rotorerr.InvalidInput, "may not read mysql.global_priv"},
		{"a master that cannot read grants (alternating)", secretValue(user, pw), onlyPriv, alt, rotorerr.InvalidInput, "needs GRANT SELECT ON mysql.* TO the master"},
		{"a master that can only read the accounts (single)", secretValue(user, pw), onlyPriv, nil, "", ""},
		{"a master without PROCESS (alternating)", secretValue(user, pw), noProcess, alt, rotorerr.InvalidInput, "lacks the PROCESS privilege"},
		{"a master that cannot kill (alternating)", secretValue(user, pw), noKill, alt, rotorerr.InvalidInput, "lacks CONNECTION ADMIN"},
		{"a master without grant option (alternating)", secretValue(user, pw), noGrantOption, alt, rotorerr.InvalidInput, "it lacks SELECT, INSERT ON `shop`.`orders` WITH GRANT OPTION"},
		{"a master without a privilege of the user (alternating)", secretValue(user, pw), noInsert, alt, rotorerr.InvalidInput, "it lacks INSERT ON `shop`.`orders` WITH GRANT OPTION"},
		{"a master without the user's role (alternating)", secretValue(defaultRole, pw), noRoleAdmin, alt, rotorerr.InvalidInput, "lacks role `" + defaultRole + "_role` WITH ADMIN OPTION"},
		{"a master that cannot set a default role (alternating)", secretValue(defaultRole, pw), noUpdate, alt, rotorerr.InvalidInput, "UPDATE ON `mysql`.*"},
		{"an account on unix_socket", secretValue(sock, pw), masterSecret(nil), nil, rotorerr.InvalidInput, `uses authentication plugin "unix_socket"`},
		{"an account on two methods", secretValue(both, pw), masterSecret(nil), nil, rotorerr.InvalidInput, "authenticates in more than one way"},
		{"a clone name too long (alternating)", secretValue(long, pw), masterSecret(nil), alt, rotorerr.InvalidInput, "more than MariaDB's limit of 128"},
		{"only the clone suffix", secretValue("_clone", pw), masterSecret(nil), alt, rotorerr.InvalidInput, `username "_clone" is only the clone suffix`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pwNew, err := provider.NewPassword(p, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: tc.current, Master: tc.master, Options: tc.o, Password: pwNew})
			if tc.want == "" {
				if err != nil {
					t.Errorf("Create = %v, want success", err)
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Create = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
			noSecretIn(t, err, pw, masterPassword, pwNew, nativeHash(pw), nativeHash(masterPassword))
		})
	}
	if diff := cmp.Diff(before, accountsTable(t)); diff != "" || !login(user, pw) {
		t.Errorf("a refused create changed accounts (-before +after):\n%s", diff)
	}
}

func noSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error contains a secret: %v", rotorerr.Classify(err))
		}
	}
}

// TestVerify: a value that does not log in is VerificationFailed, so is a
// locked account and one that logs in as another user; an unreachable
// server is Transient.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	other, otherPw := newUser(t)
	verify := func(v []byte) error {
		return p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: v})
	}
	if err := verify(secretValue(user, pw)); err != nil {
		t.Errorf("Verify(working) = %v", err)
	}
	if err := verify(secretValue(user, otherPw)); !errors.Is(err, rotorerr.VerificationFailed) {
		t.Errorf("Verify(wrong password) = %v, want VerificationFailed", err)
	}
	server.Exec(t, "ALTER USER '"+other+"'@'%' ACCOUNT LOCK")
	if err := verify(secretValue(other, otherPw)); !errors.Is(err, rotorerr.VerificationFailed) {
		t.Errorf("Verify(locked account) = %v, want VerificationFailed", err)
	}
	noDB, _ := provider.SetFields(secretValue(user, pw), map[string]any{"dbname": "not_its_db"})
	if err := verify(noDB); !errors.Is(err, rotorerr.VerificationFailed) {
		t.Errorf("Verify(a database it may not use) = %v, want VerificationFailed", err)
	}
	if err := verify([]byte(`{"host":"127.0.0.1","port":1,"username":"u","password":"p","tls":"disable"}`)); rotorerr.Classify(err) != rotorerr.Transient {
		t.Errorf("Verify(unreachable) = %v, want Transient", err)
	}
	// A server that accepts and then says nothing: the connect timeout
	// bounds the whole login, guarded or not.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, mode := range []string{"disable", "require", "verify-full"} {
		v, _ := json.Marshal(map[string]any{"host": "127.0.0.1", "port": ln.Addr().(*net.TCPAddr).Port, "username": "u", "password": "p", "tls": mode})
		began := time.Now()
		err := p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: v, Options: provider.Options{"connect-timeout": "300ms"}})
		if took := time.Since(began); rotorerr.Classify(err) != rotorerr.Transient || took > 3*time.Second {
			t.Errorf("tls %s: Verify(a silent server) = %v after %v, want Transient within the connect timeout", mode, err, took)
		}
	}
}

// TestRevokeRefusals: revoking the current credential, or with no current
// value, is Unsafe and changes nothing.
func TestRevokeRefusals(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	cur := secretValue(user, pw)
	before := accountsTable(t)
	for _, tc := range []struct {
		name           string
		value, current []byte
		o              provider.Options
		master         []byte
		says           string
	}{
		{"the current credential", cur, cur, nil, masterSecret(nil), "it holds the current credential"},
		{"no current value", cur, nil, nil, masterSecret(nil), "with no current value"},
		{"the master's own user", secretValue(masterUser, "old"), cur, provider.Options{"strategy": mysql.Alternating}, masterSecret(nil), "it is the master secret's"},
		{"self: the current credential", cur, cur, provider.Options{"strategy": mysql.Self}, nil, "it holds the current credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: "s", VersionID: "v", Value: tc.value, Current: tc.current, Master: tc.master, Options: tc.o})
			if !errors.Is(err, rotorerr.Unsafe) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Revoke = %v, want Unsafe saying %q", err, tc.says)
			}
		})
	}
	if diff := cmp.Diff(before, accountsTable(t)); diff != "" || !login(user, pw) {
		t.Errorf("a refused revoke changed accounts (-before +after):\n%s", diff)
	}
}

// TestKillOnlyTheRevokedUser: shutting out a user ends its sessions and no
// one else's, not even those of a user whose name differs only in case.
func TestKillOnlyTheRevokedUser(t *testing.T) {
	ctx := context.Background()
	user, pw := newUser(t)
	upper := strings.ToUpper(user)
	server.Exec(t, "CREATE USER '"+upper+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(pw)+"'")
	session := func(u string) *sql.Conn {
		db, err := sql.Open("mysql", dsn(u, pw))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mine, theirs := session(user), session(upper)
	before := authString(t, upper, "%")
	o := provider.Options{"strategy": mysql.Alternating}
	initial := secretValue(user, pw)
	v1 := create(t, initial, o)
	revoke(t, initial, v1, o)
	var one int
	if err := mine.QueryRowContext(ctx, "SELECT 1").Scan(&one); err == nil {
		t.Error("the revoked user's session survived")
	}
	if err := theirs.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("the session of %s, another user, ended: %v", upper, err)
	}
	if !login(upper, pw) || authString(t, upper, "%") != before {
		t.Errorf("%s, another user, was shut out or changed", upper)
	}
}

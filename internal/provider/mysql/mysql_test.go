package mysql_test

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/rotorhq/rotor/internal/mysqltest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/mysql"
	"github.com/rotorhq/rotor/internal/provider/providertest"
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
	server.Exec(t, "CREATE USER '"+name+"'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('"+pw+"')")
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
	return db.PingContext(ctx) == nil
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

// keep strings imported for later tests
var _ = strings.Contains

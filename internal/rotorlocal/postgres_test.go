package rotorlocal

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/jackc/pgx/v5"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider/postgres"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

const (
	pgMaster         = "rotor_master"
	pgMasterPassword = "m4ster-Pw_local.9f2c"
)

// pgEnv is a local deployment with a PostgreSQL server and a role "app"
// managed by secret "db/app" (and master secret "db/master").
type pgEnv struct {
	*leakEnv
	pg          *pgtest.Cluster
	initialPass string
}

func startPG(t testing.TB, strategy, grace, providerName string) *pgEnv {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{})
	pg.Exec(t, "CREATE ROLE "+pgMaster+" WITH LOGIN CREATEROLE PASSWORD '"+pgMasterPassword+"' IN ROLE pg_signal_backend")
	e := &pgEnv{pg: pg, initialPass: "initial-App-pw_5e1a7c3d9b"}
	pg.Exec(t, "CREATE ROLE app WITH LOGIN PASSWORD '"+e.initialPass+"'")
	pg.Exec(t, "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 10); GRANT SELECT ON orders TO app")

	e.leakEnv = &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(context.Background(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	value, _ := json.Marshal(map[string]any{"engine": "postgres", "host": pg.Host, "port": pg.Port, "username": "app",
		"password": e.initialPass, "dbname": "postgres", "sslmode": "disable"})
	sm := h.SecretsManager()
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String("db/master"), SecretString: aws.String(pgMasterSecret(pg, nil)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String("db/app"), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String(providerName)},
			{Key: aws.String("rotor:strategy"), Value: aws.String(strategy)},
			{Key: aws.String("rotor:master-secret"), Value: aws.String("db/master")},
			{Key: aws.String("rotor:grace-period"), Value: aws.String(grace)}}},
	} {
		if _, err := sm.CreateSecret(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// pgMasterSecret is the value of master secret "db/master": the role
// rotor_master on pg, which it reaches over TCP without TLS (so sslmode
// disable, said explicitly as a master must). Each field of with replaces
// the default; a nil one removes it. Every master of these tests is made
// here, so that what a master must carry is written once.
func pgMasterSecret(pg *pgtest.Cluster, with map[string]any) string {
	// The master consents to serve db/app (the secret these tests rotate).
	doc := map[string]any{"engine": "postgres", "host": pg.Host, "port": pg.Port, "username": pgMaster,
		"password": pgMasterPassword, "dbname": "postgres", "sslmode": "disable",
		"rotor": map[string]any{"serves": []string{"db/app"}}}
	for k, v := range with {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

type dbCreds struct{ Username, Password string }

func (e *pgEnv) creds(t testing.TB, stage string) dbCreds {
	t.Helper()
	c, _ := readCreds(t, e.h, "db/app", stage)
	return c
}

// readCreds reads the user and password of a database secret's version
// by label, and the version's id.
func readCreds(t testing.TB, h *Host, id, stage string) (dbCreds, string) {
	t.Helper()
	out, err := h.SecretsManager().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatal(err)
	}
	var c dbCreds
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &c); err != nil {
		t.Fatal(err)
	}
	return c, aws.ToString(out.VersionId)
}

func (e *pgEnv) login(c dbCreds) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.pg.DSN(c.Username, c.Password, "postgres"))
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int
	return conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n) == nil && n == 10
}

func (e *pgEnv) rolpassword(t testing.TB, role string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := e.pg.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pw *string
	if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&pw); err != nil {
		t.Fatal(err)
	}
	if pw == nil {
		return ""
	}
	return *pw
}

// TestPostgresBadInput: a wrong master password, an unreachable master
// host, a master without host or with an sslmode that may fall back to
// cleartext, a missing role and malformed secret JSON each fail create with a named
// error at the Lambda boundary, and change nothing in the store or at the
// server.
func TestPostgresBadInput(t *testing.T) {
	e := startPG(t, postgres.Single, "0s", postgres.Name)
	ctx := context.Background()
	sm := e.h.SecretsManager()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	good, _ := json.Marshal(map[string]any{"engine": "postgres", "host": e.pg.Host, "port": e.pg.Port, "username": "app", "password": e.initialPass, "sslmode": "disable"})
	put := func(id, v string) {
		t.Helper()
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	masterOK := pgMasterSecret(e.pg, nil)
	for _, tc := range []struct {
		name, value, master string
		want                rotorerr.Kind
	}{
		{"a wrong master password", string(good), pgMasterSecret(e.pg, map[string]any{"password": "not-the-master-password"}), rotorerr.InvalidInput},
		{"an unreachable master host", string(good), pgMasterSecret(e.pg, map[string]any{"port": closed}), rotorerr.Transient},
		{"a master without host", string(good), pgMasterSecret(e.pg, map[string]any{"host": nil}), rotorerr.InvalidInput},
		{"a master with sslmode prefer", string(good), pgMasterSecret(e.pg, map[string]any{"sslmode": "prefer"}), rotorerr.InvalidInput},
		{"a missing role", strings.Replace(string(good), `"username":"app"`, `"username":"ghost"`, 1), masterOK, rotorerr.InvalidInput},
		{"malformed secret JSON", `{"engine":"postgres","host":`, masterOK, rotorerr.InvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put("db/app", tc.value)
			put("db/master", tc.master)
			beforeVersions := e.versions(t)
			beforePw := e.rolpassword(t, "app")
			payload := `{"secretId":"db/app","token":"5b0c8f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b","provider":"postgres"}`
			_, err := e.h.Server.Lambda.Invoke(ctx, FunctionPrefix+"create", []byte(payload))
			var fe *locallambda.FunctionError
			if !errors.As(err, &fe) || fe.Type != string(tc.want) {
				t.Fatalf("create = %v, want a function error %s", err, tc.want)
			}
			scan(t, "the error", fe.Message, []string{e.initialPass, pgMasterPassword, "not-the-master-password"})
			if after := e.versions(t); after != beforeVersions {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", beforeVersions, after)
			}
			if e.rolpassword(t, "app") != beforePw {
				t.Error("the server's password for app changed")
			}
		})
	}
}

// versions describes the secret's versions and labels.
func (e *pgEnv) versions(t testing.TB) string {
	t.Helper()
	out, err := e.h.SecretsManager().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("db/app")})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(out.VersionIdsToStages))
	for k, v := range out.VersionIdsToStages {
		keys = append(keys, k+"="+strings.Join(v, ","))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

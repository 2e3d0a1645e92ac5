package rotorlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider"
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
	out, err := e.h.SecretsManager().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String("db/app"), VersionStage: aws.String(stage)})
	if err != nil {
		t.Fatal(err)
	}
	var c dbCreds
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &c); err != nil {
		t.Fatal(err)
	}
	return c
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

// TestPostgresRotation: a full rotation through the state machine on the
// local endpoint against a real server, for both strategies.
func TestPostgresRotation(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		grace    int
	}{{postgres.Single, 0}, {postgres.Alternating, 3}} {
		t.Run(tc.strategy, func(t *testing.T) {
			e := startPG(t, tc.strategy, "0s", postgres.Name)
			old := e.creds(t, "AWSCURRENT")
			arn := e.start(t, "db/app", tc.grace)
			if tc.strategy == postgres.Alternating {
				// Through the grace period the old role keeps working.
				deadline := time.Now().Add(10 * time.Second)
				for e.creds(t, "AWSCURRENT").Username == old.Username {
					if time.Now().After(deadline) {
						t.Fatalf("no switchover: %s", e.history(t, arn))
					}
					time.Sleep(20 * time.Millisecond)
				}
				st, err := e.h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
				if err != nil || st.Status != "RUNNING" {
					t.Fatalf("the rotation is %v (%v) right after switchover; want it in its grace period", st.Status, err)
				}
				if !e.login(old) {
					t.Error("alternating: the old credential stopped working before expire")
				}
			}
			e.wait(t, arn, "SUCCEEDED")
			now := e.creds(t, "AWSCURRENT")
			if now.Password == old.Password {
				t.Fatal("the password did not change")
			}
			if !e.login(now) {
				t.Error("the new credential does not log in")
			}
			if e.login(old) {
				t.Error("the old credential still logs in after expire")
			}
			wantUser := "app"
			if tc.strategy == postgres.Alternating {
				wantUser = "app_clone"
			}
			if now.Username != wantUser {
				t.Errorf("username %q, want %q", now.Username, wantUser)
			}
			if v := e.rolpassword(t, now.Username); !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") {
				t.Errorf("pg_authid.rolpassword of %s: %.14q..., want SCRAM-SHA-256", now.Username, v)
			}
			if strings.Contains(e.pg.Log(), now.Password) {
				t.Error("the server log (log_statement=all) contains the new password")
			}
			secrets := []string{now.Password, old.Password, pgMasterPassword}
			scan(t, "the execution history", e.history(t, arn), secrets)
			scan(t, "the functions' output", e.logs.String(), secrets)
		})
	}
}

// crashy is the postgres provider with a crash injected after ALTER ROLE:
// its Apply applies and then fails, as if the function died before the
// step returned. It also checks, before each apply, that the password is
// already stored as AWSPENDING under the token.
type crashy struct {
	*postgres.Provider
	mu         sync.Mutex
	sm         *secretsmanager.Client
	crashes    int      // how many applies still fail after applying
	applied    []string // every password applied, in order
	violations []string
}

var crashProvider = &crashy{Provider: &postgres.Provider{}}

func init() {
	provider.Register("postgres-crashy", provider.Registration{New: provider.Fixed(crashProvider)})
}

func (c *crashy) Apply(ctx context.Context, req *provider.ApplyRequest) error {
	c.mu.Lock()
	sm := c.sm
	c.mu.Unlock()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(req.SecretID), VersionId: aws.String(req.Token)})
	var v dbCreds
	_ = json.Unmarshal(req.Value, &v)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.violations = append(c.violations, "apply before the version was stored: "+err.Error())
	case aws.ToString(out.SecretString) != string(req.Value):
		c.violations = append(c.violations, "apply of a value that is not the stored one")
	case !slices.Contains(out.VersionStages, "AWSPENDING"):
		c.violations = append(c.violations, fmt.Sprintf("apply of a version labelled %v, not AWSPENDING", out.VersionStages))
	}
	if err := c.Provider.Apply(ctx, req); err != nil {
		return err
	}
	c.applied = append(c.applied, v.Password)
	if c.crashes > 0 {
		c.crashes--
		return rotorerr.New(rotorerr.Transient, "injected: the function died after ALTER ROLE")
	}
	return nil
}

// TestPostgresCrashAfterApply: create fails twice after ALTER ROLE took
// effect; the state machine retries it with the same token, which
// converges on the one password stored as AWSPENDING before any apply.
func TestPostgresCrashAfterApply(t *testing.T) {
	for _, strategy := range []string{postgres.Single, postgres.Alternating} {
		t.Run(strategy, func(t *testing.T) {
			e := startPG(t, strategy, "0s", "postgres-crashy")
			crashProvider.mu.Lock()
			crashProvider.sm, crashProvider.crashes, crashProvider.applied, crashProvider.violations = e.h.SecretsManager(), 2, nil, nil
			crashProvider.mu.Unlock()
			arn := e.start(t, "db/app", 0)
			e.wait(t, arn, "SUCCEEDED")
			now := e.creds(t, "AWSCURRENT")
			crashProvider.mu.Lock()
			applied, violations := slices.Clone(crashProvider.applied), slices.Clone(crashProvider.violations)
			crashProvider.mu.Unlock()
			if len(violations) > 0 {
				t.Errorf("storage order broken: %v", violations)
			}
			if len(applied) != 3 {
				t.Fatalf("%d applies, want 3 (two crashed, one retried to success)", len(applied))
			}
			for i, pw := range applied {
				if pw != now.Password {
					t.Errorf("apply %d set a password other than the stored AWSCURRENT one", i+1)
				}
			}
			if !e.login(now) {
				t.Error("the stored password does not log in")
			}
			if n := strings.Count(e.history(t, arn), `"Type":"LambdaFunctionFailed"`); n != 2 {
				t.Errorf("%d failed function attempts in the history, want the two crashed creates", n)
			}
		})
	}
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

// loadResult is what a rotation run under load measured.
type loadResult struct {
	Queries, Failed, Connections int64
	Rotations                    []time.Duration
	FirstErrors                  []string
	Roles                        map[string]bool
}

// runUnderLoad runs rotations alternating rotations (grace 1 s) of db/app
// while 20 pooled connections query in a loop. The pool opens each
// connection with the secret current at that moment and retires
// connections after 250 ms, well inside the grace period, as an
// application following rotor's advice does.
func runUnderLoad(t testing.TB, rotations int) loadResult {
	e := startPG(t, postgres.Alternating, "1s", postgres.Name)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := pgxpool.ParseConfig(e.pg.DSN("placeholder", "", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = 20, 0
	cfg.MaxConnLifetime, cfg.MaxConnLifetimeJitter = 250*time.Millisecond, 0
	cfg.HealthCheckPeriod = 50 * time.Millisecond
	res := loadResult{Roles: map[string]bool{}}
	var mu sync.Mutex
	var connections, queries, failed atomic.Int64
	cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		c := e.creds(t, "AWSCURRENT")
		cc.User, cc.Password = c.Username, c.Password
		connections.Add(1)
		mu.Lock()
		res.Roles[c.Username] = true
		mu.Unlock()
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var n int
				err := pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n)
				if ctx.Err() != nil {
					return
				}
				queries.Add(1)
				if err != nil || n != 10 {
					failed.Add(1)
					mu.Lock()
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, fmt.Sprint(err))
					}
					mu.Unlock()
				}
			}
		}()
	}
	client := e.h.StepFunctions()
	for i := 0; i < rotations; i++ {
		start := time.Now()
		x, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
			Input: aws.String(`{"secretId":"db/app","trigger":"manual"}`)})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
		status, err := e.h.Server.SFN.Wait(wctx, aws.ToString(x.ExecutionArn))
		wcancel()
		if err != nil || status != "SUCCEEDED" {
			t.Fatalf("rotation %d: %s %v\n%s", i+1, status, err, e.history(t, aws.ToString(x.ExecutionArn)))
		}
		res.Rotations = append(res.Rotations, time.Since(start))
	}
	cancel()
	wg.Wait()
	res.Queries, res.Failed, res.Connections = queries.Load(), failed.Load(), connections.Load()
	return res
}

// TestPostgresUnderLoad: 50 alternating rotations while 20 connections
// query; not one query fails.
func TestPostgresUnderLoad(t *testing.T) {
	res := runUnderLoad(t, 50)
	t.Logf("%d rotations: %d queries, %d failed, %d connections opened, roles %v", len(res.Rotations), res.Queries, res.Failed, res.Connections, res.Roles)
	if res.Failed != 0 {
		t.Errorf("%d of %d queries failed; first errors: %v", res.Failed, res.Queries, res.FirstErrors)
	}
	if !res.Roles["app"] || !res.Roles["app_clone"] || res.Connections < 100 {
		t.Errorf("connections were not re-opened with the current secret: %d opened, roles %v", res.Connections, res.Roles)
	}
	if res.Queries < 1000 {
		t.Errorf("only %d queries ran: the load did not load", res.Queries)
	}
}

func percentile(d []time.Duration, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100].Microseconds()) / 1000
}

// BenchmarkPostgresRotation: complete rotations (grace 0) of a PostgreSQL
// role through the state machine on the local endpoint, in-process
// functions, against a real server: StartExecution to SUCCEEDED.
func BenchmarkPostgresRotation(b *testing.B) {
	for _, strategy := range []string{postgres.Single, postgres.Alternating} {
		b.Run(strategy, func(b *testing.B) {
			e := startPG(b, strategy, "0s", postgres.Name)
			client := e.h.StepFunctions()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				x, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
					Input: aws.String(`{"secretId":"db/app","trigger":"manual","gracePeriodSeconds":0}`)})
				if err != nil {
					b.Fatal(err)
				}
				if status, err := e.h.Server.SFN.Wait(context.Background(), aws.ToString(x.ExecutionArn)); err != nil || status != "SUCCEEDED" {
					b.Fatalf("rotation %d: %s %v", i, status, err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(percentile(lat, 50), "p50-ms")
			b.ReportMetric(percentile(lat, 99), "p99-ms")
		})
	}
}

// BenchmarkPostgresUnderLoad: 50 alternating rotations (grace 1 s) while 20
// pooled connections query in a loop (see runUnderLoad). Reports the
// queries run and failed, and the rotations' latency under that load (grace
// period included). Run with -benchtime=1x.
func BenchmarkPostgresUnderLoad(b *testing.B) {
	var res loadResult
	for i := 0; i < b.N; i++ {
		res = runUnderLoad(b, 50)
	}
	if res.Failed != 0 {
		b.Errorf("%d queries failed: %v", res.Failed, res.FirstErrors)
	}
	b.ReportMetric(float64(res.Queries), "queries")
	b.ReportMetric(float64(res.Failed), "failed")
	b.ReportMetric(float64(res.Connections), "connections")
	b.ReportMetric(percentile(res.Rotations, 50), "rotation-p50-ms")
	b.ReportMetric(percentile(res.Rotations, 99), "rotation-p99-ms")
}

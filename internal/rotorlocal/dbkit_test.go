package rotorlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
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

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// dbKit is one real database server for the state-machine tests of the
// database providers: how to make accounts on it and check a login,
// independently of the provider, and what the server logged. Every test
// of this file runs against every kit.
type dbKit interface {
	// name is the registered provider.
	name() string
	// value is a secret value in the provider's layout for an account on
	// this server (a master's or a consumer's); extra fields are merged.
	value(user, password string, extra map[string]any) string
	// newMaster makes an account that may administer others and itself.
	newMaster(t testing.TB, user, password string)
	// newUser makes a consumer's account, which may run query.
	newUser(t testing.TB, user, password string)
	// login reports whether user/password logs in and may run a query.
	login(user, password string) bool
	// serverLog is what the server recorded of the commands it ran.
	serverLog(t testing.TB) string
	// pool is a consumer's connection pool of size connections: each new
	// connection logs in with the value current() returns at that moment
	// and is retired after lifetime, as rotor's README advises.
	pool(t testing.TB, size int, lifetime time.Duration, current func() dbCreds) kitPool
}

// kitStrategy is a strategy of a managed secret.
type kitStrategy struct {
	name string
	// keepsOld: the old credential works through the grace period.
	keepsOld bool
}

// kitPool is a pool of a consumer's connections.
type kitPool interface {
	// query runs one query on a pooled connection.
	query(ctx context.Context) error
	// opened is how many connections it opened, and as whom.
	opened() (int, map[string]bool)
	close()
}

// kits are the database providers these tests run against, with the
// strategies of their managed secrets.
var kits = []struct {
	name       string
	strategies []kitStrategy
	start      func(testing.TB) dbKit
}{
	{"postgres", []kitStrategy{{"single", false}, {"alternating", true}}, newPGKit},
	{"mysql", []kitStrategy{{"single", false}, {"alternating", true}}, newMySQLKit},
	{"redis", []kitStrategy{{"multi-password", true}}, newRedisKit},
}

// pgKit is a PostgreSQL server (log_statement=all).
type pgKit struct{ pg *pgtest.Cluster }

func newPGKit(t testing.TB) dbKit { return &pgKit{pg: pgtest.Start(t, pgtest.Options{})} }

func (k *pgKit) name() string { return "postgres" }

func (k *pgKit) value(user, password string, extra map[string]any) string {
	doc := map[string]any{"engine": "postgres", "host": k.pg.Host, "port": k.pg.Port, "username": user,
		"password": password, "dbname": "postgres", "sslmode": "disable"}
	for f, v := range extra {
		doc[f] = v
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func (k *pgKit) newMaster(t testing.TB, user, password string) {
	k.pg.Exec(t, "CREATE ROLE "+user+" WITH LOGIN CREATEROLE PASSWORD '"+password+"' IN ROLE pg_signal_backend")
}

func (k *pgKit) newUser(t testing.TB, user, password string) {
	k.pg.Exec(t, "CREATE ROLE "+user+" WITH LOGIN PASSWORD '"+password+"'")
}

func (k *pgKit) login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, k.pg.DSN(user, password, "postgres"))
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&n) == nil && n == 1
}

func (k *pgKit) serverLog(testing.TB) string { return k.pg.Log() }

type pgPool struct {
	*pgxpool.Pool
	counter
}

// counter counts the connections a pool opened, by user.
type counter struct {
	mu    sync.Mutex
	n     int
	users map[string]bool
}

func (c *counter) add(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.users == nil {
		c.users = map[string]bool{}
	}
	c.users[user] = true
}

func (c *counter) opened() (int, map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	users := map[string]bool{}
	for u := range c.users {
		users[u] = true
	}
	return c.n, users
}

func (k *pgKit) pool(t testing.TB, size int, lifetime time.Duration, current func() dbCreds) kitPool {
	cfg, err := pgxpool.ParseConfig(k.pg.DSN("placeholder", "", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = int32(size), 0
	cfg.MaxConnLifetime, cfg.MaxConnLifetimeJitter = lifetime, 0
	cfg.HealthCheckPeriod = 50 * time.Millisecond
	p := &pgPool{}
	cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		c := current()
		cc.User, cc.Password = c.Username, c.Password
		p.add(c.Username)
		return nil
	}
	if p.Pool, err = pgxpool.NewWithConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pgPool) query(ctx context.Context) error {
	var n int
	if err := p.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("SELECT 1 returned %d", n)
	}
	return nil
}

func (p *pgPool) close() { p.Close() }

// crashing wraps a database provider with a crash injected after Apply:
// it applies and then fails, as if the function died before the step
// returned. It also checks, before each apply, that the value is already
// stored as AWSPENDING under the token (the storage order rule). It is
// registered as "<provider>-crashy" for every kit's provider.
type crashing struct {
	provider.Provider
	mu         sync.Mutex
	sm         *secretsmanager.Client
	crashes    int      // how many applies still fail after applying
	applied    []string // every password applied, in order
	violations []string
}

var crashers = map[string]*crashing{}

func init() {
	for _, name := range []string{"postgres", "mysql", "redis"} {
		inner, err := provider.Lookup(name)
		if err != nil {
			continue // not linked in yet
		}
		c := &crashing{Provider: inner}
		crashers[name] = c
		provider.Register(name+"-crashy", provider.Registration{New: provider.Fixed(c)})
	}
}

// arm sets how many applies crash from now on, for a host's store.
func (c *crashing) arm(sm *secretsmanager.Client, crashes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sm, c.crashes, c.applied, c.violations = sm, crashes, nil, nil
}

// results returns the passwords applied and the order violations seen,
// and disarms.
func (c *crashing) results() ([]string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crashes = 0
	return slices.Clone(c.applied), slices.Clone(c.violations)
}

func (c *crashing) Apply(ctx context.Context, req *provider.ApplyRequest) error {
	c.mu.Lock()
	sm := c.sm
	c.mu.Unlock()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(req.SecretID), VersionId: aws.String(req.Token)})
	var v dbCreds
	_ = json.Unmarshal(req.Value, &v)
	c.mu.Lock()
	switch {
	case err != nil:
		c.violations = append(c.violations, "apply before the version was stored: "+err.Error())
	case aws.ToString(out.SecretString) != string(req.Value):
		c.violations = append(c.violations, "apply of a value that is not the stored one")
	case !slices.Contains(out.VersionStages, "AWSPENDING"):
		c.violations = append(c.violations, fmt.Sprintf("apply of a version labelled %v, not AWSPENDING", out.VersionStages))
	}
	c.mu.Unlock()
	if err := c.Provider.(provider.Applier).Apply(ctx, req); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applied = append(c.applied, v.Password)
	if c.crashes > 0 {
		c.crashes--
		return rotorerr.New(rotorerr.Transient, "injected: the function died after the password was applied")
	}
	return nil
}

// The optional abilities of the wrapped provider, passed through.

func (c *crashing) PasswordPolicy(o provider.Options) (password.Policy, error) {
	return c.Provider.(provider.PasswordUser).PasswordPolicy(o)
}
func (c *crashing) NeedsMaster(o provider.Options) bool { return provider.NeedsMaster(c.Provider, o) }
func (c *crashing) RotatesSelf(o provider.Options) bool { return provider.RotatesSelf(c.Provider, o) }
func (c *crashing) CheckOptions(o provider.Options) error {
	return provider.CheckOptions(c.Provider, o)
}
func (c *crashing) Identify(v []byte, o provider.Options) (*provider.Identity, error) {
	return c.Provider.(provider.Identifier).Identify(v, o)
}

// dbEnv is a deployment with a master secret "db/master" and a managed
// secret "db/app" on a kit's server.
type dbEnv struct {
	*leakEnv
	kit     dbKit
	appPw   string
	initial []string // passwords the test set itself

	mu   sync.Mutex
	seen map[string]bool // every password rotor set that a test (or a pool) read
}

// startDB deploys; waitScale scales the state machine's waits and retry
// intervals (0.01 for tests that only need them to pass, 1 for real time).
func startDB(t testing.TB, kit dbKit, providerName, strategy, grace string, waitScale float64) *dbEnv {
	t.Helper()
	const masterPw = "m4ster-Pw_local.9f2c1b"
	e := &dbEnv{kit: kit, appPw: "initial-App-pw_5e1a7c3d9b"}
	e.initial = []string{masterPw, e.appPw}
	kit.newMaster(t, masterUser, masterPw)
	kit.newUser(t, appUser, e.appPw)
	e.leakEnv = &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(context.Background(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.logs, WaitScale: waitScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String("db/master"), SecretString: aws.String(kit.value(masterUser, masterPw, map[string]any{"rotor": map[string]any{"serves": []string{"db/app"}}})),
			Tags: []smtypes.Tag{tag("rotor:role", "master")}},
		{Name: aws.String("db/app"), SecretString: aws.String(kit.value(appUser, e.appPw, nil)),
			Tags: []smtypes.Tag{tag("rotor:provider", providerName), tag("rotor:strategy", strategy),
				tag("rotor:master-secret", "db/master"), tag("rotor:grace-period", grace)}},
	} {
		if _, err := h.SecretsManager().CreateSecret(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// creds reads a version of db/app by label.
func (e *dbEnv) creds(t testing.TB, stage string) dbCreds {
	t.Helper()
	c, _ := readCreds(t, e.h, "db/app", stage)
	if !slices.Contains(e.initial, c.Password) {
		e.mu.Lock()
		if e.seen == nil {
			e.seen = map[string]bool{}
		}
		e.seen[c.Password] = true
		e.mu.Unlock()
	}
	return c
}

// checkLogs scans the execution histories and the functions' output for
// every password, and the server's own log for every password rotor set.
func (e *dbEnv) checkLogs(t *testing.T, arns ...string) {
	t.Helper()
	e.mu.Lock()
	seen := slices.Collect(maps.Keys(e.seen))
	e.mu.Unlock()
	all := append(slices.Clone(e.initial), seen...)
	for _, arn := range arns {
		scan(t, "the execution history", e.history(t, arn), all)
	}
	scan(t, "the functions' output", e.logs.String(), all)
	if len(seen) == 0 {
		t.Error("no password rotor set to look for in the server's log")
	}
	scan(t, "the server's own log", e.kit.serverLog(t), seen)
}

// TestDatabaseRotation: for each database provider and strategy, a
// rotation through the state machine on the local endpoint: the new
// credential logs in; the old one works through the grace period where the
// strategy keeps it and fails after expire; the server's own log (statement
// log, general query log, MONITOR) holds no password rotor set.
func TestDatabaseRotation(t *testing.T) {
	for _, k := range kits {
		t.Run(k.name, func(t *testing.T) {
			for _, st := range k.strategies {
				t.Run(st.name, func(t *testing.T) {
					kit := k.start(t)
					e := startDB(t, kit, kit.name(), st.name, "0s", 0.01)
					old := e.creds(t, "AWSCURRENT")
					grace := 0
					if st.keepsOld {
						grace = 300 // seconds, scaled by WaitScale 0.01 to 3 s
					}
					arn := e.start(t, "db/app", grace)
					if st.keepsOld {
						deadline := time.Now().Add(10 * time.Second)
						for e.creds(t, "AWSCURRENT").Password == old.Password {
							if time.Now().After(deadline) {
								t.Fatalf("no switchover: %s", e.history(t, arn))
							}
							time.Sleep(20 * time.Millisecond)
						}
						st, err := e.h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
						if err != nil || st.Status != "RUNNING" {
							t.Fatalf("the rotation is %v (%v) right after switchover; want it in its grace period", st.Status, err)
						}
						if !kit.login(old.Username, old.Password) {
							t.Error("the old credential stopped working before expire")
						}
					}
					e.wait(t, arn, "SUCCEEDED")
					now := e.creds(t, "AWSCURRENT")
					if now.Password == old.Password {
						t.Fatal("the password did not change")
					}
					if !kit.login(now.Username, now.Password) {
						t.Error("the new credential does not log in")
					}
					if kit.login(old.Username, old.Password) {
						t.Error("the old credential still logs in after expire")
					}
					e.checkLogs(t, arn)
				})
			}
		})
	}
}

// TestDatabaseCrashAfterApply: create fails twice after the password was
// applied at the server; the state machine retries it with the same
// token, which converges on the one password stored as AWSPENDING before
// any apply.
func TestDatabaseCrashAfterApply(t *testing.T) {
	for _, k := range kits {
		t.Run(k.name, func(t *testing.T) {
			for _, st := range k.strategies {
				t.Run(st.name, func(t *testing.T) {
					kit := k.start(t)
					c := crashers[kit.name()]
					e := startDB(t, kit, kit.name()+"-crashy", st.name, "0s", 0.01)
					c.arm(e.h.SecretsManager(), 2)
					arn := e.start(t, "db/app", 0)
					e.wait(t, arn, "SUCCEEDED")
					now := e.creds(t, "AWSCURRENT")
					applied, violations := c.results()
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
					if !kit.login(now.Username, now.Password) {
						t.Error("the stored password does not log in")
					}
					if n := strings.Count(e.history(t, arn), `"Type":"LambdaFunctionFailed"`); n != 2 {
						t.Errorf("%d failed function attempts in the history, want the two crashed creates", n)
					}
					e.checkLogs(t, arn)
				})
			}
		})
	}
}

// loadResult is what a rotation run under load measured.
type loadResult struct {
	Queries, Failed int64
	Connections     int
	Rotations       []time.Duration
	FirstErrors     []string
	Users           map[string]bool
}

// loadRotations is how many rotations TestDatabaseUnderLoad runs; `make
// bench` runs BenchmarkDatabaseUnderLoad with 50.
const loadRotations = 10

// runUnderLoad runs rotations of db/app with a strategy that keeps the old
// credential (grace 1 s) while 20 pooled connections query in a loop. The
// pool opens each connection with the secret current at that moment and
// retires connections after 250 ms, well inside the grace period, as an
// application following rotor's advice does.
func runUnderLoad(t testing.TB, kit dbKit, strategy string, rotations int) loadResult {
	// Real time: the grace period is the point.
	e := startDB(t, kit, kit.name(), strategy, "1s", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := kit.pool(t, 20, 250*time.Millisecond, func() dbCreds { return e.creds(t, "AWSCURRENT") })
	defer pool.close()
	res := loadResult{}
	var mu sync.Mutex
	var queries, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := pool.query(ctx)
				if ctx.Err() != nil {
					return
				}
				queries.Add(1)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, err.Error())
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
	res.Queries, res.Failed = queries.Load(), failed.Load()
	res.Connections, res.Users = pool.opened()
	return res
}

// TestDatabaseUnderLoad: rotations of every strategy that keeps the old
// credential through the grace period, while 20 connections query; not
// one query fails.
func TestDatabaseUnderLoad(t *testing.T) {
	for _, k := range kits {
		t.Run(k.name, func(t *testing.T) {
			for _, st := range k.strategies {
				if !st.keepsOld {
					continue
				}
				t.Run(st.name, func(t *testing.T) {
					res := runUnderLoad(t, k.start(t), st.name, loadRotations)
					t.Logf("%d rotations: %d queries, %d failed, %d connections opened as %v", len(res.Rotations), res.Queries, res.Failed, res.Connections, res.Users)
					if res.Failed != 0 {
						t.Errorf("%d of %d queries failed; first errors: %v", res.Failed, res.Queries, res.FirstErrors)
					}
					if res.Connections < 2*loadRotations {
						t.Errorf("connections were not re-opened with the current secret: %d opened", res.Connections)
					}
					if res.Queries < 100 {
						t.Errorf("only %d queries ran: the load did not load", res.Queries)
					}
				})
			}
		})
	}
}

// BenchmarkDatabaseUnderLoad: 50 rotations (grace 1 s) of every strategy
// that keeps the old credential, while 20 pooled connections query in a
// loop (see runUnderLoad). Reports the queries run and failed, and the
// rotations' latency under that load (grace period included). Run with
// -benchtime=1x.
func BenchmarkDatabaseUnderLoad(b *testing.B) {
	for _, k := range kits {
		for _, st := range k.strategies {
			if !st.keepsOld {
				continue
			}
			b.Run(k.name+"/"+st.name, func(b *testing.B) {
				var res loadResult
				for i := 0; i < b.N; i++ {
					res = runUnderLoad(b, k.start(b), st.name, 50)
				}
				if res.Failed != 0 {
					b.Errorf("%d queries failed: %v", res.Failed, res.FirstErrors)
				}
				b.ReportMetric(float64(res.Queries), "queries")
				b.ReportMetric(float64(res.Failed), "failed")
				b.ReportMetric(float64(res.Connections), "connections")
				b.ReportMetric(percentile(res.Rotations, 50), "rotation-p50-ms")
				b.ReportMetric(percentile(res.Rotations, 99), "rotation-p99-ms")
			})
		}
	}
}

// BenchmarkDatabaseRotation: complete rotations (grace 0) of each database
// provider and strategy through the state machine on the local endpoint,
// in-process functions, against a real server: StartExecution to
// SUCCEEDED.
func BenchmarkDatabaseRotation(b *testing.B) {
	for _, k := range kits {
		for _, st := range k.strategies {
			b.Run(k.name+"/"+st.name, func(b *testing.B) {
				e := startDB(b, k.start(b), k.name, st.name, "0s", 1)
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
}

// percentile is the p-th percentile of d in milliseconds.
func percentile(d []time.Duration, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100].Microseconds()) / 1000
}

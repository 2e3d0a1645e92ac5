package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/httpapi"
	_ "github.com/rotorhq/rotor/internal/provider/random"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/smstore"
)

const (
	masterKey  = "mk_live_4e1f0a9b8c7d6e5f4a3b2c1d"
	masterName = "rotor/masters/keyservice"
	apiSecret  = "billing/api-key"
	rndSecret  = "app/session-key"
	t0         = "2026-11-26T09:00:00Z"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one rotor deployment in a test: the label-semantics store, a live
// key API, the five functions' handlers, and every byte they exchanged.
// timeSource is the test clock: the harness's own, or the ASL engine's
// virtual clock when a test runs the state machine.
type timeSource interface {
	Now() time.Time
	Advance(time.Duration)
}

type env struct {
	t      testing.TB
	clock  timeSource
	store  *smstore.Store
	ks     *keyservice.Server
	srv    *httptest.Server
	faults *faults
	svc    *rotation.Service

	rejectNew      atomic.Bool  // the key API refuses every key but the initial one
	failMints      atomic.Int32 // the key API answers 503 to this many mint requests
	rejectVerifies atomic.Int32 // the key API answers 401 to this many whoami requests
	refuseLists    atomic.Bool  // the key API answers 403 to every list
	initial        keyservice.Key

	mu         sync.Mutex
	logs       bytes.Buffer
	transcript []string // payloads in and out, error messages
}

func newEnv(t testing.TB) *env {
	start, _ := time.Parse(time.RFC3339, t0)
	return newEnvAt(t, &clock{now: start})
}

func newEnvAt(t testing.TB, clk timeSource) *env {
	t.Helper()
	e := &env{t: t, clock: clk, faults: &faults{}}
	e.store = smstore.New(smstore.Options{Now: e.clock.Now})
	e.ks = keyservice.New(masterKey)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/keys" && e.failMints.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v1/keys" && e.refuseLists.Load() {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.URL.Path == "/v1/whoami" && e.rejectVerifies.Add(-1) >= 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if e.rejectNew.Load() && r.URL.Path == "/v1/whoami" && r.Header.Get("Authorization") != "Bearer "+e.initial.Secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		e.ks.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	api := &httpapi.Provider{Client: &http.Client{Transport: &faultyTransport{f: e.faults, next: http.DefaultTransport}}}
	e.svc = &rotation.Service{
		SM:    &faultySM{f: e.faults, next: e.store},
		Now:   e.clock.Now,
		Pages: &rotation.MemoryPages{},
		Providers: func(name string) (provider.Provider, error) {
			if name == httpapi.Name {
				return api, nil
			}
			return provider.Lookup(name)
		},
		Log: slog.New(redact.Handler(slog.NewJSONHandler(&lockedWriter{e: e}, nil))),
		// EMF lines join the logs, so that every hygiene scan covers them.
		Metrics: metrics.New(&lockedWriter{e: e}, e.clock.Now),
	}
	e.initial = e.ks.Mint("initial")
	e.createSecret(masterName, e.ks.HTTPAPIConfig(e.srv.URL, keyservice.Serves(apiSecret, "svc/*"), keyservice.RevokeUnminted()), map[string]string{"rotor:role": "master"})
	cur, _ := json.Marshal(map[string]string{"apiKey": e.initial.Secret, "keyId": e.initial.ID, "owner": "billing"})
	e.createSecret(apiSecret, string(cur), map[string]string{
		"rotor:provider": "httpapi", "rotor:master-secret": masterName, "rotor:grace-period": "1h"})
	e.createSecret(rndSecret, "initial-session-key-aaaaaaaaaaaaaaaaaaaaa", map[string]string{
		"rotor:provider": "random", "rotor:random:length": "48"})
	return e
}

type lockedWriter struct{ e *env }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

func (e *env) createSecret(name, value string, tags map[string]string) {
	e.t.Helper()
	in := &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := e.store.CreateSecret(context.Background(), in); err != nil {
		e.t.Fatalf("CreateSecret %s: %v", name, err)
	}
}

func (e *env) record(s string) {
	e.mu.Lock()
	e.transcript = append(e.transcript, s)
	e.mu.Unlock()
}

// invoke runs a function's handler in-process through aws-lambda-go's own
// JSON path, as the Lambda runtime would.
func (e *env) invoke(fn string, payload any) (map[string]any, *messages.InvokeResponse_Error) {
	e.t.Helper()
	h, err := e.svc.Handler(fn)
	if err != nil {
		e.t.Fatal(err)
	}
	var in []byte
	switch p := payload.(type) {
	case []byte:
		in = p
	case string:
		in = []byte(p)
	default:
		in, _ = json.Marshal(p)
	}
	e.record(string(in))
	out, err := lambda.NewHandler(h).Invoke(context.Background(), in)
	if err != nil {
		var ie messages.InvokeResponse_Error
		if !errors.As(err, &ie) {
			e.t.Fatalf("%s returned %T, not a mapped InvokeResponse_Error", fn, err)
		}
		e.record(ie.Message)
		return nil, &ie
	}
	e.record(string(out))
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		e.t.Fatalf("%s output is not a JSON object", fn)
	}
	return m, nil
}

// must invokes and fails the test on an error.
func (e *env) must(fn string, payload any) map[string]any {
	e.t.Helper()
	out, ierr := e.invoke(fn, payload)
	if ierr != nil {
		e.t.Fatalf("%s: %s: %s", fn, ierr.Type, ierr.Message)
	}
	return out
}

// run is one item's rotation as the state machine runs it (without the
// wait): create, switchover, verify, expire; cleanup after a failed create,
// rollback after a failed switchover or verify.
type run struct {
	item              map[string]any
	token, previous   string
	failedAt, errType string
}

func (e *env) resolve(input string) []map[string]any {
	e.t.Helper()
	return e.planItems(e.must(rotation.FuncResolve, input))
}

// planItems returns a plan's items: the inline one, or each stored page's,
// read as child executions read them.
func (e *env) planItems(plan map[string]any) []map[string]any {
	e.t.Helper()
	var items []map[string]any
	inline, _ := plan["items"].([]any)
	for _, it := range inline {
		items = append(items, it.(map[string]any))
	}
	pages, _ := plan["pages"].([]any)
	for _, p := range pages {
		page := p.(map[string]any)
		for i := 0; i < int(page["count"].(float64)); i++ {
			items = append(items, e.must(rotation.FuncResolve, map[string]any{"planned": map[string]any{
				"plan": page["plan"], "page": page["index"], "index": i}}))
		}
	}
	return items
}

func step(item map[string]any, token string, extra ...any) map[string]any {
	p := map[string]any{"secretId": item["secretId"], "token": token, "provider": item["provider"]}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return p
}

func (e *env) rotateItem(item map[string]any) *run {
	r := &run{item: item, token: uuid.NewString()}
	if item["mode"] == rotation.ModeRevoke {
		if _, ierr := e.invoke(rotation.FuncExpire, step(item, r.token, "action", "revoke", "mode", item["mode"], "versions", item["leakedVersions"])); ierr != nil {
			r.failedAt, r.errType = "revoke", ierr.Type
		}
		return r
	}
	out, ierr := e.invoke(rotation.FuncCreate, step(item, r.token, "mode", item["mode"]))
	if ierr != nil {
		r.failedAt, r.errType = "create", ierr.Type
		e.must(rotation.FuncExpire, step(item, r.token, "action", "cleanup"))
		return r
	}
	r.previous = out["previousVersionId"].(string)
	for _, fn := range []string{rotation.FuncSwitchOver, rotation.FuncVerify} {
		if _, ierr := e.invoke(fn, step(item, r.token, "previousVersionId", r.previous)); ierr != nil {
			r.failedAt, r.errType = fn, ierr.Type
			e.must(rotation.FuncExpire, step(item, r.token, "action", "rollback", "previousVersionId", r.previous))
			return r
		}
	}
	if g, _ := item["gracePeriodSeconds"].(float64); g > 0 {
		e.clock.Advance(time.Duration(g) * time.Second)
	}
	if _, ierr := e.invoke(rotation.FuncExpire, step(item, r.token, "action", "expire", "previousVersionId", r.previous, "mode", item["mode"], "versions", item["leakedVersions"])); ierr != nil {
		r.failedAt, r.errType = "expire", ierr.Type
	}
	return r
}

func (e *env) rotate(input string) *run {
	e.t.Helper()
	items := e.resolve(input)
	if len(items) != 1 {
		e.t.Fatalf("resolve planned %d items, want 1", len(items))
	}
	return e.rotateItem(items[0])
}

// stages returns the labelled versions of a secret, read from the store
// directly (no faults).
func (e *env) stages(name string) map[string][]string {
	e.t.Helper()
	out, err := e.store.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ls := range out.VersionIdsToStages {
		sort.Strings(ls)
	}
	return out.VersionIdsToStages
}

func (e *env) holder(name, label string) string {
	for v, ls := range e.stages(name) {
		for _, l := range ls {
			if l == label {
				return v
			}
		}
	}
	return ""
}

func (e *env) value(name, version string) string {
	e.t.Helper()
	in := &sm.GetSecretValueInput{SecretId: aws.String(name)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := e.store.GetSecretValue(context.Background(), in)
	if err != nil {
		e.t.Fatalf("GetSecretValue %s %s: %v", name, version, err)
	}
	return aws.ToString(out.SecretString)
}

func field(v, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(v), &m)
	s, _ := m[name].(string)
	return s
}

// allValues returns every value of every version of every secret,
// deprecated versions included.
func (e *env) allValues() []string {
	e.t.Helper()
	ctx := context.Background()
	var vals []string
	list, err := e.store.ListSecrets(ctx, &sm.ListSecretsInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range list.SecretList {
		vs, err := e.store.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: s.ARN, IncludeDeprecated: aws.Bool(true)})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, v := range vs.Versions {
			vals = append(vals, e.value(aws.ToString(s.Name), aws.ToString(v.VersionId)))
		}
	}
	return vals
}

// unrecorded returns the ids of live keys at the key API that no version of
// any secret records: the invariant is that there are none.
func (e *env) unrecorded() []string {
	e.t.Helper()
	recorded := map[string]bool{}
	for _, v := range e.allValues() {
		if k := field(v, "apiKey"); k != "" {
			recorded[k] = true
		}
	}
	var out []string
	for _, k := range e.ks.Live() {
		if !recorded[k.Secret] {
			out = append(out, k.ID)
		}
	}
	return out
}

// secrets returns every secret value the test created: keys the API minted,
// the master key, and every stored value.
func (e *env) secrets() []string {
	s := append([]string{masterKey}, e.ks.Minted()...)
	for _, v := range e.allValues() {
		s = append(s, v)
		for _, f := range []string{"apiKey"} {
			if k := field(v, f); k != "" {
				s = append(s, k)
			}
		}
	}
	return s
}

// checkHygiene scans every payload, log line and error message for every
// secret value.
func (e *env) checkHygiene() {
	e.t.Helper()
	e.mu.Lock()
	texts := append(append([]string{}, e.transcript...), e.logs.String())
	e.mu.Unlock()
	hits := 0
	for _, s := range e.secrets() {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				hits++
				e.t.Errorf("a secret value (%d bytes) appears in a payload, log line or error", len(s))
			}
		}
	}
	if hits == 0 && len(texts) < 2 {
		e.t.Error("hygiene scan saw nothing to scan")
	}
}

func (e *env) snapshot() []byte {
	e.t.Helper()
	b, err := e.store.Snapshot()
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// faults injects a failure into the k-th external call (Secrets Manager or
// the key API) after the call took effect. In crash mode every later call of
// the same invocation fails too, without effect, as if the process died.
type faults struct {
	mu      sync.Mutex
	armed   int
	crash   bool
	resend  bool // the SDK resends the request whose answer was lost
	count   int
	tripped bool
	ops     map[string]int // calls per operation, faults or not
}

// calls returns how often op was called.
func (f *faults) calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops[op]
}

func (f *faults) arm(k int, crash bool) {
	f.mu.Lock()
	f.armed, f.crash, f.resend, f.count, f.tripped = k, crash, false, 0, false
	f.mu.Unlock()
}

// armResend makes the k-th call's answer be lost and the AWS SDK resend the
// same request, as its retryer does on a connection reset: the caller sees
// the second answer only.
func (f *faults) armResend(k int) {
	f.mu.Lock()
	f.armed, f.crash, f.resend, f.count, f.tripped = k, false, true, 0, false
	f.mu.Unlock()
}

func (f *faults) resending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resend
}

func (f *faults) disarm() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tripped
	f.armed, f.tripped = 0, false
	return t
}

// dead reports whether a crashed invocation's calls must fail before acting.
func (f *faults) dead() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armed > 0 && f.crash && f.tripped
}

// lose counts a call that took effect and reports whether its response is lost.
func (f *faults) lose() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed == 0 {
		return false
	}
	f.count++
	if f.count == f.armed {
		f.tripped = true
		return true
	}
	return false
}

func lostResponse(op string) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: op,
		Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
}

type faultySM struct {
	f    *faults
	next *smstore.Store
}

func faulty[I, O any](f *faults, op string, fn func(context.Context, I, ...func(*sm.Options)) (O, error), ctx context.Context, in I) (O, error) {
	var zero O
	f.mu.Lock()
	if f.ops == nil {
		f.ops = map[string]int{}
	}
	f.ops[op]++
	f.mu.Unlock()
	if f.dead() {
		return zero, lostResponse(op)
	}
	out, err := fn(ctx, in)
	if f.lose() {
		if f.resending() {
			return fn(ctx, in)
		}
		return zero, lostResponse(op)
	}
	return out, err
}

func (s *faultySM) DescribeSecret(ctx context.Context, in *sm.DescribeSecretInput, _ ...func(*sm.Options)) (*sm.DescribeSecretOutput, error) {
	return faulty(s.f, "DescribeSecret", s.next.DescribeSecret, ctx, in)
}
func (s *faultySM) GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, _ ...func(*sm.Options)) (*sm.GetSecretValueOutput, error) {
	return faulty(s.f, "GetSecretValue", s.next.GetSecretValue, ctx, in)
}
func (s *faultySM) PutSecretValue(ctx context.Context, in *sm.PutSecretValueInput, _ ...func(*sm.Options)) (*sm.PutSecretValueOutput, error) {
	return faulty(s.f, "PutSecretValue", s.next.PutSecretValue, ctx, in)
}
func (s *faultySM) UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, _ ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error) {
	return faulty(s.f, "UpdateSecretVersionStage", s.next.UpdateSecretVersionStage, ctx, in)
}
func (s *faultySM) ListSecretVersionIds(ctx context.Context, in *sm.ListSecretVersionIdsInput, _ ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error) {
	return faulty(s.f, "ListSecretVersionIds", s.next.ListSecretVersionIds, ctx, in)
}
func (s *faultySM) ListSecrets(ctx context.Context, in *sm.ListSecretsInput, _ ...func(*sm.Options)) (*sm.ListSecretsOutput, error) {
	return faulty(s.f, "ListSecrets", s.next.ListSecrets, ctx, in)
}
func (s *faultySM) TagResource(ctx context.Context, in *sm.TagResourceInput, _ ...func(*sm.Options)) (*sm.TagResourceOutput, error) {
	return faulty(s.f, "TagResource", s.next.TagResource, ctx, in)
}
func (s *faultySM) UntagResource(ctx context.Context, in *sm.UntagResourceInput, _ ...func(*sm.Options)) (*sm.UntagResourceOutput, error) {
	return faulty(s.f, "UntagResource", s.next.UntagResource, ctx, in)
}

type faultyTransport struct {
	f    *faults
	next http.RoundTripper
}

func (t *faultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.f.dead() {
		return nil, fmt.Errorf("connection refused (injected crash)")
	}
	resp, err := t.next.RoundTrip(r)
	if t.f.lose() {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("connection reset by peer (injected lost response)")
	}
	return resp, err
}

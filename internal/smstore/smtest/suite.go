// Package smtest is the one conformance suite of rotor's Secrets Manager:
// the rules of the service that rotor relies on, written once as tables of
// cases and run against every implementation of them, the in-memory
// smstore.Store (called directly) and the local endpoint of localaws (called
// through the AWS SDK over HTTP).
//
// Contract: Run runs every case against a fresh implementation made by the
// Harness, with the suite's own fake clock, region and account (Config).
// Each case is a t.Run leaf that compares results with cmp.Diff and errors
// with errors.As against the SDK's typed errors (*types.ResourceNotFoundException
// and the like), which both implementations return; an error must also
// never contain a secret value (every value the suite writes contains
// "s3cr3t"). After each case the suite checks, through the API, that each
// staging label is on at most one version and that AWSCURRENT exists exactly
// when a secret has versions; Harness.Check may look further inside.
//
// What is specific to one implementation stays beside it: the store's
// snapshot format, fuzzing and aliasing; the endpoint's wire protocol,
// quotas, faults and crash durability.
package smtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// API is the part of Secrets Manager the suite drives: the methods of
// rotation.SecretsManager plus those that create, delete and restore
// secrets. *secretsmanager.Client and *smstore.Store both satisfy it.
type API interface {
	CreateSecret(context.Context, *sm.CreateSecretInput, ...func(*sm.Options)) (*sm.CreateSecretOutput, error)
	DescribeSecret(context.Context, *sm.DescribeSecretInput, ...func(*sm.Options)) (*sm.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *sm.PutSecretValueInput, ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *sm.UpdateSecretVersionStageInput, ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
	ListSecretVersionIds(context.Context, *sm.ListSecretVersionIdsInput, ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error)
	ListSecrets(context.Context, *sm.ListSecretsInput, ...func(*sm.Options)) (*sm.ListSecretsOutput, error)
	TagResource(context.Context, *sm.TagResourceInput, ...func(*sm.Options)) (*sm.TagResourceOutput, error)
	UntagResource(context.Context, *sm.UntagResourceInput, ...func(*sm.Options)) (*sm.UntagResourceOutput, error)
	DeleteSecret(context.Context, *sm.DeleteSecretInput, ...func(*sm.Options)) (*sm.DeleteSecretOutput, error)
	RestoreSecret(context.Context, *sm.RestoreSecretInput, ...func(*sm.Options)) (*sm.RestoreSecretOutput, error)
}

var _ API = (*sm.Client)(nil)

// Config is what the Harness must build each implementation with: the
// expected outputs (ARNs, dates) are computed from it.
type Config struct {
	Region  string
	Account string
	// Now is the suite's fake clock; every date the implementation records
	// must come from it. The suite moves it between calls.
	Now func() time.Time
}

// Harness says how to make the implementation under test.
type Harness struct {
	// New starts an empty implementation built with cfg for one case; it
	// must stop it when the test ends (t.Cleanup).
	New func(t *testing.T, cfg Config) API
	// Restartable, when set, is New for the cases about a restart: restart
	// stops the implementation and starts it again, with the same Config,
	// on the data it kept, and returns the new API. Without it those cases
	// are skipped.
	Restartable func(t *testing.T, cfg Config) (api API, restart func(t *testing.T) API)
	// Check, when set, runs after every case on the API the case ended
	// with, to check what the API cannot show (a store's inner invariants).
	Check func(t *testing.T, api API)
}

// The suite's Config.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// T0 is the fake clock's start: not a day boundary, with milliseconds.
var T0 = time.Date(2024, 3, 10, 12, 34, 56, 789_000_000, time.UTC)

// Run runs every case of the suite against implementations made by h.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("smtest: Harness.New is nil")
	}
	groups := []struct {
		name  string
		cases func() []testCase
	}{
		{"SecretId", secretIDCases},
		{"Validation", validationCases},
		{"CreateSecret", createCases},
		{"DescribeSecret", describeCases},
		{"GetSecretValue", getCases},
		{"SecretBinary", binaryCases},
		{"PutSecretValue", putCases},
		{"UpdateSecretVersionStage", stageCases},
		{"ListSecretVersionIds", listVersionsCases},
		{"ListSecrets", listSecretsCases},
		{"Tags", tagCases},
		{"DeleteAndRestore", deleteCases},
		{"Timestamps", timestampCases},
		{"Context", contextCases},
		{"Restart", restartCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { runCases(t, h, g.cases()) })
	}
}

// ---- the case runner --------------------------------------------------------

// testCase is one documented rule: setup builds the state, do makes the call
// under test, and either want (compared with cmp.Diff) or wantErr (checked
// with errors.As, and wantMsg against the error's message) describes the
// outcome; after checks the state afterwards.
type testCase struct {
	name    string
	restart bool // needs Harness.Restartable
	setup   func(e *env)
	do      func(e *env) (any, error)
	want    func(e *env) any
	wantErr *errKind
	wantMsg string
	after   func(e *env)
}

func runCases(t *testing.T, h Harness, cases []testCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h, tc.restart)
			if tc.setup != nil {
				tc.setup(e)
			}
			got, err := tc.do(e)
			switch {
			case tc.wantErr != nil:
				checkErr(t, err, tc.wantErr, tc.wantMsg)
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != nil:
				if d := cmp.Diff(tc.want(e), got, cmpOpts); d != "" {
					t.Errorf("result mismatch (-want +got):\n%s", d)
				}
			}
			if tc.after != nil {
				tc.after(e)
			}
			apiInvariants(t, e.api)
			if h.Check != nil {
				h.Check(t, e.api)
			}
		})
	}
}

// clock is the suite's settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is one case's implementation, clock and helpers. Helpers that return
// no error fail the case on one.
type env struct {
	t           *testing.T
	api         API
	clk         *clock
	restartFunc func(t *testing.T) API
}

func newEnv(t *testing.T, h Harness, restart bool) *env {
	t.Helper()
	clk := &clock{t: T0}
	cfg := Config{Region: Region, Account: Account, Now: clk.Now}
	e := &env{t: t, clk: clk}
	if restart {
		if h.Restartable == nil {
			t.Skip("the harness has no Restartable: the implementation keeps no data across a restart")
		}
		e.api, e.restartFunc = h.Restartable(t, cfg)
	} else {
		e.api = h.New(t, cfg)
	}
	return e
}

// restart stops the implementation and starts it again on its data.
func (e *env) restart() {
	e.t.Helper()
	e.api = e.restartFunc(e.t)
}

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// tok returns a valid, recognisable ClientRequestToken (36 characters),
// which becomes the version id.
func tok(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// val returns a secret value; all contain "s3cr3t" so that error messages
// can be checked for leaks.
func val(n int) string { return fmt.Sprintf("s3cr3t-value-%d", n) }

// arnPrefix is the ARN of a secret of the suite's Config without the name.
const arnPrefix = "arn:aws:secretsmanager:" + Region + ":" + Account + ":secret:"

// cmpOpts ignores the SDK's serde markers and result metadata; time.Time
// compares with its Equal method.
var cmpOpts = cmp.Options{
	cmpopts.IgnoreTypes(document.NoSerde{}, middleware.Metadata{}),
	cmpopts.EquateEmpty(),
}

// diff fails the test when want and got differ.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("unexpected error: %v", err)
	}
}

// create makes a secret with value val(n) and version id tok(n).
func (e *env) create(name string, n int) *sm.CreateSecretOutput {
	e.t.Helper()
	out, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name, SecretString: ptr(val(n)), ClientRequestToken: ptr(tok(n))})
	e.must(err)
	return out
}

// createEmpty makes a secret without a value.
func (e *env) createEmpty(name string) *sm.CreateSecretOutput {
	e.t.Helper()
	out, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name})
	e.must(err)
	return out
}

// put adds version tok(n) with value val(n); no stages means VersionStages
// is not given.
func (e *env) put(name string, n int, stages ...string) *sm.PutSecretValueOutput {
	e.t.Helper()
	out, err := e.putErr(name, n, stages...)
	e.must(err)
	return out
}

func (e *env) putErr(name string, n int, stages ...string) (*sm.PutSecretValueOutput, error) {
	in := &sm.PutSecretValueInput{SecretId: &name, SecretString: ptr(val(n)), ClientRequestToken: ptr(tok(n))}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	return e.api.PutSecretValue(ctx, in)
}

// stage calls UpdateSecretVersionStage; version numbers 0 are not given.
func (e *env) stage(name, label string, moveTo, removeFrom int) (*sm.UpdateSecretVersionStageOutput, error) {
	in := &sm.UpdateSecretVersionStageInput{SecretId: &name, VersionStage: &label}
	if moveTo != 0 {
		in.MoveToVersionId = ptr(tok(moveTo))
	}
	if removeFrom != 0 {
		in.RemoveFromVersionId = ptr(tok(removeFrom))
	}
	return e.api.UpdateSecretVersionStage(ctx, in)
}

func (e *env) describe(id string) *sm.DescribeSecretOutput {
	e.t.Helper()
	out, err := e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
	e.must(err)
	return out
}

func (e *env) arn(name string) string {
	e.t.Helper()
	return *e.describe(name).ARN
}

// stages returns DescribeSecret's VersionIdsToStages with version ids
// shortened to their token numbers ("v1", "v2", ...) for readable wants.
func (e *env) stages(name string) map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for id, st := range e.describe(name).VersionIdsToStages {
		out[shortID(id)] = st
	}
	return out
}

// stagesAre checks DescribeSecret's labels of secret "s" afterwards.
func stagesAre(want map[string][]string) func(e *env) {
	return func(e *env) { diff(e.t, "VersionIdsToStages", want, e.stages("s")) }
}

func shortID(id string) string {
	for n := range 1000 {
		if id == tok(n) {
			return fmt.Sprintf("v%d", n)
		}
	}
	return id
}

func (e *env) get(in *sm.GetSecretValueInput) (*sm.GetSecretValueOutput, error) {
	return e.api.GetSecretValue(ctx, in)
}

// del schedules the deletion of a secret; days 0 means the default window.
func (e *env) del(name string, days int64) *sm.DeleteSecretOutput {
	e.t.Helper()
	in := &sm.DeleteSecretInput{SecretId: &name}
	if days > 0 {
		in.RecoveryWindowInDays = &days
	}
	out, err := e.api.DeleteSecret(ctx, in)
	e.must(err)
	return out
}

// versionIDs lists the version ids of a secret, newest first, through the
// SDK's paginator.
func (e *env) versionIDs(name string, deprecated bool) []string {
	e.t.Helper()
	var ids []string
	for _, v := range e.versionEntries(name, deprecated) {
		ids = append(ids, *v.VersionId)
	}
	return ids
}

// versions lists short version ids, each followed by its labels, newest
// first.
func (e *env) versions(name string, deprecated bool) [][]string {
	e.t.Helper()
	var vs [][]string
	for _, v := range e.versionEntries(name, deprecated) {
		vs = append(vs, append([]string{shortID(*v.VersionId)}, v.VersionStages...))
	}
	return vs
}

func (e *env) versionEntries(name string, deprecated bool) []types.SecretVersionsListEntry {
	e.t.Helper()
	var all []types.SecretVersionsListEntry
	p := sm.NewListSecretVersionIdsPaginator(e.api, &sm.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: &deprecated})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		e.must(err)
		all = append(all, out.Versions...)
	}
	return all
}

// errOnly adapts a call's two results to a case's do.
func errOnly[O any](out O, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}

func want(v any) func(*env) any { return func(*env) any { return v } }

func tags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: ptr(kv[i]), Value: ptr(kv[i+1])})
	}
	return out
}

// labels returns n distinct staging labels.
func labels(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "L"+strings.Repeat("x", i))
	}
	return out
}

// ---- errors -------------------------------------------------------------------

type errKind struct {
	code string
	is   func(error) bool
}

func kind[T error]() *errKind {
	var zero T
	code := strings.TrimPrefix(fmt.Sprintf("%T", zero), "*types.")
	return &errKind{code: code, is: func(err error) bool {
		var target T
		return errors.As(err, &target)
	}}
}

var (
	errNotFound       = kind[*types.ResourceNotFoundException]()
	errInvalidParam   = kind[*types.InvalidParameterException]()
	errInvalidRequest = kind[*types.InvalidRequestException]()
	errExists         = kind[*types.ResourceExistsException]()
	errLimit          = kind[*types.LimitExceededException]()
	errNextToken      = kind[*types.InvalidNextTokenException]()
)

// checkErr fails unless err is of kind k, with that error code and a message
// containing msg, and never lets a secret value through.
func checkErr(t *testing.T, err error, k *errKind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", k.code)
	}
	if !k.is(err) {
		t.Fatalf("got error %T (%v), want %s", err, err, k.code)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not a smithy.APIError", err)
	}
	if ae.ErrorCode() != k.code {
		t.Errorf("error code %q, want %q", ae.ErrorCode(), k.code)
	}
	if !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("error message %q does not contain %q", ae.ErrorMessage(), msg)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error message leaks a secret value: %q", err.Error())
	}
}

// apiInvariants checks through the API, on every secret (also those
// scheduled for deletion): each label is on at most one version, every
// labelled version is listed with the same labels, and AWSCURRENT exists
// exactly when the secret has versions.
func apiInvariants(t *testing.T, api API) {
	t.Helper()
	p := sm.NewListSecretsPaginator(api, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("invariants: ListSecrets: %v", err)
			return
		}
		for _, s := range page.SecretList {
			d, err := api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: s.ARN})
			if err != nil {
				t.Errorf("invariants: DescribeSecret %s: %v", *s.Name, err)
				continue
			}
			holder := map[string]string{}
			for vid, st := range d.VersionIdsToStages {
				if len(st) == 0 {
					t.Errorf("invariants: %s: version %s listed without labels", *s.Name, vid)
				}
				for _, l := range st {
					if other, ok := holder[l]; ok {
						t.Errorf("invariants: %s: label %s on %s and %s", *s.Name, l, other, vid)
					}
					holder[l] = vid
				}
			}
			listed := map[string][]string{}
			all := 0
			vp := sm.NewListSecretVersionIdsPaginator(api, &sm.ListSecretVersionIdsInput{SecretId: s.ARN, IncludeDeprecated: ptr(true)})
			for vp.HasMorePages() {
				vs, err := vp.NextPage(ctx)
				if err != nil {
					t.Errorf("invariants: ListSecretVersionIds %s: %v", *s.Name, err)
					break
				}
				all += len(vs.Versions)
				for _, v := range vs.Versions {
					if len(v.VersionStages) > 0 {
						listed[*v.VersionId] = v.VersionStages
					}
				}
			}
			diff(t, "invariants: labelled versions of "+*s.Name+" (DescribeSecret, ListSecretVersionIds)", d.VersionIdsToStages, listed)
			if _, ok := holder["AWSCURRENT"]; ok != (all > 0) {
				t.Errorf("invariants: %s: AWSCURRENT present=%v with %d versions", *s.Name, ok, all)
			}
		}
	}
}

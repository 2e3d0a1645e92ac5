package smstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
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

// t0 is the fake clock's start: not a day boundary, with milliseconds.
var t0 = time.Date(2024, 3, 10, 12, 34, 56, 789_000_000, time.UTC)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// seeded returns a deterministic Options.Rand.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// tok returns a valid, recognisable ClientRequestToken (36 characters).
func tok(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// Secret values all contain "s3cr3t" so tests can check that no error
// message echoes one.
func val(n int) string { return fmt.Sprintf("s3cr3t-value-%d", n) }

var ctx = context.Background()

// cmpOpts ignores the SDK's unexported serde markers and result metadata.
var cmpOpts = cmp.Options{
	cmpopts.IgnoreTypes(document.NoSerde{}, middleware.Metadata{}),
	cmpopts.EquateEmpty(),
}

// env is one test's store, clock and helpers. Helpers named must* fail the
// test on error.
type env struct {
	t   *testing.T
	s   *Store
	clk *fakeClock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &fakeClock{t: t0}
	return &env{t: t, s: New(Options{Now: clk.Now, Rand: seeded(1)}), clk: clk}
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
	out, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name, SecretString: ptr(val(n)), ClientRequestToken: ptr(tok(n))})
	e.must(err)
	return out
}

// createEmpty makes a secret without a value.
func (e *env) createEmpty(name string) *sm.CreateSecretOutput {
	e.t.Helper()
	out, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name})
	e.must(err)
	return out
}

// put adds version tok(n) with value val(n); stages nil means "not given".
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
	return e.s.PutSecretValue(ctx, in)
}

func (e *env) describe(id string) *sm.DescribeSecretOutput {
	e.t.Helper()
	out, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
	e.must(err)
	return out
}

func (e *env) arn(name string) string {
	e.t.Helper()
	return *e.describe(name).ARN
}

// stages returns VersionIdsToStages with version ids shortened to their
// token numbers ("v1", "v2", ...) for readable wants.
func (e *env) stages(name string) map[string][]string {
	e.t.Helper()
	return short(e.describe(name).VersionIdsToStages)
}

func short(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for id, st := range m {
		out[shortID(id)] = st
	}
	return out
}

func shortID(id string) string {
	for n := 0; n < 1000; n++ {
		if id == tok(n) {
			return fmt.Sprintf("v%d", n)
		}
	}
	return id
}

func (e *env) get(in *sm.GetSecretValueInput) (*sm.GetSecretValueOutput, error) {
	return e.s.GetSecretValue(ctx, in)
}

func (e *env) delete(name string, days int64) *sm.DeleteSecretOutput {
	e.t.Helper()
	in := &sm.DeleteSecretInput{SecretId: &name}
	if days > 0 {
		in.RecoveryWindowInDays = &days
	}
	out, err := e.s.DeleteSecret(ctx, in)
	e.must(err)
	return out
}

// ---- error expectations ---------------------------------------------------

type errKind struct {
	name string
	is   func(error) bool
}

func kind[T error]() *errKind {
	var zero T
	return &errKind{name: fmt.Sprintf("%T", zero), is: func(err error) bool {
		var target T
		return errors.As(err, &target)
	}}
}

var errInvalidParam = kind[*types.InvalidParameterException]()

// checkErr fails unless err is of kind k with a message containing msg, and
// never lets a secret value through in a message.
func checkErr(t *testing.T, err error, k *errKind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", k.name)
	}
	if !k.is(err) {
		t.Fatalf("got error %T (%v), want %s", err, err, k.name)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not a smithy.APIError", err)
	}
	if !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("error message %q does not contain %q", ae.ErrorMessage(), msg)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error message leaks a secret value: %q", err.Error())
	}
}

// diff fails the test when want and got differ.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// checkInvariants looks inside the store: each label on at most one version,
// at most 20 labels a version, labels sorted, AWSCURRENT exactly when the
// secret has versions, unique version ids, at most 100 versions unless
// labelled ones force more.
func checkInvariants(t testing.TB, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, sec := range s.secrets {
		if sec.name != name {
			t.Errorf("secret %q is filed under %q", sec.name, name)
		}
		seenLabel := map[string]string{}
		seenID := map[string]bool{}
		labelled := 0
		for _, v := range sec.versions {
			if seenID[v.id] {
				t.Errorf("secret %s: duplicate version id %s", name, v.id)
			}
			seenID[v.id] = true
			if len(v.stages) > maxLabelsPerVersion {
				t.Errorf("secret %s: version %s has %d labels", name, v.id, len(v.stages))
			}
			if !sort.StringsAreSorted(v.stages) {
				t.Errorf("secret %s: version %s labels not sorted: %v", name, v.id, v.stages)
			}
			if len(v.stages) > 0 {
				labelled++
			}
			for _, l := range v.stages {
				if other, ok := seenLabel[l]; ok {
					t.Errorf("secret %s: label %s on versions %s and %s", name, l, other, v.id)
				}
				seenLabel[l] = v.id
			}
			if (v.str == nil) == (len(v.bin) == 0) {
				t.Errorf("secret %s: version %s must have exactly one of string and binary", name, v.id)
			}
		}
		if _, ok := seenLabel[stageCurrent]; ok != (len(sec.versions) > 0) {
			t.Errorf("secret %s: AWSCURRENT present=%v but %d versions", name, ok, len(sec.versions))
		}
		if len(sec.versions) > maxVersions && labelled < len(sec.versions) {
			t.Errorf("secret %s: %d versions, %d labelled: deprecated ones should have been pruned", name, len(sec.versions), labelled)
		}
	}
}

func tags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i < len(kv); i += 2 {
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

func slicesContains(s []string, v string) bool { return slices.Contains(s, v) }

// versionIDs lists the version ids of a secret, newest first.
func (e *env) versionIDs(name string, deprecated bool) []string {
	e.t.Helper()
	var ids []string
	p := sm.NewListSecretVersionIdsPaginator(e.s, &sm.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: &deprecated})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		e.must(err)
		for _, v := range out.Versions {
			ids = append(ids, *v.VersionId)
		}
	}
	return ids
}

// names lists the names of every secret, also those scheduled for deletion.
func (e *env) names() []string {
	e.t.Helper()
	out, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
	e.must(err)
	var ns []string
	for _, s := range out.SecretList {
		ns = append(ns, *s.Name)
	}
	return ns
}

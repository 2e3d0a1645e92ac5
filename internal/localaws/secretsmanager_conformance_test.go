package localaws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.etcd.io/bbolt"

	localsm "github.com/rotorhq/rotor/internal/localaws/secretsmanager"
)

// The Secrets Manager conformance suite drives the server with the real SDK
// client, over HTTP, and checks the behaviour the Secrets Manager API
// reference documents. Every case gets a fresh server and a fake clock.

// smT0 is the fake clock's start: not a day boundary, with milliseconds.
var smT0 = time.Date(2024, 3, 10, 12, 34, 56, 789_000_000, time.UTC)

const smAccount = "123456789012"

var smCtx = context.Background()

// smClock is a settable clock for Options.Now.
type smClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *smClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *smClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// smTok is a recognisable ClientRequestToken, and so version id.
func smTok(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// smVal is a secret value; all contain "s3cr3t" so that error messages can
// be checked for leaks.
func smVal(n int) string { return fmt.Sprintf("s3cr3t-value-%d", n) }

var (
	smUUIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	smARNRE  = regexp.MustCompile(`^(arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)-[A-Za-z0-9]{6}$`)
)

// smMaskARN replaces the random suffix of a well-formed secret ARN with
// XXXXXX; anything else is returned unchanged (and shows in the diff).
func smMaskARN(arn string) string { return smARNRE.ReplaceAllString(arn, "$1-XXXXXX") }

// smCmpOpts ignores the SDK's serde markers and result metadata.
var smCmpOpts = cmp.Options{
	cmpopts.IgnoreTypes(document.NoSerde{}, middleware.Metadata{}),
	cmpopts.EquateEmpty(),
}

// smStart starts a server on loopback; it is closed when the test ends.
func smStart(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, url
}

// smNewClient builds the SDK client a host would, pointed at url.
func smNewClient(t *testing.T, url string, optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(smCtx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")),
	)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	fns := append([]func(*secretsmanager.Options){func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(url) }}, optFns...)
	return secretsmanager.NewFromConfig(cfg, fns...)
}

// smNoRetry is a per-call option for errors the SDK would otherwise retry
// (it counts LimitExceededException as throttling).
func smNoRetry(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

// smEnv is one case's server, clock and client.
type smEnv struct {
	t   *testing.T
	srv *Server
	clk *smClock
	c   *secretsmanager.Client
}

func newSMEnv(t *testing.T) *smEnv {
	t.Helper()
	clk := &smClock{t: smT0}
	srv, url := smStart(t, Options{Account: smAccount, Now: clk.Now})
	return &smEnv{t: t, srv: srv, clk: clk, c: smNewClient(t, url)}
}

func (e *smEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("unexpected error: %v", err)
	}
}

// create makes a secret with value smVal(n) and version id smTok(n).
func (e *smEnv) create(name string, n int) *secretsmanager.CreateSecretOutput {
	e.t.Helper()
	out, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(smVal(n)), ClientRequestToken: aws.String(smTok(n))})
	e.must(err)
	return out
}

func (e *smEnv) createEmpty(name string) {
	e.t.Helper()
	_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name)})
	e.must(err)
}

func (e *smEnv) createTagged(name string, kv ...string) {
	e.t.Helper()
	_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(smVal(0)), Tags: smTags(kv...)})
	e.must(err)
}

// put adds version smTok(n) with value smVal(n); no stages means VersionStages
// is not sent.
func (e *smEnv) put(name string, n int, stages ...string) *secretsmanager.PutSecretValueOutput {
	e.t.Helper()
	out, err := e.putErr(name, n, stages...)
	e.must(err)
	return out
}

func (e *smEnv) putErr(name string, n int, stages ...string) (*secretsmanager.PutSecretValueOutput, error) {
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(smVal(n)), ClientRequestToken: aws.String(smTok(n))}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	return e.c.PutSecretValue(smCtx, in)
}

// stage calls UpdateSecretVersionStage; version numbers 0 are not sent.
func (e *smEnv) stage(name, label string, moveTo, removeFrom int) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(label)}
	if moveTo != 0 {
		in.MoveToVersionId = aws.String(smTok(moveTo))
	}
	if removeFrom != 0 {
		in.RemoveFromVersionId = aws.String(smTok(removeFrom))
	}
	return e.c.UpdateSecretVersionStage(smCtx, in)
}

func (e *smEnv) describe(id string) *secretsmanager.DescribeSecretOutput {
	e.t.Helper()
	out, err := e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	e.must(err)
	return out
}

func (e *smEnv) arn(name string) string {
	e.t.Helper()
	return *e.describe(name).ARN
}

// stages returns DescribeSecret's VersionIdsToStages with version ids
// shortened to "v1", "v2", ...
func (e *smEnv) stages(name string) map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for id, st := range e.describe(name).VersionIdsToStages {
		out[smShort(id)] = st
	}
	return out
}

func (e *smEnv) get(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
	return e.c.GetSecretValue(smCtx, in)
}

// versions lists short version ids and labels, newest first.
func (e *smEnv) versions(name string, deprecated bool) [][]string {
	e.t.Helper()
	out, err := e.c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name), IncludeDeprecated: aws.Bool(deprecated)})
	e.must(err)
	var vs [][]string
	for _, v := range out.Versions {
		vs = append(vs, append([]string{smShort(*v.VersionId)}, v.VersionStages...))
	}
	return vs
}

func (e *smEnv) del(name string, days int64) *secretsmanager.DeleteSecretOutput {
	e.t.Helper()
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(name)}
	if days > 0 {
		in.RecoveryWindowInDays = aws.Int64(days)
	}
	out, err := e.c.DeleteSecret(smCtx, in)
	e.must(err)
	return out
}

func smShort(id string) string {
	for n := range 1000 {
		if id == smTok(n) {
			return fmt.Sprintf("v%d", n)
		}
	}
	return id
}

func smTags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// ---- error expectations ---------------------------------------------------

type smErrKind struct {
	name string
	is   func(error) bool
}

func smKind[T error]() *smErrKind {
	var zero T
	return &smErrKind{name: fmt.Sprintf("%T", zero), is: func(err error) bool {
		var target T
		return errors.As(err, &target)
	}}
}

var (
	smNotFound       = smKind[*types.ResourceNotFoundException]()
	smInvalidParam   = smKind[*types.InvalidParameterException]()
	smInvalidRequest = smKind[*types.InvalidRequestException]()
	smExists         = smKind[*types.ResourceExistsException]()
	smLimit          = smKind[*types.LimitExceededException]()
	smBadNextToken   = smKind[*types.InvalidNextTokenException]()
)

func smCheckErr(t *testing.T, err error, want *smErrKind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want.name)
	}
	if !want.is(err) {
		t.Fatalf("got error %T (%v), want %s", err, err, want.name)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not mention %q", err, msg)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error message leaks a secret value: %v", err)
	}
}

// ---- table runner -----------------------------------------------------------

type smCase struct {
	name    string
	setup   func(e *smEnv)
	do      func(e *smEnv) (any, error)
	want    func(e *smEnv) any // compared with cmp.Diff to do's result
	wantErr *smErrKind
	wantMsg string
	after   func(e *smEnv)
}

func runSMCases(t *testing.T, cases []smCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSMEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			got, err := tc.do(e)
			switch {
			case tc.wantErr != nil:
				smCheckErr(t, err, tc.wantErr, tc.wantMsg)
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != nil:
				if d := cmp.Diff(tc.want(e), got, smCmpOpts); d != "" {
					t.Errorf("result mismatch (-want +got):\n%s", d)
				}
			}
			if tc.after != nil {
				tc.after(e)
			}
		})
	}
}

func smDiff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, smCmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func smWant(v any) func(*smEnv) any { return func(*smEnv) any { return v } }

// smStagesAre checks DescribeSecret's labels afterwards.
func smStagesAre(name string, want map[string][]string) func(e *smEnv) {
	return func(e *smEnv) { smDiff(e.t, "VersionIdsToStages of "+name, want, e.stages(name)) }
}

// smErrOnly adapts a call returning only an error.
func smErrOnly[O any](out O, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ---- CreateSecret -----------------------------------------------------------

func TestSecretsManagerConformanceCreateSecret(t *testing.T) {
	createIn := func(in *secretsmanager.CreateSecretInput) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) { return smErrOnly(e.c.CreateSecret(smCtx, in)) }
	}
	one := func(e *smEnv) { e.create("s", 1) }
	runSMCases(t, []smCase{
		{
			name: "CreateSecret ARN is arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX",
			do: func(e *smEnv) (any, error) {
				out, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("app/db-password"), SecretString: aws.String(smVal(1))})
				if err != nil {
					return nil, err
				}
				return []string{smMaskARN(*out.ARN), *out.Name}, nil
			},
			want: smWant([]string{"arn:aws:secretsmanager:us-east-1:" + smAccount + ":secret:app/db-password-XXXXXX", "app/db-password"}),
			after: func(e *smEnv) {
				// DescribeSecret, GetSecretValue and ListSecrets report the same ARN.
				arn := e.arn("app/db-password")
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db-password")})
				e.must(err)
				l, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
				e.must(err)
				smDiff(e.t, "ARNs", []string{arn, arn}, []string{*g.ARN, *l.SecretList[0].ARN})
			},
		},
		{
			name: "CreateSecret with a value creates version ClientRequestToken labelled AWSCURRENT",
			do:   createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1))}),
			want: func(e *smEnv) any {
				return &secretsmanager.CreateSecretOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), VersionId: aws.String(smTok(1))}
			},
			after: smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name: "CreateSecret without ClientRequestToken gets one from the SDK (a UUID), which becomes the VersionId",
			do: func(e *smEnv) (any, error) {
				out, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1))})
				if err != nil {
					return nil, err
				}
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				if err != nil {
					return nil, err
				}
				return []bool{smUUIDRE.MatchString(aws.ToString(out.VersionId)), *g.VersionId == *out.VersionId}, nil
			},
			want: smWant([]bool{true, true}),
		},
		{
			name: "CreateSecret without SecretString or SecretBinary creates a secret without versions",
			do:   createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s")}),
			want: func(e *smEnv) any {
				return &secretsmanager.CreateSecretOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s")}
			},
			after: func(e *smEnv) {
				smDiff(e.t, "stages", map[string][]string{}, e.stages("s"))
				_, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				smCheckErr(e.t, err, smNotFound, "")
			},
		},
		{
			name: "CreateSecret stores Description, KmsKeyId and Tags, which DescribeSecret returns",
			do: createIn(&secretsmanager.CreateSecretInput{
				Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1)),
				Description: aws.String("the database password"), KmsKeyId: aws.String("alias/rotor"), Tags: smTags("team", "core", "env", "prod"),
			}),
			after: func(e *smEnv) {
				smDiff(e.t, "DescribeSecret", &secretsmanager.DescribeSecretOutput{
					ARN: aws.String(e.arn("s")), Name: aws.String("s"), Description: aws.String("the database password"),
					KmsKeyId: aws.String("alias/rotor"), Tags: smTags("env", "prod", "team", "core"),
					CreatedDate: aws.Time(smT0), LastChangedDate: aws.Time(smT0),
					VersionIdsToStages: map[string][]string{smTok(1): {"AWSCURRENT"}},
				}, e.describe("s"))
			},
		},
		{
			name: "CreateSecret of a name that exists is ResourceExistsException", setup: one,
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(2))}),
			wantErr: smExists,
		},
		{
			name: "CreateSecret retried with the same ClientRequestToken and value is accepted and returns the same version", setup: one,
			do: createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1))}),
			want: func(e *smEnv) any {
				return &secretsmanager.CreateSecretOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), VersionId: aws.String(smTok(1))}
			},
			after: func(e *smEnv) { smDiff(e.t, "versions", [][]string{{"v1", "AWSCURRENT"}}, e.versions("s", true)) },
		},
		{
			name: "CreateSecret retried with the same ClientRequestToken and another value is ResourceExistsException", setup: one,
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(1))}),
			wantErr: smExists,
		},
		{
			name:    "CreateSecret with both SecretString and SecretBinary is InvalidParameterException",
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), SecretBinary: []byte{1}}),
			wantErr: smInvalidParam,
		},
		{
			name:    "CreateSecret with a name outside [A-Za-z0-9/_+=.@-] is InvalidParameterException",
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("has space"), SecretString: aws.String(smVal(1))}),
			wantErr: smInvalidParam,
		},
		{
			name:    "CreateSecret with a ClientRequestToken shorter than 32 characters is InvalidParameterException",
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String("short")}),
			wantErr: smInvalidParam,
		},
		{
			name:    "CreateSecret with AddReplicaRegions is InvalidParameterException (replication is not modelled)",
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("eu-west-1")}}}),
			wantErr: smInvalidParam,
		},
		{
			name: "CreateSecret of a name scheduled for deletion is InvalidRequestException", setup: func(e *smEnv) { one(e); e.del("s", 7) },
			do:      createIn(&secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(2))}),
			wantErr: smInvalidRequest,
		},
	})
}

// ---- DescribeSecret -----------------------------------------------------------

func TestSecretsManagerConformanceDescribeSecret(t *testing.T) {
	one := func(e *smEnv) { e.create("app/db", 1) }
	runSMCases(t, []smCase{
		{
			name: "DescribeSecret finds a secret by name, by full ARN and by partial ARN (without -XXXXXX)", setup: one,
			do: func(e *smEnv) (any, error) {
				arn := e.arn("app/db")
				var names []string
				for _, id := range []string{"app/db", arn, arn[:len(arn)-7]} {
					d, err := e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
					if err != nil {
						return nil, fmt.Errorf("%s: %w", id, err)
					}
					names = append(names, *d.Name)
				}
				return names, nil
			},
			want: smWant([]string{"app/db", "app/db", "app/db"}),
		},
		{
			name: "DescribeSecret of a full ARN with another suffix is ResourceNotFoundException", setup: one,
			do: func(e *smEnv) (any, error) {
				arn := e.arn("app/db")
				other := "ZZZZZZ"
				if strings.HasSuffix(arn, other) {
					other = "YYYYYY"
				}
				return smErrOnly(e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn[:len(arn)-6] + other)}))
			},
			wantErr: smNotFound,
		},
		{
			name: "DescribeSecret of an unknown secret is ResourceNotFoundException",
			do: func(e *smEnv) (any, error) {
				return smErrOnly(e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("nope")}))
			},
			wantErr: smNotFound, wantMsg: "can't find the specified secret",
		},
		{
			name:  "DescribeSecret VersionIdsToStages hides deprecated versions (versions without labels)",
			setup: func(e *smEnv) { one(e); e.put("app/db", 2); e.put("app/db", 3) },
			do:    func(e *smEnv) (any, error) { return e.stages("app/db"), nil },
			want:  smWant(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name:  "DescribeSecret reports CreatedDate of the creation and LastChangedDate of the last change",
			setup: func(e *smEnv) { one(e); e.clk.Advance(time.Hour); e.put("app/db", 2) },
			do: func(e *smEnv) (any, error) {
				d := e.describe("app/db")
				return []*time.Time{d.CreatedDate, d.LastChangedDate, d.LastAccessedDate, d.DeletedDate}, nil
			},
			want: smWant([]*time.Time{aws.Time(smT0), aws.Time(smT0.Add(time.Hour)), nil, nil}),
		},
	})
}

// ---- GetSecretValue -------------------------------------------------------------

func TestSecretsManagerConformanceGetSecretValue(t *testing.T) {
	two := func(e *smEnv) { e.create("s", 1); e.clk.Advance(time.Hour); e.put("s", 2) }
	getIn := func(in *secretsmanager.GetSecretValueInput) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			if in.SecretId == nil {
				in.SecretId = aws.String("s")
			}
			return smErrOnly(e.get(in))
		}
	}
	version := func(n int, created time.Time, stages ...string) func(e *smEnv) any {
		return func(e *smEnv) any {
			return &secretsmanager.GetSecretValueOutput{
				ARN: aws.String(e.arn("s")), Name: aws.String("s"), VersionId: aws.String(smTok(n)),
				SecretString: aws.String(smVal(n)), VersionStages: stages, CreatedDate: aws.Time(created),
			}
		}
	}
	runSMCases(t, []smCase{
		{
			name: "GetSecretValue without VersionId or VersionStage returns the AWSCURRENT version", setup: two,
			do: getIn(&secretsmanager.GetSecretValueInput{}), want: version(2, smT0.Add(time.Hour), "AWSCURRENT"),
		},
		{
			name: "GetSecretValue with VersionStage AWSPREVIOUS returns the version AWSCURRENT left", setup: two,
			do: getIn(&secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")}), want: version(1, smT0, "AWSPREVIOUS"),
		},
		{
			name: "GetSecretValue with VersionId returns that version, also a deprecated one", setup: func(e *smEnv) { two(e); e.put("s", 3) },
			do: getIn(&secretsmanager.GetSecretValueInput{VersionId: aws.String(smTok(1))}), want: version(1, smT0),
		},
		{
			name: "GetSecretValue with VersionId and the VersionStage it has returns it", setup: two,
			do:   getIn(&secretsmanager.GetSecretValueInput{VersionId: aws.String(smTok(2)), VersionStage: aws.String("AWSCURRENT")}),
			want: version(2, smT0.Add(time.Hour), "AWSCURRENT"),
		},
		{
			name: "GetSecretValue with VersionId and a VersionStage of another version is InvalidRequestException", setup: two,
			do:      getIn(&secretsmanager.GetSecretValueInput{VersionId: aws.String(smTok(1)), VersionStage: aws.String("AWSCURRENT")}),
			wantErr: smInvalidRequest,
		},
		{
			name: "GetSecretValue with an unknown VersionId is ResourceNotFoundException", setup: two,
			do: getIn(&secretsmanager.GetSecretValueInput{VersionId: aws.String(smTok(9))}), wantErr: smNotFound,
		},
		{
			name: "GetSecretValue with a VersionStage no version has is ResourceNotFoundException", setup: two,
			do: getIn(&secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPENDING")}), wantErr: smNotFound,
		},
		{
			name: "GetSecretValue of a secret without a value is ResourceNotFoundException", setup: func(e *smEnv) { e.createEmpty("s") },
			do: getIn(&secretsmanager.GetSecretValueInput{}), wantErr: smNotFound,
		},
		{
			name: "GetSecretValue of an unknown secret is ResourceNotFoundException",
			do:   getIn(&secretsmanager.GetSecretValueInput{}), wantErr: smNotFound,
		},
		{
			name: "GetSecretValue of a secret scheduled for deletion is InvalidRequestException", setup: func(e *smEnv) { two(e); e.del("s", 7) },
			do: getIn(&secretsmanager.GetSecretValueInput{}), wantErr: smInvalidRequest, wantMsg: "marked for deletion",
		},
		{
			name: "GetSecretValue accepts the full and the partial ARN as SecretId", setup: two,
			do: func(e *smEnv) (any, error) {
				arn := e.arn("s")
				var ids []string
				for _, id := range []string{arn, arn[:len(arn)-7]} {
					g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
					if err != nil {
						return nil, err
					}
					ids = append(ids, smShort(*g.VersionId))
				}
				return ids, nil
			},
			want: smWant([]string{"v2", "v2"}),
		},
		{
			name: "GetSecretValue records LastAccessedDate, truncated to the day, on the secret and the version", setup: two,
			do: func(e *smEnv) (any, error) {
				e.clk.Advance(24 * time.Hour)
				if _, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
					return nil, err
				}
				vs, err := e.c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
				if err != nil {
					return nil, err
				}
				return []*time.Time{e.describe("s").LastAccessedDate, vs.Versions[0].LastAccessedDate, vs.Versions[1].LastAccessedDate}, nil
			},
			want: smWant([]*time.Time{aws.Time(time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)), aws.Time(time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)), nil}),
		},
	})
}

// ---- SecretBinary -------------------------------------------------------------

func TestSecretsManagerConformanceSecretBinary(t *testing.T) {
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i)
	}
	runSMCases(t, []smCase{
		{
			name: "SecretBinary given to CreateSecret comes back byte for byte from GetSecretValue, without SecretString",
			do: func(e *smEnv) (any, error) {
				if _, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretBinary: all, ClientRequestToken: aws.String(smTok(1))}); err != nil {
					return nil, err
				}
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("b")})
				if err != nil {
					return nil, err
				}
				return []any{g.SecretBinary, g.SecretString}, nil
			},
			want: smWant([]any{all, (*string)(nil)}),
		},
		{
			name:  "SecretBinary given to PutSecretValue comes back byte for byte, and the string version stays readable",
			setup: func(e *smEnv) { e.create("b", 1) },
			do: func(e *smEnv) (any, error) {
				bin := []byte{0, 0xff, '\n', 0x80, 's'}
				if _, err := e.c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretBinary: bin, ClientRequestToken: aws.String(smTok(2))}); err != nil {
					return nil, err
				}
				cur, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("b")})
				if err != nil {
					return nil, err
				}
				prev, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("b"), VersionStage: aws.String("AWSPREVIOUS")})
				if err != nil {
					return nil, err
				}
				return []any{cur.SecretBinary, cur.SecretString, prev.SecretBinary, aws.ToString(prev.SecretString)}, nil
			},
			want: smWant([]any{[]byte{0, 0xff, '\n', 0x80, 's'}, (*string)(nil), []byte(nil), smVal(1)}),
		},
		{
			name: "SecretBinary retried with the same ClientRequestToken and the same bytes is accepted, other bytes are ResourceExistsException",
			setup: func(e *smEnv) {
				_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("b"), SecretBinary: []byte{1, 2, 3}, ClientRequestToken: aws.String(smTok(1))})
				e.must(err)
			},
			do: func(e *smEnv) (any, error) {
				if _, err := e.c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretBinary: []byte{1, 2, 3}, ClientRequestToken: aws.String(smTok(1))}); err != nil {
					return nil, err
				}
				return smErrOnly(e.c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("b"), SecretBinary: []byte{1, 2, 4}, ClientRequestToken: aws.String(smTok(1))}))
			},
			wantErr: smExists,
		},
	})
}

// ---- PutSecretValue: labels and idempotency ----------------------------------

func TestSecretsManagerConformancePutSecretValue(t *testing.T) {
	one := func(e *smEnv) { e.create("s", 1) }
	putOut := func(n int, stages ...string) func(e *smEnv) any {
		return func(e *smEnv) any {
			return &secretsmanager.PutSecretValueOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), VersionId: aws.String(smTok(n)), VersionStages: stages}
		}
	}
	put := func(n int, stages ...string) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) { return smErrOnly(e.putErr("s", n, stages...)) }
	}
	putIn := func(in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			in.SecretId = aws.String("s")
			return smErrOnly(e.c.PutSecretValue(smCtx, in, optFns...))
		}
	}
	runSMCases(t, []smCase{
		{
			name: "PutSecretValue without VersionStages moves AWSCURRENT to the new version and AWSPREVIOUS to the version it left", setup: one,
			do: put(2), want: putOut(2, "AWSCURRENT"),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name:  "PutSecretValue a third time leaves the oldest version deprecated: hidden from DescribeSecret, listed with IncludeDeprecated",
			setup: func(e *smEnv) { one(e); e.put("s", 2) },
			do:    put(3), want: putOut(3, "AWSCURRENT"),
			after: func(e *smEnv) {
				smStagesAre("s", map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}})(e)
				smDiff(e.t, "versions", [][]string{{"v3", "AWSCURRENT"}, {"v2", "AWSPREVIOUS"}, {"v1"}}, e.versions("s", true))
			},
		},
		{
			name: "PutSecretValue with VersionStages AWSPENDING attaches only that label and leaves AWSCURRENT where it is", setup: one,
			do: put(2, "AWSPENDING"), want: putOut(2, "AWSPENDING"),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}, "v2": {"AWSPENDING"}}),
		},
		{
			name: "PutSecretValue with VersionStages moves each label from the version that had it", setup: func(e *smEnv) { one(e); e.put("s", 2, "AWSPENDING") },
			do: put(3, "AWSPENDING"), want: putOut(3, "AWSPENDING"),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}, "v3": {"AWSPENDING"}}),
		},
		{
			name: "PutSecretValue with VersionStages naming AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left", setup: one,
			do: put(2, "AWSCURRENT", "blue"), want: putOut(2, "AWSCURRENT", "blue"),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT", "blue"}}),
		},
		{
			name: "PutSecretValue creating the first version attaches AWSCURRENT even when VersionStages does not name it", setup: func(e *smEnv) { e.createEmpty("s") },
			do: put(1, "AWSPENDING"), want: putOut(1, "AWSCURRENT", "AWSPENDING"),
		},
		{
			name: "PutSecretValue without ClientRequestToken gets a fresh one from the SDK for each call, so each call is a new version", setup: one,
			do: func(e *smEnv) (any, error) {
				var ids []string
				for range 2 {
					out, err := e.c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(2))})
					if err != nil {
						return nil, err
					}
					ids = append(ids, *out.VersionId)
				}
				vs := e.versions("s", true)
				return []any{smUUIDRE.MatchString(ids[0]), smUUIDRE.MatchString(ids[1]), ids[0] != ids[1], vs},
					nil
			},
			want: func(e *smEnv) any {
				vs := e.versions("s", true)
				return []any{true, true, true, [][]string{{vs[0][0], "AWSCURRENT"}, {vs[1][0], "AWSPREVIOUS"}, {"v1"}}}
			},
		},
		{
			name: "PutSecretValue retried with the same ClientRequestToken and the same value is accepted and changes nothing",
			setup: func(e *smEnv) {
				one(e)
				e.clk.Advance(time.Hour)
				e.put("s", 2)
				e.clk.Advance(time.Hour)
			},
			do: put(2), want: putOut(2, "AWSCURRENT"),
			after: func(e *smEnv) {
				smDiff(e.t, "versions", [][]string{{"v2", "AWSCURRENT"}, {"v1", "AWSPREVIOUS"}}, e.versions("s", true))
				smDiff(e.t, "LastChangedDate", aws.Time(smT0.Add(time.Hour)), e.describe("s").LastChangedDate)
			},
		},
		{
			name:  "PutSecretValue retried with the same ClientRequestToken after the labels moved on returns the version's labels now",
			setup: func(e *smEnv) { one(e); e.put("s", 2); e.put("s", 3) },
			do:    put(2), want: putOut(2, "AWSPREVIOUS"),
			after: smStagesAre("s", map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name: "PutSecretValue with the ClientRequestToken of an existing version and another value is ResourceExistsException", setup: one,
			do:      putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(1))}),
			wantErr: smExists,
			after:   smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name: "PutSecretValue without SecretString or SecretBinary is InvalidParameterException", setup: one,
			do: putIn(&secretsmanager.PutSecretValueInput{}), wantErr: smInvalidParam,
		},
		{
			name: "PutSecretValue with both SecretString and SecretBinary is InvalidParameterException", setup: one,
			do: putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(smVal(2)), SecretBinary: []byte{2}}), wantErr: smInvalidParam,
		},
		{
			name: "PutSecretValue with an empty VersionStages list is InvalidParameterException", setup: one,
			do: putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(smVal(2)), VersionStages: []string{}}), wantErr: smInvalidParam,
		},
		{
			name: "PutSecretValue with a ClientRequestToken of 31 characters is InvalidParameterException", setup: one,
			do:      putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(strings.Repeat("a", 31))}),
			wantErr: smInvalidParam,
		},
		{
			name: "PutSecretValue with a value over 65536 bytes is InvalidParameterException", setup: one,
			do:      putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(strings.Repeat("x", 65537))}),
			wantErr: smInvalidParam,
		},
		{
			name: "PutSecretValue with more than 20 labels in VersionStages is LimitExceededException", setup: one,
			do: func(e *smEnv) (any, error) {
				var st []string
				for i := range 21 {
					st = append(st, fmt.Sprintf("L%02d", i))
				}
				return putIn(&secretsmanager.PutSecretValueInput{SecretString: aws.String(smVal(2)), VersionStages: st}, smNoRetry)(e)
			},
			wantErr: smLimit,
		},
		{
			name:    "PutSecretValue of an unknown secret is ResourceNotFoundException",
			do:      put(1),
			wantErr: smNotFound,
		},
		{
			name: "PutSecretValue of a secret scheduled for deletion is InvalidRequestException", setup: func(e *smEnv) { one(e); e.del("s", 7) },
			do: put(2), wantErr: smInvalidRequest,
		},
	})
}

// ---- UpdateSecretVersionStage -------------------------------------------------

func TestSecretsManagerConformanceUpdateSecretVersionStage(t *testing.T) {
	rotating := func(e *smEnv) {
		e.create("s", 1)
		e.clk.Advance(time.Hour)
		e.put("s", 2, "AWSPENDING")
		e.clk.Advance(time.Hour)
	}
	two := func(e *smEnv) { e.create("s", 1); e.put("s", 2) }
	stage := func(label string, moveTo, removeFrom int) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) { return smErrOnly(e.stage("s", label, moveTo, removeFrom)) }
	}
	unchanged := smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}, "v2": {"AWSPENDING"}})
	runSMCases(t, []smCase{
		{
			name: "UpdateSecretVersionStage moving a label another version has needs RemoveFromVersionId: without it InvalidParameterException", setup: rotating,
			do: stage("AWSCURRENT", 2, 0), wantErr: smInvalidParam, wantMsg: "RemoveFromVersionId",
			after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage with RemoveFromVersionId moves AWSCURRENT, and AWSPREVIOUS follows to the version AWSCURRENT left", setup: rotating,
			do: stage("AWSCURRENT", 2, 1),
			want: func(e *smEnv) any {
				return &secretsmanager.UpdateSecretVersionStageOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s")}
			},
			after: func(e *smEnv) {
				smStagesAre("s", map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT", "AWSPENDING"}})(e)
				smDiff(e.t, "LastChangedDate", aws.Time(smT0.Add(2*time.Hour)), e.describe("s").LastChangedDate)
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				e.must(err)
				smDiff(e.t, "AWSCURRENT value", smVal(2), *g.SecretString)
			},
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT back to the AWSPREVIOUS version swaps the two labels", setup: two,
			do:    stage("AWSCURRENT", 1, 2),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}, "v2": {"AWSPREVIOUS"}}),
		},
		{
			name: "UpdateSecretVersionStage attaches a label no version has with MoveToVersionId alone", setup: rotating,
			do:    stage("blue", 1, 0),
			after: smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT", "blue"}, "v2": {"AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage with RemoveFromVersionId alone removes the label, leaving the version deprecated", setup: rotating,
			do: stage("AWSPENDING", 0, 2),
			after: func(e *smEnv) {
				smStagesAre("s", map[string][]string{"v1": {"AWSCURRENT"}})(e)
				smDiff(e.t, "versions", [][]string{{"v1", "AWSCURRENT"}}, e.versions("s", false))
				smDiff(e.t, "versions with deprecated", [][]string{{"v2"}, {"v1", "AWSCURRENT"}}, e.versions("s", true))
			},
		},
		{
			name: "UpdateSecretVersionStage can't remove AWSCURRENT without moving it: InvalidParameterException", setup: rotating,
			do: stage("AWSCURRENT", 0, 1), wantErr: smInvalidParam, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage with a RemoveFromVersionId that does not have the label is InvalidParameterException", setup: rotating,
			do: stage("AWSPENDING", 1, 1), wantErr: smInvalidParam, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage without MoveToVersionId or RemoveFromVersionId is InvalidParameterException", setup: rotating,
			do: stage("AWSPENDING", 0, 0), wantErr: smInvalidParam,
		},
		{
			name: "UpdateSecretVersionStage to an unknown version is ResourceNotFoundException", setup: rotating,
			do: stage("blue", 9, 0), wantErr: smNotFound, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage of a label already on MoveToVersionId succeeds and changes nothing", setup: rotating,
			do: stage("AWSPENDING", 2, 0),
			after: func(e *smEnv) {
				unchanged(e)
				smDiff(e.t, "LastChangedDate", aws.Time(smT0.Add(time.Hour)), e.describe("s").LastChangedDate)
			},
		},
		{
			name: "UpdateSecretVersionStage labelling a deprecated version makes DescribeSecret show it again", setup: func(e *smEnv) { two(e); e.put("s", 3) },
			do:    stage("blue", 1, 0),
			after: smStagesAre("s", map[string][]string{"v1": {"blue"}, "v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name: "UpdateSecretVersionStage by ARN works like by name", setup: rotating,
			do: func(e *smEnv) (any, error) {
				return smErrOnly(e.c.UpdateSecretVersionStage(smCtx, &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String(e.arn("s")), VersionStage: aws.String("AWSCURRENT"),
					MoveToVersionId: aws.String(smTok(2)), RemoveFromVersionId: aws.String(smTok(1)),
				}))
			},
			after: smStagesAre("s", map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT", "AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage of an unknown secret is ResourceNotFoundException",
			do:   stage("AWSCURRENT", 1, 0), wantErr: smNotFound,
		},
		{
			name: "UpdateSecretVersionStage of a secret scheduled for deletion is InvalidRequestException", setup: func(e *smEnv) { rotating(e); e.del("s", 7) },
			do: stage("AWSCURRENT", 2, 1), wantErr: smInvalidRequest,
		},
	})
}

// ---- ListSecretVersionIds -----------------------------------------------------

func TestSecretsManagerConformanceListSecretVersionIds(t *testing.T) {
	three := func(e *smEnv) {
		e.create("s", 1)
		e.clk.Advance(time.Hour)
		e.put("s", 2)
		e.clk.Advance(time.Hour)
		e.put("s", 3)
	}
	entry := func(n int, created time.Time, stages ...string) types.SecretVersionsListEntry {
		return types.SecretVersionsListEntry{VersionId: aws.String(smTok(n)), VersionStages: stages, CreatedDate: aws.Time(created)}
	}
	list := func(in *secretsmanager.ListSecretVersionIdsInput) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			if in.SecretId == nil {
				in.SecretId = aws.String("s")
			}
			return smErrOnly(e.c.ListSecretVersionIds(smCtx, in))
		}
	}
	runSMCases(t, []smCase{
		{
			name: "ListSecretVersionIds lists the labelled versions newest first and leaves deprecated ones out", setup: three,
			do: list(&secretsmanager.ListSecretVersionIdsInput{}),
			want: func(e *smEnv) any {
				return &secretsmanager.ListSecretVersionIdsOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), Versions: []types.SecretVersionsListEntry{
					entry(3, smT0.Add(2*time.Hour), "AWSCURRENT"), entry(2, smT0.Add(time.Hour), "AWSPREVIOUS"),
				}}
			},
		},
		{
			name: "ListSecretVersionIds with IncludeDeprecated also lists deprecated versions", setup: three,
			do: list(&secretsmanager.ListSecretVersionIdsInput{IncludeDeprecated: aws.Bool(true)}),
			want: func(e *smEnv) any {
				return &secretsmanager.ListSecretVersionIdsOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), Versions: []types.SecretVersionsListEntry{
					entry(3, smT0.Add(2*time.Hour), "AWSCURRENT"), entry(2, smT0.Add(time.Hour), "AWSPREVIOUS"), entry(1, smT0),
				}}
			},
		},
		{
			name: "ListSecretVersionIds pages with the SDK paginator and MaxResults",
			setup: func(e *smEnv) {
				e.create("s", 1)
				for n := 2; n <= 5; n++ {
					e.put("s", n)
				}
			},
			do: func(e *smEnv) (any, error) {
				p := secretsmanager.NewListSecretVersionIdsPaginator(e.c, &secretsmanager.ListSecretVersionIdsInput{
					SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(2),
				})
				var pages [][]string
				for p.HasMorePages() {
					out, err := p.NextPage(smCtx)
					if err != nil {
						return nil, err
					}
					var ids []string
					for _, v := range out.Versions {
						ids = append(ids, smShort(*v.VersionId))
					}
					pages = append(pages, ids)
				}
				return pages, nil
			},
			want: smWant([][]string{{"v5", "v4"}, {"v3", "v2"}, {"v1"}}),
		},
		{
			name: "ListSecretVersionIds with MaxResults over 100 is InvalidParameterException", setup: three,
			do: list(&secretsmanager.ListSecretVersionIdsInput{MaxResults: aws.Int32(101)}), wantErr: smInvalidParam,
		},
		{
			name: "ListSecretVersionIds with a NextToken of another secret is InvalidNextTokenException",
			setup: func(e *smEnv) {
				three(e)
				e.create("other", 1)
			},
			do: func(e *smEnv) (any, error) {
				out, err := e.c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), MaxResults: aws.Int32(1)})
				if err != nil {
					return nil, err
				}
				return smErrOnly(e.c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("other"), NextToken: out.NextToken}))
			},
			wantErr: smBadNextToken,
		},
		{
			name: "ListSecretVersionIds works on a secret scheduled for deletion", setup: func(e *smEnv) { three(e); e.del("s", 7) },
			do:   func(e *smEnv) (any, error) { return e.versions("s", false), nil },
			want: smWant([][]string{{"v3", "AWSCURRENT"}, {"v2", "AWSPREVIOUS"}}),
		},
		{
			name: "ListSecretVersionIds of an unknown secret is ResourceNotFoundException",
			do:   list(&secretsmanager.ListSecretVersionIdsInput{}), wantErr: smNotFound,
		},
	})
}

// ---- ListSecrets ----------------------------------------------------------------

func TestSecretsManagerConformanceListSecrets(t *testing.T) {
	// Five secrets created a minute apart.
	five := func(e *smEnv) {
		for _, s := range []struct {
			name string
			tags []string
		}{
			{"app/api", []string{"env", "prod", "team", "core"}},
			{"app/db", []string{"env", "dev"}},
			{"batch/job", []string{"owner", "ops"}},
			{"app/cache", nil},
			{"legacy", []string{"environment", "prod"}},
		} {
			e.createTagged(s.name, s.tags...)
			e.clk.Advance(time.Minute)
		}
	}
	names := func(in *secretsmanager.ListSecretsInput) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			out, err := e.c.ListSecrets(smCtx, in)
			if err != nil {
				return nil, err
			}
			var ns []string
			for _, s := range out.SecretList {
				ns = append(ns, *s.Name)
			}
			return ns, nil
		}
	}
	filter := func(key types.FilterNameStringType, values ...string) *secretsmanager.ListSecretsInput {
		return &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: key, Values: values}}}
	}
	runSMCases(t, []smCase{
		{
			name: "ListSecrets lists every secret, oldest first by default, with ARN, dates, tags and SecretVersionsToStages", setup: five,
			do: func(e *smEnv) (any, error) {
				out, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
				if err != nil {
					return nil, err
				}
				var ns []string
				for _, s := range out.SecretList {
					ns = append(ns, *s.Name)
				}
				return []any{ns, out.SecretList[0], out.NextToken}, nil
			},
			want: func(e *smEnv) any {
				d := e.describe("app/api")
				first := types.SecretListEntry{
					ARN: d.ARN, Name: aws.String("app/api"), Tags: smTags("env", "prod", "team", "core"),
					CreatedDate: aws.Time(smT0), LastChangedDate: aws.Time(smT0), SecretVersionsToStages: d.VersionIdsToStages,
				}
				return []any{[]string{"app/api", "app/db", "batch/job", "app/cache", "legacy"}, first, (*string)(nil)}
			},
		},
		{
			name: "ListSecrets pages with the SDK paginator and MaxResults", setup: five,
			do: func(e *smEnv) (any, error) {
				p := secretsmanager.NewListSecretsPaginator(e.c, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2)})
				var pages [][]string
				for p.HasMorePages() {
					out, err := p.NextPage(smCtx)
					if err != nil {
						return nil, err
					}
					var ns []string
					for _, s := range out.SecretList {
						ns = append(ns, *s.Name)
					}
					pages = append(pages, ns)
				}
				return pages, nil
			},
			want: smWant([][]string{{"app/api", "app/db"}, {"batch/job", "app/cache"}, {"legacy"}}),
		},
		{
			name: "ListSecrets paginator with a tag-key filter pages through the matching secrets only", setup: five,
			do: func(e *smEnv) (any, error) {
				in := filter(types.FilterNameStringTypeTagKey, "env")
				in.MaxResults = aws.Int32(1)
				p := secretsmanager.NewListSecretsPaginator(e.c, in)
				var ns []string
				pages := 0
				for p.HasMorePages() {
					out, err := p.NextPage(smCtx)
					if err != nil {
						return nil, err
					}
					pages++
					for _, s := range out.SecretList {
						ns = append(ns, *s.Name)
					}
				}
				return []any{pages, ns}, nil
			},
			want: smWant([]any{3, []string{"app/api", "app/db", "legacy"}}),
		},
		{
			name: "ListSecrets SortOrder desc lists newest first", setup: five,
			do:   names(&secretsmanager.ListSecretsInput{SortOrder: types.SortOrderTypeDesc}),
			want: smWant([]string{"legacy", "app/cache", "batch/job", "app/db", "app/api"}),
		},
		{
			name: "ListSecrets filter tag-key is a case-sensitive prefix match on tag keys", setup: five,
			do: names(filter(types.FilterNameStringTypeTagKey, "env")), want: smWant([]string{"app/api", "app/db", "legacy"}),
		},
		{
			name: "ListSecrets filter tag-key matches nothing with another case", setup: five,
			do: names(filter(types.FilterNameStringTypeTagKey, "ENV")), want: smWant([]string(nil)),
		},
		{
			name: "ListSecrets filter tag-value is a prefix match on tag values", setup: five,
			do: names(filter(types.FilterNameStringTypeTagValue, "pro")), want: smWant([]string{"app/api", "legacy"}),
		},
		{
			name: "ListSecrets filter value prefixed with ! is a negation: tag-key !env lists secrets without such a key", setup: five,
			do: names(filter(types.FilterNameStringTypeTagKey, "!env")), want: smWant([]string{"batch/job", "app/cache"}),
		},
		{
			name: "ListSecrets filter with several values matches any of them", setup: five,
			do: names(filter(types.FilterNameStringTypeTagValue, "dev", "ops")), want: smWant([]string{"app/db", "batch/job"}),
		},
		{
			name: "ListSecrets filter name is a prefix match on names", setup: five,
			do: names(filter(types.FilterNameStringTypeName, "app/")), want: smWant([]string{"app/api", "app/db", "app/cache"}),
		},
		{
			name: "ListSecrets leaves out secrets scheduled for deletion unless IncludePlannedDeletion is true",
			setup: func(e *smEnv) {
				five(e)
				e.del("app/db", 7)
			},
			do: func(e *smEnv) (any, error) {
				without, err := names(&secretsmanager.ListSecretsInput{})(e)
				if err != nil {
					return nil, err
				}
				with, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
				if err != nil {
					return nil, err
				}
				var deleted []string
				for _, s := range with.SecretList {
					if s.DeletedDate != nil {
						deleted = append(deleted, *s.Name+" "+s.DeletedDate.Format(time.RFC3339Nano))
					}
				}
				return []any{without, len(with.SecretList), deleted}, nil
			},
			want: smWant([]any{
				[]string{"app/api", "batch/job", "app/cache", "legacy"}, 5,
				[]string{"app/db " + smT0.Add(5*time.Minute+7*24*time.Hour).Format(time.RFC3339Nano)},
			}),
		},
		{
			name: "ListSecrets with an unknown filter key is InvalidParameterException", setup: five,
			do: names(filter("colour", "red")), wantErr: smInvalidParam,
		},
		{
			name: "ListSecrets with a NextToken of another query is InvalidNextTokenException", setup: five,
			do: func(e *smEnv) (any, error) {
				out, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)})
				if err != nil {
					return nil, err
				}
				in := filter(types.FilterNameStringTypeName, "app")
				in.NextToken = out.NextToken
				return smErrOnly(e.c.ListSecrets(smCtx, in))
			},
			wantErr: smBadNextToken,
		},
	})
}

// ---- TagResource / UntagResource ----------------------------------------------

func TestSecretsManagerConformanceTags(t *testing.T) {
	tagged := func(e *smEnv) {
		e.createTagged("s", "a", "1", "b", "2")
		e.clk.Advance(time.Hour)
	}
	tag := func(id string, ts ...types.Tag) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			if id == "" {
				id = e.arn("s")
			}
			if _, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String(id), Tags: ts}, smNoRetry); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	untag := func(keys ...string) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			if _, err := e.c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: keys}); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	changedAt := func(d time.Time) func(e *smEnv) {
		return func(e *smEnv) { smDiff(e.t, "LastChangedDate", aws.Time(d), e.describe("s").LastChangedDate) }
	}
	scheduled := func(e *smEnv) { tagged(e); e.del("s", 7) }
	runSMCases(t, []smCase{
		{
			name: "TagResource adds tags and overwrites the value of a key the secret has, and changes LastChangedDate", setup: tagged,
			do: tag("s", smTags("b", "two", "c", "3")...), want: smWant(smTags("a", "1", "b", "two", "c", "3")),
			after: changedAt(smT0.Add(time.Hour)),
		},
		{
			name: "TagResource accepts the secret's ARN", setup: tagged,
			do: tag("", smTags("c", "3")...), want: smWant(smTags("a", "1", "b", "2", "c", "3")),
		},
		{
			name: "UntagResource removes tags by key, ignores keys the secret does not have, and changes LastChangedDate", setup: tagged,
			do: untag("a", "zzz"), want: smWant(smTags("b", "2")), after: changedAt(smT0.Add(time.Hour)),
		},
		{
			name: "TagResource with a key starting with aws: (reserved for AWS) is InvalidParameterException", setup: tagged,
			do: tag("s", smTags("aws:x", "y")...), wantErr: smInvalidParam,
		},
		{
			name: "TagResource beyond 50 tags is LimitExceededException and changes nothing",
			setup: func(e *smEnv) {
				var kv []string
				for i := range 50 {
					kv = append(kv, fmt.Sprintf("k%02d", i), "v")
				}
				e.createTagged("s", kv...)
			},
			do: tag("s", smTags("k00", "changed", "k50", "v")...), wantErr: smLimit,
			after: func(e *smEnv) {
				ts := e.describe("s").Tags
				smDiff(e.t, "tags", []any{50, types.Tag{Key: aws.String("k00"), Value: aws.String("v")}}, []any{len(ts), ts[0]})
			},
		},
		{
			name: "TagResource of an unknown secret is ResourceNotFoundException",
			do:   tag("nope", smTags("c", "3")...), wantErr: smNotFound,
		},
		{
			name: "TagResource of a secret scheduled for deletion is InvalidRequestException", setup: scheduled,
			do: tag("s", smTags("c", "3")...), wantErr: smInvalidRequest,
		},
		{
			name: "UntagResource of a secret scheduled for deletion is InvalidRequestException", setup: scheduled,
			do: untag("a"), wantErr: smInvalidRequest,
		},
	})
}

// ---- DeleteSecret / RestoreSecret ---------------------------------------------

func TestSecretsManagerConformanceDeleteAndRestore(t *testing.T) {
	one := func(e *smEnv) { e.create("s", 1); e.clk.Advance(time.Hour) }
	scheduled := func(e *smEnv) { one(e); e.del("s", 7) }
	del := func(in *secretsmanager.DeleteSecretInput) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) {
			if in.SecretId == nil {
				in.SecretId = aws.String("s")
			}
			return smErrOnly(e.c.DeleteSecret(smCtx, in))
		}
	}
	deleted := func(days int) func(e *smEnv) any {
		return func(e *smEnv) any {
			return &secretsmanager.DeleteSecretOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s"), DeletionDate: aws.Time(smT0.Add(time.Hour + time.Duration(days)*24*time.Hour))}
		}
	}
	refused := func(call func(e *smEnv) error) func(e *smEnv) (any, error) {
		return func(e *smEnv) (any, error) { return nil, call(e) }
	}
	gone := func(e *smEnv) {
		_, err := e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		smCheckErr(e.t, err, smNotFound, "")
	}
	runSMCases(t, []smCase{
		{
			name: "DeleteSecret without options schedules deletion after a 30-day recovery window", setup: one,
			do: del(&secretsmanager.DeleteSecretInput{}), want: deleted(30),
			after: func(e *smEnv) {
				d := e.describe("s")
				smDiff(e.t, "DeletedDate, LastChangedDate", []*time.Time{aws.Time(smT0.Add(time.Hour + 30*24*time.Hour)), aws.Time(smT0.Add(time.Hour))}, []*time.Time{d.DeletedDate, d.LastChangedDate})
			},
		},
		{
			name: "DeleteSecret with RecoveryWindowInDays 7 schedules deletion after 7 days", setup: one,
			do: del(&secretsmanager.DeleteSecretInput{RecoveryWindowInDays: aws.Int64(7)}), want: deleted(7),
		},
		{
			name: "DeleteSecret with RecoveryWindowInDays 6 is InvalidParameterException", setup: one,
			do: del(&secretsmanager.DeleteSecretInput{RecoveryWindowInDays: aws.Int64(6)}), wantErr: smInvalidParam,
		},
		{
			name: "DeleteSecret with RecoveryWindowInDays 31 is InvalidParameterException", setup: one,
			do: del(&secretsmanager.DeleteSecretInput{RecoveryWindowInDays: aws.Int64(31)}), wantErr: smInvalidParam,
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery and RecoveryWindowInDays is InvalidParameterException", setup: one,
			do:      del(&secretsmanager.DeleteSecretInput{RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)}),
			wantErr: smInvalidParam,
			after:   func(e *smEnv) { e.describe("s") },
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery deletes at once and frees the name", setup: one,
			do: func(e *smEnv) (any, error) {
				arn := e.arn("s")
				out, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)})
				if err != nil {
					return nil, err
				}
				return []any{*out.ARN == arn, *out.Name, *out.DeletionDate}, nil
			},
			want: smWant([]any{true, "s", smT0.Add(time.Hour)}),
			after: func(e *smEnv) {
				gone(e)
				e.create("s", 2)
			},
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery of a secret that does not exist succeeds",
			do:   del(&secretsmanager.DeleteSecretInput{SecretId: aws.String("nope"), ForceDeleteWithoutRecovery: aws.Bool(true)}),
			want: smWant(&secretsmanager.DeleteSecretOutput{Name: aws.String("nope"), DeletionDate: aws.Time(smT0)}),
		},
		{
			name: "DeleteSecret of an unknown secret is ResourceNotFoundException",
			do:   del(&secretsmanager.DeleteSecretInput{}), wantErr: smNotFound,
		},
		{
			name: "DeleteSecret of a secret already scheduled for deletion is InvalidRequestException", setup: scheduled,
			do: del(&secretsmanager.DeleteSecretInput{}), wantErr: smInvalidRequest, wantMsg: "marked for deletion",
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery of a secret scheduled for deletion deletes it", setup: scheduled,
			do: del(&secretsmanager.DeleteSecretInput{ForceDeleteWithoutRecovery: aws.Bool(true)}), after: gone,
		},
		{
			name: "A secret scheduled for deletion still answers DescribeSecret, with DeletedDate", setup: scheduled,
			do:   func(e *smEnv) (any, error) { return e.describe("s").DeletedDate, nil },
			want: smWant(aws.Time(smT0.Add(time.Hour + 7*24*time.Hour))),
		},
		{
			name: "A secret scheduled for deletion refuses GetSecretValue with InvalidRequestException", setup: scheduled,
			do: refused(func(e *smEnv) error {
				_, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				return err
			}),
			wantErr: smInvalidRequest, wantMsg: "marked for deletion",
		},
		{
			name: "A secret scheduled for deletion refuses PutSecretValue with InvalidRequestException", setup: scheduled,
			do: refused(func(e *smEnv) error { _, err := e.putErr("s", 2); return err }), wantErr: smInvalidRequest,
		},
		{
			name: "A secret scheduled for deletion refuses UpdateSecretVersionStage with InvalidRequestException", setup: scheduled,
			do: refused(func(e *smEnv) error { _, err := e.stage("s", "blue", 1, 0); return err }), wantErr: smInvalidRequest,
		},
		{
			name: "A secret scheduled for deletion still exists when the clock reaches DeletedDate", setup: scheduled,
			do: func(e *smEnv) (any, error) {
				e.clk.Advance(7 * 24 * time.Hour)
				return *e.describe("s").Name, nil
			},
			want: smWant("s"),
		},
		{
			name: "A secret scheduled for deletion is deleted once the clock passes DeletedDate, and its name is free", setup: scheduled,
			do: func(e *smEnv) (any, error) {
				e.clk.Advance(7*24*time.Hour + time.Millisecond)
				return smErrOnly(e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")}))
			},
			wantErr: smNotFound,
			after:   func(e *smEnv) { e.create("s", 2) },
		},
		{
			name: "RestoreSecret cancels the scheduled deletion and the value is readable again", setup: scheduled,
			do: func(e *smEnv) (any, error) {
				e.clk.Advance(time.Hour)
				return smErrOnly(e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("s")}))
			},
			want: func(e *smEnv) any {
				return &secretsmanager.RestoreSecretOutput{ARN: aws.String(e.arn("s")), Name: aws.String("s")}
			},
			after: func(e *smEnv) {
				d := e.describe("s")
				smDiff(e.t, "DeletedDate, LastChangedDate", []*time.Time{nil, aws.Time(smT0.Add(2 * time.Hour))}, []*time.Time{d.DeletedDate, d.LastChangedDate})
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				e.must(err)
				smDiff(e.t, "value", smVal(1), *g.SecretString)
				e.clk.Advance(30 * 24 * time.Hour)
				e.describe("s") // no longer purged
			},
		},
		{
			name: "RestoreSecret of a secret not scheduled for deletion succeeds and changes nothing", setup: one,
			do: func(e *smEnv) (any, error) {
				if _, err := e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("s")}); err != nil {
					return nil, err
				}
				return e.describe("s").LastChangedDate, nil
			},
			want: smWant(aws.Time(smT0)),
		},
		{
			name: "RestoreSecret of an unknown secret is ResourceNotFoundException",
			do: func(e *smEnv) (any, error) {
				return smErrOnly(e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("s")}))
			},
			wantErr: smNotFound,
		},
	})
}

// ---- timestamps -------------------------------------------------------------------

func TestSecretsManagerConformanceTimestamps(t *testing.T) {
	within := func(got *time.Time, clock time.Time) bool {
		return got != nil && !got.IsZero() && got.Sub(clock).Abs() < time.Second
	}
	runSMCases(t, []smCase{
		{
			name: "CreatedDate is set, within a second of the injected clock, and equal to it at millisecond precision",
			do: func(e *smEnv) (any, error) {
				e.clk.Advance(456 * time.Microsecond) // below the millisecond precision of the wire
				clock := e.clk.Now()
				e.create("s", 1)
				d := e.describe("s")
				return []any{within(d.CreatedDate, clock), *d.CreatedDate}, nil
			},
			want: smWant([]any{true, smT0}),
		},
		{
			name: "every date field round-trips over the wire at millisecond precision",
			do: func(e *smEnv) (any, error) {
				e.create("s", 1) // smT0
				e.clk.Advance(90*time.Minute + 123*time.Millisecond)
				e.put("s", 2) // t1
				e.clk.Advance(26 * time.Hour)
				g, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPREVIOUS")})
				if err != nil {
					return nil, err
				}
				vs, err := e.c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
				if err != nil {
					return nil, err
				}
				ls, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
				if err != nil {
					return nil, err
				}
				del := e.del("s", 7)
				return map[string]any{
					"GetSecretValue.CreatedDate":           *g.CreatedDate,
					"ListSecretVersionIds.CreatedDate":     []time.Time{*vs.Versions[0].CreatedDate, *vs.Versions[1].CreatedDate},
					"ListSecretVersionIds.LastAccessed":    []*time.Time{vs.Versions[0].LastAccessedDate, vs.Versions[1].LastAccessedDate},
					"ListSecrets.CreatedDate":              *ls.SecretList[0].CreatedDate,
					"ListSecrets.LastChangedDate":          *ls.SecretList[0].LastChangedDate,
					"ListSecrets.LastAccessedDate":         *ls.SecretList[0].LastAccessedDate,
					"DeleteSecret.DeletionDate":            *del.DeletionDate,
					"DescribeSecret.DeletedDate":           *e.describe("s").DeletedDate,
					"DescribeSecret.LastChangedDate (del)": *e.describe("s").LastChangedDate,
				}, nil
			},
			want: func(*smEnv) any {
				t1 := smT0.Add(90*time.Minute + 123*time.Millisecond)
				t2 := t1.Add(26 * time.Hour)
				day := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
				return map[string]any{
					"GetSecretValue.CreatedDate":           smT0,
					"ListSecretVersionIds.CreatedDate":     []time.Time{t1, smT0},
					"ListSecretVersionIds.LastAccessed":    []*time.Time{nil, &day},
					"ListSecrets.CreatedDate":              smT0,
					"ListSecrets.LastChangedDate":          t1,
					"ListSecrets.LastAccessedDate":         day,
					"DeleteSecret.DeletionDate":            t2.Add(7 * 24 * time.Hour),
					"DescribeSecret.DeletedDate":           t2.Add(7 * 24 * time.Hour),
					"DescribeSecret.LastChangedDate (del)": t2,
				}
			},
		},
	})

	t.Run("CreatedDate with the default clock (Options.Now nil) is within a second of time.Now", func(t *testing.T) {
		_, url := smStart(t, Options{})
		c := smNewClient(t, url)
		before := time.Now()
		if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1))}); err != nil {
			t.Fatal(err)
		}
		d, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		if err != nil {
			t.Fatal(err)
		}
		if !within(d.CreatedDate, before) {
			t.Errorf("CreatedDate = %v, want within a second of %v", d.CreatedDate, before)
		}
		if want := smMaskARN(*d.ARN); want != "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-XXXXXX" {
			t.Errorf("ARN with the default account = %s", *d.ARN)
		}
	})
}

// ---- protocol -----------------------------------------------------------------------

func TestSecretsManagerConformanceProtocol(t *testing.T) {
	_, url := smStart(t, Options{Account: smAccount})
	c := smNewClient(t, url)

	t.Run("operations outside the supported set are UnknownOperationException through the SDK", func(t *testing.T) {
		_, err := c.RotateSecret(smCtx, &secretsmanager.RotateSecretInput{SecretId: aws.String("s")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
			t.Fatalf("RotateSecret: got %v, want UnknownOperationException", err)
		}
		_, err = c.GetRandomPassword(smCtx, &secretsmanager.GetRandomPasswordInput{}, smNoRetry)
		if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
			t.Fatalf("GetRandomPassword: got %v, want UnknownOperationException", err)
		}
	})

	raw := func(t *testing.T, target, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	t.Run("awsJson1.1 errors are 400 with X-Amzn-ErrorType and __type", func(t *testing.T) {
		status, h, body := raw(t, "secretsmanager.DescribeSecret", `{"SecretId":"nope"}`)
		got := []string{fmt.Sprint(status), h.Get("X-Amzn-ErrorType"), h.Get("Content-Type"), fmt.Sprint(strings.Contains(body, `"__type":"ResourceNotFoundException"`))}
		smDiff(t, "response", []string{"400", "ResourceNotFoundException", "application/x-amz-json-1.1", "true"}, got)
	})
	t.Run("an unknown operation is UnknownOperationException", func(t *testing.T) {
		status, h, _ := raw(t, "secretsmanager.UpdateSecret", `{}`)
		smDiff(t, "response", []string{"400", "UnknownOperationException"}, []string{fmt.Sprint(status), h.Get("X-Amzn-ErrorType")})
	})
	t.Run("a body that is not JSON is SerializationException", func(t *testing.T) {
		status, h, _ := raw(t, "secretsmanager.CreateSecret", `{"Name":`)
		smDiff(t, "response", []string{"400", "SerializationException"}, []string{fmt.Sprint(status), h.Get("X-Amzn-ErrorType")})
	})
	t.Run("a successful answer is JSON with the SDK's member names and epoch-second dates", func(t *testing.T) {
		status, h, body := raw(t, "secretsmanager.CreateSecret", `{"Name":"raw","SecretString":"v","ClientRequestToken":"`+smTok(1)+`"}`)
		if status != 200 || h.Get("Content-Type") != "application/x-amz-json-1.1" || !strings.Contains(body, `"VersionId":"`+smTok(1)+`"`) {
			t.Fatalf("CreateSecret: %d %s %s", status, h.Get("Content-Type"), body)
		}
		_, _, body = raw(t, "secretsmanager.DescribeSecret", `{"SecretId":"raw"}`)
		if !regexp.MustCompile(`"CreatedDate":\d{10}(\.\d{1,3})?[,}]`).MatchString(body) {
			t.Errorf("DescribeSecret dates are not epoch seconds: %s", body)
		}
	})
}

// ---- persistence ------------------------------------------------------------------

// smWorld reads everything a client can see, values first (GetSecretValue
// changes LastAccessedDate) and then metadata.
func smWorld(t *testing.T, c *secretsmanager.Client) any {
	t.Helper()
	ls, err := c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for _, s := range ls.SecretList {
		vs, err := c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: s.ARN, IncludeDeprecated: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Versions {
			g, err := c.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: s.ARN, VersionId: v.VersionId})
			if s.DeletedDate != nil {
				smCheckErr(t, err, smInvalidRequest, "")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			values[*s.Name+" "+*v.VersionId] = []any{g.SecretString, g.SecretBinary}
		}
	}
	ls, err = c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]any{}
	for _, s := range ls.SecretList {
		vs, err := c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: s.ARN, IncludeDeprecated: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		versions[*s.Name] = vs.Versions
	}
	return []any{ls.SecretList, versions, values}
}

func TestSecretsManagerPersistsAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	clk := &smClock{t: smT0}
	opts := Options{Account: smAccount, DataFile: file, Now: clk.Now}

	srv, url := smStart(t, opts)
	e := &smEnv{t: t, srv: srv, clk: clk, c: smNewClient(t, url)}
	_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1)),
		Description: aws.String("db"), KmsKeyId: aws.String("alias/k"), Tags: smTags("a", "1", "b", "2"),
	})
	e.must(err)
	clk.Advance(time.Hour)
	e.put("app/db", 2)
	e.put("app/db", 3, "AWSPENDING")
	_, err = e.stage("app/db", "AWSCURRENT", 3, 2)
	e.must(err)
	_, err = e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("app/db"), Tags: smTags("c", "3")})
	e.must(err)
	_, err = e.c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String("app/db"), TagKeys: []string{"a"}})
	e.must(err)
	_, err = e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 0xff}})
	e.must(err)
	e.create("doomed", 1)
	e.del("doomed", 7)
	e.create("gone", 1)
	_, err = e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("gone"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	e.must(err)
	e.create("saved", 1)
	e.del("saved", 7)
	_, err = e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("saved")})
	e.must(err)
	e.createEmpty("empty")
	clk.Advance(24 * time.Hour)
	_, err = e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	e.must(err)

	before := smWorld(t, e.c)
	snapBefore, err := srv.SM.Store().Snapshot()
	e.must(err)
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	srv2, url2 := smStart(t, opts)
	c2 := smNewClient(t, url2)
	snapAfter, err := srv2.SM.Store().Snapshot()
	e.must(err)
	if !bytes.Equal(snapBefore, snapAfter) {
		t.Errorf("the store after the restart differs from before:\n%s", cmp.Diff(string(snapBefore), string(snapAfter)))
	}
	smDiff(t, "what clients see after the restart", before, smWorld(t, c2))

	// The restarted server keeps serving and saving.
	_, err = c2.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/db"), SecretString: aws.String(smVal(4)), ClientRequestToken: aws.String(smTok(4))})
	e.must(err)
	if err := srv2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, url3 := smStart(t, opts)
	g, err := smNewClient(t, url3).GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
	e.must(err)
	smDiff(t, "value after the second restart", []string{smTok(4), smVal(4)}, []string{*g.VersionId, *g.SecretString})
}

// smCrashCopy copies the data file of a running server, as a crash would
// leave it, and starts a server on the copy.
func smCrashCopy(t *testing.T, file string, clk *smClock) *secretsmanager.Client {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := smStart(t, Options{Account: smAccount, DataFile: cp, Now: clk.Now})
	return smNewClient(t, url)
}

func TestSecretsManagerAnsweredWriteIsDurable(t *testing.T) {
	one := func(e *smEnv) { e.create("s", 1); e.put("s", 2, "AWSPENDING") }
	stagesOf := func(c *secretsmanager.Client) (any, error) {
		d, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		if err != nil {
			return nil, err
		}
		out := map[string][]string{}
		for id, st := range d.VersionIdsToStages {
			out[smShort(id)] = st
		}
		return out, nil
	}
	describe := func(field func(*secretsmanager.DescribeSecretOutput) any) func(c *secretsmanager.Client) (any, error) {
		return func(c *secretsmanager.Client) (any, error) {
			d, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
			if err != nil {
				return nil, err
			}
			return field(d), nil
		}
	}
	cases := []struct {
		name  string
		fresh bool // no secret before write
		write func(e *smEnv) error
		read  func(c *secretsmanager.Client) (any, error)
		want  any
	}{
		{
			name:  "CreateSecret",
			fresh: true,
			write: func(e *smEnv) error { e.create("s", 1); return nil },
			read:  stagesOf, want: map[string][]string{"v1": {"AWSCURRENT"}},
		},
		{
			name:  "PutSecretValue",
			write: func(e *smEnv) error { _, err := e.putErr("s", 3); return err },
			read:  stagesOf, want: map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSPENDING"}, "v3": {"AWSCURRENT"}},
		},
		{
			name:  "UpdateSecretVersionStage",
			write: func(e *smEnv) error { _, err := e.stage("s", "AWSCURRENT", 2, 1); return err },
			read:  stagesOf, want: map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT", "AWSPENDING"}},
		},
		{
			name: "TagResource",
			write: func(e *smEnv) error {
				_, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: smTags("k", "v")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.Tags }), want: smTags("k", "v"),
		},
		{
			name: "UntagResource",
			write: func(e *smEnv) error {
				_, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: smTags("k", "v", "l", "w")})
				if err != nil {
					return err
				}
				_, err = e.c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"k"}})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.Tags }), want: smTags("l", "w"),
		},
		{
			name:  "DeleteSecret",
			write: func(e *smEnv) error { e.del("s", 7); return nil },
			read:  describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.DeletedDate }),
			want:  aws.Time(smT0.Add(7 * 24 * time.Hour)),
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery",
			write: func(e *smEnv) error {
				_, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)})
				return err
			},
			read: func(c *secretsmanager.Client) (any, error) {
				_, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
				return smNotFound.is(err), nil
			},
			want: true,
		},
		{
			name: "RestoreSecret",
			write: func(e *smEnv) error {
				e.del("s", 7)
				_, err := e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("s")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.DeletedDate }), want: (*time.Time)(nil),
		},
		{
			name: "GetSecretValue (LastAccessedDate)",
			write: func(e *smEnv) error {
				_, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.LastAccessedDate }),
			want: aws.Time(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)),
		},
	}
	for _, tc := range cases {
		t.Run("an answered "+tc.name+" is in the data file before the server stops", func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "rotor.db")
			clk := &smClock{t: smT0}
			srv, url := smStart(t, Options{Account: smAccount, DataFile: file, Now: clk.Now})
			e := &smEnv{t: t, srv: srv, clk: clk, c: smNewClient(t, url)}
			if !tc.fresh {
				one(e)
				if _, err := smCrashCopy(t, file, clk).DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")}); err != nil {
					t.Fatalf("the setup is not in the data file: %v", err)
				}
			}
			if err := tc.write(e); err != nil {
				t.Fatalf("write: %v", err)
			}
			got, err := tc.read(smCrashCopy(t, file, clk))
			if err != nil {
				t.Fatalf("read after restart: %v", err)
			}
			smDiff(t, "state after restart", tc.want, got)
		})
	}
}

func TestSecretsManagerGetSecretValueSavesOnlyWhenLastAccessedDateChanges(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	clk := &smClock{t: smT0}
	srv, url := smStart(t, Options{Account: smAccount, DataFile: file, Now: clk.Now})
	e := &smEnv{t: t, srv: srv, clk: clk, c: smNewClient(t, url)}
	e.create("s", 1)
	e.put("s", 2)
	read := func() []byte {
		b, err := os.ReadFile(file)
		e.must(err)
		return b
	}
	get := func(in *secretsmanager.GetSecretValueInput) {
		in.SecretId = aws.String("s")
		_, err := e.get(in)
		e.must(err)
	}
	lastAccessed := func() []*time.Time {
		vs, err := smCrashCopy(t, file, clk).ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
		e.must(err)
		return []*time.Time{vs.Versions[0].LastAccessedDate, vs.Versions[1].LastAccessedDate}
	}
	day := func(d int) *time.Time { return aws.Time(time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC)) }

	b0 := read()
	get(&secretsmanager.GetSecretValueInput{})
	b1 := read()
	if bytes.Equal(b0, b1) {
		t.Fatalf("the first GetSecretValue of the day did not save LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate after the first read", []*time.Time{day(10), nil}, lastAccessed())

	clk.Advance(time.Hour)
	get(&secretsmanager.GetSecretValueInput{})
	if !bytes.Equal(b1, read()) {
		t.Errorf("a second GetSecretValue of the same version on the same day wrote the data file")
	}
	get(&secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")})
	b2 := read()
	if bytes.Equal(b1, b2) {
		t.Errorf("the first GetSecretValue of another version on the day did not save its LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate after reading the other version", []*time.Time{day(10), day(10)}, lastAccessed())

	clk.Advance(24 * time.Hour)
	get(&secretsmanager.GetSecretValueInput{})
	if bytes.Equal(b2, read()) {
		t.Errorf("the first GetSecretValue of a new day did not save LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate on the next day", []*time.Time{day(11), day(10)}, lastAccessed())
	smDiff(t, "secret LastAccessedDate on the next day", day(11), e.describe("s").LastAccessedDate)
}

func TestSecretsManagerConcurrentWritesAreAllDurable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	_, url := smStart(t, Options{Account: smAccount, DataFile: file})
	c := smNewClient(t, url)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("s%02d", i)
			if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(smVal(i))}); err != nil {
				errs <- err
				return
			}
			if _, err := c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(smVal(100 + i))}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	clk := &smClock{t: time.Now()}
	c2 := smCrashCopy(t, file, clk)
	for i := range n {
		g, err := c2.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(fmt.Sprintf("s%02d", i))})
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if *g.SecretString != smVal(100+i) {
			t.Errorf("s%02d = %q after restart, want %q", i, *g.SecretString, smVal(100+i))
		}
	}
}

// ---- quotas and faults --------------------------------------------------------------

// smCounter counts the PutSecretValue answers a client gets, and the
// ThrottlingException refusals among them, calling onAnswer after each.
type smCounter struct {
	next             http.RoundTripper
	answers, refused atomic.Int64
	onAnswer         func(n int64)
}

func (c *smCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && r.Header.Get("X-Amz-Target") == "secretsmanager.PutSecretValue" {
		if resp.Header.Get("X-Amzn-ErrorType") == "ThrottlingException" {
			c.refused.Add(1)
		}
		n := c.answers.Add(1)
		if c.onAnswer != nil {
			c.onAnswer(n)
		}
	}
	return resp, err
}

// smHeldClock stands still until released, then runs at real speed.
type smHeldClock struct {
	mu       sync.Mutex
	base     time.Time
	released time.Time
}

func (c *smHeldClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released.IsZero() {
		return c.base
	}
	return c.base.Add(time.Since(c.released))
}

func (c *smHeldClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released.IsZero() {
		c.released = time.Now()
	}
}

func TestSecretsManagerThrottlingIsRetriedBySDK(t *testing.T) {
	// The clock stands still until every PutSecretValue of the burst has
	// had a first answer, so the 50-per-second write quota (one token of
	// which CreateSecret spends) refuses at least 11 of the 60, whatever
	// the speed of the machine; then it runs and the SDK's retries get
	// through.
	const burst = 60
	clk := &smHeldClock{base: smT0}
	_, url := smStart(t, Options{Quotas: true, Now: clk.Now})
	counter := &smCounter{next: http.DefaultTransport.(*http.Transport).Clone(), onAnswer: func(n int64) {
		if n >= burst {
			clk.release()
		}
	}}
	c := smNewClient(t, url, func(o *secretsmanager.Options) {
		o.HTTPClient = &http.Client{Transport: counter}
		o.RetryMaxAttempts = 10 // the SDK's standard retryer, with room for a slow machine
	})
	if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(0))}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, burst)
	for i := range burst {
		wg.Go(func() {
			_, errs[i] = c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(i + 1))})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutSecretValue %d failed: %v", i, err)
		}
	}
	if r := counter.refused.Load(); r < burst-49 {
		t.Errorf("the server refused %d PutSecretValue calls, want at least %d", r, burst-49)
	} else {
		t.Logf("%d refusals, %d answers in all", r, counter.answers.Load())
	}
	vs, err := c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != burst+1 {
		t.Errorf("%d versions, want %d (one per call, none twice)", len(vs.Versions), burst+1)
	}
}

func TestSecretsManagerLostFaultAppliesTheWrite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	clk := &smClock{t: smT0}
	opts := Options{Account: smAccount, DataFile: file, Now: clk.Now,
		Faults: []Fault{{Service: "secretsmanager", Op: "PutSecretValue", Mode: "lost", Rate: 1}}}
	srv, url := smStart(t, opts)
	c := smNewClient(t, url, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1))}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(2))})
	if err == nil {
		t.Fatal("PutSecretValue succeeded, want the error of a lost answer")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("PutSecretValue: got an API error %v, want a transport error", err)
	}
	g, err := c.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "AWSCURRENT after the lost PutSecretValue", []string{smTok(2), smVal(2)}, []string{*g.VersionId, *g.SecretString})

	// The write was durable too.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Faults = nil
	_, url2 := smStart(t, opts)
	g, err = smNewClient(t, url2).GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "AWSCURRENT after a restart", []string{smTok(2), smVal(2)}, []string{*g.VersionId, *g.SecretString})
	// A retry of the lost request with its ClientRequestToken is idempotent.
	out, err := smNewClient(t, url2).PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(2))})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "retry", []any{smTok(2), []string{"AWSCURRENT"}}, []any{*out.VersionId, out.VersionStages})
}

// ---- data file errors ---------------------------------------------------------------

func TestSecretsManagerBadSnapshotIsAnErrorNamingTheBucket(t *testing.T) {
	good := func(t *testing.T, file string) {
		srv, err := New(Options{Account: smAccount, DataFile: file})
		if err != nil {
			t.Fatal(err)
		}
		c := srv.SM.Store()
		if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1))}); err != nil {
			t.Fatal(err)
		}
		if err := srv.SM.Save(); err != nil {
			t.Fatal(err)
		}
		srv.Close()
	}
	corrupt := func(t *testing.T, file string) {
		t.Helper()
		good(t, file)
		srv, err := New(Options{Account: smAccount, DataFile: file})
		if err != nil {
			t.Fatal(err)
		}
		err = srv.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(localsm.Bucket).Put(localsm.Key, []byte(`{"format":1,`)) })
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, file string)
		opts  Options
	}{
		{name: "a snapshot that is not JSON", setup: corrupt, opts: Options{Account: smAccount}},
		{name: "a snapshot of another account", setup: good, opts: Options{Account: "999999999999"}},
		{name: "a snapshot of another region", setup: good, opts: Options{Account: smAccount, Region: "eu-west-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" makes New fail with an error naming the file and bucket secretsmanager", func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "rotor.db")
			tc.setup(t, file)
			opts := tc.opts
			opts.DataFile = file
			srv, err := New(opts)
			if err == nil {
				srv.Close()
				t.Fatal("New succeeded")
			}
			for _, want := range []string{file, `"secretsmanager"`, `"store"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a value: %v", err)
			}
			// New released the file.
			db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatalf("the data file is still locked after New failed: %v", err)
			}
			db.Close()
		})
	}

	t.Run("a data file without the bucket starts empty", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "rotor.db")
		_, url := smStart(t, Options{DataFile: file})
		out, err := smNewClient(t, url).ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SecretList) != 0 {
			t.Errorf("%d secrets in a new data file", len(out.SecretList))
		}
	})
}

func TestSecretsManagerStoreHelper(t *testing.T) {
	srv, url := smStart(t, Options{Account: smAccount})
	if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("seeded"), SecretString: aws.String(smVal(1))}); err != nil {
		t.Fatal(err)
	}
	g, err := smNewClient(t, url).GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("seeded")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "value of a secret seeded through Store()", smVal(1), *g.SecretString)
}

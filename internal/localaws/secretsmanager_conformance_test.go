package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

	"github.com/rotorhq/rotor/internal/smstore/smtest"
)

// The rules of Secrets Manager are tested once, by the conformance suite in
// smtest, which TestSecretsManagerConformance runs here against a started
// server through the real SDK client over HTTP (and smstore runs against the
// store directly). What follows it is about the endpoint alone: its wire
// protocol, its defaults, crash durability of its data file, quotas and
// faults. This file uses only New, Options, Start, Close and the SDK.

var smT0 = smtest.T0

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

var smARNRE = regexp.MustCompile(`^(arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)-[A-Za-z0-9]{6}$`)

// smMaskARN replaces the random suffix of a well-formed secret ARN with
// XXXXXX; anything else is returned unchanged (and shows in the diff).
func smMaskARN(arn string) string { return smARNRE.ReplaceAllString(arn, "$1-XXXXXX") }

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

// smNoRetry turns the SDK's retries off: it counts LimitExceededException
// as throttling and would retry it, and a conformance case must see the
// first answer, not a retried one.
func smNoRetry(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

// TestSecretsManagerConformance runs the conformance suite against a
// started server, through the SDK. A restart is Close and a new server on
// the same data file.
func TestSecretsManagerConformance(t *testing.T) {
	options := func(cfg smtest.Config) Options {
		return Options{Region: cfg.Region, Account: cfg.Account, Now: cfg.Now}
	}
	client := func(t *testing.T, cfg smtest.Config, url string) smtest.API {
		return smNewClient(t, url, smNoRetry, func(o *secretsmanager.Options) { o.Region = cfg.Region })
	}
	smtest.Run(t, smtest.Harness{
		New: func(t *testing.T, cfg smtest.Config) smtest.API {
			_, url := smStart(t, options(cfg))
			return client(t, cfg, url)
		},
		Restartable: func(t *testing.T, cfg smtest.Config) (smtest.API, func(*testing.T) smtest.API) {
			opts := options(cfg)
			opts.DataFile = filepath.Join(t.TempDir(), "rotor.db")
			srv, url := smStart(t, opts)
			return client(t, cfg, url), func(t *testing.T) smtest.API {
				t.Helper()
				if err := srv.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				srv, url = smStart(t, opts)
				return client(t, cfg, url)
			}
		},
	})
}

// smEnv is one test's client and the helpers of the endpoint's own tests.
type smEnv struct {
	t *testing.T
	c *secretsmanager.Client
}

func (e *smEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("unexpected error: %v", err)
	}
}

// create makes a secret with value smVal(n) and version id smTok(n).
func (e *smEnv) create(name string, n int) {
	e.t.Helper()
	_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(smVal(n)), ClientRequestToken: aws.String(smTok(n))})
	e.must(err)
}

// put adds version smTok(n) with value smVal(n); no stages means
// VersionStages is not sent.
func (e *smEnv) put(name string, n int, stages ...string) {
	e.t.Helper()
	_, err := e.putErr(name, n, stages...)
	e.must(err)
}

func (e *smEnv) putErr(name string, n int, stages ...string) (*secretsmanager.PutSecretValueOutput, error) {
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(smVal(n)), ClientRequestToken: aws.String(smTok(n))}
	if len(stages) > 0 {
		in.VersionStages = stages
	}
	return e.c.PutSecretValue(smCtx, in)
}

func (e *smEnv) del(name string, days int64) {
	e.t.Helper()
	_, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name), RecoveryWindowInDays: aws.Int64(days)})
	e.must(err)
}

func (e *smEnv) get(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
	return e.c.GetSecretValue(smCtx, in)
}

func (e *smEnv) describe(id string) *secretsmanager.DescribeSecretOutput {
	e.t.Helper()
	out, err := e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
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

// smCmpOpts ignores the SDK's serde markers and result metadata.
var smCmpOpts = cmp.Options{
	cmpopts.IgnoreTypes(document.NoSerde{}, middleware.Metadata{}),
	cmpopts.EquateEmpty(),
}

func smDiff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, smCmpOpts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// ---- defaults ---------------------------------------------------------------------

func TestSecretsManagerDefaultClockAndAccount(t *testing.T) {
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
	if d.CreatedDate == nil || d.CreatedDate.Sub(before).Abs() >= time.Second {
		t.Errorf("CreatedDate with Options.Now nil = %v, want within a second of %v", d.CreatedDate, before)
	}
	smDiff(t, "ARN with the default region and account", "arn:aws:secretsmanager:us-east-1:000000000000:secret:s-XXXXXX", smMaskARN(*d.ARN))
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

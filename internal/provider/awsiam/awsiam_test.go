package awsiam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

const (
	tokenA = "3f0c6a52-8a51-4b4e-9d0b-2c7f5e1a0a01"
	tokenB = "9b1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e02"
	// testWait keeps Verify's wait for propagation short in tests.
	testWait = 300 * time.Millisecond
	// secretARN is the managed secret the test users consent to back.
	secretARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:deploy-AbCdEf"
)

// env is a local endpoint with an administrator's IAM client (the
// server's default credentials, which IAM accepts and STS refuses).
type env struct {
	t     *testing.T
	srv   *localaws.Server
	url   string
	hc    *http.Client
	admin *iam.Client

	mu      sync.Mutex
	secrets []string // every secret access key IAM answered
}

func newEnv(t *testing.T, opts localaws.Options) *env {
	t.Helper()
	srv, err := localaws.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// Connections close before the server (cleanups run last first).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{t: t, srv: srv, url: url, hc: &http.Client{Transport: tr}}
	e.admin = iam.NewFromConfig(e.config(e.record(e.hc)))
	return e
}

// config is the AWS configuration of the administrator, without retries
// so that injected failures reach the provider.
func (e *env) config(hc aws.HTTPClient) aws.Config {
	return aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		BaseEndpoint:     aws.String(e.url),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	}
}

// provider returns a provider on this endpoint; wrap, if not nil, wraps
// its HTTP client (to lose answers).
func (e *env) provider(wrap func(aws.HTTPClient) aws.HTTPClient) *Provider {
	var hc aws.HTTPClient = e.record(e.hc)
	if wrap != nil {
		hc = wrap(hc)
	}
	p := New(e.config(hc))
	p.VerifyWait = testWait
	return p
}

// record remembers every secret access key in IAM's answers.
func (e *env) record(next aws.HTTPClient) aws.HTTPClient {
	return clientFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.Do(r)
		if err != nil {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if m := secretRE.FindSubmatch(body); m != nil {
			e.mu.Lock()
			e.secrets = append(e.secrets, string(m[1]))
			e.mu.Unlock()
		}
		return resp, nil
	})
}

var secretRE = regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`)

func (e *env) minted() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.secrets)
}

type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// action returns a request's query-protocol Action, leaving its body
// readable.
func action(r *http.Request) string {
	if r.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	m := regexp.MustCompile(`(?:^|&)Action=(\w+)`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// lose makes the server act on the calls to op numbered skip+1 to
// skip+n and then drops their answers, as a network failure would.
func lose(op string, skip, n int) func(aws.HTTPClient) aws.HTTPClient {
	return func(next aws.HTTPClient) aws.HTTPClient {
		var mu sync.Mutex
		seen := 0
		return clientFunc(func(r *http.Request) (*http.Response, error) {
			a := action(r)
			resp, err := next.Do(r)
			mu.Lock()
			drop := false
			if a == op {
				seen++
				drop = seen > skip && seen <= skip+n
			}
			mu.Unlock()
			if drop && err == nil {
				resp.Body.Close()
				return nil, fmt.Errorf("test: the answer to %s was lost", op)
			}
			return resp, err
		})
	}
}

// notYet answers InvalidClientTokenId to the first n GetCallerIdentity
// calls without sending them, as STS does before a new key propagated.
func notYet(n int) func(aws.HTTPClient) aws.HTTPClient {
	return func(next aws.HTTPClient) aws.HTTPClient {
		var mu sync.Mutex
		return clientFunc(func(r *http.Request) (*http.Response, error) {
			if action(r) == "GetCallerIdentity" {
				mu.Lock()
				refuse := n > 0
				n--
				mu.Unlock()
				if refuse {
					body := `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
						`<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>x</RequestId></ErrorResponse>`
					return &http.Response{StatusCode: 403, Status: "403 Forbidden", Header: http.Header{"Content-Type": {"text/xml"}},
						Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
				}
			}
			return next.Do(r)
		})
	}
}

// user creates an IAM user that consents to back secretARN.
func (e *env) user(name string) { e.userBacking(name, secretARN) }

// userBacking creates an IAM user whose TagSecret names secret ("": none).
func (e *env) userBacking(name, secret string) {
	e.t.Helper()
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	if secret != "" {
		in.Tags = []iamtypes.Tag{{Key: aws.String(TagSecret), Value: aws.String(secret)}}
	}
	if _, err := e.admin.CreateUser(context.Background(), in); err != nil {
		e.t.Fatal(err)
	}
}

type key struct{ id, secret string }

func (e *env) key(user string) key {
	e.t.Helper()
	out, err := e.admin.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		e.t.Fatal(err)
	}
	return key{aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)}
}

// keys lists a user's key ids, oldest first.
func (e *env) keys(user string) []string {
	var ids []string
	for _, k := range e.srv.IAM.AccessKeys(user) {
		ids = append(ids, k.AccessKeyID)
	}
	return ids
}

// tags lists a user's token tags.
func (e *env) tags(user string) map[string]string {
	e.t.Helper()
	out, err := e.admin.ListUserTags(context.Background(), &iam.ListUserTagsInput{UserName: aws.String(user)})
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]string{}
	for _, t := range out.Tags {
		if k := aws.ToString(t.Key); strings.HasPrefix(k, TokenTagPrefix) {
			m[k] = aws.ToString(t.Value)
		}
	}
	return m
}

// live reports whether STS accepts a key, independently of the provider.
func (e *env) live(k key) bool {
	cfg := e.config(e.hc)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(k.id, k.secret, "")
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	return err == nil
}

func valueOf(t *testing.T, v []byte) (Value, key) {
	t.Helper()
	var out Value
	if err := json.Unmarshal(v, &out); err != nil {
		t.Fatalf("value is not JSON: %v", err)
	}
	return out, key{out.AccessKeyID, out.SecretAccessKey}
}

func value(user string, k key) []byte {
	b, _ := json.Marshal(Value{UserName: user, AccessKeyID: k.id, SecretAccessKey: k.secret})
	return b
}

// noSecret fails when err's text holds a secret IAM answered.
func (e *env) noSecret(err error) {
	e.t.Helper()
	if err == nil {
		return
	}
	for _, s := range e.minted() {
		if strings.Contains(err.Error(), s) {
			e.t.Errorf("error %q contains a secret access key", rotorerr.Classify(err))
		}
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name: Name,
		Setup: func(t *testing.T) *providertest.Case {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			// The secret starts empty, its user named by the tag: the
			// suite's tokens then each get a key beside no other, which
			// its RevokeToken case needs (a current key would make the
			// second token's create delete the first token's key, by the
			// two-key rule, tested on its own below).
			return &providertest.Case{
				Provider: e.provider(nil),
				SecretID: secretARN,
				Options:  provider.Options{OptionUser: "svc"},
				Live: func(v []byte) bool {
					var val Value
					return json.Unmarshal(v, &val) == nil && e.live(key{val.AccessKeyID, val.SecretAccessKey})
				},
				Secrets: e.minted,
				Break: func(v []byte) []byte {
					var val Value
					_ = json.Unmarshal(v, &val)
					last := "A"
					if strings.HasSuffix(val.SecretAccessKey, "A") {
						last = "B"
					}
					val.SecretAccessKey = val.SecretAccessKey[:len(val.SecretAccessKey)-1] + last
					b, _ := json.Marshal(val)
					return b
				},
			}
		},
		BadOptions: map[string]provider.Options{
			"an unknown option":         {"role": "x"},
			"a user name IAM refuses":   {OptionUser: "not a name"},
			"an overlong user name":     {OptionUser: strings.Repeat("u", 65)},
			"an empty user name option": {OptionUser: ""},
		},
	})
}

func TestTwoKeyRule(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// setup makes the user's keys and returns the current value.
		setup func(e *env) (current []byte, keep []key, gone []key)
		// wantErr, if set, is the kind Create must fail with.
		wantErr rotorerr.Kind
	}{
		{"two keys: the one that is not current goes", func(e *env) ([]byte, []key, []key) {
			old, cur := e.key("svc"), e.key("svc")
			return value("svc", cur), []key{cur}, []key{old}
		}, ""},
		{"two keys: the current one stays even when it is the older", func(e *env) ([]byte, []key, []key) {
			cur, leaked := e.key("svc"), e.key("svc")
			return value("svc", cur), []key{cur}, []key{leaked}
		}, ""},
		{"an inactive second key counts against the two", func(e *env) ([]byte, []key, []key) {
			cur, old := e.key("svc"), e.key("svc")
			if _, err := e.admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: &old.id, Status: iamtypes.StatusTypeInactive}); err != nil {
				t.Fatal(err)
			}
			return value("svc", cur), []key{cur}, []key{old}
		}, ""},
		{"one key, the current one: it stays", func(e *env) ([]byte, []key, []key) {
			cur := e.key("svc")
			return value("svc", cur), []key{cur}, nil
		}, ""},
		{"one key that is not the current value's: it stays", func(e *env) ([]byte, []key, []key) {
			other := e.key("svc")
			return []byte(`{"userName":"svc"}`), []key{other}, nil
		}, ""},
		{"no keys at all", func(e *env) ([]byte, []key, []key) {
			return []byte(`{"userName":"svc"}`), nil, nil
		}, ""},
		{"two keys, neither current: refused, nothing deleted", func(e *env) ([]byte, []key, []key) {
			a, b := e.key("svc"), e.key("svc")
			return []byte(`{"userName":"svc"}`), []key{a, b}, nil
		}, rotorerr.Unsafe},
		{"two keys and a current key that no longer exists: refused", func(e *env) ([]byte, []key, []key) {
			a, b := e.key("svc"), e.key("svc")
			gone := e.key("other")
			if _, err := e.admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("other"), AccessKeyId: &gone.id}); err != nil {
				t.Fatal(err)
			}
			return value("svc", gone), []key{a, b}, nil
		}, rotorerr.Unsafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			e.user("other")
			current, keep, gone := tc.setup(e)
			p := e.provider(nil)
			resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current})
			e.noSecret(err)
			if tc.wantErr != "" {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Create = %v, want %s", err, tc.wantErr)
				}
				if n := len(e.keys("svc")); n != 2 {
					t.Errorf("%d keys after a refused create, want the 2 there were", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			v, minted := valueOf(t, resp.Value)
			if v.UserName != "svc" || !e.live(minted) {
				t.Errorf("the new key of %q is not live", v.UserName)
			}
			var want []string
			for _, k := range keep {
				want = append(want, k.id)
				if !e.live(k) {
					t.Errorf("key %s, which had to stay, stopped working", k.id)
				}
			}
			want = append(want, minted.id)
			if diff := cmp.Diff(want, e.keys("svc")); diff != "" {
				t.Errorf("keys after Create (-want +got):\n%s", diff)
			}
			for _, k := range gone {
				if e.live(k) {
					t.Errorf("key %s still works", k.id)
				}
			}
			if diff := cmp.Diff(map[string]string{TokenTagPrefix + tokenA: minted.id}, e.tags("svc")); diff != "" {
				t.Errorf("token tags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetriedCreate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		initial  int // keys the user has, the newest being the current value's
		lose     func(aws.HTTPClient) aws.HTTPClient
		firstErr rotorerr.Kind // "" when the first attempt succeeds (its answer lost later)
	}{
		{"the first attempt's value never reached Secrets Manager", 1, nil, ""},
		{"IAM's answer to CreateAccessKey was lost", 1, lose("CreateAccessKey", 0, 1), rotorerr.Transient},
		{"IAM's answer to CreateAccessKey was lost, the user had two keys", 2, lose("CreateAccessKey", 0, 1), rotorerr.Transient},
		{"IAM's answer to CreateAccessKey was lost, the user had none", 0, lose("CreateAccessKey", 0, 1), rotorerr.Transient},
		{"the answer to the labelling TagUser was lost", 1, lose("TagUser", 1, 1), rotorerr.Transient},
		{"the answer to the pending TagUser was lost", 1, lose("TagUser", 0, 1), rotorerr.Transient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			current := []byte(`{"userName":"svc"}`)
			var cur key
			for range tc.initial {
				cur = e.key("svc")
				current = value("svc", cur)
			}
			req := &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current}

			first, err := e.provider(tc.lose).Create(ctx, req)
			e.noSecret(err)
			if tc.firstErr != "" {
				if !errors.Is(err, tc.firstErr) {
					t.Fatalf("first Create = %v, want %s", err, tc.firstErr)
				}
			} else if err != nil {
				t.Fatalf("first Create: %v", err)
			}
			if n := len(e.keys("svc")); n > 2 {
				t.Fatalf("%d keys after the first attempt", n)
			}

			second, err := e.provider(nil).Create(ctx, req)
			e.noSecret(err)
			if err != nil {
				t.Fatalf("retried Create: %v", err)
			}
			_, minted := valueOf(t, second.Value)
			if !e.live(minted) {
				t.Error("the retry's key is not live")
			}
			if first != nil {
				if _, k := valueOf(t, first.Value); e.live(k) {
					t.Error("the first attempt's key still works beside the retry's")
				}
			}
			want := []string{minted.id}
			if tc.initial > 0 {
				want = []string{cur.id, minted.id}
				if !e.live(cur) {
					t.Error("the current key stopped working")
				}
			}
			if diff := cmp.Diff(want, e.keys("svc")); diff != "" {
				t.Errorf("keys after the retry (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]string{TokenTagPrefix + tokenA: minted.id}, e.tags("svc")); diff != "" {
				t.Errorf("token tags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenTagOnCurrentKey: a token whose tag names the current value's
// key (create runs again after its switchover, which the state machine
// never does) must not cost consumers their key.
func TestTokenTagOnCurrentKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	cur := e.key("svc")
	if _, err := e.admin.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"),
		Tags: []iamtypes.Tag{{Key: aws.String(TokenTagPrefix + tokenA), Value: &cur.id}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.provider(nil).Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: value("svc", cur)})
	if err != nil {
		t.Fatal(err)
	}
	_, minted := valueOf(t, resp.Value)
	if !e.live(cur) {
		t.Error("the current key stopped working")
	}
	if diff := cmp.Diff([]string{cur.id, minted.id}, e.keys("svc")); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	e.user("other")
	good := e.key("svc")
	deleted := e.key("svc")
	if _, err := e.admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: &deleted.id}); err != nil {
		t.Fatal(err)
	}
	inactive := e.key("svc")
	if _, err := e.admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: &inactive.id, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	others := e.key("other")
	wrong := key{good.id, strings.ToLower(good.secret[:20]) + good.secret[20:]}
	if wrong.secret == good.secret {
		wrong.secret = "x" + good.secret[1:]
	}

	for _, tc := range []struct {
		name    string
		value   []byte
		opts    provider.Options
		wrap    func(aws.HTTPClient) aws.HTTPClient
		faults  bool // the server fails every STS call
		want    rotorerr.Kind
		waits   bool // the failure comes only after VerifyWait
		message string
	}{
		{"a live key", value("svc", good), nil, nil, false, "", false, ""},
		{"a live key, the user named by the tag", value("", good), provider.Options{OptionUser: "svc"}, nil, false, "", false, ""},
		{"a new key STS learns of after two tries", value("svc", good), nil, notYet(2), false, "", false, ""},
		{"a deleted key", value("svc", deleted), nil, nil, false, rotorerr.VerificationFailed, true, "InvalidClientTokenId"},
		{"an inactive key", value("svc", inactive), nil, nil, false, rotorerr.VerificationFailed, true, "InvalidClientTokenId"},
		{"a wrong secret", value("svc", wrong), nil, nil, false, rotorerr.VerificationFailed, false, "SignatureDoesNotMatch"},
		{"another user's key", value("svc", others), nil, nil, false, rotorerr.VerificationFailed, false, "belongs to arn:aws:iam::000000000000:user/other"},
		{"a value without its secret", []byte(`{"userName":"svc","accessKeyId":"` + good.id + `"}`), nil, nil, false, rotorerr.VerificationFailed, false, "lacks"},
		{"a value that is not JSON", []byte(`{"userName":`), nil, nil, false, rotorerr.VerificationFailed, false, "truncated or empty JSON"},
		{"a value with an unknown field", []byte(`{"userName":"svc","accessKeyID":"` + good.id + `"}`), nil, nil, false, rotorerr.VerificationFailed, false, `unknown field "/accessKeyID"`},
		{"STS failing", value("svc", good), nil, nil, true, rotorerr.Transient, false, "InternalFailure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := e
			if tc.faults {
				target = newEnv(t, localaws.Options{Faults: []localaws.Fault{{Service: "sts", Op: "*", Mode: "error", Rate: 1}}})
			}
			p := target.provider(tc.wrap)
			if tc.wrap != nil {
				p.VerifyWait = 10 * time.Second // room for the backoff: 250 ms, then 500 ms
			}
			start := time.Now()
			err := p.Verify(ctx, &provider.VerifyRequest{SecretID: secretARN, Token: tokenA, Value: tc.value, Options: tc.opts})
			took := time.Since(start)
			e.noSecret(err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Verify = %v (%s), want %s saying %q", err, k, tc.want, tc.message)
			}
			if tc.waits && took < testWait/2 {
				t.Errorf("failed after %s: it should wait about %s for IAM to propagate", took, testWait)
			}
			if !tc.waits && took > testWait {
				t.Errorf("took %s: a refusal other than InvalidClientTokenId should fail at once", took)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	p := e.provider(nil)
	cur := e.key("svc")
	resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: value("svc", cur)})
	if err != nil {
		t.Fatal(err)
	}
	_, minted := valueOf(t, resp.Value)

	revoke := func(v, current []byte, o provider.Options) error {
		err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: secretARN, VersionID: tokenA, Value: v, Current: current, Options: o})
		e.noSecret(err)
		return err
	}
	for _, tc := range []struct {
		name    string
		v, cur  []byte
		opts    provider.Options
		want    rotorerr.Kind
		message string
	}{
		{"the current key", value("svc", cur), value("svc", cur), nil, rotorerr.Unsafe, "it is the current value's key"},
		{"with a current value that cannot be read", value("svc", cur), []byte("{"), nil, rotorerr.Unsafe, "cannot be read"},
		{"a value without a key id", []byte(`{"userName":"svc","secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`), nil, nil, rotorerr.InvalidInput, "no accessKeyId"},
		{"a value without a user", value("", cur), nil, nil, rotorerr.InvalidInput, "no IAM user"},
		{"a value whose user the tag contradicts", value("svc", cur), nil, provider.Options{OptionUser: "ops"}, rotorerr.InvalidInput, "name different IAM users"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			err := revoke(tc.v, tc.cur, tc.opts)
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Revoke = %v (%s), want %s saying %q", err, k, tc.want, tc.message)
			}
			if !e.live(cur) {
				t.Fatal("the current key stopped working")
			}
		})
	}

	t.Run("revokes the old key once the new one is current", func(t *testing.T) {
		if err := revoke(value("svc", cur), resp.Value, nil); err != nil {
			t.Fatal(err)
		}
		if e.live(cur) {
			t.Error("the revoked key still works")
		}
		if diff := cmp.Diff([]string{minted.id}, e.keys("svc")); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
		if err := revoke(value("svc", cur), resp.Value, nil); err != nil {
			t.Errorf("revoking it again = %v, want nil", err)
		}
	})
	t.Run("removes the token tag of the key it revokes", func(t *testing.T) {
		if err := revoke(resp.Value, nil, nil); err != nil {
			t.Fatal(err)
		}
		if tags := e.tags("svc"); len(tags) != 0 {
			t.Errorf("token tags left: %v", tags)
		}
	})
	t.Run("a value that holds no key is success", func(t *testing.T) {
		// The value a secret starts with before its first rotation.
		if err := revoke([]byte(`{"userName":"svc"}`), resp.Value, nil); err != nil {
			t.Errorf("Revoke of {userName} alone = %v, want nil", err)
		}
	})
	t.Run("a user that is gone is success", func(t *testing.T) {
		if err := revoke(value("nobody", minted), nil, nil); err != nil {
			t.Errorf("Revoke for a user that does not exist = %v, want nil", err)
		}
	})
}

func TestRevokeToken(t *testing.T) {
	ctx := context.Background()
	opts := provider.Options{OptionUser: "svc"}
	for _, tc := range []struct {
		name string
		// create runs the create attempts for tokenA (and may mint beside).
		create func(e *env, current []byte)
		want   int
	}{
		{"a key labelled for the token", func(e *env, current []byte) {
			if _, err := e.provider(nil).Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts}); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"a key whose CreateAccessKey answer was lost, which Create deleted itself", func(e *env, current []byte) {
			_, err := e.provider(lose("CreateAccessKey", 0, 1)).Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts})
			if !errors.Is(err, rotorerr.Transient) {
				t.Fatalf("Create = %v, want Transient", err)
			}
		}, 0},
		{"a key whose CreateAccessKey answer was lost, and IAM unreachable after", func(e *env, current []byte) {
			p := e.provider(func(next aws.HTTPClient) aws.HTTPClient {
				lost := false
				return clientFunc(func(r *http.Request) (*http.Response, error) {
					if lost {
						return nil, errors.New("test: no connection")
					}
					a := action(r)
					resp, err := next.Do(r)
					if a == "CreateAccessKey" && err == nil {
						lost = true
						resp.Body.Close()
						return nil, errors.New("test: the answer to CreateAccessKey was lost")
					}
					return resp, err
				})
			})
			_, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts})
			if !errors.Is(err, rotorerr.Transient) || !strings.Contains(err.Error(), "left to a retry under the pending tag") {
				t.Fatalf("Create = %v, want Transient saying the key is left to the pending tag", err)
			}
		}, 1},
		{"a create that failed before minting", func(e *env, current []byte) {
			p := e.provider(func(next aws.HTTPClient) aws.HTTPClient {
				return clientFunc(func(r *http.Request) (*http.Response, error) {
					if action(r) == "CreateAccessKey" {
						return nil, errors.New("test: no connection")
					}
					return next.Do(r)
				})
			})
			if _, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts}); !errors.Is(err, rotorerr.Transient) {
				t.Fatalf("Create = %v, want Transient", err)
			}
		}, 0},
		{"nothing for the token", func(*env, []byte) {}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			cur := e.key("svc")
			tc.create(e, value("svc", cur))
			p := e.provider(nil)
			n, err := p.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA, Options: opts})
			e.noSecret(err)
			if err != nil || n != tc.want {
				t.Fatalf("RevokeToken = %d, %v; want %d, nil", n, err, tc.want)
			}
			if diff := cmp.Diff([]string{cur.id}, e.keys("svc")); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if !e.live(cur) {
				t.Error("the current key stopped working")
			}
			if tags := e.tags("svc"); len(tags) != 0 {
				t.Errorf("token tags left: %v", tags)
			}
			if n, err := p.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA, Options: opts}); n != 0 || err != nil {
				t.Errorf("second RevokeToken = %d, %v; want 0, nil", n, err)
			}
		})
	}

	t.Run("needs the user tag", func(t *testing.T) {
		e := newEnv(t, localaws.Options{})
		_, err := e.provider(nil).RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA})
		if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), "rotor:awsiam:user") {
			t.Fatalf("RevokeToken without the tag = %v, want InvalidInput naming it", err)
		}
	})
	t.Run("a user that does not exist has nothing to revoke", func(t *testing.T) {
		e := newEnv(t, localaws.Options{})
		n, err := e.provider(nil).RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA, Options: provider.Options{OptionUser: "nobody"}})
		if n != 0 || err != nil {
			t.Fatalf("RevokeToken = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestIdentify(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name    string
		value   string
		want    *provider.Identity
		message string // for errors
	}{
		{"a full value", `{"userName":"svc","accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"` + secret + `"}`,
			&provider.Identity{KeyID: "AKIAIOSFODNN7EXAMPLE", Secret: []byte(secret)}, ""},
		{"a value with no key yet", `{"userName":"svc"}`, &provider.Identity{}, ""},
		{"an unknown field", `{"userName":"svc","secret":"` + secret + `"}`, nil, `unknown field "/secret"`},
		{"a field of the wrong type", `{"userName":"svc","accessKeyId":7}`, nil, `"/accessKeyId" must be a string`},
		{"a malformed key id", `{"userName":"svc","accessKeyId":"` + secret + `"}`, nil, "field accessKeyId is not an AWS access key id"},
		{"a user name IAM refuses", `{"userName":"a b","accessKeyId":"AKIAIOSFODNN7EXAMPLE"}`, nil, "field userName is not an IAM user name"},
		{"not JSON", `AKIAIOSFODNN7EXAMPLE:` + secret, nil, "malformed JSON"},
		{"a JSON array", `["` + secret + `"]`, nil, "must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := (&Provider{}).Identify([]byte(tc.value), nil)
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Identify (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Identify = %v, want InvalidInput saying %q", err, tc.message)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("the error quotes the secret access key")
			}
		})
	}
}

// TestBadValues checks that Create refuses current values and options it
// cannot use before calling IAM, naming the field and quoting no secret.
func TestBadValues(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	for _, tc := range []struct {
		name    string
		current string
		opts    provider.Options
		token   string
		message string
	}{
		{"no user anywhere", ``, nil, tokenA, "no IAM user: set field userName or the tag rotor:awsiam:user"},
		{"no user in the value", `{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","secretAccessKey":"` + secret + `"}`, nil, tokenA, "no IAM user"},
		{"a value and a tag naming different users", `{"userName":"svc"}`, provider.Options{OptionUser: "ops"}, tokenA, `field userName ("svc") and tag rotor:awsiam:user ("ops")`},
		{"an unknown field holding the secret", `{"userName":"svc","SecretAccessKey":"` + secret + `"}`, nil, tokenA, `unknown field "/SecretAccessKey"`},
		{"the secret where the key id goes", `{"userName":"svc","accessKeyId":"` + secret + `"}`, nil, tokenA, "field accessKeyId is not an AWS access key id"},
		{"a secret that is not a string", `{"userName":"svc","secretAccessKey":["` + secret + `"]}`, nil, tokenA, `"/secretAccessKey" must be a string`},
		{"a duplicate field", `{"userName":"svc","userName":"svc"}`, nil, tokenA, "duplicate"},
		{"truncated JSON", `{"userName":"svc","secretAccessKey":"` + secret, nil, tokenA, "JSON"},
		{"an unknown option", `{"userName":"svc"}`, provider.Options{"role": "admin"}, tokenA, "rotor:awsiam:role"},
		{"a token that cannot be a tag key", `{"userName":"svc"}`, nil, "a*b", "does not fit in an IAM tag key"},
		{"a user that does not exist", `{"userName":"ghost"}`, nil, tokenA, "NoSuchEntity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.provider(nil).Create(context.Background(), &provider.CreateRequest{SecretID: secretARN, Token: tc.token, Current: []byte(tc.current), Options: tc.opts})
			if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Create = %v, want InvalidInput saying %q", err, tc.message)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("the error quotes the secret access key")
			}
		})
	}
	if n := len(e.keys("svc")); n != 0 {
		t.Errorf("refused creates minted %d keys", n)
	}
}

// TestTransient checks that failures worth retrying are Transient.
func TestTransient(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault string
		ctx   func() context.Context
	}{
		{"IAM answers 500", "iam:ListAccessKeys:error", nil},
		{"IAM is throttling", "", nil},
		{"the context is canceled", "", func() context.Context {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts localaws.Options
			if tc.fault != "" {
				f, err := localaws.ParseFault(tc.fault)
				if err != nil {
					t.Fatal(err)
				}
				opts.Faults = []localaws.Fault{f}
			}
			e := newEnv(t, opts)
			e.user("svc")
			var wrap func(aws.HTTPClient) aws.HTTPClient
			if tc.name == "IAM is throttling" {
				wrap = func(aws.HTTPClient) aws.HTTPClient {
					return clientFunc(func(r *http.Request) (*http.Response, error) {
						body := `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>`
						return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"text/xml"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
					})
				}
			}
			c := ctx
			if tc.ctx != nil {
				c = tc.ctx()
			}
			_, err := e.provider(wrap).Create(c, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: []byte(`{"userName":"svc"}`)})
			if k := rotorerr.Classify(err); k != rotorerr.Transient {
				t.Fatalf("Create = %v (%s), want Rotor.Transient", err, k)
			}
		})
	}
}

// TestDefaultConfiguration runs the zero Provider, as registered, against
// the local endpoint through the SDK's standard environment variables.
func TestDefaultConfiguration(t *testing.T) {
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_IAM", e.url)
	t.Setenv("AWS_ENDPOINT_URL_STS", e.url)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")

	registered, err := provider.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := registered.(*Provider); !ok {
		t.Fatalf("registered provider is %T", registered)
	}
	p := &Provider{VerifyWait: testWait}
	ctx := context.Background()
	resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Options: provider.Options{OptionUser: "svc"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx, &provider.VerifyRequest{SecretID: secretARN, Token: tokenA, Value: resp.Value}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestUserConsent: a secret's tag naming an IAM user is a request; only
// the user's own rotor:secret tag lets a rotation act on its keys.
func TestUserConsent(t *testing.T) {
	ctx := context.Background()
	const other = "arn:aws:secretsmanager:us-east-1:000000000000:secret:victim-ZyXwVu"
	for _, tc := range []struct {
		name, backs, want string
	}{
		{"a user with no rotor:secret tag", "", "IAM user svc has no tag rotor:secret"},
		{"a user that backs another secret", other, "IAM user svc backs another secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.userBacking("svc", tc.backs)
			cur := e.key("svc")
			old := e.key("svc")
			before := e.keys("svc")
			p := e.provider(nil)
			current := value("svc", cur)
			calls := []struct {
				op string
				fn func() error
			}{
				{"Create", func() error {
					_, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current})
					return err
				}},
				{"Revoke", func() error {
					return p.Revoke(ctx, &provider.RevokeRequest{SecretID: secretARN, VersionID: tokenB, Value: value("svc", old), Current: current})
				}},
				{"RevokeToken", func() error {
					_, err := p.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA, Options: provider.Options{OptionUser: "svc"}})
					return err
				}},
			}
			for _, c := range calls {
				err := c.fn()
				if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(fmt.Sprint(err), tc.want) {
					t.Errorf("%s = %v, want Rotor.InvalidInput saying %q", c.op, err, tc.want)
				}
				if strings.Contains(fmt.Sprint(err), other) {
					t.Errorf("%s: the error names the secret the user backs: %v", c.op, err)
				}
			}
			if diff := cmp.Diff(before, e.keys("svc")); diff != "" {
				t.Errorf("keys changed (-before +after):\n%s", diff)
			}
			if len(e.tags("svc")) != 0 {
				t.Errorf("token tags written: %v", e.tags("svc"))
			}
			if !e.live(cur) || !e.live(old) {
				t.Error("a key stopped working")
			}
		})
	}
}

// TestKeysOtherSecretsHold: a key recorded as another secret's (or another
// rotation's) current or pending value is never deleted.
func TestKeysOtherSecretsHold(t *testing.T) {
	ctx := context.Background()
	const other = "arn:aws:secretsmanager:us-east-1:000000000000:secret:other-QwErTy"
	e := newEnv(t, localaws.Options{})
	e.user("svc")
	held, cur := e.key("svc"), e.key("svc")
	holders := func(_ context.Context, id string) ([]provider.Holder, error) {
		if id == held.id {
			return []provider.Holder{{SecretID: other, VersionID: tokenB, Label: "AWSPENDING"}}, nil
		}
		return nil, nil
	}
	p := e.provider(nil)
	_, err := p.Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: value("svc", cur), Holders: holders})
	if !errors.Is(err, rotorerr.Unsafe) || !strings.Contains(fmt.Sprint(err), "version "+tokenB+" of secret "+other+" holds it as AWSPENDING") {
		t.Errorf("Create = %v, want Rotor.Unsafe naming the holder", err)
	}
	err = p.Revoke(ctx, &provider.RevokeRequest{SecretID: secretARN, VersionID: tokenA, Value: value("svc", held), Current: value("svc", cur), Holders: holders})
	if !errors.Is(err, rotorerr.Unsafe) {
		t.Errorf("Revoke = %v, want Rotor.Unsafe", err)
	}
	if diff := cmp.Diff([]string{held.id, cur.id}, e.keys("svc")); diff != "" {
		t.Errorf("keys changed (-want +got):\n%s", diff)
	}
	// The version being revoked is not "another" holder of its own key.
	self := func(_ context.Context, id string) ([]provider.Holder, error) {
		return []provider.Holder{{SecretID: secretARN, VersionID: tokenA, Label: "AWSPENDING"}}, nil
	}
	if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: secretARN, VersionID: tokenA, Value: value("svc", held), Current: value("svc", cur), Holders: self}); err != nil {
		t.Errorf("Revoke of the version's own key = %v", err)
	}
	if e.live(held) {
		t.Error("the revoked key still works")
	}
}

// providerWith returns a provider on this endpoint whose AWS configuration
// conf may change (its retries); wrap, if not nil, wraps its HTTP client.
func (e *env) providerWith(conf func(*aws.Config), wrap func(aws.HTTPClient) aws.HTTPClient) *Provider {
	var hc aws.HTTPClient = e.record(e.hc)
	if wrap != nil {
		hc = wrap(hc)
	}
	cfg := e.config(hc)
	if conf != nil {
		conf(&cfg)
	}
	p := New(cfg)
	p.VerifyWait = testWait
	return p
}

// sdkDefaultRetries leaves retries as config.LoadDefaultConfig does: the
// SDK's standard retryer, three attempts, its own backoff, so that a lost
// answer is resent by the SDK before the provider sees it.
func sdkDefaultRetries(cfg *aws.Config) { cfg.RetryMaxAttempts = 0 }

// sdkQuickRetries is the SDK's standard retryer without its backoff, for
// tests that lose many answers.
func sdkQuickRetries(cfg *aws.Config) {
	cfg.RetryMaxAttempts = 0
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
}

// unaccounted lists the user's active keys that none of held is and that
// no token tag accounts for: not named by one, and not possibly minted
// under a pending one (absent from its list of the keys before).
func (e *env) unaccounted(user string, held ...key) []string {
	e.t.Helper()
	tags := e.tags(user)
	var out []string
	for _, k := range e.srv.IAM.AccessKeys(user) {
		if k.Status != string(iamtypes.StatusTypeActive) ||
			slices.ContainsFunc(held, func(h key) bool { return h.id == k.AccessKeyID }) {
			continue
		}
		accounted := false
		for _, v := range tags {
			known, pending := strings.CutPrefix(v, pendingPrefix)
			if v == k.AccessKeyID || pending && !slices.Contains(strings.Split(known, "/"), k.AccessKeyID) {
				accounted = true
			}
		}
		if !accounted {
			out = append(out, k.AccessKeyID)
		}
	}
	return out
}

// setupKeys gives user svc n keys and returns the current value (the
// newest key's) and all n keys, oldest first: the current one last, the
// one before it the previous version's, still in its grace period.
func (e *env) setupKeys(n int) ([]byte, []key) {
	current := []byte(`{"userName":"svc"}`)
	var keys []key
	for range n {
		keys = append(keys, e.key("svc"))
		current = value("svc", keys[len(keys)-1])
	}
	return current, keys
}

func countOf(calls []string, op string) int {
	n := 0
	for _, c := range calls {
		if c == op {
			n++
		}
	}
	return n
}

// TestSDKResentCreateAccessKey: CreateAccessKey's answer is lost once and
// the provider's client runs the SDK's default retryer. A resend would
// mint a second key (the first one's secret is gone with the answer): no
// live key may be left that neither a value nor a token tag accounts for,
// and the step's retry converges on exactly one new key.
func TestSDKResentCreateAccessKey(t *testing.T) {
	ctx := context.Background()
	for _, initial := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("the user had %d keys", initial), func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			current, initKeys := e.setupKeys(initial)
			var cur key
			if initial > 0 {
				cur = initKeys[initial-1]
			}
			req := &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current}
			var calls []string
			resp, err := e.providerWith(sdkDefaultRetries, func(next aws.HTTPClient) aws.HTTPClient {
				return lose("CreateAccessKey", 0, 1)(loseNth(0, &calls)(next))
			}).Create(ctx, req)
			e.noSecret(err)
			if n := countOf(calls, "CreateAccessKey"); n != 1 {
				t.Errorf("IAM received %d CreateAccessKey calls, want 1: the SDK must not resend it", n)
			}
			held := slices.Clone(initKeys)
			if err == nil {
				_, k := valueOf(t, resp.Value)
				held = append(held, k)
			} else if !errors.Is(err, rotorerr.Transient) {
				t.Fatalf("Create = %v, want success or Rotor.Transient", err)
			}
			if orphans := e.unaccounted("svc", held...); len(orphans) > 0 {
				t.Errorf("live keys no value holds and no token tag accounts for: %v (keys %v, tags %v)", orphans, e.keys("svc"), e.tags("svc"))
			}
			if err != nil {
				// The state machine retries the step.
				if resp, err = e.providerWith(sdkDefaultRetries, nil).Create(ctx, req); err != nil {
					t.Fatalf("retried Create: %v", err)
				}
			}
			_, minted := valueOf(t, resp.Value)
			want := []string{minted.id}
			if initial > 0 {
				want = []string{cur.id, minted.id}
				if !e.live(cur) {
					t.Error("the current key stopped working")
				}
			}
			if diff := cmp.Diff(want, e.keys("svc")); diff != "" {
				t.Errorf("keys at the end (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]string{TokenTagPrefix + tokenA: minted.id}, e.tags("svc")); diff != "" {
				t.Errorf("token tags at the end (-want +got):\n%s", diff)
			}
		})
	}
}

// loseNth makes the server act on the nth IAM call (counting from 1) and
// then drops its answer; calls records every call's action if not nil.
func loseNth(n int, calls *[]string) func(aws.HTTPClient) aws.HTTPClient {
	return func(next aws.HTTPClient) aws.HTTPClient {
		var mu sync.Mutex
		seen := 0
		return clientFunc(func(r *http.Request) (*http.Response, error) {
			a := action(r)
			resp, err := next.Do(r)
			mu.Lock()
			seen++
			drop := seen == n
			if calls != nil {
				*calls = append(*calls, a)
			}
			mu.Unlock()
			if drop && err == nil {
				resp.Body.Close()
				return nil, fmt.Errorf("test: the answer to %s was lost", a)
			}
			return resp, err
		})
	}
}

// TestLostAnswerEveryCall loses the answer of each IAM call Create makes,
// one at a time, for users starting with 0, 1 and 2 keys, with and without
// the SDK's own retries. After the attempt no live key may be left that
// neither a value nor a token tag accounts for, and the current key
// works; then either the step's retry converges on exactly one new key, or
// the core gives up, and RevokeToken (or Revoke of a value it could not
// store) leaves only keys the user started with, the current one among them.
func TestLostAnswerEveryCall(t *testing.T) {
	ctx := context.Background()
	opts := provider.Options{OptionUser: "svc"}
	retries := []struct {
		name string
		conf func(*aws.Config)
	}{
		{"no SDK retries", nil},
		{"the SDK's retries", sdkQuickRetries},
	}
	for _, rt := range retries {
		for _, initial := range []int{0, 1, 2} {
			// A clean run names the calls.
			var calls []string
			{
				e := newEnv(t, localaws.Options{})
				e.user("svc")
				current, _ := e.setupKeys(initial)
				if _, err := e.providerWith(rt.conf, loseNth(0, &calls)).Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts}); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Contains(calls, "CreateAccessKey") {
				t.Fatalf("a clean Create made no CreateAccessKey call: %v", calls)
			}
			for n := 1; n <= len(calls); n++ {
				for _, end := range []string{"retried", "given up"} {
					t.Run(fmt.Sprintf("%s/%d keys/call %d %s/%s", rt.name, initial, n, calls[n-1], end), func(t *testing.T) {
						e := newEnv(t, localaws.Options{})
						e.user("svc")
						current, initKeys := e.setupKeys(initial)
						var cur key
						var initIDs []string
						for _, k := range initKeys {
							cur = k
							initIDs = append(initIDs, k.id)
						}
						req := &provider.CreateRequest{SecretID: secretARN, Token: tokenA, Current: current, Options: opts}
						resp, err := e.providerWith(rt.conf, loseNth(n, nil)).Create(ctx, req)
						e.noSecret(err)
						// The values of the current and previous versions
						// hold the keys the user started with.
						held := slices.Clone(initKeys)
						if err == nil {
							_, k := valueOf(t, resp.Value)
							held = append(held, k)
						} else if !errors.Is(err, rotorerr.Transient) {
							t.Fatalf("Create = %v, want success or Rotor.Transient", err)
						}
						if orphans := e.unaccounted("svc", held...); len(orphans) > 0 {
							t.Errorf("after the lost answer, live keys no value holds and no token tag accounts for: %v (keys %v, tags %v)", orphans, e.keys("svc"), e.tags("svc"))
						}
						if initial > 0 && !e.live(cur) {
							t.Error("the current key stopped working")
						}
						p := e.providerWith(rt.conf, nil)
						if end == "given up" {
							// The core's compensation: RevokeToken after a
							// failed create, Revoke of a value it could not
							// store.
							if err != nil {
								if _, err := p.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: secretARN, Token: tokenA, Options: opts}); err != nil {
									t.Fatalf("RevokeToken: %v", err)
								}
							} else if err := p.Revoke(ctx, &provider.RevokeRequest{SecretID: secretARN, VersionID: tokenA, Value: resp.Value, Current: current, Options: opts}); err != nil {
								t.Fatalf("Revoke: %v", err)
							}
							// Only keys the user started with remain (make-room
							// may have deleted the previous one), the current one
							// among them.
							got := e.keys("svc")
							if slices.ContainsFunc(got, func(id string) bool { return !slices.Contains(initIDs, id) }) ||
								initial > 0 && !slices.Contains(got, cur.id) {
								t.Errorf("keys after the compensation: %v, want only some of %v, the current %s among them", got, initIDs, cur.id)
							}
							if tags := e.tags("svc"); len(tags) != 0 {
								t.Errorf("token tags left: %v", tags)
							}
							return
						}
						if err != nil {
							if resp, err = p.Create(ctx, req); err != nil {
								t.Fatalf("retried Create: %v", err)
							}
						}
						_, minted := valueOf(t, resp.Value)
						want := []string{minted.id}
						if initial > 0 {
							want = []string{cur.id, minted.id}
						}
						if diff := cmp.Diff(want, e.keys("svc")); diff != "" {
							t.Errorf("keys at the end (-want +got):\n%s", diff)
						}
						if diff := cmp.Diff(map[string]string{TokenTagPrefix + tokenA: minted.id}, e.tags("svc")); diff != "" {
							t.Errorf("token tags at the end (-want +got):\n%s", diff)
						}
						if !e.live(minted) {
							t.Error("the new key does not work")
						}
					})
				}
			}
		}
	}
}

// TestKeyMintedBeside: a key that appears between Create's listing and its
// CreateAccessKey (a resend the provider did not make, a request that
// arrived late) is deleted before the value is returned, unless another
// secret version holds it.
func TestKeyMintedBeside(t *testing.T) {
	ctx := context.Background()
	const other = "arn:aws:secretsmanager:us-east-1:000000000000:secret:other-QwErTy"
	for _, tc := range []struct {
		name string
		held bool
	}{
		{"nobody holds it: deleted", false},
		{"another secret holds it: kept", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localaws.Options{})
			e.user("svc")
			var extra key
			beside := func(next aws.HTTPClient) aws.HTTPClient {
				return clientFunc(func(r *http.Request) (*http.Response, error) {
					if action(r) == "CreateAccessKey" && extra.id == "" {
						extra = e.key("svc")
					}
					return next.Do(r)
				})
			}
			holders := func(_ context.Context, id string) ([]provider.Holder, error) {
				if tc.held && id == extra.id {
					return []provider.Holder{{SecretID: other, VersionID: tokenB, Label: "AWSCURRENT"}}, nil
				}
				return nil, nil
			}
			resp, err := e.provider(beside).Create(ctx, &provider.CreateRequest{SecretID: secretARN, Token: tokenA,
				Current: []byte(`{"userName":"svc"}`), Holders: holders})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			_, minted := valueOf(t, resp.Value)
			want := []string{minted.id}
			if tc.held {
				want = []string{extra.id, minted.id}
			}
			if diff := cmp.Diff(want, e.keys("svc")); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if e.live(extra) != tc.held {
				t.Errorf("the key minted beside is live: %v, want %v", e.live(extra), tc.held)
			}
		})
	}
}

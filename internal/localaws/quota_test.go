package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// recordLog keeps the server's log records: level, message and
// attributes.
type recordLog struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { rec.Attrs[a.Key] = a.Value.String(); return true })
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

func (l *recordLog) with(msg string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.recs {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// quotaCall makes one Secrets Manager call of op on secret "s".
func quotaCall(c *secretsmanager.Client, op string, i int) error {
	var err error
	switch op {
	case "PutSecretValue":
		_, err = c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(i))})
	case "UpdateSecretVersionStage":
		_, err = c.UpdateSecretVersionStage(smCtx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
			VersionStage: aws.String("blue"), MoveToVersionId: aws.String(smTok(0))})
	case "TagResource":
		_, err = c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: smTags("k", fmt.Sprint(i))})
	case "UntagResource":
		_, err = c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"k"}})
	case "CreateSecret":
		_, err = c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("new-%d", i))})
	case "ListSecrets":
		_, err = c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
	default:
		panic("quotaCall: no call for " + op)
	}
	return err
}

func throttled(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException"
}

// TestQuotaBuckets: on a clock that stands still, each bucket allows its
// one-second burst and throttles the rest, and the operations of one
// bucket do not spend another's tokens; /_rotor/quotas and Server.Quotas
// count both, and each throttled request is logged.
func TestQuotaBuckets(t *testing.T) {
	type step struct {
		op      string
		calls   int
		allowed int // the first ones; the rest are throttled
	}
	type count struct{ Allowed, Throttled int64 }
	cases := []struct {
		name  string
		steps []step
		want  map[string]count // by bucket, the buckets touched
	}{
		{"a burst of TagResource does not spend PutSecretValue's tokens",
			[]step{{"TagResource", 52, 50}, {"PutSecretValue", 51, 50}},
			map[string]count{"tags": {50, 2}, "writes": {50, 1}}},
		{"a burst of PutSecretValue does not spend TagResource's tokens",
			[]step{{"PutSecretValue", 51, 50}, {"TagResource", 50, 50}, {"UntagResource", 1, 0}},
			map[string]count{"writes": {50, 1}, "tags": {50, 1}}},
		{"TagResource and UntagResource share a bucket",
			[]step{{"TagResource", 25, 25}, {"UntagResource", 25, 25}, {"TagResource", 1, 0}},
			map[string]count{"tags": {50, 1}}},
		{"PutSecretValue and UpdateSecretVersionStage share a bucket; CreateSecret has its own",
			[]step{{"UpdateSecretVersionStage", 30, 30}, {"PutSecretValue", 21, 20}, {"CreateSecret", 3, 3}},
			map[string]count{"writes": {50, 1}, "create": {3, 0}}},
		{"ListSecrets allows 100 a second",
			[]step{{"ListSecrets", 101, 100}},
			map[string]count{"list": {100, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &recordLog{}
			clk := &smClock{t: smT0}
			srv, url := smStart(t, Options{Account: smAccount, Quotas: true, Now: clk.Now, Log: slog.New(log)})
			if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"),
				SecretString: aws.String(smVal(0)), ClientRequestToken: aws.String(smTok(0))}); err != nil {
				t.Fatal(err)
			}
			c := smNewClient(t, url, smNoRetry)
			var wantThrottled int
			for _, st := range tc.steps {
				for i := range st.calls {
					err := quotaCall(c, st.op, i)
					switch {
					case i < st.allowed && err != nil:
						t.Fatalf("%s %d of %d: %v, want it allowed", st.op, i+1, st.calls, err)
					case i >= st.allowed && !throttled(err):
						t.Fatalf("%s %d of %d: %v, want ThrottlingException", st.op, i+1, st.calls, err)
					}
				}
				wantThrottled += st.calls - st.allowed
			}

			resp, err := sdkTestHTTPClient(t).Get(url + "/_rotor/quotas")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /_rotor/quotas: %d %s %v", resp.StatusCode, body, err)
			}
			var overHTTP QuotaReport
			if err := json.Unmarshal(body, &overHTTP); err != nil {
				t.Fatalf("GET /_rotor/quotas: %v in %s", err, body)
			}
			smDiff(t, "GET /_rotor/quotas and Server.Quotas", srv.Quotas(), overHTTP)
			got := map[string]count{}
			for _, b := range overHTTP.Buckets {
				if b.Allowed+b.Throttled > 0 {
					got[b.Bucket] = count{b.Allowed, b.Throttled}
				}
			}
			smDiff(t, "counts by bucket", tc.want, got)
			if !overHTTP.Enforced {
				t.Error("the report says quotas are not enforced")
			}

			debug := log.with("throttled request")
			if len(debug) != wantThrottled {
				t.Errorf("%d throttled requests logged, want %d", len(debug), wantThrottled)
			}
			for _, r := range debug {
				if r.Level != slog.LevelDebug || r.Attrs["service"] != "secretsmanager" || r.Attrs["operation"] == "" || r.Attrs["bucket"] == "" {
					t.Errorf("log record %+v: want a debug line naming service, operation and bucket", r)
				}
			}
			// One warning per bucket that throttled: the clock stands
			// still, so none is due again.
			warned := map[string]bool{}
			for _, r := range log.with("requests throttled by a quota") {
				if r.Level != slog.LevelWarn || warned[r.Attrs["bucket"]] {
					t.Errorf("warning %+v: want one per bucket, at warn level", r)
				}
				warned[r.Attrs["bucket"]] = true
			}
			for b, n := range tc.want {
				if warned[b] != (n.Throttled > 0) {
					t.Errorf("bucket %s: warned %v, throttled %d", b, warned[b], n.Throttled)
				}
			}
		})
	}
}

// TestQuotaTable: the rates and the sharing of AWS's Secrets Manager
// quotas (see quotaSpecs for the source).
func TestQuotaTable(t *testing.T) {
	srv, _ := smStart(t, Options{})
	got := map[string]any{}
	for _, b := range srv.Quotas().Buckets {
		got[b.Service+"/"+b.Bucket] = []any{b.Rate, b.Operations}
	}
	want := map[string]any{
		"secretsmanager/writes": []any{50.0, []string{"PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage",
			"RemoveRegionsFromReplication", "ReplicateSecretToRegion", "StopReplicationToReplica"}},
		"secretsmanager/tags":            []any{50.0, []string{"TagResource", "UntagResource"}},
		"secretsmanager/restore":         []any{50.0, []string{"RestoreSecret"}},
		"secretsmanager/rotation":        []any{50.0, []string{"RotateSecret", "CancelRotateSecret"}},
		"secretsmanager/resource-policy": []any{50.0, []string{"DeleteResourcePolicy", "GetResourcePolicy", "PutResourcePolicy", "ValidateResourcePolicy"}},
		"secretsmanager/create":          []any{50.0, []string{"CreateSecret"}},
		"secretsmanager/delete":          []any{50.0, []string{"DeleteSecret"}},
		"secretsmanager/list-versions":   []any{50.0, []string{"ListSecretVersionIds"}},
		"secretsmanager/random-password": []any{50.0, []string{"GetRandomPassword"}},
		"secretsmanager/list":            []any{100.0, []string{"ListSecrets"}},
		"secretsmanager/batch-get":       []any{100.0, []string{"BatchGetSecretValue"}},
		"secretsmanager/get":             []any{10000.0, []string{"GetSecretValue"}},
		"secretsmanager/describe":        []any{40000.0, []string{"DescribeSecret"}},
	}
	smDiff(t, "quota buckets", want, got)
}

// TestQuotasCountedWhenNotEnforced: without Options.Quotas nothing is
// throttled, and requests are counted all the same.
func TestQuotasCountedWhenNotEnforced(t *testing.T) {
	clk := &smClock{t: smT0}
	srv, url := smStart(t, Options{Account: smAccount, Now: clk.Now})
	if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(0))}); err != nil {
		t.Fatal(err)
	}
	c := smNewClient(t, url, smNoRetry)
	for i := range 60 {
		if err := quotaCall(c, "PutSecretValue", i); err != nil {
			t.Fatalf("PutSecretValue %d: %v", i, err)
		}
	}
	r := srv.Quotas()
	for _, b := range r.Buckets {
		if b.Bucket == "writes" {
			smDiff(t, "writes bucket", []int64{60, 0}, []int64{b.Allowed, b.Throttled})
		}
	}
	if r.Enforced {
		t.Error("the report says quotas are enforced")
	}
}

// TestQuotasEndpointRules: /_rotor/quotas answers GET and HEAD only, and,
// like every route, only requests for a loopback host.
func TestQuotasEndpointRules(t *testing.T) {
	_, url := smStart(t, Options{})
	hc := sdkTestHTTPClient(t)
	cases := []struct {
		name, method, host string
		want               int
	}{
		{"GET", http.MethodGet, "", http.StatusOK},
		{"HEAD", http.MethodHead, "", http.StatusOK},
		{"POST is refused", http.MethodPost, "", http.StatusMethodNotAllowed},
		{"another host is refused", http.MethodGet, "rebind.example", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := rawRequest(t, hc, tc.method, url+"/_rotor/quotas", tc.host, "", nil)
			smDiff(t, "status", tc.want, got)
		})
	}
}

package ecsrestart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	ecsrestart "github.com/rotorhq/rotor/examples/ecs-restart"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

// fakeECS is an ECS endpoint that serves UpdateService over AWS JSON 1.1,
// as the ECS SDK client speaks it, and records the requests.
type fakeECS struct {
	mu       sync.Mutex
	requests []string // the request bodies, members sorted
	fail     bool
}

func (f *fakeECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"InvalidParameterException","message":"not a signed AWS JSON 1.1 request"}`)
		return
	case r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerServiceV20141113.UpdateService":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"%s"}`, r.Header.Get("X-Amz-Target"))
		return
	}
	// Recorded as JSON with its members sorted, for comparison.
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"SerializationException","message":"not JSON"}`)
		return
	}
	sorted, _ := json.Marshal(m)
	f.mu.Lock()
	f.requests = append(f.requests, string(sorted))
	fail := f.fail
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"ServiceNotActiveException","message":"Service was not ACTIVE."}`)
		return
	}
	var in struct{ Cluster, Service string }
	_ = json.Unmarshal(body, &in)
	fmt.Fprintf(w, `{"service":{"serviceName":%q,"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/%s","status":"ACTIVE","desiredCount":2}}`, in.Service, in.Cluster)
}

func (f *fakeECS) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// client is the real ECS SDK client pointed at the fake.
func (f *fakeECS) client(t *testing.T) *ecs.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return ecs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", "")})
}

const wantUpdate = `{"cluster":"prod","forceNewDeployment":true,"service":"api"}`

// TestRuleRedeploysOnRotation: rule.json, deployed on rotor local's default
// bus with the handler as its target, matches the real Rotation Switched
// Over event of the rotation of prod/api-db, and the handler sends ECS one
// UpdateService forcing a new deployment of the configured service. The
// rotation of another secret sends nothing, whether the rule's pattern
// leaves it out (prod/other) or only the handler does (prod/api-db-replica,
// which the pattern's wildcard also matches).
func TestRuleRedeploysOnRotation(t *testing.T) {
	h, err := rotorlocal.Start(t.Context(), rotorlocal.Options{WaitScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	cfg := aws.Config{Region: rotorlocal.Region, BaseEndpoint: aws.String(h.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", "")}
	sm := secretsmanager.NewFromConfig(cfg)
	for _, name := range []string{"prod/api-db", "prod/other", "prod/api-db-replica"} {
		if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name),
			SecretString: aws.String("initial-value-0123456789abcdefABCDEF"),
			Tags:         []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}); err != nil {
			t.Fatal(err)
		}
	}

	fake := &fakeECS{}
	handler := &ecsrestart.Handler{ECS: fake.client(t), Config: ecsrestart.Config{SecretID: "prod/api-db", Cluster: "prod", Service: "api"}}
	invoke := lambda.NewHandler(handler.Handle)
	var mu sync.Mutex
	var delivered []string // detail-type and secretId of each event the function got
	h.Server.Lambda.Register("ecs-restart", func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev struct {
			DetailType string `json:"detail-type"`
			Detail     struct{ SecretID string }
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		mu.Lock()
		delivered = append(delivered, ev.DetailType+" "+ev.Detail.SecretID)
		mu.Unlock()
		return invoke.Invoke(ctx, payload)
	})
	pattern, err := os.ReadFile("rule.json")
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("ecs-restart"), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String("ecs-restart"), Targets: []ebtypes.Target{{
		Id: aws.String("ecs-restart"), Arn: aws.String("arn:aws:lambda:" + rotorlocal.Region + ":" + rotorlocal.Account + ":function:ecs-restart")}}}); err != nil {
		t.Fatal(err)
	}

	rotate := func(name string) string {
		t.Helper()
		x, err := h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
			Input: aws.String(fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":10}`, name))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if status, err := h.Server.SFN.Wait(ctx, aws.ToString(x.ExecutionArn)); err != nil || status != "SUCCEEDED" {
			t.Fatalf("rotation of %s: %s (%v)", name, status, err)
		}
		if err := h.Server.Events.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		out, err := sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ARN)
	}
	for _, tc := range []struct {
		secret    string
		delivered bool // the rule's pattern matches its event
		want      []string
	}{
		{"prod/api-db", true, []string{wantUpdate}},
		{"prod/other", false, []string{wantUpdate}},
		{"prod/api-db-replica", true, []string{wantUpdate}},
	} {
		t.Run(tc.secret, func(t *testing.T) {
			mu.Lock()
			delivered = nil
			mu.Unlock()
			arn := rotate(tc.secret)
			var want []string
			if tc.delivered {
				want = []string{ecsrestart.DetailTypeSwitchedOver + " " + arn}
			}
			mu.Lock()
			got := delivered
			mu.Unlock()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events the function got (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, fake.got()); diff != "" {
				t.Errorf("UpdateService requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandle: which events redeploy, and what an ECS refusal does.
func TestHandle(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-db-AbCdEf"
	for _, tc := range []struct {
		name, source, detailType, detail, secretID string
		fail                                       bool
		want                                       []string
		wantErr                                    string
	}{
		{"by name", "rotor", ecsrestart.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, "prod/api-db", false, []string{wantUpdate}, ""},
		{"by ARN", "rotor", ecsrestart.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, arn, false, []string{wantUpdate}, ""},
		{"another secret", "rotor", ecsrestart.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, "prod/api", false, nil, ""},
		{"rotation succeeded: the redeploy was at the switch-over", "rotor", "Rotation Succeeded", `{"secretId":"` + arn + `"}`, "prod/api-db", false, nil, ""},
		{"another source", "example.other", ecsrestart.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, "prod/api-db", false, nil, ""},
		{"no secretId", "rotor", ecsrestart.DetailTypeSwitchedOver, `{}`, "prod/api-db", false, nil, "detail has no secretId"},
		{"ECS refuses", "rotor", ecsrestart.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, "prod/api-db", true, []string{wantUpdate},
			"redeploying api in prod after the rotation of " + arn + ": operation error ECS: UpdateService"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeECS{fail: tc.fail}
			h := &ecsrestart.Handler{ECS: fake.client(t), Config: ecsrestart.Config{SecretID: tc.secretID, Cluster: "prod", Service: "api"}}
			err := h.Handle(t.Context(), events.CloudWatchEvent{ID: "e-1", Source: tc.source, DetailType: tc.detailType, Detail: json.RawMessage(tc.detail)})
			if got := fmt.Sprint(err); tc.wantErr == "" && err != nil || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Errorf("Handle: %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, fake.got()); diff != "" {
				t.Errorf("UpdateService requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{ecsrestart.EnvSecretID: "prod/api-db", ecsrestart.EnvCluster: "prod"}
	if _, err := ecsrestart.LoadConfig(func(k string) string { return env[k] }); err == nil || err.Error() != "ecsrestart: ECS_SERVICE not set" {
		t.Errorf("without ECS_SERVICE: %v", err)
	}
	env[ecsrestart.EnvService] = "api"
	got, err := ecsrestart.LoadConfig(func(k string) string { return env[k] })
	if diff := cmp.Diff(ecsrestart.Config{SecretID: "prod/api-db", Cluster: "prod", Service: "api"}, got); diff != "" || err != nil {
		t.Errorf("LoadConfig: %v (-want +got):\n%s", err, diff)
	}
	if _, err := ecsrestart.LoadConfig(func(string) string { return "" }); err == nil || err.Error() != "ecsrestart: ROTOR_SECRET_ID, ECS_CLUSTER, ECS_SERVICE not set" {
		t.Errorf("with nothing set: %v", err)
	}
}

// TestREADMEShowsTheRule: the README shows rule.json as the test deploys it.
func TestREADMEShowsTheRule(t *testing.T) {
	rule, err := os.ReadFile("rule.json")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(string(rule))) {
		t.Error("README.md does not show rule.json as it is")
	}
}

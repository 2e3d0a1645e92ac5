package localaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	localevents "github.com/rotorhq/rotor/internal/localaws/events"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

func (e *ebEnv) executionInput(t *testing.T, arn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	status, err := e.srv.SFN.Wait(ctx, arn)
	e.must(t, err)
	if status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s", arn, status)
	}
	d, err := e.sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	e.must(t, err)
	return aws.ToString(d.Input)
}

func TestEventsStartStateMachine(t *testing.T) {
	e := newEBEnv(t, "")
	ctx := t.Context()
	sm := e.machine(t, "rotation")
	e.leakRule(t,
		ebtypes.Target{Id: aws.String("rotate"), Arn: aws.String(sm), RoleArn: aws.String(role), InputPath: aws.String("$.detail")},
		ebtypes.Target{Id: aws.String("transformed"), Arn: aws.String(sm), RoleArn: aws.String(role), InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"secret": "$.detail.leak.secretId", "source": "$.detail.leak.source", "missing": "$.detail.nope"},
			InputTemplate: aws.String(`{"SecretId": <secret>, "Reason": "leak reported by <source> to <aws.events.rule-name>", "Extra": <missing>}`)}},
		ebtypes.Target{Id: aws.String("whole"), Arn: aws.String(sm), RoleArn: aws.String(role)},
	)
	at := time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)
	entry := leakEntry(leakBus, githubLeak)
	entry.Time = aws.Time(at)
	entry.Resources = []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/stripe"}
	out := e.put(t, entry)
	if out.FailedEntryCount != 0 || out.Entries[0].EventId == nil {
		t.Fatalf("PutEvents: %+v", out.Entries)
	}
	eventID := aws.ToString(out.Entries[0].EventId)

	ds := e.ev.Deliveries()
	if len(ds) != 3 {
		t.Fatalf("deliveries: %+v", ds)
	}
	got := map[string]string{}
	for _, d := range ds {
		if d.Failed() || d.Attempts != 1 || d.EventID != eventID || d.Rule != "leak" || d.EventBus != leakBus || d.TargetARN != sm {
			t.Errorf("delivery %+v", d)
		}
		if !strings.HasPrefix(d.Result, "arn:aws:states:us-east-1:000000000000:execution:rotation:") {
			t.Fatalf("delivery to %s started no execution: %+v", d.TargetID, d)
		}
		in := e.executionInput(t, d.Result)
		if in != d.Input {
			t.Errorf("%s: execution input %s, delivery input %s", d.TargetID, in, d.Input)
		}
		got[d.TargetID] = in
	}
	whole, err := json.Marshal(map[string]any{"version": "0", "id": eventID, "detail-type": "rotor.leak", "source": "rotor.webhook",
		"account": "000000000000", "time": "2026-11-20T08:15:00Z", "region": "us-east-1",
		"resources": []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/stripe"}, "detail": json.RawMessage(githubLeak)})
	e.must(t, err)
	want := map[string]string{
		"rotate":      compactJSON(t, githubLeak),
		"transformed": `{"SecretId":"prod/stripe","Reason":"leak reported by github to leak","Extra":null}`,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreMapEntries(func(k, _ string) bool { return k == "whole" })); diff != "" {
		t.Errorf("execution inputs (-want +got):\n%s", diff)
	}
	var gotWhole, wantWhole any
	e.must(t, json.Unmarshal([]byte(got["whole"]), &gotWhole))
	e.must(t, json.Unmarshal(whole, &wantWhole))
	if diff := cmp.Diff(wantWhole, gotWhole); diff != "" {
		t.Errorf("event envelope (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got["whole"], `{"version":"0","id":`) {
		t.Errorf("the envelope's members are not in EventBridge's order: %s", got["whole"])
	}

	t.Run("events the rule does not match start nothing", func(t *testing.T) {
		manual := leakEntry(leakBus, `{"secretId":"prod/stripe","trigger":"manual"}`)
		onDefault := leakEntry("", githubLeak)
		otherType := leakEntry(leakBus, githubLeak)
		otherType.DetailType = aws.String("rotor.rotated")
		out := e.put(t, manual, onDefault, otherType)
		if out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %+v", out.Entries)
		}
		if n := len(e.ev.Deliveries()); n != 3 {
			t.Errorf("%d deliveries, want still 3", n)
		}
		execs, err := e.sf.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
		e.must(t, err)
		if len(execs.Executions) != 3 {
			t.Errorf("%d executions, want 3", len(execs.Executions))
		}
	})

	t.Run("a disabled rule delivers nothing", func(t *testing.T) {
		_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus),
			EventPattern: aws.String(leakPattern), State: ebtypes.RuleStateDisabled})
		e.must(t, err)
		e.put(t, leakEntry(leakBus, githubLeak))
		if n := len(e.ev.Deliveries()); n != 3 {
			t.Errorf("%d deliveries, want still 3", n)
		}
	})

	t.Run("the deliveries endpoint", func(t *testing.T) {
		resp, err := http.Get(e.url + "/_rotor/events/deliveries")
		e.must(t, err)
		defer resp.Body.Close()
		var ds []localevents.Delivery
		if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil || len(ds) != 3 {
			t.Errorf("GET /_rotor/events/deliveries: %d deliveries, %v", len(ds), err)
		}
	})
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var v json.RawMessage
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEventsLambdaTarget(t *testing.T) {
	e := newEBEnv(t, "")
	var mu sync.Mutex
	var payloads []string
	e.srv.Lambda.Register("notify", func(_ context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		payloads = append(payloads, string(p))
		if strings.Contains(string(p), "boom") {
			return nil, &locallambda.FunctionError{Type: "Boom", Message: "exploded"}
		}
		return []byte(`"ok"`), nil
	})
	fn := "arn:aws:lambda:us-east-1:000000000000:function:notify"
	e.leakRule(t,
		ebtypes.Target{Id: aws.String("notify"), Arn: aws.String(fn), InputPath: aws.String("$.detail.leak")},
		ebtypes.Target{Id: aws.String("missing"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope"), Input: aws.String(`{"constant":1}`)},
	)
	e.put(t, leakEntry(leakBus, githubLeak))
	e.put(t, leakEntry(leakBus, `{"trigger":"leak","leak":{"source":"boom"}}`))

	mu.Lock()
	want := []string{compactJSON(t, `{"source":"github","secretId":"prod/stripe","reference":"https://github.com/example/app/security/secret-scanning/42"}`), `{"source":"boom"}`}
	if diff := cmp.Diff(want, payloads); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
	mu.Unlock()

	type outcome struct {
		Target, Result, Error string
		Attempts              int
	}
	var got []outcome
	for _, d := range e.ev.Deliveries() {
		o := outcome{Target: d.TargetID, Result: d.Result, Attempts: d.Attempts}
		if d.Failed() {
			o.Error = "failed"
		}
		got = append(got, o)
	}
	wantOutcomes := []outcome{
		{Target: "notify", Result: `"ok"`, Attempts: 1},
		{Target: "missing", Error: "failed", Attempts: 1}, // a function that does not exist is not retried
		{Target: "notify", Result: "function error: Boom: exploded", Attempts: 1},
		{Target: "missing", Error: "failed", Attempts: 1},
	}
	sortOutcomes := cmpopts.SortSlices(func(a, b outcome) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
	if diff := cmp.Diff(wantOutcomes, got, sortOutcomes); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if f := e.ev.Failures(); len(f) != 2 || !strings.Contains(f[0].Error, "nope") || f[0].Input != `{"constant":1}` {
		t.Errorf("failures: %+v", f)
	}
}

// TestEventsLambdaTargetWaitsForFunctions: with Options.AwaitFunctions a
// rule's Lambda target is invoked once the host's functions are registered,
// not failed as a function that does not exist.
func TestEventsLambdaTargetWaitsForFunctions(t *testing.T) {
	log := &messageLog{}
	e := newEBEnvWith(t, Options{AwaitFunctions: true, Log: slog.New(log)})
	e.leakRule(t, ebtypes.Target{Id: aws.String("notify"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:notify"),
		InputPath: aws.String("$.detail.leak")})
	_, err := e.c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{leakEntry(leakBus, githubLeak)}})
	e.must(t, err)
	for deadline := time.Now().Add(10 * time.Second); log.count(waitsForFunctions) == 0; time.Sleep(5 * time.Millisecond) {
		if len(e.ev.Deliveries()) > 0 || time.Now().After(deadline) {
			t.Fatalf("the delivery did not wait for the functions: %+v", e.ev.Deliveries())
		}
	}
	var calls atomic.Int32
	e.srv.Lambda.Register("notify", func(context.Context, []byte) ([]byte, error) {
		calls.Add(1)
		return []byte(`"ok"`), nil
	})
	e.srv.FunctionsReady()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.ev.Wait(ctx))
	ds := e.ev.Deliveries()
	if len(ds) != 1 || ds[0].Failed() || ds[0].Attempts != 1 || calls.Load() != 1 {
		t.Errorf("deliveries %+v after %d calls, want one, succeeded at the first attempt", ds, calls.Load())
	}
}

func TestEventsPersistence(t *testing.T) {
	data := filepath.Join(t.TempDir(), "rotor.db")
	e := newEBEnv(t, data)
	ctx := t.Context()
	sm := e.machine(t, "rotation")
	e.leakRule(t, ebtypes.Target{Id: aws.String("rotate"), Arn: aws.String(sm), RoleArn: aws.String(role), InputPath: aws.String("$.detail"),
		RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(8)}})
	_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("off"), EventBusName: aws.String(leakBus),
		EventPattern: aws.String(`{"source":[{"prefix":"rotor."}]}`), State: ebtypes.RuleStateDisabled, Description: aws.String("kept")})
	e.must(t, err)
	before, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	defBefore, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	e.must(t, err)
	rulesBefore, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(leakBus)})
	e.must(t, err)
	targetsBefore, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	e.close()

	e = newEBEnv(t, data)
	after, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	defAfter, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	e.must(t, err)
	rulesAfter, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(leakBus)})
	e.must(t, err)
	targetsAfter, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	opts := []cmp.Option{cmpopts.IgnoreUnexported(eventbridge.DescribeEventBusOutput{}, eventbridge.ListRulesOutput{}, ebtypes.Rule{},
		eventbridge.ListTargetsByRuleOutput{}, ebtypes.Target{}, ebtypes.RetryPolicy{}),
		cmpopts.IgnoreFields(eventbridge.DescribeEventBusOutput{}, "ResultMetadata"), cmpopts.IgnoreFields(eventbridge.ListRulesOutput{}, "ResultMetadata"),
		cmpopts.IgnoreFields(eventbridge.ListTargetsByRuleOutput{}, "ResultMetadata")}
	for _, c := range []struct {
		what          string
		before, after any
	}{{"bus", before, after}, {"default bus", defBefore, defAfter}, {"rules", rulesBefore, rulesAfter}, {"targets", targetsBefore, targetsAfter}} {
		if diff := cmp.Diff(c.before, c.after, opts...); diff != "" {
			t.Errorf("%s after a restart (-before +after):\n%s", c.what, diff)
		}
	}

	// The rule, compiled from the data file, still starts the state machine.
	e.put(t, leakEntry(leakBus, githubLeak))
	ds := e.ev.Deliveries()
	if len(ds) != 1 || ds[0].Failed() {
		t.Fatalf("deliveries after a restart: %+v", ds)
	}
	if in := e.executionInput(t, ds[0].Result); in != compactJSON(t, githubLeak) {
		t.Errorf("execution input %s", in)
	}
}

func TestEventsWire(t *testing.T) {
	e := newEBEnv(t, "")
	post := func(target, body string) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
		e.must(t, err)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		e.must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"unknown operation", "AWSEvents.StartReplay", `{}`, 400, "UnknownOperationException"},
		{"not JSON", "AWSEvents.PutRule", `{`, 400, "SerializationException"},
		{"event time as epoch seconds", "AWSEvents.PutEvents", `{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}","Time":1.7e9}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := post(tt.target, tt.body)
			if status != tt.status || h.Get("X-Amzn-ErrorType") != tt.code {
				t.Errorf("HTTP %d %s: %s", status, h.Get("X-Amzn-ErrorType"), body)
			}
		})
	}
}

func TestEventsEmit(t *testing.T) {
	e := newEBEnv(t, "")
	var mu sync.Mutex
	var payloads []string
	e.srv.Lambda.Register("sink", func(_ context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		payloads = append(payloads, string(p))
		return []byte(`null`), nil
	})
	_, err := e.c.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("guardduty"),
		EventPattern: aws.String(`{"source":["aws.guardduty"],"detail":{"resource":{"resourceType":["AccessKey"]}}}`)})
	e.must(t, err)
	_, err = e.c.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String("guardduty"), Targets: []ebtypes.Target{{
		Id: aws.String("sink"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:sink"),
		InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"key": "$.detail.resource.accessKeyDetails.accessKeyId", "src": "$.source"},
			InputTemplate: aws.String(`{"key":<key>,"source":<src>}`)}}}})
	e.must(t, err)

	// PutEvents refuses AWS's sources; Emit is how a host plays AWS.
	out := e.put(t, ebtypes.PutEventsRequestEntry{Source: aws.String("aws.guardduty"), DetailType: aws.String("GuardDuty Finding"), Detail: aws.String(`{}`)})
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != "NotAuthorizedForSourceException" {
		t.Fatalf("PutEvents with an aws. source: %+v", out.Entries)
	}
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(e.url+"/_rotor/events/emit", "application/json", strings.NewReader(body))
		e.must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"detail-type":"x","detail":{}}`, "source is required"},
		{`{"source":"aws.guardduty","detail":{}}`, "detail-type is required"},
		{`{"source":"aws.guardduty","detail-type":"x","detail":[1]}`, "detail must be a JSON object"},
		{`not json`, "event:"},
	} {
		if code, body := post(tc.body); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("emit %s: %d %q, want 400 with %q", tc.body, code, body, tc.want)
		}
	}
	sample, err := os.ReadFile("../../test/testdata/events/guardduty-credential-exfiltration.json")
	e.must(t, err)
	code, body := post(string(sample))
	if code != http.StatusOK || !strings.Contains(body, `"id"`) {
		t.Fatalf("emit the GuardDuty sample: %d %s", code, body)
	}
	if _, err := e.ev.Emit([]byte(`{"source":"aws.health","detail-type":"AWS Health Event","detail":{}}`)); err != nil {
		t.Fatal(err) // matches no rule: nothing delivered
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.ev.Wait(ctx))
	var sampleEvent struct {
		Detail struct {
			Resource struct {
				AccessKeyDetails struct {
					AccessKeyID string `json:"accessKeyId"`
				} `json:"accessKeyDetails"`
			} `json:"resource"`
		} `json:"detail"`
	}
	e.must(t, json.Unmarshal(sample, &sampleEvent))
	mu.Lock()
	defer mu.Unlock()
	want := []string{`{"key":"` + sampleEvent.Detail.Resource.AccessKeyDetails.AccessKeyID + `","source":"aws.guardduty"}`}
	if diff := cmp.Diff(want, payloads); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
}

package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/statemachine"
)

const (
	topicARN = "arn:aws:sns:us-east-1:123456789012:rotor-notifications"
	fnPrefix = "arn:aws:lambda:us-east-1:123456789012:function:rotor-"
)

// sfn runs statemachine/rotation.asl.json in internal/asl with the rotation
// core's handlers in-process (through aws-lambda-go's Invoke, as the Lambda
// runtime would) and SNS publishes recorded.
type sfn struct {
	e     *env
	clock *asl.VirtualClock
	def   *asl.Definition
	eng   *asl.Engine

	mu        sync.Mutex
	published []string
	events    []string // events:putEvents tasks' parameters
}

func newSFN(t *testing.T) *sfn {
	start, _ := time.Parse(time.RFC3339, t0)
	clk := asl.NewVirtualClock(start)
	s := &sfn{e: newEnvAt(t, clk), clock: clk}
	subs := map[string]string{"TopicArn": topicARN, "EventBusName": "default"}
	reg := asl.NewRegistry()
	for _, p := range statemachine.Placeholders() {
		fn, ok := statemachine.FunctionOf(p)
		if !ok {
			continue
		}
		subs[p] = fnPrefix + fn
		h, err := s.e.svc.Handler(fn)
		if err != nil {
			t.Fatal(err)
		}
		invoke := lambda.NewHandler(h)
		reg.Function(fnPrefix+fn, func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			s.e.record(string(in))
			out, err := invoke.Invoke(ctx, in)
			var ie messages.InvokeResponse_Error
			if errors.As(err, &ie) {
				s.e.record(ie.Message)
				cause, _ := json.Marshal(map[string]string{"errorMessage": ie.Message, "errorType": ie.Type})
				return nil, &asl.TaskFailure{Name: ie.Type, Cause: string(cause)}
			}
			s.e.record(string(out))
			return out, err
		})
	}
	reg.Service(asl.ResourceSNSPublish, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		s.mu.Lock()
		s.published = append(s.published, string(in))
		s.mu.Unlock()
		return json.RawMessage(`{"MessageId":"00000000-0000-0000-0000-000000000001"}`), nil
	})
	reg.Service(asl.ResourceEventsPutEvents, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		s.mu.Lock()
		s.events = append(s.events, string(in))
		s.mu.Unlock()
		return json.RawMessage(`{"Entries":[{"EventId":"00000000-0000-0000-0000-000000000002"}],"FailedEntryCount":0}`), nil
	})
	text, err := statemachine.Substitute(subs)
	if err != nil {
		t.Fatal(err)
	}
	if s.def, err = asl.Parse([]byte(text)); err != nil {
		t.Fatal(err)
	}
	// Jitter at its midpoint, so backoff timings are exact.
	s.eng = asl.New(asl.Options{Tasks: reg, Clock: clk, Random: func() float64 { return 0.5 }})
	return s
}

func (s *sfn) run(input string) (*asl.Result, []asl.Event) {
	return s.eng.Run(context.Background(), s.def, json.RawMessage(input), asl.ExecutionOptions{Name: "test", StateMachineName: "rotor-rotation"})
}

// checkHistory scans the execution history, the SNS messages and everything
// else the env recorded for secret values.
func (s *sfn) checkHygiene(hist []asl.Event) {
	b, _ := json.Marshal(hist)
	s.e.record(string(b))
	s.mu.Lock()
	for _, p := range s.published {
		s.e.record(p)
	}
	for _, p := range s.events {
		s.e.record(p)
	}
	s.mu.Unlock()
	s.e.checkHygiene()
}

func TestStateMachineSuccess(t *testing.T) {
	s := newSFN(t)
	old := s.e.holder(apiSecret, rotation.LabelCurrent)
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "Create", "IsSkipped", "SwitchOver", "VerifiedBy", "Verify", "EmitSwitchedOver", "HasGracePeriod", "GracePeriod", "Expire", "EmitSuccess", "NotifySuccess", "ItemSucceeded"}
	if got := asl.EnteredStates(hist); !slices.Equal(got, want) {
		t.Errorf("states entered:\n got %v\nwant %v", got, want)
	}
	cur := s.e.holder(apiSecret, rotation.LabelCurrent)
	st := s.e.stages(apiSecret)
	if cur == old || !slices.Equal(st[old], []string{rotation.LabelPrevious, rotation.LabelRevoked}) || s.e.holder(apiSecret, rotation.LabelPending) != "" {
		t.Errorf("labels after the execution: %v", st)
	}
	if s.e.ks.Accepts(s.e.initial.Secret) || len(s.e.ks.Live()) != 1 {
		t.Error("the old key survived or extra keys are live")
	}
	if len(s.published) != 1 || !strings.Contains(s.published[0], `"event":"rotation.succeeded"`) || !strings.Contains(s.published[0], cur) {
		t.Errorf("SNS messages: %v", s.published)
	}
	// The grace period (tag rotor:grace-period 1h) elapsed on the virtual clock.
	if got := s.clock.Now().Sub(mustTime(t0)); got != time.Hour {
		t.Errorf("virtual time advanced %s, want the 1h grace period", got)
	}
	s.checkHygiene(hist)
}

func TestStateMachineVerificationFailureRollsBack(t *testing.T) {
	s := newSFN(t)
	s.e.rejectNew.Store(true)
	old := s.e.holder(apiSecret, rotation.LabelCurrent)
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)
	if res.Status != asl.StatusFailed || res.Error != "Rotor.RotationFailed" {
		t.Fatalf("execution %s %s, want FAILED Rotor.RotationFailed", res.Status, res.Error)
	}
	got := asl.EnteredStates(hist)
	want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "Create", "IsSkipped", "SwitchOver", "VerifiedBy", "Verify", "Rollback", "RolledBack", "EmitFailure", "NotifyFailure", "ItemFailed"}
	if !slices.Equal(got, want) {
		t.Errorf("states entered:\n got %v\nwant %v", got, want)
	}
	if s.e.holder(apiSecret, rotation.LabelCurrent) != old {
		t.Error("AWSCURRENT was not moved back")
	}
	s.e.rejectNew.Store(false)
	if !s.e.ks.Accepts(s.e.initial.Secret) || len(s.e.ks.Live()) != 1 {
		t.Error("after rollback the old key must work and be the only live key")
	}
	if len(s.published) != 1 || !strings.Contains(s.published[0], `"error":"Rotor.VerificationFailed"`) || !strings.Contains(s.published[0], `"undo":{"outcome":"rolled-back"}`) {
		t.Errorf("SNS messages: %v", s.published)
	}
	s.checkHygiene(hist)
}

func TestStateMachineRetriesTransientErrorsWithBackoff(t *testing.T) {
	s := newSFN(t)
	// The key API answers 503 to the first two attempts to mint: Create
	// fails Rotor.Transient twice and the state machine retries it.
	s.e.failMints.Store(2)
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "manual", "gracePeriodSeconds": 0}`)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	var sched []time.Time
	for i, e := range hist {
		if e.Type == "LambdaFunctionScheduled" && i > 0 && strings.Contains(jsonOf(e), fnPrefix+"create") {
			sched = append(sched, e.Timestamp)
		}
	}
	// Create retries: IntervalSeconds 2, BackoffRate 2, JitterStrategy FULL
	// (jitter fixed at 0.5 here): waits of 1 s and 2 s.
	if len(sched) != 3 {
		t.Fatalf("create was scheduled %d times, want 3", len(sched))
	}
	if g1, g2 := sched[1].Sub(sched[0]), sched[2].Sub(sched[1]); g1 != time.Second || g2 != 2*time.Second {
		t.Errorf("retry waits %s and %s, want 1s and 2s", g1, g2)
	}
	s.checkHygiene(hist)
}

func TestStateMachineDayLongGracePeriod(t *testing.T) {
	s := newSFN(t)
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "schedule", "gracePeriodSeconds": 86400}`)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	var entered, exited time.Time
	for _, e := range hist {
		switch e.Type {
		case "WaitStateEntered":
			entered = e.Timestamp
		case "WaitStateExited":
			exited = e.Timestamp
		}
	}
	if d := exited.Sub(entered); d != 24*time.Hour {
		t.Errorf("the grace period lasted %s on the virtual clock, want 24h", d)
	}
	if s.e.ks.Accepts(s.e.initial.Secret) {
		t.Error("the old key was not revoked after the grace period")
	}
	s.checkHygiene(hist)
}

func mustTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func jsonOf(e asl.Event) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// TestStateMachineRollsForwardWhenThePreviousKeyIsGone (issue 11, build 2):
// the previous key was revoked at the API (by a person, by another
// rotation's clean-up) while the new one failed verification. Rolling back
// to it would make a dead key current; the rollback leaves the new version
// current, and the state machine makes another at once, which works.
func TestStateMachineRollsForwardWhenThePreviousKeyIsGone(t *testing.T) {
	s := newSFN(t)
	old := s.e.holder(apiSecret, rotation.LabelCurrent)
	req, _ := http.NewRequest(http.MethodDelete, s.e.srv.URL+"/v1/keys/"+s.e.initial.ID, nil)
	req.Header.Set("Authorization", "Bearer "+masterKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoking the initial key out of band: %v %v", resp, err)
	}
	s.e.rejectVerifies.Store(1) // the first new key fails its verification, once
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "Create", "IsSkipped", "SwitchOver", "VerifiedBy", "Verify", "Rollback", "RolledBack", "RollForwardOnce", "RollForward", "Create", "IsSkipped", "SwitchOver", "VerifiedBy", "Verify", "EmitSwitchedOver", "HasGracePeriod", "GracePeriod", "Expire", "EmitSuccess", "NotifySuccess", "ItemSucceeded"}
	if got := asl.EnteredStates(hist); !slices.Equal(got, want) {
		t.Errorf("states entered:\n got %v\nwant %v", got, want)
	}
	cur := s.e.holder(apiSecret, rotation.LabelCurrent)
	if cur == old {
		t.Fatal("AWSCURRENT went back to the version whose key is gone")
	}
	live := s.e.ks.Live()
	if len(live) != 1 || live[0].Secret != field(s.e.value(apiSecret, cur), "apiKey") || !s.e.ks.Accepts(live[0].Secret) {
		t.Errorf("live keys %d; want exactly the current version's, working", len(live))
	}
	if s.e.holder(apiSecret, rotation.LabelPending) != "" {
		t.Error("AWSPENDING left behind")
	}
	s.checkHygiene(hist)
}

// TestStateMachineNamesAFailedUndo (issue 11, build 3): when the undo of a
// failed rotation fails too, the notification says so, what may still be
// live and locked, and what a person does.
func TestStateMachineNamesAFailedUndo(t *testing.T) {
	s := newSFN(t)
	s.e.refuseLists.Store(true) // create fails, and so does its clean-up
	res, hist := s.run(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)
	if res.Status != asl.StatusFailed {
		t.Fatalf("execution %s, want FAILED", res.Status)
	}
	want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "Create", "Cleanup", "EmitUndoFailure", "NotifyUndoFailure", "ItemFailed"}
	if got := asl.EnteredStates(hist); !slices.Equal(got, want) {
		t.Errorf("states entered:\n got %v\nwant %v", got, want)
	}
	if len(s.published) != 1 {
		t.Fatalf("SNS messages: %v", s.published)
	}
	m := s.published[0]
	for _, part := range []string{`"Subject":"rotor: rotation failed and was NOT undone"`, `"event":"rotation.undo-failed"`, `"undoError":"Rotor.InvalidInput"`,
		"may still hold AWSPENDING", "refused the master key"} {
		if !strings.Contains(m, part) {
			t.Errorf("the notification lacks %q: %s", part, m)
		}
	}
	s.checkHygiene(hist)
}

package rotorlocal

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/rotation"
)

// testClock is a clock a test sets.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

type sweepOutput struct {
	Count     int                 `json:"count"`
	Held      int                 `json:"held"`
	HeldFirst []rotation.HeldItem `json:"heldFirst"`
	Items     []map[string]any    `json:"items"`
	Pages     json.RawMessage     `json:"pages"`
}

// TestScheduleWindowPause: through the local endpoint with a clock the test
// moves, a secret with a weekly schedule and a window is rotated by the
// first due sweep inside its window and not by one outside it; a paused
// secret is held with its reason in the sweep's output; a leak of the
// paused secret rotates it all the same, saying what it overrode.
func TestScheduleWindowPause(t *testing.T) {
	clk := &testClock{}
	clk.Set("2026-12-06T12:00:00Z") // a Sunday, after its window
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(context.Background(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.logs, Now: clk.Now, WaitScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	seed := func(name string, tags map[string]string) {
		tok, err := rotation.NewToken(clk.Now())
		e.must(t, err)
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("initial-" + name + "-0123456789abcdef"),
			ClientRequestToken: aws.String(tok)}
		for k, v := range tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		_, err = h.SecretsManager().CreateSecret(t.Context(), in)
		e.must(t, err)
	}
	seed("app/weekly", map[string]string{"rotor:provider": "random", "rotor:grace-period": "0s",
		"rotor:schedule": "cron(0 3 ? * SUN *)", "rotor:window": "cron(0 2 ? * SUN *) 4h"})
	seed("app/paused", map[string]string{"rotor:provider": "random", "rotor:grace-period": "0s",
		"rotor:schedule": "rate(1 day)", "rotor:paused": "true", "rotor:paused-reason": "deploy freeze"})

	sweep := func(now string) sweepOutput {
		t.Helper()
		clk.Set(now)
		x, err := h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
			Input: aws.String(`{"trigger":"sweep"}`)})
		e.must(t, err)
		e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
		d, err := h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		e.must(t, err)
		var out sweepOutput
		e.must(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
		return out
	}
	held := func(out sweepOutput, name string) string {
		for _, h := range out.HeldFirst {
			if h.Name == name {
				return h.Reason
			}
		}
		return ""
	}
	initial := e.value(t, "app/weekly", "AWSCURRENT")

	// Thursday: the weekly secret is not due; the paused one is, and waits.
	out := sweep("2026-12-10T00:00:00Z")
	if out.Count != 0 {
		t.Errorf("Thursday's sweep planned %d rotations, want 0", out.Count)
	}
	if r := held(out, "app/paused"); r != "paused: deploy freeze" {
		t.Errorf("the paused secret's reason in the sweep's output is %q (output %+v)", r, out)
	}
	// Sunday 07:00: due since 03:00, but the window closed at 06:00.
	out = sweep("2026-12-13T07:00:00Z")
	if out.Count != 0 || !strings.HasPrefix(held(out, "app/weekly"), "outside its window") {
		t.Errorf("the sweep outside the window: %d planned, app/weekly held for %q; want 0 and outside its window", out.Count, held(out, "app/weekly"))
	}
	if e.value(t, "app/weekly", "AWSCURRENT") != initial {
		t.Fatal("the weekly secret was rotated outside its window")
	}
	// The next Sunday, inside the window: rotated.
	out = sweep("2026-12-20T02:15:00Z")
	if out.Count != 1 || held(out, "app/weekly") != "" {
		t.Fatalf("the sweep inside the window planned %d (want 1), held app/weekly for %q", out.Count, held(out, "app/weekly"))
	}
	waitChanged(t, e, "app/weekly", initial)
	// Rotated: not due again in the same window.
	if out = sweep("2026-12-20T03:30:00Z"); out.Count != 0 {
		t.Errorf("a second sweep in the same window planned %d, want 0", out.Count)
	}

	// A schedule of cdk.json waits for the pause too, and says so.
	pausedBefore := e.value(t, "app/paused", "AWSCURRENT")
	x, err := h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"schedule","secretId":"app/paused"}`)})
	e.must(t, err)
	e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
	d, err := h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
	e.must(t, err)
	var sched sweepOutput
	e.must(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &sched))
	if sched.Count != 0 || held(sched, "app/paused") != "paused: deploy freeze" || e.value(t, "app/paused", "AWSCURRENT") != pausedBefore {
		t.Errorf("a scheduled rotation of the paused secret: %+v; want nothing planned, held for the pause", sched)
	}

	// A leak of the paused secret is an emergency: rotated anyway.
	x, err = h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"leak","secretId":"app/paused","leak":{"source":"generic","reference":"test"}}`)})
	e.must(t, err)
	e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
	if e.value(t, "app/paused", "AWSCURRENT") == pausedBefore {
		t.Error("the leak did not rotate the paused secret")
	}
	if hist := strings.ReplaceAll(e.history(t, aws.ToString(x.ExecutionArn)), `\`, ""); !strings.Contains(hist, `"overrides":"paused: deploy freeze"`) {
		t.Error("the leak's plan does not say it overrode the pause")
	}
}

// waitChanged waits for a child execution to rotate a secret.
func waitChanged(t *testing.T, e *leakEnv, name, before string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.value(t, name, "AWSCURRENT") == before {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not rotated", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScheduleBadTagDoesNotStopTheSweep: a tag that does not parse is
// named, per secret: the sweep plans that secret (its rotation fails
// naming the tag, so it is notified) and rotates the others; a manual
// rotation of it fails the same way and changes nothing.
func TestScheduleBadTagDoesNotStopTheSweep(t *testing.T) {
	clk := &testClock{}
	clk.Set("2026-12-06T12:00:00Z")
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(context.Background(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.logs, Now: clk.Now, WaitScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	for name, schedule := range map[string]string{"app/bad": "every sunday", "app/good": "rate(1 day)"} {
		tok, err := rotation.NewToken(clk.Now())
		e.must(t, err)
		_, err = h.SecretsManager().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name),
			SecretString: aws.String("initial-" + name + "-0123456789abcdef"), ClientRequestToken: aws.String(tok),
			Tags: []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")},
				{Key: aws.String("rotor:grace-period"), Value: aws.String("0s")},
				{Key: aws.String("rotor:schedule"), Value: aws.String(schedule)}}})
		e.must(t, err)
	}
	bad, good := e.value(t, "app/bad", "AWSCURRENT"), e.value(t, "app/good", "AWSCURRENT")
	clk.Set("2026-12-08T00:00:00Z")
	x, err := h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"sweep"}`)})
	e.must(t, err)
	e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
	d, err := h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
	e.must(t, err)
	var out sweepOutput
	e.must(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
	if out.Count != 2 {
		t.Errorf("the sweep planned %d, want 2 (the good one, and the bad one so that its failure is notified)", out.Count)
	}
	waitChanged(t, e, "app/good", good)
	// Later that day the broken one is listed with its error, not planned
	// again: its failure was notified at the day's first sweep (the
	// deployed resolve knows the sweeper runs every 15 minutes).
	clk.Set("2026-12-08T00:30:00Z")
	x, err = h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"sweep"}`)})
	e.must(t, err)
	e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
	d, err = h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
	e.must(t, err)
	out = sweepOutput{}
	e.must(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
	if out.Count != 0 || len(out.HeldFirst) != 1 || !strings.Contains(out.HeldFirst[0].Reason, "tag rotor:schedule") {
		t.Errorf("the sweep later that day: %+v; want nothing planned and app/bad listed with its error", out)
	}
	x, err = h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"manual","secretId":"app/bad"}`)})
	e.must(t, err)
	e.wait(t, aws.ToString(x.ExecutionArn), "FAILED")
	if hist := e.history(t, aws.ToString(x.ExecutionArn)); !strings.Contains(hist, "tag rotor:schedule") || !strings.Contains(hist, "Rotor.InvalidInput") {
		t.Errorf("the refusal does not name the tag: %s", hist)
	}
	if e.value(t, "app/bad", "AWSCURRENT") != bad {
		t.Error("the secret with the bad tag changed")
	}
}

package asl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:"

type harness struct {
	reg   *Registry
	clock *VirtualClock
	eng   *Engine
}

func newHarness() *harness {
	h := &harness{reg: NewRegistry(), clock: NewVirtualClock(t0)}
	h.eng = New(Options{Tasks: h.reg, Clock: h.clock, Random: func() float64 { return 0.5 }, UUID: func() string { return "11111111-2222-4333-8444-555555555555" }})
	return h
}

func (h *harness) fn(name string, f func(in any) (any, error)) {
	h.reg.Function(name, func(_ context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in any
		_ = json.Unmarshal(raw, &in)
		out, err := f(in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	})
}

func (h *harness) run(t *testing.T, def, input string) (*Result, []Event) {
	t.Helper()
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return h.eng.Run(context.Background(), d, json.RawMessage(input), ExecutionOptions{Name: "exec-1", StateMachineName: "sm"})
}

func jsonEq(t *testing.T, want string, got json.RawMessage) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output %q is not JSON", got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestDataFlow(t *testing.T) {
	for _, tc := range []struct {
		rule, def, input, want, err string
	}{
		{"InputPath selects the effective input (spec: InputPath)",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.a","End":true}}}`, `{"a":{"b":1}}`, `{"b":1}`, ""},
		{"InputPath null gives an empty object (spec: null InputPath)",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":null,"End":true}}}`, `{"a":1}`, `{}`, ""},
		{"ResultPath null discards the result (spec: ResultPath null)",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":7,"ResultPath":null,"End":true}}}`, `{"a":1}`, `{"a":1}`, ""},
		{"ResultPath places the result into the raw input, not the InputPath view",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.a","Result":7,"ResultPath":"$.r.s","End":true}}}`, `{"a":{"x":1}}`, `{"a":{"x":1},"r":{"s":7}}`, ""},
		{"OutputPath null gives an empty object",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","OutputPath":null,"End":true}}}`, `{"a":1}`, `{}`, ""},
		{"Parameters evaluates .$ fields, nested objects and arrays",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$.a","n":{"y.$":"$.b[1]"},"l":[{"z.$":"$.a"},3]},"End":true}}}`,
			`{"a":"A","b":[0,1]}`, `{"x":"A","n":{"y":1},"l":[{"z":"A"},3]}`, ""},
		{"a non-singular path selects a list",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"xs.$":"$.items[*].id"},"End":true}}}`,
			`{"items":[{"id":1},{"id":2}]}`, `{"xs":[1,2]}`, ""},
		{"context object: Execution.Name, StateMachine.Name, State.Name, State.EnteredTime",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"e.$":"$$.Execution.Name","m.$":"$$.StateMachine.Name","s.$":"$$.State.Name","t.$":"$$.State.EnteredTime","i.$":"$$.Execution.Input.a"},"End":true}}}`,
			`{"a":5}`, `{"e":"exec-1","m":"sm","s":"P","t":"2026-11-26T09:00:00.000Z","i":5}`, ""},
		{"a missing path in Parameters is States.Runtime",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}}}`, `{}`, "", ErrRuntime},
		{"a missing InputPath is States.Runtime",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.nope","End":true}}}`, `{}`, "", ErrRuntime},
		{"ResultPath into a non-object is States.Runtime",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}`, `{"a":"str"}`, "", ErrRuntime},
		{"an intrinsic function in Parameters",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"g.$":"States.Format('Hi {}', $.n)"},"End":true}}}`, `{"n":"Ann"}`, `{"g":"Hi Ann"}`, ""},
		{"an intrinsic failure is States.IntrinsicFailure",
			`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"g.$":"States.ArrayGetItem($.a, 5)"},"End":true}}}`, `{"a":[1]}`, "", ErrIntrinsicFailure},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			res, _ := newHarness().run(t, tc.def, tc.input)
			if tc.err != "" {
				if res.Status != StatusFailed || res.Error != tc.err {
					t.Fatalf("got %s %s (%s), want FAILED %s", res.Status, res.Error, res.Cause, tc.err)
				}
				return
			}
			if res.Status != StatusSucceeded {
				t.Fatalf("got %s %s: %s", res.Status, res.Error, res.Cause)
			}
			jsonEq(t, tc.want, res.Output)
		})
	}
}

func TestRetryBackoffOnVirtualClock(t *testing.T) {
	// IntervalSeconds 2, BackoffRate 3, MaxDelaySeconds 10: waits 2, 6, 10 (capped).
	h := newHarness()
	var calls []time.Time
	h.fn("flaky", func(in any) (any, error) {
		calls = append(calls, h.clock.Now())
		if len(calls) < 4 {
			return nil, &TaskFailure{Name: "Flaky", Cause: "try again"}
		}
		return "ok", nil
	})
	res, _ := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`flaky","Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":5,"MaxDelaySeconds":10}],"End":true}}}`, `{}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s", res.Status, res.Cause)
	}
	var gaps []time.Duration
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].Sub(calls[i-1]))
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second, 6 * time.Second, 10 * time.Second}, gaps); diff != "" {
		t.Errorf("retry gaps (-want +got):\n%s", diff)
	}
}

func TestRetryRules(t *testing.T) {
	for _, tc := range []struct {
		rule, retry, catch string
		fails              int
		wantCalls          int
		wantErr            string
	}{
		{"MaxAttempts 0 never retries", `[{"ErrorEquals":["E"],"MaxAttempts":0}]`, ``, 9, 1, "E"},
		{"default MaxAttempts is 3", `[{"ErrorEquals":["E"]}]`, ``, 9, 4, "E"},
		{"only the first matching retrier counts", `[{"ErrorEquals":["E"],"MaxAttempts":1},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}]`, ``, 9, 2, "E"},
		{"States.TaskFailed matches a custom error", `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":2}]`, ``, 9, 3, "E"},
		{"after retries the catcher handles it", `[{"ErrorEquals":["E"],"MaxAttempts":1}]`, `[{"ErrorEquals":["E"],"Next":"C"}]`, 9, 2, ""},
		{"a non-matching error is not retried", `[{"ErrorEquals":["Other"]}]`, ``, 9, 1, "E"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			h := newHarness()
			calls := 0
			h.fn("f", func(any) (any, error) {
				calls++
				if calls <= tc.fails {
					return nil, &TaskFailure{Name: "E", Cause: "c"}
				}
				return 1, nil
			})
			extra := ""
			if tc.catch != "" {
				extra = `,"Catch":` + tc.catch
			}
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `f","Retry":` + tc.retry + extra + `,"End":true},"C":{"Type":"Pass","End":true}}}`
			if tc.catch == "" {
				def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `f","Retry":` + tc.retry + `,"End":true}}}`
			}
			res, _ := h.run(t, def, `{}`)
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if res.Error != tc.wantErr {
				t.Errorf("error %q, want %q", res.Error, tc.wantErr)
			}
		})
	}
}

func TestRuntimeErrorsAreNotCaught(t *testing.T) {
	// AWS: "States.ALL ... can't catch the States.DataLimitExceeded terminal
	// error or the Runtime error types."
	h := newHarness()
	h.fn("f", func(any) (any, error) { return map[string]any{}, nil })
	res, _ := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`f","OutputPath":"$.missing","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`, `{}`)
	if res.Status != StatusFailed || res.Error != ErrRuntime {
		t.Fatalf("got %s %s, want FAILED States.Runtime", res.Status, res.Error)
	}
}

func TestCatchResultPath(t *testing.T) {
	h := newHarness()
	h.fn("f", func(any) (any, error) { return nil, &TaskFailure{Name: "Boom", Cause: "why"} })
	res, _ := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`f","Catch":[{"ErrorEquals":["Boom"],"ResultPath":"$.err","Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`, `{"keep":1}`)
	jsonEq(t, `{"keep":1,"err":{"Error":"Boom","Cause":"why"}}`, res.Output)
}

func TestTaskTimeout(t *testing.T) {
	h := newHarness()
	h.reg.Function("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		if err := h.clock.Sleep(ctx, time.Hour); err != nil {
			return nil, err
		}
		return json.RawMessage(`"late"`), nil
	})
	res, hist := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`slow","TimeoutSeconds":30,"Catch":[{"ErrorEquals":["States.Timeout"],"Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`, `{}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s", res.Status, res.Error)
	}
	jsonEq(t, `{"Error":"States.Timeout","Cause":"The task did not finish within 30s"}`, res.Output)
	if !hasEvent(hist, "LambdaFunctionTimedOut") {
		t.Error("no LambdaFunctionTimedOut event")
	}
	if got := h.clock.Now().Sub(t0); got != 30*time.Second {
		t.Errorf("virtual time advanced %s, want 30s", got)
	}
}

func TestTimeoutSecondsPath(t *testing.T) {
	h := newHarness()
	h.reg.Function("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		return nil, h.clock.Sleep(ctx, time.Hour)
	})
	res, _ := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`slow","TimeoutSecondsPath":"$.t","End":true}}}`, `{"t":5}`)
	if res.Error != ErrTimeout || h.clock.Now().Sub(t0) != 5*time.Second {
		t.Fatalf("got %s after %s, want States.Timeout after 5s", res.Error, h.clock.Now().Sub(t0))
	}
}

func TestExecutionTimeout(t *testing.T) {
	res, hist := newHarness().run(t, `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, `{}`)
	if res.Status != StatusTimedOut || !hasEvent(hist, "ExecutionTimedOut") {
		t.Fatalf("got %s, want TIMED_OUT with an ExecutionTimedOut event", res.Status)
	}
}

func TestWaitFormsOnVirtualClock(t *testing.T) {
	for _, tc := range []struct {
		rule, state, input string
		want               time.Duration
	}{
		{"Seconds", `"Seconds":86400`, `{}`, 24 * time.Hour},
		{"SecondsPath", `"SecondsPath":"$.s"`, `{"s":90}`, 90 * time.Second},
		{"Timestamp", `"Timestamp":"2026-11-27T09:00:00Z"`, `{}`, 24 * time.Hour},
		{"TimestampPath", `"TimestampPath":"$.t"`, `{"t":"2026-11-26T10:00:00+01:00"}`, 0},
		{"a timestamp in the past does not wait", `"Timestamp":"2020-01-01T00:00:00Z"`, `{}`, 0},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			h := newHarness()
			res, _ := h.run(t, `{"StartAt":"W","States":{"W":{"Type":"Wait",`+tc.state+`,"End":true}}}`, tc.input)
			if res.Status != StatusSucceeded {
				t.Fatalf("%s %s %s", res.Status, res.Error, res.Cause)
			}
			if got := h.clock.Now().Sub(t0); got != tc.want {
				t.Errorf("waited %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("a negative SecondsPath is States.Runtime", func(t *testing.T) {
		res, _ := newHarness().run(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{"s":-1}`)
		if res.Error != ErrRuntime {
			t.Errorf("got %s", res.Error)
		}
	})
}

func TestMapConcurrencyOnVirtualClock(t *testing.T) {
	// Four items each waiting 10s, two at a time: 20 virtual seconds.
	h := newHarness()
	var running, peak atomic.Int32
	h.reg.Function("work", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer running.Add(-1)
		if err := h.clock.Sleep(ctx, 10*time.Second); err != nil {
			return nil, err
		}
		return in, nil
	})
	res, hist := h.run(t, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":2,
		"ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value"},
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`work","End":true}}},"End":true}}}`, `{"xs":["a","b","c","d"]}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("%s %s %s", res.Status, res.Error, res.Cause)
	}
	jsonEq(t, `[{"i":0,"v":"a"},{"i":1,"v":"b"},{"i":2,"v":"c"},{"i":3,"v":"d"}]`, res.Output)
	if peak.Load() != 2 {
		t.Errorf("peak concurrency %d, want 2", peak.Load())
	}
	if got := h.clock.Now().Sub(t0); got != 20*time.Second {
		t.Errorf("virtual time %s, want 20s", got)
	}
	if countEvents(hist, "MapIterationSucceeded") != 4 {
		t.Error("want 4 MapIterationSucceeded events")
	}
}

func TestMapIterationFailureAbortsTheRest(t *testing.T) {
	h := newHarness()
	h.reg.Function("work", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if string(in) == `"bad"` {
			return nil, &TaskFailure{Name: "Bad", Cause: "bad item"}
		}
		return in, h.clock.Sleep(ctx, time.Hour)
	})
	res, hist := h.run(t, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`work","End":true}}},"Catch":[{"ErrorEquals":["Bad"],"Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`, `["ok","bad","ok"]`)
	if res.Status != StatusSucceeded || !strings.Contains(string(res.Output), `"Bad"`) {
		t.Fatalf("got %s %s", res.Status, res.Output)
	}
	// Every iteration that started ends: one failed, the others aborted
	// (an iteration not yet started when the Map failed has no events).
	started, aborted := countEvents(hist, "MapIterationStarted"), countEvents(hist, "MapIterationAborted")
	if countEvents(hist, "MapIterationFailed") != 1 || aborted != started-1 {
		t.Errorf("events: %d started, %d aborted, %d failed", started, aborted, countEvents(hist, "MapIterationFailed"))
	}
	if h.clock.Now() != t0 {
		t.Errorf("the aborted iterations' waits advanced the clock to %s", h.clock.Now())
	}
}

func TestParallel(t *testing.T) {
	res, _ := newHarness().run(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
		{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},
		{"StartAt":"B","States":{"B":{"Type":"Wait","Seconds":5,"Next":"B2"},"B2":{"Type":"Pass","Result":2,"End":true}}}],
		"ResultSelector":{"sum.$":"States.MathAdd($[0], $[1])"},"End":true}}}`, `{}`)
	jsonEq(t, `{"sum":3}`, res.Output)
}

func TestLambdaInvokeAndSNS(t *testing.T) {
	h := newHarness()
	h.fn("double", func(in any) (any, error) { return in.(map[string]any)["n"].(float64) * 2, nil })
	var published []string
	h.reg.Service(ResourceSNSPublish, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		published = append(published, string(in))
		return json.RawMessage(`{"MessageId":"m-1"}`), nil
	})
	res, hist := h.run(t, `{"StartAt":"L","States":{
		"L":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"`+fnARN+`double:$LATEST","Payload":{"n.$":"$.n"}},"ResultSelector":{"v.$":"$.Payload","code.$":"$.StatusCode"},"Next":"N"},
		"N":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message.$":"$"},"ResultPath":"$.sns","End":true}}}`, `{"n":21}`)
	jsonEq(t, `{"v":42,"code":200,"sns":{"MessageId":"m-1"}}`, res.Output)
	if len(published) != 1 || !strings.Contains(published[0], `"Message":{"code":200,"v":42}`) {
		t.Errorf("published %v", published)
	}
	for _, ev := range []string{"TaskScheduled", "TaskStarted", "TaskSucceeded"} {
		if countEvents(hist, ev) != 2 {
			t.Errorf("want 2 %s events (service integrations)", ev)
		}
	}
}

func TestHistoryEventNames(t *testing.T) {
	h := newHarness()
	h.fn("f", func(in any) (any, error) { return in, nil })
	_, hist := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`f","Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":1,"Next":"S"}]},"S":{"Type":"Succeed"}}}`, `{"x":1}`)
	var types []string
	for _, e := range hist {
		types = append(types, e.Type)
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
		"ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event types (-want +got):\n%s", diff)
	}
	for i, e := range hist {
		if e.ID != int64(i+1) || (i > 0 && e.PreviousEventID != int64(i)) {
			t.Errorf("event %d: id %d previous %d", i, e.ID, e.PreviousEventID)
		}
	}
	b, _ := json.Marshal(hist[1])
	if !strings.Contains(string(b), `"stateEnteredEventDetails":{"input":"{\"x\":1}"`) {
		t.Errorf("TaskStateEntered marshals as %s; want input as a JSON string", b)
	}
}

func TestStopAbortsExecution(t *testing.T) {
	h := newHarness()
	d, _ := Parse([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":10,"End":true}}}`))
	blocker := make(chan struct{})
	h.reg.Function("block", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) { <-blocker; return nil, nil })
	// Keep the virtual clock from jumping: a tracked goroutine holds it.
	h.clock.track()
	x := h.eng.Start(context.Background(), d, json.RawMessage(`{}`), ExecutionOptions{})
	x.Stop("Operator.Stop", "stopped by test")
	h.clock.untrack()
	res := x.Wait(context.Background())
	if res.Status != StatusAborted || res.Error != "Operator.Stop" {
		t.Fatalf("got %s %s", res.Status, res.Error)
	}
	close(blocker)
}

func TestDataLimitExceeded(t *testing.T) {
	h := newHarness()
	h.fn("big", func(any) (any, error) { return strings.Repeat("x", MaxPayload), nil })
	res, _ := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`big","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Pass","End":true}}}`, `{}`)
	if res.Error != ErrDataLimitExceeded {
		t.Fatalf("got %s %s, want an uncaught States.DataLimitExceeded", res.Status, res.Error)
	}
}

func TestMockConfig(t *testing.T) {
	mc, err := ParseMockConfig([]byte(`{"StateMachines":{"sm":{"TestCases":{"Retry":{"T":"Flaky"}}}},
		"MockedResponses":{"Flaky":{"0":{"Throw":{"Error":"Lambda.TooManyRequestsException","Cause":"slow down"}},"1-2":{"Throw":{"Error":"Lambda.ServiceException","Cause":"oops"}},"3":{"Return":{"ok":true}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	runner, err := mc.Runner("sm", "Retry", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness()
	h.eng.tasks = runner
	res, hist := h.run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"`+fnARN+`f","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":3,"IntervalSeconds":1}],"End":true}}}`, `{}`)
	jsonEq(t, `{"ok":true}`, res.Output)
	if n := countEvents(hist, "LambdaFunctionFailed"); n != 3 {
		t.Errorf("%d failures, want 3 (invocations 0, 1 and 2)", n)
	}
	for _, bad := range []string{
		`{"StateMachines":{"sm":{"TestCases":{"c":{"T":"Missing"}}}},"MockedResponses":{}}`,
		`{"StateMachines":{},"MockedResponses":{"R":{"0-x":{"Return":1}}}}`,
		`{"StateMachines":{},"MockedResponses":{"R":{"0":{"Return":1,"Throw":{"Error":"E"}}}}}`,
		`{"StateMachines":{},"MockedResponses":{"R":{"0-2":{"Return":1},"2":{"Return":2}}}}`,
	} {
		if _, err := ParseMockConfig([]byte(bad)); err == nil {
			t.Errorf("ParseMockConfig(%s) accepted a bad file", bad)
		}
	}
	if _, err := mc.Runner("sm", "Nope", nil); err == nil || !strings.Contains(err.Error(), "Retry") {
		t.Errorf("an unknown test case gave %v", err)
	}
}

func TestValidationNamesTheState(t *testing.T) {
	for _, tc := range []struct {
		rule, def, state, want string
	}{
		{"a missing transition target", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, "A", `transition to "B"`},
		{"an unreachable state", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true},"B":{"Type":"Pass","End":true}}}`, "B", "not reachable"},
		{"States.ALL not last", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Catch":[{"ErrorEquals":["States.ALL"],"Next":"A"},{"ErrorEquals":["E"],"Next":"A"}],"End":true}}}`, "A", "States.ALL must appear alone"},
		{"a bad path", `{"StartAt":"A","States":{"A":{"Type":"Pass","InputPath":"a.b","End":true}}}`, "A", "must start with $"},
		{"a bad JSONPath", `{"StartAt":"A","States":{"A":{"Type":"Pass","OutputPath":"$.a[","End":true}}}`, "A", "not valid JSONPath"},
		{"ResultPath must be a reference path", `{"StartAt":"A","States":{"A":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`, "A", "Reference Path"},
		{"Next and End together", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A","End":true}}}`, "A", "exactly one of Next and End"},
		{"an unknown field", `{"StartAt":"A","States":{"A":{"Type":"Pass","Resource":"x","End":true}}}`, "A", `field "Resource" is not valid in a Pass state`},
		{"a BackoffRate below 1", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5}],"End":true}}}`, "A", "BackoffRate"},
		{"a bad intrinsic", `{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Nope(1)"},"End":true}}}`, "A", "Parameters"},
		{"a Choice rule without Next", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsNull":true}]}}}`, "A", "Next is required"},
		{"a duplicate name in a branch", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}],"End":true}}}`, "A", "more than once"},
		{"Wait with two forms", `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`, "A", "exactly one of Seconds"},
		{"JSONata is refused", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, "", "JSONata"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := Parse([]byte(tc.def))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.State == tc.state && strings.Contains(p.Message, tc.want) {
					return
				}
			}
			t.Errorf("no problem on state %q containing %q in %v", tc.state, tc.want, ve.Problems)
		})
	}
}

func hasEvent(h []Event, typ string) bool { return countEvents(h, typ) > 0 }

func countEvents(h []Event, typ string) int {
	n := 0
	for _, e := range h {
		if e.Type == typ {
			n++
		}
	}
	return n
}

package asl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// apiError is an error with an SDK error code, as the Step Functions
// SDK's (and the local endpoint's) are.
type apiError struct{ code string }

func (e *apiError) Error() string     { return e.code + ": refused" }
func (e *apiError) ErrorCode() string { return e.code }

const smPrefix = "arn:aws:states:us-east-1:123456789012:stateMachine:"

// stepFunctions is Step Functions in process for the engine's tests: state
// machines by ARN, run on one engine, StartExecution with AWS's
// idempotency rule (the same name and input while running is the same
// execution; otherwise ExecutionAlreadyExists), and the wait and stop the
// .sync integrations call. The local endpoint is the real one
// (internal/localaws/stepfunctions).
type stepFunctions struct {
	eng *Engine

	mu       sync.Mutex
	machines map[string]*Definition
	execs    map[string]*childExec
	calls    int // StartExecution calls
	starts   int // executions started
}

type childExec struct {
	x       *Execution
	machine string
	name    string
	input   string
}

func newStepFunctions(t *testing.T, machines map[string]string) *stepFunctions {
	t.Helper()
	sf := &stepFunctions{machines: map[string]*Definition{}, execs: map[string]*childExec{}}
	for name, def := range machines {
		d, err := Parse([]byte(def))
		if err != nil {
			t.Fatalf("machine %s: %v", name, err)
		}
		sf.machines[smPrefix+name] = d
	}
	return sf
}

func (sf *stepFunctions) services() Services {
	return Services{StartExecution: sf.start, WaitExecution: sf.wait, StopExecution: sf.stop}
}

func (sf *stepFunctions) start(ctx context.Context, machine, name, input string) (string, time.Time, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.calls++
	def, ok := sf.machines[machine]
	if !ok {
		return "", time.Time{}, &apiError{"StateMachineDoesNotExist"}
	}
	arn := strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
	if c, ok := sf.execs[arn]; ok {
		select {
		case <-c.x.Done():
		default:
			if c.input == input {
				return arn, c.x.StartTime(), nil
			}
		}
		return "", time.Time{}, &apiError{"ExecutionAlreadyExists"}
	}
	sf.starts++
	x := sf.eng.Start(ctx, def, json.RawMessage(input), ExecutionOptions{Name: name, ARN: arn, StateMachineARN: machine,
		StateMachineName: strings.TrimPrefix(machine, smPrefix)})
	sf.execs[arn] = &childExec{x: x, machine: machine, name: name, input: input}
	return arn, x.StartTime(), nil
}

func (sf *stepFunctions) child(arn string) (*childExec, error) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	c, ok := sf.execs[arn]
	if !ok {
		return nil, &apiError{"ExecutionDoesNotExist"}
	}
	return c, nil
}

func (sf *stepFunctions) wait(ctx context.Context, arn string) (*ExecutionDescription, error) {
	c, err := sf.child(arn)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.x.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := c.x.Wait(ctx)
	hist := c.x.History()
	return &ExecutionDescription{ExecutionARN: arn, StateMachineARN: c.machine, Name: c.name, Status: res.Status,
		StartDate: c.x.StartTime(), StopDate: hist[len(hist)-1].Timestamp, Input: c.input, Output: string(res.Output),
		Error: res.Error, Cause: res.Cause}, nil
}

func (sf *stepFunctions) stop(_ context.Context, arn, errName, cause string) error {
	c, err := sf.child(arn)
	if err != nil {
		return err
	}
	c.x.Stop(errName, cause)
	return nil
}

// result returns a started child's result once it has ended.
func (sf *stepFunctions) result(t *testing.T, arn string) *Result {
	t.Helper()
	c, err := sf.child(arn)
	if err != nil {
		t.Fatalf("child %s was never started", arn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.x.Wait(ctx)
}

// eventDetails returns the details of the first event of type typ.
func eventDetails(t *testing.T, hist []Event, typ string) map[string]any {
	t.Helper()
	for _, e := range hist {
		if e.Type == typ {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			d, _ := m[e.DetailsKey].(map[string]any)
			return d
		}
	}
	t.Fatalf("no %s event", typ)
	return nil
}

func eventTypes(hist []Event) []string {
	var out []string
	for _, e := range hist {
		out = append(out, e.Type)
	}
	return out
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q is not JSON: %v", s, err)
	}
	return v
}

const (
	childMachine = `{"StartAt":"Rest","States":{
		"Rest":{"Type":"Wait","Seconds":60,"Next":"Double"},
		"Double":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.n, $.n)"},"End":true}}}`
	failingMachine = `{"StartAt":"Boom","States":{"Boom":{"Type":"Fail","Error":"Child.Failed","Cause":"it broke"}}}`
	timeoutMachine = `{"TimeoutSeconds":10,"StartAt":"Rest","States":{"Rest":{"Type":"Wait","Seconds":60,"End":true}}}`
	parentARN      = "arn:aws:states:us-east-1:123456789012:execution:parent:p-1"
)

// syncParent is a parent starting machine as child name (none when "") in
// mode ("", ".sync", ".sync:2") with extra fields on the Task state.
func syncParent(mode, machine, name, extra string) string {
	recovered := ""
	if strings.Contains(extra, `"Recovered"`) {
		recovered = `,"Recovered":{"Type":"Pass","Parameters":{"error.$":"$.Error","cause.$":"States.StringToJson($.Cause)"},"End":true}`
	}
	nameField := ""
	if name != "" {
		nameField = `"Name":"` + name + `",`
	}
	return `{"StartAt":"Start","States":{
		"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution` + mode + `",
		  "Parameters":{"StateMachineArn":"` + smPrefix + machine + `",` + nameField + `"Input":{"n.$":"$.n"}},` + extra + `"End":true}` +
		recovered + `}}`
}

var t0ms = float64(t0.UnixMilli())

// TestStartExecutionSync runs states:startExecution.sync and .sync:2 on
// the engine against in-process child executions: the result is the
// child's DescribeExecution (Input and Output as JSON text for .sync, as
// values for .sync:2), a child that does not succeed fails the task with
// States.TaskFailed and that description as cause, and the history has
// TaskSubmitted between TaskStarted and the task's end.
func TestStartExecutionSync(t *testing.T) {
	childARN := "arn:aws:states:us-east-1:123456789012:execution:child:c-1"
	succeeded := map[string]any{
		"ExecutionArn": childARN, "StateMachineArn": smPrefix + "child", "Name": "c-1", "Status": "SUCCEEDED",
		"StartDate": t0ms, "StopDate": t0ms + 60000, "RedriveCount": float64(0),
		"InputDetails": map[string]any{"Included": true}, "OutputDetails": map[string]any{"Included": true},
		"RedriveStatus": "NOT_REDRIVABLE", "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	// of is the description of a child of machine that succeeded.
	of := func(machine string) map[string]any {
		return with(succeeded, "ExecutionArn", "arn:aws:states:us-east-1:123456789012:execution:"+machine+":c-1", "StateMachineArn", smPrefix+machine)
	}
	for _, tc := range []struct {
		name        string
		mode        string // .sync or .sync:2
		machine     string // the child's state machine
		extra       string // more fields of the parent's Task state
		wantStatus  string
		wantError   string
		wantOutput  any    // the parent's output (SUCCEEDED)
		wantCause   any    // the parent's cause, decoded (FAILED with States.TaskFailed)
		childStatus string // the child's status at the end
	}{
		{name: ".sync:2 returns the description with Input and Output as values",
			mode: ".sync:2", machine: "child", extra: "",
			wantStatus: StatusSucceeded, wantOutput: with(succeeded, "Input", map[string]any{"n": float64(2)}, "Output", map[string]any{"doubled": float64(4)}),
			childStatus: StatusSucceeded},
		{name: ".sync returns the description with Input and Output as JSON text",
			mode: ".sync", machine: "child", extra: "",
			wantStatus: StatusSucceeded, wantOutput: with(succeeded, "Input", `{"n":2}`, "Output", `{"doubled":4}`),
			childStatus: StatusSucceeded},
		{name: "a child that fails fails the task with States.TaskFailed and its description",
			mode: ".sync:2", machine: "failing", extra: "",
			wantStatus: StatusFailed, wantError: ErrTaskFailed,
			wantCause: with(of("failing"), "Status", "FAILED", "StopDate", t0ms,
				"Input", map[string]any{"n": float64(2)}, "Output", nil, "OutputDetails", nil, "RedriveStatus", nil, "RedriveStatusReason", nil,
				"Error", "Child.Failed", "Cause", "it broke"),
			childStatus: StatusFailed},
		{name: "a child that times out fails the task the same way",
			mode: ".sync", machine: "timeout", extra: "",
			wantStatus: StatusFailed, wantError: ErrTaskFailed,
			wantCause: with(of("timeout"), "Status", "TIMED_OUT", "StopDate", t0ms+10000,
				"Input", `{"n":2}`, "Output", nil, "OutputDetails", nil, "RedriveStatus", nil, "RedriveStatusReason", nil,
				"Error", ErrTimeout, "Cause", "The execution exceeded its TimeoutSeconds"),
			childStatus: StatusTimedOut},
		{name: "the failure is caught as States.TaskFailed",
			mode: ".sync:2", machine: "failing", extra: `"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Recovered"}],`,
			wantStatus: StatusSucceeded,
			wantOutput: map[string]any{"error": ErrTaskFailed, "cause": with(of("failing"), "Status", "FAILED", "StopDate", t0ms,
				"Input", map[string]any{"n": float64(2)}, "Output", nil, "OutputDetails", nil, "RedriveStatus", nil, "RedriveStatusReason", nil,
				"Error", "Child.Failed", "Cause", "it broke")},
			childStatus: StatusFailed},
		{name: "a missing state machine is StepFunctions.StateMachineDoesNotExistException",
			mode: ".sync:2", machine: "nope", extra: "",
			wantStatus: StatusFailed, wantError: "StepFunctions.StateMachineDoesNotExistException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := newStepFunctions(t, map[string]string{"child": childMachine, "failing": failingMachine, "timeout": timeoutMachine})
			sf.eng = New(Options{Tasks: sf.services(), Clock: NewVirtualClock(t0)})
			def, err := Parse([]byte(syncParent(tc.mode, tc.machine, "c-1", tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			res, hist := sf.eng.Run(context.Background(), def, json.RawMessage(`{"n":2}`), ExecutionOptions{Name: "p-1", ARN: parentARN})
			if res.Status != tc.wantStatus || res.Error != tc.wantError {
				t.Fatalf("parent %s %s (%s), want %s %s", res.Status, res.Error, res.Cause, tc.wantStatus, tc.wantError)
			}
			if tc.wantOutput != nil {
				if diff := cmp.Diff(tc.wantOutput, decodeJSON(t, string(res.Output))); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
			if tc.wantCause != nil {
				if diff := cmp.Diff(tc.wantCause, decodeJSON(t, res.Cause)); diff != "" {
					t.Errorf("cause (-want +got):\n%s", diff)
				}
			}
			if tc.childStatus == "" {
				if sf.starts != 0 {
					t.Errorf("%d children started", sf.starts)
				}
				return
			}
			childARN := "arn:aws:states:us-east-1:123456789012:execution:" + tc.machine + ":c-1"
			child := sf.result(t, childARN)
			if child.Status != tc.childStatus {
				t.Errorf("child %s (%s: %s), want %s", child.Status, child.Error, child.Cause, tc.childStatus)
			}
			submitted := eventDetails(t, hist, "TaskSubmitted")
			wantSubmitted := map[string]any{"resourceType": "states", "resource": "startExecution" + tc.mode,
				"output": `{"ExecutionArn":"` + childARN + `","SdkHttpMetadata":{"HttpStatusCode":200},` +
					`"SdkResponseMetadata":{"RequestId":"00000000-0000-0000-0000-000000000000"},"StartDate":` + string(mustJSON(t, t0ms)) + `}`,
				"outputDetails": map[string]any{"truncated": false}}
			if diff := cmp.Diff(wantSubmitted, submitted); diff != "" {
				t.Errorf("TaskSubmitted details (-want +got):\n%s", diff)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStartExecutionSyncHistory: the events of a .sync:2 task are AWS's,
// in order and chained: TaskScheduled names resourceType "states" and
// resource "startExecution.sync:2".
func TestStartExecutionSyncHistory(t *testing.T) {
	sf := newStepFunctions(t, map[string]string{"child": childMachine})
	sf.eng = New(Options{Tasks: sf.services(), Clock: NewVirtualClock(t0)})
	def, err := Parse([]byte(syncParent(".sync:2", "child", "c-1", "")))
	if err != nil {
		t.Fatal(err)
	}
	res, hist := sf.eng.Run(context.Background(), def, json.RawMessage(`{"n":1}`), ExecutionOptions{Name: "p-1", ARN: parentARN})
	if res.Status != StatusSucceeded {
		t.Fatalf("parent %s %s", res.Status, res.Cause)
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, eventTypes(hist)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	for i, e := range hist {
		if e.ID != int64(i+1) || i > 0 && e.PreviousEventID != int64(i) {
			t.Errorf("event %d (%s): id %d, previous %d", i, e.Type, e.ID, e.PreviousEventID)
		}
	}
	scheduled := eventDetails(t, hist, "TaskScheduled")
	wantScheduled := map[string]any{"resourceType": "states", "resource": "startExecution.sync:2", "region": "us-east-1",
		"parameters": `{"Input":{"n":1},"Name":"c-1","StateMachineArn":"` + smPrefix + `child"}`}
	if diff := cmp.Diff(wantScheduled, scheduled); diff != "" {
		t.Errorf("TaskScheduled details (-want +got):\n%s", diff)
	}
	succeeded := eventDetails(t, hist, "TaskSucceeded")
	if succeeded["resource"] != "startExecution.sync:2" || !strings.Contains(succeeded["output"].(string), `"Output":{"doubled":2}`) {
		t.Errorf("TaskSucceeded details %v", succeeded)
	}
}

// holdingChildren returns Step Functions whose machine "hold" runs a task
// that holds until release is closed (or the child is stopped), on its own
// engine in real time: what the parent does to its child then depends on
// no virtual clock.
func holdingChildren(t *testing.T) (sf *stepFunctions, release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	reg := NewRegistry()
	reg.FunctionValue("hold", func(ctx context.Context, in any) (any, error) {
		select {
		case <-release:
			return map[string]any{"held": in}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	sf = newStepFunctions(t, map[string]string{"hold": `{"StartAt":"Hold","States":{"Hold":{"Type":"Task","Resource":"` + fnARN + `hold","End":true}}}`})
	sf.eng = New(Options{Tasks: reg})
	return sf, release
}

// TestStartExecutionSyncAbortAndDetach: a parent whose .sync task is
// aborted (the task timed out, the parent was stopped) stops the child it
// waited for, with AWS's cause; a detached parent (a host shutting down, to
// resume later) leaves it running.
func TestStartExecutionSyncAbortAndDetach(t *testing.T) {
	abandoned := "The Task state in AWS Step Functions execution [" + parentARN + "] which was managing this resource was aborted"
	for _, tc := range []struct {
		name        string
		extra       string             // more fields of the parent's Task state
		end         func(x *Execution) // what happens to the parent once it waits
		parent      string             // the parent's status and error
		childStatus string
		childCause  string
	}{
		{"the task's TimeoutSeconds", `"TimeoutSeconds":30,`, func(*Execution) {}, "FAILED States.Timeout", StatusAborted, abandoned},
		{"StopExecution of the parent", "", func(x *Execution) { x.Stop("Operator.Stop", "enough") }, "ABORTED Operator.Stop", StatusAborted, abandoned},
		{"the parent detached", "", func(x *Execution) { x.Detach() }, "ABORTED States.Detached", StatusSucceeded, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf, release := holdingChildren(t)
			def, err := Parse([]byte(syncParent(".sync:2", "hold", "c-1", tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			eng := New(Options{Tasks: sf.services(), Clock: NewVirtualClock(t0)})
			x := eng.Start(context.Background(), def, json.RawMessage(`{"n":1}`), ExecutionOptions{Name: "p-1", ARN: parentARN})
			for deadline := time.Now().Add(10 * time.Second); countEvents(x.History(), "TaskSubmitted") == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the parent never submitted its child")
				}
			}
			tc.end(x)
			res := x.Wait(context.Background())
			if got := res.Status + " " + res.Error; got != tc.parent {
				t.Errorf("parent %s, want %s", got, tc.parent)
			}
			close(release) // a child still running succeeds now
			child := sf.result(t, "arn:aws:states:us-east-1:123456789012:execution:hold:c-1")
			if child.Status != tc.childStatus || child.Cause != tc.childCause {
				t.Errorf("child %s (%q), want %s (%q)", child.Status, child.Cause, tc.childStatus, tc.childCause)
			}
		})
	}
}

// TestStartExecutionIdempotent: a name already used is the same execution
// when its input is the same and it still runs, and otherwise
// StepFunctions.ExecutionAlreadyExistsException, which a Catch takes as
// "already started". An unnamed child gets a name drawn by the engine, and
// the child's input carries AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.
func TestStartExecutionIdempotent(t *testing.T) {
	fanOut := `{"StartAt":"Fan","States":{"Fan":{"Type":"Map","ItemsPath":"$.names","ItemSelector":{"name.$":"$$.Map.Item.Value","n.$":"$.n"},
	  "ItemProcessor":{"StartAt":"Start","States":{
	    "Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution",
	      "Parameters":{"StateMachineArn":"` + smPrefix + `child","Name.$":"$.name","Input":{"n.$":"$.n"}},
	      "ResultSelector":{"arn.$":"$.ExecutionArn"},
	      "Catch":[{"ErrorEquals":["StepFunctions.ExecutionAlreadyExistsException"],"ResultPath":"$.refused","Next":"AlreadyStarted"}],"End":true},
	    "AlreadyStarted":{"Type":"Pass","Parameters":{"already.$":"$.refused.Error"},"End":true}}},"End":true}}}`
	for _, tc := range []struct {
		name   string
		runs   []string // the inputs of the parents run in turn
		settle bool     // let every child end before the last parent runs
		want   any      // the last parent's output
		starts int
	}{
		{"the same name and input while running is the same execution",
			[]string{`{"names":["x","x"],"n":1}`}, false,
			[]any{map[string]any{"arn": "arn:aws:states:us-east-1:123456789012:execution:child:x"}, map[string]any{"arn": "arn:aws:states:us-east-1:123456789012:execution:child:x"}}, 1},
		{"another input under a running name is ExecutionAlreadyExists, caught",
			[]string{`{"names":["x"],"n":1}`, `{"names":["x","y"],"n":2}`}, false,
			[]any{map[string]any{"already": "StepFunctions.ExecutionAlreadyExistsException"}, map[string]any{"arn": "arn:aws:states:us-east-1:123456789012:execution:child:y"}}, 2},
		{"the same input under the name of an ended execution is ExecutionAlreadyExists",
			[]string{`{"names":["x"],"n":1}`, `{"names":["x"],"n":1}`}, true,
			[]any{map[string]any{"already": "StepFunctions.ExecutionAlreadyExistsException"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := newStepFunctions(t, map[string]string{"child": childMachine})
			clock := NewVirtualClock(t0)
			sf.eng = New(Options{Tasks: sf.services(), Clock: clock})
			def, err := Parse([]byte(fanOut))
			if err != nil {
				t.Fatal(err)
			}
			// The children wait 60 virtual seconds: held still, they are
			// running when the next parent starts them again.
			clock.track()
			var res *Result
			for i, in := range tc.runs {
				if tc.settle && i == len(tc.runs)-1 {
					clock.untrack()
					sf.result(t, "arn:aws:states:us-east-1:123456789012:execution:child:x")
					clock.track()
				}
				res, _ = sf.eng.Run(context.Background(), def, json.RawMessage(in), ExecutionOptions{Name: "p"})
			}
			clock.untrack()
			if res.Status != StatusSucceeded {
				t.Fatalf("parent %s %s %s", res.Status, res.Error, res.Cause)
			}
			if diff := cmp.Diff(tc.want, decodeJSON(t, string(res.Output))); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if sf.starts != tc.starts {
				t.Errorf("%d executions started, want %d", sf.starts, tc.starts)
			}
		})
	}

	t.Run("an unnamed child is named by the engine and knows its parent", func(t *testing.T) {
		sf := newStepFunctions(t, map[string]string{"child": childMachine})
		sf.eng = New(Options{Tasks: sf.services(), Clock: NewVirtualClock(t0), UUID: func() string { return "0c4e6f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f" }})
		def, err := Parse([]byte(`{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
		  "Parameters":{"StateMachineArn":"` + smPrefix + `child","Input":{"n":3,"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$":"$$.Execution.Id"}},
		  "OutputPath":"$.Input","End":true}}}`))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := sf.eng.Run(context.Background(), def, nil, ExecutionOptions{Name: "p-1", ARN: parentARN})
		if res.Status != StatusSucceeded {
			t.Fatalf("parent %s %s %s", res.Status, res.Error, res.Cause)
		}
		want := map[string]any{"n": float64(3), StartedByKey: parentARN}
		if diff := cmp.Diff(want, decodeJSON(t, string(res.Output))); diff != "" {
			t.Errorf("the child's input (-want +got):\n%s", diff)
		}
		if _, err := sf.child("arn:aws:states:us-east-1:123456789012:execution:child:0c4e6f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f"); err != nil {
			t.Errorf("the child is not named by the engine's UUID: %v", err)
		}
	})
}

// TestStartExecutionSyncResumes: a journaled parent detached while its
// .sync task waits (a host shutting down) and resumed from its journal
// waits for the same child, started once, and finishes when it does, its
// history holding each event once.
func TestStartExecutionSyncResumes(t *testing.T) {
	sf, release := holdingChildren(t)
	def, err := Parse([]byte(syncParent(".sync:2", "hold", "", `"OutputPath":"$.Output",`)))
	if err != nil {
		t.Fatal(err)
	}
	uuids := 0
	newUUID := func() string {
		uuids++
		return "00000000-0000-4000-8000-00000000000" + string(rune('0'+uuids))
	}
	opts := ExecutionOptions{Name: "p-1", ARN: parentARN}
	j := newMemJournal()
	eng1 := New(Options{Tasks: sf.services(), UUID: newUUID})
	x1 := eng1.StartJournaled(context.Background(), def, json.RawMessage(`{"n":4}`), opts, j)
	for deadline := time.Now().Add(10 * time.Second); !j.has("TaskSubmitted"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the parent never submitted its child")
		}
	}
	x1.Detach()
	x1.Wait(context.Background())
	disk := j.snapshot()

	eng2 := New(Options{Tasks: sf.services(), UUID: newUUID})
	x2 := eng2.Resume(context.Background(), def, json.RawMessage(`{"n":4}`), opts, disk, disk.events)
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := x2.Wait(ctx)
	if res.Status != StatusSucceeded {
		t.Fatalf("resumed parent: %s %s %s", res.Status, res.Error, res.Cause)
	}
	if diff := cmp.Diff(map[string]any{"held": map[string]any{"n": float64(4)}}, decodeJSON(t, string(res.Output))); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if sf.calls != 1 || uuids != 1 {
		t.Errorf("StartExecution called %d times, %d names drawn; want the one child started before the restart waited for", sf.calls, uuids)
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, eventTypes(x2.History())); diff != "" {
		t.Errorf("history after the restart (-want +got):\n%s", diff)
	}
}

// TestStartExecutionSyncRefusals: parameters that are wrong fail the task
// with a named error and start nothing; a child that was never started is
// StepFunctions.ExecutionDoesNotExistException.
func TestStartExecutionSyncRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, params, want string
	}{
		{"no StateMachineArn", `{"Input":{}}`, "StepFunctions.InvalidParameterException"},
		{"a Name that is not a string", `{"StateMachineArn":"` + smPrefix + `child","Name":3}`, "StepFunctions.InvalidParameterException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := newStepFunctions(t, map[string]string{"child": childMachine})
			sf.eng = New(Options{Tasks: sf.services(), Clock: NewVirtualClock(t0)})
			def, err := Parse([]byte(`{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2","Parameters":` + tc.params + `,"End":true}}}`))
			if err != nil {
				t.Fatal(err)
			}
			res, _ := sf.eng.Run(context.Background(), def, nil, ExecutionOptions{})
			if res.Status != StatusFailed || res.Error != tc.want {
				t.Errorf("got %s %s, want FAILED %s", res.Status, res.Error, tc.want)
			}
			if sf.starts != 0 {
				t.Errorf("%d children started", sf.starts)
			}
		})
	}
	t.Run("a child that cannot be waited for", func(t *testing.T) {
		svc := Services{
			StartExecution: func(context.Context, string, string, string) (string, time.Time, error) {
				return "arn:aws:states:us-east-1:123456789012:execution:child:gone", t0, nil
			},
			WaitExecution: func(context.Context, string) (*ExecutionDescription, error) {
				return nil, &apiError{"ExecutionDoesNotExist"}
			},
		}
		_, err := svc.RunTask(context.Background(), &TaskRequest{Resource: ResourceStartExecutionSync2, Input: json.RawMessage(`{"StateMachineArn":"` + smPrefix + `child"}`)})
		var tf *TaskFailure
		if !errors.As(err, &tf) || tf.Name != "StepFunctions.ExecutionDoesNotExistException" {
			t.Errorf("error %v, want StepFunctions.ExecutionDoesNotExistException", err)
		}
	})
}

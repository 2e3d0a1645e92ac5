package localaws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

const testRole = "arn:aws:iam::000000000000:role/r"

// createMachine creates a state machine and returns its ARN.
func createMachine(t *testing.T, c *sfn.Client, name, def string) string {
	t.Helper()
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(testRole)})
	if err != nil {
		t.Fatalf("CreateStateMachine %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

// startAndWait starts an execution and waits for its end.
func startAndWait(t *testing.T, c *sfn.Client, machine, name, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	x, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	return waitDone(t, c, aws.ToString(x.ExecutionArn))
}

// syncParentDef starts machine in mode as the child named $.name with
// input {"n": $.n} naming the parent, catching what catch names.
func syncParentDef(mode, machine, catch string) string {
	catcher, caught := "", ""
	if catch != "" {
		catcher = `"Catch":[{"ErrorEquals":["` + catch + `"],"ResultPath":"$.caught","Next":"Caught"}],`
		caught = `,"Caught":{"Type":"Pass","Parameters":{"error.$":"$.caught.Error","cause.$":"States.StringToJson($.caught.Cause)"},"End":true}`
	}
	return `{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution` + mode + `",
	  "Parameters":{"StateMachineArn":"` + machine + `","Name.$":"$.name",
	    "Input":{"n.$":"$.n","AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$":"$$.Execution.Id"}},` + catcher + `"End":true}` + caught + `}}`
}

// withoutDates checks that a description's dates are epoch milliseconds
// of today and drops them, for comparison.
func withoutDates(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	for _, k := range []string{"StartDate", "StopDate"} {
		ms, ok := m[k].(float64)
		if !ok || time.Since(time.UnixMilli(int64(ms))) > time.Hour {
			t.Errorf("%s is %v, want epoch milliseconds of now", k, m[k])
		}
		delete(m, k)
	}
	return m
}

// TestStepFunctionsStartExecutionSync runs states:startExecution.sync and
// .sync:2 through the local endpoint over the SDK: the parent waits for
// its child and gets its description (Output as a JSON value with
// .sync:2, as text with .sync); a child that fails fails the parent's
// task with States.TaskFailed and the child's description as cause, which
// a Catch takes; the child's input names its parent, which the endpoint
// records.
func TestStepFunctionsStartExecutionSync(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	child := createMachine(t, c, "child", doubler)
	childExec := func(name string) string {
		return "arn:aws:states:us-east-1:000000000000:execution:child:" + name
	}
	parentOf := func(name string) string {
		return "arn:aws:states:us-east-1:000000000000:execution:parent-" + name + ":p-" + name
	}
	succeeded := func(name string, in, out any) map[string]any {
		return map[string]any{"ExecutionArn": childExec(name), "StateMachineArn": child, "Name": name, "Status": "SUCCEEDED",
			"Input": in, "InputDetails": map[string]any{"Included": true}, "Output": out, "OutputDetails": map[string]any{"Included": true},
			"RedriveCount": float64(0), "RedriveStatus": "NOT_REDRIVABLE", "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven"}
	}
	for _, tc := range []struct {
		name, mode, catch string
		n                 int
		wantStatus        types.ExecutionStatus
		wantError         string
		want              func(name string) any // the parent's output (dates dropped) or, failed, its cause
	}{
		{"sync2", ".sync:2", "", 0, types.ExecutionStatusSucceeded, "", func(name string) any {
			return succeeded(name, map[string]any{"n": float64(0), "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parentOf(name)}, map[string]any{"n": float64(0)})
		}},
		{"sync", ".sync", "", 0, types.ExecutionStatusSucceeded, "", func(name string) any {
			return succeeded(name, `{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"`+parentOf(name)+`","n":0}`, `{"n":0}`)
		}},
		{"fails", ".sync:2", "", -1, types.ExecutionStatusFailed, "States.TaskFailed", func(name string) any {
			return map[string]any{"ExecutionArn": childExec(name), "StateMachineArn": child, "Name": name, "Status": "FAILED",
				"Input": map[string]any{"n": float64(-1), "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parentOf(name)}, "InputDetails": map[string]any{"Included": true},
				"Error": "Double.Negative", "Cause": `{"errorMessage":"n must not be negative","errorType":"Double.Negative"}`, "RedriveCount": float64(0)}
		}},
		{"caught", ".sync", "States.TaskFailed", -1, types.ExecutionStatusSucceeded, "", func(name string) any {
			return map[string]any{"error": "States.TaskFailed", "cause": map[string]any{"ExecutionArn": childExec(name), "StateMachineArn": child, "Name": name, "Status": "FAILED",
				"Input": `{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"` + parentOf(name) + `","n":-1}`, "InputDetails": map[string]any{"Included": true},
				"Error": "Double.Negative", "Cause": `{"errorMessage":"n must not be negative","errorType":"Double.Negative"}`, "RedriveCount": float64(0)}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := createMachine(t, c, "parent-"+tc.name, syncParentDef(tc.mode, child, tc.catch))
			d := startAndWait(t, c, parent, "p-"+tc.name, fmt.Sprintf(`{"name":%q,"n":%d}`, tc.name, tc.n))
			if d.Status != tc.wantStatus || aws.ToString(d.Error) != tc.wantError {
				t.Fatalf("parent %s %s (%s), want %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), tc.wantStatus, tc.wantError)
			}
			text := aws.ToString(d.Output)
			if tc.wantError != "" {
				text = aws.ToString(d.Cause)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(text), &got); err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			if cause, ok := got["cause"].(map[string]any); ok {
				withoutDates(t, cause)
			} else {
				withoutDates(t, got)
			}
			if diff := cmp.Diff(tc.want(tc.name), any(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if by, err := srv.SFN.StartedBy(childExec(tc.name)); err != nil || by != parentOf(tc.name) {
				t.Errorf("StartedBy(child) = %q, %v; want the parent", by, err)
			}
			kids := srv.SFN.Children(parentOf(tc.name))
			if len(kids) != 1 || aws.ToString(kids[0].ExecutionArn) != childExec(tc.name) || kids[0].StopDate == nil {
				t.Errorf("Children(parent) = %+v, want the one ended child", kids)
			}
		})
	}

	t.Run("history", func(t *testing.T) {
		parent := createMachine(t, c, "parent-history", syncParentDef(".sync:2", child, ""))
		d := startAndWait(t, c, parent, "p-history", `{"name":"history","n":0}`)
		h, err := c.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []types.HistoryEventType
		var submitted *types.TaskSubmittedEventDetails
		for _, e := range h.Events {
			kinds = append(kinds, e.Type)
			if e.TaskSubmittedEventDetails != nil {
				submitted = e.TaskSubmittedEventDetails
			}
		}
		want := []types.HistoryEventType{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if submitted == nil || aws.ToString(submitted.Resource) != "startExecution.sync:2" || aws.ToString(submitted.ResourceType) != "states" ||
			!strings.Contains(aws.ToString(submitted.Output), `"ExecutionArn":"`+childExec("history")+`"`) {
			t.Errorf("TaskSubmitted details %+v", submitted)
		}
	})
}

// slowChild waits a minute: it is running while a test looks at it.
const slowChild = `{"StartAt":"Rest","States":{"Rest":{"Type":"Wait","Seconds":60,"End":true}}}`

// TestStepFunctionsIdempotentStart: through the endpoint, starting a child
// by a name in use with the same input while it runs is that child (one
// execution), and with other input is
// StepFunctions.ExecutionAlreadyExistsException, which a Catch takes as
// "already started".
func TestStepFunctionsIdempotentStart(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	child := createMachine(t, c, "slow", slowChild)
	fanOut := createMachine(t, c, "fan", `{"StartAt":"Fan","States":{"Fan":{"Type":"Map","ItemsPath":"$.names","MaxConcurrency":1,
	  "ItemSelector":{"name.$":"$$.Map.Item.Value","n.$":"$.n"},
	  "ItemProcessor":{"StartAt":"Start","States":{
	    "Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution",
	      "Parameters":{"StateMachineArn":"`+child+`","Name.$":"$.name","Input":{"n.$":"$.n"}},"ResultSelector":{"arn.$":"$.ExecutionArn"},
	      "Catch":[{"ErrorEquals":["StepFunctions.ExecutionAlreadyExistsException"],"ResultPath":"$.refused","Next":"AlreadyStarted"}],"End":true},
	    "AlreadyStarted":{"Type":"Pass","Parameters":{"already.$":"$.refused.Error"},"End":true}}},"End":true}}}`)
	x := map[string]any{"arn": "arn:aws:states:us-east-1:000000000000:execution:slow:x"}
	for _, tc := range []struct {
		name, input string
		want        []any
		children    int // executions of the child machine after the run
	}{
		{"the same name and input twice is one child", `{"names":["x","x"],"n":1}`, []any{x, x}, 1},
		{"the same name with other input is caught as already started", `{"names":["x","y"],"n":2}`,
			[]any{map[string]any{"already": "StepFunctions.ExecutionAlreadyExistsException"}, map[string]any{"arn": "arn:aws:states:us-east-1:000000000000:execution:slow:y"}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startAndWait(t, c, fanOut, "", tc.input)
			if d.Status != types.ExecutionStatusSucceeded {
				t.Fatalf("parent %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			var got []any
			if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			l, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(child)})
			if err != nil || len(l.Executions) != tc.children {
				t.Errorf("%d children, want %d (%v)", len(l.Executions), tc.children, err)
			}
		})
	}
}

// TestStepFunctionsSyncStopsChild: stopping a parent whose .sync task
// waits stops the child, with the cause AWS gives.
func TestStepFunctionsSyncStopsChild(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	child := createMachine(t, c, "slow", slowChild)
	parent := createMachine(t, c, "parent", syncParentDef(".sync:2", child, ""))
	x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(parent), Name: aws.String("p"), Input: aws.String(`{"name":"c","n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	for waitHistory(t, c, aws.ToString(x.ExecutionArn), "TaskSubmitted") {
	}
	if _, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn, Error: aws.String("Operator.Stop")}); err != nil {
		t.Fatal(err)
	}
	d := waitDone(t, c, "arn:aws:states:us-east-1:000000000000:execution:slow:c")
	want := "ABORTED The Task state in AWS Step Functions execution [" + aws.ToString(x.ExecutionArn) + "] which was managing this resource was aborted"
	if got := string(d.Status) + " " + aws.ToString(d.Cause); got != want {
		t.Errorf("child %q, want %q", got, want)
	}
}

// TestStepFunctionsSyncAcrossRestart: a parent waiting in .sync:2 when the
// endpoint stops resumes with it and finishes once its child (resumed too)
// does; the child was started once, and the parent's history has each
// event once.
func TestStepFunctionsSyncAcrossRestart(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "local.db")
	fns := newWorkFunctions()
	srv, c := openAwaiting(t, data, &messageLog{})
	fns.register(srv)
	srv.FunctionsReady()
	child := createMachine(t, c, "work", `{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work","End":true}}}`)
	parent := createMachine(t, c, "parent", `{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
	  "Parameters":{"StateMachineArn":"`+child+`","Input":{"secretId.$":"$.secretId"}},"OutputPath":"$.Output","End":true}}}`)
	fns.block.Store(true)
	x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(parent), Input: aws.String(`{"secretId":"app/db"}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-fns.started // the child's task runs: the child is running
	for waitHistory(t, c, aws.ToString(x.ExecutionArn), "TaskSubmitted") {
	}
	srv.Close()
	fns.block.Store(false)

	srv2, c2 := openAwaiting(t, data, &messageLog{})
	defer srv2.Close()
	fns.register(srv2)
	srv2.FunctionsReady()
	d := waitDone(t, c2, aws.ToString(x.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("parent after the restart: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if diff := cmp.Diff(`{"rotated":"app/db"}`, aws.ToString(d.Output)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	l, err := c2.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(child)})
	if err != nil || len(l.Executions) != 1 {
		t.Errorf("%d children (%v), want the one started before the restart", len(l.Executions), err)
	}
	counts := map[types.HistoryEventType]int{}
	h, err := c2.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range h.Events {
		counts[e.Type]++
		if e.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i, e.Id)
		}
	}
	if counts["TaskScheduled"] != 1 || counts["TaskSubmitted"] != 1 || counts["TaskSucceeded"] != 1 || counts["ExecutionSucceeded"] != 1 {
		t.Errorf("history after the restart: %v", counts)
	}
}

// TestStepFunctionsLimits: offline as on AWS, a state machine whose state
// produces more than 256 KiB (a Map collecting 300 results of 1 KiB, a
// Lambda returning 300 KiB) fails with States.DataLimitExceeded, even
// under a catcher on States.ALL, and the state after it never runs; an
// execution reaching 25,000 history events fails.
func TestStepFunctionsLimits(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	srv.Lambda.Register("big", func(context.Context, []byte) ([]byte, error) {
		return json.Marshal(map[string]string{"blob": strings.Repeat("x", 300*1024)})
	})
	for _, tc := range []struct {
		name, def        string
		wantError, cause string // the error, the beginning of its cause
	}{
		{"a Map collecting 300 KiB", `{"StartAt":"Make","States":{
			"Make":{"Type":"Pass","Parameters":{"items.$":"States.ArrayRange(1, 300, 1)"},"Next":"Fan"},
			"Fan":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"Fill","States":{
			  "Fill":{"Type":"Pass","Parameters":{"r.$":"States.ArrayRange(1000, 1249, 1)"},"End":true}}},
			  "ResultPath":"$.results","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Summarize"}],"Next":"Summarize"},
			"Summarize":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.results)"},"End":true}}}`,
			"States.DataLimitExceeded", "The result of state 'Fan' is "},
		{"a Lambda returning 300 KiB", `{"StartAt":"Big","States":{
			"Big":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:big","ResultPath":"$.big",
			  "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Summarize"}],"Next":"Summarize"},
			"Summarize":{"Type":"Pass","End":true}}}`,
			"States.DataLimitExceeded", "The result of task 'Big' is "},
		{"25,000 history events", `{"StartAt":"Count","States":{
			"Count":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)"},"Next":"More"},
			"More":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericLessThan":1000000,"Next":"Count"}],"Default":"Summarize"},
			"Summarize":{"Type":"Succeed"}}}`,
			"States.Runtime", "The execution reached the maximum number of history events (25000)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			machine := createMachine(t, c, strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), ",", ""), tc.def)
			d := startAndWait(t, c, machine, "", `{"n":0}`)
			if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != tc.wantError || !strings.HasPrefix(aws.ToString(d.Cause), tc.cause) {
				t.Fatalf("got %s %s %.100s, want FAILED %s %s...", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), tc.wantError, tc.cause)
			}
			for _, e := range historyJSON(t, c, aws.ToString(d.ExecutionArn)) {
				if strings.Contains(e, `"Name":"Summarize"`) {
					t.Fatalf("Summarize ran after the limit was exceeded: %.200s", e)
				}
			}
		})
	}
}

// TestStartedByRecordsTheParent: StartExecution records the execution
// named in AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID; a value that is not
// an execution ARN is InvalidExecutionInput naming the member, and starts
// nothing.
func TestStartedByRecordsTheParent(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	machine := createMachine(t, c, "pass", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	parent := "arn:aws:states:us-east-1:000000000000:execution:sweep:s-1"
	for _, tc := range []struct {
		name, input, wantBy, wantCode string
	}{
		{"an execution ARN", `{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"` + parent + `"}`, parent, ""},
		{"none", `{"n":1}`, "", ""},
		{"nested deeper does not count", `{"x":{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"` + parent + `"}}`, "", ""},
		{"a state machine ARN", `{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"arn:aws:states:us-east-1:000000000000:stateMachine:sweep"}`, "", "InvalidExecutionInput"},
		{"not a string", `{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":7}`, "", "InvalidExecutionInput"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
			x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(tc.input)})
			if tc.wantCode != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != tc.wantCode || !strings.Contains(ae.ErrorMessage(), "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID") {
					t.Fatalf("StartExecution = %v, want %s naming the member", err, tc.wantCode)
				}
				after, _ := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
				if len(after.Executions) != len(before.Executions) {
					t.Errorf("an execution was started")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			by, err := srv.SFN.StartedBy(aws.ToString(x.ExecutionArn))
			if err != nil || by != tc.wantBy {
				t.Errorf("StartedBy = %q, %v; want %q", by, err, tc.wantBy)
			}
		})
	}
	if kids := srv.SFN.Children(parent); len(kids) != 1 {
		t.Errorf("Children(parent) lists %d executions, want 1", len(kids))
	}
}

// TestFanOutSweep runs testdata/fanout.asl.json (the fan-out shape issue 13
// asks for, as asl-validator accepts it): two sweeps over the same plan,
// started together, start each child once under a name hashed from its
// item; for every item one sweep waits for the child (.sync:2) and the
// other is refused with ExecutionAlreadyExists and takes it as already
// started.
func TestFanOutSweep(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	const items = 20
	srv.Lambda.Register("resolve", func(context.Context, []byte) ([]byte, error) {
		var plan []map[string]string
		for i := range items {
			plan = append(plan, map[string]string{"id": fmt.Sprintf("app/%d", i), "version": "v1"})
		}
		return json.Marshal(map[string]any{"items": plan})
	})
	var mu sync.Mutex
	rotated := map[string]int{}
	srv.Lambda.Register("rotate", func(_ context.Context, p []byte) ([]byte, error) {
		var in struct{ ID string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond) // the sweeps overlap
		mu.Lock()
		rotated[in.ID]++
		mu.Unlock()
		return json.Marshal(map[string]string{"rotated": in.ID})
	})
	child := createMachine(t, c, "rotation", `{"StartAt":"Rotate","States":{"Rotate":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:rotate","End":true}}}`)
	def, err := os.ReadFile("testdata/fanout.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	sweep := createMachine(t, c, "sweep", strings.NewReplacer("${ResolveFunctionArn}", "arn:aws:lambda:us-east-1:000000000000:function:resolve",
		"${RotationStateMachineArn}", child).Replace(string(def)))

	var arns []string
	for _, name := range []string{"sweep-a", "sweep-b"} {
		x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sweep), Name: aws.String(name), Input: aws.String(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(x.ExecutionArn))
	}
	statuses := map[string]int{}
	children := 0
	for _, arn := range arns {
		d := waitDone(t, c, arn)
		if d.Status != types.ExecutionStatusSucceeded {
			t.Fatalf("%s: %s %s %s", arn, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		var out struct{ Started []struct{ Status string } }
		if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Started {
			statuses[s.Status]++
		}
		children += len(srv.SFN.Children(arn))
	}
	if diff := cmp.Diff(map[string]int{"SUCCEEDED": items, "ALREADY_STARTED": items}, statuses); diff != "" {
		t.Errorf("item results over both sweeps (-want +got):\n%s", diff)
	}
	if children != items || len(rotated) != items {
		t.Errorf("%d children linked to the sweeps, %d secrets rotated; want %d", children, len(rotated), items)
	}
	for id, n := range rotated {
		if n != 1 {
			t.Errorf("%s rotated %d times", id, n)
		}
	}
	sum := sha256.Sum256([]byte("app/0/v1"))
	name := "rot-" + hex.EncodeToString(sum[:])
	if _, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:rotation:" + name)}); err != nil {
		t.Errorf("no child named %s: %v", name, err)
	}
}

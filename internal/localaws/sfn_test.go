package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

func sfnClient(t *testing.T, url string) *sfn.Client {
	t.Helper()
	return sfn.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
}

func startSFNServer(t *testing.T, data string) (*Server, *sfn.Client) {
	t.Helper()
	// New resumes what the data file holds before the function below is
	// registered: its calls wait for FunctionsReady.
	srv, err := New(Options{DataFile: data, AwaitFunctions: true})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Lambda.Register("double", func(_ context.Context, p []byte) ([]byte, error) {
		var in struct{ N float64 }
		if err := json.Unmarshal(p, &in); err != nil || in.N < 0 {
			return nil, &locallambda.FunctionError{Type: "Double.Negative", Message: "n must not be negative"}
		}
		return json.Marshal(map[string]float64{"n": in.N * 2})
	})
	srv.FunctionsReady()
	return srv, sfnClient(t, url)
}

const doubler = `{"StartAt":"Double","States":{
  "Double":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:double","Next":"Rest"},
  "Rest":{"Type":"Wait","SecondsPath":"$.n","Next":"Done"},
  "Done":{"Type":"Succeed"}}}`

func waitDone(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			return d
		}
	}
}

func TestStepFunctionsAPI(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("doubler"), Definition: aws.String(doubler), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(sm.StateMachineArn); got != "arn:aws:states:us-east-1:000000000000:stateMachine:doubler" {
		t.Errorf("state machine ARN %s", got)
	}
	again, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("doubler"), Definition: aws.String(doubler), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil || aws.ToString(again.StateMachineArn) != aws.ToString(sm.StateMachineArn) {
		t.Errorf("CreateStateMachine with the same definition is idempotent: %v", err)
	}

	t.Run("an execution runs to its end and its history reads back", func(t *testing.T) {
		x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("first"), Input: aws.String(`{"n":0}`)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(aws.ToString(x.ExecutionArn), ":execution:doubler:first") || x.StartDate == nil {
			t.Errorf("StartExecution answered %v", x)
		}
		d := waitDone(t, c, aws.ToString(x.ExecutionArn))
		if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"n":0}` || d.StopDate == nil {
			t.Fatalf("DescribeExecution: %s %s", d.Status, aws.ToString(d.Output))
		}
		h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []types.HistoryEventType
		for _, e := range h.Events {
			kinds = append(kinds, e.Type)
		}
		want := []types.HistoryEventType{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
			"LambdaFunctionSucceeded", "TaskStateExited", "WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if e := h.Events[1]; e.StateEnteredEventDetails == nil || aws.ToString(e.StateEnteredEventDetails.Name) != "Double" ||
			aws.ToString(e.StateEnteredEventDetails.Input) != `{"n":0}` || e.Timestamp == nil {
			t.Errorf("TaskStateEntered event decoded as %+v", e)
		}
		page, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn, MaxResults: 4, ReverseOrder: true})
		if err != nil || len(page.Events) != 4 || page.Events[0].Type != "ExecutionSucceeded" || page.NextToken == nil {
			t.Errorf("a reversed page of 4: %v", err)
		}
	})

	t.Run("a function error fails the execution with its type", func(t *testing.T) {
		x, _ := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"n":-1}`)})
		d := waitDone(t, c, aws.ToString(x.ExecutionArn))
		if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Double.Negative" || !strings.Contains(aws.ToString(d.Cause), "must not be negative") {
			t.Errorf("got %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
	})

	t.Run("StopExecution aborts a running execution", func(t *testing.T) {
		x, _ := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"n":30}`)})
		for waitHistory(t, c, aws.ToString(x.ExecutionArn), "WaitStateEntered") {
		}
		if _, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn, Error: aws.String("Op.Stop"), Cause: aws.String("test")}); err != nil {
			t.Fatal(err)
		}
		d := waitDone(t, c, aws.ToString(x.ExecutionArn))
		if d.Status != types.ExecutionStatusAborted {
			t.Errorf("status %s", d.Status)
		}
	})

	t.Run("ListExecutions filters by status and pages", func(t *testing.T) {
		all, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
		if err != nil || len(all.Executions) != 3 {
			t.Fatalf("%d executions, %v", len(all.Executions), err)
		}
		ok, _ := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, StatusFilter: types.ExecutionStatusSucceeded})
		if len(ok.Executions) != 1 || aws.ToString(ok.Executions[0].Name) != "first" {
			t.Errorf("succeeded: %+v", ok.Executions)
		}
		p1, _ := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, MaxResults: 2})
		if len(p1.Executions) != 2 || p1.NextToken == nil {
			t.Errorf("page 1: %d, next %v", len(p1.Executions), p1.NextToken)
		}
	})

	for _, tc := range []struct {
		rule string
		call func() error
		want string
	}{
		{"a second execution with the same name is ExecutionAlreadyExists", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("first"), Input: aws.String(`{"n":1}`)})
			return err
		}, "ExecutionAlreadyExists"},
		{"a name with a space is InvalidName", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("a b")})
			return err
		}, "InvalidName"},
		{"input that is not JSON is InvalidExecutionInput", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String("{nope")})
			return err
		}, "InvalidExecutionInput"},
		{"input over 256 KiB is InvalidExecutionInput", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`"` + strings.Repeat("x", 262144) + `"`)})
			return err
		}, "InvalidExecutionInput"},
		{"an unknown state machine is StateMachineDoesNotExist", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:000000000000:stateMachine:nope")})
			return err
		}, "StateMachineDoesNotExist"},
		{"an unknown execution is ExecutionDoesNotExist", func() error {
			_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:doubler:nope")})
			return err
		}, "ExecutionDoesNotExist"},
		{"an invalid definition is InvalidDefinition naming the state", func() error {
			_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), RoleArn: aws.String("r"),
				Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`)})
			if err != nil && !strings.Contains(err.Error(), `state "A"`) {
				return errors.New("the message does not name the state: " + err.Error())
			}
			return err
		}, "InvalidDefinition"},
		{"another definition under a taken name is StateMachineAlreadyExists", func() error {
			_, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("doubler"), RoleArn: aws.String("r"),
				Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`)})
			return err
		}, "StateMachineAlreadyExists"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// waitHistory reports whether the execution's history still lacks typ
// (for polling loops).
func waitHistory(t *testing.T, c *sfn.Client, arn string, typ types.HistoryEventType) bool {
	t.Helper()
	h, err := c.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Events {
		if e.Type == typ {
			return false
		}
	}
	time.Sleep(10 * time.Millisecond)
	return true
}

// TestExecutionResumesAfterRestart: a server closed while an execution
// waits resumes it when it starts again on the same data file, and the
// wait ends when it was due.
func TestExecutionResumesAfterRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "local.db")
	srv, c := startSFNServer(t, data)
	ctx := context.Background()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("doubler"), Definition: aws.String(doubler), RoleArn: aws.String("r")})
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	for waitHistory(t, c, aws.ToString(x.ExecutionArn), "WaitStateEntered") {
	}
	srv.Close()

	srv2, c2 := startSFNServer(t, data)
	defer srv2.Close()
	d := waitDone(t, c2, aws.ToString(x.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"n":2}` {
		t.Fatalf("after the restart: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	h, _ := c2.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: x.ExecutionArn})
	counts := map[types.HistoryEventType]int{}
	for i, e := range h.Events {
		counts[e.Type]++
		if e.Id != int64(i+1) {
			t.Fatalf("event %d has id %d", i, e.Id)
		}
	}
	if counts["LambdaFunctionScheduled"] != 1 || counts["WaitStateEntered"] != 1 || counts["ExecutionSucceeded"] != 1 {
		t.Errorf("history after the restart: %v", counts)
	}
}

// TestStartExecutionDuplicateMembers: input with a duplicate object member
// at any depth is InvalidExecutionInput naming where (never the values),
// and starts nothing; the same name in sibling objects is fine.
func TestStartExecutionDuplicateMembers(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := t.Context()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("pass"), RoleArn: aws.String("arn:aws:iam::000000000000:role/r"),
		Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, input string
		pointer     string // "" when the input is accepted
	}{
		{"top level", `{"token":"s3cr3t-one","token":"s3cr3t-two"}`, `"/token"`},
		{"nested object", `{"secret":{"id":"a","value":"s3cr3t-one","value":"s3cr3t-two"}}`, `"/secret/value"`},
		{"object in an array", `{"items":[{"n":1},{"n":"s3cr3t-one","n":"s3cr3t-two"}]}`, `"/items/1/n"`},
		{"same name in sibling objects", `{"a":{"n":1},"b":{"n":2},"n":3}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(tc.input)})
			after, lerr := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
			if lerr != nil {
				t.Fatal(lerr)
			}
			started := len(after.Executions) - len(before.Executions)
			if tc.pointer == "" {
				if err != nil || started != 1 {
					t.Fatalf("StartExecution = %v, %d started; want it accepted", err, started)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidExecutionInput" {
				t.Fatalf("StartExecution = %v, want InvalidExecutionInput", err)
			}
			if want := "duplicate member " + tc.pointer; !strings.Contains(ae.ErrorMessage(), want) {
				t.Errorf("message %q does not say %s", ae.ErrorMessage(), want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error quotes a value: %v", err)
			}
			if started != 0 {
				t.Errorf("%d executions started", started)
			}
		})
	}
}

// TestStepFunctionsStartExecutionTask runs the states:startExecution
// integration: a parent starts a child by name, which then runs on its
// own; starting it again with other input is the parent's
// StepFunctions.ExecutionAlreadyExistsException.
func TestStepFunctionsStartExecutionTask(t *testing.T) {
	srv, c := startSFNServer(t, "")
	defer srv.Close()
	ctx := context.Background()
	role := aws.String("arn:aws:iam::000000000000:role/r")
	child, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("child"), Definition: aws.String(doubler), RoleArn: role})
	if err != nil {
		t.Fatal(err)
	}
	parentDef := `{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution",
	  "Parameters":{"StateMachineArn":"` + aws.ToString(child.StateMachineArn) + `","Name":"child-1","Input":{"n.$":"$.n"}},
	  "ResultSelector":{"arn.$":"$.ExecutionArn","started.$":"$.StartDate"},"End":true}}}`
	parent, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("parent"), Definition: aws.String(parentDef), RoleArn: role})
	if err != nil {
		t.Fatal(err)
	}
	run := func(input string) *sfn.DescribeExecutionOutput {
		x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: parent.StateMachineArn, Input: aws.String(input)})
		if err != nil {
			t.Fatal(err)
		}
		return waitDone(t, c, aws.ToString(x.ExecutionArn))
	}

	first := run(`{"n":1}`)
	var out struct {
		ARN     string
		Started float64
	}
	if first.Status != types.ExecutionStatusSucceeded || json.Unmarshal([]byte(aws.ToString(first.Output)), &out) != nil {
		t.Fatalf("parent: %s %s %s", first.Status, aws.ToString(first.Error), aws.ToString(first.Cause))
	}
	wantARN := "arn:aws:states:us-east-1:000000000000:execution:child:child-1"
	if out.ARN != wantARN || out.Started <= 0 {
		t.Errorf("parent output %s, want the child's ARN %s and its start date", aws.ToString(first.Output), wantARN)
	}
	d := waitDone(t, c, wantARN)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Input) != `{"n":1}` {
		t.Errorf("child: %s, input %s", d.Status, aws.ToString(d.Input))
	}

	again := run(`{"n":2}`)
	if again.Status != types.ExecutionStatusFailed || aws.ToString(again.Error) != "StepFunctions.ExecutionAlreadyExistsException" {
		t.Errorf("second parent: %s %s, want FAILED StepFunctions.ExecutionAlreadyExistsException", again.Status, aws.ToString(again.Error))
	}
}

package localaws

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/localaws/iam"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

// restartMachine has the shape of rotor's rotation: a Lambda task retried
// on Lambda's service errors only, caught by a cleanup task on the same
// kind of function. A missing function (Lambda.ResourceNotFoundException)
// is not retried here, so a task that ran before its function was
// registered failed the execution, as it did rotor's after a restart.
const restartMachine = `{"StartAt":"Work","States":{
  "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work","ResultPath":"$.work",
    "Retry":[{"ErrorEquals":["Lambda.ServiceException","Lambda.AWSLambdaException","Lambda.SdkClientException","Lambda.TooManyRequestsException"],"IntervalSeconds":1,"MaxAttempts":2}],
    "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Cleanup"}],"Next":"Done"},
  "Cleanup":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:cleanup","ResultPath":"$.cleanup","Next":"Failed"},
  "Failed":{"Type":"Fail","Error":"Test.Failed","Cause":"the work failed"},
  "Done":{"Type":"Succeed"}}}`

// messageLog records the server's log messages.
type messageLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *messageLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *messageLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *messageLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *messageLog) WithGroup(string) slog.Handler      { return l }

func (l *messageLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

const waitsForFunctions = "lambda call waits for the host's functions"

// workFunctions are the machine's functions: work blocks until its
// context ends while block is set (a task in flight when the process
// dies); both count their calls.
type workFunctions struct {
	block   atomic.Bool
	started chan struct{}
	work    atomic.Int32
	cleanup atomic.Int32
}

func newWorkFunctions() *workFunctions { return &workFunctions{started: make(chan struct{}, 16)} }

func (f *workFunctions) register(srv *Server) {
	srv.Lambda.Register("work", func(ctx context.Context, p []byte) ([]byte, error) {
		f.work.Add(1)
		if f.block.Load() {
			f.started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		var in struct{ SecretID string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, &locallambda.FunctionError{Type: "Test.BadInput", Message: "the input is not JSON"}
		}
		return json.Marshal(map[string]string{"rotated": in.SecretID})
	})
	srv.Lambda.Register("cleanup", func(context.Context, []byte) ([]byte, error) {
		f.cleanup.Add(1)
		return []byte(`{}`), nil
	})
}

// openAwaiting starts a server on data that holds Lambda calls until
// FunctionsReady, with no function registered yet: a host between New and
// the end of its deployment.
func openAwaiting(t *testing.T, data string, log *messageLog) (*Server, *sfn.Client) {
	t.Helper()
	srv, err := New(Options{DataFile: data, AwaitFunctions: true, Log: slog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	return srv, sfnClient(t, url)
}

// untilWaitingOrEnded waits until n Lambda calls wait for the host's
// functions, or the execution has ended (as it did before they waited).
func untilWaitingOrEnded(t *testing.T, c *sfn.Client, log *messageLog, n int, arn string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); log.count(waitsForFunctions) < n; time.Sleep(5 * time.Millisecond) {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Lambda call waits for the host's functions")
		}
	}
}

// TestRestartWaitsForFunctions: executions that reach a Lambda task before
// the host has registered its functions, resumed from the data file or
// started anew, wait for FunctionsReady and then finish; they are never
// failed with Lambda.ResourceNotFoundException by the race between
// resuming and registering.
func TestRestartWaitsForFunctions(t *testing.T) {
	const input = `{"secretId":"app/db"}`
	wantOutput := `{"secretId":"app/db","work":{"rotated":"app/db"}}`
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// run gets a server whose functions are registered and the ARN
		// of restartMachine; it returns a server restarted on the same
		// data file whose functions are not registered yet, and an
		// execution whose Lambda call waits for them.
		run func(t *testing.T, data string, fns *workFunctions, srv *Server, c *sfn.Client, machine string) (*Server, *sfn.Client, string)
		// work calls wanted in all (the killed one included)
		work int32
	}{
		{"killed while a task runs, resumed before the functions register", func(t *testing.T, data string, fns *workFunctions, srv *Server, c *sfn.Client, machine string) (*Server, *sfn.Client, string) {
			fns.block.Store(true)
			x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(input)})
			if err != nil {
				t.Fatal(err)
			}
			<-fns.started
			srv.Close() // the task was scheduled and never answered
			fns.block.Store(false)

			log := &messageLog{}
			srv2, c2 := openAwaiting(t, data, log)
			// The resumed execution reaches the task before the host
			// registers anything: the race that failed it.
			untilWaitingOrEnded(t, c2, log, 1, aws.ToString(x.ExecutionArn))
			return srv2, c2, aws.ToString(x.ExecutionArn)
		}, 2},
		{"started before the functions register", func(t *testing.T, data string, _ *workFunctions, srv *Server, _ *sfn.Client, machine string) (*Server, *sfn.Client, string) {
			srv.Close()
			log := &messageLog{}
			srv2, c2 := openAwaiting(t, data, log)
			x, err := c2.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(input)})
			if err != nil {
				t.Fatal(err)
			}
			untilWaitingOrEnded(t, c2, log, 1, aws.ToString(x.ExecutionArn))
			return srv2, c2, aws.ToString(x.ExecutionArn)
		}, 1},
		{"closed while it waits for the functions, resumed after", func(t *testing.T, data string, _ *workFunctions, srv *Server, _ *sfn.Client, machine string) (*Server, *sfn.Client, string) {
			srv.Close()
			log := &messageLog{}
			srv2, c2 := openAwaiting(t, data, log)
			x, err := c2.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(input)})
			if err != nil {
				t.Fatal(err)
			}
			untilWaitingOrEnded(t, c2, log, 1, aws.ToString(x.ExecutionArn))
			done := make(chan struct{})
			go func() { srv2.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Close hangs on a Lambda call waiting for the functions")
			}
			log3 := &messageLog{}
			srv3, c3 := openAwaiting(t, data, log3)
			untilWaitingOrEnded(t, c3, log3, 1, aws.ToString(x.ExecutionArn))
			return srv3, c3, aws.ToString(x.ExecutionArn)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "local.db")
			fns := newWorkFunctions()
			srv, c := openAwaiting(t, data, &messageLog{})
			fns.register(srv)
			srv.FunctionsReady()
			sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("restart"),
				Definition: aws.String(restartMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
			if err != nil {
				t.Fatal(err)
			}
			last, lc, arn := tc.run(t, data, fns, srv, c, aws.ToString(sm.StateMachineArn))
			defer last.Close()
			fns.register(last)
			last.FunctionsReady()
			d := waitDone(t, lc, arn)
			if d.Status != types.ExecutionStatusSucceeded {
				t.Fatalf("execution %s: %s: %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			if diff := cmp.Diff(wantOutput, aws.ToString(d.Output)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if got := fns.work.Load(); got != tc.work {
				t.Errorf("work ran %d times, want %d", got, tc.work)
			}
			if got := fns.cleanup.Load(); got != 0 {
				t.Errorf("cleanup ran %d times: the work failed", got)
			}
		})
	}
}

// TestStopWhileWaitingForFunctions: an execution whose task waits for the
// host's functions can be stopped; the function is never called.
func TestStopWhileWaitingForFunctions(t *testing.T) {
	ctx := context.Background()
	log := &messageLog{}
	srv, c := openAwaiting(t, "", log)
	defer srv.Close()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("restart"),
		Definition: aws.String(restartMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	untilWaitingOrEnded(t, c, log, 1, aws.ToString(x.ExecutionArn))
	if _, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn, Error: aws.String("Test.Stop")}); err != nil {
		t.Fatal(err)
	}
	fns := newWorkFunctions()
	fns.register(srv)
	srv.FunctionsReady()
	d := waitDone(t, c, aws.ToString(x.ExecutionArn))
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Test.Stop" {
		t.Errorf("execution %s (%s), want ABORTED (Test.Stop)", d.Status, aws.ToString(d.Error))
	}
	if n := fns.work.Load() + fns.cleanup.Load(); n != 0 {
		t.Errorf("%d function calls after the stop", n)
	}
}

// historyJSON returns an execution's history as one JSON text per event.
func historyJSON(t *testing.T, c *sfn.Client, arn string) []string {
	t.Helper()
	var out []string
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return out
}

// TestHistoryAfterRestart: GetExecutionHistory after a restart answers
// the events recorded before it as they were, state inputs and outputs
// included, for an execution that had ended (read from the data file) and
// for one resumed in the middle of a task (whose history goes on).
func TestHistoryAfterRestart(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "local.db")
	fns := newWorkFunctions()
	srv, c := openAwaiting(t, data, &messageLog{})
	fns.register(srv)
	srv.FunctionsReady()
	sm, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("restart"),
		Definition: aws.String(restartMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	ended, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"secretId":"app/ended"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := waitDone(t, c, aws.ToString(ended.ExecutionArn)); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("first execution: %s", d.Status)
	}
	fns.block.Store(true)
	resumed, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"secretId":"app/resumed"}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-fns.started
	before := map[string][]string{
		"ended":   historyJSON(t, c, aws.ToString(ended.ExecutionArn)),
		"resumed": historyJSON(t, c, aws.ToString(resumed.ExecutionArn)),
	}
	srv.Close()
	fns.block.Store(false)

	srv2, c2 := openAwaiting(t, data, &messageLog{})
	defer srv2.Close()
	fns.register(srv2)
	srv2.FunctionsReady()
	if d := waitDone(t, c2, aws.ToString(resumed.ExecutionArn)); d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("resumed execution: %s %s", d.Status, aws.ToString(d.Cause))
	}
	for _, tc := range []struct {
		name, arn, input string
	}{
		{"ended", aws.ToString(ended.ExecutionArn), `{\"secretId\":\"app/ended\"}`},
		{"resumed", aws.ToString(resumed.ExecutionArn), `{\"secretId\":\"app/resumed\"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := historyJSON(t, c2, tc.arn)
			if len(after) < len(before[tc.name]) {
				t.Fatalf("%d events after the restart, %d before", len(after), len(before[tc.name]))
			}
			if diff := cmp.Diff(before[tc.name], after[:len(before[tc.name])]); diff != "" {
				t.Errorf("the events recorded before the restart read back differently (-before +after):\n%s", diff)
			}
			entered := 0
			for _, e := range after {
				if strings.Contains(e, `"StateEnteredEventDetails":{`) {
					entered++
					if strings.Contains(e, `"Input":"null"`) {
						t.Errorf("a state's input reads back as null: %s", e)
					}
				}
				if strings.Contains(e, `"Name":"Work"`) && strings.Contains(e, `"TaskStateEntered"`) && !strings.Contains(e, tc.input) {
					t.Errorf("Work's input is not the execution's: %s", e)
				}
			}
			if entered != 2 {
				t.Errorf("%d state entered events, want 2 (Work, Done)", entered)
			}
		})
	}
}

// TestRestartActsAsTheRole: under EnforceIAM, an execution resumed from
// the data file calls its functions as its state machine's role the
// moment the server opens (a task in flight is called again before New
// returns, so IAM must be up before Step Functions): the role, kept in
// the data file, allows the first function and not the second, and the
// resumed execution is refused exactly that one.
func TestRestartActsAsTheRole(t *testing.T) {
	data := filepath.Join(t.TempDir(), "local.db")
	const machine = `{"StartAt":"Work","States":{
  "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work","ResultPath":"$.work","Next":"Cleanup"},
  "Cleanup":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:cleanup","End":true,
    "Catch":[{"ErrorEquals":["Lambda.AWSLambdaException"],"ResultPath":"$.denied","Next":"Denied"}]},
  "Denied":{"Type":"Fail","Error":"Test.Denied","Cause":"cleanup was refused"}}}`
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work"}]}`
	open := func() (*Server, *sfn.Client) {
		srv, err := New(Options{DataFile: data, AwaitFunctions: true, EnforceIAM: true})
		if err != nil {
			t.Fatal(err)
		}
		url, err := srv.Start("127.0.0.1:0")
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		return srv, sfnClient(t, url)
	}
	srv, c := open()
	roleARN, err := srv.IAM.PutRole(iam.Role{Name: "machine", AssumeRolePolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		Policies: map[string]string{"invoke-work": policy}})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{Name: aws.String("acts"),
		Definition: aws.String(machine), RoleArn: aws.String(roleARN)})
	if err != nil {
		t.Fatal(err)
	}
	first := newWorkFunctions()
	first.block.Store(true)
	first.register(srv)
	srv.FunctionsReady()
	x, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"SecretID":"s"}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-first.started
	srv.Close() // with the task in flight: resumed, it is called at once

	srv, c = open()
	defer srv.Close()
	f := newWorkFunctions()
	f.register(srv)
	srv.FunctionsReady()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	status, err := srv.SFN.Wait(ctx, aws.ToString(x.ExecutionArn))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if status != "FAILED" || aws.ToString(d.Error) != "Test.Denied" || f.work.Load() != 1 || f.cleanup.Load() != 0 {
		t.Errorf("resumed execution: %s %s, work called %d times, cleanup %d; want FAILED Test.Denied after work alone",
			status, aws.ToString(d.Error), f.work.Load(), f.cleanup.Load())
	}
}

package localaws

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

// History is written in batches: these tests count the data file's
// transactions and copy it mid-execution, as a crash would leave it.

// TestHistoryWrittenInBatches: an execution on a data file commits at most
// half the transactions that one per history event and one per journaled
// value (and two for the execution's record) would, and its history reads
// back whole after a restart.
func TestHistoryWrittenInBatches(t *testing.T) {
	const task = `"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:work","ResultPath":"$.work"`
	cases := []struct {
		name, definition string
		values           int // journaled values: the start, each state's entry time, each task's result
	}{
		{"four tasks and three passes", `{"StartAt":"A","States":{"A":{` + task + `,"Next":"B"},
		  "B":{"Type":"Pass","Next":"C"},"C":{` + task + `,"Next":"D"},"D":{"Type":"Pass","Next":"E"},
		  "E":{` + task + `,"Next":"F"},"F":{"Type":"Pass","Next":"G"},"G":{` + task + `,"End":true}}}`, 1 + 7 + 4},
		{"a map of 20 items, each two passes", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":4,
		  "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Q"},"Q":{"Type":"Pass","End":true}}},"End":true}}}`, 1 + 1 + 20*2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "local.db")
			fns := newWorkFunctions()
			srv, c := openAwaiting(t, data, &messageLog{})
			fns.register(srv)
			srv.FunctionsReady()
			sm, err := c.CreateStateMachine(t.Context(), &sfn.CreateStateMachineInput{Name: aws.String("batch"),
				Definition: aws.String(tc.definition), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
			if err != nil {
				t.Fatal(err)
			}
			before := costOf(t, srv)
			x, err := c.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
				Input: aws.String(`{"SecretID":"app/db","items":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}`)})
			if err != nil {
				t.Fatal(err)
			}
			if st, err := srv.SFN.Wait(t.Context(), aws.ToString(x.ExecutionArn)); err != nil || st != "SUCCEEDED" {
				t.Fatalf("execution %s: %v", st, err)
			}
			events := historyJSON(t, c, aws.ToString(x.ExecutionArn))
			if err := srv.Close(); err != nil { // which waits for the execution's record
				t.Fatal(err)
			}
			commits := fileCommits(t, data) - before.commits
			oneEach := int64(len(events) + tc.values + 2)
			t.Logf("%d events, %d values: %d commits (one each: %d)", len(events), tc.values, commits, oneEach)
			if commits*2 > oneEach {
				t.Errorf("%d commits for %d events and %d values, want at most %d", commits, len(events), tc.values, oneEach/2)
			}
			_, c2 := openAwaiting(t, data, &messageLog{})
			if diff := cmp.Diff(events, historyJSON(t, c2, aws.ToString(x.ExecutionArn))); diff != "" {
				t.Errorf("history after a restart (-before +after):\n%s", diff)
			}
		})
	}
}

// fileCommits reads the id of the last transaction committed to a closed
// data file.
func fileCommits(t *testing.T, file string) int64 {
	t.Helper()
	db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.View(func(tx *bbolt.Tx) error { id = int64(tx.ID()); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHistoryReachesFileWhileTaskRuns: the events recorded before a task
// that runs long reach the data file within moments (not at the task's
// end), so that a crash during the task loses none of them; a server
// started on that copy resumes the execution, which finishes with the
// history it had, then the rest.
func TestHistoryReachesFileWhileTaskRuns(t *testing.T) {
	data := filepath.Join(t.TempDir(), "local.db")
	fns := newWorkFunctions()
	srv, c := openAwaiting(t, data, &messageLog{})
	defer srv.Close()
	fns.register(srv)
	srv.FunctionsReady()
	sm, err := c.CreateStateMachine(t.Context(), &sfn.CreateStateMachineInput{Name: aws.String("restart"),
		Definition: aws.String(restartMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
	if err != nil {
		t.Fatal(err)
	}
	fns.block.Store(true)
	x, err := c.StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{"SecretID":"app/db"}`)})
	if err != nil {
		t.Fatal(err)
	}
	<-fns.started
	arn := aws.ToString(x.ExecutionArn)
	running := historyJSON(t, c, arn)
	if last := running[len(running)-1]; !strings.Contains(last, `"LambdaFunctionStarted"`) {
		t.Fatalf("the history of the running task ends with %s, want LambdaFunctionStarted", last)
	}

	// The crash: a copy of the file once the events had time to be
	// written (flushDelay, with room for a slow machine), while the task
	// still runs.
	time.Sleep(200 * time.Millisecond)
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	fns.block.Store(false)
	srv2, c2 := openAwaiting(t, crashed, &messageLog{})
	defer srv2.Close()
	fns.register(srv2)
	srv2.FunctionsReady()
	d := waitDone(t, c2, arn)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("resumed execution: %s %s", d.Status, aws.ToString(d.Cause))
	}
	after := historyJSON(t, c2, arn)
	if len(after) <= len(running) {
		t.Fatalf("%d events after the resumption, %d before the crash", len(after), len(running))
	}
	if diff := cmp.Diff(running, after[:len(running)]); diff != "" {
		t.Errorf("the events recorded before the crash (-before +after):\n%s", diff)
	}
	if got := fns.work.Load(); got != 2 {
		t.Errorf("work ran %d times, want 2 (the crashed call, then again)", got)
	}
}

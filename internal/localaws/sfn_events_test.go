package localaws

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"
)

// TestStatesPutEventsReachRules: an events:putEvents task puts its event
// on the endpoint's EventBridge, where a rule's pattern matches it and its
// target gets the envelope: the task's source, detail-type and detail,
// the state machine's and the execution's ARNs as resources. An entry for
// a bus that does not exist fails the task with EventBridge.FailedEntry.
func TestStatesPutEventsReachRules(t *testing.T) {
	srv, sf := startSFNServer(t, "")
	t.Cleanup(func() { srv.Close() })
	ctx := t.Context()
	var mu sync.Mutex
	var got []json.RawMessage
	srv.Lambda.Register("sink", func(_ context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		got = append(got, append(json.RawMessage(nil), p...))
		mu.Unlock()
		return []byte(`{}`), nil
	})
	eb := eventbridge.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: sf.Options().BaseEndpoint, Credentials: sf.Options().Credentials})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("outcomes"),
		EventPattern: aws.String(`{"source":["rotor"],"detail-type":["Rotation Succeeded"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("outcomes"), Targets: []ebtypes.Target{
		{Id: aws.String("sink"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:sink")}}}); err != nil {
		t.Fatal(err)
	}
	def := func(bus string) string {
		return `{"StartAt":"Emit","States":{"Emit":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents",
			"Parameters":{"Entries":[{"Source":"rotor","DetailType":"Rotation Succeeded","EventBusName":"` + bus + `","Detail":{"secretId.$":"$.secretId"}}]},
			"End":true}}}`
	}
	run := func(name, bus string) (*sfn.DescribeExecutionOutput, string) {
		t.Helper()
		m, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def(bus)),
			RoleArn: aws.String("arn:aws:iam::000000000000:role/machine")})
		if err != nil {
			t.Fatal(err)
		}
		x, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(`{"secretId":"arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return waitDone(t, sf, aws.ToString(x.ExecutionArn)), aws.ToString(x.ExecutionArn)
	}

	t.Run("the default bus", func(t *testing.T) {
		d, exec := run("emits", "default")
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		var out struct {
			Entries          []struct{ EventId string }
			FailedEntryCount int
		}
		if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil || len(out.Entries) != 1 || out.Entries[0].EventId == "" || out.FailedEntryCount != 0 {
			t.Fatalf("output %s (%v), want one event id and no failed entry", aws.ToString(d.Output), err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := srv.Events.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("the rule's target got %d events, want 1", len(got))
		}
		var ev struct {
			ID         string `json:"id"`
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Resources  []string
			Detail     map[string]string
		}
		if err := json.Unmarshal(got[0], &ev); err != nil {
			t.Fatal(err)
		}
		want := []string{"arn:aws:states:us-east-1:000000000000:stateMachine:emits", exec}
		if ev.ID != out.Entries[0].EventId || ev.Source != "rotor" || ev.DetailType != "Rotation Succeeded" || !cmp.Equal(want, ev.Resources) ||
			ev.Detail["secretId"] != "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf" {
			t.Errorf("delivered %s; want event %s with the task's fields and resources %v", got[0], out.Entries[0].EventId, want)
		}
	})

	t.Run("a bus that does not exist", func(t *testing.T) {
		d, _ := run("emits-nowhere", "nowhere")
		if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "EventBridge.FailedEntry" ||
			!strings.Contains(aws.ToString(d.Cause), `"ErrorCode":"ResourceNotFoundException"`) || !strings.Contains(aws.ToString(d.Cause), `"FailedEntryCount":1`) {
			t.Errorf("execution %s: %s %s; want FAILED with EventBridge.FailedEntry", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
	})
}

package asl

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ebError is an error with an SDK error code, as the EventBridge SDK's are.
type ebError struct{ code string }

func (e *ebError) Error() string     { return e.code + ": refused" }
func (e *ebError) ErrorCode() string { return e.code }

// TestEventsPutEvents runs events:putEvents over a PutEventsFunc: the
// entries it is given, and the result or the error the task ends with.
func TestEventsPutEvents(t *testing.T) {
	const exec = "arn:aws:states:us-east-1:123456789012:execution:rotor-rotation:run-1"
	const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:rotor-rotation"
	meta := `"SdkHttpMetadata":{"HttpStatusCode":200},"SdkResponseMetadata":{"RequestId":"00000000-0000-0000-0000-000000000000"}`
	cases := []struct {
		name, input string
		execution   string
		answer      func([]EventEntry) ([]EventResult, error)
		want        string // the result, or the error name and cause
		sent        []EventEntry
	}{
		{name: "an object Detail is sent as its JSON text; the machine and execution end Resources",
			input:     `{"Entries":[{"Source":"rotor","DetailType":"Rotation Succeeded","Detail":{"secretId":"s","n":1},"EventBusName":"default"}]}`,
			execution: exec,
			want:      `{"Entries":[{"EventId":"e-0"}],"FailedEntryCount":0,` + meta + `}`,
			sent:      []EventEntry{{Source: "rotor", DetailType: "Rotation Succeeded", Detail: `{"n":1,"secretId":"s"}`, EventBusName: "default", Resources: []string{machine, exec}}}},
		{name: "a string Detail is sent as it is, after the entry's own Resources",
			input:     `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":"{\"a\":1}","Resources":["arn:x"]},{"Source":"rotor","DetailType":"u","Detail":{}}]}`,
			execution: exec,
			want:      `{"Entries":[{"EventId":"e-0"},{"EventId":"e-1"}],"FailedEntryCount":0,` + meta + `}`,
			sent: []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{"a":1}`, Resources: []string{"arn:x", machine, exec}},
				{Source: "rotor", DetailType: "u", Detail: `{}`, Resources: []string{machine, exec}}}},
		{name: "outside an execution nothing is appended",
			input: `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{}}]}`,
			want:  `{"Entries":[{"EventId":"e-0"}],"FailedEntryCount":0,` + meta + `}`,
			sent:  []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{}`}}},
		{name: "a failed entry fails the task with EventBridge.FailedEntry and the answer",
			input: `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{},"EventBusName":"gone"}]}`,
			answer: func(es []EventEntry) ([]EventResult, error) {
				return []EventResult{{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus gone does not exist."}}, nil
			},
			want: `EventBridge.FailedEntry: {"Entries":[{"ErrorCode":"ResourceNotFoundException","ErrorMessage":"Event bus gone does not exist."}],"FailedEntryCount":1}`,
			sent: []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{}`, EventBusName: "gone"}}},
		{name: "one failed entry of two fails the task",
			input: `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{}},{"DetailType":"t","Detail":{}}]}`,
			answer: func(es []EventEntry) ([]EventResult, error) {
				return []EventResult{{EventID: "e-0"}, {ErrorCode: "InvalidArgument", ErrorMessage: "Source is a required argument."}}, nil
			},
			want: `EventBridge.FailedEntry: {"Entries":[{"EventId":"e-0"},{"ErrorCode":"InvalidArgument","ErrorMessage":"Source is a required argument."}],"FailedEntryCount":1}`,
			sent: []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{}`}, {DetailType: "t", Detail: `{}`}}},
		{name: "a refused request is named after its code",
			input:  `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{}}]}`,
			answer: func([]EventEntry) ([]EventResult, error) { return nil, &ebError{"AccessDeniedException"} },
			want:   `EventBridge.AccessDeniedException: AccessDeniedException: refused`,
			sent:   []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{}`}}},
		{name: "an answer of another length is a service error",
			input:  `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{}}]}`,
			answer: func([]EventEntry) ([]EventResult, error) { return nil, nil },
			want:   `EventBridge.InternalErrorException: PutEvents answered 0 entries for 1`,
			sent:   []EventEntry{{Source: "rotor", DetailType: "t", Detail: `{}`}}},
		{name: "no Entries", input: `{"Entries":[]}`,
			want: `EventBridge.ValidationException: events:putEvents: Parameters need Entries, a non-empty array`},
		{name: "another parameter", input: `{"Entries":[{}],"EndpointId":"x"}`,
			want: `EventBridge.ValidationException: events:putEvents: unknown parameter "EndpointId": it takes Entries only`},
		{name: "an entry member the integration does not take", input: `{"Entries":[{"Source":"rotor","Time":1}]}`,
			want: `EventBridge.ValidationException: events:putEvents: Entries[0]: member "Time" is not supported (Source, DetailType, Detail, EventBusName, Resources)`},
		{name: "a Detail that is an array", input: `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":[1]}]}`,
			want: `EventBridge.ValidationException: events:putEvents: Entries[0].Detail is neither a JSON object nor a string`},
		{name: "a DetailType that is not a string", input: `{"Entries":[{"Source":"rotor","DetailType":7,"Detail":{}}]}`,
			want: `EventBridge.ValidationException: events:putEvents: Entries[0].DetailType is not a string`},
		{name: "Resources that are not strings", input: `{"Entries":[{"Source":"rotor","DetailType":"t","Detail":{},"Resources":[1]}]}`,
			want: `EventBridge.ValidationException: events:putEvents: Entries[0].Resources is not an array of strings`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sent []EventEntry
			svc := Services{PutEvents: func(_ context.Context, es []EventEntry) ([]EventResult, error) {
				sent = append(sent, es...)
				if tc.answer != nil {
					return tc.answer(es)
				}
				out := make([]EventResult, len(es))
				for i := range es {
					out[i] = EventResult{EventID: "e-" + string(rune('0'+i))}
				}
				return out, nil
			}}
			out, err := svc.RunTask(context.Background(), &TaskRequest{Resource: ResourceEventsPutEvents, Input: json.RawMessage(tc.input), Execution: tc.execution})
			if err != nil {
				var tf *TaskFailure
				if !errors.As(err, &tf) {
					t.Fatalf("error %v is not a *TaskFailure", err)
				}
				if got := tf.Error(); got != tc.want {
					t.Errorf("error %s\nwant %s", got, tc.want)
				}
			} else {
				var got, want any
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
					t.Fatalf("want %s: %v", tc.want, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.sent, sent); diff != "" {
				t.Errorf("entries sent (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("without PutEvents, events:putEvents is not run", func(t *testing.T) {
		_, err := Services{}.RunTask(context.Background(), &TaskRequest{Resource: ResourceEventsPutEvents, Input: json.RawMessage(`{"Entries":[{}]}`)})
		var tf *TaskFailure
		if !errors.As(err, &tf) || tf.Name != ErrTaskFailed {
			t.Errorf("error %v, want States.TaskFailed", err)
		}
	})
}

// TestEventsPutEventsRetriedPutsOnce: a task whose PutEvents answers a
// failed entry is retried; since the failed entry was not put, the event
// is put once however many attempts it takes, and an event whose retries
// run out is caught like any task error.
func TestEventsPutEventsRetriedPutsOnce(t *testing.T) {
	def := `{"StartAt":"Emit","States":{
		"Emit":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents",
			"Parameters":{"Entries":[{"Source":"rotor","DetailType":"Rotation Succeeded","Detail":{"secretId.$":"$.id"}}]},
			"ResultPath":null,
			"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":2,"MaxAttempts":3,"BackoffRate":2}],
			"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.eventError","Next":"After"}],
			"Next":"After"},
		"After":{"Type":"Pass","End":true}}}`
	for _, tc := range []struct {
		name     string
		failures int // answers with a failed entry before a put
		want     string
		put      int
		attempts int
	}{
		{"put at once", 0, `{"id":"s-1"}`, 1, 1},
		{"put on the third attempt", 2, `{"id":"s-1"}`, 1, 3},
		{"never put: caught, the execution goes on", 9, `{"id":"s-1","eventError":{"Error":"EventBridge.FailedEntry","Cause":"{\"Entries\":[{\"ErrorCode\":\"ThrottlingException\",\"ErrorMessage\":\"slow down\"}],\"FailedEntryCount\":1}"}}`, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attempts, put := 0, 0
			svc := Services{PutEvents: func(_ context.Context, es []EventEntry) ([]EventResult, error) {
				attempts++
				if attempts <= tc.failures {
					return []EventResult{{ErrorCode: "ThrottlingException", ErrorMessage: "slow down"}}, nil
				}
				put += len(es)
				return []EventResult{{EventID: "e-1"}}, nil
			}}
			eng := New(Options{Tasks: svc, Clock: NewVirtualClock(t0), Random: func() float64 { return 0.5 }})
			d, err := Parse([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			res, _ := eng.Run(context.Background(), d, json.RawMessage(`{"id":"s-1"}`), ExecutionOptions{Name: "exec-1", StateMachineName: "sm"})
			if res.Status != StatusSucceeded {
				t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
			}
			jsonEq(t, tc.want, res.Output)
			if put != tc.put || attempts != tc.attempts {
				t.Errorf("%d events put in %d attempts, want %d in %d", put, attempts, tc.put, tc.attempts)
			}
		})
	}
}

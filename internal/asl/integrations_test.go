package asl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// snsError is an error with an SDK error code, as the SNS SDK's are.
type snsError struct{ code string }

func (e *snsError) Error() string     { return e.code + ": no" }
func (e *snsError) ErrorCode() string { return e.code }

// TestServices runs the service integrations over function values, as the
// local endpoint plugs its Lambda and SNS in.
func TestServices(t *testing.T) {
	var calls []string
	svc := Services{
		Invoke: func(_ context.Context, fn string, payload []byte) ([]byte, error) {
			calls = append(calls, fn+" "+string(payload))
			switch fn {
			case "fails", fnARN + "fails":
				return nil, &FunctionError{Type: "Rotor.Conflict", Message: "held"}
			case "gone":
				return nil, &FunctionNotFoundError{Message: "Function not found: gone"}
			case "broken":
				return nil, errors.New("emulator unreachable")
			case "named":
				return nil, &TaskFailure{Name: "Custom.Name", Cause: "as is"}
			}
			return []byte(`{"ok":true}`), nil
		},
		Publish: func(_ context.Context, topic, subject, message string) (string, error) {
			calls = append(calls, topic+" "+subject+" "+message)
			if topic == "missing" {
				return "", &snsError{"NotFound"}
			}
			return "m-1", nil
		},
		StartExecution: func(_ context.Context, machine, name, input string) (string, time.Time, error) {
			calls = append(calls, machine+" "+name+" "+input)
			if strings.HasSuffix(machine, ":taken") {
				return "", time.Time{}, &snsError{"ExecutionAlreadyExists"}
			}
			return "arn:aws:states:us-east-1:123456789012:execution:child:" + name, time.UnixMilli(1700000000123), nil
		},
	}
	meta := `"SdkHttpMetadata":{"HttpStatusCode":200},"SdkResponseMetadata":{"RequestId":"00000000-0000-0000-0000-000000000000"}`
	cases := []struct {
		name, resource, input string
		want                  string // the result, or the error name and cause
		call                  string
	}{
		{"a function ARN runs the function with the input", fnARN + "work", `{"n":1}`, `{"ok":true}`, fnARN + `work {"n":1}`},
		{"lambda:invoke wraps the result", ResourceLambdaInvoke, `{"FunctionName":"work","Payload":{"n":1}}`,
			`{"ExecutedVersion":"$LATEST","Payload":{"ok":true},"StatusCode":200,` + meta + `}`, `work {"n":1}`},
		{"lambda:invoke without Payload sends {}", ResourceLambdaInvoke, `{"FunctionName":"work"}`,
			`{"ExecutedVersion":"$LATEST","Payload":{"ok":true},"StatusCode":200,` + meta + `}`, `work {}`},
		{"lambda:invoke without FunctionName", ResourceLambdaInvoke, `{"Payload":{}}`,
			`Lambda.InvalidParameterValueException: lambda:invoke needs Parameters with FunctionName`, ``},
		{"a function error is raised under its type", fnARN + "fails", `{}`,
			`Rotor.Conflict: {"errorMessage":"held","errorType":"Rotor.Conflict"}`, fnARN + `fails {}`},
		{"an unknown function", ResourceLambdaInvoke, `{"FunctionName":"gone"}`,
			`Lambda.ResourceNotFoundException: Function not found: gone`, `gone {}`},
		{"a failure of the service", ResourceLambdaInvoke, `{"FunctionName":"broken"}`,
			`Lambda.ServiceException: emulator unreachable`, `broken {}`},
		{"a task failure is raised as it is", ResourceLambdaInvoke, `{"FunctionName":"named"}`, `Custom.Name: as is`, `named {}`},
		{"sns:publish sends a string message as it is", ResourceSNSPublish, `{"TopicArn":"t","Subject":"s","Message":"hello"}`,
			`{"MessageId":"m-1",` + meta + `}`, `t s hello`},
		{"sns:publish sends an object message as its JSON", ResourceSNSPublish, `{"TopicArn":"t","Message":{"a":1}}`,
			`{"MessageId":"m-1",` + meta + `}`, `t  {"a":1}`},
		{"sns:publish without Message", ResourceSNSPublish, `{"TopicArn":"t"}`,
			`SNS.InvalidParameterException: sns:publish needs Parameters with TopicArn and Message`, ``},
		{"sns:publish with a Subject that is not a string", ResourceSNSPublish, `{"TopicArn":"t","Subject":1,"Message":"m"}`,
			`SNS.InvalidParameterException: sns:publish needs Parameters with TopicArn and Message`, ``},
		{"an SNS error is named after its code", ResourceSNSPublish, `{"TopicArn":"missing","Message":"m"}`,
			`SNS.NotFoundException: NotFound: no`, `missing  m`},
		{"states:startExecution passes an object input as its JSON", ResourceStartExecution, `{"StateMachineArn":"sm","Name":"n1","Input":{"a":1}}`,
			`{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:child:n1","StartDate":1700000000123,` + meta + `}`, `sm n1 {"a":1}`},
		{"states:startExecution without Input sends {}", ResourceStartExecution, `{"StateMachineArn":"sm"}`,
			`{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:child:","StartDate":1700000000123,` + meta + `}`, `sm  {}`},
		{"states:startExecution passes a string input as it is", ResourceStartExecution, `{"StateMachineArn":"sm","Input":"{\"b\":2}"}`,
			`{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:child:","StartDate":1700000000123,` + meta + `}`, `sm  {"b":2}`},
		{"states:startExecution without StateMachineArn", ResourceStartExecution, `{"Input":{}}`,
			`StepFunctions.InvalidParameterException: states:startExecution needs Parameters with StateMachineArn (and a string Name, if any)`, ``},
		{"a Step Functions error is named after its code", ResourceStartExecution, `{"StateMachineArn":"sm:taken","Name":"n"}`,
			`StepFunctions.ExecutionAlreadyExistsException: ExecutionAlreadyExists: no`, `sm:taken n {}`},
		{"another resource", "arn:aws:states:::dynamodb:putItem", `{}`, `States.TaskFailed: no handler for resource "arn:aws:states:::dynamodb:putItem"`, ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls = nil
			out, err := svc.RunTask(context.Background(), &TaskRequest{Resource: tc.resource, Input: json.RawMessage(tc.input)})
			var got string
			if err != nil {
				var tf *TaskFailure
				if !errors.As(err, &tf) {
					t.Fatalf("error %v is not a *TaskFailure", err)
				}
				got = tf.Error()
			} else {
				var v any
				if err := json.Unmarshal(out, &v); err != nil {
					t.Fatal(err)
				}
				var want any
				if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
					t.Fatalf("want %s: %v", tc.want, err)
				}
				if diff := cmp.Diff(want, v); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				got = tc.want
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			wantCalls := []string{tc.call}
			if tc.call == "" {
				wantCalls = nil
			}
			if diff := cmp.Diff(wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("without Publish, sns:publish is not run", func(t *testing.T) {
		_, err := Services{}.RunTask(context.Background(), &TaskRequest{Resource: ResourceSNSPublish, Input: json.RawMessage(`{"TopicArn":"t","Message":"m"}`)})
		var tf *TaskFailure
		if !errors.As(err, &tf) || tf.Name != ErrTaskFailed {
			t.Errorf("error %v, want States.TaskFailed", err)
		}
	})
}

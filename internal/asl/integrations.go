package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/awsarn"
)

// Step Functions' service integrations are implemented here once: the Task
// resources that call Lambda (a function ARN, or lambda:invoke with its
// Payload wrapper), SNS (sns:publish) and Step Functions itself
// (states:startExecution, which starts another execution and does not wait
// for it), their parameters, their results
// as AWS shapes them (SdkHttpMetadata, SdkResponseMetadata) and the error
// names Retry and Catch match. Who runs the engine supplies the calls
// themselves as function values: Services for real services (the local
// endpoint plugs in its Lambda and SNS), Registry for in-process handlers.

// Resource ARNs of the service integrations.
const (
	ResourceLambdaInvoke = "arn:aws:states:::lambda:invoke"
	ResourceSNSPublish   = "arn:aws:states:::sns:publish"
	// ResourceStartExecution starts an execution without waiting for it
	// (the request-response pattern).
	ResourceStartExecution = "arn:aws:states:::states:startExecution"
)

// InvokeFunc invokes a Lambda function (a name or an ARN, see
// awsarn.FunctionName) with a JSON payload and returns its JSON response.
// Its error becomes the state's: a *FunctionError (the function's own) is
// raised under its Type, a *FunctionNotFoundError as
// Lambda.ResourceNotFoundException, a *TaskFailure as it is, and anything
// else, unless the context ended, as Lambda.ServiceException.
type InvokeFunc func(ctx context.Context, function string, payload []byte) ([]byte, error)

// PublishFunc publishes a message (with a subject, which may be empty) to
// an SNS topic and returns the message id. An error with an ErrorCode
// method (the SDK's typed errors) is raised as SNS.<Code>Exception, any
// other as SNS.InternalErrorException.
type PublishFunc func(ctx context.Context, topicARN, subject, message string) (string, error)

// StartExecutionFunc starts an execution of a state machine (name "" lets
// Step Functions choose one) and returns its ARN and start date. An error
// with an ErrorCode method is raised as StepFunctions.<Code>Exception, any
// other as StepFunctions.InternalErrorException.
type StartExecutionFunc func(ctx context.Context, stateMachineARN, name, input string) (string, time.Time, error)

// FunctionError is an error a Lambda function itself returned: the state
// fails with Type as its error name, and the cause is AWS's
// {"errorMessage", "errorType"}.
type FunctionError struct {
	Type, Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// FunctionNotFoundError is an invocation of a function that does not
// exist; Message is the cause.
type FunctionNotFoundError struct {
	Message string
}

func (e *FunctionNotFoundError) Error() string { return e.Message }

// Services is a TaskRunner over real services: it runs Lambda function
// ARNs, lambda:invoke, sns:publish and states:startExecution through
// Invoke, Publish and StartExecution, and fails other resources (and those
// whose function is nil) with States.TaskFailed.
type Services struct {
	Invoke         InvokeFunc
	Publish        PublishFunc
	StartExecution StartExecutionFunc
}

// RunTask implements TaskRunner.
func (s Services) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	return runTaskJSON(ctx, req, s)
}

// RunTaskValue implements ValueRunner.
func (s Services) RunTaskValue(ctx context.Context, req *TaskRequest, input any) (any, error) {
	in := integrations{publish: s.Publish, start: s.StartExecution}
	if s.Invoke != nil {
		in.invoke = s.invoke
	}
	return in.run(ctx, req, input)
}

// invoke calls Invoke with JSON and names its errors.
func (s Services) invoke(ctx context.Context, function string, payload any) (any, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the task input"}
	}
	out, err := s.Invoke(ctx, function, b)
	if err != nil {
		var fe *FunctionError
		var nf *FunctionNotFoundError
		var tf *TaskFailure
		switch {
		case errors.As(err, &fe):
			cause, _ := json.Marshal(map[string]string{"errorMessage": fe.Message, "errorType": fe.Type})
			return nil, &TaskFailure{Name: fe.Type, Cause: string(cause)}
		case errors.As(err, &nf):
			return nil, &TaskFailure{Name: "Lambda.ResourceNotFoundException", Cause: nf.Message}
		case errors.As(err, &tf), ctx.Err() != nil:
			return nil, err
		}
		return nil, &TaskFailure{Name: "Lambda.ServiceException", Cause: err.Error()}
	}
	if len(out) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "The task result is not valid JSON"}
	}
	return v, nil
}

// integrations runs the service integrations over value-level calls; a nil
// call fails the resources that need it.
type integrations struct {
	invoke  func(ctx context.Context, function string, payload any) (any, error)
	publish PublishFunc
	start   StartExecutionFunc
}

// sdkMetadata is what AWS's integrations add to a service's answer: its
// HTTP status and request id (all zeros here, so that outputs are the same
// at every run).
func sdkMetadata(out map[string]any) map[string]any {
	out["SdkHttpMetadata"] = map[string]any{"HttpStatusCode": float64(200)}
	out["SdkResponseMetadata"] = map[string]any{"RequestId": "00000000-0000-0000-0000-000000000000"}
	return out
}

func (in integrations) run(ctx context.Context, req *TaskRequest, input any) (any, error) {
	switch {
	case awsarn.IsFunctionARN(req.Resource) && in.invoke != nil:
		return in.invoke(ctx, req.Resource, input)
	case req.Resource == ResourceLambdaInvoke && in.invoke != nil:
		return in.lambdaInvoke(ctx, input)
	case req.Resource == ResourceSNSPublish && in.publish != nil:
		return in.snsPublish(ctx, input)
	case req.Resource == ResourceStartExecution && in.start != nil:
		return in.startExecution(ctx, input)
	}
	return nil, &TaskFailure{Name: ErrTaskFailed, Cause: fmt.Sprintf("no handler for resource %q", req.Resource)}
}

// lambdaInvoke is arn:aws:states:::lambda:invoke: Parameters
// {"FunctionName", "Payload"}, the result wrapped as
// {"ExecutedVersion", "Payload", "StatusCode", ...}.
func (in integrations) lambdaInvoke(ctx context.Context, input any) (any, error) {
	p, _ := input.(map[string]any)
	fn, _ := p["FunctionName"].(string)
	if fn == "" {
		return nil, &TaskFailure{Name: "Lambda.InvalidParameterValueException", Cause: "lambda:invoke needs Parameters with FunctionName"}
	}
	payload, ok := p["Payload"]
	if !ok {
		payload = map[string]any{}
	}
	out, err := in.invoke(ctx, fn, payload)
	if err != nil {
		return nil, err
	}
	return sdkMetadata(map[string]any{"ExecutedVersion": "$LATEST", "Payload": out, "StatusCode": float64(200)}), nil
}

// snsPublish is arn:aws:states:::sns:publish: Parameters {"TopicArn",
// "Subject", "Message"}, where a Message that is not a string is sent as
// its JSON; the result is {"MessageId", ...}.
func (in integrations) snsPublish(ctx context.Context, input any) (any, error) {
	p, _ := input.(map[string]any)
	topic, _ := p["TopicArn"].(string)
	subject, subjectOK := p["Subject"].(string)
	message, ok := p["Message"]
	if _, has := p["Subject"]; topic == "" || !ok || has && !subjectOK {
		return nil, &TaskFailure{Name: "SNS.InvalidParameterException", Cause: "sns:publish needs Parameters with TopicArn and Message"}
	}
	text, isString := message.(string)
	if !isString {
		b, err := json.Marshal(message)
		if err != nil {
			return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the message"}
		}
		text = string(b)
	}
	id, err := in.publish(ctx, topic, subject, text)
	if err != nil {
		return nil, serviceError(ctx, "SNS", err)
	}
	return sdkMetadata(map[string]any{"MessageId": id}), nil
}

// startExecution is arn:aws:states:::states:startExecution: Parameters
// {"StateMachineArn", "Name", "Input"}, where an Input that is not a string
// is passed as its JSON (none is {}); the result is {"ExecutionArn",
// "StartDate" (epoch milliseconds), ...}.
func (in integrations) startExecution(ctx context.Context, input any) (any, error) {
	p, _ := input.(map[string]any)
	machine, _ := p["StateMachineArn"].(string)
	name, nameOK := p["Name"].(string)
	if _, has := p["Name"]; machine == "" || has && !nameOK {
		return nil, &TaskFailure{Name: "StepFunctions.InvalidParameterException", Cause: "states:startExecution needs Parameters with StateMachineArn (and a string Name, if any)"}
	}
	text := "{}"
	if v, ok := p["Input"]; ok {
		if s, isString := v.(string); isString {
			text = s
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the execution input"}
			}
			text = string(b)
		}
	}
	arn, start, err := in.start(ctx, machine, name, text)
	if err != nil {
		return nil, serviceError(ctx, "StepFunctions", err)
	}
	return sdkMetadata(map[string]any{"ExecutionArn": arn, "StartDate": float64(start.UnixMilli())}), nil
}

// serviceError names a service's error as the integrations do:
// SERVICE.<Code>Exception, after the error's code when it has one.
func serviceError(ctx context.Context, service string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	code := "InternalErrorException"
	var ce interface{ ErrorCode() string }
	if errors.As(err, &ce) {
		code = strings.TrimSuffix(ce.ErrorCode(), "Exception") + "Exception"
	}
	return &TaskFailure{Name: service + "." + code, Cause: err.Error()}
}

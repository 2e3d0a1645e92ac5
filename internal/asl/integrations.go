package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/awsarn"
)

// Step Functions' service integrations are implemented here once: the Task
// resources that call Lambda (a function ARN, or lambda:invoke with its
// Payload wrapper), SNS (sns:publish), EventBridge (events:putEvents) and
// Step Functions itself
// (states:startExecution, which starts another execution, and its .sync and
// .sync:2 forms, which also wait for it to end), their parameters, their
// results as AWS shapes them (SdkHttpMetadata, SdkResponseMetadata) and the
// error names Retry and Catch match. Who runs the engine supplies the calls
// themselves as function values: Services for real services (the local
// endpoint plugs in its Lambda, SNS, EventBridge and Step Functions), Registry for
// in-process handlers.

// Resource ARNs of the service integrations.
const (
	ResourceLambdaInvoke = "arn:aws:states:::lambda:invoke"
	ResourceSNSPublish   = "arn:aws:states:::sns:publish"
	// ResourceEventsPutEvents puts events on an EventBridge bus (the
	// optimized integration, request-response).
	ResourceEventsPutEvents = "arn:aws:states:::events:putEvents"
	// ResourceStartExecution starts an execution without waiting for it
	// (the request-response pattern).
	ResourceStartExecution = "arn:aws:states:::states:startExecution"
	// ResourceStartExecutionSync starts an execution and waits for it to
	// end (the run-a-job pattern); the result is DescribeExecution's, with
	// Input and Output as JSON text.
	ResourceStartExecutionSync = "arn:aws:states:::states:startExecution.sync"
	// ResourceStartExecutionSync2 is ResourceStartExecutionSync with Input
	// and Output as JSON values.
	ResourceStartExecutionSync2 = "arn:aws:states:::states:startExecution.sync:2"
)

// StartedByKey is the member of an execution's input that names, by ARN, the
// execution that started it. AWS links the two through it ("Associate
// workflow executions", developer guide: pass
// "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id" in the
// child's Input); it is part of the input, so the engine passes it on as it
// is, and the host records it.
const StartedByKey = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"

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

// PutEventsFunc puts events on EventBridge (PutEvents) and returns one
// result per entry, in the entries' order, as PutEvents does: an entry
// that was not put has an ErrorCode. An error (the whole request refused)
// with an ErrorCode method is raised as EventBridge.<Code>Exception
// (AccessDeniedException: EventBridge.AccessDeniedException), any other as
// EventBridge.InternalErrorException.
type PutEventsFunc func(ctx context.Context, entries []EventEntry) ([]EventResult, error)

// EventEntry is one PutEvents entry as the events:putEvents integration
// sends it: Detail is JSON text (the integration encodes a Detail given as
// an object), and Resources end with the ARNs of the state machine and of
// the execution, which the integration appends to every entry.
type EventEntry struct {
	Source, DetailType, Detail string
	// EventBusName is a bus name or ARN; "" is the account's default bus.
	EventBusName string
	Resources    []string
}

// EventResult is PutEvents' answer for one entry: the event's id, or why
// the entry was not put.
type EventResult struct {
	EventID, ErrorCode, ErrorMessage string
}

// StartExecutionFunc starts an execution of a state machine (name "" lets
// Step Functions choose one) and returns its ARN and start date. It must be
// idempotent as StartExecution is for STANDARD workflows: the name of a
// running execution with the same input is that execution. Within an
// execution the engine always passes a name: a task whose Parameters have
// none gets a UUID drawn per attempt (and journaled), so that a resumed
// execution repeats the same call. An error with an ErrorCode method is
// raised as StepFunctions.<Code>Exception (ExecutionAlreadyExists:
// StepFunctions.ExecutionAlreadyExistsException), any other as
// StepFunctions.InternalErrorException.
type StartExecutionFunc func(ctx context.Context, stateMachineARN, name, input string) (string, time.Time, error)

// WaitExecutionFunc blocks until the execution executionARN has ended and
// returns its description; if ctx ends first it returns ctx's error. It
// must not poll busily: a parent in .sync may wait for days. An error with
// an ErrorCode method (ExecutionDoesNotExist, ...) is raised as
// StepFunctions.<Code>Exception.
type WaitExecutionFunc func(ctx context.Context, executionARN string) (*ExecutionDescription, error)

// StopExecutionFunc stops a running execution (StopExecution, with an error
// name and cause either of which may be empty). The .sync integrations call
// it when the task waiting for the execution is aborted.
type StopExecutionFunc func(ctx context.Context, executionARN, errName, cause string) error

// ExecutionDescription is an ended execution as DescribeExecution reports
// it.
type ExecutionDescription struct {
	ExecutionARN, StateMachineARN, Name string
	Status                              string // SUCCEEDED, FAILED, TIMED_OUT or ABORTED
	StartDate, StopDate                 time.Time
	Input                               string // JSON text
	Output                              string // JSON text; "" unless SUCCEEDED
	Error, Cause                        string
}

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
// ARNs, lambda:invoke, sns:publish, events:putEvents and
// states:startExecution through Invoke, Publish, PutEvents and
// StartExecution, states:startExecution.sync and .sync:2
// through StartExecution and WaitExecution, and fails other resources (and
// those whose function is nil) with States.TaskFailed. StopExecution is
// optional: without it a child whose waiting task was aborted runs on.
type Services struct {
	Invoke         InvokeFunc
	Publish        PublishFunc
	PutEvents      PutEventsFunc
	StartExecution StartExecutionFunc
	WaitExecution  WaitExecutionFunc
	StopExecution  StopExecutionFunc
}

// RunTask implements TaskRunner.
func (s Services) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	return runTaskJSON(ctx, req, s)
}

// RunTaskValue implements ValueRunner.
func (s Services) RunTaskValue(ctx context.Context, req *TaskRequest, input any) (any, error) {
	in := integrations{publish: s.Publish, putEvents: s.PutEvents, start: s.StartExecution, wait: s.WaitExecution, stop: s.StopExecution}
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
	invoke    func(ctx context.Context, function string, payload any) (any, error)
	publish   PublishFunc
	putEvents PutEventsFunc
	start     StartExecutionFunc
	wait      WaitExecutionFunc
	stop      StopExecutionFunc
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
	case req.Resource == ResourceEventsPutEvents && in.putEvents != nil:
		return in.eventsPutEvents(ctx, req, input)
	case req.Resource == ResourceStartExecution && in.start != nil:
		return in.startExecution(ctx, req, input)
	case (req.Resource == ResourceStartExecutionSync || req.Resource == ResourceStartExecutionSync2) && in.start != nil && in.wait != nil:
		return in.startExecutionSync(ctx, req, input, req.Resource == ResourceStartExecutionSync2)
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

// eventsPutEvents is arn:aws:states:::events:putEvents: Parameters
// {"Entries": [{"Source", "DetailType", "Detail", "EventBusName",
// "Resources"}]}, where a Detail that is an object is sent as its JSON
// text, and the state machine's and the execution's ARNs are appended to
// each entry's Resources (as AWS's integration does, "How the Optimized
// EventBridge integration is different"). The result is PutEvents' answer,
// {"Entries": [{"EventId"}], "FailedEntryCount": 0, ...}. An answer with
// a FailedEntryCount above 0 fails the task with EventBridge.FailedEntry,
// as on AWS, its cause that answer as JSON: the entries that failed were
// not put, so retrying the task puts them once.
func (in integrations) eventsPutEvents(ctx context.Context, req *TaskRequest, input any) (any, error) {
	entries, err := eventEntries(req, input)
	if err != nil {
		return nil, err
	}
	results, err := in.putEvents(ctx, entries)
	if err != nil {
		return nil, serviceError(ctx, "EventBridge", err)
	}
	if len(results) != len(entries) {
		return nil, &TaskFailure{Name: "EventBridge.InternalErrorException", Cause: fmt.Sprintf("PutEvents answered %d entries for %d", len(results), len(entries))}
	}
	out := make([]any, len(results))
	failed := 0
	for i, r := range results {
		if r.ErrorCode != "" {
			failed++
			out[i] = map[string]any{"ErrorCode": r.ErrorCode, "ErrorMessage": r.ErrorMessage}
			continue
		}
		out[i] = map[string]any{"EventId": r.EventID}
	}
	answer := map[string]any{"Entries": out, "FailedEntryCount": float64(failed)}
	if failed > 0 {
		cause, err := json.Marshal(answer)
		if err != nil {
			return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the PutEvents answer"}
		}
		return nil, &TaskFailure{Name: ErrEventsFailedEntry, Cause: string(cause)}
	}
	return sdkMetadata(answer), nil
}

// ErrEventsFailedEntry is the error of an events:putEvents task whose
// PutEvents answer has a FailedEntryCount above 0.
const ErrEventsFailedEntry = "EventBridge.FailedEntry"

// eventEntryFields are the PutEvents entry members the integration takes.
var eventEntryFields = map[string]bool{"Source": true, "DetailType": true, "Detail": true, "EventBusName": true, "Resources": true}

// eventEntries checks an events:putEvents task's Parameters and builds
// its entries. What EventBridge itself validates (a missing Source, an
// unknown bus, 1 to 10 entries) is left to it: it answers a failed entry.
func eventEntries(req *TaskRequest, input any) ([]EventEntry, error) {
	invalid := func(format string, args ...any) error {
		return &TaskFailure{Name: "EventBridge.ValidationException", Cause: "events:putEvents: " + fmt.Sprintf(format, args...)}
	}
	p, _ := input.(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if k != "Entries" {
			return nil, invalid("unknown parameter %q: it takes Entries only", k)
		}
	}
	list, ok := p["Entries"].([]any)
	if !ok || len(list) == 0 {
		return nil, invalid("Parameters need Entries, a non-empty array")
	}
	var appended []string
	if req.Execution != "" {
		if m := stateMachineOf(req.Execution); m != "" {
			appended = append(appended, m)
		}
		appended = append(appended, req.Execution)
	}
	entries := make([]EventEntry, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, invalid("Entries[%d] is not an object", i)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !eventEntryFields[k] {
				return nil, invalid("Entries[%d]: member %q is not supported (Source, DetailType, Detail, EventBusName, Resources)", i, k)
			}
		}
		var e EventEntry
		for _, f := range []struct {
			key string
			dst *string
		}{{"Source", &e.Source}, {"DetailType", &e.DetailType}, {"EventBusName", &e.EventBusName}} {
			v, has := m[f.key]
			s, isString := v.(string)
			if has && !isString {
				return nil, invalid("Entries[%d].%s is not a string", i, f.key)
			}
			*f.dst = s
		}
		switch d := m["Detail"].(type) {
		case nil:
		case string:
			e.Detail = d
		case map[string]any:
			b, err := json.Marshal(d)
			if err != nil {
				return nil, &TaskFailure{Name: ErrRuntime, Cause: fmt.Sprintf("cannot encode Entries[%d].Detail", i)}
			}
			e.Detail = string(b)
		default:
			return nil, invalid("Entries[%d].Detail is neither a JSON object nor a string", i)
		}
		if rs, has := m["Resources"]; has {
			l, ok := rs.([]any)
			if !ok {
				return nil, invalid("Entries[%d].Resources is not an array of strings", i)
			}
			for _, r := range l {
				s, ok := r.(string)
				if !ok {
					return nil, invalid("Entries[%d].Resources is not an array of strings", i)
				}
				e.Resources = append(e.Resources, s)
			}
		}
		e.Resources = append(e.Resources, appended...)
		entries[i] = e
	}
	return entries, nil
}

// stateMachineOf is the ARN of the state machine of an execution ARN
// (arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME), or "".
func stateMachineOf(execution string) string {
	parts := strings.Split(execution, ":")
	if len(parts) < 8 || parts[2] != "states" || (parts[5] != "execution" && parts[5] != "express") {
		return ""
	}
	return strings.Join(parts[:5], ":") + ":stateMachine:" + parts[6]
}

// startExecution is arn:aws:states:::states:startExecution: Parameters
// {"StateMachineArn", "Name", "Input"}, where an Input that is not a string
// is passed as its JSON (none is {}); the result is {"ExecutionArn",
// "StartDate" (epoch milliseconds), ...}.
func (in integrations) startExecution(ctx context.Context, req *TaskRequest, input any) (any, error) {
	p, err := startParameters(req, input)
	if err != nil {
		return nil, err
	}
	return in.startOne(ctx, p)
}

// startParams are a startExecution task's parameters, checked.
type startParams struct {
	machine, name, input string
}

func startParameters(req *TaskRequest, input any) (startParams, error) {
	p, _ := input.(map[string]any)
	machine, _ := p["StateMachineArn"].(string)
	name, nameOK := p["Name"].(string)
	if _, has := p["Name"]; machine == "" || has && !nameOK {
		return startParams{}, &TaskFailure{Name: "StepFunctions.InvalidParameterException", Cause: "states:startExecution needs Parameters with StateMachineArn (and a string Name, if any)"}
	}
	text := "{}"
	if v, ok := p["Input"]; ok {
		if s, isString := v.(string); isString {
			text = s
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				return startParams{}, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the execution input"}
			}
			text = string(b)
		}
	}
	if name == "" {
		// Step Functions names an unnamed execution itself. Here the name is
		// drawn once per attempt and journaled, so that a resumed parent
		// starting its child again makes the same, idempotent, call instead
		// of starting a second child.
		name = req.stableName()
	}
	return startParams{machine: machine, name: name, input: text}, nil
}

// startOne calls StartExecution and shapes its answer as the integration
// returns it (and as TaskSubmitted records it for .sync).
func (in integrations) startOne(ctx context.Context, p startParams) (map[string]any, error) {
	arn, start, err := in.start(ctx, p.machine, p.name, p.input)
	if err != nil {
		return nil, serviceError(ctx, "StepFunctions", err)
	}
	return sdkMetadata(map[string]any{"ExecutionArn": arn, "StartDate": float64(start.UnixMilli())}), nil
}

// startExecutionSync is arn:aws:states:::states:startExecution.sync and
// .sync:2: it starts the execution as startExecution does (recording
// TaskSubmitted with StartExecution's answer, which a resumed execution
// takes instead of starting again), waits for it to end and returns
// DescribeExecution's answer in PascalCase, Input and Output as JSON text
// (.sync) or values (.sync:2; AWS added it for that: "the JSON output is
// parsed"). A child that does not succeed fails the task with
// States.TaskFailed and that same description, as JSON, for cause, as Step
// Functions does for a job that does not succeed (and as LocalStack's
// AWS-validated snapshots show for states:startExecution.sync). If the
// task is aborted while it waits (the parent stopped or timed out, its
// TimeoutSeconds elapsed, a sibling failed), the child is stopped, as Step
// Functions stops the job a run-a-job task managed (the IAM policy it
// documents for .sync grants states:StopExecution); a host shutting down
// (Detach) leaves it running, to be waited for again on resume.
func (in integrations) startExecutionSync(ctx context.Context, req *TaskRequest, input any, parsed bool) (any, error) {
	p, err := startParameters(req, input)
	if err != nil {
		return nil, err
	}
	sub, err := req.submit(func() (any, error) { return in.startOne(ctx, p) })
	if err != nil {
		return nil, err
	}
	m, _ := sub.(map[string]any)
	arn, _ := m["ExecutionArn"].(string)
	if arn == "" {
		return nil, &TaskFailure{Name: ErrTaskFailed, Cause: "StartExecution answered no ExecutionArn"}
	}
	var d *ExecutionDescription
	req.blocking(func() { d, err = in.wait(ctx, arn) })
	if err != nil {
		if ctx.Err() != nil {
			in.abandon(ctx, req, arn)
			return nil, err
		}
		return nil, serviceError(ctx, "StepFunctions", err)
	}
	out, err := d.result(parsed)
	if err != nil {
		return nil, err
	}
	if d.Status != StatusSucceeded {
		cause, err := json.Marshal(out)
		if err != nil {
			return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the child execution's description"}
		}
		return nil, &TaskFailure{Name: ErrTaskFailed, Cause: string(cause)}
	}
	return out, nil
}

// abandon stops the child of a .sync task that was aborted, unless the
// execution is only being detached. Its error is dropped: the task has
// ended either way, and a child that ended meanwhile cannot be stopped.
func (in integrations) abandon(ctx context.Context, req *TaskRequest, arn string) {
	if in.stop == nil || errors.Is(context.Cause(ctx), errDetached) {
		return
	}
	cause := fmt.Sprintf("The Task state in AWS Step Functions execution [%s] which was managing this resource was aborted", req.Execution)
	_ = in.stop(context.WithoutCancel(ctx), arn, "", cause)
}

// result shapes d as the .sync integrations return it: DescribeExecution's
// members in PascalCase, dates in epoch milliseconds; with parsed, Input
// and Output decoded. The redrive members of a succeeded execution are
// those AWS reports for one (a Standard execution that succeeded cannot be
// redriven); for others they are left out, as this endpoint redrives
// nothing.
func (d *ExecutionDescription) result(parsed bool) (map[string]any, error) {
	out := map[string]any{
		"ExecutionArn": d.ExecutionARN, "StateMachineArn": d.StateMachineARN, "Name": d.Name, "Status": d.Status,
		"StartDate": float64(d.StartDate.UnixMilli()), "RedriveCount": float64(0),
	}
	if !d.StopDate.IsZero() {
		out["StopDate"] = float64(d.StopDate.UnixMilli())
	}
	for _, f := range []struct {
		key, text string
	}{{"Input", d.Input}, {"Output", d.Output}} {
		if f.text == "" {
			continue
		}
		var v any = f.text
		if parsed {
			if err := json.Unmarshal([]byte(f.text), &v); err != nil {
				return nil, &TaskFailure{Name: ErrRuntime, Cause: fmt.Sprintf("The child execution's %s is not valid JSON", f.key)}
			}
		}
		out[f.key], out[f.key+"Details"] = v, map[string]any{"Included": true}
	}
	if d.Error != "" {
		out["Error"] = d.Error
	}
	if d.Cause != "" {
		out["Cause"] = d.Cause
	}
	if d.Status == StatusSucceeded {
		out["RedriveStatus"], out["RedriveStatusReason"] = "NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"
	}
	return out, nil
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

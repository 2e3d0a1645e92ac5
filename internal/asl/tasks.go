package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rotorhq/rotor/internal/awsarn"
)

// TaskRunner runs a Task state's resource. Returning a *TaskFailure raises
// that error name; any other error raises States.TaskFailed with the error's
// text as cause.
type TaskRunner interface {
	RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error)
}

// TaskRequest is one invocation of a Task state's resource.
type TaskRequest struct {
	Resource string          // the state's Resource, placeholders already substituted
	Input    json.RawMessage // the effective input (after InputPath and Parameters)
	State    string          // the state's name
	// Attempt counts invocations of this state for this input: 0 first, 1
	// for the first retry...
	Attempt int
	// Execution is the execution's ARN.
	Execution string

	// job is what the engine lends the service integrations for this
	// attempt (nil when a runner is called outside an execution).
	job *taskJob
}

// TaskFailure is a task error with the name Retry and Catch match.
type TaskFailure struct {
	Name  string
	Cause string
}

func (f *TaskFailure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// Handler serves a resource: it receives the task's effective input and
// returns its result.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// ValueHandler serves a resource in-process with decoded JSON values
// (map[string]any, []any, string, float64, bool, nil), sparing the engine an
// encode and a decode per task. It must not modify its input.
type ValueHandler func(ctx context.Context, input any) (any, error)

// ValueRunner is implemented by task runners that take decoded values; the
// engine then calls RunTaskValue instead of RunTask, and req.Input is nil.
type ValueRunner interface {
	RunTaskValue(ctx context.Context, req *TaskRequest, input any) (any, error)
}

// Registry is a TaskRunner that maps resources to in-process handlers:
//   - a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME, with
//     an optional version or alias) runs the handler registered for NAME;
//   - arn:aws:states:::lambda:invoke takes {"FunctionName", "Payload"},
//     runs that function with Payload and wraps its result as the
//     integration does: {"ExecutedVersion", "Payload", "StatusCode", ...};
//   - any other resource (arn:aws:states:::sns:publish, activities) runs the
//     handler registered for exactly that resource.
//
// It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	functions map[string]entry
	services  map[string]entry
}

// entry is a registered handler of either kind.
type entry struct {
	raw Handler
	val ValueHandler
}

func (e entry) callValue(ctx context.Context, in any) (any, error) {
	if e.val != nil {
		return e.val(ctx, in)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	out, err := e.raw(ctx, b)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "The task result is not valid JSON"}
	}
	return v, nil
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{functions: map[string]entry{}, services: map[string]entry{}}
}

// Function registers h as the Lambda function name (a name or a function ARN).
func (r *Registry) Function(name string, h Handler) {
	r.register(r.functions, awsarn.FunctionName(name), entry{raw: h})
}

// FunctionValue registers an in-process value handler as the Lambda
// function name.
func (r *Registry) FunctionValue(name string, h ValueHandler) {
	r.register(r.functions, awsarn.FunctionName(name), entry{val: h})
}

// Service registers h for an exact resource ARN, e.g. ResourceSNSPublish.
func (r *Registry) Service(resource string, h Handler) {
	r.register(r.services, resource, entry{raw: h})
}

// ServiceValue registers an in-process value handler for a resource ARN.
func (r *Registry) ServiceValue(resource string, h ValueHandler) {
	r.register(r.services, resource, entry{val: h})
}

func (r *Registry) register(m map[string]entry, key string, e entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m[key] = e
}

// lookup finds the handler for a resource; for lambda:invoke the function
// comes from the input.
func (r *Registry) lookup(resource, function string) (entry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if resource == "" {
		e, ok := r.functions[awsarn.FunctionName(function)]
		if !ok {
			return entry{}, &TaskFailure{Name: "Lambda.ResourceNotFoundException", Cause: fmt.Sprintf("Function not found: %s", function)}
		}
		return e, nil
	}
	e, ok := r.services[resource]
	if !ok {
		return entry{}, &TaskFailure{Name: ErrTaskFailed, Cause: fmt.Sprintf("no handler for resource %q", resource)}
	}
	return e, nil
}

// RunTask implements TaskRunner.
func (r *Registry) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	return runTaskJSON(ctx, req, r)
}

// RunTaskValue implements ValueRunner: a handler registered for the exact
// resource runs first; Lambda functions and lambda:invoke go through the
// service integrations with the registered functions.
func (r *Registry) RunTaskValue(ctx context.Context, req *TaskRequest, input any) (any, error) {
	if !awsarn.IsFunctionARN(req.Resource) && req.Resource != ResourceLambdaInvoke {
		e, err := r.lookup(req.Resource, "")
		if err != nil {
			return nil, err
		}
		return e.callValue(ctx, input)
	}
	return integrations{invoke: r.invoke}.run(ctx, req, input)
}

// invoke runs a registered function; its errors are the state's as they
// are (a *TaskFailure keeps its name, anything else is States.TaskFailed).
func (r *Registry) invoke(ctx context.Context, function string, payload any) (any, error) {
	e, err := r.lookup("", function)
	if err != nil {
		return nil, err
	}
	return e.callValue(ctx, payload)
}

// runTaskJSON is RunTask for a runner that takes values: the JSON input
// decoded, the result encoded.
func runTaskJSON(ctx context.Context, req *TaskRequest, vr ValueRunner) (json.RawMessage, error) {
	var in any
	if err := json.Unmarshal(req.Input, &in); err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "the task input is not valid JSON"}
	}
	out, err := vr.RunTaskValue(ctx, req, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
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

// Resource ARNs of the service integrations the Registry understands.
const (
	ResourceLambdaInvoke = "arn:aws:states:::lambda:invoke"
	ResourceSNSPublish   = "arn:aws:states:::sns:publish"
)

// Registry is a TaskRunner that maps resources to handlers:
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
	r.register(r.functions, functionName(name), entry{raw: h})
}

// FunctionValue registers an in-process value handler as the Lambda
// function name.
func (r *Registry) FunctionValue(name string, h ValueHandler) {
	r.register(r.functions, functionName(name), entry{val: h})
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
		e, ok := r.functions[functionName(function)]
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

// functionName reduces a function name, ARN or partial ARN to its name:
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], NAME[:QUALIFIER].
func functionName(s string) string {
	if name, ok := arnFunction(s); ok {
		return name
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		return s[:i]
	}
	return s
}

func isFunctionARN(resource string) bool {
	_, ok := arnFunction(resource)
	return ok
}

// arnFunction returns the function name of a Lambda function ARN.
func arnFunction(s string) (string, bool) {
	var f [8]string
	n := 0
	for n < 7 {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			break
		}
		f[n], s = s[:i], s[i+1:]
		n++
	}
	f[n] = s
	if n < 6 || f[0] != "arn" || f[2] != "lambda" || f[5] != "function" {
		return "", false
	}
	return f[6], true
}

// RunTask implements TaskRunner.
func (r *Registry) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	var in any
	if err := json.Unmarshal(req.Input, &in); err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "the task input is not valid JSON"}
	}
	out, err := r.RunTaskValue(ctx, req, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// RunTaskValue implements ValueRunner.
func (r *Registry) RunTaskValue(ctx context.Context, req *TaskRequest, input any) (any, error) {
	switch {
	case isFunctionARN(req.Resource):
		e, err := r.lookup("", req.Resource)
		if err != nil {
			return nil, err
		}
		return e.callValue(ctx, input)
	case req.Resource == ResourceLambdaInvoke:
		p, _ := input.(map[string]any)
		fn, _ := p["FunctionName"].(string)
		if fn == "" {
			return nil, &TaskFailure{Name: "Lambda.InvalidParameterValueException", Cause: "lambda:invoke needs Parameters with FunctionName"}
		}
		payload, ok := p["Payload"]
		if !ok {
			payload = map[string]any{}
		}
		e, err := r.lookup("", fn)
		if err != nil {
			return nil, err
		}
		out, err := e.callValue(ctx, payload)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"ExecutedVersion":     "$LATEST",
			"Payload":             out,
			"SdkHttpMetadata":     map[string]any{"HttpStatusCode": float64(200)},
			"SdkResponseMetadata": map[string]any{"RequestId": "00000000-0000-0000-0000-000000000000"},
			"StatusCode":          float64(200),
		}, nil
	}
	e, err := r.lookup(req.Resource, "")
	if err != nil {
		return nil, err
	}
	return e.callValue(ctx, input)
}

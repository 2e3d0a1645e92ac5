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
	functions map[string]Handler
	services  map[string]Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{functions: map[string]Handler{}, services: map[string]Handler{}}
}

// Function registers h as the Lambda function name (a name or a function ARN).
func (r *Registry) Function(name string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.functions[functionName(name)] = h
}

// Service registers h for an exact resource ARN, e.g. ResourceSNSPublish.
func (r *Registry) Service(resource string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services[resource] = h
}

// functionName reduces a function name, ARN or partial ARN to its name.
func functionName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.Split(s, ":")
		if len(parts) >= 7 && parts[5] == "function" {
			return parts[6]
		}
	}
	if i := strings.Index(s, ":"); i > 0 { // NAME:alias
		return s[:i]
	}
	return s
}

func isFunctionARN(resource string) bool {
	parts := strings.Split(resource, ":")
	return len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function"
}

// RunTask implements TaskRunner.
func (r *Registry) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	switch {
	case isFunctionARN(req.Resource):
		return r.invoke(ctx, req.Resource, req.Input)
	case req.Resource == ResourceLambdaInvoke:
		var p struct {
			FunctionName string
			Payload      json.RawMessage
		}
		if err := json.Unmarshal(req.Input, &p); err != nil || p.FunctionName == "" {
			return nil, &TaskFailure{Name: "Lambda.InvalidParameterValueException", Cause: "lambda:invoke needs Parameters with FunctionName"}
		}
		if len(p.Payload) == 0 {
			p.Payload = json.RawMessage("{}")
		}
		out, err := r.invoke(ctx, p.FunctionName, p.Payload)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{
			"ExecutedVersion": "$LATEST",
			"Payload":         out,
			"SdkHttpMetadata": map[string]any{"HttpStatusCode": 200},
			"SdkResponseMetadata": map[string]any{
				"RequestId": "00000000-0000-0000-0000-000000000000",
			},
			"StatusCode": 200,
		})
	}
	r.mu.RLock()
	h, ok := r.services[req.Resource]
	r.mu.RUnlock()
	if !ok {
		return nil, &TaskFailure{Name: "States.TaskFailed", Cause: fmt.Sprintf("no handler for resource %q", req.Resource)}
	}
	return h(ctx, req.Input)
}

func (r *Registry) invoke(ctx context.Context, fn string, payload json.RawMessage) (json.RawMessage, error) {
	name := functionName(fn)
	r.mu.RLock()
	h, ok := r.functions[name]
	r.mu.RUnlock()
	if !ok {
		return nil, &TaskFailure{Name: "Lambda.ResourceNotFoundException", Cause: fmt.Sprintf("Function not found: %s", fn)}
	}
	return h(ctx, payload)
}

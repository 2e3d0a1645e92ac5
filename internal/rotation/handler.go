package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// The Lambda functions, named as their directories under functions/.
const (
	FuncResolve    = "resolve"
	FuncCreate     = "create"
	FuncSwitchOver = "switchover"
	FuncVerify     = "verify"
	FuncExpire     = "expire"
)

// Functions lists every function name.
var Functions = []string{FuncResolve, FuncCreate, FuncSwitchOver, FuncVerify, FuncExpire}

// LambdaHandler implements aws-lambda-go's lambda.Handler: it takes the raw
// payload bytes, so that even a payload that is not JSON reaches rotor's
// decoder and is answered as Rotor.InvalidInput.
type LambdaHandler struct {
	fn func(context.Context, []byte) (any, error)
}

// Invoke implements lambda.Handler.
func (h LambdaHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.fn(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Handler returns the Lambda handler of a function. It is the one place where
// errors become Rotor.* names: every error leaves as a
// messages.InvokeResponse_Error value, whose Type aws-lambda-go reports as the
// errorType Step Functions matches, and whose message is scrubbed of every
// secret value the invocation read or made. A panic in a step is recovered
// and leaves the same way, as Rotor.Unsafe.
func (s *Service) Handler(function string) (LambdaHandler, error) {
	switch function {
	case FuncResolve:
		// A child execution's first step asks the same function for its
		// item: resolve is the one function that reads plans.
		return boundary(s, function, func(ctx context.Context, in Input) (any, error) {
			if in.Planned == nil {
				return s.Resolve(ctx, in)
			}
			if in != (Input{Planned: in.Planned}) {
				return nil, rotorerr.New(rotorerr.InvalidInput, "invalid input: planned (a child execution's item) takes no other field")
			}
			return s.LoadItem(ctx, *in.Planned)
		}), nil
	case FuncCreate:
		return boundary(s, function, s.Create), nil
	case FuncSwitchOver:
		return boundary(s, function, s.SwitchOver), nil
	case FuncVerify:
		return boundary(s, function, func(ctx context.Context, in StepInput) (*StepOutput, error) {
			if in.Action != "" {
				return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("invalid step input: the verify function takes no action (got %q)", in.Action))
			}
			return s.Verify(ctx, in)
		}), nil
	case FuncExpire:
		// Rollback and cleanup revoke with the master secret, so they belong
		// to the function that already holds that permission; so does the
		// verification of a master that rotates itself.
		return boundary(s, function, func(ctx context.Context, in StepInput) (*StepOutput, error) {
			switch in.Action {
			case "", ActionExpire:
				return s.Expire(ctx, in)
			case ActionRollback:
				return s.Rollback(ctx, in)
			case ActionCleanup:
				return s.Cleanup(ctx, in)
			case ActionRevoke:
				return s.RevokeLeaked(ctx, in)
			case ActionVerify:
				return s.Verify(ctx, in)
			}
			return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("invalid step input: action %q is not expire, rollback, cleanup, revoke or verify", in.Action))
		}), nil
	}
	return LambdaHandler{}, fmt.Errorf("unknown function %q (want one of %v)", function, Functions)
}

func boundary[In, Out any](s *Service, function string, step func(context.Context, In) (Out, error)) LambdaHandler {
	return LambdaHandler{fn: func(ctx context.Context, raw []byte) (out any, err error) {
		set := &redact.Set{}
		ctx = redact.NewContext(ctx, set)
		defer func() {
			if v := recover(); v != nil {
				out, err = nil, recovered(ctx, s, set, function, v)
			}
		}()
		var in In
		if err := strictjson.Decode(raw, &in); err != nil {
			return nil, lambdaError(set, rotorerr.New(rotorerr.InvalidInput, "invalid input: "+err.Error()))
		}
		res, err := step(ctx, in)
		if err != nil {
			return nil, lambdaError(set, err)
		}
		return res, nil
	}}
}

// recovered turns a panic in a step into an error like any other, so that
// neither the panic's message nor aws-lambda-go's own report of it (which
// quotes the message) carries a secret out. A panic is a bug, so the error
// is Rotor.Unsafe: not retried, and caught by the state machine like any
// refused step (clean-up after create, rollback after switch-over or
// verify, a failure notice after the others). The log line carries the
// stack, scrubbed as well, in case the logger does not scrub.
func recovered(ctx context.Context, s *Service, set *redact.Set, function string, v any) error {
	msg := set.Scrub(fmt.Sprint(v))
	s.log().ErrorContext(ctx, "step panicked (a bug in rotor)", "function", function, "panic", msg,
		"stack", set.Scrub(string(debug.Stack())))
	return lambdaError(set, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("%s: panic (a bug in rotor): %s", function, msg)))
}

// lambdaError is the boundary's error mapping. It returns a value, not a
// pointer, because aws-lambda-go recognises only the value type.
func lambdaError(set *redact.Set, err error) error {
	return messages.InvokeResponse_Error{Type: string(rotorerr.Classify(err)), Message: set.Scrub(err.Error())}
}

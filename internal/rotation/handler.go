package rotation

import (
	"context"
	"encoding/json"
	"fmt"

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
// secret value the invocation read or made.
func (s *Service) Handler(function string) (LambdaHandler, error) {
	switch function {
	case FuncResolve:
		return boundary(s.Resolve), nil
	case FuncCreate:
		return boundary(s.Create), nil
	case FuncSwitchOver:
		return boundary(s.SwitchOver), nil
	case FuncVerify:
		return boundary(s.Verify), nil
	case FuncExpire:
		// Rollback and cleanup revoke with the master secret, so they belong
		// to the function that already holds that permission.
		return boundary(func(ctx context.Context, in StepInput) (*StepOutput, error) {
			switch in.Action {
			case "", ActionExpire:
				return s.Expire(ctx, in)
			case ActionRollback:
				return s.Rollback(ctx, in)
			case ActionCleanup:
				return s.Cleanup(ctx, in)
			case ActionRevoke:
				return s.RevokeLeaked(ctx, in)
			}
			return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("invalid step input: action %q is not expire, rollback, cleanup or revoke", in.Action))
		}), nil
	}
	return LambdaHandler{}, fmt.Errorf("unknown function %q (want one of %v)", function, Functions)
}

func boundary[In, Out any](step func(context.Context, In) (Out, error)) LambdaHandler {
	return LambdaHandler{fn: func(ctx context.Context, raw []byte) (any, error) {
		set := &redact.Set{}
		ctx = redact.NewContext(ctx, set)
		var in In
		if err := strictjson.Decode(raw, &in); err != nil {
			return nil, lambdaError(set, rotorerr.New(rotorerr.InvalidInput, "invalid input: "+err.Error()))
		}
		out, err := step(ctx, in)
		if err != nil {
			return nil, lambdaError(set, err)
		}
		return out, nil
	}}
}

// lambdaError is the boundary's error mapping. It returns a value, not a
// pointer, because aws-lambda-go recognises only the value type.
func lambdaError(set *redact.Set, err error) error {
	return messages.InvokeResponse_Error{Type: string(rotorerr.Classify(err)), Message: set.Scrub(err.Error())}
}

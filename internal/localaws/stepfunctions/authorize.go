package stepfunctions

import (
	"net/http"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Authorize tells which permission a Step Functions request needs, for
// the server's Options.EnforceIAM: states:OP on the state machine
// (CreateStateMachine, DescribeStateMachine, StartExecution,
// ListExecutions), on the execution (DescribeExecution, StopExecution,
// GetExecutionHistory), or on "*" (ListStateMachines). CreateStateMachine
// does not check iam:PassRole for its RoleArn.
func (sf *Service) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	var in struct{ Name, StateMachineArn, ExecutionArn string }
	switch op {
	case "ListStateMachines", "CreateStateMachine", "DescribeStateMachine", "StartExecution", "ListExecutions",
		"DescribeExecution", "StopExecution", "GetExecutionHistory":
	default:
		return nil, wire.ErrNotModelled
	}
	if err := wire.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	var resource string
	switch op {
	case "ListStateMachines":
		resource = "*"
	case "CreateStateMachine":
		resource = sf.arn("stateMachine", in.Name)
	case "DescribeStateMachine", "StartExecution", "ListExecutions":
		resource = in.StateMachineArn
	default:
		resource = in.ExecutionArn
	}
	return []wire.Access{{Request: iampolicy.Request{Action: "states:" + op, Resource: resource}}}, nil
}

package localaws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/events"
	"github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/localaws/stepfunctions"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// The services call one another only through the function values wired
// here: Step Functions' tasks invoke functions, publish to SNS, put events
// on EventBridge and start, wait for and stop executions (through
// asl.Services), EventBridge's
// deliveries start executions and invoke functions, STS looks access keys
// and roles up in IAM (iam.NewSTS, in build), and function URLs invoke
// within Lambda. Each translates the callee's errors into the caller's
// contract. Under Options.EnforceIAM each first authorizes the call as the
// role the caller acts as (actAs): a state machine's RoleArn, an
// EventBridge target's RoleArn; a refusal fails the call as AWS fails it
// (the errors are named at each function).

// awsRelay ends a message relaying another service's refusal, as Step
// Functions' Lambda integration reports one.
func awsRelay(service, code string, status int) string {
	return fmt.Sprintf(" (Service: %s; Status Code: %d; Error Code: %s; Request ID: %s; Proxy: null)", service, status, code, uuid.NewString())
}

// refusal is a refused internal call as the callee would answer it (its
// ErrorCode is what the Step Functions integrations name the task's error
// after: SNS.AuthorizationErrorException, StepFunctions.AccessDeniedException).
func refusal(d *Denial, a wire.Access, code string, status int) error {
	msg := d.Message()
	if a.DeniedCode != "" {
		code, status, msg = a.DeniedCode, a.DeniedStatus, msg+kmsSuffix()
	}
	return &wire.Error{Code: code, Message: msg, Status: status}
}

// invokeForStates is Step Functions' asl.InvokeFunc: once the host's
// functions are registered (Options.AwaitFunctions), it invokes on the
// Lambda service, reporting a function's own error as *asl.FunctionError and
// an unknown function as *asl.FunctionNotFoundError. A refused
// lambda:InvokeFunction fails the task with Lambda.AWSLambdaException,
// the error Step Functions reports for a Lambda task whose role may not
// invoke the function, its cause Lambda's AccessDeniedException message.
func (s *Server) invokeForStates(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	access := wire.Access{Request: iampolicy.Request{Action: "lambda:InvokeFunction", Resource: s.Lambda.InvokeARN(fn, "")}}
	if d, _ := s.actAs(ctx, access); d != nil {
		return nil, &asl.TaskFailure{Name: "Lambda.AWSLambdaException", Cause: d.Message() + awsRelay("AWSLambda", "AccessDeniedException", http.StatusForbidden)}
	}
	if err := s.awaitFunctions(ctx); err != nil {
		return nil, err // the execution was stopped or detached meanwhile
	}
	out, err := s.Lambda.Invoke(ctx, fn, payload)
	var fe *lambda.FunctionError
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &fe):
		return nil, &asl.FunctionError{Type: fe.Type, Message: fe.Message}
	case errors.As(err, &nf):
		return nil, &asl.FunctionNotFoundError{Message: nf.ErrorMessage()}
	}
	return out, err
}

// states returns the Step Functions service once build has set it: the
// executions stepfunctions.New resumes may start, wait for or stop others
// before New has returned.
func (s *Server) states(ctx context.Context) (*stepfunctions.Service, error) {
	select {
	case <-s.sfnBuilt:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.SFN == nil {
		return nil, errors.New("the endpoint's Step Functions failed to start")
	}
	return s.SFN, nil
}

// publishForStates is Step Functions' asl.PublishFunc: a refused
// sns:Publish is SNS's AuthorizationError (the task fails with
// SNS.AuthorizationErrorException), a refused use of the topic's KMS key
// KMSAccessDenied (SNS.KMSAccessDeniedException).
func (s *Server) publishForStates(ctx context.Context, topic, subject, message string) (string, error) {
	if d, a := s.actAs(ctx, s.SNS.PublishAccess(topic)...); d != nil {
		return "", refusal(d, a, "AuthorizationError", http.StatusForbidden)
	}
	return s.SNS.Publish(ctx, topic, subject, message)
}

// putEventsForStates is Step Functions' asl.PutEventsFunc: the entries go
// to the endpoint's EventBridge as PutEvents puts them, one result per
// entry (a bus that does not exist is a failed entry, and the task fails
// with EventBridge.FailedEntry). A refused events:PutEvents refuses the
// whole request with AccessDeniedException, as EventBridge does (the task
// fails with EventBridge.AccessDeniedException).
func (s *Server) putEventsForStates(ctx context.Context, entries []asl.EventEntry) ([]asl.EventResult, error) {
	es := make([]events.Entry, len(entries))
	for i, en := range entries {
		es[i] = events.Entry{Source: en.Source, DetailType: en.DetailType, Detail: en.Detail, EventBusName: en.EventBusName, Resources: en.Resources}
	}
	if d, a := s.actAs(ctx, s.Events.PutAccess(es)...); d != nil {
		return nil, refusal(d, a, "AccessDeniedException", http.StatusBadRequest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.Events.Put(es)
	if err != nil {
		return nil, err
	}
	results := make([]asl.EventResult, len(out.Entries))
	for i, r := range out.Entries {
		results[i] = asl.EventResult{EventID: aws.ToString(r.EventId), ErrorCode: aws.ToString(r.ErrorCode), ErrorMessage: aws.ToString(r.ErrorMessage)}
	}
	return results, nil
}

// statesAccess is a Step Functions permission an execution's tasks need.
func statesAccess(action, resource string) wire.Access {
	return wire.Access{Request: iampolicy.Request{Action: "states:" + action, Resource: resource}}
}

// startForStates is Step Functions' asl.StartExecutionFunc: it starts an
// execution on the service itself (a child execution); refusals keep
// their code (ExecutionAlreadyExists, StateMachineDoesNotExist, ...), a
// refused states:StartExecution is AccessDeniedException.
func (s *Server) startForStates(ctx context.Context, machine, name, input string) (string, time.Time, error) {
	if d, a := s.actAs(ctx, statesAccess("StartExecution", machine)); d != nil {
		return "", time.Time{}, refusal(d, a, "AccessDeniedException", http.StatusBadRequest)
	}
	sf, err := s.states(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	out, err := sf.StartExecution(&sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		return "", time.Time{}, err
	}
	return aws.ToString(out.ExecutionArn), aws.ToTime(out.StartDate), nil
}

// waitForStates is Step Functions' asl.WaitExecutionFunc (the .sync
// integrations waiting for a child).
func (s *Server) waitForStates(ctx context.Context, arn string) (*asl.ExecutionDescription, error) {
	// Step Functions follows the child with DescribeExecution as the role.
	if d, a := s.actAs(ctx, statesAccess("DescribeExecution", arn)); d != nil {
		return nil, refusal(d, a, "AccessDeniedException", http.StatusBadRequest)
	}
	sf, err := s.states(ctx)
	if err != nil {
		return nil, err
	}
	return sf.WaitExecution(ctx, arn)
}

// stopForStates is Step Functions' asl.StopExecutionFunc (a .sync task
// aborted stops its child).
func (s *Server) stopForStates(ctx context.Context, arn, errName, cause string) error {
	if d, a := s.actAs(ctx, statesAccess("StopExecution", arn)); d != nil {
		return refusal(d, a, "AccessDeniedException", http.StatusBadRequest)
	}
	sf, err := s.states(ctx)
	if err != nil {
		return err
	}
	return sf.StopExecution(ctx, arn, errName, cause)
}

// startForEvents starts executions for EventBridge targets, as the
// target's role. Step Functions' refusals (no such state machine, invalid
// input, a refused states:StartExecution) are permanent.
func (s *Server) startForEvents(ctx context.Context, machine, name, input string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if d, a := s.actAs(ctx, statesAccess("StartExecution", machine)); d != nil {
		return "", events.Permanent(fmt.Errorf("states:StartExecution: %w", refusal(d, a, "AccessDeniedException", http.StatusBadRequest)))
	}
	// An execution that Step Functions resumes may put an event before
	// Step Functions is set.
	sf, err := s.states(ctx)
	if err != nil {
		return "", err
	}
	out, err := sf.StartExecution(&sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return "", events.Permanent(fmt.Errorf("states:StartExecution: %w", err))
	case err != nil:
		return "", fmt.Errorf("states:StartExecution: %w", err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// invokeForEvents invokes functions for EventBridge targets, once the
// host's functions are registered. A function error is a delivered event
// (EventBridge invokes asynchronously); an unknown function is permanent.
func (s *Server) invokeForEvents(ctx context.Context, fn string, payload []byte) (string, error) {
	if err := s.awaitFunctions(ctx); err != nil {
		return "", err
	}
	out, err := s.Lambda.Invoke(ctx, fn, payload)
	var fe *lambda.FunctionError
	var nf *lambdatypes.ResourceNotFoundException
	switch {
	case errors.As(err, &fe):
		return "function error: " + fe.Error(), nil
	case errors.As(err, &nf):
		return "", events.Permanent(fmt.Errorf("lambda:Invoke: %w", err))
	}
	return string(out), err
}

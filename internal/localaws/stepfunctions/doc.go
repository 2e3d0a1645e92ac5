// Package stepfunctions is the local endpoint's Step Functions. It serves
// the Step Functions API (awsJson1.0) on internal/asl: CreateStateMachine,
// DescribeStateMachine, ListStateMachines, StartExecution,
// DescribeExecution, StopExecution, ListExecutions and
// GetExecutionHistory, for STANDARD state machines. Any other operation is
// UnknownOperationException.
//
// Task states run through Options.Tasks: the server passes asl.Services,
// the one implementation of Step Functions' service integrations (Lambda
// function ARNs, lambda:invoke, sns:publish), over function values wired to
// its own Lambda and SNS; with the server's Options.AwaitFunctions, Lambda
// calls wait for Server.FunctionsReady.
//
// State machines and executions persist in the data file's buckets
// "sfn-machines" and "sfn-executions" (JSON by ARN), and every execution is
// journaled ("sfn-journal" and "sfn-events", one sub-bucket per execution
// ARN), so that executions still running when the server stopped resume
// when it starts again, their history as it was. History events are
// written in batches (with the next journaled value, after 10 ms, and
// before the execution's ending is recorded): a crash loses at most the
// last moments of history, which the resumed execution records again as
// it re-runs from the last journaled value. Asl's Journal asks Event to be
// durable on return; this journal trades that for a batch, keeping the
// order that makes it safe (an event is never in the file without the
// values journaled before it). List operations page with
// paginate.Page: a NextToken is the ARN (or event id) of the last item of the
// previous page.
package stepfunctions

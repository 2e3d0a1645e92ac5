// Package stepfunctions is the local endpoint's Step Functions. It serves
// the Step Functions API (awsJson1.0) on internal/asl: CreateStateMachine,
// DescribeStateMachine, ListStateMachines, StartExecution,
// DescribeExecution, StopExecution, ListExecutions and
// GetExecutionHistory, for STANDARD state machines. Any other operation is
// UnknownOperationException.
//
// Task states run through Options.Tasks: the server passes asl.Services,
// the one implementation of Step Functions' service integrations (Lambda
// function ARNs, lambda:invoke, sns:publish, states:startExecution and its
// .sync and .sync:2 forms), over function values wired to its own Lambda,
// SNS and this service (StartExecution, WaitExecution, StopExecution); with
// the server's Options.AwaitFunctions, Lambda calls wait for
// Server.FunctionsReady.
//
// StartExecution is idempotent as AWS's is for STANDARD workflows: the
// name of a running execution with the same input is that execution;
// otherwise a name already used is ExecutionAlreadyExists. An input whose
// top-level asl.StartedByKey names the execution that started it records
// the link (StartedBy, Children); a value there that is not an execution
// ARN is InvalidExecutionInput. WaitExecution waits on a channel per
// execution, holding no lock, so a parent in .sync waits for days at no
// cost, and waits again for the same child when both resume after a
// restart.
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

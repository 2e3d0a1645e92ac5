// Package lambda is the local endpoint's Lambda. It answers the Lambda
// Invoke API (REST: POST /2015-03-31/functions/{FunctionName}/invocations),
// function URLs (FunctionURLPrefix) and the direct calls the server wires
// other services to (Service.Invoke). Functions are plugged in by the host:
// in-process Handlers (Register) or function binaries running under the
// Lambda Runtime Interface Emulator (RegisterURL, see StartRIE). Function
// names are read as awsarn.FunctionName reads them, as the state machine
// engine does.
//
// Calls to an in-process function run concurrently, up to its concurrency
// (Options.Concurrency, FunctionOptions; 64 by default), as Lambda runs
// one execution environment per concurrent call up to a function's
// reserved concurrency; beyond it a call waits for one to end, where
// Lambda would answer TooManyRequestsException. Calls to a function under
// the emulator run one at a time, as in a single execution environment:
// the emulator crashes on concurrent invokes. Calls to different
// functions run concurrently. Only $LATEST exists:
// qualifiers are accepted and ignored, and the region and account of a
// function ARN are not checked (state machine definitions written for a
// real account work). Nothing persists: functions are registered by the
// host at every start.
package lambda

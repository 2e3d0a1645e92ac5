// Package asl runs Amazon States Language state machines (JSONPath query
// language) without AWS: every state type, the data-flow fields, the
// intrinsic functions, the context object, Retry and Catch, timeouts, inline
// Map and Parallel, and an execution history with AWS's event type names.
//
// The engine knows no server and no AWS service. Task resources are
// dispatched through a TaskRunner (Registry maps Lambda function ARNs,
// arn:aws:states:::lambda:invoke and arn:aws:states:::sns:publish to host
// handlers; Services runs those, events:putEvents and
// states:startExecution, .sync and .sync:2 over the host's calls; MockConfig runs Step Functions Local mock
// files), and time goes through a Clock, so a 24-hour Wait runs instantly on
// a VirtualClock and for real on RealClock.
//
// AWS's limits hold: a state whose input after Parameters (or an
// iteration's after ItemSelector), result or output is over MaxPayload
// (256 KiB) fails with States.DataLimitExceeded, which no Retry or Catch
// handles; an execution reaching MaxHistoryEvents fails with
// States.Runtime.
//
// Where the specification (states-language.net) and AWS's documented
// behaviour differ, AWS's behaviour wins, because definitions run here are
// deployed there; each such choice is commented where it is made.
package asl

// Package events is the local endpoint's EventBridge. It serves the
// EventBridge API (awsJson1.1, X-Amz-Target AWSEvents.<Op>, SigV4 signing name "events") for event buses, rules
// with event patterns, their targets, and PutEvents:
//
//   - Buses: CreateEventBus, DeleteEventBus (it deletes the bus's rules
//     too), DescribeEventBus, ListEventBuses. The "default" bus always
//     exists and cannot be deleted.
//   - Rules: PutRule (with an EventPattern, matched by internal/eventpattern;
//     a ScheduleExpression is refused with a ValidationException),
//     DescribeRule, ListRules, DeleteRule (refused while the rule has
//     targets).
//   - Targets: PutTargets, RemoveTargets, ListTargetsByRule. A target is a
//     Step Functions state machine (arn:aws:states:...:stateMachine:NAME,
//     RoleArn required as in AWS) or a Lambda function
//     (arn:aws:lambda:...:function:NAME); Input, InputPath and
//     InputTransformer apply. Other target types are refused.
//   - PutEvents validates its entries as EventBridge does (1 to 10 entries,
//     256 KB in all; Source, DetailType and Detail, a JSON object,
//     required; "aws." sources refused), answering a failed entry for each
//     invalid one, and builds each event's envelope (version "0", id,
//     detail-type, source, account, time, region, resources, detail).
//
// Delivery is asynchronous, as in EventBridge: PutEvents matches each event
// against the enabled rules of its bus and returns; each matching rule's
// targets then get the event, transformed, in the background: a state
// machine an execution (named after the event, rule and target, so that a
// retry cannot start two), a function an asynchronous invocation (a
// function error is the function's business, not a failed delivery). A
// delivery that fails is retried with exponential backoff, up to the
// target's RetryPolicy.MaximumRetryAttempts or 3 times (at most 5: this is
// a local endpoint); a target that does not exist or refuses the input
// fails at once. Deliveries and failures are kept in memory for hosts and
// tests (Deliveries, Failures, Wait, and GET /_rotor/events/deliveries),
// never in PutEvents' FailedEntryCount. Dead-letter queues are accepted
// and not used.
//
// Deliveries reach state machines and functions through Targets, the
// function values the server wires to its Step Functions and Lambda.
//
// Buses, rules and targets persist in bbolt bucket "events" when the server
// has a data file; events and deliveries in flight do not.
package events

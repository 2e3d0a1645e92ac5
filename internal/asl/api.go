package asl

import (
	"encoding/json"
	"time"
)

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Options configure an Engine.
type Options struct {
	// Tasks runs Task states; nil fails every task with States.TaskFailed.
	Tasks TaskRunner
	// Clock is the source of time; nil means RealClock.
	Clock Clock
	// Jitter returns a number in [0, 1) for retry jitter and States.MathRandom
	// without a seed; nil uses math/rand/v2.
	Random func() float64
	// UUID returns a version 4 UUID for States.UUID; nil uses crypto/rand.
	UUID func() string
}

// ExecutionOptions name an execution for the context object.
type ExecutionOptions struct {
	Name             string // default: a UUID
	ARN              string // default derived from StateMachineARN and Name
	StateMachineName string // default "StateMachine"
	StateMachineARN  string // default arn:aws:states:us-east-1:123456789012:stateMachine:<name>
	RoleARN          string
}

// Result is a finished execution.
type Result struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	// Value is the output as a decoded JSON value (Output is not set by
	// RunValue).
	Value any    `json:"-"`
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// Event is one entry of an execution's history. It marshals to the shape of
// GetExecutionHistory's events: {"timestamp", "type", "id",
// "previousEventId", "<detailsKey>": {...}}.
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	// DetailsKey names the details field, e.g. "stateEnteredEventDetails".
	DetailsKey string
	// Details holds the event's details; for state entered and exited
	// events it is built on demand (see EventDetails), as they are the most
	// frequent and rarely read.
	Details map[string]any

	// Lazily detailed events (the frequent ones) keep their parts here.
	kind         eventKind
	state        string     // entered/exited: the state's name
	data         any        // the input, output or parameters
	task         *taskEvent // task events: the resource
	errName, str string     // failures: error and cause; ExecutionStarted: role ARN
	n            int64      // TaskScheduled: timeoutInSeconds (0: none); Map events: index or length
}

type eventKind uint8

const (
	kindEager eventKind = iota // Details is set
	kindEntered
	kindExited
	kindExecStarted
	kindTaskScheduled
	kindTaskStarted
	kindTaskSubmitted
	kindTaskSucceeded
	kindTaskFailed
	kindExecEnded     // ExecutionFailed, TimedOut, Aborted: error and cause
	kindExecSucceeded // ExecutionSucceeded: the output
	kindMapIteration  // MapIteration*: the Map state's name and the index
	kindMapStarted    // MapStateStarted: the length
)

// EventDetails returns e's details, building them for state entered and
// exited events.
func (e Event) EventDetails() map[string]any {
	switch e.kind {
	case kindEntered:
		return map[string]any{"name": e.state, "input": jsonText{e.data}, "inputDetails": notTruncated}
	case kindExited:
		return map[string]any{"name": e.state, "output": jsonText{e.data}, "outputDetails": notTruncated}
	case kindExecStarted:
		return map[string]any{"input": jsonText{e.data}, "inputDetails": notTruncated, "roleArn": e.str}
	case kindTaskScheduled:
		var d map[string]any
		if e.task.lambda {
			d = map[string]any{"resource": e.task.resource, "input": jsonText{e.data}, "inputDetails": notTruncated}
		} else {
			d = e.task.ids()
			d["region"], d["parameters"] = e.task.region, jsonText{e.data}
		}
		if e.n > 0 {
			d["timeoutInSeconds"] = e.n
		}
		return d
	case kindTaskStarted:
		return e.task.ids()
	case kindTaskSubmitted, kindTaskSucceeded:
		d := e.task.ids()
		d["output"], d["outputDetails"] = jsonText{e.data}, notTruncated
		return d
	case kindTaskFailed:
		d := e.task.ids()
		d["error"], d["cause"] = e.errName, e.str
		return d
	case kindExecEnded:
		return map[string]any{"error": e.errName, "cause": e.str}
	case kindExecSucceeded:
		return map[string]any{"output": jsonText{e.data}, "outputDetails": notTruncated}
	case kindMapIteration:
		return map[string]any{"name": e.state, "index": e.n}
	case kindMapStarted:
		return map[string]any{"length": e.n}
	}
	return e.Details
}

// StateName returns the state a state entered or exited event is about.
func (e Event) StateName() string { return e.state }

const (
	keyEntered = "stateEnteredEventDetails"
	keyExited  = "stateExitedEventDetails"
)

// MarshalJSON implements json.Marshaler.
func (e Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id": e.ID, "previousEventId": e.PreviousEventID,
		"timestamp": e.Timestamp.UTC().Format(time.RFC3339Nano), "type": e.Type,
	}
	if e.DetailsKey != "" {
		m[e.DetailsKey] = e.EventDetails()
	}
	return json.Marshal(m)
}

// EnteredStates lists the names of the states entered, in history order.
func EnteredStates(history []Event) []string {
	var out []string
	for _, e := range history {
		if e.DetailsKey == keyEntered { // also events read back from a journal
			out = append(out, e.state)
		}
	}
	return out
}

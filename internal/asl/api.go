package asl

import (
	"context"
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
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
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
	Details    map[string]any
}

// MarshalJSON implements json.Marshaler.
func (e Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id": e.ID, "previousEventId": e.PreviousEventID,
		"timestamp": e.Timestamp.UTC().Format(time.RFC3339Nano), "type": e.Type,
	}
	if e.DetailsKey != "" {
		m[e.DetailsKey] = e.Details
	}
	return json.Marshal(m)
}

// EnteredStates lists the names of the states entered, in history order.
func EnteredStates(history []Event) []string {
	var out []string
	for _, e := range history {
		if e.DetailsKey == "stateEnteredEventDetails" {
			if n, ok := e.Details["name"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

// Run starts an execution and waits for it: the convenience form of
// Start and Wait.
func (e *Engine) Run(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions) (*Result, []Event) {
	x := e.Start(ctx, def, input, opts)
	res := x.Wait(ctx)
	return res, x.History()
}

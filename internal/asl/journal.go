package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Journal makes an execution durable. Everything an execution depends on
// that is not a function of its definition and input (task results, what
// starting a run-a-job task's job answered, the times states were entered
// and retries are due, random numbers and UUIDs) is recorded under a key derived from where it happens (the branch, the
// state, how many times that state was entered in that branch, the
// attempt), and so is every history event.
//
// To resume after a restart, the host starts the execution again with
// Resume: the engine re-runs it, taking recorded values instead of calling
// tasks or reading the clock, and suppressing the events already recorded,
// until it reaches what was never recorded; from there it carries on. A
// Wait entered before the restart ends when it was due; a task whose result
// was not recorded is called again (tasks must be idempotent, as
// Step Functions' own retries already require).
type Journal interface {
	// Load returns the value recorded under key.
	Load(key string) ([]byte, bool)
	// Store records a value; it must be durable when Store returns.
	Store(key string, value []byte) error
	// Event records a history event and, in the same atomic write, that
	// Load("ev:"+key) returns its id in decimal. Events arrive in id order.
	// A journal may buffer events briefly (the local endpoint writes them
	// in batches) provided none becomes durable before a value Stored
	// before it: an event lost in a crash is recorded again on resume,
	// since the values that decide the replay are durable.
	Event(key string, e Event) error
}

// Resume continues an execution from its journal: events are the history
// recorded so far (in order); opts must be the original ones.
func (e *Engine) Resume(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions, j Journal, events []Event) *Execution {
	return e.start(ctx, def, input, opts, j, events)
}

// StartJournaled begins an execution that records itself in j.
func (e *Engine) StartJournaled(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions, j Journal) *Execution {
	return e.start(ctx, def, input, opts, j, nil)
}

// effect returns the value recorded under key, or computes, records and
// returns it.
func (x *Execution) effect(key string, compute func() ([]byte, error)) ([]byte, error) {
	if v, ok := x.journal.Load(key); ok {
		return v, nil
	}
	v, err := compute()
	if err != nil || x.isDetached() {
		return v, err
	}
	if err := x.journal.Store(key, v); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return v, nil
}

// recordedTime returns the time recorded under key, recording now first.
func (x *Execution) recordedTime(key string, now func() time.Time) time.Time {
	if x.journal == nil {
		return now()
	}
	v, err := x.effect(key, func() ([]byte, error) { return []byte(now().UTC().Format(time.RFC3339Nano)), nil })
	if err != nil {
		return now()
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return now()
	}
	return t
}

// recordedFloat returns the number recorded under key, or draws and
// records one.
func (x *Execution) recordedFloat(key string, draw func() float64) float64 {
	if x.journal == nil {
		return draw()
	}
	v, err := x.effect(key, func() ([]byte, error) { return strconv.AppendFloat(nil, draw(), 'g', -1, 64), nil })
	if err != nil {
		return draw()
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return draw()
	}
	return f
}

// recordedString returns the string recorded under key, or makes and
// records one.
func (x *Execution) recordedString(key string, make func() string) string {
	if x.journal == nil {
		return make()
	}
	v, err := x.effect(key, func() ([]byte, error) { return []byte(make()), nil })
	if err != nil {
		return make()
	}
	return string(v)
}

// taskOutcome is how a task result is recorded.
type taskOutcome struct {
	Value json.RawMessage `json:"value,omitempty"`
	Error string          `json:"error,omitempty"`
	Cause string          `json:"cause,omitempty"`
	Err   bool            `json:"failed,omitempty"`
}

// UnmarshalJSON reads an event written by MarshalJSON back, so that a
// resumed execution's history holds the events recorded before.
func (e *Event) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = Event{}
	for k, v := range m {
		switch k {
		case "id":
			_ = json.Unmarshal(v, &e.ID)
		case "previousEventId":
			_ = json.Unmarshal(v, &e.PreviousEventID)
		case "timestamp":
			var s string
			_ = json.Unmarshal(v, &s)
			e.Timestamp, _ = time.Parse(time.RFC3339Nano, s)
		case "type":
			_ = json.Unmarshal(v, &e.Type)
		default:
			e.DetailsKey = k
			_ = json.Unmarshal(v, &e.Details)
		}
	}
	// The event stays eagerly detailed: Details holds the input as the JSON
	// text it was written with. Marking it kindEntered would rebuild the
	// details from the (unset) decoded input, and every state's input would
	// read back as "null".
	if e.DetailsKey == keyEntered || e.DetailsKey == keyExited {
		e.state, _ = e.Details["name"].(string)
	}
	return nil
}

// draw returns a random number in [0, 1), recorded per state visit.
func (x *Execution) draw(st *stateRun, fn func() float64) float64 {
	if x.journal == nil {
		return fn()
	}
	st.draws++
	return x.recordedFloat("rand:"+st.key+"#"+strconv.Itoa(st.draws), fn)
}

// drawUUID returns a UUID, recorded per state visit.
func (x *Execution) drawUUID(st *stateRun) string {
	if x.journal == nil {
		return x.eng.uuid()
	}
	st.draws++
	return x.recordedString("uuid:"+st.key+"#"+strconv.Itoa(st.draws), x.eng.uuid)
}

// journaledTask runs a task through the journal: a recorded outcome is
// returned as it was; otherwise the task runs and its outcome (result or
// named error) is recorded. An aborted task records nothing.
func (x *Execution) journaledTask(st *stateRun, attempt int, run func() (any, error)) (any, error) {
	key := "task:" + st.key + "@" + strconv.Itoa(attempt)
	if v, ok := x.journal.Load(key); ok {
		var o taskOutcome
		if err := json.Unmarshal(v, &o); err == nil {
			if o.Err {
				return nil, &TaskFailure{Name: o.Error, Cause: o.Cause}
			}
			var out any
			if len(o.Value) > 0 {
				_ = json.Unmarshal(o.Value, &out)
			}
			return out, nil
		}
	}
	out, err := run()
	var o taskOutcome
	switch e := err.(type) {
	case nil:
		o.Value, _ = json.Marshal(out)
	case *TaskFailure:
		o.Err, o.Error, o.Cause = true, e.Name, e.Cause
	default:
		if err == errAborted || err == errTaskTimeout {
			return out, err // not an outcome: the timeout is raised again on replay
		}
		o.Err, o.Error, o.Cause = true, ErrTaskFailed, err.Error()
	}
	b, _ := json.Marshal(o)
	if x.isDetached() {
		return out, err
	}
	if jerr := x.journal.Store(key, b); jerr != nil {
		return nil, fmt.Errorf("journal: %w", jerr)
	}
	return out, err
}

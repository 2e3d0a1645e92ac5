package asl

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Engine runs executions. It is safe for concurrent use.
type Engine struct {
	tasks TaskRunner
	clock Clock
	rnd   func() float64
	uid   func() string
}

// New returns an engine.
func New(opts Options) *Engine {
	e := &Engine{tasks: opts.Tasks, clock: opts.Clock, rnd: opts.Random, uid: opts.UUID}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.rnd == nil {
		e.rnd = mrand.Float64
	}
	if e.uid == nil {
		e.uid = func() string { return uuid.Must(uuid.NewRandomFromReader(rand.Reader)).String() }
	}
	return e
}

func (e *Engine) random() float64 { return e.rnd() }
func (e *Engine) uuid() string    { return e.uid() }

// Execution is a running or finished execution.
type Execution struct {
	eng   *Engine
	def   *Definition
	input any
	start time.Time

	// context object parts that do not change during the execution, built
	// on first use
	ctxOnce        sync.Once
	execCtx, smCtx map[string]any
	opts           ExecutionOptions
	arn            string

	cancel      context.CancelFunc      // aborts the execution
	cancelCause context.CancelCauseFunc // the same, naming why (errDetached)
	done        chan struct{}

	mu         sync.Mutex
	events     []Event
	result     *Result
	journal    Journal     // nil: not durable
	detached   bool        // Detach: stop without recording anything more
	bad        *stateError // the input could not be used
	valuesOnly bool        // RunValue: the output is not encoded
	stopErr    *stateError // set by Stop: the execution was aborted
	timeout    bool
	overflow   bool // the history reached MaxHistoryEvents
}

// Start begins an execution on its own goroutine; Wait collects its result.
func (e *Engine) Start(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions) *Execution {
	return e.start(ctx, def, input, opts, nil, nil)
}

func (e *Engine) start(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions, j Journal, past []Event) *Execution {
	v, bad := decodeInput(input)
	x, top := e.prepareJournaled(def, v, bad, opts, j, past)
	x.done = make(chan struct{})
	ctx = x.cancellable(context.WithoutCancel(ctx))
	track(e.clock)
	go func() {
		defer untrack(e.clock)
		x.execute(ctx, top, bad)
	}()
	return x
}

// Run runs an execution to its end on the calling goroutine and returns its
// result and history. Cancelling ctx aborts the execution.
func (e *Engine) Run(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions) (*Result, []Event) {
	v, bad := decodeInput(input)
	return e.run(ctx, def, v, bad, opts, false)
}

// RunValue is Run for in-process callers holding decoded JSON values
// (map[string]any, []any, string, float64, bool, nil): the input is not
// encoded and decoded again, and the result's Value holds the output.
// The engine never modifies input.
func (e *Engine) RunValue(ctx context.Context, def *Definition, input any, opts ExecutionOptions) (*Result, []Event) {
	return e.run(ctx, def, input, nil, opts, true)
}

func (e *Engine) run(ctx context.Context, def *Definition, input any, bad *stateError, opts ExecutionOptions, valuesOnly bool) (*Result, []Event) {
	if bad == nil && valuesOnly {
		if n := jsonSize(input); n > MaxPayload {
			bad = &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The input size %d exceeds the maximum of %d bytes", n, MaxPayload)}
		}
	}
	x, top := e.prepare(def, input, bad, opts)
	x.valuesOnly = valuesOnly
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			x.mu.Lock()
			if x.result == nil && x.stopErr == nil && !x.timeout && !x.overflow {
				x.stopErr = &stateError{name: "States.Aborted", cause: "the caller's context ended"}
			}
			x.mu.Unlock()
		})
		defer stop()
	}
	ctx = x.cancellable(ctx)
	track(e.clock)
	x.execute(ctx, top, bad)
	untrack(e.clock)
	return x.result, x.events // the execution is over: nothing appends any more
}

// errDetached is the cause of a detached execution's cancellation: what it
// was waiting for (a child execution in .sync) is left running.
var errDetached = errors.New("the execution was detached")

// cancellable derives the execution's context, which x.cancel and
// x.cancelCause end.
func (x *Execution) cancellable(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	x.cancelCause = cancel
	x.cancel = func() { cancel(nil) }
	return ctx
}

// decodeInput decodes an execution's JSON input ("" means {}).
func decodeInput(input json.RawMessage) (any, *stateError) {
	if len(input) == 0 {
		return map[string]any{}, nil
	}
	if len(input) > MaxPayload {
		return nil, &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The input size %d exceeds the maximum of %d bytes", len(input), MaxPayload)}
	}
	var v any
	if err := json.Unmarshal(input, &v); err != nil {
		return nil, runtimeErr("The execution input is not valid JSON")
	}
	return v, nil
}

func (e *Engine) prepare(def *Definition, input any, bad *stateError, opts ExecutionOptions) (*Execution, *branch) {
	return e.prepareJournaled(def, input, bad, opts, nil, nil)
}

func (e *Engine) prepareJournaled(def *Definition, input any, bad *stateError, opts ExecutionOptions, j Journal, past []Event) (*Execution, *branch) {
	if opts.Name == "" {
		opts.Name = e.uuid()
	}
	if opts.StateMachineName == "" {
		opts.StateMachineName = "StateMachine"
	}
	if opts.StateMachineARN == "" {
		opts.StateMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:" + opts.StateMachineName
	}
	if opts.ARN == "" {
		opts.ARN = strings.Replace(opts.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + opts.Name
	}
	x := &Execution{eng: e, def: def, arn: opts.ARN, opts: opts, journal: j, events: make([]Event, 0, 8+len(past))}
	x.events = append(x.events, past...)
	x.start = x.recordedTime("start", e.clock.Now)
	x.input = input
	top := &branch{x: x, path: "exec"}
	top.add(Event{Type: "ExecutionStarted", DetailsKey: "executionStartedEventDetails", kind: kindExecStarted, data: x.input, str: opts.RoleARN})
	return x, top
}

// notTruncated is the shared, never modified {"truncated": false} of
// history details.
var notTruncated = map[string]any{"truncated": false}

func (x *Execution) execute(ctx context.Context, top *branch, bad *stateError) {
	x.bad = bad
	if x.done != nil {
		defer close(x.done)
	}
	defer x.cancel()
	if bad != nil {
		x.finish(top, nil, bad)
		return
	}
	if x.def.TimeoutSeconds > 0 {
		stop := x.watchTimeout(ctx, time.Duration(x.def.TimeoutSeconds)*time.Second)
		defer stop()
	}
	out, err := x.runMachine(ctx, &machine{StartAt: x.def.StartAt, States: x.def.States}, x.input, top)
	x.finish(top, out, err)
}

// watchTimeout aborts the execution with States.Timeout after d.
func (x *Execution) watchTimeout(ctx context.Context, d time.Duration) (stop func()) {
	tctx, cancel := context.WithCancel(ctx)
	track(x.eng.clock)
	go func() {
		defer untrack(x.eng.clock)
		if x.eng.clock.Sleep(tctx, d) == nil {
			x.mu.Lock()
			x.timeout = true
			x.mu.Unlock()
			x.cancel()
		}
	}()
	return cancel
}

func (x *Execution) finish(top *branch, out any, err error) {
	x.mu.Lock()
	stop, timedOut, overflow, detached := x.stopErr, x.timeout, x.overflow, x.detached
	x.mu.Unlock()
	res := &Result{}
	if detached {
		res.Status, res.Error, res.Cause = StatusAborted, "States.Detached", "the execution was detached to be resumed later"
		x.mu.Lock()
		x.result = res
		x.mu.Unlock()
		return
	}
	if overflow {
		err = runtimeErr("The execution reached the maximum number of history events (%d)", MaxHistoryEvents)
	}
	ended := func(typ, key string) {
		top.add(Event{Type: typ, DetailsKey: key, kind: kindExecEnded, errName: res.Error, str: res.Cause})
	}
	switch {
	case stop != nil:
		res.Status, res.Error, res.Cause = StatusAborted, stop.name, stop.cause
		ended("ExecutionAborted", "executionAbortedEventDetails")
	case timedOut:
		res.Status, res.Error, res.Cause = StatusTimedOut, ErrTimeout, "The execution exceeded its TimeoutSeconds"
		ended("ExecutionTimedOut", "executionTimedOutEventDetails")
	case err != nil:
		// Only stateErrors and errAborted come up here, never wrapped.
		res.Status, res.Error, res.Cause = StatusFailed, ErrRuntime, err.Error()
		if se, ok := err.(*stateError); ok {
			res.Error, res.Cause = se.name, se.cause
		}
		ended("ExecutionFailed", "executionFailedEventDetails")
	default:
		// The output is measured once: by its encoding when it is encoded
		// anyway, without encoding it for RunValue.
		var b []byte
		size := 0
		if x.valuesOnly {
			size = jsonSize(out)
		} else {
			var err error
			if b, err = json.Marshal(out); err != nil {
				res.Status, res.Error, res.Cause = StatusFailed, ErrRuntime, "The execution output cannot be encoded"
				ended("ExecutionFailed", "executionFailedEventDetails")
				break
			}
			size = len(b)
		}
		if size > MaxPayload {
			res.Status, res.Error, res.Cause = StatusFailed, ErrDataLimitExceeded, fmt.Sprintf("The execution output is %d bytes, over the %d-byte limit", size, MaxPayload)
			ended("ExecutionFailed", "executionFailedEventDetails")
			break
		}
		res.Status, res.Value, res.Output = StatusSucceeded, out, b
		top.add(Event{Type: "ExecutionSucceeded", DetailsKey: "executionSucceededEventDetails", kind: kindExecSucceeded, data: out})
	}
	x.mu.Lock()
	x.result = res
	x.mu.Unlock()
}

// Wait blocks until the execution ends and returns its result; if ctx ends
// first it returns a RUNNING result.
func (x *Execution) Wait(ctx context.Context) *Result {
	select {
	case <-x.done:
	case <-ctx.Done():
		return &Result{Status: StatusRunning}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.result
}

// Done is closed when an execution begun with Start has ended.
func (x *Execution) Done() <-chan struct{} { return x.done }

// Stop aborts a running execution (StopExecution); it does nothing to a
// finished one.
func (x *Execution) Stop(errName, cause string) {
	x.mu.Lock()
	if x.result == nil && x.stopErr == nil {
		x.stopErr = &stateError{name: errName, cause: cause}
	}
	x.mu.Unlock()
	x.cancel()
}

// Detach stops a journaled execution without recording its end: nothing
// more reaches the journal, so the execution can be resumed from it later
// (a host shutting down).
func (x *Execution) Detach() {
	x.mu.Lock()
	if x.result == nil {
		x.detached = true
	}
	x.mu.Unlock()
	x.cancelCause(errDetached)
}

func (x *Execution) isDetached() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.detached
}

// History returns a copy of the events recorded so far.
func (x *Execution) History() []Event {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Event(nil), x.events...)
}

// StartTime is when the execution started, on the engine's clock.
func (x *Execution) StartTime() time.Time { return x.start }

// ARN is the execution's ARN.
func (x *Execution) ARN() string { return x.arn }

// branch is one thread of states: the top level, a Parallel branch or a Map
// iteration. It chains its events through previousEventId.
type branch struct {
	x    *Execution
	last int64
	// For journaling only: where the branch is, the state it is running,
	// how often it entered each state and how many events of each type it
	// emitted outside states.
	path   string
	cur    *stateRun
	visits map[string]int
	counts map[string]int
}

func (b *branch) emit(typ, key string, details map[string]any) {
	b.add(Event{Type: typ, DetailsKey: key, Details: details})
}

// emitState records a state entered or exited event, whose details are
// built only when read.
func (b *branch) emitState(typ, key, state string, data any) {
	kind := kindEntered
	if key == keyExited {
		kind = kindExited
	}
	b.add(Event{Type: typ, DetailsKey: key, kind: kind, state: state, data: data})
}

func (b *branch) add(e Event) {
	x := b.x
	if x.journal != nil {
		b.addJournaled(e)
		return
	}
	x.mu.Lock()
	if x.overflows(e) {
		x.mu.Unlock()
		return
	}
	id := int64(len(x.events) + 1)
	e.ID, e.PreviousEventID, e.Timestamp = id, b.last, x.eng.clock.Now()
	x.events = append(x.events, e)
	x.mu.Unlock()
	b.last = id
}

// overflows reports whether e would take the history to MaxHistoryEvents
// while the execution goes on: the last event must be the one ending it.
// The first time, it stops every branch (finish reports the failure); e
// and every later event but the last are not recorded. The caller holds
// x.mu.
func (x *Execution) overflows(e Event) bool {
	if e.kind == kindExecEnded || e.kind == kindExecSucceeded {
		return false
	}
	if !x.overflow && len(x.events) < MaxHistoryEvents-1 {
		return false
	}
	if !x.overflow && x.result == nil {
		x.overflow = true
		x.cancel()
	}
	return true
}

// child starts a nested branch (a Parallel branch or a Map iteration)
// named name under the state being run.
func (b *branch) child(name string) *branch {
	c := &branch{x: b.x, last: b.last}
	if b.x.journal != nil && b.cur != nil {
		c.path = b.cur.key + "/" + name
	}
	return c
}

// addJournaled records an event under its key, or, when the journal has it
// already (a resumed execution re-running what it did before), only
// follows it.
func (b *branch) addJournaled(e Event) {
	x := b.x
	if x.isDetached() {
		return
	}
	counts, prefix := &b.counts, b.path
	if b.cur != nil {
		counts, prefix = &b.cur.counts, b.cur.key
	}
	if *counts == nil {
		*counts = map[string]int{}
	}
	n := (*counts)[e.Type]
	(*counts)[e.Type]++
	key := prefix + ":" + e.Type + "#" + strconv.Itoa(n)
	if v, ok := x.journal.Load("ev:" + key); ok {
		if id, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			b.last = id
			return
		}
	}
	// Recorded under the lock, so that the journal holds events in id
	// order with no gaps whenever the process dies.
	x.mu.Lock()
	if x.overflows(e) {
		x.mu.Unlock()
		return
	}
	id := int64(len(x.events) + 1)
	e.ID, e.PreviousEventID, e.Timestamp = id, b.last, x.eng.clock.Now()
	x.events = append(x.events, e)
	_ = x.journal.Event(key, e)
	x.mu.Unlock()
	b.last = id
}

// jsonText marshals a value as a JSON string holding its JSON text, the way
// history events carry inputs and outputs. Marshalling waits until the
// history is read.
type jsonText struct{ v any }

func (j jsonText) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(j.v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// stateRun is what the context object needs about the state being run.
type stateRun struct {
	name    string
	entered time.Time
	retries int
	item    map[string]any // Map.Item while evaluating an ItemSelector
	// journaling only: the visit's key and its per-type event counts
	key    string
	counts map[string]int
	draws  int // random numbers and UUIDs drawn in this visit
}

func (x *Execution) contextObject(st *stateRun) any {
	x.ctxOnce.Do(func() {
		x.execCtx = map[string]any{
			"Id": x.opts.ARN, "Name": x.opts.Name, "RoleArn": x.opts.RoleARN, "Input": x.input,
			"StartTime": isoMillis(x.start), "RedriveCount": float64(0),
		}
		x.smCtx = map[string]any{"Id": x.opts.StateMachineARN, "Name": x.opts.StateMachineName}
	})
	ctx := map[string]any{"Execution": x.execCtx, "StateMachine": x.smCtx}
	if st != nil {
		ctx["State"] = map[string]any{"EnteredTime": isoMillis(st.entered), "Name": st.name, "RetryCount": float64(st.retries)}
		if st.item != nil {
			ctx["Map"] = map[string]any{"Item": st.item}
		}
	}
	return ctx
}

func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// MaxHistoryEvents is Step Functions' limit on a Standard execution's
// history; an execution that reaches it fails. It also bounds a definition
// that loops forever on a virtual clock.
const MaxHistoryEvents = 25000

// runMachine runs states from m.StartAt until one ends the machine.
func (x *Execution) runMachine(ctx context.Context, m *machine, input any, b *branch) (any, error) {
	s := m.States[m.StartAt]
	for {
		if err := ctx.Err(); err != nil {
			return nil, errAborted
		}
		out, next, err := x.runState(ctx, s, input, b)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		s, input = m.States[next], out
	}
}

// errAborted ends a branch whose execution, or sibling, stopped it.
var errAborted = errors.New("aborted")

// applyPath applies InputPath or OutputPath: absent is "$", null is {}.
func applyPath(op optPath, env *evalEnv, field string) (any, error) {
	if !op.set {
		return env.input, nil
	}
	if op.null {
		return map[string]any{}, nil
	}
	v, ok := op.path.get(env)
	if !ok {
		return nil, runtimeErr("Invalid path '%s' : No results for path: %s (field %s) in '%s'", op.path.raw, op.path.raw, field, compact(env.input))
	}
	return v, nil
}

// applyResultPath combines the state's raw input with a result.
func applyResultPath(op optPath, rawInput, result any) (any, error) {
	switch {
	case !op.set:
		return result, nil
	case op.null:
		return rawInput, nil
	}
	out, err := op.path.set(rawInput, result)
	if err != nil {
		return nil, runtimeErr("%v", err)
	}
	return out, nil
}

// runState runs one state and returns its output and the next state's
// name ("" when the machine ends here).
func (x *Execution) runState(ctx context.Context, s *State, rawInput any, b *branch) (any, string, error) {
	// One allocation holds the state's context facts and its evaluation
	// environment; env.input moves along as the data flows.
	fr := &frame{st: stateRun{name: s.Name}}
	st := &fr.st
	if x.journal != nil {
		if b.visits == nil {
			b.visits = map[string]int{}
		}
		st.key = b.path + "/" + s.Name + "#" + strconv.Itoa(b.visits[s.Name])
		b.visits[s.Name]++
		b.cur = st
		st.entered = x.recordedTime("t:"+st.key, x.eng.clock.Now)
	} else {
		st.entered = x.eng.clock.Now()
	}
	fr.env = evalEnv{input: rawInput, x: x, st: st}
	env := &fr.env
	b.emitState(s.enteredEvent, keyEntered, s.Name, rawInput)
	if s.Type == "Fail" {
		return nil, "", x.fail(s, env)
	}
	eff, err := applyPath(s.InputPath, env, "InputPath")
	if err != nil {
		return nil, "", err
	}
	env.input = eff // the context object, if built, stays valid
	next := s.Next
	var out any
	var caught string // the Next of the catcher that handled an error
	switch s.Type {
	case "Pass":
		result := eff
		if s.hasResult {
			result = s.Result
		} else if s.Parameters != nil {
			if result, err = s.Parameters.eval(env); err != nil {
				return nil, "", err
			}
			if err := checkSize(result, "The input of state '%s' after Parameters", s.Name); err != nil {
				return nil, "", err
			}
		}
		out, err = x.finishData(s, rawInput, result, env)
	case "Succeed":
		out, err = applyPath(s.OutputPath, env, "OutputPath")
		next = ""
	case "Choice":
		next = ""
		for _, r := range s.Choices {
			ok, err := r.eval(env)
			if err != nil {
				return nil, "", err
			}
			if ok {
				next = r.Next
				break
			}
		}
		if next == "" {
			if next = s.Default; next == "" {
				return nil, "", &stateError{name: ErrNoChoiceMatched, cause: fmt.Sprintf("No Choice Rules matched and no Default was specified in state '%s'", s.Name)}
			}
		}
		out, err = applyPath(s.OutputPath, env, "OutputPath")
	case "Wait":
		if err := x.wait(ctx, s, env); err != nil {
			return nil, "", err
		}
		out, err = applyPath(s.OutputPath, env, "OutputPath")
	case "Task", "Parallel", "Map":
		out, caught, err = x.withRetry(ctx, s, rawInput, env, func(attempt int) (any, error) {
			st.retries = attempt
			env.input, env.built = eff, false // $$.State.RetryCount changed
			switch s.Type {
			case "Task":
				return x.task(ctx, s, env, b, attempt)
			case "Parallel":
				return x.parallel(ctx, s, env, b)
			}
			return x.mapState(ctx, s, env, b)
		})
		if caught != "" {
			next = caught
		} else if s.End {
			next = ""
		}
	default:
		if s.End {
			next = ""
		}
	}
	if err != nil {
		return nil, "", err
	}
	// Every state's output is within the limit: Choice, Wait and Succeed
	// output part of their input, which was; the others are measured
	// unless their output is their result, measured already.
	if s.checkOutput || caught != "" {
		if err := checkSize(out, "The output of state '%s'", s.Name); err != nil {
			return nil, "", err
		}
	}
	b.emitState(s.exitedEvent, keyExited, s.Name, out)
	return out, next, nil
}

// frame is what runState allocates once per state.
type frame struct {
	st  stateRun
	env evalEnv
}

// finishData applies ResultPath and OutputPath to a state's result; env
// then holds the combined document.
func (x *Execution) finishData(s *State, rawInput, result any, env *evalEnv) (any, error) {
	combined, err := applyResultPath(s.ResultPath, rawInput, result)
	if err != nil {
		return nil, err
	}
	env.input = combined
	return applyPath(s.OutputPath, env, "OutputPath")
}

// fail raises a Fail state's error; env holds the state's raw input.
func (x *Execution) fail(s *State, env *evalEnv) error {
	se := &stateError{name: s.Error, cause: s.Cause}
	for _, f := range []struct {
		pc    *pathOrCall
		field string
		dst   *string
	}{{s.ErrorPath, "ErrorPath", &se.name}, {s.CausePath, "CausePath", &se.cause}} {
		if f.pc == nil {
			continue
		}
		v, err := f.pc.eval(env, f.field)
		if err != nil {
			return err
		}
		str, ok := v.(string)
		if !ok {
			return runtimeErr("The value of %s in state '%s' is not a string", f.field, s.Name)
		}
		*f.dst = str
	}
	return se
}

func (x *Execution) wait(ctx context.Context, s *State, env *evalEnv) error {
	// Relative waits count from when the state was entered, which a resumed
	// execution takes from its journal.
	now := env.st.entered
	var until time.Time
	switch {
	case s.Seconds != nil:
		until = now.Add(time.Duration(*s.Seconds) * time.Second)
	case s.Timestamp != nil:
		until = *s.Timestamp
	case s.SecondsPath != nil:
		v, ok := s.SecondsPath.get(env)
		n, isNum := v.(float64)
		if !ok || !isNum || n < 0 || n != math.Trunc(n) || n > 99999999 {
			return runtimeErr("The SecondsPath parameter does not reference a valid non-negative integer: %s", s.SecondsPath.raw)
		}
		until = now.Add(time.Duration(n) * time.Second)
	case s.TimestampPath != nil:
		v, ok := s.TimestampPath.get(env)
		str, isStr := v.(string)
		t, err := parseTimestamp(str)
		if !ok || !isStr || err != nil {
			return runtimeErr("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", s.TimestampPath.raw)
		}
		until = t
	}
	return x.sleepUntil(ctx, until)
}

// sleepUntil waits on the engine's clock until t.
func (x *Execution) sleepUntil(ctx context.Context, t time.Time) error {
	if d := t.Sub(x.eng.clock.Now()); d > 0 {
		if err := x.eng.clock.Sleep(ctx, d); err != nil {
			return errAborted
		}
	}
	return nil
}

// withRetry runs a Task, Parallel or Map state's work with its Retry and
// Catch fields. It returns the state's output, or the Next of the catcher
// that handled the error.
func (x *Execution) withRetry(ctx context.Context, s *State, rawInput any, env *evalEnv, work func(attempt int) (any, error)) (any, string, error) {
	var counts []int
	if len(s.Retry) > 0 {
		counts = make([]int, len(s.Retry))
	}
	for attempt := 0; ; attempt++ {
		result, err := work(attempt)
		if err == nil {
			if s.ResultSelector != nil {
				env.input = result
				if result, err = s.ResultSelector.eval(env); err != nil {
					return nil, "", err
				}
			}
			out, err := x.finishData(s, rawInput, result, env)
			return out, "", err
		}
		var se *stateError
		if !errors.As(err, &se) {
			return nil, "", err // aborted
		}
		if i := firstMatch(s.Retry, se.name); i >= 0 && counts[i] < s.Retry[i].MaxAttempts {
			r := s.Retry[i]
			delay := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(counts[i]))
			if r.MaxDelaySeconds > 0 && delay > r.MaxDelaySeconds {
				delay = r.MaxDelaySeconds
			}
			if r.JitterFull {
				delay *= x.draw(env.st, x.eng.random)
			}
			counts[i]++
			wait := time.Duration(delay * float64(time.Second))
			if x.journal == nil {
				if err := x.eng.clock.Sleep(ctx, wait); err != nil {
					return nil, "", errAborted
				}
				continue
			}
			due := x.recordedTime(fmt.Sprintf("retry:%s@%d", env.st.key, attempt), func() time.Time { return x.eng.clock.Now().Add(wait) })
			if err := x.sleepUntil(ctx, due); err != nil {
				return nil, "", errAborted
			}
			continue
		}
		for _, c := range s.Catch {
			if matches(c.ErrorEquals, se.name) {
				out, err := applyResultPath(c.ResultPath, rawInput, map[string]any{"Error": se.name, "Cause": se.cause})
				return out, c.Next, err
			}
		}
		return nil, "", se
	}
}

// firstMatch returns the index of the first retrier matching name, or -1.
// Only the first match counts: when its attempts are spent, later retriers
// are not tried (states-language.net, "Retrying after error").
func firstMatch(rs []*Retrier, name string) int {
	for i, r := range rs {
		if matches(r.ErrorEquals, name) {
			return i
		}
	}
	return -1
}

// track and untrack tell a VirtualClock which goroutines work.
func track(c Clock) {
	if t, ok := c.(tracker); ok {
		t.track()
	}
}

func untrack(c Clock) {
	if t, ok := c.(tracker); ok {
		t.untrack()
	}
}

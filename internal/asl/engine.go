package asl

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
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

	// context object parts that do not change during the execution
	execCtx, smCtx map[string]any
	arn            string

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	events   []Event
	result   *Result
	stopErr  *stateError // set by Stop: the execution was aborted
	timeout  bool
	overflow bool // the history reached MaxHistoryEvents
}

// Start begins an execution; Wait collects its result.
func (e *Engine) Start(ctx context.Context, def *Definition, input json.RawMessage, opts ExecutionOptions) *Execution {
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
	x := &Execution{eng: e, def: def, start: e.clock.Now(), arn: opts.ARN, done: make(chan struct{})}
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	x.execCtx = map[string]any{
		"Id": opts.ARN, "Name": opts.Name, "RoleArn": opts.RoleARN,
		"StartTime": isoMillis(x.start), "RedriveCount": float64(0),
	}
	x.smCtx = map[string]any{"Id": opts.StateMachineARN, "Name": opts.StateMachineName}
	top := &branch{x: x}
	var bad *stateError
	if len(input) > MaxPayload {
		bad = &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The input size %d exceeds the maximum of %d bytes", len(input), MaxPayload)}
	} else if err := json.Unmarshal(input, &x.input); err != nil {
		bad = runtimeErr("The execution input is not valid JSON")
	}
	x.execCtx["Input"] = x.input
	top.emit("ExecutionStarted", "executionStartedEventDetails", map[string]any{
		"input": jsonText{x.input}, "inputDetails": map[string]any{"truncated": false}, "roleArn": opts.RoleARN,
	})
	ctx, x.cancel = context.WithCancel(context.WithoutCancel(ctx))
	track(e.clock)
	go func() {
		defer untrack(e.clock)
		defer close(x.done)
		defer x.cancel()
		if bad != nil {
			x.finish(top, nil, bad)
			return
		}
		if def.TimeoutSeconds > 0 {
			stop := x.watchTimeout(ctx, time.Duration(def.TimeoutSeconds)*time.Second)
			defer stop()
		}
		out, err := x.runMachine(ctx, &machine{StartAt: def.StartAt, States: def.States}, x.input, top)
		x.finish(top, out, err)
	}()
	return x
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
	stop, timedOut, overflow := x.stopErr, x.timeout, x.overflow
	x.mu.Unlock()
	res := &Result{}
	var se *stateError
	if overflow {
		err = runtimeErr("The execution reached the maximum number of history events (%d)", MaxHistoryEvents)
	}
	switch {
	case stop != nil:
		res.Status, res.Error, res.Cause = StatusAborted, stop.name, stop.cause
		top.emit("ExecutionAborted", "executionAbortedEventDetails", map[string]any{"error": stop.name, "cause": stop.cause})
	case timedOut:
		res.Status, res.Error, res.Cause = StatusTimedOut, ErrTimeout, "The execution exceeded its TimeoutSeconds"
		top.emit("ExecutionTimedOut", "executionTimedOutEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
	case errors.As(err, &se):
		res.Status, res.Error, res.Cause = StatusFailed, se.name, se.cause
		top.emit("ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": se.name, "cause": se.cause})
	case err != nil:
		res.Status, res.Error, res.Cause = StatusFailed, ErrRuntime, err.Error()
		top.emit("ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
	default:
		b, mErr := json.Marshal(out)
		if mErr != nil || len(b) > MaxPayload {
			res.Status, res.Error, res.Cause = StatusFailed, ErrDataLimitExceeded, "The execution output exceeds the maximum size"
			top.emit("ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
			break
		}
		res.Status, res.Output = StatusSucceeded, b
		top.emit("ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{
			"output": jsonText{out}, "outputDetails": map[string]any{"truncated": false}})
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

// Done is closed when the execution has ended.
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
}

func (b *branch) emit(typ, key string, details map[string]any) {
	x := b.x
	x.mu.Lock()
	id := int64(len(x.events) + 1)
	x.events = append(x.events, Event{ID: id, PreviousEventID: b.last, Timestamp: x.eng.clock.Now(), Type: typ, DetailsKey: key, Details: details})
	full := len(x.events) >= MaxHistoryEvents && !x.overflow && x.result == nil
	if full {
		x.overflow = true
	}
	x.mu.Unlock()
	b.last = id
	if full {
		x.cancel() // every branch stops; finish reports the failure
	}
}

func (b *branch) child() *branch { return &branch{x: b.x, last: b.last} }

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
}

func (x *Execution) contextObject(st *stateRun) any {
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
	st := &stateRun{name: s.Name, entered: x.eng.clock.Now()}
	b.emit(s.Type+"StateEntered", "stateEnteredEventDetails", map[string]any{
		"name": s.Name, "input": jsonText{rawInput}, "inputDetails": map[string]any{"truncated": false}})
	if s.Type == "Fail" {
		return nil, "", x.fail(s, rawInput, st)
	}
	env := &evalEnv{input: rawInput, x: x, st: st}
	eff, err := applyPath(s.InputPath, env, "InputPath")
	if err != nil {
		return nil, "", err
	}
	env = &evalEnv{input: eff, x: x, st: st}
	next := s.Next
	var out any
	switch s.Type {
	case "Pass":
		result := eff
		if s.hasResult {
			result = s.Result
		} else if s.Parameters != nil {
			if result, err = s.Parameters.eval(env); err != nil {
				return nil, "", err
			}
		}
		out, err = x.finishData(s, rawInput, result, st)
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
		var caught string
		out, caught, err = x.withRetry(ctx, s, rawInput, st, b, func(attempt int) (any, error) {
			st.retries = attempt
			env := &evalEnv{input: eff, x: x, st: st}
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
	b.emit(s.Type+"StateExited", "stateExitedEventDetails", map[string]any{
		"name": s.Name, "output": jsonText{out}, "outputDetails": map[string]any{"truncated": false}})
	return out, next, nil
}

// finishData applies ResultPath and OutputPath to a state's result.
func (x *Execution) finishData(s *State, rawInput, result any, st *stateRun) (any, error) {
	combined, err := applyResultPath(s.ResultPath, rawInput, result)
	if err != nil {
		return nil, err
	}
	return applyPath(s.OutputPath, &evalEnv{input: combined, x: x, st: st}, "OutputPath")
}

func (x *Execution) fail(s *State, rawInput any, st *stateRun) error {
	se := &stateError{name: s.Error, cause: s.Cause}
	env := &evalEnv{input: rawInput, x: x, st: st}
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
	now := x.eng.clock.Now()
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
	if d := until.Sub(now); d > 0 {
		if err := x.eng.clock.Sleep(ctx, d); err != nil {
			return errAborted
		}
	}
	return nil
}

// withRetry runs a Task, Parallel or Map state's work with its Retry and
// Catch fields. It returns the state's output, or the Next of the catcher
// that handled the error.
func (x *Execution) withRetry(ctx context.Context, s *State, rawInput any, st *stateRun, b *branch, work func(attempt int) (any, error)) (any, string, error) {
	counts := make([]int, len(s.Retry))
	for attempt := 0; ; attempt++ {
		result, err := work(attempt)
		if err == nil {
			if s.ResultSelector != nil {
				if result, err = s.ResultSelector.eval(&evalEnv{input: result, x: x, st: st}); err != nil {
					return nil, "", err
				}
			}
			out, err := x.finishData(s, rawInput, result, st)
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
				delay *= x.eng.random()
			}
			counts[i]++
			if err := x.eng.clock.Sleep(ctx, time.Duration(delay*float64(time.Second))); err != nil {
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

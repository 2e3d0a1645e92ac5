package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotorhq/rotor/internal/awsarn"
)

// task runs a Task state's resource once.
func (x *Execution) task(ctx context.Context, s *State, env *evalEnv, b *branch, attempt int) (any, error) {
	input := env.input
	if s.Parameters != nil {
		var err error
		if input, err = s.Parameters.eval(env); err != nil {
			return nil, err
		}
	}
	// Without Parameters the input is part of the state's raw input, which
	// was checked as the previous state's output.
	if s.Parameters != nil {
		if err := checkSize(input, "The input of state '%s' after Parameters", s.Name); err != nil {
			return nil, err
		}
	}
	timeout := time.Duration(s.TimeoutSeconds) * time.Second
	if s.TimeoutSecondsPath != nil {
		v, ok := s.TimeoutSecondsPath.get(env)
		n, isNum := v.(float64)
		if !ok || !isNum || n < 1 || n != math.Trunc(n) || n > 99999999 {
			return nil, runtimeErr("The TimeoutSecondsPath parameter does not reference a positive integer: %s", s.TimeoutSecondsPath.raw)
		}
		timeout = time.Duration(n) * time.Second
	}
	ev := s.events
	b.add(Event{Type: ev.scheduled, DetailsKey: ev.scheduledKey, kind: kindTaskScheduled, task: ev, data: input, n: int64(timeout / time.Second)})
	b.add(Event{Type: ev.started, DetailsKey: ev.startedKey, kind: kindTaskStarted, task: ev})

	if x.eng.tasks == nil {
		return nil, x.taskFailed(b, ev, &stateError{name: ErrTaskFailed, cause: "no task runner is configured"})
	}
	call := &taskCall{job: taskJob{x: x, b: b, ev: ev, st: env.st, attempt: attempt}}
	job, req := &call.job, &call.req
	*req = TaskRequest{Resource: s.Resource, State: s.Name, Attempt: attempt, Execution: x.arn, job: job}
	var result any
	var err error
	if x.journal != nil {
		result, err = x.journaledTask(env.st, attempt, func() (any, error) { return x.callTask(ctx, req, input, timeout) })
	} else {
		result, err = x.callTask(ctx, req, input, timeout)
	}
	// A runner still going after a timeout must not add events or draw
	// numbers any more: this goroutine goes on with the state.
	job.end()
	if err != nil {
		if errors.Is(err, errAborted) {
			return nil, err
		}
		var tf *TaskFailure
		se := &stateError{name: ErrTaskFailed, cause: err.Error()}
		switch {
		case errors.As(err, &tf):
			se = &stateError{name: tf.Name, cause: tf.Cause}
		case errors.Is(err, errTaskTimeout):
			se = &stateError{name: ErrTimeout, cause: fmt.Sprintf("The task did not finish within %s", timeout)}
			b.add(Event{Type: ev.timedOut, DetailsKey: ev.timedOutKey, kind: kindTaskFailed, task: ev, errName: se.name, str: se.cause})
			return nil, se
		}
		return nil, x.taskFailed(b, ev, se)
	}
	if err := checkSize(result, "The result of task '%s'", s.Name); err != nil {
		return nil, err
	}
	b.add(Event{Type: ev.succeeded, DetailsKey: ev.succeededKey, kind: kindTaskSucceeded, task: ev, data: result})
	return result, nil
}

func (x *Execution) taskFailed(b *branch, ev *taskEvent, se *stateError) error {
	b.add(Event{Type: ev.failed, DetailsKey: ev.failedKey, kind: kindTaskFailed, task: ev, errName: se.name, str: se.cause})
	return se
}

var errTaskTimeout = errors.New("task timed out")

// taskCall holds a task attempt's request and job in one allocation.
type taskCall struct {
	req TaskRequest
	job taskJob
}

// taskJob is what the engine lends a service integration for one task
// attempt: the run-a-job integrations (.sync) record what starting their
// job answered, and wait for it without holding a virtual clock still.
type taskJob struct {
	x       *Execution
	b       *branch
	ev      *taskEvent
	st      *stateRun
	attempt int

	mu    sync.Mutex
	ended bool // the task returned (or timed out): nothing more is recorded
}

func (j *taskJob) end() {
	j.mu.Lock()
	j.ended = true
	j.mu.Unlock()
}

// submit returns what starting a job answered, running start unless a
// resumed execution recorded it before, and records TaskSubmitted with it
// (Step Functions' event between TaskStarted and the task's end for the
// run-a-job pattern). In a journaled execution the answer is stored before
// the event, so that once a job is known to have started, a restart waits
// for that job instead of starting another.
func (r *TaskRequest) submit(start func() (any, error)) (any, error) {
	j := r.job
	if j == nil {
		return start()
	}
	x := j.x
	var out any
	if x.journal == nil {
		var err error
		if out, err = start(); err != nil {
			return nil, err
		}
	} else {
		key := "submit:" + j.st.key + "@" + strconv.Itoa(j.attempt)
		v, err := x.effect(key, func() ([]byte, error) {
			o, err := start()
			if err != nil {
				return nil, err
			}
			return json.Marshal(o)
		})
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(v, &out); err != nil {
			return nil, fmt.Errorf("journal entry %s: %w", key, err)
		}
	}
	j.mu.Lock()
	if !j.ended {
		j.b.add(Event{Type: "TaskSubmitted", DetailsKey: "taskSubmittedEventDetails", kind: kindTaskSubmitted, task: j.ev, data: out})
	}
	j.mu.Unlock()
	return out, nil
}

// blocking runs wait, which blocks until another execution (or anything
// outside this one) acts, with the calling goroutine counted idle on a
// VirtualClock: otherwise virtual time would stand still for the execution
// being waited for. The clock may move on between that execution ending
// and this goroutine counting as busy again.
func (r *TaskRequest) blocking(wait func()) {
	if r.job == nil {
		wait()
		return
	}
	c := r.job.x.eng.clock
	untrack(c)
	defer track(c)
	wait()
}

// stableName returns a UUID drawn for this attempt (journaled, so the same
// after a restart), or "" outside an execution or once the task has ended.
func (r *TaskRequest) stableName() string {
	j := r.job
	if j == nil {
		return ""
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ended {
		return ""
	}
	return j.x.drawUUID(j.st)
}

type taskResult struct {
	out any
	err error
}

// invoke calls the task runner with a value, through RunTaskValue when the
// runner takes values and through JSON otherwise.
func (x *Execution) invoke(ctx context.Context, req *TaskRequest, input any) (any, error) {
	if vr, ok := x.eng.tasks.(ValueRunner); ok {
		return vr.RunTaskValue(ctx, req, input)
	}
	payload, err := json.Marshal(input)
	if err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "cannot encode the task input"}
	}
	req.Input = payload
	out, err := x.eng.tasks.RunTask(ctx, req)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, &TaskFailure{Name: ErrRuntime, Cause: "The task result is not valid JSON"}
	}
	return v, nil
}

// callTask runs the task, racing it against its timeout on the engine's
// clock. Without a timeout it runs on the caller's goroutine.
func (x *Execution) callTask(ctx context.Context, req *TaskRequest, input any, timeout time.Duration) (any, error) {
	if timeout <= 0 {
		out, err := x.invoke(ctx, req, input)
		if err != nil && ctx.Err() != nil {
			return nil, errAborted
		}
		return out, err
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clock := x.eng.clock
	// The task and its timer race on goroutines the clock tracks; this one
	// waits untracked. The winner hands its tracking to this goroutine (so
	// the clock cannot jump between the winner stopping and this one going
	// on); the loser untracks itself when it ends.
	res := make(chan taskResult, 1)
	var won atomic.Bool
	deliver := func(r taskResult) {
		if won.CompareAndSwap(false, true) {
			res <- r
		} else {
			untrack(clock)
		}
	}
	track(clock)
	go func() {
		out, err := x.invoke(tctx, req, input)
		deliver(taskResult{out, err})
	}()
	track(clock)
	go func() {
		if clock.Sleep(tctx, timeout) == nil {
			deliver(taskResult{err: errTaskTimeout})
		} else {
			untrack(clock)
		}
	}()
	untrack(clock)
	select {
	case r := <-res:
		return r.out, r.err
	case <-ctx.Done():
		if won.CompareAndSwap(false, true) {
			track(clock)
		} else {
			<-res // a racer won just now: take over its tracking
		}
		return nil, errAborted
	}
}

// taskEvent names a resource's history events: Lambda function ARNs get
// LambdaFunction* events, service integrations Task* events. Built once per
// state at parse time.
type taskEvent struct {
	lambda                         bool
	resourceType, resource, region string

	scheduled, started, succeeded, failed, timedOut                string
	scheduledKey, startedKey, succeededKey, failedKey, timedOutKey string
}

func taskEvents(resource string) *taskEvent {
	ev := &taskEvent{resourceType: "unknown", resource: resource}
	prefix, keyPrefix := "Task", "task"
	if awsarn.IsFunctionARN(resource) {
		ev.lambda, prefix, keyPrefix = true, "LambdaFunction", "lambdaFunction"
	} else if parts := strings.SplitN(resource, ":", 7); len(parts) >= 7 && parts[2] == "states" {
		// arn:aws:states:REGION::SERVICE:ACTION[.waitForTaskToken]
		ev.region, ev.resourceType, ev.resource = parts[3], parts[5], parts[6]
		if ev.region == "" {
			ev.region = "us-east-1"
		}
	}
	for _, f := range []struct {
		name, key *string
		what      string
	}{
		{&ev.scheduled, &ev.scheduledKey, "Scheduled"}, {&ev.started, &ev.startedKey, "Started"},
		{&ev.succeeded, &ev.succeededKey, "Succeeded"}, {&ev.failed, &ev.failedKey, "Failed"},
		{&ev.timedOut, &ev.timedOutKey, "TimedOut"},
	} {
		*f.name, *f.key = prefix+f.what, keyPrefix+f.what+"EventDetails"
	}
	return ev
}

func (ev *taskEvent) ids() map[string]any {
	if ev.lambda {
		return map[string]any{}
	}
	return map[string]any{"resourceType": ev.resourceType, "resource": ev.resource}
}

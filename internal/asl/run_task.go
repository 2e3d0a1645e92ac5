package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
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
	if n := jsonSize(input); n > MaxPayload {
		return nil, &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The state input after Parameters is %d bytes, over the %d-byte limit", n, MaxPayload)}
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
	req := &TaskRequest{Resource: s.Resource, State: s.Name, Attempt: attempt, Execution: x.arn}
	var result any
	var err error
	if x.journal != nil {
		result, err = x.journaledTask(env.st, attempt, func() (any, error) { return x.callTask(ctx, req, input, timeout) })
	} else {
		result, err = x.callTask(ctx, req, input, timeout)
	}
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
	if n := jsonSize(result); n > MaxPayload {
		return nil, &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The task result is %d bytes, over the %d-byte limit", n, MaxPayload)}
	}
	b.add(Event{Type: ev.succeeded, DetailsKey: ev.succeededKey, kind: kindTaskSucceeded, task: ev, data: result})
	return result, nil
}

func (x *Execution) taskFailed(b *branch, ev *taskEvent, se *stateError) error {
	b.add(Event{Type: ev.failed, DetailsKey: ev.failedKey, kind: kindTaskFailed, task: ev, errName: se.name, str: se.cause})
	return se
}

var errTaskTimeout = errors.New("task timed out")

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

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
	payload, err := json.Marshal(input)
	if err != nil {
		return nil, runtimeErr("cannot encode the task input: %v", err)
	}
	if len(payload) > MaxPayload {
		return nil, &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The state input after Parameters is %d bytes, over the %d-byte limit", len(payload), MaxPayload)}
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
	ev := taskEvents(s.Resource)
	sched := map[string]any{"resource": s.Resource}
	if ev.lambda {
		sched["input"] = string(payload)
		sched["inputDetails"] = map[string]any{"truncated": false}
	} else {
		sched["resourceType"], sched["resource"] = ev.resourceType, ev.resource
		sched["region"] = ev.region
		sched["parameters"] = string(payload)
	}
	if timeout > 0 {
		sched["timeoutInSeconds"] = int64(timeout / time.Second)
	}
	b.emit(ev.prefix+"Scheduled", ev.key("Scheduled"), sched)
	b.emit(ev.prefix+"Started", ev.key("Started"), ev.ids())

	if x.eng.tasks == nil {
		return nil, x.taskFailed(b, ev, &stateError{name: ErrTaskFailed, cause: "no task runner is configured"})
	}
	req := &TaskRequest{Resource: s.Resource, Input: payload, State: s.Name, Attempt: attempt, Execution: x.arn}
	out, err := x.callTask(ctx, req, timeout)
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
			d := ev.ids()
			d["error"], d["cause"] = se.name, se.cause
			b.emit(ev.prefix+"TimedOut", ev.key("TimedOut"), d)
			return nil, se
		}
		return nil, x.taskFailed(b, ev, se)
	}
	if len(out) > MaxPayload {
		return nil, &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf("The task result is %d bytes, over the %d-byte limit", len(out), MaxPayload)}
	}
	var result any
	if len(out) > 0 {
		if err := json.Unmarshal(out, &result); err != nil {
			return nil, x.taskFailed(b, ev, &stateError{name: ErrRuntime, cause: "The task result is not valid JSON"})
		}
	}
	d := ev.ids()
	d["output"] = string(out)
	d["outputDetails"] = map[string]any{"truncated": false}
	b.emit(ev.prefix+"Succeeded", ev.key("Succeeded"), d)
	return result, nil
}

func (x *Execution) taskFailed(b *branch, ev taskEvent, se *stateError) error {
	d := ev.ids()
	d["error"], d["cause"] = se.name, se.cause
	b.emit(ev.prefix+"Failed", ev.key("Failed"), d)
	return se
}

var errTaskTimeout = errors.New("task timed out")

type taskResult struct {
	out json.RawMessage
	err error
}

// callTask runs the task, racing it against its timeout on the engine's
// clock. Without a timeout it runs on the caller's goroutine.
func (x *Execution) callTask(ctx context.Context, req *TaskRequest, timeout time.Duration) (json.RawMessage, error) {
	if timeout <= 0 {
		out, err := x.eng.tasks.RunTask(ctx, req)
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
		out, err := x.eng.tasks.RunTask(tctx, req)
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
// LambdaFunction* events, service integrations Task* events.
type taskEvent struct {
	lambda                         bool
	prefix                         string
	resourceType, resource, region string
}

func taskEvents(resource string) taskEvent {
	if isFunctionARN(resource) {
		return taskEvent{lambda: true, prefix: "LambdaFunction"}
	}
	ev := taskEvent{prefix: "Task", resourceType: "unknown", resource: resource}
	// arn:aws:states:REGION::SERVICE:ACTION[.waitForTaskToken]
	parts := strings.SplitN(resource, ":", 7)
	if len(parts) >= 7 && parts[2] == "states" {
		ev.region, ev.resourceType, ev.resource = parts[3], parts[5], parts[6]
		if ev.region == "" {
			ev.region = "us-east-1"
		}
	}
	return ev
}

func (ev taskEvent) key(what string) string {
	if ev.lambda {
		return "lambdaFunction" + what + "EventDetails"
	}
	return "task" + what + "EventDetails"
}

func (ev taskEvent) ids() map[string]any {
	if ev.lambda {
		return map[string]any{}
	}
	return map[string]any{"resourceType": ev.resourceType, "resource": ev.resource}
}

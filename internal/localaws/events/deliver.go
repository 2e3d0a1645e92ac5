package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/eventpattern"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// route is one delivery to make.
type route struct {
	rule   *ebRule
	target ebTarget
}

// dispatch matches an event against the enabled rules of its bus and
// delivers it to their targets in the background.
func (e *Service) dispatch(ev *ebEvent, bus string, ingested time.Time) {
	raw, err := json.Marshal(ev)
	if err != nil {
		e.env.Log.Error("events: encoding an event", "error", err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		e.env.Log.Error("events: decoding an event", "error", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	var routes []route
	for _, r := range e.rules {
		if r.Bus != bus || r.State == ebtypes.RuleStateDisabled || !r.pattern.MatchValue(decoded) {
			continue
		}
		for _, t := range r.Targets {
			routes = append(routes, route{r, t})
		}
	}
	if len(routes) > 0 && e.pending == 0 {
		e.idle = make(chan struct{})
	}
	e.pending += len(routes)
	e.wg.Add(len(routes))
	for _, rt := range routes {
		go e.deliver(ev.ID, raw, rt, ingested)
	}
}

// deliver delivers one event to one target, retrying, and records how it
// went.
func (e *Service) deliver(eventID string, raw []byte, rt route, ingested time.Time) {
	defer e.wg.Done()
	d := Delivery{EventID: eventID, EventBus: rt.rule.Bus, Rule: rt.rule.Name, RuleARN: rt.rule.ARN, TargetID: rt.target.ID, TargetARN: rt.target.ARN}
	input, err := rt.target.transform.Apply(raw, eventpattern.Meta{RuleName: rt.rule.Name, RuleARN: rt.rule.ARN, IngestionTime: ingested})
	if err != nil {
		d.Error = "transforming the input: " + err.Error()
	} else {
		d.Input = string(input)
		retries := e.retries
		if rt.target.MaxRetries != nil {
			retries = int(*rt.target.MaxRetries)
		}
		retries = min(retries, maxLocalRetries)
		delay := e.retryBase
		for {
			d.Attempts++
			d.Result, err = e.send(rt, eventID, input)
			var pe *permanentError
			if err == nil || errors.As(err, &pe) || d.Attempts > retries {
				break
			}
			e.env.Log.Debug("events: delivery failed, retrying", "event", eventID, "rule", rt.rule.ARN, "target", rt.target.ID, "error", err)
			select {
			case <-time.After(delay):
			case <-e.ctx.Done():
			}
			if e.ctx.Err() != nil {
				err = fmt.Errorf("%w (the endpoint is shutting down)", err)
				break
			}
			delay = min(2*delay, e.retryMax)
		}
		if err != nil {
			d.Error = err.Error()
		}
	}
	if d.Failed() {
		e.env.Log.Warn("events: delivery failed", "event", eventID, "rule", rt.rule.ARN, "target", rt.target.ID, "attempts", d.Attempts, "error", d.Error)
	}
	d.Time = e.env.Now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = append(e.done, d)
	if len(e.done) > maxDeliveries {
		e.done = slices.Delete(e.done, 0, len(e.done)-maxDeliveries)
	}
	if e.pending--; e.pending == 0 {
		close(e.idle)
	}
}

// permanentError is a delivery failure retrying cannot mend: a target that
// does not exist, an input it refuses.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks a delivery failure that retrying cannot mend: a target
// that does not exist, an input it refuses.
func Permanent(err error) error { return &permanentError{err} }

// send makes one delivery attempt.
func (e *Service) send(rt route, eventID string, input []byte) (string, error) {
	switch {
	case sfnTargetRE.MatchString(rt.target.ARN):
		if e.targets.StartExecution == nil {
			return "", &permanentError{errors.New("no Step Functions service to start " + rt.target.ARN)}
		}
		// Named after what is delivered, so that a retry after a lost
		// answer finds the execution already started.
		name := uuid.NewSHA1(uuid.NameSpaceURL, []byte(eventID+"\x00"+rt.rule.ARN+"\x00"+rt.target.ID)).String()
		// EventBridge starts it as the target's role.
		ctx := wire.WithActing(e.ctx, wire.Acting{RoleARN: rt.target.RoleARN, Session: wire.SessionName(eventID + "\x00" + rt.target.ID)})
		return e.targets.StartExecution(ctx, rt.target.ARN, name, string(input))
	default:
		if e.targets.Invoke == nil {
			return "", &permanentError{errors.New("no Lambda service to invoke " + rt.target.ARN)}
		}
		return e.targets.Invoke(e.ctx, rt.target.ARN, input)
	}
}

// Deliveries returns the deliveries that ended (the last 1000), oldest
// first.
func (e *Service) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.done)
}

// Failures returns the deliveries that failed, oldest first.
func (e *Service) Failures() []Delivery {
	return slices.DeleteFunc(e.Deliveries(), func(d Delivery) bool { return !d.Failed() })
}

// Wait blocks until no delivery is in flight (or ctx ends): after
// PutEvents, its events have then reached their targets or failed.
func (e *Service) Wait(ctx context.Context) error {
	for {
		e.mu.Lock()
		if e.pending == 0 {
			e.mu.Unlock()
			return nil
		}
		idle := e.idle
		e.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops retrying and waits for deliveries in flight; later events are
// accepted and not delivered.
func (e *Service) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return nil
}

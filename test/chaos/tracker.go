package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Origins of executions.
const (
	originSetup  = "setup"
	originManual = "manual"
	originAlert  = "alert"
	originFinal  = "final"
	originOther  = "other"
)

// execRecord is what the tracker knows of one execution.
type execRecord struct {
	arn, name string
	secret    int // index, -1 when not known
	origin    string
	marker    string
	status    string
	// startedAt is when the harness started it (or posted its alert), by
	// the harness's clock; endedAt when the tracker first saw it ended.
	startedAt, endedAt time.Time
	described          bool
}

// tracker follows every execution of the state machine, those the harness
// started and those leak alerts started, by polling ListExecutions; a
// leak execution is matched to its alert by the marker in its input.
type tracker struct {
	h *harness

	mu      sync.Mutex
	execs   map[string]*execRecord
	markers map[string]markerInfo // marker -> alert
	byMark  map[string][]string   // marker -> execution ARNs
	polls   int
}

type markerInfo struct {
	secret int
	at     time.Time
}

func newTracker(h *harness) *tracker {
	return &tracker{h: h, execs: map[string]*execRecord{}, markers: map[string]markerInfo{}, byMark: map[string][]string{}}
}

// own records an execution the harness started.
func (t *tracker) own(arn string, secret int, origin string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.record(arn)
	r.secret, r.origin, r.startedAt = secret, origin, at
}

// expect records an alert about to be sent.
func (t *tracker) expect(marker string, secret int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.markers[marker] = markerInfo{secret: secret, at: time.Now()}
}

func (t *tracker) record(arn string) *execRecord {
	r, ok := t.execs[arn]
	if !ok {
		r = &execRecord{arn: arn, name: arn[strings.LastIndex(arn, ":")+1:], secret: -1, origin: originOther, status: "RUNNING"}
		t.execs[arn] = r
	}
	return r
}

// run polls until ctx ends.
func (t *tracker) run(ctx context.Context) {
	for ctx.Err() == nil {
		t.poll(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// poll lists every execution once; errors (a restart) wait for the next.
func (t *tracker) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var next *string
	type seen struct{ arn, status string }
	var all []seen
	for {
		out, err := t.h.sfn.ListExecutions(pctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(t.h.machineARN),
			MaxResults: 1000, NextToken: next}, func(o *sfn.Options) { o.RetryMaxAttempts = 1 })
		if err != nil {
			return
		}
		for _, e := range out.Executions {
			all = append(all, seen{aws.ToString(e.ExecutionArn), string(e.Status)})
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	now := time.Now()
	var undescribed []string
	t.mu.Lock()
	for _, e := range all {
		r := t.record(e.arn)
		if r.status == "RUNNING" && e.status != "RUNNING" {
			r.endedAt = now
		}
		r.status = e.status
		if !r.described && r.origin == originOther {
			undescribed = append(undescribed, e.arn)
		}
	}
	t.polls++
	t.mu.Unlock()
	for _, arn := range undescribed {
		d, err := t.h.sfn.DescribeExecution(pctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return
		}
		input := aws.ToString(d.Input)
		t.mu.Lock()
		r := t.execs[arn]
		r.described = true
		for m, info := range t.markers {
			if strings.Contains(input, m) {
				r.marker, r.secret, r.origin, r.startedAt = m, info.secret, originAlert, info.at
				t.byMark[m] = append(t.byMark[m], arn)
			}
		}
		t.mu.Unlock()
	}
}

// waitPolls waits until the tracker has polled n more times.
func (t *tracker) waitPolls(ctx context.Context, n int, until time.Time) {
	t.mu.Lock()
	target := t.polls + n
	t.mu.Unlock()
	for time.Now().Before(until) && ctx.Err() == nil {
		t.mu.Lock()
		done := t.polls >= target
		t.mu.Unlock()
		if done {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMarker waits until an execution carrying the marker is known.
func (t *tracker) waitMarker(ctx context.Context, marker string, until time.Time) bool {
	for time.Now().Before(until) && ctx.Err() == nil {
		if len(t.markerARNs([]string{marker})) > 0 {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

func (t *tracker) markerARNs(markers []string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, m := range markers {
		out = append(out, t.byMark[m]...)
	}
	return out
}

// waitEnded waits until every execution in arns has ended, as seen by a
// poll after the call began; false at the deadline.
func (t *tracker) waitEnded(ctx context.Context, arns []string, until time.Time) bool {
	t.waitPolls(ctx, 1, until)
	for time.Now().Before(until) && ctx.Err() == nil {
		if t.allEnded(arns) {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return t.allEnded(arns)
}

func (t *tracker) allEnded(arns []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range arns {
		if r, ok := t.execs[a]; !ok || r.status == "RUNNING" {
			return false
		}
	}
	return true
}

func (t *tracker) status(arn string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.execs[arn]; ok {
		return r.status
	}
	return "UNKNOWN"
}

func (t *tracker) secretOf(arn string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.execs[arn]; ok {
		return r.secret
	}
	return -1
}

func (t *tracker) startedAt(arn string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.execs[arn]; ok {
		return r.startedAt
	}
	return time.Time{}
}

// running lists the executions still running.
func (t *tracker) running() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for a, r := range t.execs {
		if r.status == "RUNNING" {
			out = append(out, a)
		}
	}
	return out
}

// snapshot copies every record.
func (t *tracker) snapshot() []execRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]execRecord, 0, len(t.execs))
	for _, r := range t.execs {
		out = append(out, *r)
	}
	return out
}

// describeState names an execution and the state it is in, for reports.
func (t *tracker) describeState(ctx context.Context, arn string) string {
	events, err := t.h.history(ctx, arn)
	if err != nil {
		return fmt.Sprintf("%s (history: %v)", arn[strings.LastIndex(arn, ":")+1:], err)
	}
	state := ""
	for _, e := range events {
		if e.StateEnteredEventDetails != nil {
			state = aws.ToString(e.StateEnteredEventDetails.Name)
		}
	}
	b, _ := json.Marshal(state)
	return fmt.Sprintf("%s in state %s", arn[strings.LastIndex(arn, ":")+1:], b)
}

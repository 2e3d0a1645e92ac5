package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// step is one state an execution went through.
type step struct {
	Name      string        `json:"name"`
	Iteration *int          `json:"iteration,omitempty"` // Map iteration index
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"-"`
	Millis    int64         `json:"durationMs"`
	Status    string        `json:"status"` // running, done, failed
	Error     string        `json:"error,omitempty"`
	entered   int64
}

// timeline follows an execution's history and turns it into steps.
type timeline struct {
	arn     string
	start   time.Time
	steps   []*step
	byEvent map[int64]*step
	iter    map[int64]int // event id -> Map iteration index, along each branch
	prev    map[int64]int64
	seen    int64
	status  types.ExecutionStatus
	err     string
	cause   string
	stopped time.Time
	// children are the executions this one started (startExecution tasks),
	// in the order their starts succeeded.
	children []string
	output   string
}

func newTimeline(arn string) *timeline {
	return &timeline{arn: arn, byEvent: map[int64]*step{}, iter: map[int64]int{}, prev: map[int64]int64{}}
}

// fetch reads the events not read yet and the execution's status. It
// returns the steps that finished since the last call.
func (t *timeline) fetch(ctx context.Context, client *sfn.Client) ([]*step, error) {
	// Status first, history second: when the status says the execution
	// ended, the history read after it is complete.
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(t.arn)})
	if err != nil {
		return nil, err
	}
	var finished []*step
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(t.arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			if e.Id <= t.seen {
				continue
			}
			t.seen = e.Id
			if s := t.add(e); s != nil {
				finished = append(finished, s)
			}
		}
	}
	t.status, t.err, t.cause = d.Status, aws.ToString(d.Error), aws.ToString(d.Cause)
	t.output = aws.ToString(d.Output)
	t.start = aws.ToTime(d.StartDate)
	t.stopped = aws.ToTime(d.StopDate)
	return finished, nil
}

// add files one event; it returns the step it finished, if any.
func (t *timeline) add(e types.HistoryEvent) *step {
	at := aws.ToTime(e.Timestamp)
	t.prev[e.Id] = e.PreviousEventId
	t.child(e)
	if it, ok := t.iter[e.PreviousEventId]; ok {
		t.iter[e.Id] = it
	}
	if d := e.MapIterationStartedEventDetails; d != nil {
		t.iter[e.Id] = int(d.Index)
	}
	if d := e.StateEnteredEventDetails; d != nil {
		s := &step{Name: aws.ToString(d.Name), Start: at, Status: "running", entered: e.Id}
		if it, ok := t.iter[e.Id]; ok {
			s.Iteration = &it
		}
		t.steps = append(t.steps, s)
		t.byEvent[e.Id] = s
		return nil
	}
	s := t.open(e.PreviousEventId)
	if s == nil {
		return nil
	}
	t.byEvent[e.Id] = s
	switch {
	case e.StateExitedEventDetails != nil:
		s.Status = "done"
	case e.LambdaFunctionFailedEventDetails != nil:
		s.Error = aws.ToString(e.LambdaFunctionFailedEventDetails.Error)
		return nil
	case e.TaskFailedEventDetails != nil:
		s.Error = aws.ToString(e.TaskFailedEventDetails.Error)
		return nil
	case e.ExecutionFailedEventDetails != nil, e.ExecutionAbortedEventDetails != nil, e.ExecutionTimedOutEventDetails != nil:
		s.Status = "failed"
	default:
		return nil
	}
	s.Duration = at.Sub(s.Start)
	s.Millis = s.Duration.Milliseconds()
	return s
}

// child records the execution a startExecution task started: its ARN is
// in the task's submitted (.sync) or succeeded (fire-and-forget) output.
func (t *timeline) child(e types.HistoryEvent) {
	var resource, output string
	switch {
	case e.TaskSubmittedEventDetails != nil:
		resource, output = aws.ToString(e.TaskSubmittedEventDetails.Resource), aws.ToString(e.TaskSubmittedEventDetails.Output)
	case e.TaskSucceededEventDetails != nil && aws.ToString(e.TaskSucceededEventDetails.ResourceType) == "states":
		resource, output = aws.ToString(e.TaskSucceededEventDetails.Resource), aws.ToString(e.TaskSucceededEventDetails.Output)
		if strings.HasPrefix(resource, "startExecution.sync") {
			return // recorded when it was submitted
		}
	default:
		return
	}
	if !strings.HasPrefix(resource, "startExecution") {
		return
	}
	var out struct{ ExecutionArn string }
	if json.Unmarshal([]byte(output), &out) == nil && out.ExecutionArn != "" {
		t.children = append(t.children, out.ExecutionArn)
	}
}

// open finds the step an event belongs to, following previousEventId.
func (t *timeline) open(id int64) *step {
	for n := 0; id != 0 && n < 100000; n++ {
		if s, ok := t.byEvent[id]; ok {
			if s.Status == "running" {
				return s
			}
			return nil
		}
		id = t.prev[id]
	}
	return nil
}

func (t *timeline) done() bool { return t.status != "" && t.status != types.ExecutionStatusRunning }

// running returns the steps still in progress.
func (t *timeline) running() []*step {
	var out []*step
	for _, s := range t.steps {
		if s.Status == "running" {
			out = append(out, s)
		}
	}
	return out
}

// line renders a finished step.
func (t *timeline) line(s *step) string {
	name := s.Name
	if s.Iteration != nil {
		name = fmt.Sprintf("  [%d] %s", *s.Iteration, s.Name)
	}
	note := ""
	if s.Error != "" {
		note = "  (" + s.Error + ")"
	}
	return fmt.Sprintf("  %9s  %-28s %9s%s", offset(s.Start.Sub(t.start)), name, human(s.Duration), note)
}

func offset(d time.Duration) string {
	return fmt.Sprintf("+%.3fs", d.Seconds())
}

func human(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// follow polls the execution, printing steps as they finish and, on a
// terminal, a line saying what is running now; it returns when the
// execution ends.
func (t *timeline) follow(ctx context.Context, client *sfn.Client, out io.Writer, tty bool, every time.Duration) error {
	for {
		finished, err := t.fetch(ctx, client)
		if err != nil {
			return err
		}
		if tty {
			fmt.Fprint(out, "\r\033[K")
		}
		for _, s := range finished {
			fmt.Fprintln(out, t.line(s))
		}
		if t.done() {
			return nil
		}
		if tty {
			var names []string
			for _, s := range t.running() {
				if s.Name != "StartPages" && s.Name != "StartChildren" {
					names = append(names, fmt.Sprintf("%s %s", s.Name, human(time.Since(s.Start).Round(100*time.Millisecond))))
				}
			}
			if len(names) > 0 {
				fmt.Fprintf(out, "  … %s", strings.Join(names, ", "))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// summary is the --output json form of an execution.
func (t *timeline) summary() map[string]any {
	steps := make([]*step, 0, len(t.steps))
	for _, s := range t.steps {
		if s.Status != "running" {
			steps = append(steps, s)
		}
	}
	m := map[string]any{"executionArn": t.arn, "status": t.status, "startDate": t.start, "states": steps}
	if !t.stopped.IsZero() {
		m["stopDate"] = t.stopped
		m["durationMs"] = t.stopped.Sub(t.start).Milliseconds()
	}
	if t.err != "" {
		m["error"], m["cause"] = t.err, t.cause
	}
	return m
}

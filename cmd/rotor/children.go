package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// fanOut is what a sweep (or a leak of several secrets) started: its page
// executions and, through them, one rotation per secret.
type fanOut struct {
	Pages     int            `json:"pages"`
	Rotations int            `json:"rotations"`
	Outcomes  map[string]int `json:"outcomes"` // succeeded, skipped, failed, running, ...
	// Failed lists the rotations that did not succeed, with their error.
	Failed []childRun `json:"failed,omitempty"`
	// All lists every rotation (rotor history --children).
	All []childRun `json:"children,omitempty"`
}

// childRun is one rotation a fan-out started.
type childRun struct {
	ExecutionArn string `json:"executionArn"`
	Status       string `json:"status"`             // the execution's, or the rotation's outcome once it succeeded
	SecretID     string `json:"secretId,omitempty"` // known once it ended
	Error        string `json:"error,omitempty"`
	Reason       string `json:"reason,omitempty"` // why it was skipped
}

// describeConcurrency bounds the DescribeExecution calls in flight: well
// inside Step Functions' API quota, which the running executions share.
const describeConcurrency = 8

// walkFanOut follows a timeline's children: a page execution's own
// children are rotations; a child without children is a rotation.
// progress, when not nil, hears how many rotations were read so far.
func walkFanOut(ctx context.Context, client *sfn.Client, t *timeline, all bool, progress func(done, total int)) (*fanOut, error) {
	f := &fanOut{Outcomes: map[string]int{}}
	var rotations []string
	for _, arn := range t.children {
		page := newTimeline(arn)
		if _, err := page.fetch(ctx, client); err != nil {
			return nil, fmt.Errorf("read child %s: %w", arn, err)
		}
		if len(page.children) == 0 {
			rotations = append(rotations, arn) // started directly
			continue
		}
		f.Pages++
		rotations = append(rotations, page.children...)
	}
	f.Rotations = len(rotations)
	runs := make([]childRun, len(rotations))
	errs := make([]error, len(rotations))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, describeConcurrency)
	for i, arn := range rotations {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			runs[i], errs[i] = describeRotation(ctx, client, arn)
			if progress != nil {
				mu.Lock()
				done++
				progress(done, len(rotations))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		f.Outcomes[r.Status]++
		if r.Status != "succeeded" && r.Status != "skipped" && r.Status != "running" {
			f.Failed = append(f.Failed, r)
		}
		if all {
			f.All = append(f.All, r)
		}
	}
	return f, nil
}

func describeRotation(ctx context.Context, client *sfn.Client, arn string) (childRun, error) {
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return childRun{}, fmt.Errorf("describe %s: %w", arn, err)
	}
	r := childRun{ExecutionArn: arn, Status: strings.ToLower(string(d.Status)), Error: aws.ToString(d.Error)}
	if d.Status == types.ExecutionStatusSucceeded {
		var out struct{ SecretID, Status, Reason string }
		if json.Unmarshal([]byte(aws.ToString(d.Output)), &out) == nil && out.Status != "" {
			r.Status, r.SecretID, r.Reason = out.Status, out.SecretID, out.Reason
		}
	}
	return r, nil
}

// print writes the fan-out under an execution's timeline.
func (f *fanOut) print(w io.Writer) {
	keys := make([]string, 0, len(f.Outcomes))
	for k := range f.Outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "  children: %d page execution(s), %d rotation(s)", f.Pages, f.Rotations)
	for _, k := range keys {
		fmt.Fprintf(w, ", %d %s", f.Outcomes[k], k)
	}
	fmt.Fprintln(w)
	for _, r := range f.Failed {
		fmt.Fprintf(w, "    %s  %s %s\n", r.ExecutionArn, r.Status, r.Error)
	}
	for _, r := range f.All {
		note := r.SecretID
		if r.Reason != "" {
			note += " (" + r.Reason + ")"
		}
		fmt.Fprintf(w, "    %s  %-9s %s\n", r.ExecutionArn, r.Status, note)
	}
}

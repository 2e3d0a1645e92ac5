package rotorlocal

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/rotorhq/rotor/internal/rotation"
)

// BenchmarkFleet sweeps a fleet of due secrets (random provider, grace 0,
// 512-character names) through the local endpoint with AWS's quotas on and
// the largest write budget (45 writes/s, so the bound is 11.25 rotations
// per second), in memory and on a data file. It reports:
//
//   - resolve-s: how long resolve took to plan the whole fleet;
//   - rotations/s and pct-of-bound: rotations completed per second over the
//     measured window (the whole sweep at 1,000 secrets; the first
//     window-s seconds of children at 10,000, since the full sweep takes
//     15 minutes at the bound), against budget / WritesPerRotation;
//   - writes/rotation and tag-writes/rotation: Secrets Manager calls of the
//     shared write quota and of the tag quota, per completed rotation;
//   - max-io-bytes and max-events: the largest state input, output or
//     result, and the longest history, of the sweep, its page executions
//     and a child.
//
// Run with -benchtime=1x: each run is one sweep.
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, store := range []string{"memory", "file"} {
			b.Run(fmt.Sprintf("secrets=%d/store=%s", n, store), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					benchFleet(b, n, store == "file")
				}
			})
		}
	}
}

func benchFleet(b *testing.B, n int, file bool) {
	b.StopTimer()
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	opts := Options{Quotas: true, Log: slog.New(e.reqs), FunctionEnv: map[string]string{rotation.EnvWriteBudget: fleetBudget}}
	if file {
		opts.DataFile = b.TempDir() + "/local.db"
	}
	h, err := Start(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	e.h = h
	e.createFleet(b, n, func(i int) string {
		name := fmt.Sprintf("fleet/bench-%05d/", i)
		return name + strings.Repeat("n", 512-len(name))
	}, map[string]string{"rotor:grace-period": "0s"})
	window := 60 * time.Second
	if n <= 1000 {
		window = 10 * time.Minute // the whole sweep
	}
	ops0 := e.reqs.len()
	b.StartTimer()
	started := time.Now()
	x, err := h.StepFunctions().StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"trigger":"sweep"}`)})
	if err != nil {
		b.Fatal(err)
	}
	sweep := aws.ToString(x.ExecutionArn)
	deadline := started.Add(window + 30*time.Second)
	var done int
	var end time.Time
	for {
		done = e.countSucceeded(b)
		if done >= n || time.Since(started) > window || time.Now().After(deadline) {
			end = time.Now()
			break
		}
		time.Sleep(time.Second)
	}
	b.StopTimer()
	elapsed := end.Sub(started)
	writes, tags := 0, 0
	for _, op := range e.reqs.since(ops0) {
		switch op {
		case "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage":
			writes++
		case "secretsmanager:TagResource", "secretsmanager:UntagResource":
			tags++
		}
	}
	resolve, maxIO, maxEvents := e.sweepFigures(b, sweep)
	bound := 45.0 / rotation.WritesPerRotation
	rate := float64(done) / elapsed.Seconds()
	b.ReportMetric(resolve.Seconds(), "resolve-s")
	b.ReportMetric(rate, "rotations/s")
	b.ReportMetric(100*rate/bound, "pct-of-bound")
	b.ReportMetric(float64(writes)/float64(max(done, 1)), "writes/rotation")
	b.ReportMetric(float64(tags)/float64(max(done, 1)), "tag-writes/rotation")
	b.ReportMetric(float64(maxIO), "max-io-bytes")
	b.ReportMetric(float64(maxEvents), "max-events")
	b.ReportMetric(elapsed.Seconds(), "window-s")
}

// countSucceeded counts the rotations that ended, succeeded.
func (e *leakEnv) countSucceeded(b *testing.B) int {
	n := 0
	p := sfn.NewListExecutionsPaginator(e.h.StepFunctions(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.h.StateMachineARN),
		StatusFilter: sfntypes.ExecutionStatusSucceeded, MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range page.Executions {
			// <plan uuid>-p<page>-<index> is a rotation; <plan uuid>-p<page> a page.
			if name := aws.ToString(x.Name); strings.Count(name, "-") == 6 && strings.Contains(name, "-p") {
				n++
			}
		}
	}
	return n
}

// sweepFigures reads the sweep's history for resolve's duration, and the
// sweep's, its pages' and one child's histories for the largest I/O and
// the longest history.
func (e *leakEnv) sweepFigures(b *testing.B, sweep string) (time.Duration, int, int) {
	top := e.stats(b, sweep)
	maxIO, maxEvents := top.largestIO, top.events
	for i, p := range top.children {
		st := e.stats(b, p)
		maxIO, maxEvents = max(maxIO, st.largestIO), max(maxEvents, st.events)
		if i == 0 && len(st.children) > 0 {
			c := e.stats(b, st.children[0])
			maxIO, maxEvents = max(maxIO, c.largestIO), max(maxEvents, c.events)
		}
	}
	out, err := e.h.StepFunctions().GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(sweep), MaxResults: 100})
	if err != nil {
		b.Fatal(err)
	}
	var scheduled, succeeded time.Time
	for _, ev := range out.Events {
		switch ev.Type {
		case sfntypes.HistoryEventTypeLambdaFunctionScheduled:
			if scheduled.IsZero() {
				scheduled = aws.ToTime(ev.Timestamp)
			}
		case sfntypes.HistoryEventTypeLambdaFunctionSucceeded:
			if succeeded.IsZero() {
				succeeded = aws.ToTime(ev.Timestamp)
			}
		}
	}
	return succeeded.Sub(scheduled), maxIO, maxEvents
}

package rotorlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/rotation"
)

// The tests in this file run fleets through the local endpoint with AWS's
// quotas on (issue 13): sweeps fan out to one child execution per secret,
// paced by the write budget, and no state carries more than ids and counts.

// fleetBudget is the write budget of these tests: the most rotor accepts,
// so that a sweep starts children as fast as the local quotas allow.
const fleetBudget = "45"

func startFleet(t *testing.T) *leakEnv {
	t.Helper()
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(t.Context(), Options{DataFile: t.TempDir() + "/local.db", Quotas: true, Log: slog.New(e.reqs), FunctionLog: e.logs,
		FunctionEnv: map[string]string{rotation.EnvWriteBudget: fleetBudget}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	return e
}

// rotatedAgo returns a version id as rotor mints them (a UUIDv7) dated age
// ago: the state a rotation that long ago leaves, so a sweep finds the
// secret due from ListSecrets alone.
func rotatedAgo(age time.Duration) string {
	tok, err := rotation.NewToken(time.Now().Add(-age))
	if err != nil {
		panic(err)
	}
	return tok
}

// createFleet creates n managed random-provider secrets last rotated 61
// days ago, named by name(i). It seeds the endpoint's store directly and
// saves it: thousands of CreateSecret calls at the write quota would take
// minutes and test nothing of rotor's.
func (e *leakEnv) createFleet(t testing.TB, n int, name func(int) string, tags map[string]string) {
	t.Helper()
	st := e.h.Server.SM.Store()
	for i := 0; i < n; i++ {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name(i)), SecretString: aws.String(fmt.Sprintf("initial-value-%06d-abcdef", i)),
			ClientRequestToken: aws.String(rotatedAgo(61 * 24 * time.Hour)),
			Tags:               []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}
		for k, v := range tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := st.CreateSecret(context.Background(), in); err != nil {
			t.Fatalf("create %s: %v", name(i), err)
		}
	}
	e.must(t, e.h.Server.SM.Save())
}

// execStats is what one execution's history says about the limits.
type execStats struct {
	events    int
	largestIO int    // the largest input, output or parameters of any event
	largestAt string // which event
	children  []string
}

// stats reads an execution's whole history.
func (e *leakEnv) stats(t testing.TB, arn string) execStats {
	t.Helper()
	var st execStats
	p := sfn.NewGetExecutionHistoryPaginator(e.h.StepFunctions(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		e.must(t, err)
		for _, ev := range page.Events {
			st.events++
			for _, d := range []struct {
				what string
				s    *string
			}{
				{"execution input", detail(ev.ExecutionStartedEventDetails, func() *string { return ev.ExecutionStartedEventDetails.Input })},
				{"execution output", detail(ev.ExecutionSucceededEventDetails, func() *string { return ev.ExecutionSucceededEventDetails.Output })},
				{"state input", detail(ev.StateEnteredEventDetails, func() *string { return ev.StateEnteredEventDetails.Input })},
				{"state output", detail(ev.StateExitedEventDetails, func() *string { return ev.StateExitedEventDetails.Output })},
				{"task parameters", detail(ev.TaskScheduledEventDetails, func() *string { return ev.TaskScheduledEventDetails.Parameters })},
				{"task result", detail(ev.TaskSucceededEventDetails, func() *string { return ev.TaskSucceededEventDetails.Output })},
				{"lambda result", detail(ev.LambdaFunctionSucceededEventDetails, func() *string { return ev.LambdaFunctionSucceededEventDetails.Output })},
			} {
				if n := len(aws.ToString(d.s)); n > st.largestIO {
					st.largestIO, st.largestAt = n, fmt.Sprintf("%s of event %d (%s)", d.what, ev.Id, ev.Type)
				}
			}
			var out string
			if d := ev.TaskSubmittedEventDetails; d != nil {
				out = aws.ToString(d.Output)
			} else if d := ev.TaskSucceededEventDetails; d != nil && aws.ToString(d.Resource) == "startExecution" {
				out = aws.ToString(d.Output)
			}
			var started struct{ ExecutionArn string }
			if json.Unmarshal([]byte(out), &started) == nil && started.ExecutionArn != "" {
				st.children = append(st.children, started.ExecutionArn)
			}
		}
	}
	return st
}

func detail[T any](d *T, f func() *string) *string {
	if d == nil {
		return nil
	}
	return f()
}

// sweepTree waits for a sweep and returns its page executions' stats and
// the rotations (child executions) the pages started.
func (e *leakEnv) sweepTree(t *testing.T, sweep string, timeout time.Duration) (execStats, []execStats, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if status, err := e.h.Server.SFN.Wait(ctx, sweep); err != nil || status != "SUCCEEDED" {
		t.Fatalf("sweep %s: %s (%v)\nhistory: %.3000s", sweep, status, err, e.history(t, sweep))
	}
	top := e.stats(t, sweep)
	var pages []execStats
	var rotations []string
	for _, p := range top.children {
		st := e.stats(t, p)
		pages = append(pages, st)
		rotations = append(rotations, st.children...)
	}
	return top, pages, rotations
}

// outcome waits for a rotation and returns its status: the execution's, or
// the rotation's own ("succeeded", "skipped") when it succeeded.
func (e *leakEnv) outcome(t *testing.T, arn string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	status, err := e.h.Server.SFN.Wait(ctx, arn)
	if err != nil {
		t.Fatalf("rotation %s: %v", arn, err)
	}
	if status != "SUCCEEDED" {
		return status
	}
	d, err := e.h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	e.must(t, err)
	var out struct{ Status string }
	e.must(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
	return out.Status
}

// TestFleetGraceWaitsHoldNothing: 200 secrets with a one-hour grace period.
// The sweep finishes once every child is started, and every secret is
// switched over while its child waits out the grace period.
func TestFleetGraceWaitsHoldNothing(t *testing.T) {
	e := startFleet(t)
	const n = 200
	e.createFleet(t, n, func(i int) string { return fmt.Sprintf("fleet/grace-%03d", i) }, map[string]string{"rotor:grace-period": "1h"})
	started := time.Now()
	sweep := e.startInput(t, `{"trigger":"sweep"}`)
	top, pages, rotations := e.sweepTree(t, sweep, 2*time.Minute)
	if len(rotations) != n || len(pages) != 1 {
		t.Fatalf("%d rotations on %d pages, want %d on 1", len(rotations), len(pages), n)
	}
	// Switched over: the seeded version is AWSPREVIOUS, the new one
	// AWSCURRENT, and no AWSPENDING is left.
	switched := 0
	deadline := time.Now().Add(time.Minute)
	for {
		switched = 0
		p := secretsmanager.NewListSecretsPaginator(e.h.SecretsManager(), &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			e.must(t, err)
			for _, s := range page.SecretList {
				_, prev := findLabel(s.SecretVersionsToStages, "AWSPREVIOUS")
				_, pending := findLabel(s.SecretVersionsToStages, "AWSPENDING")
				if prev && !pending {
					switched++
				}
			}
		}
		if switched == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(started)
	if switched != n {
		t.Fatalf("%d of %d secrets switched over", switched, n)
	}
	running := 0
	for _, r := range rotations {
		d, err := e.h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(r)})
		e.must(t, err)
		if d.Status == "RUNNING" {
			running++
		}
	}
	if running != n {
		t.Errorf("%d of %d children still wait out their grace period, want all", running, n)
	}
	t.Logf("%d secrets switched over in %s; the sweep's history: %d events, largest I/O %d bytes", n, took.Round(time.Millisecond), top.events, top.largestIO)
}

func findLabel(stages map[string][]string, label string) (string, bool) {
	for v, ls := range stages {
		if slices.Contains(ls, label) {
			return v, true
		}
	}
	return "", false
}

// TestFleetOverlappingSweepsRotateOnce: two sweeps started together over
// 100 secrets. Each secret is rotated exactly once; the other sweep's child
// for it ends "skipped", none fails.
func TestFleetOverlappingSweepsRotateOnce(t *testing.T) {
	e := startFleet(t)
	const n = 100
	e.createFleet(t, n, func(i int) string { return fmt.Sprintf("fleet/overlap-%03d", i) }, map[string]string{"rotor:grace-period": "0s"})
	a, b := e.startInput(t, `{"trigger":"sweep"}`), e.startInput(t, `{"trigger":"sweep"}`)
	outcomes := map[string]int{}
	for _, sweep := range []string{a, b} {
		_, _, rotations := e.sweepTree(t, sweep, 3*time.Minute)
		for _, r := range rotations {
			outcomes[e.outcome(t, r, time.Minute)]++
		}
	}
	if diff := cmp.Diff(map[string]int{"succeeded": n, "skipped": n}, outcomes); diff != "" {
		t.Errorf("children (-want +got):\n%s", diff)
	}
	p := secretsmanager.NewListSecretsPaginator(e.h.SecretsManager(), &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		e.must(t, err)
		for _, s := range page.SecretList {
			if !strings.HasPrefix(aws.ToString(s.Name), "fleet/") {
				continue
			}
			vs, err := e.h.SecretsManager().ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: s.ARN, IncludeDeprecated: aws.Bool(true)})
			e.must(t, err)
			if len(vs.Versions) != 2 {
				t.Errorf("%s has %d versions, want 2 (rotated once)", aws.ToString(s.Name), len(vs.Versions))
			}
		}
	}
}

// TestFleetLongNamesStayWithinLimits: a sweep over 2,000 secrets whose
// names are 512 characters long (the longest Secrets Manager allows)
// succeeds, and no state's input, output or result in the sweep, its page
// executions or a rotation comes near 256 KiB; no history nears 25,000
// events.
func TestFleetLongNamesStayWithinLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 rotations at the local quotas take about three minutes; run without -short")
	}
	e := startFleet(t)
	const n = 2000
	e.createFleet(t, n, func(i int) string {
		name := fmt.Sprintf("fleet/long-%04d/", i)
		return name + strings.Repeat("n", 512-len(name))
	}, map[string]string{"rotor:grace-period": "1h"})
	sweep := e.startInput(t, `{"trigger":"sweep"}`)
	top, pages, rotations := e.sweepTree(t, sweep, 6*time.Minute)
	if len(rotations) != n {
		t.Fatalf("%d rotations started, want %d", len(rotations), n)
	}
	all := append([]execStats{top}, pages...)
	all = append(all, e.stats(t, rotations[0]), e.stats(t, rotations[n-1]))
	for i, st := range all {
		if st.largestIO > 64<<10 || st.events > 10000 {
			t.Errorf("execution %d: %d events, largest I/O %d bytes at %s", i, st.events, st.largestIO, st.largestAt)
		}
	}
	t.Logf("sweep: %d events, largest I/O %d bytes; %d pages, the first: %d events, largest I/O %d bytes (%s)",
		top.events, top.largestIO, len(pages), pages[0].events, pages[0].largestIO, pages[0].largestAt)
	if asl.MaxPayload != 256<<10 {
		t.Fatalf("asl.MaxPayload = %d", asl.MaxPayload)
	}
}

// TestWritesPerRotation: a rotation makes exactly
// rotation.WritesPerRotation calls from Secrets Manager's shared write
// quota, the figure the write budget's pacing divides by. Counted from the
// requests the endpoint served, over two rotations of one secret.
func TestWritesPerRotation(t *testing.T) {
	e := startLeakEnv(t)
	e.createSecret(t, "svc/counted", "initial-value-0123456789abcdefABCDEF", map[string]string{"rotor:provider": "random"})
	for i := 0; i < 2; i++ {
		n := e.reqs.len()
		e.rotate(t, "svc/counted", 0)
		writes := 0
		for _, op := range e.reqs.since(n) {
			switch op {
			case "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:UpdateSecret",
				"secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret":
				writes++
			}
		}
		if writes != rotation.WritesPerRotation {
			t.Errorf("rotation %d made %d writes from the shared quota, want rotation.WritesPerRotation = %d: %v", i+1, writes, rotation.WritesPerRotation, e.reqs.since(n))
		}
	}
}

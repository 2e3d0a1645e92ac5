package asl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotorhq/rotor/internal/asl"
)

// benchRuns is how many times each side runs each case:
// $ROTOR_ASL_BENCH_RUNS, default 50.
func benchRuns(tb testing.TB) int {
	s := os.Getenv("ROTOR_ASL_BENCH_RUNS")
	if s == "" {
		return 50
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("ROTOR_ASL_BENCH_RUNS=%q: want a positive integer", s)
	}
	return n
}

// goRepeat is how many times the Go side repeats each case's runs.
const goRepeat = 10

type benchRow struct {
	name        string
	runs        int
	transitions int // over all runs
	goSeconds   float64
	nodeSeconds float64
	goMallocs   uint64
}

// nodeBenchRow is one line of runner.mjs --bench.
type nodeBenchRow struct {
	Name        string  `json:"name"`
	Runs        int     `json:"runs"`
	Transitions int     `json:"transitions"`
	Seconds     float64 `json:"seconds"`
	Error       string  `json:"error"`
}

type benchResult struct {
	rows []benchRow
	err  error
}

var (
	benchOnce  sync.Once
	benchCache benchResult
)

// BenchmarkCompare runs the corpus (less the cases marked skipBench and those
// listed in KNOWN_DIFFERENCES.md) in
// aws-local-stepfunctions (runner.mjs --bench, once) and in internal/asl, the
// same number of runs per case on each side, and reports state transitions
// per second on each side, the speed-up and Go's allocations per
// transition. Both sides time executions only: definitions are parsed (and
// validated) once per case, and one warm-up run per case is not counted.
// The work is done once per process, whatever b.N.
func BenchmarkCompare(b *testing.B) {
	benchOnce.Do(func() { benchCache = measure(b) })
	if benchCache.err != nil {
		b.Fatal(benchCache.err)
	}
	var trans int
	var goSec, nodeSec float64
	var mallocs uint64
	for _, r := range benchCache.rows {
		trans += r.transitions
		goSec += r.goSeconds
		nodeSec += r.nodeSeconds
		mallocs += r.goMallocs
	}
	goTPS, nodeTPS := float64(trans)/goSec, float64(trans)/nodeSec
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(goTPS, "go-transitions/s")
	b.ReportMetric(nodeTPS, "node-transitions/s")
	b.ReportMetric(goTPS/nodeTPS, "speedup-x")
	b.ReportMetric(float64(mallocs)/float64(trans), "go-allocs/transition")
}

func measure(b *testing.B) (res benchResult) {
	all := loadCases(b)
	known := knownDifferences(b, all)
	var cases []*diffCase
	var names []string
	for _, c := range all {
		// Both sides must do the same work: leave out the cases where
		// aws-local-stepfunctions departs from the spec (it may reject the
		// definition or take another path) and those marked skipBench.
		if !c.SkipBench && !known[c.Name] {
			cases = append(cases, c)
			names = append(names, c.Name)
		}
	}
	runs := benchRuns(b)

	nodeRows := map[string]nodeBenchRow{}
	for _, line := range runNode(b, append([]string{"--bench", strconv.Itoa(runs)}, names...)...) {
		var r nodeBenchRow
		if err := json.Unmarshal(line, &r); err != nil {
			return benchResult{err: fmt.Errorf("runner.mjs --bench printed %q: %v", line, err)}
		}
		nodeRows[r.Name] = r
	}

	var ms runtime.MemStats
	for _, c := range cases {
		nr, ok := nodeRows[c.Name]
		switch {
		case !ok:
			return benchResult{err: fmt.Errorf("runner.mjs --bench printed nothing for %s", c.Name)}
		case nr.Error != "":
			return benchResult{err: fmt.Errorf("runner.mjs --bench %s: %s", c.Name, nr.Error)}
		}
		def, err := parseDefinition(c)
		if err != nil {
			return benchResult{err: fmt.Errorf("%s: %v", c.Name, err)}
		}
		if _, err := runGo(c, def); err != nil { // warm-up
			return benchResult{err: fmt.Errorf("%s: %v", c.Name, err)}
		}
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		trans := 0
		start := time.Now()
		// The input is decoded once, as runner.mjs holds it as a JavaScript
		// object: each side passes values, not JSON text, to its engine.
		var input any = map[string]any{}
		if len(c.Input) > 0 {
			if err := json.Unmarshal(c.Input, &input); err != nil {
				return benchResult{err: fmt.Errorf("%s: input: %v", c.Name, err)}
			}
		}
		// Go repeats the runs goRepeat times and reports the time of one
		// repetition: its runs take milliseconds, where a stray GC pause or
		// a neighbour on the machine would otherwise decide the figure.
		for range runs * goRepeat {
			clock := asl.NewVirtualClock(clockStart)
			eng := asl.New(asl.Options{Tasks: registry(c, clock), Clock: clock})
			res, history := eng.RunValue(context.Background(), def, input, execOptions())
			if res.Status == asl.StatusRunning {
				return benchResult{err: fmt.Errorf("%s: execution did not end", c.Name)}
			}
			trans += len(asl.EnteredStates(history))
		}
		elapsed := time.Since(start).Seconds() / goRepeat
		runtime.ReadMemStats(&ms)
		trans /= goRepeat
		if trans != nr.Transitions {
			// Both sides ran the same case the same number of times; a
			// different count of states entered is a behavioural difference
			// (TestDifferential reports it) and makes the rates incomparable.
			return benchResult{err: fmt.Errorf("%s: %d states entered in Go, %d in Node over %d runs",
				c.Name, trans, nr.Transitions, runs)}
		}
		res.rows = append(res.rows, benchRow{
			name: c.Name, runs: runs, transitions: trans,
			goSeconds: elapsed, nodeSeconds: nr.Seconds, goMallocs: (ms.Mallocs - before) / goRepeat,
		})
	}
	printTable(res.rows, runs)
	return res
}

// printTable prints the figures by feature (the case name up to its first
// hyphen) as a Markdown table.
func printTable(rows []benchRow, runs int) {
	type agg struct {
		cases, trans int
		goSec, nodeS float64
		mallocs      uint64
	}
	groups := map[string]*agg{}
	var total agg
	for _, r := range rows {
		g := r.name
		if i := strings.IndexByte(g, '-'); i > 0 {
			g = g[:i]
		}
		a := groups[g]
		if a == nil {
			a = new(agg)
			groups[g] = a
		}
		for _, x := range []*agg{a, &total} {
			x.cases++
			x.trans += r.transitions
			x.goSec += r.goSeconds
			x.nodeS += r.nodeSeconds
			x.mallocs += r.goMallocs
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "\ninternal/asl vs aws-local-stepfunctions 3.0.0 (Node 22): %d cases, %d runs each\n\n", total.cases, runs)
	sb.WriteString("| feature | cases | transitions | Go transitions/s | Node transitions/s | speed-up | Go allocs/transition |\n")
	sb.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	line := func(name string, a *agg) {
		goTPS, nodeTPS := float64(a.trans)/a.goSec, float64(a.trans)/a.nodeS
		fmt.Fprintf(&sb, "| %s | %d | %d | %.0f | %.0f | %.1f× | %.0f |\n",
			name, a.cases, a.trans, goTPS, nodeTPS, goTPS/nodeTPS, float64(a.mallocs)/float64(a.trans))
	}
	for _, k := range keys {
		line(k, groups[k])
	}
	line("**all**", &total)
	fmt.Fprint(os.Stdout, sb.String())
}

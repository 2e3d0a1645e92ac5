package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Definition is a parsed and validated state machine.
type Definition struct {
	Comment        string
	StartAt        string
	States         map[string]*State
	TimeoutSeconds int // 0: none
	// names of every state, nested ones included, for uniqueness
	all map[string]*State
}

// machine is a States/StartAt pair: the top level, a Parallel branch or a
// Map's item processor.
type machine struct {
	StartAt string
	States  map[string]*State
}

// State is one parsed state. Field presence matters in ASL (a null
// ResultPath is not an absent one), so optional paths are *optPath.
type State struct {
	Name string
	Type string
	// history event types, built once: "PassStateEntered"...
	enteredEvent, exitedEvent string
	Comment                   string
	Next                      string
	End                       bool

	InputPath, OutputPath, ResultPath optPath
	Parameters                        *template // Pass, Task, Parallel, Map (legacy ItemSelector)
	ResultSelector                    *template // Task, Parallel, Map
	Result                            any       // Pass
	hasResult                         bool
	// checkOutput: the state's output may differ from every payload
	// measured before it (see runState).
	checkOutput bool

	// Task
	Resource           string
	events             *taskEvent
	TimeoutSeconds     int
	TimeoutSecondsPath *path
	HeartbeatSeconds   int
	HeartbeatPath      *path
	Retry              []*Retrier
	Catch              []*Catcher

	// Choice
	Choices []*Rule
	Default string

	// Wait
	Seconds       *int
	SecondsPath   *path
	Timestamp     *time.Time
	TimestampPath *path

	// Fail
	Error, Cause         string
	ErrorPath, CausePath *pathOrCall

	// Parallel
	Branches []*machine

	// Map
	ItemsPath          optPath
	ItemSelector       *template
	ItemProcessor      *machine
	MaxConcurrency     int
	MaxConcurrencyPath *path
}

// Retrier is one element of a Retry field.
type Retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64
	MaxAttempts     int
	BackoffRate     float64
	MaxDelaySeconds float64 // 0: no cap
	JitterFull      bool
}

// Catcher is one element of a Catch field.
type Catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  optPath
}

// ValidationError lists every problem Parse found.
type ValidationError struct{ Problems []Problem }

// Problem is one structural error, naming its state ("" for the top level).
type Problem struct {
	State   string `json:"state,omitempty"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid state machine definition:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (p Problem) String() string {
	if p.State == "" {
		return p.Message
	}
	return fmt.Sprintf("state %q: %s", p.State, p.Message)
}

// parser accumulates problems while decoding.
type parser struct {
	problems []Problem
	all      map[string]*State
}

func (p *parser) add(state, format string, args ...any) {
	p.problems = append(p.problems, Problem{State: state, Message: fmt.Sprintf(format, args...)})
}

// Parse decodes and validates a definition. Every problem found is
// reported, each naming its state.
func Parse(data []byte) (*Definition, error) {
	p := &parser{all: map[string]*State{}}
	var top map[string]json.RawMessage
	if err := decodeStrict(data, &top); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "definition is not a JSON object: " + err.Error()}}}
	}
	def := &Definition{}
	fields := fieldSet(top)
	for k := range top {
		switch k {
		case "Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage":
		default:
			p.add("", "unknown top-level field %q", k)
		}
	}
	def.Comment = p.str("", fields, "Comment")
	if ql := p.str("", fields, "QueryLanguage"); ql != "" && ql != "JSONPath" {
		p.add("", "QueryLanguage %q is not supported; only JSONPath is", ql)
	}
	if v := p.str("", fields, "Version"); v != "" && v != "1.0" {
		p.add("", "Version must be \"1.0\"")
	}
	def.TimeoutSeconds = p.intField("", fields, "TimeoutSeconds", 1, 99999999)
	m := p.machine("", top)
	if m != nil {
		def.StartAt, def.States = m.StartAt, m.States
	}
	def.all = p.all
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].State < p.problems[j].State })
		return nil, &ValidationError{Problems: p.problems}
	}
	return def, nil
}

type fields map[string]json.RawMessage

func fieldSet(m map[string]json.RawMessage) fields { return fields(m) }

// machine parses a States/StartAt object. owner names the Parallel or Map
// state it belongs to ("" at the top).
func (p *parser) machine(owner string, raw map[string]json.RawMessage) *machine {
	m := &machine{States: map[string]*State{}}
	f := fields(raw)
	m.StartAt = p.str(owner, f, "StartAt")
	if m.StartAt == "" {
		p.add(owner, "StartAt is required")
	}
	statesRaw, ok := raw["States"]
	if !ok {
		p.add(owner, "States is required")
		return nil
	}
	var states map[string]json.RawMessage
	if err := decodeStrict(statesRaw, &states); err != nil {
		p.add(owner, "States must be an object: %v", err)
		return nil
	}
	if len(states) == 0 {
		p.add(owner, "States must contain at least one state")
	}
	names := make([]string, 0, len(states))
	for name := range states {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if len(name) == 0 || len(name) > 80 {
			p.add(name, "state names must be 1 to 80 characters")
		}
		s := p.state(name, states[name])
		// Checked after parsing, so that a nested state parsed first counts.
		if _, dup := p.all[name]; dup {
			p.add(name, "state name is used more than once in the state machine")
		}
		if s == nil {
			continue
		}
		p.all[name] = s
		m.States[name] = s
	}
	if m.StartAt != "" && m.States[m.StartAt] == nil && states[m.StartAt] == nil {
		p.add(owner, "StartAt %q names no state", m.StartAt)
	}
	p.checkTransitions(m, states)
	return m
}

// checkTransitions reports missing targets and unreachable states.
func (p *parser) checkTransitions(m *machine, raw map[string]json.RawMessage) {
	targets := func(s *State) []string {
		var t []string
		if s.Next != "" {
			t = append(t, s.Next)
		}
		if s.Default != "" {
			t = append(t, s.Default)
		}
		for _, r := range s.Choices {
			if r.Next != "" {
				t = append(t, r.Next)
			}
		}
		for _, c := range s.Catch {
			if c.Next != "" {
				t = append(t, c.Next)
			}
		}
		return t
	}
	for _, name := range sortedKeys(m.States) {
		for _, t := range targets(m.States[name]) {
			if _, ok := raw[t]; !ok {
				p.add(name, "transition to %q, which is not a state of this %s", t, scopeName(m))
			}
		}
	}
	if _, ok := m.States[m.StartAt]; !ok {
		return
	}
	seen := map[string]bool{m.StartAt: true}
	queue := []string{m.StartAt}
	for len(queue) > 0 {
		s := m.States[queue[0]]
		queue = queue[1:]
		if s == nil {
			continue
		}
		for _, t := range targets(s) {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, name := range sortedKeys(m.States) {
		if !seen[name] {
			p.add(name, "state is not reachable from StartAt %q", m.StartAt)
		}
	}
}

func scopeName(*machine) string { return "scope" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// allowed lists the fields each state type accepts besides Type and Comment.
var allowed = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	"Task":     {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch", "Credentials"},
	"Choice":   {"InputPath", "OutputPath", "Choices", "Default"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "Cause", "ErrorPath", "CausePath"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches", "Retry", "Catch"},
	"Map":      {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "Retry", "Catch"},
}

func (p *parser) state(name string, raw json.RawMessage) *State {
	var f map[string]json.RawMessage
	if err := decodeStrict(raw, &f); err != nil {
		p.add(name, "a state must be a JSON object")
		return nil
	}
	s := &State{Name: name}
	s.Type = p.str(name, f, "Type")
	ok := allowed[s.Type]
	if ok == nil {
		if s.Type == "" {
			p.add(name, "Type is required")
		} else {
			p.add(name, "Type %q is not Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map", s.Type)
		}
		return nil
	}
	for k := range f {
		if k == "Type" || k == "Comment" || contains(ok, k) {
			continue
		}
		switch k {
		case "Assign", "Arguments", "Output", "QueryLanguage", "Items":
			p.add(name, "field %q belongs to JSONata or variables, which are not supported", k)
		default:
			p.add(name, "field %q is not valid in a %s state", k, s.Type)
		}
	}
	s.Comment = p.str(name, f, "Comment")
	s.enteredEvent, s.exitedEvent = s.Type+"StateEntered", s.Type+"StateExited"

	// Transitions.
	_, hasNext := f["Next"]
	s.Next = p.str(name, f, "Next")
	s.End = p.boolField(name, f, "End")
	switch s.Type {
	case "Choice", "Succeed", "Fail":
	default:
		if hasNext == s.End {
			p.add(name, "exactly one of Next and End is required")
		}
	}

	// Data flow.
	s.InputPath = p.optPathField(name, f, "InputPath", false)
	s.OutputPath = p.optPathField(name, f, "OutputPath", false)
	s.ResultPath = p.optPathField(name, f, "ResultPath", true)
	s.Parameters = p.templateField(name, f, "Parameters")
	s.ResultSelector = p.templateField(name, f, "ResultSelector")
	if r, ok := f["Result"]; ok {
		s.hasResult = true
		s.Result = decodeValue(r)
	}
	switch s.Type {
	case "Pass", "Task", "Parallel", "Map":
		s.checkOutput = s.ResultSelector != nil || s.ResultPath.set || s.OutputPath.set || s.hasResult
	}

	switch s.Type {
	case "Task":
		p.task(s, f)
	case "Choice":
		p.choice(s, f)
	case "Wait":
		p.wait(s, f)
	case "Fail":
		p.fail(s, f)
	case "Parallel":
		p.parallel(s, f)
	case "Map":
		p.mapState(s, f)
	}
	if s.Type == "Parallel" || s.Type == "Map" || s.Type == "Task" {
		s.Retry = p.retry(name, f)
		s.Catch = p.catch(name, f)
	}
	return s
}

func (p *parser) task(s *State, f fields) {
	s.Resource = p.str(s.Name, f, "Resource")
	s.events = taskEvents(s.Resource)
	if s.Resource == "" {
		p.add(s.Name, "Resource is required")
	} else if !strings.HasPrefix(s.Resource, "arn:") && !strings.HasPrefix(s.Resource, "${") {
		p.add(s.Name, "Resource %q is not an ARN", s.Resource)
	}
	s.TimeoutSeconds = p.intField(s.Name, f, "TimeoutSeconds", 1, 99999999)
	s.TimeoutSecondsPath = p.pathField(s.Name, f, "TimeoutSecondsPath")
	if s.TimeoutSeconds > 0 && s.TimeoutSecondsPath != nil {
		p.add(s.Name, "TimeoutSeconds and TimeoutSecondsPath are exclusive")
	}
	s.HeartbeatSeconds = p.intField(s.Name, f, "HeartbeatSeconds", 1, 99999999)
	s.HeartbeatPath = p.pathField(s.Name, f, "HeartbeatSecondsPath")
	if s.HeartbeatSeconds > 0 && s.HeartbeatPath != nil {
		p.add(s.Name, "HeartbeatSeconds and HeartbeatSecondsPath are exclusive")
	}
	if s.HeartbeatSeconds > 0 && s.TimeoutSeconds > 0 && s.HeartbeatSeconds >= s.TimeoutSeconds {
		p.add(s.Name, "HeartbeatSeconds must be smaller than TimeoutSeconds")
	}
}

func (p *parser) wait(s *State, f fields) {
	n := 0
	if _, ok := f["Seconds"]; ok {
		v := p.intField(s.Name, f, "Seconds", 0, 99999999)
		s.Seconds = &v
		n++
	}
	if s.SecondsPath = p.pathField(s.Name, f, "SecondsPath"); s.SecondsPath != nil {
		n++
	}
	if ts := p.str(s.Name, f, "Timestamp"); ts != "" {
		t, err := parseTimestamp(ts)
		if err != nil {
			p.add(s.Name, "Timestamp %q is not an RFC 3339 timestamp", ts)
		}
		s.Timestamp = &t
		n++
	}
	if s.TimestampPath = p.pathField(s.Name, f, "TimestampPath"); s.TimestampPath != nil {
		n++
	}
	if n != 1 {
		p.add(s.Name, "exactly one of Seconds, SecondsPath, Timestamp and TimestampPath is required")
	}
}

func (p *parser) fail(s *State, f fields) {
	s.Error = p.str(s.Name, f, "Error")
	s.Cause = p.str(s.Name, f, "Cause")
	s.ErrorPath = p.pathOrCallField(s.Name, f, "ErrorPath")
	s.CausePath = p.pathOrCallField(s.Name, f, "CausePath")
	if _, ok := f["Error"]; ok && s.ErrorPath != nil {
		p.add(s.Name, "Error and ErrorPath are exclusive")
	}
	if _, ok := f["Cause"]; ok && s.CausePath != nil {
		p.add(s.Name, "Cause and CausePath are exclusive")
	}
}

func (p *parser) parallel(s *State, f fields) {
	raw, ok := f["Branches"]
	var branches []map[string]json.RawMessage
	if !ok || decodeStrict(raw, &branches) != nil || len(branches) == 0 {
		p.add(s.Name, "Branches must be a non-empty array of state machines")
		return
	}
	for _, b := range branches {
		p.checkMachineFields(s.Name, "branch", b)
		if m := p.machine(s.Name, b); m != nil {
			s.Branches = append(s.Branches, m)
		}
	}
}

func (p *parser) checkMachineFields(owner, what string, raw map[string]json.RawMessage) {
	for k := range raw {
		switch k {
		case "StartAt", "States", "Comment", "ProcessorConfig":
		default:
			p.add(owner, "field %q is not valid in a %s", k, what)
		}
	}
}

func (p *parser) mapState(s *State, f fields) {
	s.ItemsPath = p.optPathField(s.Name, f, "ItemsPath", false)
	s.ItemSelector = p.templateField(s.Name, f, "ItemSelector")
	if s.ItemSelector != nil && s.Parameters != nil {
		p.add(s.Name, "ItemSelector and Parameters are exclusive (Parameters is the older name)")
	}
	proc, hasProc := f["ItemProcessor"]
	iter, hasIter := f["Iterator"]
	switch {
	case hasProc && hasIter:
		p.add(s.Name, "ItemProcessor and Iterator are exclusive (Iterator is the older name)")
	case !hasProc && !hasIter:
		p.add(s.Name, "ItemProcessor is required")
	default:
		raw := proc
		if hasIter {
			raw = iter
		}
		var m map[string]json.RawMessage
		if decodeStrict(raw, &m) != nil {
			p.add(s.Name, "ItemProcessor must be an object")
			break
		}
		p.checkMachineFields(s.Name, "ItemProcessor", m)
		if pc, ok := m["ProcessorConfig"]; ok {
			var cfg map[string]any
			_ = json.Unmarshal(pc, &cfg)
			if mode, _ := cfg["Mode"].(string); mode != "" && mode != "INLINE" {
				p.add(s.Name, "ProcessorConfig.Mode %q is not supported; only INLINE is", mode)
			}
		}
		s.ItemProcessor = p.machine(s.Name, m)
	}
	s.MaxConcurrency = p.intField(s.Name, f, "MaxConcurrency", 0, math.MaxInt32)
	s.MaxConcurrencyPath = p.pathField(s.Name, f, "MaxConcurrencyPath")
	if _, ok := f["MaxConcurrency"]; ok && s.MaxConcurrencyPath != nil {
		p.add(s.Name, "MaxConcurrency and MaxConcurrencyPath are exclusive")
	}
}

func (p *parser) retry(name string, f fields) []*Retrier {
	raw, ok := f["Retry"]
	if !ok {
		return nil
	}
	var list []map[string]json.RawMessage
	if decodeStrict(raw, &list) != nil {
		p.add(name, "Retry must be an array of retriers")
		return nil
	}
	var out []*Retrier
	for i, r := range list {
		where := fmt.Sprintf("Retry[%d]", i)
		for k := range r {
			switch k {
			case "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment":
			default:
				p.add(name, "%s: field %q is not valid in a retrier", where, k)
			}
		}
		rt := &Retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2}
		rt.ErrorEquals = p.errorEquals(name, where, r, i == len(list)-1)
		if _, ok := r["IntervalSeconds"]; ok {
			rt.IntervalSeconds = float64(p.intField(name, r, "IntervalSeconds", 1, 99999999))
		}
		if _, ok := r["MaxAttempts"]; ok {
			rt.MaxAttempts = p.intField(name, r, "MaxAttempts", 0, 99999999)
		}
		if v, ok := r["BackoffRate"]; ok {
			if err := json.Unmarshal(v, &rt.BackoffRate); err != nil || rt.BackoffRate < 1 {
				p.add(name, "%s: BackoffRate must be a number of at least 1.0", where)
			}
		}
		if _, ok := r["MaxDelaySeconds"]; ok {
			rt.MaxDelaySeconds = float64(p.intField(name, r, "MaxDelaySeconds", 1, 31622401))
		}
		switch j := p.str(name, r, "JitterStrategy"); j {
		case "", "NONE":
		case "FULL":
			rt.JitterFull = true
		default:
			p.add(name, "%s: JitterStrategy must be FULL or NONE", where)
		}
		out = append(out, rt)
	}
	return out
}

func (p *parser) catch(name string, f fields) []*Catcher {
	raw, ok := f["Catch"]
	if !ok {
		return nil
	}
	var list []map[string]json.RawMessage
	if decodeStrict(raw, &list) != nil {
		p.add(name, "Catch must be an array of catchers")
		return nil
	}
	var out []*Catcher
	for i, r := range list {
		where := fmt.Sprintf("Catch[%d]", i)
		for k := range r {
			switch k {
			case "ErrorEquals", "Next", "ResultPath", "Comment":
			default:
				p.add(name, "%s: field %q is not valid in a catcher", where, k)
			}
		}
		c := &Catcher{ErrorEquals: p.errorEquals(name, where, r, i == len(list)-1)}
		c.Next = p.str(name, r, "Next")
		if c.Next == "" {
			p.add(name, "%s: Next is required", where)
		}
		c.ResultPath = p.optPathField(name, r, "ResultPath", true)
		out = append(out, c)
	}
	return out
}

func (p *parser) errorEquals(name, where string, r fields, last bool) []string {
	raw, ok := r["ErrorEquals"]
	var names []string
	if !ok || decodeStrict(raw, &names) != nil || len(names) == 0 {
		p.add(name, "%s: ErrorEquals must be a non-empty array of error names", where)
		return nil
	}
	for _, n := range names {
		if n == ErrAll && (len(names) > 1 || !last) {
			p.add(name, "%s: States.ALL must appear alone in the last retrier or catcher", where)
		}
	}
	return names
}

// Field decoders: each reports a problem and returns a zero value on error.

func (p *parser) str(state string, f fields, key string) string {
	raw, ok := f[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(state, "%s must be a string", key)
	}
	return s
}

func (p *parser) boolField(state string, f fields, key string) bool {
	raw, ok := f[key]
	if !ok {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		p.add(state, "%s must be true or false", key)
	}
	return b
}

func (p *parser) intField(state string, f fields, key string, min, max int) int {
	raw, ok := f[key]
	if !ok {
		return 0
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil || n != math.Trunc(n) || n < float64(min) || n > float64(max) {
		p.add(state, "%s must be a whole number from %d to %d", key, min, max)
		return 0
	}
	return int(n)
}

func (p *parser) pathField(state string, f fields, key string) *path {
	s := p.str(state, f, key)
	if _, ok := f[key]; !ok {
		return nil
	}
	pp, err := compilePath(s)
	if err != nil {
		p.add(state, "%s: %v", key, err)
		return nil
	}
	return pp
}

func (p *parser) pathOrCallField(state string, f fields, key string) *pathOrCall {
	if _, ok := f[key]; !ok {
		return nil
	}
	s := p.str(state, f, key)
	pc, err := compilePathOrCall(s)
	if err != nil {
		p.add(state, "%s: %v", key, err)
		return nil
	}
	return pc
}

// optPathField decodes InputPath/OutputPath/ResultPath: absent means "$",
// null means "discard" (see optPath). reference requires a Reference Path.
func (p *parser) optPathField(state string, f fields, key string, reference bool) optPath {
	raw, ok := f[key]
	if !ok {
		return optPath{}
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return optPath{set: true, null: true}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(state, "%s must be a path string or null", key)
		return optPath{}
	}
	pp, err := compilePath(s)
	if err != nil {
		p.add(state, "%s: %v", key, err)
		return optPath{}
	}
	if reference && !pp.reference() {
		p.add(state, "%s %q must be a Reference Path: a single node named by fields and indexes only", key, s)
	}
	if pp.context {
		p.add(state, "%s may not refer to the context object", key)
	}
	return optPath{set: true, path: pp}
}

func (p *parser) templateField(state string, f fields, key string) *template {
	raw, ok := f[key]
	if !ok {
		return nil
	}
	t, errs := compileTemplate(decodeValue(raw), key)
	for _, e := range errs {
		p.add(state, "%s", e)
	}
	return t
}

func decodeValue(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// decodeStrict decodes JSON refusing duplicate object keys at the first level.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// parseTimestamp parses the RFC 3339 timestamps ASL uses (an uppercase T
// separator, a zone offset or Z).
func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

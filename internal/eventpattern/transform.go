package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Input is how a rule target shapes what it receives, as the members of the
// same names of an EventBridge target. At most one is set; none sends the
// whole event.
type Input struct {
	// Input is constant JSON text sent instead of the event.
	Input string `json:",omitempty"`
	// InputPath selects the part of the event sent, e.g. "$.detail".
	InputPath string `json:",omitempty"`
	// Transformer builds what is sent from parts of the event.
	Transformer *InputTransformer `json:",omitempty"`
}

// InputTransformer is an EventBridge target's InputTransformer.
type InputTransformer struct {
	// PathsMap names parts of the event: variable name to JSONPath
	// ("$.detail.ids[0]"). At most 100; names may not start with "aws.".
	PathsMap map[string]string `json:",omitempty"`
	// Template is the text sent, with <name> placeholders for the
	// variables of PathsMap and the predefined aws.events.rule-name,
	// aws.events.rule-arn, aws.events.event (the event without its
	// detail), aws.events.event.json (the whole event) and
	// aws.events.event.ingestion-time.
	Template string
}

// Meta is what the predefined template variables tell about a delivery.
type Meta struct {
	RuleName, RuleARN string
	// IngestionTime is when EventBridge received the event.
	IngestionTime time.Time
}

// InputError is an invalid target input.
type InputError struct {
	// Field names the member at fault: "Input", "InputPath",
	// "InputTransformer.InputTemplate",
	// "InputTransformer.InputPathsMap[name]".
	Field  string
	Reason string
}

func (e *InputError) Error() string { return "invalid target " + e.Field + ": " + e.Reason }

// Limits of InputTransformer, as in EventBridge.
const (
	maxPaths     = 100
	maxTemplate  = 8192
	maxInputPath = 256
)

var varNameRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// Transformer is a compiled target input, safe for concurrent use.
type Transformer struct {
	constant []byte   // Input
	path     jsonPath // InputPath
	hasPath  bool
	template string // InputTransformer
	paths    map[string]jsonPath
}

// CompileInput checks a target's input and compiles it.
func CompileInput(in Input) (*Transformer, error) {
	set := 0
	for _, b := range []bool{in.Input != "", in.InputPath != "", in.Transformer != nil} {
		if b {
			set++
		}
	}
	if set > 1 {
		return nil, &InputError{Field: "Input", Reason: "only one of Input, InputPath and InputTransformer may be set"}
	}
	t := &Transformer{}
	switch {
	case in.Input != "":
		if !json.Valid([]byte(in.Input)) {
			return nil, &InputError{Field: "Input", Reason: "not valid JSON text"}
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(in.Input))
		t.constant = buf.Bytes()
	case in.InputPath != "":
		if len(in.InputPath) > maxInputPath {
			return nil, &InputError{Field: "InputPath", Reason: fmt.Sprintf("longer than %d characters", maxInputPath)}
		}
		p, err := parsePath(in.InputPath)
		if err != nil {
			return nil, &InputError{Field: "InputPath", Reason: err.Error()}
		}
		t.path, t.hasPath = p, true
	case in.Transformer != nil:
		tr := in.Transformer
		if tr.Template == "" || len(tr.Template) > maxTemplate {
			return nil, &InputError{Field: "InputTransformer.InputTemplate", Reason: fmt.Sprintf("must be 1 to %d characters", maxTemplate)}
		}
		if len(tr.PathsMap) > maxPaths {
			return nil, &InputError{Field: "InputTransformer.InputPathsMap", Reason: fmt.Sprintf("more than %d variables", maxPaths)}
		}
		t.template, t.paths = tr.Template, map[string]jsonPath{}
		names := make([]string, 0, len(tr.PathsMap))
		for name := range tr.PathsMap {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			f := "InputTransformer.InputPathsMap[" + strconv.Quote(name) + "]"
			if !varNameRE.MatchString(name) {
				return nil, &InputError{Field: f, Reason: "a variable name is made of letters, digits, '_', '-' and '.'"}
			}
			if strings.HasPrefix(strings.ToLower(name), "aws.") {
				return nil, &InputError{Field: f, Reason: `variable names starting with "aws." are reserved`}
			}
			p, err := parsePath(tr.PathsMap[name])
			if err != nil {
				return nil, &InputError{Field: f, Reason: err.Error()}
			}
			t.paths[name] = p
		}
	}
	return t, nil
}

// Transform is CompileInput followed by Apply.
func Transform(event []byte, in Input, meta Meta) ([]byte, error) {
	t, err := CompileInput(in)
	if err != nil {
		return nil, err
	}
	return t.Apply(event, meta)
}

// Apply returns what the target receives for event (a JSON object):
//
//   - Input: that JSON text;
//   - InputPath: the value at that path, null where the event has none (a
//     path with a wildcard gives the array of the values it reaches);
//   - InputTransformer: the template with its placeholders replaced. A
//     placeholder outside a JSON string becomes the value as JSON (null for
//     a path the event does not have); inside a string it becomes the
//     value's text (a string as is, anything else as its JSON, nothing
//     for a missing path), escaped for the string. Placeholders naming no
//     variable stay as they are. The result is minified when it is JSON;
//     a template that is not JSON gives text;
//   - nothing set: the event.
func (t *Transformer) Apply(event []byte, meta Meta) ([]byte, error) {
	if t.constant != nil {
		return bytes.Clone(t.constant), nil
	}
	if !t.hasPath && t.paths == nil || t.hasPath && len(t.path) == 0 {
		return compact(event), nil // as written, keys in their order
	}
	ev, err := decodeOrdered(event)
	if err != nil {
		return nil, fmt.Errorf("event is not valid JSON: %w", err)
	}
	if t.hasPath {
		v, ok := t.path.eval(ev)
		if !ok {
			return []byte("null"), nil
		}
		return marshal(v), nil
	}
	return t.render(event, ev, meta), nil
}

// render fills the template in.
func (t *Transformer) render(raw []byte, ev any, meta Meta) []byte {
	lookup := func(name string) (any, bool, bool) { // value, present, known
		switch name {
		case "aws.events.rule-name":
			return meta.RuleName, true, true
		case "aws.events.rule-arn":
			return meta.RuleARN, true, true
		case "aws.events.event.ingestion-time":
			return meta.IngestionTime.UTC().Format("2006-01-02T15:04:05.000Z"), true, true
		case "aws.events.event.json":
			return json.RawMessage(compact(raw)), true, true
		case "aws.events.event":
			o, ok := ev.(*orderedObject)
			if !ok {
				return ev, true, true
			}
			c := &orderedObject{vals: map[string]any{}}
			for _, k := range o.keys {
				if k != "detail" {
					c.keys = append(c.keys, k)
					c.vals[k] = o.vals[k]
				}
			}
			return c, true, true
		}
		p, ok := t.paths[name]
		if !ok {
			return nil, false, false
		}
		v, found := p.eval(ev)
		return v, found, true
	}
	var out bytes.Buffer
	s := t.template
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '<' {
			if end := strings.IndexByte(s[i+1:], '>'); end >= 0 {
				name := s[i+1 : i+1+end]
				if v, present, known := lookup(name); known {
					switch {
					case inString && present:
						out.Write(escapeString(text(v)))
					case inString:
					case present:
						out.Write(marshal(v))
					default:
						out.WriteString("null")
					}
					i += end + 1
					escaped = false
					continue
				}
			}
		}
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return compact(out.Bytes())
}

// text is a value as it reads inside a string: a string's own text,
// anything else's JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(marshal(v))
}

// escapeString escapes s for the inside of a JSON string.
func escapeString(s string) []byte {
	b := marshal(s)
	return b[1 : len(b)-1]
}

// marshal encodes v as JSON without HTML escaping (a template's "<" stays
// "<").
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null") // not reached: v comes from decoding JSON
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// compact minifies b if it is JSON.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// jsonPath is the JSONPath subset EventBridge evaluates: $ followed by
// .member (letters, digits, '-', '_', '/', ... anything but '.', '[', ']'
// and space), [index] and wildcards (.* or [*]).
type jsonPath []pathStep

type pathStep struct {
	name     string
	index    int // for an index step (name == "" and !wildcard)
	wildcard bool
}

func parsePath(s string) (jsonPath, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("%q is not a JSONPath: it must start with $", s)
	}
	var p jsonPath
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			name := rest[1 : 1+end]
			if name == "" || strings.ContainsAny(name, "] \t\n") {
				return nil, fmt.Errorf("%q is not a JSONPath: bad member name %q", s, name)
			}
			p = append(p, pathStep{name: name, wildcard: name == "*"})
			rest = rest[1+end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%q is not a JSONPath: unclosed [", s)
			}
			inner := rest[1:end]
			if inner == "*" {
				p = append(p, pathStep{wildcard: true})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil || n < 0 || strings.HasPrefix(inner, "+") {
					return nil, fmt.Errorf("%q is not a JSONPath: [%s] is not an array index (members are written .name)", s, inner)
				}
				p = append(p, pathStep{index: n})
			}
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("%q is not a JSONPath: unexpected %q after %q", s, rest[0], s[:len(s)-len(rest)])
		}
	}
	return p, nil
}

// eval returns the value at the path, and whether there is one. A path
// with a wildcard returns the array of the values it reaches.
func (p jsonPath) eval(v any) (any, bool) {
	wild := slices.ContainsFunc(p, func(s pathStep) bool { return s.wildcard })
	vals := []any{v}
	for _, st := range p {
		var next []any
		for _, v := range vals {
			next = st.apply(v, next)
		}
		vals = next
	}
	switch {
	case wild:
		return vals, len(vals) > 0
	case len(vals) == 1:
		return vals[0], true
	}
	return nil, false
}

func (st pathStep) apply(v any, out []any) []any {
	switch x := v.(type) {
	case *orderedObject:
		if st.wildcard {
			for _, k := range x.keys {
				out = append(out, x.vals[k])
			}
		} else if e, ok := x.vals[st.name]; ok && st.name != "" {
			out = append(out, e)
		}
	case []any:
		switch {
		case st.wildcard:
			out = append(out, x...)
		case st.name == "" && st.index < len(x):
			out = append(out, x[st.index])
		}
	}
	return out
}

// orderedObject is a JSON object that keeps its members in their order, so
// that what a target receives reads as the event was written.
type orderedObject struct {
	keys []string
	vals map[string]any
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(marshal(k))
		buf.WriteByte(':')
		buf.Write(marshal(o.vals[k]))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// decodeOrdered parses one JSON value: objects as *orderedObject, arrays as
// []any, numbers as json.Number.
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &orderedObject{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string) // the decoder only gives strings as keys
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
		}
		_, err := dec.Token() // }
		return o, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ]
		return arr, err
	}
	return tok, nil // string, json.Number, bool or nil
}

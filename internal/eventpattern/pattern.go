// Package eventpattern implements Amazon EventBridge's event patterns and
// target input transformation on the standard library, for rotor's local
// endpoint (internal/localaws), so that a rule deployed to AWS selects and
// shapes the same events offline.
//
// # Matching
//
// Compile parses an event pattern and reports a malformed one as an *Error
// naming the JSON path of the offending part ("$.detail.state[0].prefix").
// (*Pattern).Match and MatchValue then tell whether an event matches. The
// semantics are those of the EventBridge user guide ("Event patterns",
// "Content filtering") and of its reference implementation, aws/event-ruler:
//
//   - A pattern is a non-empty JSON object. An event matches when every field
//     of the pattern matches (AND); "$or": [{...}, {...}, ...] (two or more
//     non-empty objects) matches when one of its objects does.
//   - A nested object descends into the event. An array is a leaf: it lists
//     the acceptable values (OR): strings, numbers (compared as numbers:
//     300 matches 3.0e2), true, false, null, and operator objects with
//     exactly one key: prefix, suffix (each a string or
//     {"equals-ignore-case": string}), equals-ignore-case, wildcard ("*"
//     for any run of characters, "\*" a literal star, "\\" a backslash;
//     "**" is refused), anything-but (a string, a number, a list of only
//     strings or only numbers, or {"prefix"|"suffix": non-empty string},
//     {"equals-ignore-case"|"wildcard": string or list of strings}),
//     numeric (["=", n], ["<"|"<="|">"|">=", n], or [">"|">=", lo,
//     "<"|"<=", hi] with lo < hi, constants within ±5.0e9), exists
//     (true|false) and cidr (an IPv4 or IPv6 prefix).
//   - A value the event holds as an array matches when one of its elements
//     does; an array of objects matches a nested pattern when one element
//     matches it whole (fields are not matched across different elements,
//     EventBridge's "array-consistent" matching).
//   - Operators apply to leaves only (strings, numbers, booleans, null). A
//     field holding an object is not a leaf: {"exists": false} matches it,
//     as it matches a missing field or an empty array; {"exists": true}
//     matches a field with at least one leaf value (null included).
//   - anything-but matches a leaf that its argument does not match, of any
//     type (anything-but "x" matches 5); it never matches a missing field.
//   - Strings compare exactly (case-sensitive, no normalization); prefix,
//     suffix, wildcard, equals-ignore-case and cidr match strings only,
//     numeric numbers only. equals-ignore-case folds Unicode case.
//
// Differences from EventBridge: an exact string that spells an IP address
// matches that string only (EventBridge also matches other spellings of the
// same address); numeric compares event values of any magnitude as
// float64 (EventBridge ignores values beyond ±5.0e9 and rounds to six
// decimals); {"exists": false} inside an array of objects holds when no
// element has the field; the pattern size and complexity quotas are not
// enforced.
//
// # Transformation
//
// CompileInput checks a rule target's Input, InputPath or InputTransformer
// (an *InputError names the faulty member); (*Transformer).Apply and
// Transform produce what the target receives, see their documentation.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a malformed event pattern.
type Error struct {
	// Path is the JSON path of the offending part: "$" for the whole
	// pattern, "$.detail.state[0]" for the first value of detail.state.
	Path string
	// Reason says what is wrong.
	Reason string
}

func (e *Error) Error() string { return "invalid event pattern at " + e.Path + ": " + e.Reason }

// Pattern is a compiled event pattern, safe for concurrent use.
type Pattern struct {
	root *object
}

// Numeric constants in patterns are limited to this magnitude, as in
// EventBridge.
const numericLimit = 5e9

// Operator names, which inside "$or" cannot be field names either.
var operators = []string{"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}

// Compile parses an event pattern.
func Compile(pattern []byte) (*Pattern, error) {
	v, err := decode(pattern)
	if err != nil {
		return nil, &Error{Path: "$", Reason: "not valid JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Path: "$", Reason: "an event pattern must be a JSON object"}
	}
	root, err := compileObject(m, "$", false)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// Match tells whether event, a JSON object, matches the pattern. An event
// that is not a JSON object is an error.
func (p *Pattern) Match(event []byte) (bool, error) {
	v, err := decode(event)
	if err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return false, errors.New("event is not a JSON object")
	}
	return p.MatchValue(v), nil
}

// MatchValue tells whether a decoded event matches: v is what encoding/json
// decodes into an any (map[string]any, []any, string, float64 or
// json.Number, bool, nil).
func (p *Pattern) MatchValue(v any) bool { return p.root.match(v, v) }

// decode parses one JSON value, keeping numbers as json.Number.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

// object is a pattern object: all fields must match, and one alternative
// of or (if any).
type object struct {
	fields []field
	or     []*object
}

// field is one member of a pattern object: a nested object or a leaf.
type field struct {
	name string
	sub  *object
	leaf *leaf
}

// leaf lists the acceptable values of a field.
type leaf struct {
	values []matcher
	exists []bool // {"exists": true|false} entries
}

// matcher is one acceptable value: it tells whether a leaf value (string,
// number, bool or nil) matches.
type matcher interface {
	match(v any) bool
}

func child(path, name string) string {
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			q, _ := json.Marshal(name)
			return path + "[" + string(q) + "]"
		}
	}
	if name == "" {
		return path + `[""]`
	}
	return path + "." + name
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func compileObject(m map[string]any, path string, inOr bool) (*object, error) {
	if len(m) == 0 {
		return nil, &Error{Path: path, Reason: "empty objects are not allowed"}
	}
	o := &object{}
	// Sorted, so that the first error reported is always the same one.
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		v, p := m[name], child(path, name)
		if name == "$or" {
			alts, err := compileOr(v, p)
			if err != nil {
				return nil, err
			}
			o.or = alts
			continue
		}
		if inOr && slices.Contains(operators, name) {
			return nil, &Error{Path: p, Reason: fmt.Sprintf("%q is an operator and cannot be a field name inside $or", name)}
		}
		switch x := v.(type) {
		case map[string]any:
			sub, err := compileObject(x, p, inOr)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: name, sub: sub})
		case []any:
			l, err := compileLeaf(x, p)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: name, leaf: l})
		default:
			return nil, &Error{Path: p, Reason: "must be an object or an array"}
		}
	}
	return o, nil
}

func compileOr(v any, path string) ([]*object, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, &Error{Path: path, Reason: "$or must be an array of objects"}
	}
	if len(arr) < 2 {
		return nil, &Error{Path: path, Reason: "$or needs at least 2 objects"}
	}
	alts := make([]*object, 0, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, &Error{Path: index(path, i), Reason: "only objects are allowed in $or"}
		}
		o, err := compileObject(m, index(path, i), true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, o)
	}
	return alts, nil
}

func compileLeaf(arr []any, path string) (*leaf, error) {
	if len(arr) == 0 {
		return nil, &Error{Path: path, Reason: "empty arrays are not allowed"}
	}
	l := &leaf{}
	for i, e := range arr {
		p := index(path, i)
		switch x := e.(type) {
		case map[string]any:
			if len(x) != 1 {
				return nil, &Error{Path: p, Reason: "a match expression must have exactly one key"}
			}
			for op, arg := range x {
				if op == "exists" {
					b, ok := arg.(bool)
					if !ok {
						return nil, &Error{Path: child(p, op), Reason: "exists must be true or false"}
					}
					l.exists = append(l.exists, b)
					continue
				}
				m, err := compileOperator(op, arg, child(p, op))
				if err != nil {
					return nil, err
				}
				l.values = append(l.values, m)
			}
		case []any:
			return nil, &Error{Path: p, Reason: "a match value must be a string, number, true, false, null or an object"}
		default:
			m, err := exact(x, p)
			if err != nil {
				return nil, err
			}
			l.values = append(l.values, m)
		}
	}
	return l, nil
}

// exact compiles a literal value.
func exact(v any, path string) (matcher, error) {
	switch x := v.(type) {
	case string:
		return exactString(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, &Error{Path: path, Reason: fmt.Sprintf("number %s is out of range", x)}
		}
		return exactNumber(f), nil
	}
	return exactLiteral{v}, nil // true, false, null
}

func compileOperator(op string, arg any, path string) (matcher, error) {
	switch op {
	case "prefix", "suffix":
		s, fold, err := affix(arg, path)
		if err != nil {
			return nil, err
		}
		if op == "prefix" {
			return prefixMatcher{s: s, fold: fold}, nil
		}
		return suffixMatcher{s: s, fold: fold}, nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, &Error{Path: path, Reason: "equals-ignore-case must be a string"}
		}
		return foldMatcher(s), nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, &Error{Path: path, Reason: "wildcard must be a string"}
		}
		return compileGlob(s, path)
	case "anything-but":
		return compileAnythingBut(arg, path)
	case "numeric":
		return compileNumeric(arg, path)
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return nil, &Error{Path: path, Reason: "cidr must be a string"}
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, &Error{Path: path, Reason: fmt.Sprintf("%q is not an IP address prefix (CIDR)", s)}
		}
		return cidrMatcher{p.Masked()}, nil
	}
	return nil, &Error{Path: path, Reason: fmt.Sprintf("unknown operator %q (want one of %s)", op, strings.Join(operators, ", "))}
}

// affix reads the argument of prefix and suffix: a string, or
// {"equals-ignore-case": string}.
func affix(arg any, path string) (string, bool, error) {
	switch x := arg.(type) {
	case string:
		return x, false, nil
	case map[string]any:
		if s, ok := x["equals-ignore-case"].(string); ok && len(x) == 1 {
			return s, true, nil
		}
	}
	return "", false, &Error{Path: path, Reason: `must be a string or {"equals-ignore-case": string}`}
}

func compileAnythingBut(arg any, path string) (matcher, error) {
	switch x := arg.(type) {
	case string, json.Number:
		m, err := exact(x, path)
		if err != nil {
			return nil, err
		}
		return not{m}, nil
	case []any:
		if len(x) == 0 {
			return nil, &Error{Path: path, Reason: "anything-but list must not be empty"}
		}
		var ms not
		var strs, nums int
		for i, e := range x {
			switch e.(type) {
			case string:
				strs++
			case json.Number:
				nums++
			default:
				return nil, &Error{Path: index(path, i), Reason: "anything-but lists hold strings or numbers only"}
			}
			m, err := exact(e, index(path, i))
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		if strs > 0 && nums > 0 {
			return nil, &Error{Path: path, Reason: "anything-but list must be all strings or all numbers"}
		}
		return ms, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, &Error{Path: path, Reason: "anything-but object must have exactly one key"}
		}
		for op, a := range x {
			p := child(path, op)
			switch op {
			case "prefix", "suffix":
				s, ok := a.(string)
				if !ok || s == "" {
					return nil, &Error{Path: p, Reason: "must be a non-empty string"}
				}
				if op == "prefix" {
					return not{prefixMatcher{s: s}}, nil
				}
				return not{suffixMatcher{s: s}}, nil
			case "equals-ignore-case", "wildcard":
				strs, err := stringOrList(a, p)
				if err != nil {
					return nil, err
				}
				_, list := a.([]any)
				var ms not
				for i, s := range strs {
					if op == "equals-ignore-case" {
						ms = append(ms, foldMatcher(s))
						continue
					}
					gp := p
					if list {
						gp = index(p, i)
					}
					g, err := compileGlob(s, gp)
					if err != nil {
						return nil, err
					}
					ms = append(ms, g)
				}
				return ms, nil
			}
			return nil, &Error{Path: p, Reason: fmt.Sprintf("unsupported anything-but operator %q (want prefix, suffix, equals-ignore-case or wildcard)", op)}
		}
	}
	return nil, &Error{Path: path, Reason: "anything-but must be a string, a number, a list of strings or numbers, or an object"}
}

func stringOrList(a any, path string) ([]string, error) {
	switch x := a.(type) {
	case string:
		return []string{x}, nil
	case []any:
		if len(x) == 0 {
			return nil, &Error{Path: path, Reason: "list must not be empty"}
		}
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, &Error{Path: index(path, i), Reason: "must be a string"}
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, &Error{Path: path, Reason: "must be a string or a list of strings"}
}

func compileNumeric(arg any, path string) (matcher, error) {
	arr, ok := arg.([]any)
	if !ok || (len(arr) != 2 && len(arr) != 4) {
		return nil, &Error{Path: path, Reason: `numeric must be [OPERATOR, NUMBER] or [">"|">=", NUMBER, "<"|"<=", NUMBER]`}
	}
	bound := func(i int) (string, float64, error) {
		op, ok := arr[i].(string)
		if !ok {
			return "", 0, &Error{Path: index(path, i), Reason: "must be an operator string"}
		}
		n, ok := arr[i+1].(json.Number)
		if !ok {
			return "", 0, &Error{Path: index(path, i+1), Reason: fmt.Sprintf("the value of %q must be a number", op)}
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.Abs(f) > numericLimit {
			return "", 0, &Error{Path: index(path, i+1), Reason: fmt.Sprintf("%s is outside the range of numeric matching (-5.0e9 to 5.0e9)", n)}
		}
		return op, f, nil
	}
	op, f, err := bound(0)
	if err != nil {
		return nil, err
	}
	r := numericMatcher{lo: math.Inf(-1), hi: math.Inf(1), loIn: true, hiIn: true}
	switch op {
	case "=":
		if len(arr) != 2 {
			return nil, &Error{Path: path, Reason: `"=" takes no second bound`}
		}
		r.lo, r.hi = f, f
		return r, nil
	case "<", "<=":
		if len(arr) != 2 {
			return nil, &Error{Path: path, Reason: fmt.Sprintf("an upper bound (%q) must come second", op)}
		}
		r.hi, r.hiIn = f, op == "<="
		return r, nil
	case ">", ">=":
		r.lo, r.loIn = f, op == ">="
	default:
		return nil, &Error{Path: index(path, 0), Reason: fmt.Sprintf("unknown numeric operator %q (want =, <, <=, > or >=)", op)}
	}
	if len(arr) == 2 {
		return r, nil
	}
	op, f, err = bound(2)
	if err != nil {
		return nil, err
	}
	if op != "<" && op != "<=" {
		return nil, &Error{Path: index(path, 2), Reason: fmt.Sprintf("the second bound must be < or <=, not %q", op)}
	}
	r.hi, r.hiIn = f, op == "<="
	if r.lo >= r.hi {
		return nil, &Error{Path: path, Reason: "the lower bound must be less than the upper bound"}
	}
	return r, nil
}

// Matchers.

type exactString string

func (m exactString) match(v any) bool { s, ok := v.(string); return ok && s == string(m) }

type exactNumber float64

func (m exactNumber) match(v any) bool { f, ok := number(v); return ok && f == float64(m) }

// exactLiteral is true, false or null.
type exactLiteral struct{ v any }

func (m exactLiteral) match(v any) bool {
	switch v.(type) {
	case bool, nil:
		return v == m.v
	}
	return false
}

type prefixMatcher struct {
	s    string
	fold bool
}

func (m prefixMatcher) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if m.fold {
		return hasPrefixFold(s, m.s)
	}
	return strings.HasPrefix(s, m.s)
}

type suffixMatcher struct {
	s    string
	fold bool
}

func (m suffixMatcher) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if m.fold {
		return hasSuffixFold(s, m.s)
	}
	return strings.HasSuffix(s, m.s)
}

type foldMatcher string

func (m foldMatcher) match(v any) bool {
	s, ok := v.(string)
	return ok && strings.EqualFold(s, string(m))
}

// not is anything-but: a leaf none of its matchers match.
type not []matcher

func (m not) match(v any) bool {
	for _, x := range m {
		if x.match(v) {
			return false
		}
	}
	return true
}

type numericMatcher struct {
	lo, hi     float64
	loIn, hiIn bool // inclusive bounds
}

func (m numericMatcher) match(v any) bool {
	f, ok := number(v)
	if !ok {
		return false
	}
	return (f > m.lo || m.loIn && f == m.lo) && (f < m.hi || m.hiIn && f == m.hi)
}

type cidrMatcher struct{ p netip.Prefix }

func (m cidrMatcher) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && m.p.Contains(a.Unmap())
}

// number reads a JSON number as decoded by encoding/json.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

// hasPrefixFold is strings.HasPrefix under Unicode case folding.
func hasPrefixFold(s, prefix string) bool {
	for _, pr := range prefix {
		if s == "" {
			return false
		}
		sr, n := utf8.DecodeRuneInString(s)
		if !strings.EqualFold(string(sr), string(pr)) {
			return false
		}
		s = s[n:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix under Unicode case folding.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !strings.EqualFold(string(sr), string(pr)) {
			return false
		}
		suffix, s = suffix[:len(suffix)-pn], s[:len(s)-sn]
	}
	return true
}

// glob is a wildcard pattern: the literal parts between its stars.
type glob struct{ parts []string }

func compileGlob(s, path string) (*glob, error) {
	var parts []string
	var cur strings.Builder
	star := false // the previous character was an unescaped star
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if star {
				return nil, &Error{Path: path, Reason: "consecutive wildcard characters are not allowed"}
			}
			parts = append(parts, cur.String())
			cur.Reset()
			star = true
			continue
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return nil, &Error{Path: path, Reason: `a backslash may only escape "*" or "\"`}
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(c)
		}
		star = false
	}
	return &glob{parts: append(parts, cur.String())}, nil
}

func (g *glob) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(g.parts) == 1 {
		return s == first
	}
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	// The middle parts, leftmost first, in what lies between: taking each
	// at its first occurrence leaves the most room for the rest.
	s = s[len(first) : len(s)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// Matching.

// match tells whether v matches the object. whole is the event value at the
// same place before arrays were split into their elements: {"exists":
// false} is checked against it, so that it fails when any element has the
// field.
func (o *object) match(v, whole any) bool {
	switch x := v.(type) {
	case []any:
		var objs []any
		for _, e := range x {
			if _, ok := e.(map[string]any); ok {
				objs = append(objs, e)
			} else if _, ok := e.([]any); ok {
				objs = append(objs, e)
			}
		}
		if len(objs) == 0 {
			return o.matchFields(nil, whole)
		}
		for _, e := range objs {
			if o.match(e, whole) {
				return true
			}
		}
		return false
	case map[string]any:
		return o.matchFields(x, whole)
	}
	return o.matchFields(nil, whole)
}

func (o *object) matchFields(m map[string]any, whole any) bool {
	for _, f := range o.fields {
		v, ok := m[f.name]
		var fv any = missing{}
		if ok {
			fv = v
		}
		w := collect(whole, f.name)
		if f.sub != nil {
			if !f.sub.match(fv, w) {
				return false
			}
		} else if !f.leaf.match(fv, w) {
			return false
		}
	}
	if o.or == nil {
		return true
	}
	for _, alt := range o.or {
		if alt.match(m, whole) {
			return true
		}
	}
	return false
}

// missing stands for a field the event does not have.
type missing struct{}

// collect gathers the values of field name in v and in the objects of v's
// arrays.
func collect(v any, name string) any {
	switch x := v.(type) {
	case map[string]any:
		if fv, ok := x[name]; ok {
			return fv
		}
	case []any:
		var out []any
		for _, e := range x {
			if c := collect(e, name); c != (missing{}) {
				out = append(out, c)
			}
		}
		if out != nil {
			return out
		}
	}
	return missing{}
}

// leaves appends the leaf values of v: v itself if it is a string, number,
// bool or null, the leaves of its elements if it is an array.
func leaves(v any, out []any) []any {
	switch x := v.(type) {
	case missing, map[string]any:
		return out
	case []any:
		for _, e := range x {
			out = leaves(e, out)
		}
		return out
	}
	return append(out, v)
}

func (l *leaf) match(v, whole any) bool {
	ls := leaves(v, nil)
	for _, want := range l.exists {
		if want && len(ls) > 0 || !want && len(leaves(whole, nil)) == 0 {
			return true
		}
	}
	for _, x := range ls {
		for _, m := range l.values {
			if m.match(x) {
				return true
			}
		}
	}
	return false
}

package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Rule is a Choice rule: a boolean combination (And, Or, Not) or one
// comparison of the value at Variable.
type Rule struct {
	Next     string
	And, Or  []*Rule
	Not      *Rule
	Variable *path
	Op       string
	Value    any   // the literal operand
	Operand  *path // the operand of a ...Path comparison
	pattern  *regexp.Regexp
	stamp    time.Time // Timestamp* literal, parsed once
}

// comparisons maps each operator to the JSON type of its literal operand.
var comparisons = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

func isTypeTest(op string) bool { return strings.HasPrefix(op, "Is") }

func (p *parser) choice(s *State, f fields) {
	s.Default = p.str(s.Name, f, "Default")
	raw, ok := f["Choices"]
	var list []map[string]json.RawMessage
	if !ok || decodeStrict(raw, &list) != nil || len(list) == 0 {
		p.add(s.Name, "Choices must be a non-empty array of rules")
		return
	}
	for i, r := range list {
		rule := p.rule(s.Name, fmt.Sprintf("Choices[%d]", i), r, true)
		if rule != nil {
			s.Choices = append(s.Choices, rule)
		}
	}
}

func (p *parser) rule(state, where string, f map[string]json.RawMessage, top bool) *Rule {
	r := &Rule{}
	if _, ok := f["Next"]; ok {
		if !top {
			p.add(state, "%s: a nested rule may not have Next", where)
		}
		r.Next = p.str(state, f, "Next")
	} else if top {
		p.add(state, "%s: Next is required", where)
	}
	var ops []string
	for k := range f {
		switch k {
		case "Next", "Comment", "Variable":
		case "And", "Or", "Not":
			ops = append(ops, k)
		default:
			if _, ok := comparisons[strings.TrimSuffix(k, "Path")]; ok || comparisons[k] != "" {
				ops = append(ops, k)
			} else {
				p.add(state, "%s: %q is not a comparison operator", where, k)
			}
		}
	}
	if len(ops) != 1 {
		p.add(state, "%s: a rule needs exactly one of And, Or, Not or a comparison operator, found %d", where, len(ops))
		return nil
	}
	op := ops[0]
	switch op {
	case "And", "Or":
		var subs []map[string]json.RawMessage
		if decodeStrict(f[op], &subs) != nil || len(subs) == 0 {
			p.add(state, "%s: %s must be a non-empty array of rules", where, op)
			return nil
		}
		if _, ok := f["Variable"]; ok {
			p.add(state, "%s: %s may not have a Variable", where, op)
		}
		for i, sub := range subs {
			if sr := p.rule(state, fmt.Sprintf("%s.%s[%d]", where, op, i), sub, false); sr != nil {
				if op == "And" {
					r.And = append(r.And, sr)
				} else {
					r.Or = append(r.Or, sr)
				}
			}
		}
		return r
	case "Not":
		var sub map[string]json.RawMessage
		if decodeStrict(f[op], &sub) != nil {
			p.add(state, "%s: Not must be a rule", where)
			return nil
		}
		r.Not = p.rule(state, where+".Not", sub, false)
		return r
	}
	r.Op = op
	vraw, ok := f["Variable"]
	var vs string
	if !ok || json.Unmarshal(vraw, &vs) != nil {
		p.add(state, "%s: Variable is required and must be a path", where)
		return nil
	}
	var err error
	if r.Variable, err = compilePath(vs); err != nil {
		p.add(state, "%s: Variable: %v", where, err)
		return nil
	}
	raw := f[op]
	if base, isPath := strings.CutSuffix(op, "Path"); isPath && comparisons[base] != "" && !isTypeTest(base) && base != "StringMatches" {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			p.add(state, "%s: %s must be a path", where, op)
			return nil
		}
		if r.Operand, err = compilePath(s); err != nil {
			p.add(state, "%s: %s: %v", where, op, err)
			return nil
		}
		return r
	}
	kind := comparisons[op]
	if kind == "" {
		p.add(state, "%s: %q is not a comparison operator", where, op)
		return nil
	}
	_ = json.Unmarshal(raw, &r.Value)
	switch kind {
	case "string":
		s, ok := r.Value.(string)
		if !ok {
			p.add(state, "%s: %s needs a string", where, op)
		}
		if op == "StringMatches" {
			r.pattern = compileMatch(s)
		}
	case "number":
		if _, ok := r.Value.(float64); !ok {
			p.add(state, "%s: %s needs a number", where, op)
		}
	case "boolean":
		if _, ok := r.Value.(bool); !ok {
			p.add(state, "%s: %s needs true or false", where, op)
		}
	case "timestamp":
		s, _ := r.Value.(string)
		t, err := parseTimestamp(s)
		if err != nil {
			p.add(state, "%s: %s needs an RFC 3339 timestamp", where, op)
		}
		r.stamp = t
	}
	return r
}

// eval evaluates a rule against the state's effective input.
func (r *Rule) eval(env *evalEnv) (bool, error) {
	switch {
	case r.And != nil:
		for _, s := range r.And {
			ok, err := s.eval(env)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.Or != nil:
		for _, s := range r.Or {
			ok, err := s.eval(env)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := r.Not.eval(env)
		return !ok, err
	}
	v, found := r.Variable.get(env)
	if r.Op == "IsPresent" {
		return found == r.Value.(bool), nil
	}
	if !found {
		return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.Variable.raw)
	}
	if isTypeTest(r.Op) {
		var is bool
		switch r.Op {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			_, is = v.(float64)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			s, ok := v.(string)
			_, err := parseTimestamp(s)
			is = ok && err == nil
		}
		return is == r.Value.(bool), nil
	}
	op := r.Op
	operand := r.Value
	if r.Operand != nil {
		var ok bool
		if operand, ok = r.Operand.get(env); !ok {
			return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.Operand.raw)
		}
		op = strings.TrimSuffix(op, "Path")
	}
	switch {
	case op == "StringMatches":
		s, ok := v.(string)
		return ok && r.pattern.MatchString(s), nil
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && compare(op[len("String"):], strings.Compare(a, b)), nil
	case strings.HasPrefix(op, "Numeric"):
		a, ok1 := v.(float64)
		b, ok2 := operand.(float64)
		if !ok1 || !ok2 || math.IsNaN(a) || math.IsNaN(b) {
			return false, nil
		}
		c := 0
		if a < b {
			c = -1
		} else if a > b {
			c = 1
		}
		return compare(op[len("Numeric"):], c), nil
	case op == "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case strings.HasPrefix(op, "Timestamp"):
		s, ok := v.(string)
		a, err := parseTimestamp(s)
		if !ok || err != nil {
			return false, nil
		}
		b := r.stamp
		if r.Operand != nil {
			s2, ok := operand.(string)
			var err error
			if b, err = parseTimestamp(s2); !ok || err != nil {
				return false, nil
			}
		}
		return compare(op[len("Timestamp"):], a.Compare(b)), nil
	}
	return false, nil
}

func compare(rel string, c int) bool {
	switch rel {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// compileMatch turns a StringMatches pattern into a regular expression:
// "*" matches any run of characters, "\*" a literal star and "\\" a
// literal backslash. RE2 keeps matching linear in the input.
func compileMatch(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	var lit strings.Builder
	flush := func() {
		b.WriteString(regexp.QuoteMeta(lit.String()))
		lit.Reset()
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\'):
			lit.WriteByte(p[i+1])
			i++
		case c == '*':
			flush()
			b.WriteString(".*")
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

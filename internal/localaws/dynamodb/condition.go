package dynamodb

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// This file holds the ConditionExpression language, as far as rotor's local endpoint implements it:
//
//   - attribute_exists(path) and attribute_not_exists(path);
//   - comparisons = <> < <= > >= between paths and :values. = and <> hold
//     any types (equal means same type and same value; sets compare
//     without order); < <= > >= compare two S (by UTF-8 bytes), two N (by
//     value) or two B (by bytes), and are false for any other pair,
//     missing attributes included; <> is true when a side is missing;
//   - AND, OR, NOT and parentheses, with DynamoDB's precedence (NOT, then
//     AND, then OR);
//   - paths of names, #names, .member and [index] elements.
//
// BETWEEN, IN, attribute_type, begins_with, contains and size are refused
// with a ValidationException naming them, as is anything else: a condition
// is never passed over. Unlike DynamoDB, bare names that are DynamoDB
// reserved words are not refused.

// ddbCondition is a compiled ConditionExpression.
type ddbCondition struct{ root ddbCond }

// eval tells whether the condition holds for it (nil: no item).
func (c *ddbCondition) eval(it ddbItem) bool { return c.root.eval(it) }

type ddbCond interface{ eval(it ddbItem) bool }

type (
	ddbAnd    struct{ l, r ddbCond }
	ddbOr     struct{ l, r ddbCond }
	ddbNot    struct{ c ddbCond }
	ddbExists struct {
		path ddbPath
		want bool
	}
	ddbCompare struct {
		op   string
		l, r ddbOperand
	}
)

func (c ddbAnd) eval(it ddbItem) bool { return c.l.eval(it) && c.r.eval(it) }
func (c ddbOr) eval(it ddbItem) bool  { return c.l.eval(it) || c.r.eval(it) }
func (c ddbNot) eval(it ddbItem) bool { return !c.c.eval(it) }

func (c ddbExists) eval(it ddbItem) bool {
	_, ok := c.path.resolve(it)
	return ok == c.want
}

func (c ddbCompare) eval(it ddbItem) bool {
	l, lok := c.l.resolve(it)
	r, rok := c.r.resolve(it)
	if c.op == "<>" {
		return !lok || !rok || !l.equal(r)
	}
	if !lok || !rok {
		return false
	}
	if c.op == "=" {
		return l.equal(r)
	}
	n, ok := l.compare(r)
	if !ok {
		return false
	}
	switch c.op {
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	}
	return n >= 0 // ">="
}

// ddbOperand is a path or a :value.
type ddbOperand struct {
	path  ddbPath   // nil for a value
	value *ddbValue // nil for a path
}

func (o ddbOperand) resolve(it ddbItem) (ddbValue, bool) {
	if o.value != nil {
		return *o.value, true
	}
	return o.path.resolve(it)
}

// ddbPath is a document path: a top-level attribute name, then map
// members (name) and list elements (index >= 0).
type ddbPath []ddbPathElem

type ddbPathElem struct {
	name  string
	index int // -1 for a name
}

func (p ddbPath) resolve(it ddbItem) (ddbValue, bool) {
	raw, ok := it[p[0].name]
	if !ok {
		return ddbValue{}, false
	}
	v, err := parseDDBValue(raw, p[0].name, 0)
	if err != nil {
		return ddbValue{}, false
	}
	for _, e := range p[1:] {
		switch {
		case e.index < 0 && v.t == "M":
			if v, ok = v.m[e.name]; !ok {
				return ddbValue{}, false
			}
		case e.index >= 0 && v.t == "L" && e.index < len(v.l):
			v = v.l[e.index]
		default:
			return ddbValue{}, false
		}
	}
	return v, true
}

const ddbMaxExpression = 4096

// ddbSupported is what a refusal says the endpoint supports.
const ddbSupported = "rotor's local DynamoDB supports attribute_exists, attribute_not_exists, = <> < <= > >=, AND, OR, NOT and parentheses"

// compileCondition parses a ConditionExpression, resolving its #names and
// :values, and checks, as DynamoDB does, that every placeholder it uses is
// defined and every one defined is used.
func compileCondition(expr string, names map[string]string, values map[string]jsontext.Value) (*ddbCondition, error) {
	switch {
	case strings.TrimSpace(expr) == "":
		return nil, ddbValidation("Invalid ConditionExpression: The expression can not be empty;")
	case len(expr) > ddbMaxExpression:
		return nil, ddbValidation("Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: %d", len(expr))
	case names != nil && len(names) == 0:
		return nil, ddbValidation("ExpressionAttributeNames must not be empty")
	case values != nil && len(values) == 0:
		return nil, ddbValidation("ExpressionAttributeValues must not be empty")
	}
	p := &ddbParser{names: names, values: map[string]*ddbValue{}, used: map[string]bool{}}
	for k, name := range names {
		if !ddbPlaceholderRE.MatchString(k) || k[0] != '#' {
			return nil, ddbValidation("ExpressionAttributeNames contains invalid key: Syntax error; key: %q", k)
		}
		if name == "" {
			return nil, ddbValidation("ExpressionAttributeNames contains invalid value: Empty attribute name for key %s", k)
		}
	}
	for k, raw := range values {
		if !ddbPlaceholderRE.MatchString(k) || k[0] != ':' {
			return nil, ddbValidation("ExpressionAttributeValues contains invalid key: Syntax error; key: %q", k)
		}
		v, err := parseDDBValue(raw, "ExpressionAttributeValues."+k, 0)
		if err != nil {
			return nil, err
		}
		p.values[k] = &v
	}
	toks, err := ddbTokens(expr)
	if err != nil {
		return nil, err
	}
	p.toks = toks
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != ddbEOF {
		return nil, p.syntax(t)
	}
	for _, set := range []struct {
		member string
		keys   []string
	}{{"ExpressionAttributeNames", slices.Collect(maps.Keys(names))}, {"ExpressionAttributeValues", slices.Collect(maps.Keys(values))}} {
		var unused []string
		for _, k := range set.keys {
			if !p.used[k] {
				unused = append(unused, k)
			}
		}
		if len(unused) > 0 {
			slices.Sort(unused)
			return nil, ddbValidation("Value provided in %s unused in expressions: keys: {%s}", set.member, strings.Join(unused, ", "))
		}
	}
	return &ddbCondition{root: root}, nil
}

var ddbPlaceholderRE = regexp.MustCompile(`^[#:][A-Za-z0-9_]+$`)

type ddbTokenKind int

const (
	ddbEOF     ddbTokenKind = iota
	ddbIdent                // a bare name or keyword
	ddbName                 // #name
	ddbValueTk              // :value
	ddbNumber               // digits, inside [ ]
	ddbPunct                // ( ) , . [ ] and comparators
)

type ddbToken struct {
	kind ddbTokenKind
	text string
	pos  int
}

var ddbTokenRE = regexp.MustCompile(`^(?:([A-Za-z_][A-Za-z0-9_]*)|(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([0-9]+)|(<>|<=|>=|[=<>(),.\[\]]))`)

func ddbTokens(expr string) ([]ddbToken, error) {
	var toks []ddbToken
	for i := 0; i < len(expr); {
		if c := expr[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		m := ddbTokenRE.FindStringSubmatchIndex(expr[i:])
		if m == nil {
			return nil, ddbValidation("Invalid ConditionExpression: Syntax error; token: %q, near: %q", expr[i:i+1], ddbNear(expr, i))
		}
		kind := ddbIdent
		for g := 1; g <= 5; g++ {
			if m[2*g] >= 0 {
				kind = []ddbTokenKind{ddbIdent, ddbName, ddbValueTk, ddbNumber, ddbPunct}[g-1]
			}
		}
		toks = append(toks, ddbToken{kind: kind, text: expr[i : i+m[1]], pos: i})
		i += m[1]
	}
	return append(toks, ddbToken{kind: ddbEOF, text: "<EOF>", pos: len(expr)}), nil
}

// ddbNear is the text around pos, for syntax errors (an expression holds
// names and placeholders, never values).
func ddbNear(expr string, pos int) string {
	from, to := max(pos-10, 0), min(pos+10, len(expr))
	return expr[from:to]
}

type ddbParser struct {
	toks   []ddbToken
	i      int
	names  map[string]string
	values map[string]*ddbValue
	used   map[string]bool
}

func (p *ddbParser) peek() ddbToken { return p.toks[p.i] }

func (p *ddbParser) next() ddbToken {
	t := p.toks[p.i]
	if t.kind != ddbEOF {
		p.i++
	}
	return t
}

func (p *ddbParser) keyword(t ddbToken, kw string) bool {
	return t.kind == ddbIdent && strings.EqualFold(t.text, kw)
}

func (p *ddbParser) punct(t ddbToken, s string) bool { return t.kind == ddbPunct && t.text == s }

func (p *ddbParser) syntax(t ddbToken) error {
	near := t.text
	if t.pos > 0 && t.kind != ddbEOF {
		near = p.toks[max(p.i-2, 0)].text + " " + t.text
	} else if t.kind == ddbEOF && p.i > 0 {
		near = p.toks[p.i-1].text
	}
	return ddbValidation("Invalid ConditionExpression: Syntax error; token: %q, near: %q", t.text, near)
}

func (p *ddbParser) or() (ddbCond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "OR") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = ddbOr{l, r}
	}
	return l, nil
}

func (p *ddbParser) and() (ddbCond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.keyword(p.peek(), "AND") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = ddbAnd{l, r}
	}
	return l, nil
}

func (p *ddbParser) not() (ddbCond, error) {
	if p.keyword(p.peek(), "NOT") {
		p.next()
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return ddbNot{c}, nil
	}
	return p.primary()
}

// ddbFunctions are DynamoDB's condition functions (case-sensitive names).
var ddbFunctions = map[string]bool{"attribute_exists": true, "attribute_not_exists": true,
	"attribute_type": false, "begins_with": false, "contains": false, "size": false}

func (p *ddbParser) primary() (ddbCond, error) {
	t := p.peek()
	if p.punct(t, "(") {
		p.next()
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := p.next(); !p.punct(t, ")") {
			return nil, p.syntax(t)
		}
		return c, nil
	}
	if t.kind == ddbIdent && p.punct(p.toks[p.i+1], "(") {
		return p.function()
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	op := p.next()
	switch {
	case p.keyword(op, "BETWEEN"), p.keyword(op, "IN"):
		return nil, ddbValidation("Invalid ConditionExpression: %s is not supported: %s", strings.ToUpper(op.text), ddbSupported)
	case op.kind != ddbPunct || !slices.Contains([]string{"=", "<>", "<", "<=", ">", ">="}, op.text):
		return nil, p.syntax(op)
	}
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	if op.text != "=" && op.text != "<>" {
		for _, o := range []ddbOperand{l, r} {
			if o.value != nil && o.value.t != "S" && o.value.t != "N" && o.value.t != "B" {
				return nil, ddbValidation("Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op.text, o.value.t)
			}
		}
	}
	return ddbCompare{op: op.text, l: l, r: r}, nil
}

func (p *ddbParser) function() (ddbCond, error) {
	name := p.next().text
	supported, known := ddbFunctions[name]
	switch {
	case !known:
		return nil, ddbValidation("Invalid ConditionExpression: Invalid function name; function: %s", name)
	case !supported:
		return nil, ddbValidation("Invalid ConditionExpression: the function %s is not supported: %s", name, ddbSupported)
	}
	p.next() // (
	var args []ddbOperand
	for {
		a, err := p.operand()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		t := p.next()
		if p.punct(t, ")") {
			break
		}
		if !p.punct(t, ",") {
			return nil, p.syntax(t)
		}
	}
	if len(args) != 1 {
		return nil, ddbValidation("Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", name, len(args))
	}
	if args[0].value != nil {
		return nil, ddbValidation("Invalid ConditionExpression: Operator or function requires a document path; operator or function: %s", name)
	}
	return ddbExists{path: args[0].path, want: name == "attribute_exists"}, nil
}

// operand parses a :value or a path.
func (p *ddbParser) operand() (ddbOperand, error) {
	t := p.next()
	switch {
	case t.kind == ddbValueTk:
		v, ok := p.values[t.text]
		if !ok {
			return ddbOperand{}, ddbValidation("Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: %s", t.text)
		}
		p.used[t.text] = true
		return ddbOperand{value: v}, nil
	case t.kind == ddbIdent && p.punct(p.peek(), "("):
		if _, known := ddbFunctions[t.text]; known {
			return ddbOperand{}, ddbValidation("Invalid ConditionExpression: the function %s is not supported here: %s", t.text, ddbSupported)
		}
		return ddbOperand{}, ddbValidation("Invalid ConditionExpression: Invalid function name; function: %s", t.text)
	}
	var path ddbPath
	name, err := p.pathName(t)
	if err != nil {
		return ddbOperand{}, err
	}
	path = append(path, ddbPathElem{name, -1})
	for {
		switch t := p.peek(); {
		case p.punct(t, "."):
			p.next()
			name, err := p.pathName(p.next())
			if err != nil {
				return ddbOperand{}, err
			}
			path = append(path, ddbPathElem{name, -1})
		case p.punct(t, "["):
			p.next()
			n := p.next()
			if n.kind != ddbNumber {
				return ddbOperand{}, p.syntax(n)
			}
			i, err := strconv.Atoi(n.text)
			if err != nil {
				return ddbOperand{}, p.syntax(n)
			}
			if t := p.next(); !p.punct(t, "]") {
				return ddbOperand{}, p.syntax(t)
			}
			path = append(path, ddbPathElem{"", i})
		default:
			return ddbOperand{path: path}, nil
		}
	}
}

// pathName resolves one name of a path: a bare name (not a keyword) or a
// #name.
func (p *ddbParser) pathName(t ddbToken) (string, error) {
	switch t.kind {
	case ddbName:
		name, ok := p.names[t.text]
		if !ok {
			return "", ddbValidation("Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: %s", t.text)
		}
		p.used[t.text] = true
		return name, nil
	case ddbIdent:
		for _, kw := range []string{"AND", "OR", "NOT", "BETWEEN", "IN"} {
			if strings.EqualFold(t.text, kw) {
				return "", p.syntax(t)
			}
		}
		return t.text, nil
	}
	return "", p.syntax(t)
}

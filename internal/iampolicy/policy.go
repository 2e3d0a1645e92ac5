package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy is an identity-based policy document, parsed and checked once so
// that it decides many requests without parsing anything again: the local
// endpoint keeps one per inline policy of a role and evaluates every
// request against them. It decides as Evaluate does, statement for
// statement (the differential test checks both against iam-simulate).
type Policy struct {
	statements []compiled
}

// compiled is a statement with its values resolved and lower-cased where
// IAM compares without regard to case.
type compiled struct {
	sid       string
	deny      bool
	actions   []string // lower case
	resources []string
	conds     []compiledCondition
}

type compiledCondition struct {
	op       string // as written, for errors
	set      string // "", "ForAnyValue" or "ForAllValues"
	key      string
	null     bool // the Null operator: wantNull tells "true"
	wantNull bool
	match    func(pattern, value string) bool
	negated  bool
	patterns []string
}

// Decision is what a set of identity policies says about a request.
type Decision int

const (
	// ImplicitDeny: no statement allows the request, none denies it.
	ImplicitDeny Decision = iota
	// Allowed: some Allow statement covers the request, no Deny does.
	Allowed
	// ExplicitDeny: a Deny statement covers the request.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicitly denied"
	}
	return "implicitly denied"
}

// document is a policy document's top level; any other member is an
// error, as IAM refuses it.
type document struct {
	Version   string          `json:"Version"`
	ID        string          `json:"Id"`
	Statement json.RawMessage `json:"Statement"`
}

// ParseDocument reads a policy document (identity or resource policy):
// {"Version", "Id", "Statement"}, Statement one object or a list. Unknown
// members, in the document or a statement, are errors. It checks the shape
// only; NewPolicy checks what an identity policy may hold.
func ParseDocument(doc string) ([]Statement, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	var d document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not a policy document: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a policy document: data after the JSON object")
	}
	switch d.Version {
	case "", "2012-10-17", "2008-10-17":
	default:
		return nil, fmt.Errorf("the Version %q is not 2012-10-17 or 2008-10-17", d.Version)
	}
	raw := bytes.TrimSpace(d.Statement)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("the document has no Statement")
	}
	var sts []Statement
	if raw[0] != '[' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	sdec := json.NewDecoder(bytes.NewReader(raw))
	sdec.DisallowUnknownFields()
	if err := sdec.Decode(&sts); err != nil {
		return nil, fmt.Errorf("Statement: %w", err)
	}
	if len(sts) == 0 {
		return nil, errors.New("the document has no Statement")
	}
	if d.Version == "2012-10-17" && strings.Contains(doc, "${") {
		// ${aws:username} and the like would need the request's values;
		// compared as text they would decide wrongly.
		return nil, errors.New("policy variables (${...}) are not modelled")
	}
	return sts, nil
}

// ParsePolicy parses and compiles an identity-based policy document (see
// ParseDocument and NewPolicy).
func ParsePolicy(doc string) (*Policy, error) {
	sts, err := ParseDocument(doc)
	if err != nil {
		return nil, err
	}
	return NewPolicy(sts, Strings)
}

// NewPolicy compiles identity-policy statements, resolving every value
// with resolve (nil: Strings). Whatever Evaluate would refuse is refused
// here, at once, for every statement: Principal (identity policies have
// none), NotAction, NotResource, NotPrincipal, an Effect other than Allow
// or Deny, a missing Action or Resource, an operator that is not modelled,
// a Null whose value is not "true" or "false".
func NewPolicy(sts []Statement, resolve Resolver) (*Policy, error) {
	if resolve == nil {
		resolve = Strings
	}
	p := &Policy{statements: make([]compiled, 0, len(sts))}
	for i, st := range sts {
		name := st.Sid
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		c, err := compile(st, resolve)
		if err != nil {
			return nil, fmt.Errorf("statement %s: %w", name, err)
		}
		c.sid = name
		p.statements = append(p.statements, c)
	}
	return p, nil
}

func compile(st Statement, resolve Resolver) (compiled, error) {
	var c compiled
	switch {
	case st.NotAction != nil || st.NotResource != nil || st.NotPrincipal != nil:
		return c, errors.New("the elements NotAction, NotResource and NotPrincipal are not modelled")
	case st.Principal != nil:
		return c, errors.New("an identity-based policy has no Principal")
	case st.Effect != "Allow" && st.Effect != "Deny":
		return c, fmt.Errorf("the Effect %q is not Allow or Deny", st.Effect)
	case st.Action == nil:
		return c, errors.New("no Action")
	case st.Resource == nil:
		return c, errors.New("no Resource")
	}
	c.deny = st.Effect == "Deny"
	actions, err := resolveAll(resolve, st.Action)
	if err != nil {
		return c, fmt.Errorf("the Action: %w", err)
	}
	for _, a := range actions {
		c.actions = append(c.actions, strings.ToLower(a))
	}
	if c.resources, err = resolveAll(resolve, st.Resource); err != nil {
		return c, fmt.Errorf("the Resource: %w", err)
	}
	if len(c.actions) == 0 || len(c.resources) == 0 {
		return c, errors.New("an empty Action or Resource")
	}
	for op, keys := range st.Condition {
		set, base := "", op
		if prefix, rest, ok := strings.Cut(op, ":"); ok {
			set, base = prefix, rest
		}
		if set != "" && set != "ForAnyValue" && set != "ForAllValues" {
			return c, fmt.Errorf("condition operator %s is not modelled", op)
		}
		for key, want := range keys {
			cc := compiledCondition{op: op, set: set, key: key}
			vals, err := resolveAll(resolve, want)
			if err != nil {
				return c, fmt.Errorf("%s %s: %w", op, key, err)
			}
			if base == "Null" {
				if set != "" || len(vals) != 1 || (vals[0] != "true" && vals[0] != "false") {
					return c, fmt.Errorf("the Null operator on %s wants \"true\" or \"false\"", key)
				}
				cc.null, cc.wantNull = true, vals[0] == "true"
			} else {
				o, known := operators[base]
				if !known {
					return c, fmt.Errorf("condition operator %s is not modelled", op)
				}
				cc.match, cc.negated, cc.patterns = o.match, o.negated, vals
			}
			c.conds = append(c.conds, cc)
		}
	}
	return c, nil
}

// Decide evaluates the request against the policy alone.
func (p *Policy) Decide(r Request) (Decision, error) { return Decide([]*Policy{p}, r) }

// Decide is IAM's rule over several identity policies (a role's inline
// policies): an explicit Deny in any wins; otherwise some Allow in any
// must cover the request. A statement that cannot decide the request (a
// single-valued operator on a multivalued key) is an error, never a
// decision.
func Decide(policies []*Policy, r Request) (Decision, error) {
	allow := false
	action := strings.ToLower(r.Action)
	for _, p := range policies {
		for i := range p.statements {
			st := &p.statements[i]
			if allow && !st.deny {
				continue // decided unless a Deny follows
			}
			ok, err := st.applies(action, r)
			if err != nil {
				return ImplicitDeny, fmt.Errorf("statement %s: %w", st.sid, err)
			}
			if !ok {
				continue
			}
			if st.deny {
				return ExplicitDeny, nil
			}
			allow = true
		}
	}
	if allow {
		return Allowed, nil
	}
	return ImplicitDeny, nil
}

func (st *compiled) applies(action string, r Request) (bool, error) {
	if !anyGlob(st.actions, action) || !anyGlob(st.resources, r.Resource) {
		return false, nil
	}
	for i := range st.conds {
		ok, err := st.conds[i].holds(r)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if Glob(p, s) {
			return true
		}
	}
	return false
}

func (c *compiledCondition) holds(r Request) (bool, error) {
	values, present := r.values(c.key)
	if c.null {
		return c.wantNull != present, nil
	}
	one := func(v string) bool {
		for _, p := range c.patterns {
			if c.match(p, v) {
				return !c.negated
			}
		}
		return c.negated
	}
	switch c.set {
	case "ForAnyValue":
		for _, v := range values {
			if one(v) {
				return true, nil
			}
		}
		return false, nil
	case "ForAllValues":
		for _, v := range values {
			if !one(v) {
				return false, nil
			}
		}
		return true, nil
	}
	if !present {
		return c.negated, nil
	}
	if len(values) != 1 {
		return false, fmt.Errorf("%s on the multivalued key %s needs ForAnyValue or ForAllValues", c.op, c.key)
	}
	return one(values[0]), nil
}

// Package iampolicy evaluates IAM policy statements for concrete requests,
// as AWS does within one set of statements: an explicit Deny wins,
// otherwise some Allow must cover the request (docs: "Policy evaluation
// logic"). It is the one evaluator rotor's checks share: the CDK tests
// evaluate the synthesized roles, resource policies and the service
// control policy with it, and it is checked against
// @cloud-copilot/iam-simulate (infra/rotorcdk/iamsim_test.go).
//
// It understands Action and Resource with IAM's wildcards, Principal as a
// service principal, and the condition operators rotor's policies use:
// String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals,
// Arn(Not)Like, Null, each alone or under ForAnyValue:/ForAllValues:. An
// element or operator it does not understand (NotAction, NotResource,
// NotPrincipal, numeric and date operators, ...IfExists) is an error, never
// a silent answer. A condition key absent from the request is absent, as
// in IAM: a positive operator on it fails, a negated one holds.
package iampolicy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Statement is an IAM policy statement. Action, Resource and Principal are
// a string, a list or (Principal) a map; values may be CloudFormation
// intrinsics, which a Resolver turns into strings.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
	// Elements the evaluator does not model: present, they are an error.
	NotAction    any `json:"NotAction"`
	NotResource  any `json:"NotResource"`
	NotPrincipal any `json:"NotPrincipal"`
}

// Request is one API call and the request context IAM would see.
type Request struct {
	Action   string // service:Operation
	Resource string // the ARN acted on ("*" for actions with no resource)
	// Service is the service principal calling, for resource policies
	// ("" for an identity policy's request).
	Service string
	// Context holds the condition keys present in the request, each with
	// its values (one for a single-valued key). Keys match case-
	// insensitively, as IAM's do.
	Context map[string][]string
}

// Resolver turns a policy value (a string, or an intrinsic such as
// Fn::Join) into a string.
type Resolver func(v any) (string, error)

// Strings is the Resolver of plain policies: strings only.
func Strings(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("value %v is not a string", v)
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func resolveAll(resolve Resolver, v any) ([]string, error) {
	var out []string
	for _, x := range list(v) {
		s, err := resolve(x)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Glob matches IAM's wildcards: * any run of characters (/ and : too), ?
// one character; case-sensitive. Neither wildcard matches a newline (as
// when this was a regular expression, which the differential test was run
// against). It compiles nothing: the local endpoint matches on every
// request.
func Glob(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	// The classic matcher: on a mismatch, the last * takes one more
	// character. Going back to the last * alone suffices even though *
	// stops at a newline (a newline the last * cannot take was matched by
	// a literal after an earlier *, which cannot take it either).
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(pattern) {
			pc, pw := utf8.DecodeRuneInString(pattern[pi:])
			sc, sw := utf8.DecodeRuneInString(s[si:])
			switch {
			case pc == '*':
				starP, starS = pi, si
				pi += pw
				continue
			case pc == '?' && sc != '\n', pc != '?' && pattern[pi:pi+pw] == s[si:si+sw]:
				pi += pw
				si += sw
				continue
			}
		}
		if starP < 0 {
			return false
		}
		sc, sw := utf8.DecodeRuneInString(s[starS:])
		if sc == '\n' {
			return false
		}
		starS += sw
		si, pi = starS, starP+1
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// ArnLike compares ARNs as ArnLike does: each of the six :-separated parts
// on its own, with wildcards.
func ArnLike(pattern, s string) bool {
	p, v := strings.SplitN(pattern, ":", 6), strings.SplitN(s, ":", 6)
	if len(p) != 6 || len(v) != 6 {
		return false
	}
	for i := range p {
		if !Glob(p[i], v[i]) {
			return false
		}
	}
	return true
}

// operators maps each condition operator to how it compares one policy
// value with one request value, and whether it is negated (true when no
// policy value matches).
var operators = map[string]struct {
	match   func(pattern, value string) bool
	negated bool
}{
	"StringEquals":              {func(p, v string) bool { return p == v }, false},
	"StringNotEquals":           {func(p, v string) bool { return p == v }, true},
	"StringEqualsIgnoreCase":    {strings.EqualFold, false},
	"StringNotEqualsIgnoreCase": {strings.EqualFold, true},
	"StringLike":                {Glob, false},
	"StringNotLike":             {Glob, true},
	"ArnEquals":                 {ArnLike, false},
	"ArnLike":                   {ArnLike, false},
	"ArnNotEquals":              {ArnLike, true},
	"ArnNotLike":                {ArnLike, true},
}

// values returns a condition key's values in the request and whether it is
// present.
func (r Request) values(key string) ([]string, bool) {
	if v, ok := r.Context[key]; ok {
		return v, len(v) > 0
	}
	for k, v := range r.Context {
		if strings.EqualFold(k, key) {
			return v, len(v) > 0
		}
	}
	return nil, false
}

// conditionHolds evaluates a statement's Condition block: every operator,
// every key in it.
func conditionHolds(st Statement, r Request, resolve Resolver) (bool, error) {
	for op, keys := range st.Condition {
		set, base := "", op
		if prefix, rest, ok := strings.Cut(op, ":"); ok {
			set, base = prefix, rest
		}
		if set != "" && set != "ForAnyValue" && set != "ForAllValues" {
			return false, fmt.Errorf("statement %q: condition operator %s is not modelled", st.Sid, op)
		}
		for key, want := range keys {
			values, present := r.values(key)
			if base == "Null" {
				// Null: "true" holds when the key is absent, "false" when present.
				ws, err := resolveAll(resolve, want)
				if err != nil || len(ws) != 1 || (ws[0] != "true" && ws[0] != "false") {
					return false, fmt.Errorf("statement %q: Null on %s wants \"true\" or \"false\"", st.Sid, key)
				}
				if (ws[0] == "true") == present {
					return false, nil
				}
				continue
			}
			o, known := operators[base]
			if !known {
				return false, fmt.Errorf("statement %q: condition operator %s is not modelled", st.Sid, op)
			}
			patterns, err := resolveAll(resolve, want)
			if err != nil {
				return false, fmt.Errorf("statement %q: %s %s: %w", st.Sid, op, key, err)
			}
			one := func(v string) bool {
				for _, p := range patterns {
					if o.match(p, v) {
						return !o.negated
					}
				}
				return o.negated
			}
			var holds bool
			switch set {
			case "":
				// A key missing from the request fails a positive operator
				// and satisfies a negated one.
				if !present {
					holds = o.negated
					break
				}
				if len(values) != 1 {
					return false, fmt.Errorf("statement %q: %s on the multivalued key %s needs ForAnyValue or ForAllValues", st.Sid, op, key)
				}
				holds = one(values[0])
			case "ForAnyValue": // some request value matches; none: false
				for _, v := range values {
					holds = holds || one(v)
				}
			case "ForAllValues": // every request value matches; none: true
				holds = true
				for _, v := range values {
					holds = holds && one(v)
				}
			}
			if !holds {
				return false, nil
			}
		}
	}
	return true, nil
}

// Applies reports whether a statement covers the request: its action, its
// resource and its conditions (the principal is Evaluate's concern).
func Applies(st Statement, r Request, resolve Resolver) (bool, error) {
	if st.NotAction != nil || st.NotResource != nil || st.NotPrincipal != nil {
		return false, fmt.Errorf("statement %q: NotAction, NotResource and NotPrincipal are not modelled", st.Sid)
	}
	if resolve == nil {
		resolve = Strings
	}
	actions, err := resolveAll(resolve, st.Action)
	if err != nil {
		return false, fmt.Errorf("statement %q: Action: %w", st.Sid, err)
	}
	matched := false
	for _, a := range actions {
		matched = matched || Glob(strings.ToLower(a), strings.ToLower(r.Action))
	}
	if !matched {
		return false, nil
	}
	resources, err := resolveAll(resolve, st.Resource)
	if err != nil {
		return false, fmt.Errorf("statement %q: Resource: %w", st.Sid, err)
	}
	matched = false
	for _, res := range resources {
		matched = matched || Glob(res, r.Resource)
	}
	if !matched {
		return false, nil
	}
	return conditionHolds(st, r, resolve)
}

// principalMatches applies a resource policy's Principal to a request from
// a service principal.
func principalMatches(st Statement, r Request) bool {
	p, _ := st.Principal.(map[string]any)
	for _, s := range list(p["Service"]) {
		if s == r.Service && r.Service != "" {
			return true
		}
	}
	return false
}

// Evaluate is IAM's rule within one set of statements: an explicit Deny
// wins, otherwise some Allow must cover the request. For a request from a
// service principal (Request.Service), only statements naming it apply.
func Evaluate(sts []Statement, r Request, resolve Resolver) (bool, error) {
	allow := false
	for _, st := range sts {
		if r.Service != "" && !principalMatches(st, r) {
			continue
		}
		ok, err := Applies(st, r, resolve)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false, nil
		case "Allow":
			allow = true
		default:
			return false, fmt.Errorf("statement %q: Effect %q is not Allow or Deny", st.Sid, st.Effect)
		}
	}
	return allow, nil
}

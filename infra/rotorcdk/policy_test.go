package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// This file is a small IAM policy evaluator for the tests: the statements
// of the synthesized roles and resource policies, and of the service
// control policy in infra/scp, are evaluated for concrete requests. It
// understands the condition keys and operators rotor's policies use, and
// fails the test on any other, so that a new condition cannot pass
// unexamined. (iamsim_test.go checks a sample of the same decisions
// against @cloud-copilot/iam-simulate, an independent evaluator.)

// The account, Region and partition the tests deploy to: CloudFormation's
// pseudo parameters resolve to these.
const (
	testAccount   = "123456789012"
	testRegion    = "us-east-1"
	testPartition = "aws"
)

// statement is an IAM policy statement as synthesized or as written in a
// policy file; Action, Resource and Principal are a string, a list or (for
// Principal) a map, and any value may hold Fn::Join, Ref and Fn::GetAtt.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
	// Elements rotor's policies do not use: present, they fail the test.
	NotAction    any `json:"NotAction"`
	NotResource  any `json:"NotResource"`
	NotPrincipal any `json:"NotPrincipal"`
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

func (s statement) actions() []string {
	var out []string
	for _, a := range list(s.Action) {
		out = append(out, a.(string))
	}
	return out
}

// parseStatements decodes a policy document's Statement.
func parseStatements(t *testing.T, doc any) []statement {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var sts []statement
	if err := json.Unmarshal(raw, &sts); err != nil {
		t.Fatalf("policy statements %s: %v", raw, err)
	}
	return sts
}

// resolve evaluates a synthesized value as CloudFormation would in
// testAccount and testRegion. A resource of the stack stands for
// "arn:test:<logical id>" (Fn::GetAtt ... Arn) or "ref:<logical id>".
func resolve(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			switch r {
			case "AWS::AccountId":
				return testAccount
			case "AWS::Region":
				return testRegion
			case "AWS::Partition":
				return testPartition
			case "AWS::URLSuffix":
				return "amazonaws.com"
			}
			if strings.HasPrefix(r, "AWS::") {
				t.Fatalf("resolve: pseudo parameter %s", r)
			}
			return "ref:" + r
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 && g[1] == "Arn" {
			return "arn:test:" + g[0].(string)
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			var parts []string
			for _, p := range list(j[1]) {
				parts = append(parts, resolve(t, p))
			}
			return strings.Join(parts, j[0].(string))
		}
	}
	t.Fatalf("resolve: cannot evaluate %v", v)
	return ""
}

func resolveAll(t *testing.T, v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, resolve(t, x))
	}
	return out
}

// request is one API call and the request context IAM would see.
type request struct {
	action    string
	resource  string // the ARN acted on ("*" for actions with no resource)
	principal string // aws:PrincipalArn (a role's ARN, path included)
	service   string // the service principal calling, for resource policies
	// Context keys; a zero value is absent from the request.
	tagKeys       []string          // aws:TagKeys
	resourceTags  map[string]string // aws:ResourceTag/*, secretsmanager:ResourceTag/*, iam:ResourceTag/*
	leadingKeys   []string          // dynamodb:LeadingKeys
	region        string            // aws:RequestedRegion (default testRegion)
	sourceAccount string            // aws:SourceAccount
	sourceArn     string            // aws:SourceArn
}

// contextValues returns a condition key's values in the request, and
// whether the key is present; a key this evaluator does not know fails the
// test.
func (r request) contextValues(t *testing.T, sid, key string) ([]string, bool) {
	t.Helper()
	one := func(v string) ([]string, bool) { return []string{v}, v != "" }
	switch key {
	case "aws:TagKeys":
		return r.tagKeys, len(r.tagKeys) > 0
	case "dynamodb:LeadingKeys":
		return r.leadingKeys, len(r.leadingKeys) > 0
	case "aws:RequestedRegion":
		if r.region == "" {
			return one(testRegion)
		}
		return one(r.region)
	case "aws:PrincipalArn":
		return one(r.principal)
	case "aws:SourceAccount":
		return one(r.sourceAccount)
	case "aws:SourceArn":
		return one(r.sourceArn)
	}
	for _, p := range []string{"aws:ResourceTag/", "secretsmanager:ResourceTag/", "iam:ResourceTag/"} {
		if tag, ok := strings.CutPrefix(key, p); ok {
			v, present := r.resourceTags[tag]
			return []string{v}, present
		}
	}
	t.Fatalf("statement %q: condition key %s: the test cannot evaluate it", sid, key)
	return nil, false
}

// glob matches IAM's wildcards: * any run of characters (/ and : too), ?
// one character; case-sensitive.
func glob(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// arnLike compares ARNs as ArnLike does: each of the six :-separated
// parts on its own, with wildcards.
func arnLike(pattern, s string) bool {
	p, v := strings.SplitN(pattern, ":", 6), strings.SplitN(s, ":", 6)
	if len(p) != 6 || len(v) != 6 {
		return false
	}
	for i := range p {
		if !glob(p[i], v[i]) {
			return false
		}
	}
	return true
}

// operators maps each condition operator this evaluator knows to how it
// compares one policy value with one request value, and whether it is
// negated (true when no policy value matches).
var operators = map[string]struct {
	match   func(pattern, value string) bool
	negated bool
}{
	"StringEquals":              {func(p, v string) bool { return p == v }, false},
	"StringNotEquals":           {func(p, v string) bool { return p == v }, true},
	"StringEqualsIgnoreCase":    {strings.EqualFold, false},
	"StringNotEqualsIgnoreCase": {strings.EqualFold, true},
	"StringLike":                {glob, false},
	"StringNotLike":             {glob, true},
	"ArnEquals":                 {arnLike, false},
	"ArnLike":                   {arnLike, false},
	"ArnNotEquals":              {arnLike, true},
	"ArnNotLike":                {arnLike, true},
}

// conditionHolds evaluates a statement's Condition block: every operator,
// every key in it.
func conditionHolds(t *testing.T, st statement, r request) bool {
	t.Helper()
	for op, keys := range st.Condition {
		set, base := "", op
		if prefix, rest, ok := strings.Cut(op, ":"); ok {
			set, base = prefix, rest
		}
		o, known := operators[base]
		if !known || (set != "" && set != "ForAnyValue" && set != "ForAllValues") {
			t.Fatalf("statement %q: condition operator %s: the test cannot evaluate it", st.Sid, op)
		}
		for key, want := range keys {
			patterns := resolveAll(t, want)
			one := func(v string) bool {
				for _, p := range patterns {
					if o.match(p, v) {
						return !o.negated
					}
				}
				return o.negated
			}
			values, present := r.contextValues(t, st.Sid, key)
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
					t.Fatalf("statement %q: %s on the multivalued key %s without ForAnyValue/ForAllValues", st.Sid, op, key)
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
				return false
			}
		}
	}
	return true
}

func actionMatches(t *testing.T, st statement, action string) bool {
	t.Helper()
	if st.NotAction != nil || st.NotResource != nil || st.NotPrincipal != nil {
		t.Fatalf("statement %q: NotAction, NotResource or NotPrincipal: the test cannot evaluate it", st.Sid)
	}
	for _, a := range st.actions() {
		if glob(strings.ToLower(a), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

func resourceMatches(t *testing.T, st statement, arn string) bool {
	t.Helper()
	for _, r := range resolveAll(t, st.Resource) {
		if glob(r, arn) {
			return true
		}
	}
	return false
}

// principalMatches applies a resource policy's Principal to a request from
// a service principal (only those: the account root's statements are not
// what these tests look at).
func principalMatches(st statement, r request) bool {
	p, _ := st.Principal.(map[string]any)
	for _, s := range list(p["Service"]) {
		if s == r.service && r.service != "" {
			return true
		}
	}
	return false
}

// applies reports whether a statement covers the request.
func applies(t *testing.T, st statement, r request) bool {
	t.Helper()
	return actionMatches(t, st, r.action) && resourceMatches(t, st, r.resource) && conditionHolds(t, st, r)
}

// decide is IAM's rule within one set of statements: an explicit Deny
// wins, otherwise some Allow must cover the request.
func decide(t *testing.T, sts []statement, r request) bool {
	t.Helper()
	allow := false
	for _, st := range sts {
		if r.service != "" && !principalMatches(st, r) {
			continue
		}
		if !applies(t, st, r) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allow = true
		default:
			t.Fatalf("statement %q: Effect %q", st.Sid, st.Effect)
		}
	}
	return allow
}

// scpPermits is a service control policy's verdict: the SCP is attached
// beside FullAWSAccess (AWS's default), so only its Deny statements count.
func scpPermits(t *testing.T, scp []statement, r request) bool {
	t.Helper()
	for _, st := range scp {
		if st.Effect != "Deny" {
			t.Fatalf("SCP statement %q is not a Deny", st.Sid)
		}
		if applies(t, st, r) {
			return false
		}
	}
	return true
}

func (r request) String() string {
	s := fmt.Sprintf("%s on %s by %s", r.action, r.resource, r.principal+r.service)
	if len(r.tagKeys) > 0 {
		s += fmt.Sprintf(" tag keys %v", r.tagKeys)
	}
	if len(r.resourceTags) > 0 {
		s += fmt.Sprintf(" resource tags %v", r.resourceTags)
	}
	if len(r.leadingKeys) > 0 {
		s += fmt.Sprintf(" leading keys %v", r.leadingKeys)
	}
	return s
}

// TestEvaluator shows the evaluator's operators and set operators decide
// as IAM documents, so that the policy tests built on it can fail.
func TestEvaluator(t *testing.T) {
	st := func(cond string) statement {
		var c map[string]map[string]any
		if err := json.Unmarshal([]byte(cond), &c); err != nil {
			t.Fatal(err)
		}
		return statement{Sid: "T", Effect: "Allow", Action: "svc:Do", Resource: "*", Condition: c}
	}
	tags := func(keys ...string) request { return request{action: "svc:Do", resource: "x", tagKeys: keys} }
	cases := []struct {
		name, cond string
		req        request
		want       bool
	}{
		{"ForAnyValue:StringLike, one of two matches", `{"ForAnyValue:StringLike": {"aws:TagKeys": ["rotor:*"]}}`, tags("owner", "rotor:provider"), true},
		{"ForAnyValue:StringLike, none matches", `{"ForAnyValue:StringLike": {"aws:TagKeys": ["rotor:*"]}}`, tags("owner"), false},
		{"ForAnyValue with no tag keys is false", `{"ForAnyValue:StringLike": {"aws:TagKeys": ["rotor:*"]}}`, tags(), false},
		{"ForAllValues:StringLike, all match", `{"ForAllValues:StringLike": {"aws:TagKeys": ["rotor:keyid:*", "rotor:sha256:*"]}}`, tags("rotor:keyid:a", "rotor:sha256:b"), true},
		{"ForAllValues:StringLike, one does not", `{"ForAllValues:StringLike": {"aws:TagKeys": ["rotor:keyid:*"]}}`, tags("rotor:keyid:a", "rotor:provider"), false},
		{"ForAllValues with no tag keys is true", `{"ForAllValues:StringLike": {"aws:TagKeys": ["rotor:keyid:*"]}}`, tags(), true},
		{"ForAnyValue:StringNotLike, one outside the patterns", `{"ForAnyValue:StringNotLike": {"aws:TagKeys": ["rotor:keyid:*"]}}`, tags("rotor:keyid:a", "rotor:provider"), true},
		{"ForAnyValue:StringNotLike, all inside", `{"ForAnyValue:StringNotLike": {"aws:TagKeys": ["rotor:keyid:*"]}}`, tags("rotor:keyid:a"), false},
		{"ForAnyValue:StringEqualsIgnoreCase", `{"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": ["rotor:secret"]}}`, tags("ROTOR:Secret"), true},
		{"StringLike wildcard spans slashes", `{"StringLike": {"iam:ResourceTag/rotor:secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/*"}}`,
			request{action: "svc:Do", resource: "x", resourceTags: map[string]string{"rotor:secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/a/b-AbCdEf"}}, true},
		{"StringLike on a missing key is false", `{"StringLike": {"iam:ResourceTag/rotor:secret": "*"}}`, request{action: "svc:Do", resource: "x"}, false},
		{"StringNotEquals on a missing key is true", `{"StringNotEquals": {"aws:ResourceTag/rotor:role": "master"}}`, request{action: "svc:Do", resource: "x"}, true},
		{"ArnLike, wildcard within the resource part", `{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/rotor/*"}}`, request{action: "svc:Do", resource: "x", principal: "arn:aws:iam::123456789012:role/rotor/Rotor-Create-1"}, true},
		{"ArnLike, another path", `{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/rotor/*"}}`, request{action: "svc:Do", resource: "x", principal: "arn:aws:iam::123456789012:role/team/rotor/x"}, false},
		{"ArnNotLike, none of the patterns", `{"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/admin", "arn:aws:iam::*:role/rotor/*"]}}`, request{action: "svc:Do", resource: "x", principal: "arn:aws:iam::123456789012:role/mallory"}, true},
		{"ArnNotLike, one of the patterns", `{"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/admin", "arn:aws:iam::*:role/rotor/*"]}}`, request{action: "svc:Do", resource: "x", principal: "arn:aws:iam::123456789012:role/admin"}, false},
		{"two operators are both required", `{"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"}}`,
			request{action: "svc:Do", resource: "x", sourceAccount: "123456789012", sourceArn: "arn:aws:cloudwatch:us-east-1:210987654321:alarm:a"}, false},
		{"ForAllValues:StringLike on leading keys", `{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["revoked#*"]}}`, request{action: "svc:Do", resource: "x", leadingKeys: []string{"delivery#ab"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(t, []statement{st(c.cond)}, c.req); got != c.want {
				t.Errorf("decide = %v, want %v", got, c.want)
			}
		})
	}
	// Deny beats Allow; nothing allowed is denied.
	allowAll := statement{Sid: "A", Effect: "Allow", Action: "*", Resource: "*"}
	denyTag := statement{Sid: "D", Effect: "Deny", Action: "svc:*", Resource: "x",
		Condition: map[string]map[string]any{"ForAnyValue:StringLike": {"aws:TagKeys": "rotor:*"}}}
	if decide(t, []statement{allowAll, denyTag}, tags("rotor:provider")) {
		t.Error("a matching Deny did not win over Allow")
	}
	if !decide(t, []statement{allowAll, denyTag}, tags("owner")) {
		t.Error("a Deny whose condition fails denied")
	}
	if decide(t, nil, tags()) {
		t.Error("no statement allowed a request")
	}
}

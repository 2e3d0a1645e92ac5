package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/iampolicy"
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
// policy file (internal/iampolicy evaluates it).
type statement = iampolicy.Statement

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func actionsOf(s statement) []string {
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
	eventSource   string            // events:source
}

// knownKeys are the condition keys the policy tests build requests with:
// a statement conditioned on any other key fails the test, so that a new
// condition cannot pass unexamined (internal/iampolicy would treat it as
// absent, as IAM does).
var knownKeys = []string{"aws:TagKeys", "dynamodb:LeadingKeys", "aws:RequestedRegion", "aws:PrincipalArn",
	"aws:SourceAccount", "aws:SourceArn", "aws:ResourceTag/", "secretsmanager:ResourceTag/", "iam:ResourceTag/", "events:source"}

func checkKeys(t *testing.T, st statement) {
	t.Helper()
	for _, keys := range st.Condition {
		for key := range keys {
			known := false
			for _, k := range knownKeys {
				known = known || key == k || (strings.HasSuffix(k, "/") && strings.HasPrefix(key, k))
			}
			if !known {
				t.Fatalf("statement %q: condition key %s: the test cannot evaluate it", st.Sid, key)
			}
		}
	}
}

// iam turns the test's request into the evaluator's.
func (r request) iam() iampolicy.Request {
	ctx := map[string][]string{"aws:RequestedRegion": {testRegion}}
	set := func(k string, vs ...string) {
		if len(vs) > 0 && vs[0] != "" {
			ctx[k] = vs
		}
	}
	set("aws:TagKeys", r.tagKeys...)
	set("dynamodb:LeadingKeys", r.leadingKeys...)
	set("aws:RequestedRegion", r.region)
	set("aws:PrincipalArn", r.principal)
	set("aws:SourceAccount", r.sourceAccount)
	set("aws:SourceArn", r.sourceArn)
	set("events:source", r.eventSource)
	for k, v := range r.resourceTags {
		for _, p := range []string{"aws:ResourceTag/", "secretsmanager:ResourceTag/", "iam:ResourceTag/"} {
			ctx[p+k] = []string{v}
		}
	}
	return iampolicy.Request{Action: r.action, Resource: r.resource, Service: r.service, Context: ctx}
}

func resolver(t *testing.T) iampolicy.Resolver {
	return func(v any) (string, error) { return resolve(t, v), nil }
}

func actionMatches(t *testing.T, st statement, action string) bool {
	t.Helper()
	st.Resource, st.Condition = "*", nil
	ok, err := iampolicy.Applies(st, iampolicy.Request{Action: action, Resource: "*"}, resolver(t))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func resourceMatches(t *testing.T, st statement, arn string) bool {
	t.Helper()
	for _, r := range resolveAll(t, st.Resource) {
		if iampolicy.Glob(r, arn) {
			return true
		}
	}
	return false
}

// applies reports whether a statement covers the request.
func applies(t *testing.T, st statement, r request) bool {
	t.Helper()
	checkKeys(t, st)
	ok, err := iampolicy.Applies(st, r.iam(), resolver(t))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// decide is IAM's rule within one set of statements (internal/iampolicy).
func decide(t *testing.T, sts []statement, r request) bool {
	t.Helper()
	for _, st := range sts {
		// Only the statements that can apply: a resource policy's
		// statements for other principals are not evaluated (by IAM either).
		p, _ := st.Principal.(map[string]any)
		if r.service == "" || slices.Contains(list(p["Service"]), any(r.service)) {
			checkKeys(t, st)
		}
	}
	ok, err := iampolicy.Evaluate(sts, r.iam(), resolver(t))
	if err != nil {
		t.Fatal(err)
	}
	return ok
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

package iampolicy_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/iampolicy"
)

// globRE is how Glob was first written: the differential test ran against
// it, so the hand-written matcher must agree with it everywhere.
func globRE(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// TestGlobAgreesWithRegexp: random patterns and strings over an alphabet
// with wildcards, separators, a newline and a multibyte character.
func TestGlobAgreesWithRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	word := func(alphabet []string, n int) string {
		var b strings.Builder
		for i := r.IntN(n + 1); i > 0; i-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	text := []string{"a", "b", "/", ":", "\n", "é"}
	pat := append([]string{"*", "?", "*", "?"}, text...)
	matched := 0
	for i := 0; i < 200000; i++ {
		p, s := word(pat, 7), word(text, 8)
		got, want := iampolicy.Glob(p, s), globRE(p, s)
		if got != want {
			t.Fatalf("Glob(%q, %q) = %v, the regexp says %v", p, s, got, want)
		}
		if got {
			matched++
		}
	}
	if matched < 1000 {
		t.Errorf("only %d matches: the generator explores too little", matched)
	}
}

const createPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ManagedSecrets", "Effect": "Allow",
     "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
     "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
     "Condition": {"StringLike": {"secretsmanager:ResourceTag/rotor:provider": "*"}}},
    {"Sid": "LeakIdentityTags", "Effect": "Allow",
     "Action": ["secretsmanager:TagResource", "secretsmanager:UntagResource"],
     "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
     "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": ["rotor:keyid:*", "rotor:sha256:*"]},
                   "StringLike": {"secretsmanager:ResourceTag/rotor:provider": "*"}}},
    {"Sid": "Ledger", "Effect": "Allow", "Action": "dynamodb:PutItem",
     "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger",
     "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["revoked#*"]}}},
    {"Sid": "NeverMasters", "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
     "Condition": {"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}}
  ]
}`

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"

// TestPolicyDecide: the compiled form decides each request as IAM does.
func TestPolicyDecide(t *testing.T) {
	p, err := iampolicy.ParsePolicy(createPolicy)
	if err != nil {
		t.Fatal(err)
	}
	tags := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	for _, c := range []struct {
		name, action, resource string
		ctx                    map[string][]string
		want                   iampolicy.Decision
	}{
		{"tagged secret", "secretsmanager:GetSecretValue", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "random"), iampolicy.Allowed},
		{"action case", "SecretsManager:getSecretValue", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "random"), iampolicy.Allowed},
		{"untagged secret", "secretsmanager:GetSecretValue", secretARN, nil, iampolicy.ImplicitDeny},
		{"another action", "secretsmanager:DeleteSecret", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "random"), iampolicy.ImplicitDeny},
		{"a master", "secretsmanager:GetSecretValue", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "x", "secretsmanager:ResourceTag/rotor:role", "master"), iampolicy.ExplicitDeny},
		{"leak tags", "secretsmanager:TagResource", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "x", "aws:TagKeys", "rotor:keyid:1", "aws:TagKeys", "rotor:sha256:2"), iampolicy.Allowed},
		{"another tag", "secretsmanager:TagResource", secretARN, tags("secretsmanager:ResourceTag/rotor:provider", "x", "aws:TagKeys", "rotor:keyid:1", "aws:TagKeys", "rotor:provider"), iampolicy.ImplicitDeny},
		{"ledger revoked", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger", tags("dynamodb:LeadingKeys", "revoked#k"), iampolicy.Allowed},
		{"ledger lock", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/ledger", tags("dynamodb:LeadingKeys", "lock#k"), iampolicy.ImplicitDeny},
		{"another table", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other", tags("dynamodb:LeadingKeys", "revoked#k"), iampolicy.ImplicitDeny},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Decide(iampolicy.Request{Action: c.action, Resource: c.resource, Context: c.ctx})
			if err != nil || got != c.want {
				t.Errorf("Decide = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestDecideAcrossPolicies: a Deny in one policy wins over an Allow in
// another; an Allow in any suffices.
func TestDecideAcrossPolicies(t *testing.T) {
	allow, err := iampolicy.ParsePolicy(`{"Statement": {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}}`)
	if err != nil {
		t.Fatal(err)
	}
	deny, err := iampolicy.ParsePolicy(`{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sns:*", "Resource": "arn:aws:sns:*:*:secret-*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	r := func(res string) iampolicy.Request { return iampolicy.Request{Action: "sns:Publish", Resource: res} }
	got := map[string]iampolicy.Decision{}
	for name, c := range map[string]struct {
		ps []*iampolicy.Policy
		r  iampolicy.Request
	}{
		"allow only":          {[]*iampolicy.Policy{allow}, r("arn:aws:sns:us-east-1:1:t")},
		"deny elsewhere":      {[]*iampolicy.Policy{allow, deny}, r("arn:aws:sns:us-east-1:1:t")},
		"deny matches":        {[]*iampolicy.Policy{allow, deny}, r("arn:aws:sns:us-east-1:1:secret-t")},
		"deny first":          {[]*iampolicy.Policy{deny, allow}, r("arn:aws:sns:us-east-1:1:secret-t")},
		"no policy":           {nil, r("arn:aws:sns:us-east-1:1:t")},
		"deny alone, no deny": {[]*iampolicy.Policy{deny}, r("arn:aws:sns:us-east-1:1:t")},
	} {
		d, err := iampolicy.Decide(c.ps, c.r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got[name] = d
	}
	want := map[string]iampolicy.Decision{
		"allow only": iampolicy.Allowed, "deny elsewhere": iampolicy.Allowed, "deny matches": iampolicy.ExplicitDeny,
		"deny first": iampolicy.ExplicitDeny, "no policy": iampolicy.ImplicitDeny, "deny alone, no deny": iampolicy.ImplicitDeny,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

// TestParsePolicyRefuses: what the evaluator cannot decide, or IAM would
// refuse, is an error naming it, at parse time.
func TestParsePolicyRefuses(t *testing.T) {
	for _, c := range []struct {
		name, doc, want string
	}{
		{"not JSON", `{"Statement": `, "not a policy document"},
		{"trailing data", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}} {}`, "after the JSON"},
		{"unknown member", `{"Statement": [], "Extra": 1}`, "Extra"},
		{"unknown statement member", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Actions": "x"}}`, "Actions"},
		{"no statement", `{"Version": "2012-10-17"}`, "no Statement"},
		{"empty statement list", `{"Statement": []}`, "no Statement"},
		{"a version", `{"Version": "2020-01-01", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}`, "Version"},
		{"an effect", `{"Statement": {"Sid": "E", "Effect": "allow", "Action": "*", "Resource": "*"}}`, `statement E: the Effect "allow"`},
		{"no action", `{"Statement": {"Effect": "Allow", "Resource": "*"}}`, "statement #1: no Action"},
		{"no resource", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": "*"}]}`, "statement #2: no Resource"},
		{"a principal", `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}`, "no Principal"},
		{"NotAction", `{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}`, "NotAction"},
		{"IfExists", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:x": "y"}}}}`, "StringEqualsIfExists is not modelled"},
		{"Bool", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}}`, "Bool is not modelled"},
		{"a number", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:x": 1}}}}`, "not a string"},
		{"Null yes", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Null": {"aws:x": "yes"}}}}`, "Null operator on aws:x"},
		{"a policy variable", `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:iam::1:user/${aws:username}"}}`, "policy variables"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := iampolicy.ParsePolicy(c.doc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
	// Without Version, ${ is text (IAM reads variables only in 2012-10-17).
	if _, err := iampolicy.ParsePolicy(`{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:${x}"}}`); err != nil {
		t.Errorf("a 2008 policy with ${: %v", err)
	}
}

// TestDecideMultivaluedError: a single-valued operator on a multivalued key
// is an error at evaluation, never a decision.
func TestDecideMultivaluedError(t *testing.T) {
	p, err := iampolicy.ParsePolicy(`{"Statement": {"Sid": "M", "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringLike": {"aws:TagKeys": "a*"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(iampolicy.Request{Action: "x:Y", Resource: "*", Context: map[string][]string{"aws:TagKeys": {"a", "b"}}})
	if err == nil || !strings.Contains(err.Error(), "statement M") || d != iampolicy.ImplicitDeny {
		t.Errorf("Decide = %v, %v; want an error naming statement M and no Allow", d, err)
	}
}

// BenchmarkDecide is one request of the local endpoint's: the create
// role's policy against a tagged secret's GetSecretValue.
func BenchmarkDecide(b *testing.B) {
	p, err := iampolicy.ParsePolicy(createPolicy)
	if err != nil {
		b.Fatal(err)
	}
	r := iampolicy.Request{Action: "secretsmanager:GetSecretValue", Resource: secretARN, Context: map[string][]string{
		"secretsmanager:ResourceTag/rotor:provider": {"random"}, "aws:ResourceTag/rotor:provider": {"random"},
		"aws:RequestedRegion": {"us-east-1"}, "aws:PrincipalArn": {"arn:aws:iam::123456789012:role/rotor/create"},
		"aws:PrincipalAccount": {"123456789012"}, "secretsmanager:SecretId": {secretARN},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := p.Decide(r); err != nil || d != iampolicy.Allowed {
			b.Fatal(d, err)
		}
	}
}

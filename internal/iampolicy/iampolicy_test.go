package iampolicy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/iampolicy"
)

func statement(t *testing.T, effect, cond string) iampolicy.Statement {
	t.Helper()
	var c map[string]map[string]any
	if cond != "" {
		if err := json.Unmarshal([]byte(cond), &c); err != nil {
			t.Fatal(err)
		}
	}
	return iampolicy.Statement{Sid: "T", Effect: effect, Action: []any{"secretsmanager:Get*", "kms:Decrypt"},
		Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/*", Condition: c}
}

func req(ctx map[string][]string) iampolicy.Request {
	return iampolicy.Request{Action: "secretsmanager:GetSecretValue",
		Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf", Context: ctx}
}

// TestEvaluate: each operator and set operator decides as IAM documents.
func TestEvaluate(t *testing.T) {
	tags := func(keys ...string) map[string][]string { return map[string][]string{"aws:TagKeys": keys} }
	rt := func(k, v string) map[string][]string {
		return map[string][]string{"secretsmanager:ResourceTag/" + k: {v}}
	}
	cases := []struct {
		name, cond string
		ctx        map[string][]string
		want       bool
	}{
		{"no condition", "", nil, true},
		{"StringEquals", `{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}`, rt("rotor:role", "master"), true},
		{"StringEquals, other value", `{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}`, rt("rotor:role", "x"), false},
		{"StringEquals, key case-insensitive", `{"StringEquals": {"SecretsManager:ResourceTag/rotor:role": "master"}}`, rt("rotor:role", "master"), true},
		{"StringEquals, missing key", `{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}`, nil, false},
		{"StringNotEquals, missing key", `{"StringNotEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase": {"secretsmanager:ResourceTag/rotor:role": "MASTER"}}`, rt("rotor:role", "master"), true},
		{"StringLike spans slashes", `{"StringLike": {"secretsmanager:ResourceTag/owner": "team/*"}}`, rt("owner", "team/a/b"), true},
		{"StringLike ?", `{"StringLike": {"secretsmanager:ResourceTag/owner": "team-?"}}`, rt("owner", "team-ab"), false},
		{"StringNotLike", `{"StringNotLike": {"secretsmanager:ResourceTag/owner": ["a*", "b*"]}}`, rt("owner", "c"), true},
		{"ArnLike per part", `{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/rotor/*"}}`, map[string][]string{"aws:PrincipalArn": {"arn:aws:iam::1:role/rotor/x"}}, true},
		{"ArnNotLike", `{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/rotor/*"}}`, map[string][]string{"aws:PrincipalArn": {"arn:aws:iam::1:role/admin"}}, true},
		{"Null true, absent", `{"Null": {"secretsmanager:ResourceTag/rotor:provider": "true"}}`, nil, true},
		{"Null true, present", `{"Null": {"secretsmanager:ResourceTag/rotor:provider": "true"}}`, rt("rotor:provider", "random"), false},
		{"Null false, present", `{"Null": {"secretsmanager:ResourceTag/rotor:provider": "false"}}`, rt("rotor:provider", "random"), true},
		{"ForAnyValue, one matches", `{"ForAnyValue:StringLike": {"aws:TagKeys": "rotor:*"}}`, tags("a", "rotor:x"), true},
		{"ForAnyValue, none", `{"ForAnyValue:StringLike": {"aws:TagKeys": "rotor:*"}}`, tags(), false},
		{"ForAllValues, all", `{"ForAllValues:StringLike": {"aws:TagKeys": ["rotor:keyid:*", "rotor:sha256:*"]}}`, tags("rotor:keyid:a", "rotor:sha256:b"), true},
		{"ForAllValues, one not", `{"ForAllValues:StringLike": {"aws:TagKeys": "rotor:keyid:*"}}`, tags("rotor:keyid:a", "b"), false},
		{"ForAllValues, none", `{"ForAllValues:StringLike": {"aws:TagKeys": "rotor:keyid:*"}}`, tags(), true},
		{"two operators, both required", `{"StringEquals": {"aws:SourceAccount": "1"}, "StringLike": {"aws:SourceArn": "arn:*"}}`,
			map[string][]string{"aws:SourceAccount": {"1"}, "aws:SourceArn": {"x"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := iampolicy.Evaluate([]iampolicy.Statement{statement(t, "Allow", c.cond)}, req(c.ctx), nil)
			if err != nil || got != c.want {
				t.Errorf("Evaluate = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestDenyWinsAndNothingIsAllowedByDefault.
func TestDenyWinsAndNothingIsAllowedByDefault(t *testing.T) {
	allow := statement(t, "Allow", "")
	deny := statement(t, "Deny", `{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}`)
	for _, c := range []struct {
		name string
		sts  []iampolicy.Statement
		ctx  map[string][]string
		want bool
	}{
		{"a matching Deny wins", []iampolicy.Statement{allow, deny}, map[string][]string{"secretsmanager:ResourceTag/rotor:role": {"master"}}, false},
		{"a Deny whose condition fails does not", []iampolicy.Statement{allow, deny}, nil, true},
		{"no statement allows nothing", nil, nil, false},
	} {
		if got, err := iampolicy.Evaluate(c.sts, req(c.ctx), nil); err != nil || got != c.want {
			t.Errorf("%s: Evaluate = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	other := req(nil)
	other.Action = "secretsmanager:PutSecretValue"
	if got, _ := iampolicy.Evaluate([]iampolicy.Statement{allow}, other, nil); got {
		t.Error("an action outside the statement's was allowed")
	}
	other = req(nil)
	other.Resource = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/db-AbCdEf"
	if got, _ := iampolicy.Evaluate([]iampolicy.Statement{allow}, other, nil); got {
		t.Error("a resource outside the statement's was allowed")
	}
}

// TestUnmodelledIsAnError: what the evaluator cannot decide is an error,
// never an answer.
func TestUnmodelledIsAnError(t *testing.T) {
	for _, c := range []struct {
		name string
		st   iampolicy.Statement
		want string
	}{
		{"NotAction", iampolicy.Statement{Sid: "N", Effect: "Allow", NotAction: "s3:*", Resource: "*"}, "NotAction"},
		{"IfExists", statement(t, "Allow", `{"StringEqualsIfExists": {"aws:SourceAccount": "1"}}`), "not modelled"},
		{"a set operator", statement(t, "Allow", `{"ForSomeValues:StringLike": {"aws:TagKeys": "x"}}`), "not modelled"},
		{"Null with a bad value", statement(t, "Allow", `{"Null": {"aws:SourceAccount": "yes"}}`), "Null"},
		{"an Effect", iampolicy.Statement{Sid: "E", Effect: "Maybe", Action: "*", Resource: "*"}, "Effect"},
		{"a single-valued operator on several values", statement(t, "Allow", `{"StringLike": {"aws:TagKeys": "x"}}`), "multivalued"},
	} {
		r := req(map[string][]string{"aws:TagKeys": {"a", "b"}})
		if _, err := iampolicy.Evaluate([]iampolicy.Statement{c.st}, r, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
}

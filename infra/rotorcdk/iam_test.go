package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statement is an IAM policy statement as synthesized; Action and Resource
// are a string or a list.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
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

// policies returns the statements of every AWS::IAM::Policy attached to a
// role (logical id), and fails on inline or managed policies on the role,
// which these tests would not see.
func (d *deployment) policies(t *testing.T, role string) []statement {
	t.Helper()
	rp := d.resources[role].Properties
	if rp["ManagedPolicyArns"] != nil || rp["Policies"] != nil {
		t.Fatalf("role %s has managed or inline policies: %v", role, rp)
	}
	var out []statement
	for _, id := range d.ofType("AWS::IAM::Policy") {
		p := d.resources[id].Properties
		attached := false
		for _, r := range list(p["Roles"]) {
			attached = attached || ref(r) == role
		}
		if !attached {
			continue
		}
		raw, _ := json.Marshal(p["PolicyDocument"].(map[string]any)["Statement"])
		var sts []statement
		if err := json.Unmarshal(raw, &sts); err != nil {
			t.Fatalf("policy %s: %v", id, err)
		}
		out = append(out, sts...)
	}
	return out
}

// secret is what an evaluated request touches: a secret and its tags.
type secret struct {
	name string
	tags map[string]string
}

var (
	managedSecret = secret{"prod/stripe", map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/stripe"}}
	masterSecret  = secret{"rotor/masters/stripe", map[string]string{"rotor:role": "master"}}
	// A master secret that someone also tagged as managed: the tag that
	// makes it a master must still keep verify out.
	taggedMaster = secret{"rotor/masters/both", map[string]string{"rotor:role": "master", "rotor:provider": "random"}}
	otherSecret  = secret{"team/unrelated", map[string]string{"owner": "payments"}}
)

// allowed evaluates IAM's rule for one role: some Allow statement matches
// and no Deny does. It understands the conditions rotor uses and fails the
// test on any other, so a new condition cannot pass unexamined.
func allowed(t *testing.T, sts []statement, action string, s secret, tagKeys ...string) bool {
	t.Helper()
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + s.name + "-AbCdEf"
	allow := false
	for _, st := range sts {
		if !matchesAny(st.actions(), action) || !resourceMatches(st.Resource, arn) || !conditionsHold(t, st, s, tagKeys) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allow = true
	}
	return allow
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(action)); ok || strings.EqualFold(p, action) {
			return true
		}
	}
	return false
}

func resourceMatches(resource any, arn string) bool {
	for _, r := range list(resource) {
		if s, ok := r.(string); ok {
			if m, _ := path.Match(s, arn); m || s == "*" {
				return true
			}
		}
	}
	return false
}

func conditionsHold(t *testing.T, st statement, s secret, tagKeys []string) bool {
	t.Helper()
	for op, kv := range st.Condition {
		for key, want := range kv {
			if op == "ForAllValues:StringLike" && key == "aws:TagKeys" {
				// Every tag key of the request must match a pattern; a request
				// with no tag keys passes, as in IAM.
				var patterns []string
				for _, p := range list(want) {
					patterns = append(patterns, p.(string))
				}
				for _, k := range tagKeys {
					if !matchesAny(patterns, k) {
						return false
					}
				}
				continue
			}
			tag, ok := strings.CutPrefix(key, "secretsmanager:ResourceTag/")
			if key == "aws:RequestedRegion" {
				continue // every request here is in the stack's region
			}
			if !ok {
				t.Fatalf("statement %q: condition key %s: the test cannot evaluate it", st.Sid, key)
			}
			want, isString := want.(string)
			if !isString {
				t.Fatalf("statement %q: condition %s: a value that is not a string", st.Sid, key)
			}
			got, present := s.tags[tag]
			switch op {
			case "StringEquals":
				if !present || got != want {
					return false
				}
			case "StringLike":
				if m, _ := path.Match(want, got); !present || !m {
					return false
				}
			default:
				t.Fatalf("statement %q: condition operator %s: the test cannot evaluate it", st.Sid, op)
			}
		}
	}
	return true
}

func (d *deployment) functionRole(t *testing.T, fn string) string {
	return ref(d.resources[d.function(t, fn)].Properties["Role"])
}

// TestSecretsAccess evaluates each function's policies for Secrets Manager
// requests against a managed secret, a master secret, a master secret that
// also carries rotor:provider, and a secret rotor does not manage.
func TestSecretsAccess(t *testing.T) {
	d := synth(t, testConfig)
	type access struct{ Managed, Master, TaggedMaster, Other bool }
	cases := []struct {
		fn, action string
		want       access
	}{
		{"resolve", "secretsmanager:DescribeSecret", access{true, true, true, false}},
		{"resolve", "secretsmanager:GetSecretValue", access{}},
		{"create", "secretsmanager:GetSecretValue", access{true, true, true, false}},
		{"create", "secretsmanager:PutSecretValue", access{true, false, true, false}},
		{"switchover", "secretsmanager:GetSecretValue", access{}},
		{"switchover", "secretsmanager:UpdateSecretVersionStage", access{true, false, true, false}},
		{"verify", "secretsmanager:GetSecretValue", access{true, false, false, false}},
		{"verify", "secretsmanager:PutSecretValue", access{}},
		{"verify", "secretsmanager:UpdateSecretVersionStage", access{}},
		{"expire", "secretsmanager:GetSecretValue", access{true, true, true, false}},
		{"expire", "secretsmanager:UpdateSecretVersionStage", access{true, false, true, false}},
		{"expire", "secretsmanager:PutSecretValue", access{}},
	}
	for _, c := range cases {
		t.Run(c.fn+" "+c.action, func(t *testing.T) {
			sts := d.policies(t, d.functionRole(t, c.fn))
			got := access{
				Managed:      allowed(t, sts, c.action, managedSecret),
				Master:       allowed(t, sts, c.action, masterSecret),
				TaggedMaster: allowed(t, sts, c.action, taggedMaster),
				Other:        allowed(t, sts, c.action, otherSecret),
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestIdentityTags: create and expire may write only the leak-identity
// tags, and only on managed secrets; no function may change a policy tag.
func TestIdentityTags(t *testing.T) {
	d := synth(t, testConfig)
	cases := []struct {
		fn, action string
		tagKeys    []string
		secret     secret
		want       bool
	}{
		{"create", "secretsmanager:TagResource", []string{"rotor:sha256:v1", "rotor:hmsl:v1"}, managedSecret, true},
		{"create", "secretsmanager:UntagResource", []string{"rotor:keyid:v1"}, managedSecret, true},
		{"create", "secretsmanager:TagResource", []string{"rotor:sha256:v1"}, otherSecret, false},
		{"create", "secretsmanager:TagResource", []string{"rotor:master-secret"}, managedSecret, false},
		{"create", "secretsmanager:UntagResource", []string{"rotor:provider"}, managedSecret, false},
		{"expire", "secretsmanager:UntagResource", []string{"rotor:sha256:v1"}, managedSecret, true},
		{"expire", "secretsmanager:TagResource", []string{"rotor:sha256:v1"}, managedSecret, false},
		{"verify", "secretsmanager:UntagResource", []string{"rotor:sha256:v1"}, managedSecret, false},
		{"switchover", "secretsmanager:TagResource", []string{"rotor:sha256:v1"}, managedSecret, false},
		{"resolve", "secretsmanager:TagResource", []string{"rotor:sha256:v1"}, managedSecret, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %s %v on %s", c.fn, c.action, c.tagKeys, c.secret.name), func(t *testing.T) {
			if got := allowed(t, d.policies(t, d.functionRole(t, c.fn)), c.action, c.secret, c.tagKeys...); got != c.want {
				t.Errorf("allowed = %v, want %v", got, c.want)
			}
		})
	}
}

// TestVerifyCannotReadMasters checks the verify role statement by statement:
// any Allow that covers GetSecretValue is met by a Deny for secrets tagged
// rotor:role=master.
func TestVerifyCannotReadMasters(t *testing.T) {
	d := synth(t, testConfig)
	sts := d.policies(t, d.functionRole(t, "verify"))
	denied := false
	for _, st := range sts {
		if st.Effect == "Deny" && matchesAny(st.actions(), "secretsmanager:GetSecretValue") && st.Resource == "*" &&
			cmp.Equal(st.Condition, map[string]map[string]any{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}) {
			denied = true
		}
	}
	for _, st := range sts {
		if st.Effect == "Allow" && matchesAny(st.actions(), "secretsmanager:GetSecretValue") && !denied {
			t.Errorf("statement %q allows GetSecretValue and no Deny keeps it from master secrets", st.Sid)
		}
	}
	if allowed(t, sts, "secretsmanager:GetSecretValue", masterSecret) || allowed(t, sts, "secretsmanager:GetSecretValue", taggedMaster) {
		t.Errorf("verify may read a master secret")
	}
}

// TestSecretsStatementsAreScoped: no secretsmanager action on * without a
// condition, in any policy of the stack.
func TestSecretsStatementsAreScoped(t *testing.T) {
	d := synth(t, testConfig)
	n := 0
	for _, id := range d.ofType("AWS::IAM::Role") {
		for _, st := range d.policies(t, id) {
			for _, a := range st.actions() {
				if !strings.HasPrefix(strings.ToLower(a), "secretsmanager:") {
					continue
				}
				n++
				if len(st.Condition) == 0 && resourceMatches(st.Resource, "*") {
					t.Errorf("role %s, statement %q: %s on %v without a condition", id, st.Sid, a, st.Resource)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no secretsmanager statements found: the test looked in the wrong place")
	}
}

// TestStateMachineRole: the state machine may invoke exactly the five
// functions and publish to the topic, plus what logging, tracing and the
// topic's key need.
func TestStateMachineRole(t *testing.T) {
	d := synth(t, testConfig)
	sm := d.resources[d.ofType("AWS::StepFunctions::StateMachine")[0]].Properties
	sts := d.policies(t, ref(sm["RoleArn"]))
	invoked := map[string]bool{}
	var published, other []string
	for _, st := range sts {
		if st.Effect != "Allow" {
			t.Errorf("unexpected %s statement %v", st.Effect, st)
		}
		for _, a := range st.actions() {
			switch {
			case a == "lambda:InvokeFunction":
				for _, r := range list(st.Resource) {
					id := ref(r)
					if j, ok := r.(map[string]any)["Fn::Join"].([]any); ok { // ARN:* (versions, aliases)
						parts := j[1].([]any)
						if len(parts) != 2 || parts[1] != ":*" {
							t.Errorf("lambda:InvokeFunction on %v", r)
						}
						id = ref(parts[0])
					}
					invoked[id] = true
				}
			case a == "sns:Publish":
				for _, r := range list(st.Resource) {
					published = append(published, ref(r))
				}
			case strings.HasPrefix(a, "lambda:") || strings.HasPrefix(a, "sns:") || a == "*":
				t.Errorf("unexpected %s on %v", a, st.Resource)
			case strings.HasPrefix(a, "kms:"):
				for _, r := range list(st.Resource) {
					if ref(r) != d.ofType("AWS::KMS::Key")[0] {
						t.Errorf("%s on %v, not the topic's key", a, r)
					}
				}
			default:
				other = append(other, a)
			}
		}
	}
	var want []string
	for _, fn := range functionNames {
		want = append(want, d.function(t, fn))
	}
	var got []string
	for id := range invoked {
		got = append(got, id)
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invoked functions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(d.ofType("AWS::SNS::Topic"), published); diff != "" {
		t.Errorf("published topics (-want +got):\n%s", diff)
	}
	for _, a := range other {
		if !strings.HasPrefix(a, "logs:") && !strings.HasPrefix(a, "xray:") {
			t.Errorf("unexpected action %s", a)
		}
	}
}

// TestWebhookRole: the webhook reads only its own keys and puts events only
// on the leak bus; it can read no managed or master secret.
func TestWebhookRole(t *testing.T) {
	d := synth(t, testConfig)
	sts := d.policies(t, d.functionRole(t, "webhook"))
	for _, s := range []secret{managedSecret, masterSecret, taggedMaster} {
		if allowed(t, sts, "secretsmanager:GetSecretValue", s) {
			t.Errorf("the webhook may read %s", s.name)
		}
	}
	keys := d.ofType("AWS::SecretsManager::Secret")
	bus := d.ofType("AWS::Events::EventBus")
	if len(keys) != 1 || len(bus) != 1 {
		t.Fatalf("secrets %v, buses %v", keys, bus)
	}
	for _, st := range sts {
		for _, a := range st.actions() {
			switch {
			case strings.HasPrefix(a, "secretsmanager:"):
				if r := list(st.Resource); len(r) != 1 || ref(r[0]) != keys[0] {
					t.Errorf("%s on %v, want only the webhook keys", a, st.Resource)
				}
			case a == "events:PutEvents":
				if r := list(st.Resource); len(r) != 1 || ref(r[0]) != bus[0] {
					t.Errorf("%s on %v, want only the leak bus", a, st.Resource)
				}
			case strings.HasPrefix(a, "logs:"), strings.HasPrefix(a, "xray:"):
			default:
				t.Errorf("unexpected action %s", a)
			}
		}
	}
	url := d.ofType("AWS::Lambda::Url")
	if len(url) != 1 || d.resources[url[0]].Properties["AuthType"] != "NONE" || ref(d.resources[url[0]].Properties["TargetFunctionArn"]) != d.function(t, "webhook") {
		t.Errorf("function URLs %v: want one, unauthenticated (the handler checks signatures), on the webhook", url)
	}
}

// TestIAMUserKeys: only create and expire may touch IAM access keys, only
// of users tagged rotor:managed=true, and tag them only with rotor:token:*.
func TestIAMUserKeys(t *testing.T) {
	d := synth(t, testConfig)
	for _, fn := range allFunctions {
		var iamActions []string
		for _, st := range d.policies(t, d.functionRole(t, fn)) {
			for _, a := range st.actions() {
				if !strings.HasPrefix(a, "iam:") {
					continue
				}
				iamActions = append(iamActions, a)
				cond, _ := st.Condition["StringEquals"]["iam:ResourceTag/rotor:managed"].(string)
				if cond != "true" {
					t.Errorf("%s: %s without the rotor:managed condition", fn, a)
				}
				if (a == "iam:TagUser" || a == "iam:UntagUser") && fmt.Sprint(st.Condition["ForAllValues:StringLike"]["aws:TagKeys"]) != "[rotor:token:*]" {
					t.Errorf("%s: %s may set tags other than rotor:token:*: %v", fn, a, st.Condition)
				}
			}
		}
		if want := fn == "create" || fn == "expire"; (len(iamActions) > 0) != want {
			t.Errorf("%s: IAM actions %v", fn, iamActions)
		}
	}
}

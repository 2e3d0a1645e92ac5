package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/infra/rotorcdk"
)

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
		out = append(out, parseStatements(t, p["PolicyDocument"].(map[string]any)["Statement"])...)
	}
	return out
}

// secret is what an evaluated request touches: a secret, its tags, and
// the account it lives in (default testAccount).
type secret struct {
	name    string
	tags    map[string]string
	account string
}

func (s secret) arn() string {
	account := s.account
	if account == "" {
		account = testAccount
	}
	return "arn:aws:secretsmanager:" + testRegion + ":" + account + ":secret:" + s.name + "-AbCdEf"
}

var (
	managedSecret = secret{name: "prod/stripe", tags: map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/stripe"}}
	masterSecret  = secret{name: "rotor/masters/stripe", tags: map[string]string{"rotor:role": "master"}}
	// A master secret that someone also tagged as managed: the tag that
	// makes it a master must still keep verify out.
	taggedMaster = secret{name: "rotor/masters/both", tags: map[string]string{"rotor:role": "master", "rotor:provider": "random"}}
	otherSecret  = secret{name: "team/unrelated", tags: map[string]string{"owner": "payments"}}
)

// secretRequest is action on s, with the request's tag keys.
func secretRequest(action string, s secret, tagKeys ...string) request {
	return request{action: action, resource: s.arn(), resourceTags: s.tags, tagKeys: tagKeys}
}

// allowed evaluates IAM's rule for one role's statements on a secret.
func allowed(t *testing.T, sts []statement, action string, s secret, tagKeys ...string) bool {
	t.Helper()
	return decide(t, sts, secretRequest(action, s, tagKeys...))
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
		if st.Effect == "Deny" && actionMatches(t, st, "secretsmanager:GetSecretValue") && st.Resource == "*" &&
			cmp.Equal(st.Condition, map[string]map[string]any{"StringEquals": {"secretsmanager:ResourceTag/rotor:role": "master"}}) {
			denied = true
		}
	}
	for _, st := range sts {
		if st.Effect == "Allow" && actionMatches(t, st, "secretsmanager:GetSecretValue") && !denied {
			t.Errorf("statement %q allows GetSecretValue and no Deny keeps it from master secrets", st.Sid)
		}
	}
	if allowed(t, sts, "secretsmanager:GetSecretValue", masterSecret) || allowed(t, sts, "secretsmanager:GetSecretValue", taggedMaster) {
		t.Errorf("verify may read a master secret")
	}
}

// TestSecretsStatementsAreScoped: in every policy of the stack, each
// Secrets Manager Allow carries a condition, and only ListSecrets (which
// has no resource-level permissions) is on "*": the others name secret ARN
// patterns of the stack's account and Region.
func TestSecretsStatementsAreScoped(t *testing.T) {
	for _, config := range []string{testConfig, prefixConfig} {
		d := synth(t, config)
		n := 0
		for _, id := range d.ofType("AWS::IAM::Role") {
			for _, st := range d.policies(t, id) {
				for _, a := range actionsOf(st) {
					if !strings.HasPrefix(strings.ToLower(a), "secretsmanager:") || st.Effect != "Allow" {
						continue
					}
					n++
					if len(st.Condition) == 0 && resourceMatches(t, st, "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/x-AbCdEf") {
						t.Errorf("role %s, statement %q: %s on %v without a condition", id, st.Sid, a, st.Resource)
					}
					if a != "secretsmanager:ListSecrets" && resourceMatches(t, st, "arn:aws:secretsmanager:eu-west-1:210987654321:secret:prod/x-AbCdEf") {
						t.Errorf("role %s, statement %q: %s on %v reaches another account's secrets", id, st.Sid, a, st.Resource)
					}
				}
			}
		}
		if n == 0 {
			t.Fatal("no secretsmanager statements found: the test looked in the wrong place")
		}
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
		for _, a := range actionsOf(st) {
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
			case a == "events:PutEvents": // TestOutcomeEvents says where
			case a == "states:StartExecution" || a == "states:DescribeExecution" || a == "states:StopExecution" || strings.HasPrefix(a, "events:"):
				// Children of itself only: its own ARN, its own executions,
				// the managed rule of startExecution.sync.
				want := map[string]string{"states:StartExecution": ":stateMachine:rotor-rotation\"",
					"states:DescribeExecution": ":execution:rotor-rotation:*\"", "states:StopExecution": ":execution:rotor-rotation:*\"",
					"events:PutTargets":   ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule\"",
					"events:PutRule":      ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule\"",
					"events:DescribeRule": ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule\""}[a]
				for _, r := range list(st.Resource) {
					if b, _ := json.Marshal(r); want == "" || !strings.Contains(string(b), want) {
						t.Errorf("%s on %s, want only a resource ending %s", a, b, want)
					}
				}
			case strings.HasPrefix(a, "lambda:") || strings.HasPrefix(a, "sns:") || strings.HasPrefix(a, "states:") || a == "*":
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

// TestWebhookRole: the webhook reads only its own keys, puts events only
// on the leak bus and writes only the ledger (TestLedgerAccess says how);
// it can read no managed or master secret.
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
		for _, a := range actionsOf(st) {
			switch {
			case strings.HasPrefix(a, "secretsmanager:"):
				if r := list(st.Resource); len(r) != 1 || ref(r[0]) != keys[0] {
					t.Errorf("%s on %v, want only the webhook keys", a, st.Resource)
				}
			case a == "events:PutEvents":
				if r := list(st.Resource); len(r) != 1 || ref(r[0]) != bus[0] {
					t.Errorf("%s on %v, want only the leak bus", a, st.Resource)
				}
			case a == "dynamodb:PutItem" || a == "dynamodb:DeleteItem":
				if r := list(st.Resource); len(r) != 1 || ref(r[0]) != d.ofType("AWS::DynamoDB::Table")[0] {
					t.Errorf("%s on %v, want only the ledger", a, st.Resource)
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

// TestIAMUserKeys: only create and expire may touch IAM users, only users
// whose rotor:secret tag names a secret the deployment may touch (the old
// rotor:managed tag is worth nothing), and they may set on them only
// rotor:token:* tags, never rotor:secret.
func TestIAMUserKeys(t *testing.T) {
	const user = "arn:aws:iam::123456789012:user/ci/deploy-bot"
	backs := func(secretARN string) map[string]string { return map[string]string{"rotor:secret": secretARN} }
	prodSecret := "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/deploy-bot-AbCdEf"
	teamSecret := "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/deploy-bot-AbCdEf"
	foreignSecret := "arn:aws:secretsmanager:us-east-1:210987654321:secret:prod/deploy-bot-AbCdEf"
	type access struct{ Unscoped, Scoped bool } // without and with secretNamePrefixes
	cases := []struct {
		name    string
		action  string
		tags    map[string]string
		tagKeys []string
		want    access
		// createOnly: expire only revokes (deactivates and deletes keys,
		// removes token tags); minting, listing and marking are create's.
		createOnly bool
	}{
		{"a user backing a prod/ secret", "iam:CreateAccessKey", backs(prodSecret), nil, access{true, true}, true},
		{"a user backing a team/ secret", "iam:CreateAccessKey", backs(teamSecret), nil, access{true, false}, true},
		{"revoking a key of a user backing a prod/ secret", "iam:UpdateAccessKey", backs(prodSecret), nil, access{true, true}, false},
		{"revoking a key of a user backing a team/ secret", "iam:DeleteAccessKey", backs(teamSecret), nil, access{true, false}, false},
		{"a user backing another account's secret", "iam:DeleteAccessKey", backs(foreignSecret), nil, access{false, false}, false},
		{"a user with no rotor:secret tag", "iam:CreateAccessKey", nil, nil, access{false, false}, false},
		{"a user with only the old rotor:managed tag", "iam:DeleteAccessKey", map[string]string{"rotor:managed": "true"}, nil, access{false, false}, false},
		{"listing a consenting user's tags", "iam:ListUserTags", backs(prodSecret), nil, access{true, true}, false},
		{"a token tag on a consenting user", "iam:TagUser", backs(prodSecret), []string{"rotor:token:4f2a"}, access{true, true}, true},
		{"removing a token tag", "iam:UntagUser", backs(prodSecret), []string{"rotor:token:4f2a"}, access{true, true}, false},
		{"writing rotor:secret", "iam:TagUser", backs(prodSecret), []string{"rotor:secret"}, access{false, false}, false},
		{"removing rotor:secret", "iam:UntagUser", backs(prodSecret), []string{"rotor:secret"}, access{false, false}, false},
		{"a token tag and another", "iam:TagUser", backs(prodSecret), []string{"rotor:token:4f2a", "owner"}, access{false, false}, false},
		{"a token tag on a user that consents to nothing", "iam:TagUser", nil, []string{"rotor:token:4f2a"}, access{false, false}, false},
	}
	for _, fn := range allFunctions {
		for _, c := range cases {
			t.Run(fn+" "+c.name, func(t *testing.T) {
				r := request{action: c.action, resource: user, resourceTags: c.tags, tagKeys: c.tagKeys}
				got := access{
					Unscoped: decide(t, synth(t, testConfig).policies(t, synth(t, testConfig).functionRole(t, fn)), r),
					Scoped:   decide(t, synth(t, prefixConfig).policies(t, synth(t, prefixConfig).functionRole(t, fn)), r),
				}
				want := c.want
				if fn != "create" && fn != "expire" || fn == "expire" && c.createOnly {
					want = access{}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", r, diff)
				}
			})
		}
	}
}

// prefixConfig scopes the deployment to two name prefixes: managed secrets
// under prod/, their masters under shared/masters/.
const prefixConfig = `{"secretNamePrefixes": ["prod/", "shared/masters/"]}`

// TestSecretScoping evaluates the functions' roles with and without
// secretNamePrefixes: with them, a function may act on prod/x and on a
// master under shared/masters/, not on other/x nor on a master elsewhere;
// never on another account's secret.
func TestSecretScoping(t *testing.T) {
	managed := map[string]string{"rotor:provider": "httpapi"}
	master := map[string]string{"rotor:role": "master"}
	secrets := []secret{
		{name: "prod/payments/stripe", tags: managed},
		{name: "prod-legacy/stripe", tags: managed},   // "prod/" is a prefix of names, not of this one
		{name: "other/stripe", tags: managed},         // outside both prefixes
		{name: "shared/masters/stripe", tags: master}, // a master under its prefix
		{name: "team/masters/stripe", tags: master},   // a master elsewhere
		{name: "prod/stripe", tags: managed, account: "210987654321"},
	}
	type access [6]bool // one per secret above
	cases := []struct {
		fn, action       string
		unscoped, scoped access
	}{
		{"resolve", "secretsmanager:DescribeSecret", access{true, true, true, true, true, false}, access{true, false, false, true, false, false}},
		{"create", "secretsmanager:PutSecretValue", access{true, true, true, false, false, false}, access{true, false, false, false, false, false}},
		{"create", "secretsmanager:GetSecretValue", access{true, true, true, true, true, false}, access{true, false, false, true, false, false}},
		{"switchover", "secretsmanager:UpdateSecretVersionStage", access{true, true, true, false, false, false}, access{true, false, false, false, false, false}},
		{"verify", "secretsmanager:GetSecretValue", access{true, true, true, false, false, false}, access{true, false, false, false, false, false}},
		{"expire", "secretsmanager:GetSecretValue", access{true, true, true, true, true, false}, access{true, false, false, true, false, false}},
		{"expire", "secretsmanager:UpdateSecretVersionStage", access{true, true, true, false, false, false}, access{true, false, false, false, false, false}},
	}
	for _, c := range cases {
		t.Run(c.fn+" "+c.action, func(t *testing.T) {
			for _, k := range []struct {
				config string
				want   access
			}{{testConfig, c.unscoped}, {prefixConfig, c.scoped}} {
				d := synth(t, k.config)
				sts := d.policies(t, d.functionRole(t, c.fn))
				var got access
				for i, s := range secrets {
					got[i] = allowed(t, sts, c.action, s)
				}
				if diff := cmp.Diff(k.want, got); diff != "" {
					t.Errorf("config %s: access to %v (-want +got):\n%s", k.config, secrets, diff)
				}
			}
		})
	}
	// The identity tags follow the same scope.
	d := synth(t, prefixConfig)
	sts := d.policies(t, d.functionRole(t, "create"))
	if !allowed(t, sts, "secretsmanager:TagResource", secrets[0], "rotor:sha256:v1") {
		t.Error("create may not tag prod/payments/stripe with its identity tags")
	}
	if allowed(t, sts, "secretsmanager:TagResource", secrets[2], "rotor:sha256:v1") {
		t.Error("create may tag other/stripe, outside the prefixes")
	}
}

// TestListSecrets: resolve, create and expire may list secrets (which has
// no resource-level permission) in the stack's Region only; the others may
// not list at all.
func TestListSecrets(t *testing.T) {
	d := synth(t, prefixConfig)
	for _, fn := range allFunctions {
		sts := d.policies(t, d.functionRole(t, fn))
		want := fn == "resolve" || fn == "create" || fn == "expire"
		if got := decide(t, sts, request{action: "secretsmanager:ListSecrets", resource: "*"}); got != want {
			t.Errorf("%s: ListSecrets in %s allowed = %v, want %v", fn, testRegion, got, want)
		}
		if decide(t, sts, request{action: "secretsmanager:ListSecrets", resource: "*", region: "eu-west-1"}) {
			t.Errorf("%s: ListSecrets allowed in eu-west-1", fn)
		}
	}
}

// TestRolePath: the functions' roles, and only they, live under /rotor/,
// the path the service control policy exempts.
func TestRolePath(t *testing.T) {
	d := synth(t, testConfig)
	fnRoles := map[string]bool{}
	for _, fn := range allFunctions {
		fnRoles[d.functionRole(t, fn)] = true
	}
	for _, id := range d.ofType("AWS::IAM::Role") {
		path, _ := d.resources[id].Properties["Path"].(string)
		if fnRoles[id] != (path == rotorcdk.RolePath) {
			t.Errorf("role %s: Path %q (a function's role: %v)", id, path, fnRoles[id])
		}
	}
	if len(fnRoles) != len(allFunctions) {
		t.Errorf("function roles %v", fnRoles)
	}
}

// TestOutcomeEvents: the state machine may put events on the configured
// bus only (the default bus unless eventBusName names another), with
// source rotor only, and its definition names that bus.
func TestOutcomeEvents(t *testing.T) {
	bus := func(name string) string {
		return "arn:aws:events:" + testRegion + ":" + testAccount + ":event-bus/" + name
	}
	for _, tc := range []struct {
		name, config, bus string
	}{
		{"the default bus", testConfig, "default"},
		{"a bus of its own", `{"eventBusName": "ops/rotations"}`, "ops/rotations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synth(t, tc.config)
			sm := d.resources[d.ofType("AWS::StepFunctions::StateMachine")[0]].Properties
			if subs, _ := sm["DefinitionSubstitutions"].(map[string]any); subs["EventBusName"] != tc.bus {
				t.Errorf("EventBusName substitution %v, want %q", subs["EventBusName"], tc.bus)
			}
			sts := d.policies(t, ref(sm["RoleArn"]))
			for _, c := range []struct {
				bus, source string
				want        bool
			}{
				{tc.bus, "rotor", true},
				{tc.bus, "rotor.leak", false},
				{tc.bus, "", false},
				{"rotor-leaks", "rotor", false},
				{"other", "rotor", false},
			} {
				r := request{action: "events:PutEvents", resource: bus(c.bus), eventSource: c.source}
				if c.bus == "other" && tc.bus != "default" {
					r.resource = bus("default")
				}
				if got := decide(t, sts, r); got != c.want {
					t.Errorf("events:PutEvents on %s with source %q: allowed %v, want %v", r.resource, c.source, got, c.want)
				}
			}
		})
	}
}

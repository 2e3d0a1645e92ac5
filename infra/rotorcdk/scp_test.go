package rotorcdk_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/infra/rotorcdk"
)

// The service control policy rotor recommends, as shipped: its
// placeholder for the administrators' role is tested as written.
const scpFile = "../scp/rotor-guard.json"

// Principals the SCP tests act as.
const (
	adminRole    = "arn:aws:iam::123456789012:role/REPLACE-WITH-ROTOR-ADMINISTRATORS-ROLE"
	deployerRole = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
	attackerRole = "arn:aws:iam::123456789012:role/team-payments-deployer"
	attackerUser = "arn:aws:iam::123456789012:user/mallory"
)

func loadSCP(t *testing.T) (raw []byte, sts []statement) {
	t.Helper()
	raw, err := os.ReadFile(scpFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement any
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", scpFile, err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("%s: Version %q", scpFile, doc.Version)
	}
	return raw, parseStatements(t, doc.Statement)
}

// roleARN is the ARN of a role of the template, its path included; the
// role's name stands for the one CloudFormation generates.
func (d *deployment) roleARN(t *testing.T, id string) string {
	t.Helper()
	path, _ := d.resources[id].Properties["Path"].(string)
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + testAccount + ":role" + path + id
}

// scpCase is one request and what the SCP (beside an identity policy that
// allows it, unless identity names a function) should decide.
type scpCase struct {
	name      string
	principal string // an ARN, or a function name for that function's role
	req       request
	want      bool
}

// scpNames are the stack's resources as CloudFormation names them in the
// default app (stack "Rotor", construct "Rotor"): <stack>-<logical id>-<suffix>.
type scpNames struct {
	table, createFn, webhookFn, createRole string
}

func stackNames(t *testing.T, d *deployment) scpNames {
	return scpNames{
		table:      "arn:aws:dynamodb:us-east-1:123456789012:table/Rotor-" + d.ofType("AWS::DynamoDB::Table")[0] + "-1X2Y3Z4W5V6U",
		createFn:   "arn:aws:lambda:us-east-1:123456789012:function:Rotor-" + d.function(t, "create") + "-AbCdEfGh1234",
		webhookFn:  "arn:aws:lambda:us-east-1:123456789012:function:Rotor-" + d.function(t, "webhook") + "-AbCdEfGh1234",
		createRole: d.roleARN(t, d.functionRole(t, "create")),
	}
}

func scpCases(t *testing.T, d *deployment) []scpCase {
	n := stackNames(t, d)
	team := secret{name: "team/payments/stripe", tags: map[string]string{"owner": "payments"}}
	managed := secret{name: "prod/stripe", tags: map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "shared/masters/stripe"}}
	master := secret{name: "shared/masters/stripe", tags: map[string]string{"rotor:role": "master"}}
	sec := secretRequest
	user := func(action string, keys ...string) request {
		return request{action: action, resource: "arn:aws:iam::123456789012:user/ci/deploy-bot", tagKeys: keys,
			resourceTags: map[string]string{"rotor:secret": managed.arn()}}
	}
	item := func(action, key string) request {
		return request{action: action, resource: n.table, leadingKeys: []string{key}}
	}
	on := func(action, resource string) request { return request{action: action, resource: resource} }
	rotorRole := "arn:aws:iam::123456789012:role/rotor/Rotor-RotorCreateRoleB43B81FD-1A2B3C4D"
	return []scpCase{
		// Someone with broad rights who is neither an administrator nor rotor.
		{"attacker tags a secret rotor:provider", attackerRole, sec("secretsmanager:TagResource", team, "rotor:provider"), false},
		{"attacker tags a secret rotor:master-secret", attackerRole, sec("secretsmanager:TagResource", managed, "rotor:master-secret"), false},
		{"attacker tags a secret rotor:role", attackerUser, sec("secretsmanager:TagResource", team, "owner", "rotor:role"), false},
		{"attacker writes an identity tag", attackerRole, sec("secretsmanager:TagResource", managed, "rotor:keyid:v1"), false},
		{"attacker removes rotor:role from a master", attackerRole, sec("secretsmanager:UntagResource", master, "rotor:role"), false},
		{"attacker creates a secret tagged rotor:provider", attackerRole, request{action: "secretsmanager:CreateSecret", resource: team.arn(), tagKeys: []string{"owner", "rotor:provider"}}, false},
		{"attacker tags a secret owner", attackerRole, sec("secretsmanager:TagResource", team, "owner"), true},
		{"attacker creates an untagged secret", attackerRole, request{action: "secretsmanager:CreateSecret", resource: team.arn()}, true},
		{"attacker puts a value into a master", attackerRole, sec("secretsmanager:PutSecretValue", master), false},
		{"attacker updates a master", attackerUser, sec("secretsmanager:UpdateSecret", master), false},
		{"attacker moves a master's labels", attackerRole, sec("secretsmanager:UpdateSecretVersionStage", master), false},
		{"attacker deletes a master", attackerRole, sec("secretsmanager:DeleteSecret", master), false},
		{"attacker opens a master by resource policy", attackerRole, sec("secretsmanager:PutResourcePolicy", master), false},
		{"attacker puts a value into a managed secret", attackerRole, sec("secretsmanager:PutSecretValue", managed), true},
		{"attacker tags a user rotor:secret", attackerRole, user("iam:TagUser", "rotor:secret"), false},
		{"attacker tags a user ROTOR:Secret", attackerRole, user("iam:TagUser", "ROTOR:Secret"), false},
		{"attacker removes a user's rotor:secret", attackerUser, user("iam:UntagUser", "rotor:secret"), false},
		{"attacker creates a user tagged rotor:secret", attackerRole, request{action: "iam:CreateUser", resource: "arn:aws:iam::123456789012:user/evil", tagKeys: []string{"rotor:secret"}}, false},
		{"attacker tags a user owner", attackerRole, user("iam:TagUser", "owner"), true},
		{"attacker writes a revoked record", attackerRole, item("dynamodb:PutItem", "revoked#keyid#AKIAEXAMPLE"), false},
		{"attacker deletes a delivery record", attackerRole, item("dynamodb:DeleteItem", "delivery#9f86d081"), false},
		{"attacker reads a revoked record", attackerRole, item("dynamodb:GetItem", "revoked#keyid#AKIAEXAMPLE"), true},
		{"attacker makes a role under /rotor/", attackerRole, on("iam:CreateRole", "arn:aws:iam::123456789012:role/rotor/evil"), false},
		{"attacker passes rotor's role", attackerRole, on("iam:PassRole", rotorRole), false},
		{"attacker adds a policy to rotor's role", attackerRole, on("iam:PutRolePolicy", rotorRole), false},
		{"attacker replaces rotor's code", attackerRole, on("lambda:UpdateFunctionCode", n.createFn), false},
		{"attacker lifts the webhook's reservation", attackerRole, on("lambda:DeleteFunctionConcurrency", n.webhookFn), false},
		{"attacker rewrites the state machine", attackerRole, on("states:UpdateStateMachine", "arn:aws:states:us-east-1:123456789012:stateMachine:rotor-rotation"), false},
		{"attacker deletes the ledger", attackerRole, on("dynamodb:DeleteTable", n.table), false},
		{"attacker replaces another function's code", attackerRole, on("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:123456789012:function:team-api"), true},
		{"attacker makes a role elsewhere", attackerRole, on("iam:CreateRole", "arn:aws:iam::123456789012:role/team/api"), true},

		// rotor's own roles: identity tags only, never a master's value.
		{"create tags identity tags", "create", sec("secretsmanager:TagResource", managed, "rotor:keyid:v1", "rotor:sha256:v1"), true},
		{"create removes an identity tag", "create", sec("secretsmanager:UntagResource", managed, "rotor:hmsl:v1"), true},
		{"expire removes an identity tag", "expire", sec("secretsmanager:UntagResource", managed, "rotor:keyid:v1"), true},
		{"create tags rotor:provider", "create", sec("secretsmanager:TagResource", managed, "rotor:provider"), false},
		{"create removes rotor:master-secret", "create", sec("secretsmanager:UntagResource", managed, "rotor:master-secret"), false},
		{"expire removes rotor:provider", "expire", sec("secretsmanager:UntagResource", managed, "rotor:provider"), false},
		{"create tags an identity tag and another", "create", sec("secretsmanager:TagResource", managed, "rotor:keyid:v1", "owner"), false},
		{"create puts a value into a managed secret", "create", sec("secretsmanager:PutSecretValue", managed), true},
		// A rotor role given broad rights by mistake: the SCP alone holds.
		{"a rotor role puts a value into a master", rotorRole, sec("secretsmanager:PutSecretValue", master), false},
		{"a rotor role tags identity tags", rotorRole, sec("secretsmanager:TagResource", managed, "rotor:keyid:v1", "rotor:sha256:v1"), true},
		{"a rotor role tags rotor:provider", rotorRole, sec("secretsmanager:TagResource", team, "rotor:provider"), false},
		{"a rotor role slips rotor:provider among identity tags", rotorRole, sec("secretsmanager:TagResource", team, "rotor:keyid:v1", "rotor:provider"), false},
		{"a rotor role tags a secret owner", rotorRole, sec("secretsmanager:TagResource", team, "owner"), false},
		{"create tags a user rotor:token", "create", user("iam:TagUser", "rotor:token:4f2a"), true},
		{"create tags a user rotor:secret", "create", user("iam:TagUser", "rotor:secret"), false},
		{"create records a revoked credential", "create", item("dynamodb:PutItem", "revoked#keyid#AKIAEXAMPLE"), true},
		{"webhook claims a delivery", "webhook", item("dynamodb:PutItem", "delivery#9f86d081"), true},
		{"create lists secrets in its Region", "create", request{action: "secretsmanager:ListSecrets", resource: "*"}, true},
		{"create lists secrets in another Region", "create", request{action: "secretsmanager:ListSecrets", resource: "*", region: "eu-west-1"}, false},
		{"create mints a key for a consenting user", "create", user("iam:CreateAccessKey"), true},
		{"create mints a key for a user that names another account's secret", "create",
			request{action: "iam:CreateAccessKey", resource: "arn:aws:iam::123456789012:user/ci/deploy-bot",
				resourceTags: map[string]string{"rotor:secret": "arn:aws:secretsmanager:us-east-1:210987654321:secret:prod/stripe-AbCdEf"}}, false},

		// The administrators, and CloudFormation deploying rotor.
		{"admin tags a secret rotor:provider", adminRole, sec("secretsmanager:TagResource", team, "rotor:provider", "rotor:master-secret"), true},
		{"admin removes rotor:role", adminRole, sec("secretsmanager:UntagResource", master, "rotor:role"), true},
		{"admin puts a value into a master", adminRole, sec("secretsmanager:PutSecretValue", master), true},
		{"admin tags a user rotor:secret", adminRole, user("iam:TagUser", "rotor:secret"), true},
		{"admin writes the ledger", adminRole, item("dynamodb:PutItem", "revoked#keyid#AKIAEXAMPLE"), false},
		{"deployer makes rotor's roles", deployerRole, on("iam:CreateRole", "arn:aws:iam::123456789012:role/rotor/Rotor-RotorCreateRole-1"), true},
		{"deployer passes rotor's roles", deployerRole, on("iam:PassRole", rotorRole), true},
		{"deployer updates rotor's code", deployerRole, on("lambda:UpdateFunctionCode", n.createFn), true},
		{"deployer updates the ledger's TTL", deployerRole, on("dynamodb:UpdateTimeToLive", n.table), true},
		{"deployer puts a value into a master", deployerRole, sec("secretsmanager:PutSecretValue", master), true},
	}
}

// TestSCPDocument: the file is a policy AWS Organizations takes (Deny
// statements only, under the 5,120-character limit), with the
// administrators' placeholder to replace, and its patterns fit what the
// construct deploys: the roles' path, the ledger's and the functions'
// generated names, the state machine's name.
func TestSCPDocument(t *testing.T) {
	raw, sts := loadSCP(t)
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatal(err)
	}
	if compact.Len() > 5120 {
		t.Errorf("%s is %d characters without whitespace; SCPs hold at most 5,120", scpFile, compact.Len())
	}
	if !bytes.Contains(raw, []byte("REPLACE-WITH-ROTOR-ADMINISTRATORS-ROLE")) {
		t.Errorf("%s: the administrators' placeholder is gone", scpFile)
	}
	sids := map[string]bool{}
	for _, st := range sts {
		if st.Effect != "Deny" || st.Sid == "" || sids[st.Sid] {
			t.Errorf("statement %q: Effect %s; every statement is a Deny with a Sid of its own", st.Sid, st.Effect)
		}
		sids[st.Sid] = true
	}
	if want := "arn:aws:iam::*:role" + rotorcdk.RolePath + "*"; !bytes.Contains(raw, []byte(`"`+want+`"`)) {
		t.Errorf("%s does not name rotor's roles as %s", scpFile, want)
	}
	d := synth(t, testConfig)
	n := stackNames(t, d)
	for _, c := range []struct{ action, resource string }{
		{"dynamodb:PutItem", n.table}, {"dynamodb:DeleteTable", n.table}, {"lambda:UpdateFunctionCode", n.createFn},
		{"states:UpdateStateMachine", "arn:aws:states:us-east-1:123456789012:stateMachine:rotor-rotation"},
	} {
		found := false
		for _, st := range sts {
			found = found || (actionMatches(t, st, c.action) && resourceMatches(t, st, c.resource))
		}
		if !found {
			t.Errorf("no statement covers %s on %s", c.action, c.resource)
		}
	}
}

// TestSCP evaluates the SCP for an attacker (broad rights, but neither
// an administrator nor rotor), for rotor's roles together with their
// identity policies, and for the administrators and CloudFormation.
func TestSCP(t *testing.T) {
	_, scp := loadSCP(t)
	d := synth(t, testConfig)
	table := stackNames(t, d).table
	for _, c := range scpCases(t, d) {
		t.Run(c.name, func(t *testing.T) {
			r := c.req
			identity := true
			r.principal = c.principal
			if !strings.HasPrefix(c.principal, "arn:") {
				id := d.functionRole(t, c.principal)
				r.principal = d.roleARN(t, id)
				// The identity policy names the table by Fn::GetAtt, which
				// resolve turns into arn:test:<logical id>.
				ir := r
				if ir.resource == table {
					ir.resource = "arn:test:" + d.ofType("AWS::DynamoDB::Table")[0]
				}
				identity = decide(t, d.policies(t, id), ir)
			}
			if got := identity && scpPermits(t, scp, r); got != c.want {
				t.Errorf("%s: allowed = %v (identity policy: %v), want %v", r, got, identity, c.want)
			}
		})
	}
}

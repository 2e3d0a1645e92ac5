package rotorcdk_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/rotation"
)

// TestLedgerTable: one table with the schema internal/ledger reads and
// writes, its TTL attribute, point-in-time recovery, kept when the stack
// goes.
func TestLedgerTable(t *testing.T) {
	d := synth(t, testConfig)
	ids := d.ofType("AWS::DynamoDB::Table")
	if len(ids) != 1 {
		t.Fatalf("want one table, got %v", ids)
	}
	table := d.resources[ids[0]]
	p := table.Properties
	got := map[string]any{
		"KeySchema":            p["KeySchema"],
		"AttributeDefinitions": p["AttributeDefinitions"],
		"BillingMode":          p["BillingMode"],
		"TimeToLive":           p["TimeToLiveSpecification"],
		"PITR":                 p["PointInTimeRecoverySpecification"],
		"DeletionPolicy":       table.DeletionPolicy,
		"UpdateReplacePolicy":  table.UpdateReplacePolicy,
	}
	want := map[string]any{
		"KeySchema":            []any{map[string]any{"AttributeName": ledger.KeyAttr, "KeyType": "HASH"}},
		"AttributeDefinitions": []any{map[string]any{"AttributeName": ledger.KeyAttr, "AttributeType": "S"}},
		"BillingMode":          "PAY_PER_REQUEST",
		"TimeToLive":           map[string]any{"AttributeName": ledger.ExpiresAttr, "Enabled": true},
		"PITR":                 map[string]any{"PointInTimeRecoveryEnabled": true},
		"DeletionPolicy":       "Retain",
		"UpdateReplacePolicy":  "Retain",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger table (-want +got):\n%s", diff)
	}
	if p["ResourcePolicy"] != nil {
		t.Errorf("the ledger has a resource policy: %v", p["ResourcePolicy"])
	}
}

// TestFunctionEnvironment: the ledger table reaches the functions that use
// it, and the secret name prefixes (comma-joined) every rotation function.
func TestFunctionEnvironment(t *testing.T) {
	usesLedger := map[string]bool{"resolve": true, "create": true, "switchover": true, "expire": true, "webhook": true}
	for _, c := range []struct {
		config, prefixes string
	}{{testConfig, ""}, {prefixConfig, "prod/,shared/masters/"}} {
		d := synth(t, c.config)
		table := d.ofType("AWS::DynamoDB::Table")[0]
		for _, fn := range allFunctions {
			env, _ := d.resources[d.function(t, fn)].Properties["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if got, want := ref(vars[ledger.EnvTable]), map[bool]string{true: table}[usesLedger[fn]]; got != want {
				t.Errorf("config %s: %s: %s refers to %q, want %q", c.config, fn, ledger.EnvTable, got, want)
			}
			want := c.prefixes
			if fn == "webhook" {
				want = ""
			}
			if got, _ := vars[rotation.EnvSecretPrefixes].(string); got != want {
				t.Errorf("config %s: %s: %s = %q, want %q", c.config, fn, rotation.EnvSecretPrefixes, got, want)
			}
		}
	}
}

// TestLedgerAccess evaluates every role of the stack for the ledger's item
// operations under each key prefix: resolve reads revoked# and writes and
// reads plan#, create and expire write revoked#, create takes lock# and
// switchover and expire release it, the webhook writes and deletes
// delivery#; nothing
// else, and no other role touches the table at all.
func TestLedgerAccess(t *testing.T) {
	d := synth(t, testConfig)
	table := "arn:test:" + d.ofType("AWS::DynamoDB::Table")[0]
	want := map[string][]string{
		"resolve":    {"GetItem " + ledger.RevokedPrefix, "GetItem " + ledger.PlanPrefix, "PutItem " + ledger.PlanPrefix},
		"create":     {"GetItem " + ledger.LockPrefix, "PutItem " + ledger.RevokedPrefix, "PutItem " + ledger.LockPrefix, "DeleteItem " + ledger.LockPrefix},
		"switchover": {"DeleteItem " + ledger.LockPrefix},
		"expire":     {"GetItem " + ledger.LockPrefix, "PutItem " + ledger.RevokedPrefix, "DeleteItem " + ledger.LockPrefix},
		"webhook":    {"PutItem " + ledger.DeliveryPrefix, "DeleteItem " + ledger.DeliveryPrefix},
	}
	actions := []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "BatchGetItem", "Query"}
	keys := []string{ledger.RevokedPrefix + "keyid#AKIAEXAMPLE", ledger.DeliveryPrefix + "9f86d081", ledger.PlanPrefix + "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b#0", ledger.LockPrefix + "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/x-AbCdEf"}
	got := map[string][]string{}
	for _, id := range d.ofType("AWS::IAM::Role") {
		name := id
		for _, fn := range allFunctions {
			if d.functionRole(t, fn) == id {
				name = fn
			}
		}
		sts := d.policies(t, id)
		for _, a := range actions {
			for _, k := range keys {
				if decide(t, sts, request{action: "dynamodb:" + a, resource: table, leadingKeys: []string{k}}) {
					got[name] = append(got[name], a+" "+k[:strings.Index(k, "#")+1])
				}
			}
			// A request with keys of both kinds is refused as a whole.
			if decide(t, sts, request{action: "dynamodb:" + a, resource: table, leadingKeys: keys}) {
				t.Errorf("%s: %s with leading keys %v allowed", name, a, keys)
			}
		}
		for _, a := range []string{"Scan", "DeleteTable", "UpdateTimeToLive"} {
			if decide(t, sts, request{action: "dynamodb:" + a, resource: table}) {
				got[name] = append(got[name], a)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger access by role (-want +got):\n%s", diff)
	}
}

// TestServicePrincipals: every resource-policy statement that lets an AWS
// service in names the source it acts for; the topic key's and the
// topic's CloudWatch statements let in this account's alarms only.
func TestServicePrincipals(t *testing.T) {
	d := synth(t, testConfig)
	docs := map[string]any{}
	for typ, prop := range map[string]string{"AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument", "AWS::SQS::QueuePolicy": "PolicyDocument"} {
		for _, id := range d.ofType(typ) {
			docs[id] = d.resources[id].Properties[prop].(map[string]any)["Statement"]
		}
	}
	n := 0
	for id, doc := range docs {
		for _, st := range parseStatements(t, doc) {
			p, _ := st.Principal.(map[string]any)
			if p["Service"] == nil || st.Effect != "Allow" {
				continue
			}
			n++
			keys := map[string]bool{}
			for _, kv := range st.Condition {
				for k := range kv {
					keys[k] = true
				}
			}
			if !keys["aws:SourceArn"] && !keys["aws:SourceAccount"] {
				t.Errorf("%s, statement %q: %v allowed with no aws:SourceArn or aws:SourceAccount", id, st.Sid, p["Service"])
			}
		}
	}
	if n == 0 {
		t.Fatal("no statement for a service principal found: the test looked in the wrong place")
	}

	alarm := func(account string) request {
		return request{service: "cloudwatch.amazonaws.com", sourceAccount: account,
			sourceArn: fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:Rotor-ExecutionsFailed", testRegion, account)}
	}
	ours, theirs := alarm(testAccount), alarm("210987654321")
	noSource := request{service: "cloudwatch.amazonaws.com"}
	events := ours
	events.service = "events.amazonaws.com"
	key := parseStatements(t, docs[d.ofType("AWS::KMS::Key")[0]])
	topic := d.ofType("AWS::SNS::Topic")[0]
	topicPolicy := parseStatements(t, docs[d.ofType("AWS::SNS::TopicPolicy")[0]])
	cases := []struct {
		name string
		sts  []statement
		do   func(request) request
	}{
		{"topic key", key, func(r request) request { r.action, r.resource = "kms:GenerateDataKey", "arn:test:key"; return r }},
		{"topic key", key, func(r request) request { r.action, r.resource = "kms:Decrypt", "arn:test:key"; return r }},
		{"topic", topicPolicy, func(r request) request { r.action, r.resource = "sns:Publish", "ref:"+topic; return r }},
	}
	for _, c := range cases {
		for _, r := range []struct {
			name string
			req  request
			want bool
		}{{"this account's alarm", ours, true}, {"another account's alarm", theirs, false}, {"no source", noSource, false}, {"EventBridge", events, false}} {
			req := c.do(r.req)
			t.Run(c.name+" "+req.action+" for "+r.name, func(t *testing.T) {
				if got := decide(t, c.sts, req); got != r.want {
					t.Errorf("%s: allowed = %v, want %v", req, got, r.want)
				}
			})
		}
	}
}

// TestWebhookConcurrency: the webhook reserves its concurrency (default 5)
// unless told 0; no other function reserves any.
func TestWebhookConcurrency(t *testing.T) {
	for _, c := range []struct {
		config string
		want   any
	}{{testConfig, 5.0}, {`{"webhookReservedConcurrency": 12}`, 12.0}, {`{"webhookReservedConcurrency": 0}`, nil}} {
		d := synth(t, c.config)
		for _, fn := range allFunctions {
			want := c.want
			if fn != "webhook" {
				want = nil
			}
			if got := d.resources[d.function(t, fn)].Properties["ReservedConcurrentExecutions"]; got != want {
				t.Errorf("config %s: %s: ReservedConcurrentExecutions %v, want %v", c.config, fn, got, want)
			}
		}
	}
}

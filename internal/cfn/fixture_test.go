package cfn

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/Rotor.template.json is a fixture: the template `make synth`
// writes to cdk.out/Rotor.template.json (build output, not in git), copied
// by hand. Refresh it by copying again when the construct changes what
// these tests assert.
func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/Rotor.template.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	webhookKeys = "RotorWebhookKeysD632E18C"
	webhookURL  = "RotorWebhookFunctionFunctionUrl65072DD6"
	keysARN     = "arn:aws:secretsmanager:us-east-1:000000000000:secret:Rotor-RotorWebhookKeysD632E18C-AbCdEf"
	url         = "http://127.0.0.1:4566/lambda-url/Rotor-RotorWebhookFunction570F9B76/"
)

func fixtureEnv(known bool) Env {
	env := Env{Region: "us-east-1", Account: "000000000000", StackName: "Rotor"}
	if known {
		env.Known = map[string]map[string]string{webhookKeys: {"Ref": keysARN}, webhookURL: {"FunctionUrl": url}}
	}
	return env
}

func TestFixtureNeedsKnown(t *testing.T) {
	d, err := Load(fixture(t), fixtureEnv(false))
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	want := []Need{{LogicalID: webhookURL, Attribute: "FunctionUrl"}, {LogicalID: webhookKeys, Attribute: "Ref"}}
	if diff := cmp.Diff(want, Unknowns(err)); diff != "" {
		t.Errorf("unknowns (-want +got):\n%s", diff)
	}
	if d == nil {
		t.Fatal("no Deployment beside ErrUnknown")
	}
	if diff := cmp.Diff([]Secret{{LogicalID: webhookKeys, Name: "Rotor-" + webhookKeys,
		Description: "rotor webhook: signing keys (github, gitguardian, generic) and a GitHub token that reads secret scanning alerts",
		Template:    `{"github":"","gitguardian":"","githubToken":""}`, GenerateKey: "generic", Length: 48, ExcludePunctuation: true}}, d.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	for _, f := range d.Functions {
		if f.Rotor == "webhook" && f.Env != nil {
			t.Errorf("webhook function's Env = %v, want it left empty (it needs the secret's ARN)", f.Env)
		}
	}
	if _, ok := d.Outputs["RotorWebhookUrlD6888F59"]; ok {
		t.Error("the webhook URL output is there without its URL")
	}
	if len(d.FunctionURLs) != 1 || d.FunctionURLs[0].Function != "Rotor-RotorWebhookFunction570F9B76" {
		t.Errorf("function URLs = %+v", d.FunctionURLs)
	}
}

func TestFixture(t *testing.T) {
	d, err := Load(fixture(t), fixtureEnv(true))
	if err != nil {
		t.Fatal(err)
	}
	const acct = "000000000000"
	arn := func(svc, res string) string { return "arn:aws:" + svc + ":us-east-1:" + acct + ":" + res }

	t.Run("roles", func(t *testing.T) {
		got := map[string][]string{}
		for _, r := range d.Roles {
			got[r.LogicalID] = slices.Sorted(maps.Keys(r.Policies))
			for name, doc := range r.Policies {
				if strings.Contains(doc, `"Ref"`) || strings.Contains(doc, "Fn::") || !json.Valid([]byte(doc)) {
					t.Errorf("role %s policy %s is not resolved JSON", r.LogicalID, name)
				}
			}
		}
		want := map[string][]string{
			"RotorCreateRoleB43B81FD":         {"RotorCreateRoleDefaultPolicyCE03F663"},
			"RotorExpireRoleC816F427":         {"RotorExpireRoleDefaultPolicy93CD04B4"},
			"RotorResolveRole55673182":        {"RotorResolveRoleDefaultPolicyC7FE935C"},
			"RotorRotationEventsRole0F2B1D5A": {"RotorRotationEventsRoleDefaultPolicy270F3C16"},
			"RotorRotationRoleCCA2AF5C":       {"RotorRotationRoleDefaultPolicyBB41A71C"},
			"RotorSchedulerRole804CFF28":      {"RotorSchedulerRoleDefaultPolicy6FAA13F3"},
			"RotorSwitchoverRole50A605E9":     {"RotorSwitchoverRoleDefaultPolicyB1CAD412"},
			"RotorVerifyRoleB2B743D4":         {"RotorVerifyRoleDefaultPolicy1C7CC513"},
			"RotorWebhookRoleCADFB42F":        {"RotorWebhookRoleDefaultPolicyCCE13808"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("roles and their policies (-want +got):\n%s", diff)
		}
		if len(d.Roles) != 9 {
			t.Errorf("%d roles, want 9", len(d.Roles))
		}
		// The construct's rotor:needs (read by the least-privilege test).
		if got := slices.Sorted(maps.Keys(role(t, d, "RotorSchedulerRole804CFF28").Explain)); !slices.Equal(got, []string{"sqs:SendMessage"}) {
			t.Errorf("scheduler role explains %v", got)
		}
		if got := role(t, d, "RotorRotationEventsRole0F2B1D5A").Explain; got != nil {
			t.Errorf("events role explains %v, want nothing", got)
		}
		create := role(t, d, "RotorCreateRoleB43B81FD")
		if diff := cmp.Diff("arn:aws:iam::"+acct+":role/rotor/Rotor-RotorCreateRoleB43B81FD", create.ARN); diff != "" {
			t.Errorf("create role ARN (-want +got):\n%s", diff)
		}
		var doc struct {
			Statement []struct {
				Sid       string
				Resource  any
				Condition map[string]map[string]any
			}
		}
		if err := json.Unmarshal([]byte(create.Policies["RotorCreateRoleDefaultPolicyCE03F663"]), &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range doc.Statement {
			if s.Sid == "ManagedSecrets" {
				found = true
				if diff := cmp.Diff(any("arn:aws:secretsmanager:us-east-1:"+acct+":secret:*"), s.Resource); diff != "" {
					t.Errorf("ManagedSecrets resource (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(any("*"), s.Condition["StringLike"]["secretsmanager:ResourceTag/rotor:provider"]); diff != "" {
					t.Errorf("ManagedSecrets condition (-want +got):\n%s", diff)
				}
			}
		}
		if !found {
			t.Error("the create role's policy has no ManagedSecrets statement")
		}
		webhook := role(t, d, "RotorWebhookRoleCADFB42F")
		if !strings.Contains(webhook.Policies["RotorWebhookRoleDefaultPolicyCCE13808"], `"Resource":"`+keysARN+`"`) {
			t.Error("the webhook role's policy does not name the keys secret's ARN from Known")
		}
	})

	t.Run("functions", func(t *testing.T) {
		table := "Rotor-RotorLedger66F5A30D"
		got := map[string]Function{}
		for _, f := range d.Functions {
			got[f.Rotor] = f
		}
		if len(d.Functions) != 6 || len(got) != 6 {
			t.Fatalf("%d functions (%d kinds), want 6", len(d.Functions), len(got))
		}
		for _, name := range []string{"resolve", "create", "switchover", "expire", "webhook"} {
			if diff := cmp.Diff(table, got[name].Env["ROTOR_LEDGER_TABLE"]); diff != "" {
				t.Errorf("%s ROTOR_LEDGER_TABLE (-want +got):\n%s", name, diff)
			}
		}
		wantWebhook := Function{LogicalID: "RotorWebhookFunction570F9B76", Name: "Rotor-RotorWebhookFunction570F9B76",
			ARN: arn("lambda", "function:Rotor-RotorWebhookFunction570F9B76"), Rotor: "webhook",
			Env:      map[string]string{"ROTOR_LEAK_BUS": "rotor-leaks", "ROTOR_LEDGER_TABLE": table, "ROTOR_WEBHOOK_SECRET": keysARN},
			MemoryMB: 128, TimeoutSeconds: 30, RoleARN: "arn:aws:iam::" + acct + ":role/rotor/Rotor-RotorWebhookRoleCADFB42F", ReservedConcurrency: 5}
		if diff := cmp.Diff(wantWebhook, got["webhook"]); diff != "" {
			t.Errorf("webhook function (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]FunctionURL{{LogicalID: webhookURL, Function: wantWebhook.Name, AuthType: "NONE"}}, d.FunctionURLs); diff != "" {
			t.Errorf("function URLs (-want +got):\n%s", diff)
		}
	})

	t.Run("state machine", func(t *testing.T) {
		if len(d.StateMachines) != 1 {
			t.Fatalf("%d state machines", len(d.StateMachines))
		}
		m := d.StateMachines[0]
		if diff := cmp.Diff(arn("states", "stateMachine:rotor-rotation"), m.ARN); diff != "" {
			t.Errorf("ARN (-want +got):\n%s", diff)
		}
		if strings.Contains(m.Definition, "${") || !json.Valid([]byte(m.Definition)) {
			t.Error("definition has a placeholder left or is not JSON")
		}
		for _, f := range d.Functions {
			if f.Rotor != "webhook" && !strings.Contains(m.Definition, `"Resource": "`+f.ARN+`"`) {
				t.Errorf("definition does not name %s", f.ARN)
			}
		}
		if !strings.Contains(m.Definition, `"TopicArn": "`+d.Topics[0].ARN+`"`) {
			t.Error("definition does not name the topic")
		}
		if diff := cmp.Diff("arn:aws:iam::"+acct+":role/Rotor-RotorRotationRoleCCA2AF5C", m.RoleARN); diff != "" {
			t.Errorf("role (-want +got):\n%s", diff)
		}
	})

	t.Run("rules and schedule", func(t *testing.T) {
		sm := d.StateMachines[0].ARN
		dlq := arn("sqs", "Rotor-RotorTriggerDeadLetters938EA732")
		events := "arn:aws:iam::" + acct + ":role/Rotor-RotorRotationEventsRole0F2B1D5A"
		if len(d.Rules) != 3 {
			t.Fatalf("%d rules, want 3", len(d.Rules))
		}
		gd := d.Rules[0]
		want := Rule{LogicalID: "RotorGuardDutyAccessKeyFindingsF5953446", Name: "Rotor-RotorGuardDutyAccessKeyFindingsF5953446",
			ARN: arn("events", "rule/Rotor-RotorGuardDutyAccessKeyFindingsF5953446"), Bus: "default",
			Description: "rotor: GuardDuty findings about IAM access keys start an emergency rotation",
			Pattern:     `{"detail":{"resource":{"resourceType":["AccessKey"]},"type":[{"prefix":"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration."},{"wildcard":"*:IAMUser/AnomalousBehavior"}]},"detail-type":["GuardDuty Finding"],"source":["aws.guardduty"]}`,
			Enabled:     true,
			Targets: []Target{{ID: "Target0", ARN: sm, RoleARN: events, DeadLetterARN: dlq,
				InputPathsMap: map[string]string{"detail-arn": "$.detail.arn", "detail-resource-accessKeyDetails-accessKeyId": "$.detail.resource.accessKeyDetails.accessKeyId", "detail-type": "$.detail.type"},
				InputTemplate: `{"leak":{"accessKeyId":<detail-resource-accessKeyDetails-accessKeyId>,"reference":<detail-arn>,"source":"guardduty"},"reason":<detail-type>,"trigger":"leak"}`}}}
		if diff := cmp.Diff(want, gd); diff != "" {
			t.Errorf("GuardDuty rule (-want +got):\n%s", diff)
		}
		leak := d.Rules[2]
		if diff := cmp.Diff([]any{"RotorLeakBusAlerts46D9C121", "rotor-leaks", arn("events", "rule/rotor-leaks/Rotor-RotorLeakBusAlerts46D9C121"), "$.detail", sm},
			[]any{leak.LogicalID, leak.Bus, leak.ARN, leak.Targets[0].InputPath, leak.Targets[0].ARN}); diff != "" {
			t.Errorf("leak bus rule (-want +got):\n%s", diff)
		}
		for _, r := range d.Rules {
			if len(r.Targets) != 1 || r.Targets[0].ARN != sm || r.Targets[0].DeadLetterARN != dlq {
				t.Errorf("rule %s targets %+v", r.LogicalID, r.Targets)
			}
		}
		wantSchedules := []Schedule{{LogicalID: "RotorSweeper64A128EE", Name: "Rotor-RotorSweeper64A128EE",
			ARN: arn("scheduler", "schedule/default/Rotor-RotorSweeper64A128EE"), Group: "default",
			Description: "rotor: rotate every managed secret older than its rotor:max-age", Expression: "rate(1 day)", Timezone: "UTC", Enabled: true,
			Target: Target{ARN: sm, RoleARN: "arn:aws:iam::" + acct + ":role/Rotor-RotorSchedulerRole804CFF28", Input: `{"trigger":"sweep"}`, DeadLetterARN: dlq}}}
		if diff := cmp.Diff(wantSchedules, d.Schedules); diff != "" {
			t.Errorf("schedules (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]Bus{{LogicalID: "RotorLeakBus4263491E", Name: "rotor-leaks", ARN: arn("events", "event-bus/rotor-leaks")}}, d.Buses); diff != "" {
			t.Errorf("buses (-want +got):\n%s", diff)
		}
	})

	t.Run("table, secret, topic", func(t *testing.T) {
		if diff := cmp.Diff([]Table{{LogicalID: "RotorLedger66F5A30D", Name: "Rotor-RotorLedger66F5A30D", ARN: arn("dynamodb", "table/Rotor-RotorLedger66F5A30D"),
			HashKey: "pk", HashKeyType: "S", TTLAttribute: "expiresAt"}}, d.Tables); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
		if len(d.Secrets) != 1 || d.Secrets[0].ARN != keysARN {
			t.Errorf("secrets = %+v", d.Secrets)
		}
		if len(d.Keys) != 1 || len(d.Topics) != 1 {
			t.Fatalf("%d keys, %d topics", len(d.Keys), len(d.Topics))
		}
		if diff := cmp.Diff(Topic{LogicalID: "RotorNotifications9EA18771", Name: "Rotor-RotorNotifications9EA18771",
			ARN: arn("sns", "Rotor-RotorNotifications9EA18771"), KMSKeyARN: d.Keys[0].ARN}, d.Topics[0]); diff != "" {
			t.Errorf("topic (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(d.Keys[0].ARN, arn("kms", "key/")) {
			t.Errorf("key ARN %s", d.Keys[0].ARN)
		}
	})

	t.Run("unmodelled", func(t *testing.T) {
		got := map[string]int{}
		for _, r := range d.Unmodelled {
			got[r.Type]++
		}
		want := map[string]int{"AWS::Logs::LogGroup": 7, "AWS::CloudWatch::Alarm": 3, "AWS::SQS::Queue": 1, "AWS::SQS::QueuePolicy": 1,
			"AWS::Lambda::Permission": 2, "AWS::SNS::TopicPolicy": 1, "AWS::CDK::Metadata": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("unmodelled types (-want +got):\n%s", diff)
		}
		if !slices.IsSortedFunc(d.Unmodelled, func(a, b Resource) int { return strings.Compare(a.LogicalID, b.LogicalID) }) {
			t.Error("Unmodelled is not sorted")
		}
	})

	t.Run("outputs", func(t *testing.T) {
		want := map[string]string{
			"RotorWebhookUrlD6888F59":      url,
			"RotorStateMachineArnF5F7DC95": arn("states", "stateMachine:rotor-rotation"),
			"RotorTopicArn800FCD6A":        arn("sns", "Rotor-RotorNotifications9EA18771"),
			"RotorLedgerTableName9B0C1567": "Rotor-RotorLedger66F5A30D",
			"RotorLeakBusNameAD222636":     "rotor-leaks",
		}
		got := map[string]string{}
		for k, o := range d.Outputs {
			got[k] = o.Value
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outputs (-want +got):\n%s", diff)
		}
	})
}

func role(t *testing.T, d *Deployment, id string) Role {
	t.Helper()
	for _, r := range d.Roles {
		if r.LogicalID == id {
			return r
		}
	}
	t.Fatalf("no role %s", id)
	return Role{}
}

package rotorcdk_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/eventpattern"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// match runs a synthesized rule's pattern over an event with
// internal/eventpattern, the matcher rotor local runs.
func match(t *testing.T, pattern map[string]any, event []byte) bool {
	t.Helper()
	raw, _ := json.Marshal(pattern)
	p, err := eventpattern.Compile(raw)
	if err != nil {
		t.Fatalf("the synthesized pattern %s is invalid: %v", raw, err)
	}
	ok, err := p.Match(event)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// transform applies a synthesized target's Input, InputPath or
// InputTransformer to an event as EventBridge does (internal/eventpattern).
func transform(t *testing.T, target map[string]any, event []byte) []byte {
	t.Helper()
	var in eventpattern.Input
	in.Input, _ = target["Input"].(string)
	in.InputPath, _ = target["InputPath"].(string)
	if tr, ok := target["InputTransformer"].(map[string]any); ok {
		in.Transformer = &eventpattern.InputTransformer{Template: tr["InputTemplate"].(string), PathsMap: map[string]string{}}
		paths, _ := tr["InputPathsMap"].(map[string]any)
		for name, p := range paths {
			in.Transformer.PathsMap[name] = p.(string)
		}
	}
	out, err := eventpattern.Transform(event, in, eventpattern.Meta{RuleName: "rule", RuleARN: "arn:aws:events:us-east-1:123456789012:rule/rule", IngestionTime: time.Now()})
	if err != nil {
		t.Fatalf("target input %+v: %v", in, err)
	}
	return out
}

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../test/testdata/events", name))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not JSON", name)
	}
	return data
}

// TestEventRules runs each rule's pattern over a real sample of its source
// (it must match, and its input transformer must produce a valid state
// machine input) and over a near-miss (it must not match). Sources of the
// samples: test/testdata/README.md.
func TestEventRules(t *testing.T) {
	d := synth(t, testConfig)
	rules := map[string]map[string]any{} // by rule logical id prefix
	for _, id := range d.ofType("AWS::Events::Rule") {
		for _, name := range []string{"GuardDutyAccessKeyFindings", "HealthCredentialsExposed", "LeakBusAlerts"} {
			if strings.HasPrefix(id, "Rotor"+name) {
				rules[name] = d.resources[id].Properties
			}
		}
	}
	if len(rules) != 3 {
		t.Fatalf("want 3 rules, found %v", rules)
	}
	cases := []struct {
		rule, sample string
		match        bool
		input        *rotation.Input // what the target starts the state machine with
	}{
		{"GuardDutyAccessKeyFindings", "guardduty-credential-exfiltration.json", true, &rotation.Input{
			Trigger: "leak", Reason: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
			Leak: &rotation.Leak{Source: "guardduty", AccessKeyID: "GeneratedFindingAccessKeyId",
				Reference: "arn:aws:guardduty:us-east-1:123456789012:detector/123456789012abcdef0123456789abcd/finding/16afba5c5c43e07c9e3e5e2e544e95df"}}},
		{"GuardDutyAccessKeyFindings", "guardduty-recon-near-miss.json", false, nil},
		{"GuardDutyAccessKeyFindings", "health-credentials-exposed.json", false, nil},
		{"HealthCredentialsExposed", "health-credentials-exposed.json", true, &rotation.Input{
			Trigger: "leak", Reason: "AWS_RISK_CREDENTIALS_EXPOSED",
			Leak: &rotation.Leak{Source: "health", AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
				Reference: "arn:aws:health:us-east-1::event/AWS_RISK_CREDENTIALS_EXPOSED_XXXXXXXXXXXXXXXXX"}}},
		{"HealthCredentialsExposed", "health-ec2-near-miss.json", false, nil},
		{"HealthCredentialsExposed", "guardduty-credential-exfiltration.json", false, nil},
		{"LeakBusAlerts", "leakbus-github.json", true, &rotation.Input{
			Trigger: "leak", Reason: "GitHub secret scanning alert 42 (publicly_leaked)",
			Leak: &rotation.Leak{Source: "github", SecretID: "prod/stripe", Reference: "https://github.com/example/app/security/secret-scanning/42"}}},
		{"LeakBusAlerts", "leakbus-manual-near-miss.json", false, nil},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.sample, func(t *testing.T) {
			rule := rules[c.rule]
			event := readEvent(t, c.sample)
			if got := match(t, rule["EventPattern"].(map[string]any), event); got != c.match {
				t.Fatalf("pattern %v: match = %v, want %v", rule["EventPattern"], got, c.match)
			}
			if !c.match {
				return
			}
			targets := rule["Targets"].([]any)
			if len(targets) != 1 {
				t.Fatalf("want one target, got %d", len(targets))
			}
			target := targets[0].(map[string]any)
			if ref(target["Arn"]) != d.ofType("AWS::StepFunctions::StateMachine")[0] {
				t.Errorf("target %v is not the state machine", target["Arn"])
			}
			raw := transform(t, target, event)
			var got rotation.Input
			if err := strictjson.Decode(raw, &got); err != nil {
				t.Fatalf("transformed input %s is not a state machine input: %v", raw, err)
			}
			if diff := cmp.Diff(c.input, &got); diff != "" {
				t.Errorf("state machine input (-want +got):\n%s", diff)
			}
		})
	}
}

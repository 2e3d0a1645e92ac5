package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// matchPattern is EventBridge's event-pattern matching for the parts of
// the language rotor's rules use (and a few more): exact values, prefix,
// suffix, wildcard, equals-ignore-case, anything-but and exists. Any other
// operator fails the test rather than guessing.
func matchPattern(t *testing.T, pattern map[string]any, event map[string]any) bool {
	t.Helper()
	for key, p := range pattern {
		v, present := event[key]
		switch p := p.(type) {
		case map[string]any: // a nested object pattern
			sub, ok := v.(map[string]any)
			if !ok || !matchPattern(t, p, sub) {
				return false
			}
		case []any:
			if !matchValues(t, p, v, present) {
				return false
			}
		default:
			t.Fatalf("pattern %s: %v is neither an object nor a list", key, p)
		}
	}
	return true
}

// matchValues: the field matches when any of the rules matches it; an
// array field matches when any of its elements does.
func matchValues(t *testing.T, rules []any, v any, present bool) bool {
	values := []any{v}
	if arr, ok := v.([]any); ok {
		values = arr
	}
	for _, rule := range rules {
		if m, ok := rule.(map[string]any); ok {
			if e, ok := m["exists"]; ok {
				if e == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, value := range values {
			if matchRule(t, rule, value) {
				return true
			}
		}
	}
	return false
}

func matchRule(t *testing.T, rule, value any) bool {
	m, ok := rule.(map[string]any)
	if !ok {
		return rule == value // exact: strings, numbers, booleans, null
	}
	if len(m) != 1 {
		t.Fatalf("rule %v: one operator per object", m)
	}
	s, isString := value.(string)
	for op, arg := range m {
		switch op {
		case "prefix":
			return isString && strings.HasPrefix(s, arg.(string))
		case "suffix":
			return isString && strings.HasSuffix(s, arg.(string))
		case "equals-ignore-case":
			return isString && strings.EqualFold(s, arg.(string))
		case "wildcard":
			parts := strings.Split(arg.(string), "*")
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			return isString && regexp.MustCompile("^"+strings.Join(parts, ".*")+"$").MatchString(s)
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				for _, x := range a {
					if x == value {
						return false
					}
				}
				return true
			case map[string]any:
				return !matchRule(t, a, value)
			default:
				return a != value
			}
		default:
			t.Fatalf("operator %q: this matcher does not know it", op)
		}
	}
	return false
}

// jsonPath reads "$.a.b[0].c" from an event; ok is false when it is absent.
func jsonPath(t *testing.T, event map[string]any, p string) (any, bool) {
	t.Helper()
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		t.Fatalf("path %q does not start with $", p)
	}
	var cur any = event
	step := regexp.MustCompile(`^(?:\.([A-Za-z0-9_-]+)|\[(\d+)\])`)
	for rest != "" {
		m := step.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("path %q: cannot read %q", p, rest)
		}
		rest = rest[len(m[0]):]
		if m[1] != "" {
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = obj[m[1]]; !ok {
				return nil, false
			}
		} else {
			arr, ok := cur.([]any)
			var i int
			fmt.Sscan(m[2], &i)
			if !ok || i >= len(arr) {
				return nil, false
			}
			cur = arr[i]
		}
	}
	return cur, true
}

// transform applies a rule target's input the way EventBridge does: an
// InputTransformer (unquoted placeholders take the value as JSON, a missing
// path gives null), an InputPath, or the whole event.
func transform(t *testing.T, target map[string]any, event map[string]any) []byte {
	t.Helper()
	if tr, ok := target["InputTransformer"].(map[string]any); ok {
		out := tr["InputTemplate"].(string)
		paths, _ := tr["InputPathsMap"].(map[string]any)
		for name, p := range paths {
			v, _ := jsonPath(t, event, p.(string))
			b, _ := json.Marshal(v)
			if strings.Contains(out, `"<`+name+`>"`) {
				t.Fatalf("placeholder <%s> is quoted; this test expects JSON values", name)
			}
			out = strings.ReplaceAll(out, "<"+name+">", string(b))
		}
		return []byte(out)
	}
	if p, ok := target["InputPath"].(string); ok {
		v, _ := jsonPath(t, event, p)
		b, _ := json.Marshal(v)
		return b
	}
	b, _ := json.Marshal(event)
	return b
}

func readEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../test/testdata/events", name))
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return e
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
			if got := matchPattern(t, rule["EventPattern"].(map[string]any), event); got != c.match {
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

// TestMatcher keeps the hand-written matcher honest on the operators the
// rules use, with EventBridge's documented results.
func TestMatcher(t *testing.T) {
	event := map[string]any{"source": "aws.guardduty", "detail": map[string]any{
		"type": "Persistence:IAMUser/AnomalousBehavior", "tags": []any{"a", "b"}, "n": 5.0}}
	cases := []struct {
		pattern string
		want    bool
	}{
		{`{"source": ["aws.guardduty"]}`, true},
		{`{"source": ["aws.health"]}`, false},
		{`{"detail": {"type": [{"wildcard": "*:IAMUser/AnomalousBehavior"}]}}`, true},
		{`{"detail": {"type": [{"wildcard": "*:EC2/AnomalousBehavior"}]}}`, false},
		{`{"detail": {"type": [{"prefix": "Persistence:"}]}}`, true},
		{`{"detail": {"type": [{"prefix": "persistence:"}]}}`, false},
		{`{"detail": {"tags": ["b"]}}`, true},
		{`{"detail": {"tags": ["c"]}}`, false},
		{`{"detail": {"missing": [{"exists": false}]}}`, true},
		{`{"detail": {"missing": [{"exists": true}]}}`, false},
		{`{"detail": {"missing": ["x"]}}`, false},
		{`{"detail": {"type": [{"anything-but": ["x", "y"]}]}}`, true},
		{`{"detail": {"n": [5]}}`, true},
		{`{"nothere": {"type": ["x"]}}`, false},
	}
	for _, c := range cases {
		var p map[string]any
		if err := json.Unmarshal([]byte(c.pattern), &p); err != nil {
			t.Fatal(err)
		}
		if got := matchPattern(t, p, event); got != c.want {
			t.Errorf("%s: got %v, want %v", c.pattern, got, c.want)
		}
	}
}

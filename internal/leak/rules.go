package leak

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// LeakBus is the custom event bus for leak alerts that are not AWS's own.
const LeakBus = "rotor-leaks"

// Rule is an EventBridge rule that starts the rotation state machine for a
// leak alert. The CDK construct deploys these rules and rotor local
// installs the same ones, so both match and transform alike.
type Rule struct {
	ID          string // construct id, and the local rule's name
	Description string
	Bus         string         // "" for the default bus, else LeakBus
	Pattern     map[string]any // the event pattern
	// Input is the state machine input, with Field values taken from the
	// event (an input transformer). When nil, InputPath passes that part of
	// the event instead.
	Input     map[string]any
	InputPath string
}

// Field is a value an input transformer takes from the event: a path such
// as "$.detail.type".
type Field string

// Rules are the leak rules: GuardDuty and AWS Health on the default bus,
// rotor's own alerts on LeakBus.
func Rules() []Rule {
	return []Rule{
		{
			ID:          "GuardDutyAccessKeyFindings",
			Description: "rotor: GuardDuty findings about IAM access keys start an emergency rotation",
			Pattern: map[string]any{
				"source":      []any{"aws.guardduty"},
				"detail-type": []any{"GuardDuty Finding"},
				"detail": map[string]any{
					"resource": map[string]any{"resourceType": []any{"AccessKey"}},
					// The credential-exfiltration family and every
					// <tactic>:IAMUser/AnomalousBehavior, as ParseGuardDuty.
					"type": []any{
						map[string]any{"prefix": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration."},
						map[string]any{"wildcard": "*:IAMUser/AnomalousBehavior"},
					},
				},
			},
			Input: map[string]any{
				"trigger": "leak", "reason": Field("$.detail.type"),
				"leak": map[string]any{"source": SourceGuardDuty,
					"accessKeyId": Field("$.detail.resource.accessKeyDetails.accessKeyId"), "reference": Field("$.detail.arn")},
			},
		},
		{
			ID:          "HealthCredentialsExposed",
			Description: "rotor: AWS Health AWS_RISK_CREDENTIALS_EXPOSED or _COMPROMISED starts an emergency rotation",
			Pattern: map[string]any{
				"source":      []any{"aws.health"},
				"detail-type": []any{"AWS Health Event"},
				// _EXPOSURE_SUSPECTED is left to a person, as in ParseHealth.
				"detail": map[string]any{"service": []any{"RISK"},
					"eventTypeCode": []any{"AWS_RISK_CREDENTIALS_EXPOSED", "AWS_RISK_CREDENTIALS_COMPROMISED"}},
			},
			Input: map[string]any{
				"trigger": "leak", "reason": Field("$.detail.eventTypeCode"),
				// A transformer takes one value per path: the first affected
				// entity, which for these events is the exposed key's id.
				"leak": map[string]any{"source": SourceHealth,
					"accessKeyId": Field("$.detail.affectedEntities[0].entityValue"), "reference": Field("$.detail.eventArn")},
			},
		},
		{
			ID:          "LeakBusAlerts",
			Description: "rotor: leak alerts put on the rotor-leaks bus (the webhook, your own tools) start an emergency rotation",
			Bus:         LeakBus,
			Pattern:     map[string]any{"detail-type": []any{"rotor.leak"}, "detail": map[string]any{"trigger": []any{"leak"}}},
			// The detail already has the state machine input's shape.
			InputPath: "$.detail",
		},
	}
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Transformer returns the rule's input as an EventBridge input transformer:
// InputPathsMap and InputTemplate, with each Field an unquoted placeholder
// (EventBridge inserts the value as JSON). ok is false for an InputPath rule.
func (r Rule) Transformer() (paths map[string]string, template string, ok bool) {
	if r.Input == nil {
		return nil, "", false
	}
	paths = map[string]string{}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case Field:
			name := strings.Trim(nonName.ReplaceAllString(strings.TrimPrefix(string(x), "$."), "-"), "-")
			paths[name] = string(x)
			return placeholder(name)
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				out[k] = walk(e)
			}
			return out
		}
		return v
	}
	// Without HTML escaping: json.Marshal would write each "<" as \u003c,
	// and EventBridge would take the placeholders for literal text.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(walk(r.Input)); err != nil {
		panic(fmt.Sprintf("leak: rule %s: %v", r.ID, err))
	}
	// Unquote the placeholders: EventBridge inserts each value as JSON.
	template = strings.TrimSuffix(b.String(), "\n")
	names := make([]string, 0, len(paths))
	for n := range paths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		template = strings.ReplaceAll(template, `"<`+n+`>"`, "<"+n+">")
	}
	return paths, template, true
}

// placeholder marshals as the string "<name>", unescaped.
type placeholder string

func (p placeholder) MarshalJSON() ([]byte, error) { return []byte(`"<` + string(p) + `>"`), nil }

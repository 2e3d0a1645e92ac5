package leak_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/leak"
)

func TestRuleTransformers(t *testing.T) {
	got := map[string]map[string]string{}
	for _, r := range leak.Rules() {
		paths, template, ok := r.Transformer()
		if !ok {
			if r.InputPath == "" {
				t.Errorf("rule %s has neither an input nor an input path", r.ID)
			}
			continue
		}
		got[r.ID] = paths
		// Every placeholder is unquoted, so any JSON value fills it.
		filled := template
		for name := range paths {
			if strings.Contains(template, `"<`+name+`>"`) {
				t.Errorf("rule %s: placeholder <%s> is quoted", r.ID, name)
			}
			if !strings.Contains(template, "<"+name+">") {
				t.Errorf("rule %s: template %s lacks placeholder <%s>", r.ID, template, name)
			}
			filled = strings.ReplaceAll(filled, "<"+name+">", `"value-of-`+name+`"`)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(filled), &v); err != nil || v["trigger"] != "leak" {
			t.Errorf("rule %s: template %s does not make a leak input: %v", r.ID, template, err)
		}
		// Each path's value lands in the input.
		b, _ := json.Marshal(v)
		for name := range paths {
			if !strings.Contains(string(b), `"value-of-`+name+`"`) {
				t.Errorf("rule %s: the value of %s is not in the input %s", r.ID, name, b)
			}
		}
	}
	want := map[string]map[string]string{
		"GuardDutyAccessKeyFindings": {"detail-type": "$.detail.type", "detail-resource-accessKeyDetails-accessKeyId": "$.detail.resource.accessKeyDetails.accessKeyId", "detail-arn": "$.detail.arn"},
		"HealthCredentialsExposed":   {"detail-eventTypeCode": "$.detail.eventTypeCode", "detail-affectedEntities-0-entityValue": "$.detail.affectedEntities[0].entityValue", "detail-eventArn": "$.detail.eventArn"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("input paths (-want +got):\n%s", diff)
	}
}

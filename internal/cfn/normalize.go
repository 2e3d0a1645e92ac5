package cfn

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Normalize returns a synthesized template without what changes with
// every build and does not matter to a local deployment: each function's
// Code (an S3 asset named by its hash), the aws:asset:* metadata and the
// AWS::CDK::Metadata resource. The result is indented JSON with sorted
// keys, so that two templates that deploy the same compare equal as bytes:
// rotorlocal embeds the normalized template of the repository's
// configuration, and test/template fails when it drifts from `make synth`.
func Normalize(template []byte) ([]byte, error) {
	var t map[string]any
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	resources, _ := t["Resources"].(map[string]any)
	if resources == nil {
		return nil, fmt.Errorf("template: no Resources")
	}
	for id, v := range resources {
		r, _ := v.(map[string]any)
		if r == nil {
			return nil, fmt.Errorf("template: resource %s is not an object", id)
		}
		if r["Type"] == "AWS::CDK::Metadata" {
			delete(resources, id)
			continue
		}
		if p, ok := r["Properties"].(map[string]any); ok && r["Type"] == "AWS::Lambda::Function" {
			delete(p, "Code")
		}
		if m, ok := r["Metadata"].(map[string]any); ok {
			for k := range m {
				if strings.HasPrefix(k, "aws:asset:") {
					delete(m, k)
				}
			}
		}
	}
	if c, ok := t["Conditions"].(map[string]any); ok {
		delete(c, "CDKMetadataAvailable")
		if len(c) == 0 {
			delete(t, "Conditions")
		}
	}
	out, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

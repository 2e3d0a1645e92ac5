// Package statemachine embeds rotor's Amazon States Language definition,
// rotation.asl.json, and reports and fills its ${...} placeholders, the
// same way CloudFormation's DefinitionSubstitutions does.
//
// The file is the single definition of the workflow: the CDK construct
// deploys it, the offline engine runs it, and tests check it. It uses only
// placeholders for what differs between deployments (function ARNs, the
// topic ARN); everything else is literal.
package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed rotation.asl.json
var definition string

// Definition returns the definition with its placeholders unfilled.
func Definition() string { return definition }

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders returns the names of the definition's ${...} placeholders,
// sorted, each once.
func Placeholders() []string {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(definition, -1) {
		seen[m[1]] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FunctionOf maps a function-ARN placeholder to the function's directory
// under functions/: "SwitchOverFunctionArn" -> "switchover". ok is false for
// placeholders that are not function ARNs.
func FunctionOf(placeholderName string) (function string, ok bool) {
	name, ok := strings.CutSuffix(placeholderName, "FunctionArn")
	if !ok || name == "" {
		return "", false
	}
	return strings.ToLower(name), true
}

// Substitute fills every placeholder from values and returns the definition.
// A missing value or a value for no placeholder is an error, and so is a
// result that is not valid JSON.
func Substitute(values map[string]string) (string, error) {
	want := Placeholders()
	var missing, extra []string
	for _, n := range want {
		if _, ok := values[n]; !ok {
			missing = append(missing, n)
		}
	}
	for n := range values {
		if !contains(want, n) {
			extra = append(extra, n)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		sort.Strings(extra)
		return "", fmt.Errorf("substitutions: missing %v, unknown %v", missing, extra)
	}
	out := placeholder.ReplaceAllStringFunc(definition, func(m string) string {
		v := values[m[2:len(m)-1]]
		b, _ := json.Marshal(v) // placeholders sit inside JSON strings
		return string(b[1 : len(b)-1])
	})
	if !json.Valid([]byte(out)) {
		return "", fmt.Errorf("substituted definition is not valid JSON")
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

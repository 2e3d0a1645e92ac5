// Package statemachine embeds rotor's Amazon States Language definition,
// rotation.asl.json, and reports and fills its ${...} placeholders, the
// same way CloudFormation's DefinitionSubstitutions does.
//
// The file is the single definition of the workflow: the CDK construct
// deploys it, the offline engine runs it, and tests check it. It uses only
// placeholders for what differs between deployments (function ARNs, the
// topic ARN, the event bus's name); everything else is literal.
//
// Every outcome is put on EventBridge (EventSource, one of the
// DetailType* constants, a detail of EventDetails' members) just before
// it is published to SNS.
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

// EventSource is the source of the events the state machine puts on
// EventBridge (its events:putEvents tasks, named Emit*): one per outcome,
// each just before the outcome's SNS notification, and one when a new
// version is current and verified, before the grace period.
const EventSource = "rotor"

// The detail-types of rotor's events. They are stable: consumers' rules
// match them.
const (
	// DetailTypeSwitchedOver: the new version is AWSCURRENT and verified;
	// the previous credential still works for gracePeriodSeconds. The
	// moment for consumers to refresh.
	DetailTypeSwitchedOver = "Rotation Switched Over"
	// DetailTypeSucceeded: the rotation ended, the previous credential
	// revoked (expire says how).
	DetailTypeSucceeded = "Rotation Succeeded"
	// DetailTypeFailed: the rotation failed and was undone (undo says how):
	// the previous version is current again, or, after a roll-forward,
	// the version that failed.
	DetailTypeFailed = "Rotation Failed"
	// DetailTypeExpireFailed: the new version is current and verified, but
	// the previous credential was NOT revoked.
	DetailTypeExpireFailed = "Rotation Expire Failed"
	// DetailTypeUndoFailed: the rotation failed and so did its undo.
	DetailTypeUndoFailed = "Rotation Undo Failed"
	// DetailTypeRejected: the request could not be planned (resolve
	// failed): nothing was changed.
	DetailTypeRejected = "Rotation Rejected"
	// DetailTypeFanOutFailed: a sweep (or a leak of several secrets) could
	// not start every child execution.
	DetailTypeFanOutFailed = "Rotation Fan-Out Failed"
	// DetailTypeLeakRevoked: leaked non-current versions were revoked.
	DetailTypeLeakRevoked = "Leak Revoked"
	// DetailTypeLeakRevokeFailed: leaked versions could NOT be revoked.
	DetailTypeLeakRevokeFailed = "Leak Revoke Failed"
	// DetailTypeLeakAlreadyRevoked: the leaked credential is one rotor had
	// already revoked; nothing was started.
	DetailTypeLeakAlreadyRevoked = "Leak Already Revoked"
	// DetailTypeLeakUnmanaged: the leaked credential is held by no secret
	// rotor manages: revoke it where it was issued.
	DetailTypeLeakUnmanaged = "Leak Unmanaged"
)

// EventDetails lists, for each detail-type, the members of its detail.
// They are ids, outcomes and error names; a cause is the failed step's
// error message, which the functions write without secret values. None
// is ever a secret value.
var EventDetails = map[string][]string{
	DetailTypeSwitchedOver:       {"event", "secretId", "versionId", "previousVersionId", "provider", "trigger", "mode", "gracePeriodSeconds", "execution"},
	DetailTypeSucceeded:          {"event", "secretId", "versionId", "previousVersionId", "provider", "trigger", "mode", "expire", "execution"},
	DetailTypeFailed:             {"event", "secretId", "versionId", "provider", "trigger", "mode", "error", "cause", "undo", "execution"},
	DetailTypeExpireFailed:       {"event", "secretId", "versionId", "previousVersionId", "provider", "trigger", "mode", "error", "cause", "execution"},
	DetailTypeUndoFailed:         {"event", "secretId", "versionId", "provider", "trigger", "mode", "error", "cause", "undoError", "undoCause", "execution"},
	DetailTypeRejected:           {"event", "error", "cause", "execution"},
	DetailTypeFanOutFailed:       {"event", "trigger", "count", "error", "cause", "execution"},
	DetailTypeLeakRevoked:        {"event", "secretId", "versions", "outcome", "provider", "trigger", "mode", "execution"},
	DetailTypeLeakRevokeFailed:   {"event", "secretId", "versions", "provider", "trigger", "error", "cause", "execution"},
	DetailTypeLeakAlreadyRevoked: {"event", "leak", "secretId", "versionId", "revokedAt", "execution"},
	DetailTypeLeakUnmanaged:      {"event", "leak", "execution"},
}

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

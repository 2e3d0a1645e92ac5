package rotation

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// start is what a step checks before it acts; the zero value is the
// state machine's own steps (create, switchover, verify).
type start struct {
	// action is the StepInput.Action the step answers to: "" for the state
	// machine's own steps, ActionExpire, ActionRevoke, ActionRollback or
	// ActionCleanup for those of the expire function.
	action string
	// versions: the step acts on StepInput.Versions, so an empty list is
	// invalid input.
	versions bool
	// consent reads the master secret and checks that it serves the secret
	// before the step changes anything, labels included. Steps that change
	// nothing on some paths (create reusing its version, expire with
	// nothing to revoke) ask for it later, where they first need it.
	consent bool
}

// begin starts a step: it checks the input before anything is read, reads
// the secret and its policy, refuses a payload whose provider is no
// longer the secret's, and asks the master's consent where st says so.
func (s *Service) begin(ctx context.Context, in StepInput, st start) (*secret, error) {
	if err := checkStep(in, st.action); err != nil {
		return nil, err
	}
	if st.versions && len(in.Versions) == 0 {
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("invalid step input: action %s needs versions", st.action))
	}
	sec, err := s.describe(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	// Undo too: a provider tag changed mid-rotation would have the new
	// provider "revoke" the old one's credential, which may do nothing
	// and say done; refusing (notified as not undone) names it instead.
	if err := checkProvider(in, sec); err != nil {
		return nil, err
	}
	if st.consent {
		if _, err := s.masterValue(ctx, sec); err != nil {
			return nil, err
		}
	}
	return sec, nil
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9-]{32,64}$`)

// checkStep validates a step's input before anything is read.
func checkStep(in StepInput, action string) error {
	var problems []string
	if in.SecretID == "" {
		problems = append(problems, "secretId is required")
	}
	if !tokenRE.MatchString(in.Token) {
		problems = append(problems, "token must be 32 to 64 letters, digits or hyphens (a UUID)")
	}
	if in.PreviousVersionID != "" && !tokenRE.MatchString(in.PreviousVersionID) {
		problems = append(problems, "previousVersionId must be a version id")
	}
	if p := in.PlannedVersionID; p != nil && *p != "" && !tokenRE.MatchString(*p) {
		problems = append(problems, "plannedVersionId must be a version id or empty")
	}
	if in.PreviousVersionID != "" && in.PreviousVersionID == in.Token {
		problems = append(problems, "previousVersionId equals token")
	}
	if in.Mode != "" && in.Mode != ModeNormal && in.Mode != ModeEmergency && in.Mode != ModeRevoke {
		problems = append(problems, fmt.Sprintf("mode %q is not normal, emergency or revoke", in.Mode))
	}
	for _, v := range in.Versions {
		if !tokenRE.MatchString(v) {
			problems = append(problems, "versions must be version ids")
			break
		}
	}
	if in.Action != "" && in.Action != action {
		problems = append(problems, fmt.Sprintf("action %q is not %q", in.Action, action))
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return rotorerr.New(rotorerr.InvalidInput, "invalid step input: "+strings.Join(problems, "; "))
	}
	return nil
}

// checkProvider refuses a step whose payload names another provider than the
// secret's tag: the tag changed during the rotation.
func checkProvider(in StepInput, sec *secret) error {
	if in.Provider != "" && in.Provider != sec.pol.providerName {
		return rotorerr.New(rotorerr.Conflict, fmt.Sprintf(
			"secret %q: the rotation started with provider %s but the %s tag now says %s", sec.name, in.Provider, TagProvider, sec.pol.providerName))
	}
	return nil
}

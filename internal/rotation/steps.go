package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// SwitchOver makes the token AWSCURRENT (the previous version becomes
// AWSPREVIOUS) and removes AWSPENDING. It never reads a secret value.
func (s *Service) SwitchOver(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "switchover", time.Now(), in, &out, &err)
	sec, err := s.begin(ctx, in, start{})
	if err != nil {
		return nil, err
	}
	result := &StepOutput{SecretID: sec.arn, Token: in.Token, PreviousVersionID: in.PreviousVersionID, Outcome: "switched"}
	switch {
	case sec.has(in.Token, LabelCurrent):
		result.Outcome = "already-current"
	case sec.has(in.Token, LabelPending):
		if cur := sec.holder(LabelCurrent); cur != in.PreviousVersionID {
			return nil, rotorerr.New(rotorerr.Conflict, fmt.Sprintf(
				"secret %q: AWSCURRENT moved to version %q since create saw %q; another rotation switched over", sec.name, cur, in.PreviousVersionID))
		}
		if err := s.moveLabel(ctx, sec, LabelCurrent, in.Token); err != nil {
			return nil, err
		}
	default:
		return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
			"secret %q: version %s does not hold AWSPENDING (it was reclaimed or never stored); refusing to make it current", sec.name, in.Token))
	}
	if err := s.removeLabel(ctx, sec, LabelPending, in.Token); err != nil {
		return nil, err
	}
	return result, s.unlock(ctx, sec.arn, in.Token)
}

// Verify proves that the current credential is the token's and works. It
// reads only the managed secret, never a master secret: a master that
// rotates itself is verified by the expire function (ActionVerify), whose
// role may read masters, and the verify function refuses it.
func (s *Service) Verify(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "verify", time.Now(), in, &out, &err)
	st := start{}
	if in.Action == ActionVerify {
		st.action = ActionVerify
	}
	sec, err := s.begin(ctx, in, st)
	if err != nil {
		return nil, err
	}
	if sec.pol.isMaster != (st.action == ActionVerify) {
		if sec.pol.isMaster {
			return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
				"secret %q is a master secret (tag %s): the expire function verifies it (action %q), since the verify function may not read masters", sec.name, TagRole, ActionVerify))
		}
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q is not a master secret: the verify function verifies it, not action %q of the expire function", sec.name, ActionVerify))
	}
	got, err := s.SM.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(sec.arn), VersionStage: aws.String(LabelCurrent)})
	if err != nil {
		return nil, smError(err, "read current version of secret %q", sec.name)
	}
	if v := aws.ToString(got.VersionId); v != in.Token {
		return nil, rotorerr.New(rotorerr.Conflict, fmt.Sprintf("secret %q: AWSCURRENT is version %s, not the token %s", sec.name, v, in.Token))
	}
	value, err := valueOf(got)
	if err != nil {
		return nil, err
	}
	if err := sec.pol.prov.Verify(ctx, &provider.VerifyRequest{SecretID: sec.arn, Token: in.Token, Value: value, Options: sec.pol.options}); err != nil {
		return nil, fmt.Errorf("secret %q: verify version %s: %w", sec.name, in.Token, err)
	}
	return &StepOutput{SecretID: sec.arn, Token: in.Token, PreviousVersionID: in.PreviousVersionID, Outcome: "verified"}, nil
}

// Expire revokes the previous credential once the grace period is over, and
// in emergency mode every credential that is neither current nor pending.
func (s *Service) Expire(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "expire", time.Now(), in, &out, &err)
	sec, err := s.begin(ctx, in, start{action: ActionExpire})
	if err != nil {
		return nil, err
	}
	result := &StepOutput{SecretID: sec.arn, Token: in.Token, PreviousVersionID: in.PreviousVersionID, Outcome: "revoked"}
	targets := []string{}
	if prev := in.PreviousVersionID; prev != "" {
		if err := refuseLive(sec, prev); err != nil {
			return nil, err
		}
		if !sec.has(prev, LabelRevoked) {
			targets = append(targets, prev)
		}
	}
	// Versions older than the previous one whose credentials rotor still
	// records as possibly live: a rotation superseded before its expire
	// left the version it replaced without labels and unrevoked. They are
	// revoked with the previous one, after this rotation's grace period.
	for _, v := range identifiedVersions(sec.tags) {
		if v == in.Token || v == in.PreviousVersionID || len(sec.stages[v]) > 0 || slices.Contains(targets, v) {
			continue
		}
		targets = append(targets, v)
	}
	if in.Mode == ModeEmergency {
		// The other versions the leak exposed, as resolve found them.
		for _, v := range in.Versions {
			if err := refuseLive(sec, v); err != nil {
				return nil, err
			}
			if v != in.PreviousVersionID && !sec.has(v, LabelRevoked) && !slices.Contains(targets, v) {
				targets = append(targets, v)
			}
		}
	}
	if len(targets) == 0 {
		result.Outcome = "nothing-to-expire"
		if in.PreviousVersionID != "" {
			result.Outcome = "already-revoked"
		}
		return result, nil
	}
	if _, err := s.masterValue(ctx, sec); err != nil {
		return nil, err // consent before any change
	}
	for _, v := range targets {
		if err := s.revokeVersion(ctx, sec, v, sec.holder(LabelCurrent)); err != nil {
			if errors.Is(err, rotorerr.NotFound) && v != in.PreviousVersionID && !slices.Contains(in.Versions, v) {
				// A forgotten version Secrets Manager no longer keeps:
				// nothing left to revoke, only its record to drop.
				if err := s.forgetIdentity(ctx, sec, v); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		result.Revoked = append(result.Revoked, v)
	}
	// ROTOR_REVOKED, like every label, sits on one version: the previous one,
	// which is the version this rotation retired.
	if in.PreviousVersionID != "" {
		if err := s.moveLabel(ctx, sec, LabelRevoked, in.PreviousVersionID); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// RevokeLeaked revokes the versions a leak exposed when none of them is
// current (ModeRevoke): nothing is rotated. A rotation whose grace period
// is running on one of them still completes: its expire finds the version
// revoked.
func (s *Service) RevokeLeaked(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "revoke", time.Now(), in, &out, &err)
	sec, err := s.begin(ctx, in, start{action: ActionRevoke, versions: true, consent: true})
	if err != nil {
		return nil, err
	}
	result := &StepOutput{SecretID: sec.arn, Token: in.Token, Outcome: "already-revoked"}
	var last string
	for _, v := range in.Versions {
		if err := refuseLive(sec, v); err != nil {
			return nil, err
		}
		last = v
		if sec.has(v, LabelRevoked) {
			continue
		}
		if err := s.revokeVersion(ctx, sec, v, sec.holder(LabelCurrent)); err != nil {
			return nil, err
		}
		result.Revoked = append(result.Revoked, v)
		result.Outcome = "revoked"
	}
	if err := s.moveLabel(ctx, sec, LabelRevoked, last); err != nil {
		return nil, err
	}
	return result, nil
}

// Rollback undoes a rotation whose new credential failed verification (or
// could not be switched over or verified): AWSCURRENT goes back to the
// previous version, the token's credential is revoked and its version
// labelled ROTOR_FAILED.
func (s *Service) Rollback(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "rollback", time.Now(), in, &out, &err)
	return s.undoUnlock(ctx, in, ActionRollback)
}

// Cleanup undoes a rotation that failed before switchover: it revokes what
// create made for the token, recorded or not, and releases AWSPENDING.
func (s *Service) Cleanup(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "cleanup", time.Now(), in, &out, &err)
	return s.undoUnlock(ctx, in, ActionCleanup)
}

// undoUnlock undoes and then releases the rotation lock the token may
// hold: after an undo (a roll-forward too, whose next create takes the
// lock with a new token) the rotation holds nothing.
func (s *Service) undoUnlock(ctx context.Context, in StepInput, action string) (*StepOutput, error) {
	out, err := s.undo(ctx, in, action)
	if err != nil || s.Ledger == nil {
		return out, err
	}
	return out, s.unlock(ctx, out.SecretID, in.Token)
}

func (s *Service) undo(ctx context.Context, in StepInput, action string) (*StepOutput, error) {
	sec, err := s.begin(ctx, in, start{action: action, consent: true})
	if err != nil {
		return nil, err
	}
	result := &StepOutput{SecretID: sec.arn, Token: in.Token, PreviousVersionID: in.PreviousVersionID, Outcome: "rolled-back"}
	if action == ActionCleanup {
		result.Outcome = "cleaned-up"
	}
	// Another rotation switched over on top of this one: the token's
	// version is that rotation's previous, whose credential consumers may
	// still use through its grace period, and its expire revokes it. Undo
	// nothing on its behalf. (A version left AWSPREVIOUS by this undo's own
	// earlier attempt has AWSCURRENT on the previous version instead.)
	if cur := sec.holder(LabelCurrent); !sec.has(in.Token, LabelCurrent) && sec.has(in.Token, LabelPrevious) && cur != in.PreviousVersionID {
		result.Outcome = OutcomeSuperseded
		s.log().WarnContext(ctx, "another rotation switched over on top of this one; nothing undone", "secretId", sec.arn,
			"token", in.Token, "current", cur)
		return result, nil
	}
	if sec.has(in.Token, LabelCurrent) {
		if action == ActionCleanup {
			return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
				"secret %q: version %s is already AWSCURRENT; cleanup does not move AWSCURRENT (use rollback)", sec.name, in.Token))
		}
		prev := in.PreviousVersionID
		if prev == "" {
			return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
				"secret %q: version %s is current and there is no previous version to roll back to", sec.name, in.Token))
		}
		if sec.has(prev, LabelRevoked) {
			return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
				"secret %q: cannot roll back to version %s: its credential was revoked", sec.name, prev))
		}
		if outcome, err := s.rollbackTarget(ctx, sec, prev); err != nil || outcome != "" {
			if err == nil {
				result.Outcome = outcome
				return result, nil
			}
			return nil, err
		}
		if err := s.moveLabel(ctx, sec, LabelCurrent, prev); err != nil {
			return nil, err
		}
	}
	exists := len(sec.stages[in.Token]) > 0
	if !exists {
		// Not labelled: it may still exist, deprecated, if another rotation
		// took AWSPENDING; or create never stored it.
		versions, err := s.versions(ctx, sec)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			exists = exists || aws.ToString(v.VersionId) == in.Token
		}
	}
	if exists {
		if err := s.revokeVersion(ctx, sec, in.Token, sec.holder(LabelCurrent)); err != nil {
			return nil, err
		}
		result.Revoked = []string{in.Token}
		if err := s.moveLabel(ctx, sec, LabelFailed, in.Token); err != nil {
			return nil, err
		}
		if err := s.removeLabel(ctx, sec, LabelPending, in.Token); err != nil {
			return nil, err
		}
		return result, nil
	}
	// Never recorded: revoke whatever the provider minted under the token.
	if tr, ok := sec.pol.prov.(provider.TokenRevoker); ok {
		master, err := s.masterValue(ctx, sec)
		if err != nil {
			return nil, err
		}
		n, err := tr.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: sec.arn, Token: in.Token, Master: master,
			Options: sec.pol.options, Holders: s.holders})
		if err != nil {
			return nil, fmt.Errorf("secret %q: revoke credentials minted for token %s: %w", sec.name, in.Token, err)
		}
		if n > 0 {
			result.Revoked = []string{in.Token}
		}
	}
	return result, nil
}

// OutcomeRollForward is the outcome of a rollback that does not roll back:
// the previous credential no longer exists at the provider (another
// rotation's clean-up, a person), so making it current again would be an
// outage. The new version stays current and the state machine makes
// another one at once.
const OutcomeRollForward = "roll-forward"

// OutcomeSuperseded is the outcome of an undo that finds another rotation
// switched over on top of this one: the version is that rotation's to
// expire.
const OutcomeSuperseded = "superseded"

// rollbackTarget asks the provider, before AWSCURRENT goes back to prev,
// whether prev's credential still exists: "" means roll back. Providers
// that cannot tell (no provider.LiveChecker) are trusted to; a provider
// that applies credentials restores prev's when the token's is revoked.
func (s *Service) rollbackTarget(ctx context.Context, sec *secret, prev string) (string, error) {
	lc, ok := sec.pol.prov.(provider.LiveChecker)
	if !ok {
		return "", nil
	}
	value, err := s.versionValue(ctx, sec, prev)
	if err != nil {
		return "", err
	}
	master, err := s.masterValue(ctx, sec)
	if err != nil {
		return "", err
	}
	live, err := lc.Live(ctx, &provider.LiveRequest{SecretID: sec.arn, VersionID: prev, Value: value, Master: master, Options: sec.pol.options})
	if err != nil {
		return "", fmt.Errorf("secret %q: check that the credential of version %s still exists: %w", sec.name, prev, err)
	}
	if live {
		return "", nil
	}
	s.log().WarnContext(ctx, "previous credential no longer exists; rolling forward instead of back", "secretId", sec.arn, "version", prev)
	return OutcomeRollForward, nil
}

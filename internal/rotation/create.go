package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// putAttempts is how often create repeats PutSecretValue before giving up.
// Repeating is safe: the same token with the same value is ignored, so a
// response lost after the write landed is answered by the next attempt.
const putAttempts = 3

// compensateTimeout bounds the clean-up create does after a failure, which
// runs on a fresh context: the step's own may be what expired.
const compensateTimeout = 20 * time.Second

// Create makes the new credential and records it as AWSPENDING under the
// token (docs/architecture.md, the version protocol).
func (s *Service) Create(ctx context.Context, in StepInput) (out *StepOutput, err error) {
	defer s.logStep(ctx, "create", time.Now(), in, &out, &err)
	sec, err := s.begin(ctx, in, start{})
	if err != nil {
		return nil, err
	}
	current := sec.holder(LabelCurrent)
	result := &StepOutput{SecretID: sec.arn, Token: in.Token, PreviousVersionID: current, Master: sec.pol.isMaster}

	switch {
	case sec.has(in.Token, LabelCurrent):
		// Create retried after switchover already ran: nothing to make.
		result.PreviousVersionID, result.Outcome = sec.holder(LabelPrevious), "already-current"
		return result, nil
	case sec.has(in.Token, LabelPending):
		result.Outcome = "reused"
		if err := s.reapply(ctx, sec, in.Token, current); err != nil {
			return nil, err
		}
		return result, s.identifyPending(ctx, sec, in.Token)
	case len(sec.stages[in.Token]) > 0:
		return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
			"secret %q: version %s was already rolled back or cleaned up (labels %v); start a new rotation", sec.name, in.Token, sec.stages[in.Token]))
	}

	// The master's consent first: for a secret it does not serve, nothing
	// changes anywhere, not even the rotation lock or the reclaim of an
	// abandoned AWSPENDING.
	// A planned rotation whose secret moved on since resolve is skipped, not
	// run a second time: overlapping sweeps, a manual rotation during a
	// sweep. An emergency item has no planned version: a leaked
	// credential is never left to another rotation's grace period.
	planned := in.PlannedVersionID != nil && in.Mode != ModeEmergency
	master, err := s.masterValue(ctx, sec)
	if isBusy(err) {
		if planned {
			return s.skip(ctx, sec, in.Token, nil, result, err.Error())
		}
		return nil, rotorerr.Wrap(rotorerr.Conflict, err)
	}
	if err != nil {
		return nil, err
	}
	// The rotation lock first, atomically: two creates racing past the
	// label checks below would both store AWSPENDING, the second taking
	// the label from the first.
	if holder, err := s.lock(ctx, sec, in.Token); err != nil {
		return nil, err
	} else if holder != "" {
		reason := fmt.Sprintf("another rotation (version %s) holds the rotation lock of secret %q", holder, sec.name)
		if planned {
			return s.skip(ctx, sec, in.Token, master, result, reason)
		}
		return nil, rotorerr.New(rotorerr.Conflict, reason)
	}
	stored := false
	defer func() {
		if err != nil && !stored {
			// Nothing recorded holds this rotation's place: the next one may
			// start (the clean-up still revokes by token whatever the
			// provider minted, and touches only this rotation's own).
			if uerr := s.unlock(context.WithoutCancel(ctx), sec.arn, in.Token); uerr != nil {
				s.log().WarnContext(ctx, "rotation lock not released; it expires after the lock TTL", "secretId", sec.arn, "error", uerr)
			}
		}
	}()
	if s.Ledger != nil {
		// Taken: what was read before may have changed while another
		// rotation held it.
		if err := s.refresh(ctx, sec); err != nil {
			return nil, err
		}
		current = sec.holder(LabelCurrent)
		result.PreviousVersionID = current
		// Held: now the other side of a master's lock (masters.go).
		if err := s.othersIdle(ctx, sec); err != nil {
			if !isBusy(err) {
				return nil, err
			}
			if !planned {
				return nil, rotorerr.Wrap(rotorerr.Conflict, err)
			}
			if err := s.unlock(ctx, sec.arn, in.Token); err != nil {
				return nil, err
			}
			return s.skip(ctx, sec, in.Token, master, result, err.Error())
		}
	}
	if planned {
		reason, err := s.stale(ctx, sec, in.Token, *in.PlannedVersionID)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			if err := s.unlock(ctx, sec.arn, in.Token); err != nil {
				return nil, err
			}
			return s.skip(ctx, sec, in.Token, master, result, reason)
		}
	}
	// One rotation at a time: AWSPENDING on any other version is another
	// rotation's lock, also when that version is already AWSCURRENT (its
	// switchover moved the label and has yet to release the lock: taking
	// that version as current here would build on a rotation that may
	// still roll back).
	if pending := sec.holder(LabelPending); pending != "" {
		if err := s.reclaim(ctx, sec, pending); err != nil {
			return nil, err
		}
		current = sec.holder(LabelCurrent)
		result.PreviousVersionID = current
	}
	var cur []byte
	if current != "" {
		if cur, err = s.versionValue(ctx, sec, current); err != nil {
			return nil, err
		}
	}
	if err := s.tidyIdentities(ctx, sec, current, cur); err != nil {
		return nil, err
	}
	pw, err := provider.NewPassword(sec.pol.prov, sec.pol.options)
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", sec.name, err)
	}
	redact.Add(ctx, pw)
	resp, err := sec.pol.prov.Create(ctx, &provider.CreateRequest{
		SecretID: sec.arn, Token: in.Token, Current: cur, Master: master, Options: sec.pol.options, Password: pw, Holders: s.holders})
	if err != nil {
		// A response lost after the provider minted leaves a key nobody
		// recorded: revoke whatever carries this token before returning.
		return nil, s.compensateToken(ctx, sec, in.Token, master, fmt.Errorf("secret %q: create credential: %w", sec.name, err))
	}
	if len(resp.Value) == 0 {
		return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("secret %q: provider %s returned an empty value", sec.name, sec.pol.providerName))
	}
	redact.Add(ctx, string(resp.Value))

	if err := s.putPending(ctx, sec, in.Token, resp.Value); err != nil {
		if !errors.Is(err, rotorerr.Unsafe) && s.pendingLanded(ctx, sec, in.Token) {
			err = nil
		} else {
			return nil, s.compensateValue(ctx, sec, in.Token, resp.Value, cur, master, err)
		}
	}
	// Recorded: a failure from here on is retried or cleaned up by token,
	// and the lock is held until then.
	stored = true
	if err := s.recordIdentity(ctx, sec, in.Token, resp.Value); err != nil {
		return nil, err
	}
	if a, ok := sec.pol.prov.(provider.Applier); ok {
		if err := a.Apply(ctx, &provider.ApplyRequest{SecretID: sec.arn, Token: in.Token, Value: resp.Value,
			Current: cur, Master: master, Options: sec.pol.options}); err != nil {
			// Recorded as AWSPENDING: a retry re-applies, cleanup revokes.
			return nil, fmt.Errorf("secret %q: apply new credential: %w", sec.name, err)
		}
	}
	result.Outcome = "created"
	return result, nil
}

// tidyIdentities keeps the identity tags true before a rotation: it records
// the current version's (a value rotor did not make, or made before it
// recorded identities) and drops those of versions Secrets Manager no
// longer lists.
func (s *Service) tidyIdentities(ctx context.Context, sec *secret, current string, value []byte) error {
	gone, err := s.goneVersions(ctx, sec)
	if err != nil {
		return err
	}
	if err := s.forgetIdentity(ctx, sec, gone...); err != nil {
		return err
	}
	if current == "" {
		return nil
	}
	return s.recordIdentity(ctx, sec, current, value)
}

// goneVersions returns the identified versions Secrets Manager no longer
// keeps. A version without labels is not gone: it may hold a live
// credential (a rotation superseded before its expire), which an expire
// revokes by its identity.
func (s *Service) goneVersions(ctx context.Context, sec *secret) ([]string, error) {
	var unlabelled []string
	for _, v := range identifiedVersions(sec.tags) {
		if _, ok := sec.stages[v]; !ok {
			unlabelled = append(unlabelled, v)
		}
	}
	if len(unlabelled) == 0 {
		return nil, nil
	}
	all, err := s.versions(ctx, sec)
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, v := range unlabelled {
		if !slices.ContainsFunc(all, func(e types.SecretVersionsListEntry) bool { return aws.ToString(e.VersionId) == v }) {
			gone = append(gone, v)
		}
	}
	return gone, nil
}

// identifyPending records the identity of a pending version whose create
// is retried, in case the first attempt stopped before recording it.
func (s *Service) identifyPending(ctx context.Context, sec *secret, token string) error {
	if _, ok := sec.pol.prov.(provider.Identifier); !ok {
		return nil
	}
	value, err := s.versionValue(ctx, sec, token)
	if err != nil {
		return err
	}
	return s.recordIdentity(ctx, sec, token, value)
}

// reapply completes a create retried after its value was stored: an applying
// provider may not have applied it yet.
func (s *Service) reapply(ctx context.Context, sec *secret, token, current string) error {
	a, ok := sec.pol.prov.(provider.Applier)
	if !ok {
		return nil
	}
	master, err := s.masterValue(ctx, sec)
	if err != nil {
		return err
	}
	value, err := s.versionValue(ctx, sec, token)
	if err != nil {
		return err
	}
	var cur []byte
	if current != "" {
		if cur, err = s.versionValue(ctx, sec, current); err != nil {
			return err
		}
	}
	if err := a.Apply(ctx, &provider.ApplyRequest{SecretID: sec.arn, Token: token, Value: value, Current: cur,
		Master: master, Options: sec.pol.options}); err != nil {
		return fmt.Errorf("secret %q: apply new credential: %w", sec.name, err)
	}
	return nil
}

// skip ends a planned create that must not run. An earlier attempt of the
// same create may have minted a credential and failed before recording it
// (its answer lost, its own revocation failed), and a skipped rotation
// runs no clean-up: whatever the provider holds under the token is
// revoked here, or the create fails and its clean-up does it.
func (s *Service) skip(ctx context.Context, sec *secret, token string, master []byte, result *StepOutput, reason string) (*StepOutput, error) {
	if tr, ok := sec.pol.prov.(provider.TokenRevoker); ok {
		n, err := tr.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: sec.arn, Token: token, Master: master,
			Options: sec.pol.options, Holders: s.holders})
		if err != nil {
			return nil, fmt.Errorf("secret %q: skipped (%s), but revoking what an earlier attempt minted for token %s failed: %w", sec.name, reason, token, err)
		}
		if n > 0 {
			s.log().WarnContext(ctx, "revoked what an earlier attempt minted before skipping", "secretId", sec.arn, "token", token, "count", n)
		}
	}
	result.Outcome, result.Reason = "skipped", reason
	return result, nil
}

// lock takes the secret's rotation lock in the ledger for token and
// returns the other rotation holding it, if any. Without a ledger (unit
// tests) there is no lock, only the labels.
func (s *Service) lock(ctx context.Context, sec *secret, token string) (string, error) {
	if s.Ledger == nil {
		return "", nil
	}
	holder, err := s.Ledger.Lock(ctx, ledger.LockPrefix+sec.arn, token, s.lockTTL())
	if err != nil {
		return "", rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("secret %q: take the rotation lock: %w", sec.name, err))
	}
	return holder, nil
}

// unlock releases the rotation lock of the secret arn if token holds it.
func (s *Service) unlock(ctx context.Context, arn, token string) error {
	if s.Ledger == nil {
		return nil
	}
	if err := s.Ledger.Unlock(ctx, ledger.LockPrefix+arn, token); err != nil {
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("secret %q: release the rotation lock: %w", arn, err))
	}
	return nil
}

// stale says why a planned rotation must not run, or "" when it may:
// AWSCURRENT is no longer the planned version, or another rotation holds a
// fresh AWSPENDING (an abandoned one, past the lock TTL, is reclaimed by
// create as before).
func (s *Service) stale(ctx context.Context, sec *secret, token, planned string) (string, error) {
	if cur := sec.holder(LabelCurrent); cur != planned {
		return fmt.Sprintf("AWSCURRENT is on version %q, not %q as planned: another rotation got there first", cur, planned), nil
	}
	pending := sec.holder(LabelPending)
	if pending == "" || pending == token {
		return "", nil
	}
	age, err := s.lockAge(ctx, sec, pending)
	if err != nil {
		return "", err
	}
	if age >= s.lockTTL() {
		return "", nil
	}
	return fmt.Sprintf("another rotation holds AWSPENDING on version %s, created %s ago", pending, age.Round(time.Second)), nil
}

// lockAge is how long ago the version holding AWSPENDING was created.
func (s *Service) lockAge(ctx context.Context, sec *secret, pending string) (time.Duration, error) {
	versions, err := s.versions(ctx, sec)
	if err != nil {
		return 0, err
	}
	var created time.Time
	for _, v := range versions {
		if aws.ToString(v.VersionId) == pending {
			created = aws.ToTime(v.CreatedDate)
		}
	}
	return s.now().Sub(created), nil
}

// reclaim handles AWSPENDING held by another rotation: Conflict while the
// lock is fresh; past the lock TTL the abandoned credential is revoked and
// the label removed.
func (s *Service) reclaim(ctx context.Context, sec *secret, pending string) error {
	age, err := s.lockAge(ctx, sec, pending)
	if err != nil {
		return err
	}
	if age < s.lockTTL() {
		return rotorerr.New(rotorerr.Conflict, fmt.Sprintf(
			"secret %q is being rotated by another execution: AWSPENDING is on version %s, created %s ago (lock TTL %s)",
			sec.name, pending, age.Round(time.Second), s.lockTTL()))
	}
	// A lock on the current version is a switchover that never released
	// it: its credential is the one in use, so only the label goes.
	if !sec.has(pending, LabelCurrent) {
		if err := s.revokeVersion(ctx, sec, pending, sec.holder(LabelCurrent)); err != nil {
			return fmt.Errorf("reclaim abandoned AWSPENDING version %s: %w", pending, err)
		}
	}
	if err := s.removeLabel(ctx, sec, LabelPending, pending); err != nil {
		return err
	}
	s.log().WarnContext(ctx, "reclaimed abandoned AWSPENDING", "secretId", sec.arn, "version", pending, "age", age.Round(time.Second).String())
	return nil
}

func (s *Service) putPending(ctx context.Context, sec *secret, token string, value []byte) error {
	var err error
	for attempt := 0; attempt < putAttempts; attempt++ {
		_, err = s.SM.PutSecretValue(ctx, &sm.PutSecretValueInput{
			SecretId: aws.String(sec.arn), ClientRequestToken: aws.String(token),
			SecretString: aws.String(string(value)), VersionStages: []string{LabelPending}})
		if err == nil {
			return nil
		}
		err = smError(err, "store new version %s of secret %q", token, sec.name)
		if errors.Is(err, rotorerr.Unsafe) || errors.Is(err, rotorerr.NotFound) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// pendingLanded checks whether a PutSecretValue whose answer was an error
// nevertheless stored the token as AWSPENDING.
func (s *Service) pendingLanded(ctx context.Context, sec *secret, token string) bool {
	out, err := s.SM.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(sec.arn)})
	if err != nil {
		return false
	}
	for _, l := range out.VersionIdsToStages[token] {
		if l == LabelPending {
			return true
		}
	}
	return false
}

// compensateValue revokes a created credential that could not be recorded
// and returns cause, annotated when the revocation failed too.
func (s *Service) compensateValue(ctx context.Context, sec *secret, token string, value, current, master []byte, cause error) error {
	if _, applies := sec.pol.prov.(provider.Applier); applies {
		return cause // nothing was applied before the value was stored
	}
	cctx, cancel := detached(ctx)
	defer cancel()
	err := sec.pol.prov.Revoke(cctx, &provider.RevokeRequest{SecretID: sec.arn, VersionID: token, Value: value,
		Current: current, Master: master, Options: sec.pol.options, Holders: s.holders})
	if err != nil {
		return fmt.Errorf("%w; revoking the unrecorded credential also failed: %v", cause, err)
	}
	return cause
}

// compensateToken revokes whatever the provider minted for token, for a
// create whose provider call failed (perhaps after minting).
func (s *Service) compensateToken(ctx context.Context, sec *secret, token string, master []byte, cause error) error {
	tr, ok := sec.pol.prov.(provider.TokenRevoker)
	if !ok || errors.Is(cause, rotorerr.InvalidInput) {
		return cause
	}
	cctx, cancel := detached(ctx)
	defer cancel()
	if n, err := tr.RevokeToken(cctx, &provider.RevokeTokenRequest{SecretID: sec.arn, Token: token, Master: master,
		Options: sec.pol.options, Holders: s.holders}); err != nil {
		return fmt.Errorf("%w; revoking credentials minted for token %s also failed: %v", cause, token, err)
	} else if n > 0 {
		s.log().WarnContext(ctx, "revoked unrecorded credentials after a failed create", "secretId", sec.arn, "token", token, "count", n)
	}
	return cause
}

// detached returns a context that keeps ctx's values (the redaction set) but
// not its cancellation, bounded by compensateTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
}

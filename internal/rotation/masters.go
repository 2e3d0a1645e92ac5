package rotation

// Masters that rotate themselves.
//
// A master secret may itself be managed: tagged rotor:role master and
// rotor:provider, with its provider's self strategy (provider.SelfRotator),
// which logs in with the master's own current password and sets a new one
// on the same account. Three rules keep the secrets it serves working:
//
//   - It is rotated only with its own consent: its current value's
//     rotor.serves lists the master itself, as it lists every secret the
//     master serves. A tag is a request; the value is the owner's word.
//   - It is never rotated while a rotation that uses it is in flight, and no
//     rotation that uses it starts while it is being rotated. Both hold
//     their own secret's rotation lock (ledger lock#<ARN>, from create to
//     switchover) and, once they hold it, read the other side's: a managed
//     secret's create reads its master's lock; a master's create reads the
//     locks of the secrets it serves. Both write before they read, with
//     consistent reads, so of two creates racing, at least one sees the
//     other and yields (Rotor.Conflict, or a skip for a planned item):
//     neither acts on a master the other is changing.
//   - Any other step that needs a master while the master holds its lock
//     (an expire, a rollback) fails Rotor.Transient and is retried: between
//     its apply and its switchover a single-password master's current value
//     no longer logs in.

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// busyError says that a rotation lock another rotation needs is held.
type busyError struct {
	what   string // "master secret \"m\"" or "secret \"s\", which this master serves,"
	holder string // the version holding the lock
}

func (e *busyError) Error() string {
	return fmt.Sprintf("%s is being rotated (version %s holds its rotation lock until its switchover)", e.what, e.holder)
}

// masterIdle fails with a busyError (Rotor.Transient) while the master
// secret arn is in the middle of its own rotation.
func (s *Service) masterIdle(ctx context.Context, sec *secret, arn string) error {
	if s.Ledger == nil || arn == "" {
		return nil
	}
	rec, err := s.Ledger.Get(ctx, ledger.LockPrefix+arn)
	if err != nil {
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("secret %q: read the rotation lock of master secret %q: %w", sec.name, sec.pol.master, err))
	}
	if rec == nil {
		return nil
	}
	return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("secret %q: %w; retry", sec.name,
		&busyError{what: fmt.Sprintf("master secret %q", sec.pol.master), holder: rec[ledger.OwnerAttr]}))
}

// checkSelfConsent reads the current value of a master that rotates itself
// and checks that its consent lists the master.
func (s *Service) checkSelfConsent(ctx context.Context, sec *secret) error {
	if sec.selfConsent != nil {
		return nil
	}
	cur := sec.holder(LabelCurrent)
	if cur == "" {
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"master secret %q has no current value: the self strategy logs in with the master's own password, so store it first", sec.name))
	}
	v, err := s.versionValue(ctx, sec, cur)
	if err != nil {
		return err
	}
	c, _, err := splitConsent(sec.name, v)
	if err != nil {
		return err
	}
	if !c.serves(sec.arn, sec.name) {
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"master secret %q does not consent to rotate itself: its value's %q field lists no pattern matching its own name or ARN; "+
				"the master's owner adds one, e.g. {%q: {\"serves\": [%q, ...]}}",
			sec.name, consentField+".serves", consentField, sec.name))
	}
	sec.selfConsent = &c
	return nil
}

// servedIdle is a master's create's half of the lock protocol: with the
// master's lock held, no secret that names it as master and that it
// serves may hold its own. Secrets that name the master without its
// consent are not its users (their rotations are refused) and cannot hold
// it back.
func (s *Service) servedIdle(ctx context.Context, sec *secret) error {
	if s.Ledger == nil || !sec.pol.isMaster {
		return nil
	}
	if err := s.checkSelfConsent(ctx, sec); err != nil {
		return err
	}
	var next *string
	for {
		page, err := s.SM.ListSecrets(ctx, &sm.ListSecretsInput{
			Filters:   []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{TagMaster}}},
			NextToken: next, MaxResults: aws.Int32(100)})
		if err != nil {
			return smError(err, "list the secrets that name master secret %q", sec.name)
		}
		for _, e := range page.SecretList {
			arn, name := aws.ToString(e.ARN), aws.ToString(e.Name)
			if !namesMaster(e.Tags, sec) || !sec.selfConsent.serves(arn, name) {
				continue
			}
			rec, err := s.Ledger.Get(ctx, ledger.LockPrefix+arn)
			if err != nil {
				return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("master secret %q: read the rotation lock of secret %q: %w", sec.name, name, err))
			}
			if rec != nil {
				return rotorerr.Wrap(rotorerr.Conflict, fmt.Errorf("master secret %q: %w",
					sec.name, &busyError{what: fmt.Sprintf("secret %q, which this master serves,", name), holder: rec[ledger.OwnerAttr]}))
			}
		}
		if page.NextToken == nil {
			return nil
		}
		next = page.NextToken
	}
}

// namesMaster reports whether tags name sec as their master, by name or ARN.
func namesMaster(tags []types.Tag, sec *secret) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == TagMaster {
			v := aws.ToString(t.Value)
			return v == sec.name || v == sec.arn
		}
	}
	return false
}

// isBusy reports whether err says that another rotation's lock is held.
func isBusy(err error) bool {
	var b *busyError
	return errors.As(err, &b)
}

// othersIdle is create's check, made once it holds its secret's rotation
// lock: a master's create needs the secrets it serves idle, any other
// create its master.
func (s *Service) othersIdle(ctx context.Context, sec *secret) error {
	if sec.pol.isMaster {
		return s.servedIdle(ctx, sec)
	}
	return s.masterIdle(ctx, sec, sec.masterARN)
}

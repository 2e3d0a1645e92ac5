package rotation

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

var (
	accessKeyIDRE = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)
	fingerprintRE = regexp.MustCompile(`^(sha256|hmsl):[0-9a-f]{64}$`)
)

// resolveLeak plans the response to a leak (docs/architecture.md, "Leak
// matching"). A leak that names a key id or fingerprint is matched to
// the versions recorded with it (identity.go); one that names only a secret
// leaks every version of it that may hold a live credential. Per secret:
//
//   - the current (or pending) credential leaked: an emergency rotation,
//     whose expire also revokes the other leaked versions;
//   - only older credentials leaked: a revoke item, which revokes them at
//     once and rotates nothing (a rotation in its grace period still
//     completes: its expire finds the version revoked);
//   - nothing managed matches: plan.Unmatched, which the state machine
//     reports as an unmanaged credential leaked. Never dropped silently.
func (s *Service) resolveLeak(ctx context.Context, in Input, plan *Plan) error {
	l := Leak{}
	if in.Leak != nil {
		l = *in.Leak
	}
	id := in.SecretID
	if id == "" {
		id = l.SecretID
	}
	found, order, err := s.findLeaked(ctx, &l)
	if err != nil {
		return err
	}
	if id != "" {
		item, sec, err := s.resolveOne(ctx, in, id)
		if err != nil {
			return err
		}
		// Versions the key id or fingerprint identify; with none, the alert
		// names only the secret and any live version may be the leaked one.
		leakPlan(&item, sec, found[sec.arn], len(found[sec.arn]) == 0)
		plan.Items = append(plan.Items, item)
		return nil
	}
	if len(order) == 0 {
		revoked, err := s.findRevoked(ctx, &l)
		if err != nil {
			return err
		}
		if revoked != nil {
			plan.AlreadyRevoked = revoked
			s.log().InfoContext(ctx, "leak matches a credential already revoked", "source", l.Source, "accessKeyId", l.AccessKeyID,
				"fingerprint", l.Fingerprint, "reference", l.Reference, "secretId", revoked.SecretID, "versionId", revoked.VersionID)
			return nil
		}
		plan.Unmatched = &l
		s.log().WarnContext(ctx, "leak matches no managed secret", "source", l.Source, "accessKeyId", l.AccessKeyID,
			"fingerprint", l.Fingerprint, "reference", l.Reference)
		return nil
	}
	for _, arn := range order {
		item, sec, err := s.resolveOne(ctx, in, arn)
		if err != nil {
			if !errors.Is(err, rotorerr.InvalidInput) {
				return err
			}
			// A leaked credential of a misconfigured secret is still planned:
			// its steps fail on the same error and notify, which a person
			// must see; dropping it would hide a live leaked key.
			item = Item{SecretID: arn, Name: arn, Mode: ModeEmergency, Trigger: TriggerLeak, Reason: in.Reason,
				Leak: in.Leak, LeakedVersions: found[arn]}
			plan.Items = append(plan.Items, item)
			continue
		}
		leakPlan(&item, sec, found[arn], false)
		plan.Items = append(plan.Items, item)
	}
	return nil
}

// leakPlan sets an item's mode and the versions its expire revokes.
func leakPlan(item *Item, sec *secret, leaked []string, wholeSecret bool) {
	current, pending := sec.holder(LabelCurrent), sec.holder(LabelPending)
	if wholeSecret {
		leaked = slices.Sorted(maps.Keys(sec.stages))
	}
	rotate := wholeSecret
	var versions []string
	for _, v := range leaked {
		switch {
		case v == current || v == pending:
			rotate = true
		case sec.has(v, LabelRevoked) || sec.has(v, LabelFailed):
			// Revoked already.
		default:
			versions = append(versions, v)
		}
	}
	item.LeakedVersions = versions
	item.GracePeriodSeconds = 0
	item.Mode = ModeRevoke
	if rotate {
		item.Mode = ModeEmergency
	}
}

// findLeaked looks the leak's key id and fingerprint up in the identity
// tags of managed secrets: secret ARN -> leaked versions, and the ARNs in
// order.
func (s *Service) findLeaked(ctx context.Context, l *Leak) (map[string][]string, []string, error) {
	found := map[string][]string{}
	var order []string
	for _, q := range []Leak{{AccessKeyID: l.AccessKeyID}, {Fingerprint: l.Fingerprint}} {
		if q.AccessKeyID == "" && q.Fingerprint == "" {
			continue
		}
		prefix, value, err := leakLookup(&q)
		if err != nil {
			return nil, nil, err
		}
		var next *string
		for {
			// tag-value is a prefix match over every tag of the secret; the
			// exact comparison, on the right tag, follows.
			page, err := s.SM.ListSecrets(ctx, &sm.ListSecretsInput{
				Filters:    []types.Filter{{Key: types.FilterNameStringTypeTagValue, Values: []string{value}}},
				MaxResults: aws.Int32(100), NextToken: next})
			if err != nil {
				return nil, nil, smError(err, "look up leaked credential")
			}
			for _, e := range page.SecretList {
				tags := map[string]string{}
				for _, t := range e.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				if _, managed := tags[TagProvider]; !managed || e.DeletedDate != nil {
					continue
				}
				arn := aws.ToString(e.ARN)
				for _, v := range versionsMatching(tags, prefix, value) {
					if _, seen := found[arn]; !seen {
						order = append(order, arn)
					}
					if !slices.Contains(found[arn], v) {
						found[arn] = append(found[arn], v)
					}
				}
			}
			if next = page.NextToken; next == nil {
				break
			}
		}
	}
	for _, vs := range found {
		sort.Strings(vs)
	}
	return found, order, nil
}

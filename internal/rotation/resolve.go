package rotation

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Resolve turns the state machine input into a plan. It reads metadata only
// (DescribeSecret, ListSecrets, ListSecretVersionIds) and changes nothing; a
// dry run is a plan the state machine does not execute.
func (s *Service) Resolve(ctx context.Context, in Input) (*Plan, error) {
	if err := checkInput(in); err != nil {
		return nil, err
	}
	plan := &Plan{Trigger: in.Trigger, DryRun: in.DryRun, MaxConcurrency: s.MaxConcurrency, Items: []Item{}}
	if plan.MaxConcurrency <= 0 {
		plan.MaxConcurrency = DefaultMaxConcurrency
	}
	switch in.Trigger {
	case TriggerSweep:
		if err := s.sweep(ctx, in, plan); err != nil {
			return nil, err
		}
	case TriggerLeak:
		if err := s.resolveLeak(ctx, in, plan); err != nil {
			return nil, err
		}
	default:
		item, _, err := s.resolveOne(ctx, in, in.SecretID)
		if err != nil {
			return nil, err
		}
		plan.Items = append(plan.Items, item)
	}
	s.log().InfoContext(ctx, "resolved", "step", "resolve", "trigger", in.Trigger, "items", len(plan.Items),
		"deferred", plan.Deferred, "dryRun", in.DryRun)
	return plan, nil
}

func checkInput(in Input) error {
	var problems []string
	switch in.Trigger {
	case TriggerSchedule, TriggerManual:
		if in.SecretID == "" {
			problems = append(problems, fmt.Sprintf("trigger %q needs secretId", in.Trigger))
		}
		if in.Leak != nil {
			problems = append(problems, fmt.Sprintf("trigger %q takes no leak; use trigger \"leak\"", in.Trigger))
		}
	case TriggerSweep:
		if in.SecretID != "" || in.Leak != nil {
			problems = append(problems, "trigger \"sweep\" takes neither secretId nor leak")
		}
	case TriggerLeak:
		l := in.Leak
		if l == nil {
			l = &Leak{}
		}
		if in.SecretID == "" && l.SecretID == "" && l.AccessKeyID == "" && l.Fingerprint == "" {
			problems = append(problems, "trigger \"leak\" needs secretId, leak.secretId, leak.accessKeyId or leak.fingerprint")
		}
		if in.SecretID != "" && l.SecretID != "" && in.SecretID != l.SecretID {
			problems = append(problems, "secretId and leak.secretId name different secrets")
		}
		if l.AccessKeyID != "" && !accessKeyIDRE.MatchString(l.AccessKeyID) {
			problems = append(problems, "leak.accessKeyId is not an AWS access key id (AKIA or ASIA and 16 capitals or digits)")
		}
		if l.Fingerprint != "" && !fingerprintRE.MatchString(l.Fingerprint) {
			problems = append(problems, "leak.fingerprint is not sha256:<64 lowercase hex> or hmsl:<64 lowercase hex>")
		}
		if in.GracePeriodSeconds != nil && *in.GracePeriodSeconds != 0 {
			problems = append(problems, "a leak rotation has no grace period; leave gracePeriodSeconds out")
		}
	case "":
		problems = append(problems, "trigger is required (schedule, manual, leak or sweep)")
	default:
		problems = append(problems, fmt.Sprintf("trigger %q is not schedule, manual, leak or sweep", in.Trigger))
	}
	if g := in.GracePeriodSeconds; g != nil && (*g < 0 || *g > int64(MaxGracePeriod/time.Second)) {
		problems = append(problems, fmt.Sprintf("gracePeriodSeconds %d is outside 0..%d", *g, int64(MaxGracePeriod/time.Second)))
	}
	if len(in.Reason) > 1024 {
		problems = append(problems, "reason is longer than 1024 characters")
	}
	if len(problems) > 0 {
		return rotorerr.New(rotorerr.InvalidInput, "invalid input: "+strings.Join(problems, "; "))
	}
	return nil
}

// resolveOne validates one named secret completely, so that a bad policy
// fails before any step changes anything.
func (s *Service) resolveOne(ctx context.Context, in Input, id string) (Item, *secret, error) {
	sec, err := s.describe(ctx, id)
	if err != nil {
		return Item{}, nil, err
	}
	if sec.pol.master != "" {
		// Existence only: resolve never reads a secret value.
		m, err := s.SM.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(sec.pol.master)})
		if err != nil {
			if isNotFound(err) {
				return Item{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
					"secret %q: master secret %q (tag %s) does not exist", sec.name, sec.pol.master, TagMaster))
			}
			return Item{}, nil, smError(err, "describe master secret %q", sec.pol.master)
		}
		if !hasTag(m.Tags, TagRole, RoleMaster) {
			return Item{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
				"secret %q: master secret %q lacks the tag %s=%s (only secrets so tagged may be read by the create and expire functions)",
				sec.name, sec.pol.master, TagRole, RoleMaster))
		}
	}
	item := Item{SecretID: sec.arn, Name: sec.name, Provider: sec.pol.providerName, Mode: ModeNormal,
		Trigger: in.Trigger, Reason: in.Reason, CurrentVersionID: sec.holder(LabelCurrent), Leak: in.Leak}
	item.GracePeriodSeconds = int64(sec.pol.grace / time.Second)
	if in.GracePeriodSeconds != nil {
		item.GracePeriodSeconds = *in.GracePeriodSeconds
	}
	if in.Trigger == TriggerLeak {
		item.Mode, item.GracePeriodSeconds = ModeEmergency, 0
	}
	return item, sec, nil
}

// sweep plans every managed secret whose current version is older than its
// rotor:max-age, oldest first. A secret whose policy is broken is still
// planned: its rotation fails at create and is notified, never silently
// skipped.
func (s *Service) sweep(ctx context.Context, in Input, plan *Plan) error {
	type due struct {
		item Item
		age  time.Duration
	}
	var all []due
	var next *string
	now := s.now()
	for {
		page, err := s.SM.ListSecrets(ctx, &sm.ListSecretsInput{
			Filters:    []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{TagProvider}}},
			MaxResults: aws.Int32(100), NextToken: next})
		if err != nil {
			return smError(err, "list managed secrets")
		}
		for _, e := range page.SecretList {
			tags := map[string]string{}
			for _, t := range e.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			provName, ok := tags[TagProvider]
			if !ok || e.DeletedDate != nil {
				continue // the filter is a prefix match: rotor:provider-something
			}
			name := aws.ToString(e.Name)
			if s.inScope(name) != nil {
				plan.OutOfScope++
				continue
			}
			cur, created, err := s.currentVersion(ctx, aws.ToString(e.ARN))
			if err != nil {
				return err
			}
			pol, perr := readPolicy(name, tags, s.lookup)
			// A broken policy is planned all the same: its create fails on
			// the same error and notifies, which a person must see; a sweep
			// that skipped it would hide it for ever.
			if perr == nil && cur != "" && now.Sub(created) < pol.maxAge {
				continue
			}
			grace := pol.grace
			if perr != nil {
				grace = DefaultGracePeriod
			}
			all = append(all, due{age: now.Sub(created), item: Item{
				SecretID: aws.ToString(e.ARN), Name: name, Provider: provName, Mode: ModeNormal,
				GracePeriodSeconds: int64(grace / time.Second), Trigger: TriggerSweep, Reason: in.Reason, CurrentVersionID: cur,
			}})
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].age > all[j].age })
	limit := s.MaxPlanItems
	if limit <= 0 {
		limit = DefaultMaxPlanItems
	}
	for i, d := range all {
		if i == limit {
			plan.Deferred = len(all) - limit
			break
		}
		plan.Items = append(plan.Items, d.item)
	}
	return nil
}

// currentVersion returns the AWSCURRENT version of a secret and when it was
// created; "" for a secret with no value yet.
func (s *Service) currentVersion(ctx context.Context, arn string) (string, time.Time, error) {
	var next *string
	for {
		page, err := s.SM.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String(arn), NextToken: next, MaxResults: aws.Int32(100)})
		if err != nil {
			return "", time.Time{}, smError(err, "list versions of %q", arn)
		}
		for _, v := range page.Versions {
			for _, l := range v.VersionStages {
				if l == LabelCurrent {
					return aws.ToString(v.VersionId), aws.ToTime(v.CreatedDate), nil
				}
			}
		}
		if next = page.NextToken; next == nil {
			return "", time.Time{}, nil
		}
	}
}

func hasTag(tags []types.Tag, key, value string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == key && aws.ToString(t.Value) == value {
			return true
		}
	}
	return false
}

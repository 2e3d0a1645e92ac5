package rotation

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Resolve turns the state machine input into a plan. It reads metadata only
// (DescribeSecret, ListSecrets) and changes no secret; a dry run is a plan
// the state machine does not execute. A plan of one item (a manual or
// scheduled rotation, a leak of one secret) is returned inline and the
// execution runs it; a sweep, or a leak of several secrets, is stored in
// pages (plan.go) and the execution fans out to one child per item.
func (s *Service) Resolve(ctx context.Context, in Input) (*Plan, error) {
	if err := checkInput(in); err != nil {
		return nil, err
	}
	plan := &Plan{Trigger: in.Trigger, DryRun: in.DryRun, Pace: s.pace()}
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
		item, sec, err := s.resolveOne(ctx, in, in.SecretID)
		if err != nil {
			return nil, err
		}
		// A schedule waits for the window and the end of a pause; a person
		// overrides them, and the plan says so.
		if held := sec.pol.timing.Holds(s.now()); held != "" {
			if in.Trigger == TriggerSchedule {
				plan.hold(sec.name, held)
				break
			}
			item.Overrides = held
		}
		plan.Items = append(plan.Items, item)
	}
	items := plan.Items
	plan.Items, plan.Count = nil, len(items)
	for i := range items {
		// A UUIDv7 carries its minting time: a later sweep reads the
		// version's age from its id, with no call per secret.
		tok, err := s.newToken()
		if err != nil {
			return nil, err
		}
		items[i].Token = tok
	}
	switch {
	case len(items) == 1 && in.Trigger != TriggerSweep:
		plan.Items = items
	case in.DryRun:
		for i := 0; i < len(items) && i < PreviewItems; i++ {
			plan.Preview = append(plan.Preview, items[i].Name)
		}
	case len(items) > 0:
		if err := s.storePlan(ctx, plan, items); err != nil {
			return nil, err
		}
	}
	s.log().InfoContext(ctx, "resolved", "step", "resolve", "trigger", in.Trigger, "items", plan.Count,
		"pages", len(plan.Pages), "dryRun", in.DryRun, "rotationsPerSecond", plan.Pace.RotationsPerSecond)
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
		// A leak is an emergency: pauses and windows do not hold it.
		item.Overrides = sec.pol.timing.Holds(s.now())
	}
	return item, sec, nil
}

// sweep plans every managed secret that is due (package schedule: its
// rotor:schedule has come round since its last rotation, or its current
// version is older than its rotor:max-age) and may start (not paused,
// inside its rotor:window), oldest first, from what ListSecrets returns
// (tags, version stages, dates): no call per secret except for a version
// whose age only ListSecretVersionIds knows (see versionAge). A due secret
// that waits is counted in plan.Held with the reason. A secret whose
// policy is broken (a tag that does not parse included) is still planned:
// its rotation fails at create naming the tag and is notified, never
// silently skipped, and the other secrets are swept as usual. It reports,
// as metrics, the age of the oldest current version it saw and how many
// secrets are overdue (schedule.Policy.Decide; a broken policy counts, a
// secret with no value yet is due but not overdue).
func (s *Service) sweep(ctx context.Context, in Input, plan *Plan) error {
	type due struct {
		item Item
		age  time.Duration
	}
	var all []due
	var next *string
	now := s.now()
	// What the sweep's metrics report (metrics.Sweep).
	var found metrics.Sweep
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
			pol, perr := readPolicy(name, tags, s.lookup)
			// How exactly the current version's age must be known: a
			// schedule needs its time (LastChangedDate bounds it, erring
			// late), the maximum age only whether it is passed.
			need := pol.maxAge
			if pol.timing.Schedule != nil {
				need = 0
			}
			if perr != nil {
				// A broken policy is planned all the same: its create fails on
				// the same error and notifies, which a person must see; a sweep
				// that skipped it would hide it for ever.
				need = 0
			}
			cur, age, err := s.versionAge(ctx, e, now, need)
			if err != nil {
				return err
			}
			if cur != "" {
				found.OldestAge = max(found.OldestAge, age)
			}
			grace, reason := pol.grace, in.Reason
			if perr != nil {
				grace = DefaultGracePeriod
				found.Overdue++
				if !s.firstSweepOfTheDay(now) {
					plan.hold(name, "invalid policy (its failing rotation, which notifies, is planned at the first sweep of each UTC day): "+perr.Error())
					continue
				}
			} else {
				var last time.Time
				if cur != "" {
					last = now.Add(-age)
				}
				d := pol.timing.Decide(last, now)
				if d.Overdue && cur != "" {
					found.Overdue++
				}
				if d.Held != "" {
					plan.hold(name, d.Held)
				}
				if !d.Due {
					continue
				}
				if reason == "" {
					reason = "due: " + d.Why
				}
			}
			all = append(all, due{age: age, item: Item{
				SecretID: aws.ToString(e.ARN), Name: name, Provider: provName, Mode: ModeNormal,
				GracePeriodSeconds: int64(grace / time.Second), Trigger: TriggerSweep, Reason: reason, CurrentVersionID: cur,
			}})
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	s.recordSweep(ctx, found)
	sort.SliceStable(all, func(i, j int) bool { return all[i].age > all[j].age })
	for _, d := range all {
		plan.Items = append(plan.Items, d.item)
	}
	return nil
}

// versionAge returns a listed secret's current version and how old it is,
// as far as the sweep needs to know (at least maxAge, or exactly):
//   - a version rotor made carries its time in its id (a UUIDv7 minted by
//     resolve shortly before create stored it, so the age errs high and a
//     rotation comes early rather than late);
//   - otherwise LastChangedDate bounds it from below: a secret unchanged
//     for maxAge has a current version at least that old;
//   - otherwise (a value rotor did not make, changed recently) one
//     ListSecretVersionIds gives the version's creation date.
//
// A time in an id that lies in the future is not believed.
func (s *Service) versionAge(ctx context.Context, e types.SecretListEntry, now time.Time, maxAge time.Duration) (string, time.Duration, error) {
	var cur string
	for v, labels := range e.SecretVersionsToStages {
		if slices.Contains(labels, LabelCurrent) {
			cur = v
		}
	}
	if cur == "" {
		return "", 0, nil
	}
	if t, ok := tokenTime(cur); ok && !t.After(now) {
		return cur, now.Sub(t), nil
	}
	if lc := aws.ToTime(e.LastChangedDate); !lc.IsZero() && now.Sub(lc) >= maxAge {
		return cur, now.Sub(lc), nil
	}
	cur, created, err := s.currentVersion(ctx, aws.ToString(e.ARN))
	return cur, now.Sub(created), err
}

// newToken mints a version id dated by the service's clock (the functions'
// real time; a test's virtual one).
func (s *Service) newToken() (string, error) { return NewToken(s.now()) }

// NewToken mints a version id as resolve does: a UUIDv7 whose time is at,
// so that a sweep reads a version's age from its id. Tests use it to seed
// secrets as a rotation at that time would have left them.
func NewToken(at time.Time) (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("mint version id: %w", err)
	}
	ms := uint64(at.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String(), nil
}

// tokenTime reads the time in a UUIDv7 version id.
func tokenTime(version string) (time.Time, bool) {
	u, err := uuid.Parse(version)
	if err != nil || u.Version() != 7 {
		return time.Time{}, false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec), true
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

// hold records a due secret that waits.
func (p *Plan) hold(name, reason string) {
	p.Held++
	if len(p.HeldFirst) < PreviewItems {
		p.HeldFirst = append(p.HeldFirst, HeldItem{Name: name, Reason: reason})
	}
}

// firstSweepOfTheDay reports whether a sweep at now is the first of its UTC
// day, when a secret whose policy does not parse is planned, so that its
// failure is notified once a day rather than at every sweep (every 15
// minutes by default). Without a known interval every sweep is.
func (s *Service) firstSweepOfTheDay(now time.Time) bool {
	if s.SweepInterval <= 0 || s.SweepInterval >= 24*time.Hour {
		return true
	}
	return now.UTC().Sub(now.UTC().Truncate(24*time.Hour)) < s.SweepInterval
}

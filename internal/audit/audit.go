// Package audit answers "is every secret rotated within policy?" for one
// account and Region: one Row per secret, from what Secrets Manager keeps
// and nothing else.
//
// The contract:
//
//   - It reads metadata only: ListSecrets (paginated, secrets scheduled for
//     deletion left out), and ListSecretVersionIds for a secret only when a
//     version's time is not known otherwise, at most one listing per secret
//     (one page: it lists the labelled versions only). Its SecretsManager
//     interface has no method that reads a value.
//   - A version's time is read from its id when rotor made it (a UUIDv7,
//     rotation.VersionTime), else from ListSecretVersionIds' CreatedDate.
//     For an unmanaged secret whose LastChangedDate is already older than
//     UnmanagedMaxAge, that date is enough (its current version is at least
//     as old) and no listing is made: the Row says so (AgeFromLastChanged).
//   - A managed secret (tag rotor:provider) is judged by its own policy, read
//     and validated by rotation.Timing exactly as the sweep does: the due
//     time and overdue verdict are schedule.Policy.Decide's, with schedule,
//     window and pause considered; overdue means older than max-age by
//     more than schedule.OverdueSlack, whatever holds it (a pause does not
//     excuse it), and a secret with no value yet is due but not overdue:
//     the secrets the sweep counts in its OverdueSecrets metric.
//   - The last rotation's outcome is read from the labels (Outcome*): a
//     version labelled ROTOR_FAILED that is newer than AWSCURRENT (or with
//     no AWSCURRENT) means the last rotation failed, at that version's time;
//     else a current version rotor made is the last success, at its time;
//     a current version rotor did not make was set outside rotor. A policy
//     that does not validate is its own outcome, with the error.
//   - An unmanaged secret is flagged when its current version is older than
//     UnmanagedMaxAge; that never fails the audit (Row.Fails).
package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/schedule"
)

// SecretsManager is what the audit calls: metadata, never a value. The
// SDK's *secretsmanager.Client satisfies it.
type SecretsManager interface {
	ListSecrets(context.Context, *sm.ListSecretsInput, ...func(*sm.Options)) (*sm.ListSecretsOutput, error)
	ListSecretVersionIds(context.Context, *sm.ListSecretVersionIdsInput, ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error)
}

// UnmanagedMaxAge is the age past which an unmanaged secret is flagged: the
// project's rule that every secret is rotated at least every 60 days.
const UnmanagedMaxAge = 60 * 24 * time.Hour

// Outcomes of the last rotation (Row.LastOutcome).
const (
	// OutcomeSucceeded: the current version was made by rotor and no
	// failed one is newer.
	OutcomeSucceeded = "succeeded"
	// OutcomeFailed: a version labelled ROTOR_FAILED is newer than the
	// current one (rollback and cleanup label the abandoned version so).
	OutcomeFailed = "failed"
	// OutcomeExternal: the current version was not made by rotor (its id
	// is not a rotor version id): a person or another tool set it, at
	// LastOutcomeAt, and rotor has not rotated it since.
	OutcomeExternal = "external"
	// OutcomeNone: the secret has no current version and no failed one.
	OutcomeNone = "none"
	// OutcomeInvalidPolicy: a rotor: tag does not validate (PolicyError
	// says which); the sweep's rotation of it fails at create.
	OutcomeInvalidPolicy = "invalid-policy"
)

// Where a row's version time comes from (Row.AgeSource).
const (
	AgeFromVersionID   = "version-id"   // the time in a rotor version id
	AgeFromVersionList = "version-list" // ListSecretVersionIds' CreatedDate
	// AgeFromLastChanged: the secret's LastChangedDate, a lower bound of
	// the current version's age (unmanaged secrets past UnmanagedMaxAge).
	AgeFromLastChanged = "last-changed"
)

// Row is one secret. Its JSON names are the audit's documented output
// fields (rotor audit --output json and csv); times are RFC 3339 in UTC,
// "" when there is none.
type Row struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// Managed: the secret has rotor:provider. Master: rotor:role is master.
	Managed bool `json:"managed"`
	Master  bool `json:"master"`
	// The policy as the tags say, verbatim ("" when a tag is absent).
	Provider     string `json:"provider"`
	Strategy     string `json:"strategy"`
	Schedule     string `json:"schedule"`
	Timezone     string `json:"timezone"`
	Window       string `json:"window"`
	Paused       string `json:"paused"`
	PausedReason string `json:"pausedReason"`
	// MaxAge is the effective maximum age of a managed secret whose policy
	// validates (rotor:max-age, or rotation.DefaultMaxAge); 0 and ""
	// otherwise.
	MaxAgeSeconds int64  `json:"maxAgeSeconds"`
	MaxAge        string `json:"maxAge"`
	// CurrentVersion is the AWSCURRENT version's id and VersionCreated its
	// time (with AgeSource last-changed: the secret's LastChangedDate).
	CurrentVersion string `json:"currentVersion"`
	VersionCreated string `json:"versionCreated"`
	AgeSource      string `json:"ageSource"`
	AgeSeconds     int64  `json:"ageSeconds"`
	Age            string `json:"age"`
	// Due: the sweep would start a rotation now. DueBy is what makes it
	// due, or will ("max-age 60d", "schedule rate(7 days)"). NextDue is
	// when it is next due and may start (now when Due); "" while paused
	// with no end. Held says why a rotation may not start now (paused,
	// outside its window), "" when it may. Managed secrets whose policy
	// validates only.
	Due     bool   `json:"due"`
	DueBy   string `json:"dueBy"`
	NextDue string `json:"nextDue"`
	Held    string `json:"held"`
	// Overdue: the current version is older than the maximum age by more
	// than schedule.OverdueSlack, whatever holds it.
	Overdue bool `json:"overdue"`
	// UnmanagedOld: not managed, and older than UnmanagedMaxAge.
	UnmanagedOld bool `json:"unmanagedOld"`
	// LastOutcome is one of the Outcome constants (managed secrets only)
	// and LastOutcomeAt its time; PolicyError is the validation error of
	// an invalid policy.
	LastOutcome   string `json:"lastOutcome"`
	LastOutcomeAt string `json:"lastOutcomeAt"`
	PolicyError   string `json:"policyError"`
}

// Fails reports whether the row fails the audit: a managed secret that is
// overdue, whose last rotation failed, or whose policy is invalid.
func (r Row) Fails() bool {
	return r.Managed && (r.Overdue || r.LastOutcome == OutcomeFailed || r.LastOutcome == OutcomeInvalidPolicy)
}

// Request is what to audit.
type Request struct {
	// Now is the time the audit judges at (the clock, or a what-if time).
	// Required.
	Now time.Time
}

// Report is the audit: every secret, sorted by name.
type Report struct {
	Now  time.Time
	Rows []Row
}

// Summary counts a report's rows.
type Summary struct {
	Secrets, Managed, Overdue, Failed, InvalidPolicy, Paused, Unmanaged, UnmanagedOld, Masters int
	// Failing counts the rows that fail the audit (Row.Fails).
	Failing int
}

// Summary counts the rows.
func (r *Report) Summary() Summary {
	var s Summary
	for _, row := range r.Rows {
		s.Secrets++
		if row.Master {
			s.Masters++
		}
		if row.Fails() {
			s.Failing++
		}
		if !row.Managed {
			s.Unmanaged++
			if row.UnmanagedOld {
				s.UnmanagedOld++
			}
			continue
		}
		s.Managed++
		switch {
		case row.LastOutcome == OutcomeInvalidPolicy:
			s.InvalidPolicy++
			continue
		case row.LastOutcome == OutcomeFailed:
			s.Failed++
		}
		if row.Overdue {
			s.Overdue++
		}
		if strings.HasPrefix(row.Held, "paused") {
			s.Paused++
		}
	}
	return s
}

// Run audits every secret the client's account and Region hold.
func Run(ctx context.Context, api SecretsManager, req Request) (*Report, error) {
	if req.Now.IsZero() {
		return nil, rotorerr.New(rotorerr.InvalidInput, "audit: Request.Now is required")
	}
	rep := &Report{Now: req.Now.UTC()}
	p := sm.NewListSecretsPaginator(api, &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(false), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit: list secrets: %w", err)
		}
		for _, e := range page.SecretList {
			if e.DeletedDate != nil {
				continue
			}
			row, err := audit(ctx, api, e, rep.Now)
			if err != nil {
				return nil, err
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	sort.Slice(rep.Rows, func(i, j int) bool { return rep.Rows[i].Name < rep.Rows[j].Name })
	return rep, nil
}

// audit makes one secret's row.
func audit(ctx context.Context, api SecretsManager, e types.SecretListEntry, now time.Time) (Row, error) {
	tags := map[string]string{}
	for _, t := range e.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	r := Row{
		Name: aws.ToString(e.Name), ARN: aws.ToString(e.ARN),
		Master:   tags[rotation.TagRole] == rotation.RoleMaster,
		Provider: tags[rotation.TagProvider], Strategy: tags[rotation.TagStrategy],
		Schedule: tags[schedule.TagSchedule], Timezone: tags[schedule.TagTimezone], Window: tags[schedule.TagWindow],
		Paused: tags[schedule.TagPaused], PausedReason: tags[schedule.TagPausedReason],
	}
	_, r.Managed = tags[rotation.TagProvider]
	cur, failed := holder(e, rotation.LabelCurrent), ""
	if r.Managed {
		failed = holder(e, rotation.LabelFailed)
	}
	times, err := versionTimes(ctx, api, e, now, r.Managed, cur, failed)
	if err != nil {
		return Row{}, err
	}
	curAt := times.at[cur]
	if cur != "" {
		r.CurrentVersion, r.VersionCreated = cur, rfc3339(curAt)
		r.AgeSource = times.source
		r.AgeSeconds, r.Age = seconds(now.Sub(curAt)), Human(now.Sub(curAt))
	}
	if !r.Managed {
		r.UnmanagedOld = cur != "" && now.Sub(curAt) >= UnmanagedMaxAge
		return r, nil
	}
	timing, err := rotation.Timing(r.Name, tags)
	if err != nil {
		r.LastOutcome, r.PolicyError = OutcomeInvalidPolicy, err.Error()
		return r, nil
	}
	r.MaxAgeSeconds, r.MaxAge = seconds(timing.MaxAge), Human(timing.MaxAge)
	d := timing.Decide(curAt, now)
	// A secret with no value yet is due, not overdue: as the sweep's
	// OverdueSecrets metric counts, so that the audit and the alarm agree.
	r.Due, r.DueBy, r.NextDue, r.Overdue = d.Due, d.Why, rfc3339(d.NextDue), d.Overdue && cur != ""
	r.Held = timing.Holds(now)
	failedAt, hasFailed := times.at[failed]
	_, rotorMade := rotation.VersionTime(cur)
	switch {
	case failed != "" && hasFailed && (cur == "" || failedAt.After(curAt)):
		r.LastOutcome, r.LastOutcomeAt = OutcomeFailed, rfc3339(failedAt)
	case cur == "":
		r.LastOutcome = OutcomeNone
	case rotorMade:
		r.LastOutcome, r.LastOutcomeAt = OutcomeSucceeded, rfc3339(curAt)
	default:
		r.LastOutcome, r.LastOutcomeAt = OutcomeExternal, rfc3339(curAt)
	}
	return r, nil
}

// holder returns the listed version that has label, or "".
func holder(e types.SecretListEntry, label string) string {
	for v, labels := range e.SecretVersionsToStages {
		if slices.Contains(labels, label) {
			return v
		}
	}
	return ""
}

// versionTimesResult is the times of the versions a row needs, and where
// the current version's came from (an AgeFrom constant).
type versionTimesResult struct {
	at     map[string]time.Time
	source string
}

// versionTimes dates the current and failed versions (either may be ""):
// from their ids, or for an old unmanaged secret its LastChangedDate, and
// only else from one listing of the secret's versions. A time in an id
// that lies after now is not believed, as the sweep does not.
func versionTimes(ctx context.Context, api SecretsManager, e types.SecretListEntry, now time.Time, managed bool, cur, failed string) (versionTimesResult, error) {
	res := versionTimesResult{at: map[string]time.Time{}}
	var missing []string
	for _, v := range []string{cur, failed} {
		if v == "" {
			continue
		}
		if t, ok := rotation.VersionTime(v); ok && !t.After(now) {
			res.at[v] = t
			if v == cur {
				res.source = AgeFromVersionID
			}
			continue
		}
		missing = append(missing, v)
	}
	if len(missing) == 0 {
		return res, nil
	}
	if lc := aws.ToTime(e.LastChangedDate); !managed && !lc.IsZero() && now.Sub(lc) >= UnmanagedMaxAge {
		res.at[cur], res.source = lc, AgeFromLastChanged
		return res, nil
	}
	// Labelled versions only (without IncludeDeprecated): a handful, one
	// page, where every version of a busy secret could be many.
	in := &sm.ListSecretVersionIdsInput{SecretId: e.ARN, MaxResults: aws.Int32(100)}
	p := sm.NewListSecretVersionIdsPaginator(api, in)
	for p.HasMorePages() && len(missing) > 0 {
		page, err := p.NextPage(ctx)
		if err != nil {
			return versionTimesResult{}, fmt.Errorf("audit: list versions of secret %q: %w", aws.ToString(e.Name), err)
		}
		for _, v := range page.Versions {
			id := aws.ToString(v.VersionId)
			if i := slices.Index(missing, id); i >= 0 && v.CreatedDate != nil {
				res.at[id] = v.CreatedDate.UTC()
				missing = slices.Delete(missing, i, i+1)
				if id == cur {
					res.source = AgeFromVersionList
				}
			}
		}
	}
	if len(missing) > 0 {
		// Labelled when ListSecrets answered, unlabelled now: rotations
		// moved its labels in between. Say so rather than guess its age.
		return versionTimesResult{}, rotorerr.New(rotorerr.Conflict, fmt.Sprintf(
			"audit: secret %q: version %s lost its labels while the audit ran (a rotation moved them); run the audit again", aws.ToString(e.Name), missing[0]))
	}
	return res, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// Human writes a duration as days and hours, hours and minutes, minutes,
// or seconds, dropping a zero second part: "75d 4h", "60d", "3h 12m",
// "45s".
func Human(d time.Duration) string {
	if d < 0 {
		return "-" + Human(-d)
	}
	const day = 24 * time.Hour
	two := func(a int64, ua string, b int64, ub string) string {
		s := strconv.FormatInt(a, 10) + ua
		if b != 0 {
			s += " " + strconv.FormatInt(b, 10) + ub
		}
		return s
	}
	switch {
	case d >= day:
		return two(int64(d/day), "d", int64(d%day/time.Hour), "h")
	case d >= time.Hour:
		return two(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	case d >= time.Minute:
		return two(int64(d/time.Minute), "m", 0, "")
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

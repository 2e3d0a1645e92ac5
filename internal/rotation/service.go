package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/schedule"
)

// SecretsManager is the part of the Secrets Manager API rotation uses. The
// SDK's *secretsmanager.Client and *smstore.Store both satisfy it.
type SecretsManager interface {
	DescribeSecret(context.Context, *sm.DescribeSecretInput, ...func(*sm.Options)) (*sm.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *sm.PutSecretValueInput, ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *sm.UpdateSecretVersionStageInput, ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error)
	ListSecretVersionIds(context.Context, *sm.ListSecretVersionIdsInput, ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error)
	ListSecrets(context.Context, *sm.ListSecretsInput, ...func(*sm.Options)) (*sm.ListSecretsOutput, error)
	TagResource(context.Context, *sm.TagResourceInput, ...func(*sm.Options)) (*sm.TagResourceOutput, error)
	UntagResource(context.Context, *sm.UntagResourceInput, ...func(*sm.Options)) (*sm.UntagResourceOutput, error)
}

// Defaults of Service's settings.
const (
	DefaultLockTTL = 30 * time.Minute
	// DefaultWriteBudget is the Secrets Manager writes per second a fleet
	// of rotations may spend: a fifth of the 50 per second that every
	// writer in the account and Region shares (not adjustable).
	DefaultWriteBudget = 10.0
	// MaxWriteBudget leaves a tenth of the shared 50 per second to others.
	MaxWriteBudget     = 45.0
	DefaultGracePeriod = 24 * time.Hour
	DefaultMaxAge      = 60 * 24 * time.Hour
	// MaxGracePeriod keeps a rotation within a Standard workflow's one-year limit.
	MaxGracePeriod = 365 * 24 * time.Hour
)

// Service runs the steps. Fields left zero take the defaults above.
type Service struct {
	SM SecretsManager
	// Providers finds a provider by name: a host's provider.Set (FromEnv
	// builds one with the functions' AWS configuration). Nil means
	// provider.Lookup, the providers built with nothing from the host.
	Providers func(name string) (provider.Provider, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often the sweeper runs (EnvSweepInterval); 0
	// when unknown.
	SweepInterval time.Duration
	// LockTTL is how old another rotation's AWSPENDING must be before create
	// reclaims it. Default 30 minutes.
	LockTTL time.Duration
	// WriteBudget is the Secrets Manager writes per second the fleet's
	// rotations may spend together (plan.go: pacing). Default
	// DefaultWriteBudget.
	WriteBudget float64
	// Pages stores fan-out plans' pages; nil means Ledger (the deployed
	// and local setups), and without either a plan of several items is
	// refused with an error naming what is missing.
	Pages Pages
	// SecretPrefixes, when set, are the only secret names this deployment
	// may touch (the construct scopes its IAM policies to the same
	// prefixes): a managed or master secret outside them is refused with a
	// clear error before any call that IAM would deny, and the sweep skips
	// it. Default: every name.
	SecretPrefixes []string
	// Ledger remembers revoked credentials across executions, so that a
	// later alert for one is answered "already revoked"; nil keeps no
	// record (unit tests).
	Ledger *ledger.Ledger
	// Log receives one line per step; nil discards.
	Log *slog.Logger
	// Metrics receives one EMF line per step and per sweep (internal/metrics);
	// nil writes none.
	Metrics *metrics.Emitter
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) lockTTL() time.Duration {
	if s.LockTTL > 0 {
		return s.LockTTL
	}
	return DefaultLockTTL
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// inScope refuses a secret (name or ARN) outside SecretPrefixes.
func (s *Service) inScope(id string) error {
	if len(s.SecretPrefixes) == 0 {
		return nil
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		// arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX
		if parts := strings.SplitN(id, ":", 7); len(parts) == 7 && parts[5] == "secret" {
			name = parts[6]
		}
	}
	for _, p := range s.SecretPrefixes {
		if strings.HasPrefix(name, p) {
			return nil
		}
	}
	return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
		"secret %q is outside the secrets this deployment may touch (names starting with %s; %s)",
		id, strings.Join(quoteAll(s.SecretPrefixes), ", "), EnvSecretPrefixes))
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.Quote(x)
	}
	return out
}

func (s *Service) lookup(name string) (provider.Provider, error) {
	if s.Providers != nil {
		return s.Providers(name)
	}
	return provider.Lookup(name)
}

// secret is what a step knows about the managed secret after DescribeSecret.
type secret struct {
	arn, name string
	tags      map[string]string
	stages    map[string][]string // version id -> labels (labelled versions only)
	pol       policy
	// master is the master's value once masterValue has read it and found
	// this secret in its consent; masterARN is the master's ARN then.
	master    []byte
	masterARN string
	// selfConsent is the consent of a master that rotates itself (its own
	// current value's), once masterValue has checked that it lists itself.
	selfConsent *consent
}

// policy is the secret's rotor configuration, from its tags.
type policy struct {
	providerName string
	prov         provider.Provider
	master       string // master secret id, or ""
	options      provider.Options
	grace        time.Duration // rotor:grace-period, or DefaultGracePeriod
	maxAge       time.Duration // rotor:max-age, or DefaultMaxAge
	// isMaster: the secret is a master (rotor:role master) that rotates
	// itself with its provider's self strategy.
	isMaster bool
	// timing is when the sweep rotates it: rotor:schedule, rotor:window,
	// rotor:paused and rotor:max-age (package schedule).
	timing schedule.Policy
}

// holder returns the version holding label, or "".
func (sec *secret) holder(label string) string {
	for v, ls := range sec.stages {
		for _, l := range ls {
			if l == label {
				return v
			}
		}
	}
	return ""
}

func (sec *secret) has(version, label string) bool {
	for _, l := range sec.stages[version] {
		if l == label {
			return true
		}
	}
	return false
}

// describe reads the secret and its policy. A secret without rotor:provider is
// not managed and is refused.
func (s *Service) describe(ctx context.Context, id string) (*secret, error) {
	if err := s.inScope(id); err != nil {
		return nil, err
	}
	out, err := s.SM.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, smError(err, "describe secret %q", id)
	}
	if out.DeletedDate != nil {
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret %q is scheduled for deletion; restore it before rotating", id))
	}
	sec := &secret{arn: aws.ToString(out.ARN), name: aws.ToString(out.Name), tags: map[string]string{}, stages: out.VersionIdsToStages}
	if sec.stages == nil {
		sec.stages = map[string][]string{}
	}
	for _, t := range out.Tags {
		sec.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	pol, err := s.policy(sec)
	if err != nil {
		return nil, err
	}
	sec.pol = pol
	return sec, nil
}

// providerOption matches the option tags "rotor:<provider>:<option>".
var providerOption = regexp.MustCompile(`^rotor:([a-z0-9-]+):(.+)$`)

// Bounds of the duration tags.
const (
	MinMaxAge = time.Hour
	MaxMaxAge = 3650 * 24 * time.Hour
)

// policy reads the secret's rotor configuration from its tags. Every tag
// under rotor: is validated, and an unknown one is an error rather than
// ignored: a misspelt rotor:grace-perod would otherwise mean 24 hours
// without anyone noticing.
func (s *Service) policy(sec *secret) (policy, error) {
	return readPolicy(sec.name, sec.tags, s.lookup)
}

func readPolicy(name string, tags map[string]string, lookup func(string) (provider.Provider, error)) (policy, error) {
	provName, ok := tags[TagProvider]
	if !ok {
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret %q is not managed by rotor: it has no %s tag", name, TagProvider))
	}
	p, err := lookup(provName)
	if err != nil {
		return policy{}, fmt.Errorf("secret %q: %w", name, err)
	}
	pol := policy{providerName: provName, prov: p, master: tags[TagMaster], options: provider.Options{},
		grace: DefaultGracePeriod, maxAge: DefaultMaxAge}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		switch {
		case !strings.HasPrefix(k, "rotor:"), k == TagProvider:
		case k == TagMaster:
			if v == "" {
				problems = append(problems, fmt.Sprintf("tag %s is empty; name the master secret or remove the tag", TagMaster))
			}
		case k == TagGracePeriod:
			if pol.grace, err = durationTag(k, v, 0, MaxGracePeriod); err != nil {
				problems = append(problems, err.Error())
			}
		case k == TagMaxAge:
			if pol.maxAge, err = durationTag(k, v, MinMaxAge, MaxMaxAge); err != nil {
				problems = append(problems, err.Error())
			}
		case k == TagStrategy:
			pol.options["strategy"] = v
		case slices.Contains(schedule.Tags, k):
			// Read together below: the zone applies to the expressions.
		case k == TagRole:
			if v != RoleMaster {
				problems = append(problems, fmt.Sprintf("tag %s is %q; the only role is %q (a master secret)", TagRole, v, RoleMaster))
			}
			pol.isMaster = true
		case isIdentityTag(k):
			// Written by rotor (identity.go).
		default:
			m := providerOption.FindStringSubmatch(k)
			switch {
			case m == nil:
				problems = append(problems, fmt.Sprintf("tag %s is not one rotor knows (%s, %s, %s, %s, %s, %s, %s, rotor:%s:<option>)",
					k, TagProvider, TagMaster, TagGracePeriod, TagMaxAge, TagStrategy, strings.Join(schedule.Tags, ", "), TagRole, provName))
			case m[1] != provName:
				problems = append(problems, fmt.Sprintf("tag %s is an option of provider %s, but %s is %s", k, m[1], TagProvider, provName))
			default:
				pol.options[m[2]] = v
			}
		}
	}
	timing, err := schedule.FromTags(tags, pol.maxAge)
	if err != nil {
		problems = append(problems, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	pol.timing = timing
	if len(problems) > 0 {
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret %q: %s", name, strings.Join(problems, "; ")))
	}
	if err := provider.CheckOptions(p, pol.options); err != nil {
		return policy{}, fmt.Errorf("secret %q: %w", name, err)
	}
	self := provider.RotatesSelf(p, pol.options)
	switch {
	case pol.isMaster && !self:
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q: tag %s marks a master secret, which rotor rotates only with its provider's self strategy (tag %s self: it logs in with the master's own password and sets a new one); provider %s with these options does not rotate itself",
			name, TagRole, TagStrategy, provName))
	case self && pol.master != "":
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q: the self strategy logs in with the secret's own credential, so it takes no master; remove tag %s", name, TagMaster))
	}
	if provider.NeedsMaster(p, pol.options) && pol.master == "" {
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q: provider %s needs a master secret, but the secret has no %s tag", name, provName, TagMaster))
	}
	return pol, nil
}

// masterValue reads the master secret, checks that it consents to serve
// this secret, and returns its value without the consent field; nil when
// the policy names none. It reads once per step: every revocation of a
// step uses the same value.
func (s *Service) masterValue(ctx context.Context, sec *secret) ([]byte, error) {
	if sec.pol.isMaster {
		return nil, s.checkSelfConsent(ctx, sec)
	}
	if sec.pol.master == "" || sec.master != nil {
		return sec.master, nil
	}
	if err := s.inScope(sec.pol.master); err != nil {
		return nil, fmt.Errorf("secret %q: master secret: %w", sec.name, err)
	}
	out, err := s.SM.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(sec.pol.master)})
	if err != nil {
		if isNotFound(err) {
			return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
				"secret %q: master secret %q (tag %s) does not exist or has no current value", sec.name, sec.pol.master, TagMaster))
		}
		return nil, smError(err, "read master secret %q", sec.pol.master)
	}
	v, err := valueOf(out)
	if err != nil {
		return nil, fmt.Errorf("master secret %q: %w", sec.pol.master, err)
	}
	redact.Add(ctx, string(v))
	c, stripped, err := splitConsent(sec.pol.master, v)
	if err != nil {
		return nil, err
	}
	if !c.serves(sec.arn, sec.name) {
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q: master secret %q (tag %s) does not consent to serve it: its value's %q field lists no pattern matching this secret's name or ARN; "+
				"the master's owner adds one, e.g. {%q: {\"serves\": [%q]}}",
			sec.name, sec.pol.master, TagMaster, consentField+".serves", consentField, sec.name))
	}
	// A master in the middle of its own rotation may not work yet, or no
	// more (a single-password account changes at its apply): wait for its
	// switchover (masters.go).
	if err := s.masterIdle(ctx, sec, aws.ToString(out.ARN)); err != nil {
		return nil, err
	}
	sec.master, sec.masterARN = stripped, aws.ToString(out.ARN)
	return stripped, nil
}

// versionValue reads one version of the managed secret by id.
func (s *Service) versionValue(ctx context.Context, sec *secret, version string) ([]byte, error) {
	out, err := s.SM.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(sec.arn), VersionId: aws.String(version)})
	if err != nil {
		return nil, smError(err, "read version %s of secret %q", version, sec.name)
	}
	v, err := valueOf(out)
	if err != nil {
		return nil, fmt.Errorf("secret %q version %s: %w", sec.name, version, err)
	}
	redact.Add(ctx, string(v))
	return v, nil
}

func valueOf(out *sm.GetSecretValueOutput) ([]byte, error) {
	if out.SecretString != nil {
		return []byte(*out.SecretString), nil
	}
	if out.SecretBinary != nil {
		return nil, rotorerr.New(rotorerr.InvalidInput, "binary secret values are not supported; store the value as SecretString")
	}
	return nil, rotorerr.New(rotorerr.NotFound, "version has no value")
}

// moveLabel puts label on version, taking it from whichever version holds it.
// It is a no-op when version already has it. Its goal, not its call, is what
// must succeed: when the call fails, the labels are read again, and a label
// already on version is success. The AWS SDK resends a request whose answer
// was lost, and the resent move names a RemoveFromVersionId that no longer
// holds the label, which Secrets Manager refuses although the first send did
// the move.
//
// ROTOR_REVOKED and ROTOR_FAILED only mark the last version retired or
// abandoned, and two rotations of one secret may move them at once (one's
// expire after its grace period, the next one's undo): a move refused
// because the marker moved on since it was read is made again from where
// it is now. AWSCURRENT and AWSPENDING are never moved again that way: a
// concurrent move of those is another rotation's, which the steps check.
func (s *Service) moveLabel(ctx context.Context, sec *secret, label, version string) error {
	for attempt := 1; ; attempt++ {
		if sec.has(version, label) {
			return nil
		}
		in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String(sec.arn), VersionStage: aws.String(label), MoveToVersionId: aws.String(version)}
		from := sec.holder(label)
		if from != "" {
			in.RemoveFromVersionId = aws.String(from)
		}
		_, err := s.SM.UpdateSecretVersionStage(ctx, in)
		if err == nil {
			return s.refresh(ctx, sec)
		}
		err = smError(err, "move %s of secret %q to version %s", label, sec.name, version)
		if s.refresh(ctx, sec) != nil {
			return err
		}
		if sec.has(version, label) {
			s.log().InfoContext(ctx, "label already moved", "secretId", sec.arn, "label", label, "version", version)
			return nil
		}
		marker := label == LabelRevoked || label == LabelFailed
		if !marker || sec.holder(label) == from || attempt == markerMoves {
			return err
		}
	}
}

// markerMoves bounds how often moveLabel chases a marker label that other
// rotations keep moving.
const markerMoves = 5

// removeLabel takes label off version if it is there; like moveLabel, it
// reads the labels again after a failed call and succeeds if the label is
// gone.
func (s *Service) removeLabel(ctx context.Context, sec *secret, label, version string) error {
	if !sec.has(version, label) {
		return nil
	}
	_, err := s.SM.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(sec.arn), VersionStage: aws.String(label), RemoveFromVersionId: aws.String(version)})
	if err != nil {
		err = smError(err, "remove %s from version %s of secret %q", label, version, sec.name)
		if s.refresh(ctx, sec) == nil && !sec.has(version, label) {
			s.log().InfoContext(ctx, "label already removed", "secretId", sec.arn, "label", label, "version", version)
			return nil
		}
		return err
	}
	return s.refresh(ctx, sec)
}

// refresh re-reads the labels after a change. Secrets Manager's label rules
// (AWSPREVIOUS following AWSCURRENT, deprecation) live in Secrets Manager
// and in smstore; rotation never re-implements them.
func (s *Service) refresh(ctx context.Context, sec *secret) error {
	out, err := s.SM.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(sec.arn)})
	if err != nil {
		return smError(err, "describe secret %q", sec.name)
	}
	sec.stages = out.VersionIdsToStages
	if sec.stages == nil {
		sec.stages = map[string][]string{}
	}
	return nil
}

// versions lists every version of the secret, deprecated ones included.
func (s *Service) versions(ctx context.Context, sec *secret) ([]types.SecretVersionsListEntry, error) {
	var out []types.SecretVersionsListEntry
	var next *string
	for {
		page, err := s.SM.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{
			SecretId: aws.String(sec.arn), IncludeDeprecated: aws.Bool(true), NextToken: next, MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, smError(err, "list versions of secret %q", sec.name)
		}
		out = append(out, page.Versions...)
		if next = page.NextToken; next == nil {
			return out, nil
		}
	}
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// smError wraps a Secrets Manager error with context and its kind. API error
// messages from Secrets Manager do not carry secret values.
func smError(err error, format string, args ...any) error {
	ctx := fmt.Sprintf(format, args...)
	if isNotFound(err) {
		return rotorerr.Wrap(rotorerr.NotFound, fmt.Errorf("%s: %w", ctx, err))
	}
	var re *types.ResourceExistsException
	if errors.As(err, &re) {
		return rotorerr.Wrap(rotorerr.Unsafe, fmt.Errorf("%s: %w", ctx, err))
	}
	// Secrets Manager answers AccessDenied, not ResourceNotFound, for a
	// secret the caller's policy does not cover, including one that does
	// not exist (its tags cannot match): retrying cannot help, and the two
	// cannot be told apart.
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException" {
		return rotorerr.Wrap(rotorerr.NotFound, fmt.Errorf("%s: it does not exist or rotor's role may not touch it (not tagged rotor:provider, or outside the deployment's name prefixes): %w", ctx, err))
	}
	return rotorerr.Wrap(rotorerr.Classify(err), fmt.Errorf("%s: %w", ctx, err))
}

// durationTag parses a duration tag: a Go duration ("24h", "90m") or a
// whole number of days ("60d"), within [min, max].
func durationTag(tag, v string, min, max time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil && n >= 0 && n <= 36500 {
			d = time.Duration(n) * 24 * time.Hour
		} else if err == nil {
			err = fmt.Errorf("out of range")
		}
	}
	if err != nil || d < min || d > max {
		return 0, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("tag %s: %q is not a duration from %s to %s, written as a Go duration (90m, 24h) or whole days (60d)",
			tag, v, fmtDays(min), fmtDays(max)))
	}
	return d, nil
}

// fmtDays writes a bound the way the tags take it.
func fmtDays(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

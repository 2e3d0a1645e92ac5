package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
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
	DefaultLockTTL        = 30 * time.Minute
	DefaultMaxConcurrency = 10
	DefaultMaxPlanItems   = 500
	DefaultGracePeriod    = 24 * time.Hour
	DefaultMaxAge         = 60 * 24 * time.Hour
	// MaxGracePeriod keeps a rotation within a Standard workflow's one-year limit.
	MaxGracePeriod = 365 * 24 * time.Hour
)

// Service runs the steps. Fields left zero take the defaults above.
type Service struct {
	SM SecretsManager
	// Providers finds a provider by name; nil means provider.Lookup.
	Providers func(name string) (provider.Provider, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LockTTL is how old another rotation's AWSPENDING must be before create
	// reclaims it. Default 30 minutes.
	LockTTL time.Duration
	// MaxConcurrency bounds how many secrets the Map state rotates at once.
	// Default 10.
	MaxConcurrency int
	// MaxPlanItems bounds a sweep's plan so that it stays well under the
	// 256 KiB state payload limit. Default 500.
	MaxPlanItems int
	// Log receives one line per step; nil discards.
	Log *slog.Logger
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
}

// policy is the secret's rotor configuration, from its tags.
type policy struct {
	providerName string
	prov         provider.Provider
	master       string // master secret id, or ""
	options      provider.Options
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

func (s *Service) policy(sec *secret) (policy, error) {
	name, ok := sec.tags[TagProvider]
	if !ok {
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("secret %q is not managed by rotor: it has no %s tag", sec.name, TagProvider))
	}
	p, err := s.lookup(name)
	if err != nil {
		return policy{}, fmt.Errorf("secret %q: %w", sec.name, err)
	}
	pol := policy{providerName: name, prov: p, master: sec.tags[TagMaster], options: provider.Options{}}
	for k, v := range sec.tags {
		if m := providerOption.FindStringSubmatch(k); m != nil && m[1] == name {
			pol.options[m[2]] = v
		}
	}
	if v, ok := sec.tags[TagStrategy]; ok {
		pol.options["strategy"] = v
	}
	if err := provider.CheckOptions(p, pol.options); err != nil {
		return policy{}, fmt.Errorf("secret %q: %w", sec.name, err)
	}
	if provider.NeedsMaster(p, pol.options) && pol.master == "" {
		return policy{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"secret %q: provider %s needs a master secret, but the secret has no %s tag", sec.name, name, TagMaster))
	}
	return pol, nil
}

// masterValue reads the master secret, or returns nil when the policy names none.
func (s *Service) masterValue(ctx context.Context, sec *secret) ([]byte, error) {
	if sec.pol.master == "" {
		return nil, nil
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
	return v, nil
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
// It is a no-op when version already has it.
func (s *Service) moveLabel(ctx context.Context, sec *secret, label, version string) error {
	if sec.has(version, label) {
		return nil
	}
	in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String(sec.arn), VersionStage: aws.String(label), MoveToVersionId: aws.String(version)}
	if from := sec.holder(label); from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	if _, err := s.SM.UpdateSecretVersionStage(ctx, in); err != nil {
		return smError(err, "move %s of secret %q to version %s", label, sec.name, version)
	}
	return s.refresh(ctx, sec)
}

// removeLabel takes label off version if it is there.
func (s *Service) removeLabel(ctx context.Context, sec *secret, label, version string) error {
	if !sec.has(version, label) {
		return nil
	}
	_, err := s.SM.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: aws.String(sec.arn), VersionStage: aws.String(label), RemoveFromVersionId: aws.String(version)})
	if err != nil {
		return smError(err, "remove %s from version %s of secret %q", label, version, sec.name)
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
	return rotorerr.Wrap(rotorerr.Classify(err), fmt.Errorf("%s: %w", ctx, err))
}

// parseAge parses a Go duration, also accepting a whole number of days ("60d").
func parseAge(tag, v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("tag %s: %q is not a duration such as 24h, 90m or 60d", tag, v))
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

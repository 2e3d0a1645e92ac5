package smstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"
)

// Staging labels with a meaning of their own.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// Limits from the Secrets Manager API reference and service quotas.
const (
	maxNameLen          = 512
	maxSecretIDLen      = 2048
	minTokenLen         = 32
	maxTokenLen         = 64
	maxValueBytes       = 65536
	maxDescriptionLen   = 2048
	maxKmsKeyIDLen      = 2048
	maxLabelLen         = 256
	maxLabelsPerVersion = 20
	maxVersions         = 100
	maxTags             = 50
	maxTagKeyLen        = 128
	maxTagValueLen      = 256
	minRecoveryDays     = 7
	maxRecoveryDays     = 30
	defaultRecoveryDays = 30
	maxPageSize         = 100
	maxFilters          = 10
	maxFilterValues     = 10
	maxFilterValueLen   = 512
)

// Options configures a Store. The zero value is usable.
type Options struct {
	Region  string           // default "us-east-1"
	Account string           // default "000000000000"
	Now     func() time.Time // default time.Now; all dates come from it (tests use a fake clock)
	Rand    io.Reader        // default crypto/rand.Reader; used for ARN suffixes and generated version ids
}

func (o Options) withDefaults() Options {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "000000000000"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// Store is an in-memory Secrets Manager. Its methods have the signatures of
// the corresponding methods of *secretsmanager.Client; the trailing option
// functions are accepted and ignored.
type Store struct {
	mu      sync.Mutex
	region  string
	account string
	now     func() time.Time
	rand    io.Reader
	secrets map[string]*secret // by name
	byARN   map[string]*secret // the same secrets, by full ARN
	// purgeAt is no later than the earliest scheduled deletion date (zero:
	// none scheduled), so that most calls skip the purge's scan.
	purgeAt time.Time
	// changed holds the names of the secrets created, changed or removed
	// since the last Changes.
	changed map[string]bool
}

// New returns an empty store.
func New(o Options) *Store {
	o = o.withDefaults()
	return &Store{
		region:  o.Region,
		account: o.Account,
		now:     o.Now,
		rand:    o.Rand,
		secrets: map[string]*secret{},
		byARN:   map[string]*secret{},
		changed: map[string]bool{},
	}
}

// add puts sec in the store (its name is free) and records the change.
func (s *Store) add(sec *secret) {
	s.secrets[sec.name] = sec
	s.byARN[sec.arn] = sec
	s.scheduled(sec)
	s.touch(sec)
}

// remove takes sec out of the store and records the change.
func (s *Store) remove(sec *secret) {
	delete(s.secrets, sec.name)
	delete(s.byARN, sec.arn)
	s.touch(sec)
}

// touch records that sec changed, for Changes.
func (s *Store) touch(sec *secret) { s.changed[sec.name] = true }

// scheduled keeps purgeAt a lower bound of the deletion dates once sec
// may have one.
func (s *Store) scheduled(sec *secret) {
	if sec.deleted != nil && (s.purgeAt.IsZero() || sec.deleted.Before(s.purgeAt)) {
		s.purgeAt = *sec.deleted
	}
}

type secret struct {
	name         string
	arn          string
	description  *string
	kmsKeyID     *string
	tags         map[string]string
	created      time.Time
	lastChanged  time.Time
	lastAccessed *time.Time
	deleted      *time.Time // scheduled deletion date; nil when not scheduled
	versions     []*version // oldest first
}

type version struct {
	id           string
	str          *string
	bin          []byte
	stages       []string // sorted, no duplicates
	created      time.Time
	lastAccessed *time.Time
}

func (s *secret) version(id string) *version {
	for _, v := range s.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// holder returns the version that has label, or nil.
func (s *secret) holder(label string) *version {
	for _, v := range s.versions {
		if v.has(label) {
			return v
		}
	}
	return nil
}

func (v *version) has(label string) bool {
	_, found := slices.BinarySearch(v.stages, label)
	return found
}

func (v *version) add(label string) {
	if i, found := slices.BinarySearch(v.stages, label); !found {
		v.stages = slices.Insert(v.stages, i, label)
	}
}

func (v *version) remove(label string) {
	if i, found := slices.BinarySearch(v.stages, label); found {
		v.stages = slices.Delete(v.stages, i, i+1)
	}
}

// sameValue reports whether the version holds exactly this value.
func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if str != nil && *v.str != *str {
		return false
	}
	return string(v.bin) == string(bin)
}

// moveLabel attaches label to dst and removes it from every other version.
func (s *secret) moveLabel(label string, dst *version) {
	for _, v := range s.versions {
		if v != dst {
			v.remove(label)
		}
	}
	dst.add(label)
}

// pruneVersions removes the oldest deprecated versions while the secret has
// more than maxVersions. Labelled versions are never removed.
func (s *secret) pruneVersions() {
	for len(s.versions) > maxVersions {
		i := slices.IndexFunc(s.versions, func(v *version) bool { return len(v.stages) == 0 })
		if i < 0 {
			return
		}
		s.versions = slices.Delete(s.versions, i, i+1)
	}
}

// clock returns the current time as the store records it: UTC, truncated to
// the millisecond, which is the precision AWS returns over the wire (so a
// value read from the store equals the value read through the HTTP server).
func (s *Store) clock() time.Time {
	return normTime(s.now())
}

func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// day truncates t to UTC midnight: AWS reports LastAccessedDate at day
// resolution.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// purge removes every secret whose scheduled deletion date has passed. It is
// called under the lock at the start of every operation, which makes the
// purge look immediate to callers. Guess: a secret whose deletion date is
// exactly now still exists ("when the clock passes DeletedDate").
func (s *Store) purge(now time.Time) {
	if s.purgeAt.IsZero() || !now.After(s.purgeAt) {
		return // no deletion date has passed
	}
	s.purgeAt = time.Time{}
	for _, sec := range s.secrets {
		switch {
		case sec.deleted == nil:
		case now.After(*sec.deleted):
			s.remove(sec)
		default:
			s.scheduled(sec)
		}
	}
}

func (s *Store) arnPrefix() string {
	return "arn:aws:secretsmanager:" + s.region + ":" + s.account + ":secret:"
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newARN returns a fresh ARN for name, with 6 random characters from
// [A-Za-z0-9] drawn from Options.Rand without modulo bias.
func (s *Store) newARN(name string) (string, error) {
	suffix := make([]byte, 0, 6)
	var buf [16]byte
	for len(suffix) < 6 {
		if _, err := io.ReadFull(s.rand, buf[:]); err != nil {
			return "", internalError("could not read random bytes for the ARN suffix")
		}
		for _, b := range buf {
			if b < 248 && len(suffix) < 6 { // 248 = 4*62
				suffix = append(suffix, alnum[b%62])
			}
		}
	}
	return s.arnPrefix() + name + "-" + string(suffix), nil
}

// newVersionID returns a random UUIDv4 not used by any version of sec.
func (s *Store) newVersionID(sec *secret) (string, error) {
	for {
		u, err := uuid.NewRandomFromReader(s.rand)
		if err != nil {
			return "", internalError("could not read random bytes for a version id")
		}
		if id := u.String(); sec == nil || sec.version(id) == nil {
			return id, nil
		}
	}
}

// lookup resolves a SecretId: a name, a full ARN, or a partial ARN (the ARN
// without its "-XXXXXX" suffix). Names cannot contain ':', so an id with the
// ARN prefix is always an ARN. A full ARN names exactly one secret: the ARN
// of a purged secret does not find a later secret of the same name (it has
// another suffix).
func (s *Store) lookup(id string) (*secret, error) {
	if strings.HasPrefix(id, "arn:") {
		name, ok := strings.CutPrefix(id, s.arnPrefix())
		if !ok {
			return nil, errSecretNotFound()
		}
		if sec := s.byARN[id]; sec != nil {
			return sec, nil
		}
		if sec := s.secrets[name]; sec != nil {
			return sec, nil // partial ARN
		}
		return nil, errSecretNotFound()
	}
	if sec := s.secrets[id]; sec != nil {
		return sec, nil
	}
	return nil, errSecretNotFound()
}

// live resolves a SecretId for an operation that a scheduled deletion
// forbids.
func (s *Store) live(id string) (*secret, error) {
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if sec.deleted != nil {
		return nil, errMarkedForDeletion()
	}
	return sec, nil
}

// ---- errors ---------------------------------------------------------------

func ptr[T any](v T) *T { return &v }

func errSecretNotFound() error {
	return &types.ResourceNotFoundException{Message: ptr("Secrets Manager can't find the specified secret.")}
}

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: ptr(fmt.Sprintf(format, args...))}
}

func invalidParam(format string, args ...any) error {
	return &types.InvalidParameterException{Message: ptr(fmt.Sprintf(format, args...))}
}

func invalidRequest(format string, args ...any) error {
	return &types.InvalidRequestException{Message: ptr(fmt.Sprintf(format, args...))}
}

func resourceExists(format string, args ...any) error {
	return &types.ResourceExistsException{Message: ptr(fmt.Sprintf(format, args...))}
}

func limitExceeded(format string, args ...any) error {
	return &types.LimitExceededException{Message: ptr(fmt.Sprintf(format, args...))}
}

func invalidNextToken() error {
	return &types.InvalidNextTokenException{Message: ptr("The NextToken value is not valid.")}
}

func internalError(msg string) error {
	return &types.InternalServiceError{Message: ptr(msg)}
}

func errMarkedForDeletion() error {
	return invalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
}

func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// ---- validation -------------------------------------------------------------

func validSecretID(id *string) (string, error) {
	if id == nil || *id == "" {
		return "", invalidParam("You must provide a SecretId.")
	}
	if len(*id) > maxSecretIDLen {
		return "", invalidParam("The SecretId must be at most %d characters.", maxSecretIDLen)
	}
	return *id, nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+=.@-", r)
}

func validName(n *string) (string, error) {
	if n == nil || *n == "" {
		return "", invalidParam("You must provide a secret name.")
	}
	if len(*n) > maxNameLen {
		return "", invalidParam("The secret name must be 1-%d characters.", maxNameLen)
	}
	for _, r := range *n {
		if !nameChar(r) {
			return "", invalidParam("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
		}
	}
	return *n, nil
}

func validToken(tok *string) error {
	if tok != nil && (len(*tok) < minTokenLen || len(*tok) > maxTokenLen) {
		return invalidParam("ClientRequestToken must be %d-%d characters long.", minTokenLen, maxTokenLen)
	}
	return nil
}

// validValue checks a SecretString/SecretBinary pair and returns copies.
// Guess: an empty (zero-length) SecretBinary counts as absent, as the SDK
// would send it and AWS requires at least 1 byte; an empty SecretString is a
// value.
func validValue(str *string, bin []byte, required bool) (*string, []byte, error) {
	hasStr, hasBin := str != nil, len(bin) > 0
	switch {
	case hasStr && hasBin:
		return nil, nil, invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	case required && !hasStr && !hasBin:
		return nil, nil, invalidParam("You must provide either SecretString or SecretBinary.")
	case hasStr && len(*str) > maxValueBytes:
		return nil, nil, invalidParam("SecretString must be at most %d bytes.", maxValueBytes)
	case hasBin && len(bin) > maxValueBytes:
		return nil, nil, invalidParam("SecretBinary must be at most %d bytes.", maxValueBytes)
	}
	if hasStr {
		return ptr(*str), nil, nil
	}
	if hasBin {
		return nil, slices.Clone(bin), nil
	}
	return nil, nil, nil
}

func validLabel(field, l string) error {
	if l == "" || len(l) > maxLabelLen {
		return invalidParam("%s must be 1-%d characters.", field, maxLabelLen)
	}
	return nil
}

// validStages checks a VersionStages list and returns it sorted without
// duplicates. Guess: duplicates in the request are merged, not refused.
func validStages(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, invalidParam("VersionStages must contain at least one staging label.")
	}
	out := make([]string, 0, len(in))
	for _, l := range in {
		if err := validLabel("VersionStages", l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxLabelsPerVersion {
		return nil, limitExceeded("A version can have at most %d staging labels.", maxLabelsPerVersion)
	}
	return out, nil
}

func validDescription(d *string) error {
	if d != nil && len(*d) > maxDescriptionLen {
		return invalidParam("Description must be at most %d characters.", maxDescriptionLen)
	}
	return nil
}

// validTags checks tags and merges them into dst (later keys win).
// Guess: keys starting with "aws:" are reserved for AWS, as for tagging in
// general, and refused.
func validTags(dst map[string]string, tags []types.Tag) error {
	for _, t := range tags {
		if t.Key == nil || *t.Key == "" || len(*t.Key) > maxTagKeyLen {
			return invalidParam("Tag keys must be 1-%d characters.", maxTagKeyLen)
		}
		if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
			return invalidParam("Tag keys can't start with \"aws:\", which is reserved for AWS use.")
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		if len(v) > maxTagValueLen {
			return invalidParam("Tag values must be at most %d characters.", maxTagValueLen)
		}
		dst[*t.Key] = v
	}
	return nil
}

// ---- output helpers -------------------------------------------------------

func cloneStr(p *string) *string {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

func cloneTime(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

func cloneStages(st []string) []string {
	if len(st) == 0 {
		return nil
	}
	return slices.Clone(st)
}

// tagList returns the tags sorted by key, or nil when there are none.
// Guess: AWS's tag order is unspecified; sorting makes it deterministic.
func (s *secret) tagList() []types.Tag {
	if len(s.tags) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.tags))
	for k := range s.tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]types.Tag, len(keys))
	for i, k := range keys {
		out[i] = types.Tag{Key: ptr(k), Value: ptr(s.tags[k])}
	}
	return out
}

// stagesMap maps the id of every labelled version to its labels, or is nil
// when no version has a label.
func (s *secret) stagesMap() map[string][]string {
	var m map[string][]string
	for _, v := range s.versions {
		if len(v.stages) > 0 {
			if m == nil {
				m = map[string][]string{}
			}
			m[v.id] = slices.Clone(v.stages)
		}
	}
	return m
}

// Resource resolves a SecretId (a name, a full or a partial ARN) as the
// operations do, for authorization: the secret's ARN and a copy of its
// tags. A secret that does not exist is not found.
func (s *Store) Resource(id string) (arn string, tags map[string]string, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return "", nil, false
	}
	return sec.arn, maps.Clone(sec.tags), true
}

// ARNPrefix is the ARNs of this store's secrets up to the name:
// arn:aws:secretsmanager:REGION:ACCOUNT:secret:.
func (s *Store) ARNPrefix() string { return s.arnPrefix() }

package rotation

import (
	"context"
	"crypto/subtle"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// A leak alert names a credential by its AWS access key id or by a
// fingerprint of its value, never by the value. So that resolve can find
// the version that holds it without reading any value (and without hashing
// every version on every alert: GitGuardian's hash costs milliseconds),
// create records on the secret, per version, tags that carry no secret:
//
//	rotor:keyid:<version>   the credential's access key id
//	rotor:sha256:<version>  hex SHA-256 of the leakable value
//	rotor:hmsl:<version>    GitGuardian's HasMySecretLeaked hash of it
//
// and revoking a version removes its tags, so only versions whose
// credential may still be live can match. Fingerprints are recorded only
// for values of high entropy (generated keys and passwords): a hash of a
// guessable value would give the value away to anyone who may read tags.
const (
	TagKeyIDPrefix  = "rotor:keyid:"
	TagSHA256Prefix = "rotor:sha256:"
	TagHMSLPrefix   = "rotor:hmsl:"
)

var identityPrefixes = []string{TagKeyIDPrefix, TagSHA256Prefix, TagHMSLPrefix}

func isIdentityTag(k string) bool {
	for _, p := range identityPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// minFingerprintBits is the entropy a value needs before its fingerprint is
// stored: past 128 bits no search of the value space is feasible.
const minFingerprintBits = 128

// identityTags computes the tags that identify a version's credential.
func identityTags(p provider.Provider, o provider.Options, version string, value []byte) (map[string]string, error) {
	idf, ok := p.(provider.Identifier)
	if !ok {
		return nil, nil
	}
	id, err := idf.Identify(value, o)
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	if id.KeyID != "" {
		tags[TagKeyIDPrefix+version] = id.KeyID
	}
	if len(id.Secret) > 0 && entropyBits(id.Secret) >= minFingerprintBits {
		tags[TagSHA256Prefix+version] = strings.TrimPrefix(leak.SHA256(id.Secret), "sha256:")
		tags[TagHMSLPrefix+version] = leak.HMSLHash(id.Secret)
	}
	return tags, nil
}

// entropyBits estimates a value's entropy as length times log2 of the
// alphabet its character classes span: right for generated values, zero for
// one-class text (words, passphrases) and repeated patterns. It is a guard
// for the one value rotor did not make (the secret's first), not a proof:
// a person's password that mixes classes and is long enough passes, so the
// README tells users to rotate such a secret once.
func entropyBits(v []byte) float64 {
	var lower, upper, digit, other bool
	distinct := map[byte]bool{}
	for _, c := range v {
		distinct[c] = true
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		default:
			other = true
		}
	}
	alphabet, classes := 0, 0
	for _, c := range []struct {
		on bool
		n  int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.on {
			alphabet += c.n
			classes++
		}
	}
	// One class is how words and passphrases look; generated values mix.
	if classes < 2 || len(distinct) < len(v)/4 {
		return 0
	}
	return float64(len(v)) * math.Log2(float64(alphabet))
}

// recordIdentity tags the secret with what identifies version's credential.
// It writes only what is missing, so a retried create costs no write.
func (s *Service) recordIdentity(ctx context.Context, sec *secret, version string, value []byte) error {
	// A version's value never changes and its tags are written in one
	// TagResource: any of them means all are there. Checking spares the
	// HasMySecretLeaked hash (scrypt, milliseconds and 2 MiB) of the
	// current version on every rotation.
	for _, p := range identityPrefixes {
		if _, ok := sec.tags[p+version]; ok {
			return nil
		}
	}
	tags, err := identityTags(sec.pol.prov, sec.pol.options, version, value)
	if err != nil {
		// The provider cannot read its own value: leaks of it can still be
		// matched by secret id. Not a reason to fail a rotation.
		s.log().WarnContext(ctx, "cannot identify credential; leaks of it match by secret id only",
			"secretId", sec.arn, "version", version, "error", err)
		return nil
	}
	var add []types.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if sec.tags[k] != tags[k] {
			add = append(add, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
		}
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := s.SM.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String(sec.arn), Tags: add}); err != nil {
		return smError(err, "record key id and fingerprints of version %s of secret %q", version, sec.name)
	}
	for _, t := range add {
		sec.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return nil
}

// forgetIdentity removes the identity tags of versions (revoked, or gone).
func (s *Service) forgetIdentity(ctx context.Context, sec *secret, versions ...string) error {
	var keys []string
	for _, v := range versions {
		for _, p := range identityPrefixes {
			if _, ok := sec.tags[p+v]; ok {
				keys = append(keys, p+v)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.SM.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String(sec.arn), TagKeys: keys}); err != nil {
		return smError(err, "remove key id and fingerprints of versions %v of secret %q", versions, sec.name)
	}
	for _, k := range keys {
		delete(sec.tags, k)
	}
	return nil
}

// identifiedVersions returns the versions that carry identity tags.
func identifiedVersions(tags map[string]string) []string {
	seen := map[string]bool{}
	for k := range tags {
		for _, p := range identityPrefixes {
			if v, ok := strings.CutPrefix(k, p); ok {
				seen[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// versionsMatching returns the versions whose identity tag with prefix
// equals value, comparing in constant time.
func versionsMatching(tags map[string]string, prefix, value string) []string {
	var out []string
	for k, v := range tags {
		if version, ok := strings.CutPrefix(k, prefix); ok && subtle.ConstantTimeCompare([]byte(v), []byte(value)) == 1 {
			out = append(out, version)
		}
	}
	sort.Strings(out)
	return out
}

// leakLookup turns a leak's key id or fingerprint into the tag prefix and
// value that record it.
func leakLookup(l *Leak) (prefix, value string, err error) {
	switch {
	case l.AccessKeyID != "":
		return TagKeyIDPrefix, l.AccessKeyID, nil
	case strings.HasPrefix(l.Fingerprint, "sha256:"):
		return TagSHA256Prefix, strings.TrimPrefix(l.Fingerprint, "sha256:"), nil
	case strings.HasPrefix(l.Fingerprint, "hmsl:"):
		return TagHMSLPrefix, strings.TrimPrefix(l.Fingerprint, "hmsl:"), nil
	}
	return "", "", fmt.Errorf("leak names neither an access key id nor a fingerprint")
}

// holders implements provider.HoldersFunc: the managed secret versions
// whose current or pending value is recorded as holding keyID.
func (s *Service) holders(ctx context.Context, keyID string) ([]provider.Holder, error) {
	var out []provider.Holder
	var next *string
	for {
		page, err := s.SM.ListSecrets(ctx, &sm.ListSecretsInput{
			Filters:    []types.Filter{{Key: types.FilterNameStringTypeTagValue, Values: []string{keyID}}},
			MaxResults: aws.Int32(100), NextToken: next})
		if err != nil {
			return nil, smError(err, "look up which secrets hold key %s", keyID)
		}
		for _, e := range page.SecretList {
			tags := map[string]string{}
			for _, t := range e.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if _, managed := tags[TagProvider]; !managed || e.DeletedDate != nil {
				continue
			}
			for _, v := range versionsMatching(tags, TagKeyIDPrefix, keyID) {
				for _, l := range e.SecretVersionsToStages[v] {
					if l == LabelCurrent || l == LabelPending {
						out = append(out, provider.Holder{SecretID: aws.ToString(e.ARN), VersionID: v, Label: l})
					}
				}
			}
		}
		if next = page.NextToken; next == nil {
			return out, nil
		}
	}
}

// revokedTTL is how long the ledger remembers a revoked credential: a leak
// alert for it within that time is answered "already revoked".
const revokedTTL = 400 * 24 * time.Hour

// revokedKey is the ledger key of a revoked credential's identity tag.
func revokedKey(tagPrefix, value string) string {
	kind := strings.TrimSuffix(strings.TrimPrefix(tagPrefix, "rotor:"), ":")
	return ledger.RevokedPrefix + kind + "#" + value
}

// recordRevoked writes to the ledger what identified a version whose
// credential was just revoked, before its identity tags are dropped.
func (s *Service) recordRevoked(ctx context.Context, sec *secret, version string) error {
	if s.Ledger == nil {
		return nil
	}
	for _, p := range identityPrefixes {
		v, ok := sec.tags[p+version]
		if !ok {
			continue
		}
		if err := s.Ledger.Put(ctx, revokedKey(p, v), revokedTTL, map[string]string{
			"secretId": sec.arn, "versionId": version, "revokedAt": s.now().UTC().Format(time.RFC3339)}); err != nil {
			return rotorerr.Wrap(rotorerr.Classify(err), fmt.Errorf("secret %q: remember that version %s was revoked: %w", sec.name, version, err))
		}
	}
	return nil
}

// findRevoked looks a leak up in the ledger of revoked credentials.
func (s *Service) findRevoked(ctx context.Context, l *Leak) (*RevokedLeak, error) {
	if s.Ledger == nil {
		return nil, nil
	}
	for _, q := range []Leak{{AccessKeyID: l.AccessKeyID}, {Fingerprint: l.Fingerprint}} {
		if q.AccessKeyID == "" && q.Fingerprint == "" {
			continue
		}
		prefix, value, err := leakLookup(&q)
		if err != nil {
			return nil, err
		}
		rec, err := s.Ledger.Get(ctx, revokedKey(prefix, value))
		if err != nil {
			return nil, rotorerr.Wrap(rotorerr.Classify(err), fmt.Errorf("look up revoked credentials: %w", err))
		}
		if rec != nil {
			return &RevokedLeak{Leak: *l, SecretID: rec["secretId"], VersionID: rec["versionId"], RevokedAt: rec["revokedAt"]}, nil
		}
	}
	return nil, nil
}

package leak

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/strictjson"
)

// genericAlert is rotor's own alert, for tools and people that know
// something leaked: {"fingerprint", "accessKeyId", "secretId", "reference",
// "reason"}.
type genericAlert struct {
	Fingerprint string `json:"fingerprint"`
	AccessKeyID string `json:"accessKeyId"`
	SecretID    string `json:"secretId"`
	Reference   string `json:"reference"`
	Reason      string `json:"reason"`
}

// ParseGeneric reads rotor's generic alert:
//
//	{"fingerprint": "sha256:<hex>" or "hmsl:<hex>", "accessKeyId": "AKIA...",
//	 "secretId": "name or ARN", "reference": "url or id", "reason": "text"}
//
// At least one of fingerprint, accessKeyId and secretId is required.
// fingerprint is SHA256 or HMSLHash of the leaked value (64 lowercase hex
// digits), accessKeyId an AWS access key id, secretId a Secrets Manager name
// or ARN. Unknown, duplicate and case-mismatched members are ErrMalformed,
// as is any field not of its form. Every valid generic alert is a leak: there
// is no ErrNotALeak here.
func ParseGeneric(body []byte) (*Alert, error) {
	const src = SourceGeneric
	if len(body) > MaxBodyBytes {
		return nil, malformed(src, "body is larger than %d bytes", MaxBodyBytes)
	}
	var g genericAlert
	if err := strictjson.Decode(body, &g); err != nil {
		return nil, malformed(src, "%s", err)
	}
	if g.Fingerprint == "" && g.AccessKeyID == "" && g.SecretID == "" {
		return nil, malformed(src, `one of "fingerprint", "accessKeyId" or "secretId" is required`)
	}
	a := &Alert{Source: src, SecretID: g.SecretID, Reference: g.Reference, Reason: g.Reason}
	if g.Fingerprint != "" {
		if !IsFingerprint(g.Fingerprint) {
			return nil, malformed(src, `"fingerprint" must be %s`, fingerprintForm)
		}
		a.Fingerprints = []string{g.Fingerprint}
	}
	if g.AccessKeyID != "" {
		if !IsAccessKeyID(g.AccessKeyID) {
			return nil, malformed(src, `"accessKeyId" must be %s`, accessKeyIDForm)
		}
		a.AccessKeyIDs = []string{g.AccessKeyID}
	}
	if g.SecretID != "" && !isSecretID(g.SecretID) {
		return nil, malformed(src, `"secretId" must be a Secrets Manager secret name or ARN (1 to 2048 letters, digits and %s)`, "/_+=.@-:")
	}
	if !isText(g.Reference, 2048) {
		return nil, malformed(src, `"reference" must be at most 2048 bytes of text without control characters`)
	}
	if !isText(g.Reason, 1024) {
		return nil, malformed(src, `"reason" must be at most 1024 bytes of text without control characters`)
	}
	return a, nil
}

// Headers of rotor's generic alert.
const (
	GenericTimestampHeader = "X-Rotor-Timestamp"
	GenericSignatureHeader = "X-Rotor-Signature-256"
)

// SignGeneric signs a generic alert body sent at now with key: the values
// of GenericTimestampHeader (decimal Unix seconds) and
// GenericSignatureHeader ("sha256=" and the lowercase hex HMAC-SHA256,
// keyed with key, of the timestamp, a ".", and the body).
func SignGeneric(key, body []byte, now time.Time) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(genericMAC(key, timestamp, body))
}

func genericMAC(key []byte, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyGenericSignature checks a generic alert's signature (see
// SignGeneric) and that its timestamp is within window of now, so that a
// captured alert cannot be replayed later; within the window the receiver
// deduplicates on the signature. The signature covers the timestamp, so
// neither can be changed alone. The comparison is constant-time. Every
// failure wraps ErrSignature.
func VerifyGenericSignature(key, body []byte, timestamp, signature string, now time.Time, window time.Duration) error {
	const src = SourceGeneric
	switch {
	case len(key) == 0:
		return badSignature(src, "no signing key is configured")
	case window <= 0:
		return badSignature(src, "the replay window must be positive")
	case signature == "":
		return badSignature(src, "the %s header is missing", GenericSignatureHeader)
	case timestamp == "":
		return badSignature(src, "the %s header is missing", GenericTimestampHeader)
	}
	got, ok := SignatureBytes(signature)
	if !ok {
		return badSignature(src, `the %s header must be "sha256=" followed by 64 hex digits`, GenericSignatureHeader)
	}
	if !allDigits(timestamp) || len(timestamp) > 12 {
		return badSignature(src, "the %s header must be decimal Unix seconds", GenericTimestampHeader)
	}
	sec, _ := strconv.ParseInt(timestamp, 10, 64)
	if !hmac.Equal(got, genericMAC(key, timestamp, body)) {
		return badSignature(src, "the signature does not match the timestamp and body")
	}
	return inWindow(src, GenericTimestampHeader, time.Unix(sec, 0), now, window)
}

// inWindow refuses a signed timestamp (header) sent more than window
// before or after now.
func inWindow(src, header string, sent, now time.Time, window time.Duration) error {
	switch age := now.Sub(sent); {
	case age > window:
		return badSignature(src, "the %s is older than the replay window (%s)", header, window)
	case age < -window:
		return badSignature(src, "the %s is ahead of the clock by more than the replay window (%s)", header, window)
	}
	return nil
}

// SignatureBytes decodes a "sha256=<64 hex digits>" signature header, in
// either case: two spellings of one signature are one signature, which is
// what a receiver deduplicating replays must compare.
func SignatureBytes(header string) ([]byte, bool) {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(hexSig)
	return b, err == nil
}

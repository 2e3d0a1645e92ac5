package leak

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"

	"github.com/rotorhq/rotor/internal/strictjson"
)

// Alert is a leak alert, normalized. It never holds a leaked value.
type Alert struct {
	Source       string       // "guardduty", "health", "github", "gitguardian", "generic"
	AccessKeyIDs []string     // AWS access key ids named by the alert (not secret)
	Fingerprints []string     // "sha256:<64 lowercase hex>" or "hmsl:<64 lowercase hex>"
	SecretID     string       // a Secrets Manager secret name or ARN, when the alert names one
	Reference    string       // finding id / event ARN / alert or incident URL
	Reason       string       // short human text: finding type, event type code, secret type
	GitHub       *GitHubAlert // GitHub alerts carry no secret: the caller fetches it through the REST API
}

// GitHubAlert is what a GitHub secret scanning alert names. The payload
// holds no secret: GET APIURL with a token that may read secret scanning
// alerts returns the alert with its "secret" field, which the caller hashes
// (SHA256, HMSLHash) and forgets.
type GitHubAlert struct {
	Repository string // "owner/name"
	Number     int
	SecretType string
	Action     string
	// APIURL is the REST URL of the alert (GET returns the "secret" field):
	// alert.url, or repository.url + "/secret-scanning/alerts/" + number
	// when the payload has no alert.url. It is an https URL whose path ends
	// in /repos/<Repository>/secret-scanning/alerts/<Number>. The caller
	// must still check its host against the GitHub API host it trusts before
	// sending a token there.
	APIURL string
}

// The three kinds of failure. Every error returned here wraps exactly one.
var (
	// ErrNotALeak: a well-formed event that starts nothing.
	ErrNotALeak = errors.New("not a leak to act on")
	// ErrMalformed: input that cannot be read as an alert of its source.
	ErrMalformed = errors.New("malformed leak alert")
	// ErrSignature: a missing, wrong or stale webhook signature.
	ErrSignature = errors.New("webhook signature rejected")
)

// MaxBodyBytes bounds every input: larger bodies are ErrMalformed. A
// webhook handler should read at most MaxBodyBytes+1 bytes of a request.
const MaxBodyBytes = 256 << 10

// Source names, the values of Alert.Source.
const (
	SourceGuardDuty   = "guardduty"
	SourceHealth      = "health"
	SourceGitHub      = "github"
	SourceGitGuardian = "gitguardian"
	SourceGeneric     = "generic"
)

// notALeak and malformed build the package's errors. The format and its
// arguments must never carry a value from the input.
func notALeak(source, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrNotALeak, source, fmt.Sprintf(format, args...))
}

func malformed(source, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, source, fmt.Sprintf(format, args...))
}

func badSignature(source, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrSignature, source, fmt.Sprintf(format, args...))
}

// decode reads a provider payload into v: a JSON object, members matched
// case-sensitively, duplicate members refused, unknown members ignored
// (providers add fields). Failures are described without quoting the input.
func decode(source string, data []byte, v any) error {
	if len(data) > MaxBodyBytes {
		return malformed(source, "body is larger than %d bytes", MaxBodyBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return malformed(source, "%s", strictjson.Describe(err))
	}
	return nil
}

// IsAccessKeyID reports whether s has the form of an AWS access key id:
// "AKIA" (long-term, an IAM user's key) or "ASIA" (temporary, from STS)
// followed by 16 uppercase letters or digits.
func IsAccessKeyID(s string) bool {
	if len(s) != 20 || (s[:4] != "AKIA" && s[:4] != "ASIA") {
		return false
	}
	for i := 4; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

const accessKeyIDForm = `an AWS access key id ("AKIA" or "ASIA" and 16 uppercase letters or digits)`

// IsFingerprint reports whether s is a fingerprint in rotor's form:
// "sha256:" or "hmsl:" followed by 64 lowercase hex digits.
func IsFingerprint(s string) bool {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		if hexPart, ok = strings.CutPrefix(s, "hmsl:"); !ok {
			return false
		}
	}
	return isLowerHex64(hexPart)
}

const fingerprintForm = `"sha256:" or "hmsl:" followed by 64 lowercase hex digits`

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isSecretID reports whether s can be a Secrets Manager secret name or ARN:
// 1 to 2048 characters from the set names allow (letters, digits and
// /_+=.@-) plus ':' for ARNs.
func isSecretID(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("/_+=.@-:", rune(c)) {
			return false
		}
	}
	return true
}

// isText reports whether s is short, valid UTF-8 text without control
// characters (it ends up in the state machine's history and in logs).
func isText(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// httpsURL parses s as an absolute https URL with a host and no user
// information, query or fragment.
func httpsURL(s string) (*url.URL, bool) {
	if !isText(s, 2048) {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, false
	}
	return u, true
}

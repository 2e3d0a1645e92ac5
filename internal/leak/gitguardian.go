package leak

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// GitGuardian custom-webhook actions that start a response: a new incident,
// a regression (the secret showed up again after the incident was closed)
// and a reopened incident. Every other action (incident_resolved,
// incident_ignored, incident_assigned, incident_severity_changed,
// new_occurrence, ...) is ErrNotALeak.
var gitguardianLeakActions = map[string]bool{
	"incident_triggered":  true,
	"incident_regression": true,
	"incident_reopened":   true,
}

type gitguardianPayload struct {
	Action   *string `json:"action"`
	Incident *struct {
		ID       *int64 `json:"id"`
		Detector struct {
			Name string `json:"name"`
		} `json:"detector"`
		HMSLHash       *string `json:"hmsl_hash"`
		GitGuardianURL string  `json:"gitguardian_url"`
	} `json:"incident"`
	// The test message GitGuardian sends from the settings page has the
	// older scan-result shape: no action, a policy and the matches (with the
	// matched values in plain text, so they are never read here).
	Policy  jsontext.Value `json:"policy"`
	Matches jsontext.Value `json:"matches"`
}

// ParseGitGuardian reads a GitGuardian custom-webhook event
// (https://docs.gitguardian.com/platform/configure-alerting/notifiers-integrations/custom-webhook;
// verify it first with VerifyGitGuardianSignature).
//
// Actions incident_triggered, incident_regression and incident_reopened
// give an Alert with one fingerprint, "hmsl:" + incident.hmsl_hash; Reason is
// the detector's name (incident.detector.name, e.g. "aws_iam") and
// Reference incident.gitguardian_url. Other actions and the settings page's
// test message are ErrNotALeak.
//
// The hash. Incident events carry no plaintext, only two hashes of the
// secret. incident.secret_hash (base64, 48 bytes) is GitGuardian's own
// hash, keyed on their side: nobody else can compute it, so it is ignored.
// incident.hmsl_hash (64 hex digits) is the HasMySecretLeaked hash that
// HMSLHash computes: scrypt(value, salt = SHA-256("GitGuardian"), N=2048,
// r=8, p=1, 32 bytes) in hex, as in ggshield's
// ggshield/verticals/hmsl/crypto.py (hash_string); GitGuardian publishes
// value/hash pairs for it (fingerprint_test.go). The same hash is what
// ggscout uploads for vaulted secrets so GitGuardian can match them to
// incidents. Which part of a multi-part secret (an AWS key pair, say)
// GitGuardian hashes is not documented; rotor fingerprints the value it
// stores.
func ParseGitGuardian(body []byte) (*Alert, error) {
	const src = SourceGitGuardian
	var p gitguardianPayload
	if err := decode(src, body, &p); err != nil {
		return nil, err
	}
	if p.Action == nil && p.Policy != nil && p.Matches != nil {
		return nil, notALeak(src, "a test message, not an incident event")
	}
	switch {
	case p.Action == nil || *p.Action == "":
		return nil, malformed(src, `"action" is missing or empty`)
	case !gitguardianLeakActions[*p.Action]:
		return nil, notALeak(src, `"action" is not one of incident_triggered, incident_regression, incident_reopened`)
	case p.Incident == nil:
		return nil, malformed(src, `"incident" is missing`)
	case p.Incident.HMSLHash == nil || *p.Incident.HMSLHash == "":
		return nil, malformed(src, `"incident.hmsl_hash" is missing or empty`)
	case !isLowerHex64(*p.Incident.HMSLHash):
		return nil, malformed(src, `"incident.hmsl_hash" must be 64 lowercase hex digits`)
	case !isText(p.Incident.Detector.Name, 256):
		return nil, malformed(src, `"incident.detector.name" is too long or holds control characters`)
	}
	inc := p.Incident
	ref := ""
	if _, ok := httpsURL(inc.GitGuardianURL); ok {
		ref = inc.GitGuardianURL
	} else if inc.ID != nil {
		ref = "gitguardian incident " + strconv.FormatInt(*inc.ID, 10)
	}
	reason := inc.Detector.Name
	if reason == "" {
		reason = *p.Action
	}
	return &Alert{
		Source:       src,
		Fingerprints: []string{"hmsl:" + *inc.HMSLHash},
		Reference:    ref,
		Reason:       reason,
	}, nil
}

// VerifyGitGuardianSignature checks a GitGuardian custom-webhook request,
// per https://docs.gitguardian.com/platform/configure-alerting/notifiers-integrations/custom-webhook:
//
//   - headers: "Gitguardian-Signature: sha256=<hex>" (signature; the older
//     "X-GitGuardian-Signature" carries the same value and is deprecated)
//     and "Timestamp: <time of sending>" (timestamp);
//   - signature: HMAC-SHA256 keyed with the string concatenation of the
//     Timestamp header, exactly as received, and the signature token (token)
//     configured for the webhook, over the raw body; lowercase hex after
//     "sha256=". GitGuardian's published check: timestamp "0", token "foo",
//     body "bar" give
//     "sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2";
//   - replay: GitGuardian advises dropping a request whose Timestamp differs
//     from the receiver's clock by more than a few seconds. A Timestamp
//     older or newer than window from now is rejected.
//
// GitGuardian's documentation does not state the Timestamp's unit. Its
// example ("0") and the receivers we found (Port's Ocean integration signs
// its tests with Python's str(time.time())) read it as Unix seconds, so it
// is parsed as decimal Unix seconds with an optional fractional part; a
// value of 10^11 or more (year 5138 in seconds) is read as Unix
// milliseconds, so that a millisecond clock still checks.
//
// The comparison is constant-time. An empty token or a window that is not
// positive is refused. Every failure wraps ErrSignature.
func VerifyGitGuardianSignature(token, body []byte, timestamp, signature string, now time.Time, window time.Duration) error {
	const src = SourceGitGuardian
	switch {
	case len(token) == 0:
		return badSignature(src, "no signature token is configured")
	case window <= 0:
		return badSignature(src, "the replay window must be positive")
	case signature == "":
		return badSignature(src, "the Gitguardian-Signature header is missing")
	case timestamp == "":
		return badSignature(src, "the Timestamp header is missing")
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return badSignature(src, `the Gitguardian-Signature header must be "sha256=" followed by 64 hex digits`)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return badSignature(src, `the Gitguardian-Signature header must be "sha256=" followed by 64 hex digits`)
	}
	sent, ok := parseTimestamp(timestamp)
	if !ok {
		return badSignature(src, "the Timestamp header must be decimal Unix seconds")
	}
	key := make([]byte, 0, len(timestamp)+len(token))
	key = append(append(key, timestamp...), token...)
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return badSignature(src, "the signature does not match the body")
	}
	return inWindow(src, "Timestamp", sent, now, window)
}

// parseTimestamp reads decimal Unix seconds ("1718000000" or
// "1718000000.123456"); 10^11 and above are Unix milliseconds.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) > 32 {
		return time.Time{}, false
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 16 || !allDigits(whole) || hasFrac && (frac == "" || !allDigits(frac)) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	unit := time.Second
	if n >= 1e11 {
		unit = time.Millisecond
	}
	// Nanoseconds of the fractional part, in the same unit.
	var fracNanos int64
	if hasFrac {
		digits := (frac + "000000000")[:9]
		f, _ := strconv.ParseInt(digits, 10, 64) // nine digits: cannot fail
		fracNanos = f * int64(unit) / int64(time.Second)
	}
	if unit == time.Second {
		return time.Unix(n, fracNanos), true
	}
	return time.UnixMilli(n).Add(time.Duration(fracNanos)), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

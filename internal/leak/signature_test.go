package leak_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotorhq/rotor/internal/leak"
)

func TestVerifyGitHubSignature(t *testing.T) {
	// GitHub's published check, "Validating webhook deliveries",
	// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries.
	const (
		docSecret = "It's a Secret to Everybody"
		docBody   = "Hello, World!"
		docHeader = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	body := sample(t, leakDir+"github-secret-scanning-reopened.json")
	secret := []byte("webhook-secret-for-tests")
	valid := "sha256=" + hexHMAC(secret, body)

	for _, tc := range []struct {
		name         string
		secret, body []byte
		header       string
		ok           bool
		field        string
	}{
		{"GitHub's published vector", []byte(docSecret), []byte(docBody), docHeader, true, ""},
		{"a real payload signed with its secret", secret, body, valid, true, ""},
		{"uppercase hex is the same signature", secret, body, "sha256=" + strings.ToUpper(hexHMAC(secret, body)), true, ""},
		{"a wrong secret", []byte("another secret"), body, valid, false, "does not match"},
		{"a tampered body", secret, append([]byte(" "), body...), valid, false, "does not match"},
		{"a missing header", secret, body, "", false, "missing"},
		{"the SHA-1 header's form", secret, body, "sha1=" + hexHMAC(secret, body)[:40], false, `"sha256="`},
		{"no prefix", secret, body, hexHMAC(secret, body), false, `"sha256="`},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false, "64 hex digits"},
		{"a short signature", secret, body, valid[:len(valid)-2], false, "64 hex digits"},
		{"no secret configured", nil, body, valid, false, "no webhook secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := leak.VerifyGitHubSignature(tc.secret, tc.body, tc.header)
			if !checkVerdict(t, err, tc.ok, tc.field) {
				return
			}
			quiet(t, err, string(tc.secret), strings.TrimPrefix(tc.header, "sha256="), hexHMAC(secret, body))
		})
	}
}

func TestVerifyGitGuardianSignature(t *testing.T) {
	body := sample(t, leakDir+"gitguardian-incident-triggered.json")
	token := []byte("signature-token-for-tests")
	now := time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)
	const window = 5 * time.Minute
	sign := func(ts string, b []byte) string { return "sha256=" + hexHMAC(append([]byte(ts), token...), b) }
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	fresh := unix(-3 * time.Second)

	for _, tc := range []struct {
		name    string
		token   []byte
		body    []byte
		ts, sig string
		now     time.Time
		window  time.Duration
		ok      bool
		field   string
	}{
		// GitGuardian's published check (custom webhook page, "How to verify
		// the payload signature"): timestamp "0", token "foo", payload "bar".
		{"GitGuardian's published vector", []byte("foo"), []byte("bar"), "0",
			"sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2", time.Unix(2, 0), window, true, ""},
		{"a fresh, signed incident", token, body, fresh, sign(fresh, body), now, window, true, ""},
		{"a timestamp with a fractional part", token, body, unix(0) + ".918273", sign(unix(0)+".918273", body), now, window, true, ""},
		{"a timestamp in milliseconds", token, body, strconv.FormatInt(now.UnixMilli()-1500, 10),
			sign(strconv.FormatInt(now.UnixMilli()-1500, 10), body), now, window, true, ""},
		{"exactly at the edge of the window", token, body, unix(-window), sign(unix(-window), body), now, window, true, ""},
		{"replayed: older than the window", token, body, unix(-window - time.Second), sign(unix(-window-time.Second), body), now, window, false, "older"},
		{"from the future", token, body, unix(window + time.Second), sign(unix(window+time.Second), body), now, window, false, "ahead"},
		{"milliseconds, replayed", token, body, strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10),
			sign(strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10), body), now, window, false, "older"},
		{"a fresh timestamp on a replayed signature", token, body, fresh, sign(unix(-time.Hour), body), now, window, false, "does not match"},
		{"a wrong token", []byte("another token"), body, fresh, sign(fresh, body), now, window, false, "does not match"},
		{"a tampered body", token, append(body, ' '), fresh, sign(fresh, body), now, window, false, "does not match"},
		{"a missing signature", token, body, fresh, "", now, window, false, "Gitguardian-Signature header is missing"},
		{"a missing timestamp", token, body, "", sign(fresh, body), now, window, false, "Timestamp header is missing"},
		{"no prefix", token, body, fresh, strings.TrimPrefix(sign(fresh, body), "sha256="), now, window, false, `"sha256="`},
		{"not hex", token, body, fresh, "sha256=" + strings.Repeat("g", 64), now, window, false, "64 hex digits"},
		{"a negative timestamp", token, body, "-" + fresh, sign("-"+fresh, body), now, window, false, "decimal Unix seconds"},
		{"an exponent", token, body, "1.7e9", sign("1.7e9", body), now, window, false, "decimal Unix seconds"},
		{"a date", token, body, now.Format(time.RFC3339), sign(now.Format(time.RFC3339), body), now, window, false, "decimal Unix seconds"},
		{"spaces", token, body, " " + fresh, sign(" "+fresh, body), now, window, false, "decimal Unix seconds"},
		{"a trailing dot", token, body, fresh + ".", sign(fresh+".", body), now, window, false, "decimal Unix seconds"},
		{"too many digits", token, body, strings.Repeat("9", 40), sign(strings.Repeat("9", 40), body), now, window, false, "decimal Unix seconds"},
		{"no token configured", nil, body, fresh, sign(fresh, body), now, window, false, "no signature token"},
		{"no window", token, body, fresh, sign(fresh, body), now, 0, false, "window must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := leak.VerifyGitGuardianSignature(tc.token, tc.body, tc.ts, tc.sig, tc.now, tc.window)
			if !checkVerdict(t, err, tc.ok, tc.field) {
				return
			}
			quiet(t, err, string(tc.token), strings.TrimPrefix(tc.sig, "sha256="), sign(tc.ts, tc.body)[7:])
		})
	}
}

func hexHMAC(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// quiet fails if the error's message quotes any of the non-empty values.
func quiet(t *testing.T, err error, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(err.Error(), v) {
			t.Errorf("message %q quotes %q", err, v)
		}
	}
}

// checkVerdict checks a signature check's result: nil when ok, else only
// ErrSignature with a message that names field. It reports whether the
// error should be examined further.
func checkVerdict(t *testing.T, err error, ok bool, field string) bool {
	t.Helper()
	if ok {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return false
	}
	if !errors.Is(err, leak.ErrSignature) || errors.Is(err, leak.ErrMalformed) || errors.Is(err, leak.ErrNotALeak) {
		t.Fatalf("error = %v, want only ErrSignature", err)
	}
	if !strings.Contains(err.Error(), field) {
		t.Errorf("message %q does not say %q", err, field)
	}
	return true
}

func TestVerifyGenericSignature(t *testing.T) {
	key := []byte("rotor-generic-key-for-tests")
	body := []byte(`{"secretId":"prod/stripe"}`)
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ts, sig := leak.SignGeneric(key, body, at)
	// The construction, spelt out: HMAC-SHA256(key, timestamp "." body).
	if want := "sha256=" + hexHMAC(key, []byte(ts+"."+string(body))); sig != want || ts != "1796644800" {
		t.Fatalf("SignGeneric = %s %s, want %s 1796644800", ts, sig, want)
	}
	for _, tc := range []struct {
		name      string
		key, body []byte
		ts, sig   string
		now       time.Time
		ok        bool
		field     string
	}{
		{"signed now", key, body, ts, sig, at, true, ""},
		{"uppercase hex", key, body, ts, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), at, true, ""},
		{"4 minutes later", key, body, ts, sig, at.Add(4 * time.Minute), true, ""},
		{"6 minutes later: a replay", key, body, ts, sig, at.Add(6 * time.Minute), false, "older than the replay window"},
		{"from the future", key, body, ts, sig, at.Add(-6 * time.Minute), false, "ahead of the clock"},
		{"a timestamp moved forward", key, body, strconv.FormatInt(at.Unix()+300, 10), sig, at.Add(6 * time.Minute), false, "does not match"},
		{"a tampered body", key, append(body, ' '), ts, sig, at, false, "does not match"},
		{"a wrong key", []byte("other"), body, ts, sig, at, false, "does not match"},
		{"no key configured", nil, body, ts, sig, at, false, "no signing key"},
		{"no timestamp", key, body, "", sig, at, false, "X-Rotor-Timestamp header is missing"},
		{"a timestamp that is not seconds", key, body, "1796644800.5", sig, at, false, "decimal Unix seconds"},
		{"no signature", key, body, ts, "", at, false, "X-Rotor-Signature-256 header is missing"},
		{"a signature without its prefix", key, body, ts, strings.TrimPrefix(sig, "sha256="), at, false, `"sha256="`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := leak.VerifyGenericSignature(tc.key, tc.body, tc.ts, tc.sig, tc.now, 5*time.Minute)
			if tc.ok != (err == nil) || !tc.ok && (!errors.Is(err, leak.ErrSignature) || !strings.Contains(err.Error(), tc.field)) {
				t.Errorf("VerifyGenericSignature = %v, want ok=%v containing %q", err, tc.ok, tc.field)
			}
		})
	}
}

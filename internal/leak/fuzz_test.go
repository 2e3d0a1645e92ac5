package leak_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rotorhq/rotor/internal/leak"
)

// The fuzz tests check the contract on any input: no panic, and either an
// Alert of the documented forms or an error wrapping exactly one of
// ErrNotALeak and ErrMalformed (checkOutcome). They are seeded with every
// sample of their source.

func seed(f *testing.F, paths ...string) {
	for _, p := range paths {
		f.Add(sample(f, p))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"detail": {"service": {}}}`))
}

func fuzzParse(f *testing.F, parse parseFunc) {
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkOutcome(parse(body)); err != nil {
			t.Fatal(err)
		}
	})
}

var awsSamples = []string{
	leakDir + "guardduty-exfiltration-finding.json",
	leakDir + "guardduty-ec2-near-miss.json",
	leakDir + "guardduty-placeholder-key-malformed.json",
	leakDir + "health-exposure-suspected-near-miss.json",
	leakDir + "health-placeholder-key-malformed.json",
	eventsDir + "guardduty-credential-exfiltration.json",
	eventsDir + "guardduty-recon-near-miss.json",
	eventsDir + "health-credentials-exposed.json",
	eventsDir + "health-ec2-near-miss.json",
	eventsDir + "leakbus-github.json",
}

func FuzzParseGuardDuty(f *testing.F) {
	seed(f, awsSamples...)
	fuzzParse(f, leak.ParseGuardDuty)
}

func FuzzParseHealth(f *testing.F) {
	seed(f, awsSamples...)
	fuzzParse(f, leak.ParseHealth)
}

func FuzzParseEvent(f *testing.F) {
	seed(f, awsSamples...)
	fuzzParse(f, leak.ParseEvent)
}

func FuzzParseGitHub(f *testing.F) {
	for _, p := range []string{"github-secret-scanning-reopened.json", "github-resolved-near-miss.json", "github-malformed-no-number.json"} {
		f.Add("secret_scanning_alert", sample(f, leakDir+p))
	}
	f.Add("ping", sample(f, leakDir+"github-ping-near-miss.json"))
	f.Add("secret_scanning_alert", []byte(`{"action":"created","alert":{"number":1,"url":"https://api.github.com/repos/o/r/secret-scanning/alerts/1"},"repository":{"full_name":"o/r","url":"https://api.github.com/repos/o/r"}}`))
	f.Add("", []byte(`{}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		if err := checkOutcome(leak.ParseGitHub(event, body)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseGitGuardian(f *testing.F) {
	seed(f,
		leakDir+"gitguardian-incident-triggered.json",
		leakDir+"gitguardian-incident-resolved-near-miss.json",
		leakDir+"gitguardian-test-message-near-miss.json",
		leakDir+"gitguardian-regression-placeholder-hash-malformed.json",
	)
	fuzzParse(f, leak.ParseGitGuardian)
}

func FuzzParseGeneric(f *testing.F) {
	seed(f,
		leakDir+"generic-alert.json",
		leakDir+"generic-malformed-fingerprint.json",
		leakDir+"generic-malformed-key-id.json",
		leakDir+"generic-malformed-unknown-field.json",
	)
	fuzzParse(f, leak.ParseGeneric)
}

// FuzzVerifyGitGuardianSignature: any header values give nil or an error
// wrapping ErrSignature, and nothing panics (the timestamp parser above all).
func FuzzVerifyGitGuardianSignature(f *testing.F) {
	f.Add([]byte("foo"), []byte("bar"), "0", "sha256=172fe3d694b734aa53dc892fd3b8d62163fc240064de570ba006900bb54a0fc2", int64(0))
	f.Add([]byte("t"), []byte("{}"), "1779264900.5", "sha256=", int64(1779264900))
	f.Add([]byte("t"), []byte("{}"), "1779264900123", "sha256=00", int64(1779264900))
	f.Fuzz(func(t *testing.T, token, body []byte, ts, sig string, now int64) {
		err := leak.VerifyGitGuardianSignature(token, body, ts, sig, time.Unix(now, 0), time.Minute)
		if err != nil && (!errors.Is(err, leak.ErrSignature) || errors.Is(err, leak.ErrMalformed) || errors.Is(err, leak.ErrNotALeak)) {
			t.Fatalf("error does not wrap only ErrSignature: %v", err)
		}
	})
}

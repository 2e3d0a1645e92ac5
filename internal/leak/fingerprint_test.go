package leak_test

import (
	"testing"

	"github.com/rotorhq/rotor/internal/leak"
)

func TestHMSLHash(t *testing.T) {
	// Published HasMySecretLeaked vectors, computed by GitGuardian:
	for _, tc := range []struct{ source, value, want string }{
		// ggshield, tests/unit/verticals/hmsl/test_hmsl_crypto.py, test_hash_string
		// (https://github.com/GitGuardian/ggshield).
		{"ggshield's unit test", "test", "bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75f"},
		// ggshield's documentation: the fingerprint example's secrets.txt
		// (https://docs.gitguardian.com/ggshield-docs/reference/hmsl/fingerprint)
		// and the hashes the decrypt example prints for them
		// (https://docs.gitguardian.com/ggshield-docs/reference/hmsl/decrypt).
		{"ggshield docs, Secret 2", "sup3rstr0ngpass1ForGG", "d775db0302080c1b7516109e929dd4b214a0f353ed3b66ff2e56c47d55a102ed"},
		{"ggshield docs, Secret 1", "hjshnk5ex5u34565AWS654/JKGjhz545d89sjkja", "e9b39209f72228f30b60c19493a3f756ac97dc02ae7f52db2a3abbe3c3269339"},
	} {
		t.Run(tc.source, func(t *testing.T) {
			if got := leak.HMSLHash([]byte(tc.value)); got != tc.want {
				t.Errorf("HMSLHash = %s, want %s", got, tc.want)
			}
		})
	}

	// The GitGuardian sample's hash is the documented hash of that password,
	// so a version fingerprinted when it was stored matches the incident.
	a, err := leak.ParseGitGuardian(sample(t, leakDir+"gitguardian-incident-triggered.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "hmsl:" + leak.HMSLHash([]byte("sup3rstr0ngpass1ForGG")); len(a.Fingerprints) != 1 || a.Fingerprints[0] != want {
		t.Errorf("incident fingerprints = %v, want [%s]", a.Fingerprints, want)
	}
}

func TestSHA256(t *testing.T) {
	// FIPS 180-2, appendix B.1: SHA-256("abc").
	if got, want := leak.SHA256([]byte("abc")), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("SHA256(abc) = %s, want %s", got, want)
	}
	if !leak.IsFingerprint(leak.SHA256(nil)) || !leak.IsFingerprint("hmsl:"+leak.HMSLHash(nil)) {
		t.Error("SHA256 or HMSLHash gives a fingerprint IsFingerprint refuses")
	}
}

func TestForms(t *testing.T) {
	for _, tc := range []struct {
		s             string
		keyID, finger bool
	}{
		{"AKIAIOSFODNN7EXAMPLE", true, false},
		{"ASIAIOSFODNN7EXAMPLE", true, false},
		{"AIDAIOSFODNN7EXAMPLE", false, false}, // a user id, not a key id
		{"AKIAIOSFODNN7EXAMPL", false, false},
		{"akiaiosfodnn7example", false, false},
		{"AKIAIOSFODNN7EXAMP_E", false, false},
		{"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", false, true},
		{"hmsl:bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75f", false, true},
		{"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", false, false},
		{"md5:900150983cd24fb0d6963f7d28e17f72", false, false},
		{"bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75f", false, false},
		{"", false, false},
	} {
		if got := leak.IsAccessKeyID(tc.s); got != tc.keyID {
			t.Errorf("IsAccessKeyID(%q) = %v", tc.s, got)
		}
		if got := leak.IsFingerprint(tc.s); got != tc.finger {
			t.Errorf("IsFingerprint(%q) = %v", tc.s, got)
		}
	}
}

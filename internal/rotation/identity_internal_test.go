package rotation

import "testing"

// TestEntropyBits: generated keys and passwords pass the bar for storing a
// fingerprint; words, short passwords and patterns do not.
func TestEntropyBits(t *testing.T) {
	cases := []struct {
		value string
		ok    bool
	}{
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", true},         // an API key
		{"Zr8cQ2vLx9WmT4kPn7BsYd3Fh6JgRa1E", true},         // 32 alphanumerics
		{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", true}, // 40 hex digits
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true}, // an AWS secret access key
		{"hunter2", false},                                      // a password
		{"Summer2026!", false},                                  // a better one, still short
		{"correcthorsebatterystaple", false},                    // a passphrase
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, // a pattern
		{"abababababababababababababababababababab", false},
		{"thequickbrownfoxjumpsoverthelazydogagain", false}, // long, one class
	}
	for _, c := range cases {
		if got := entropyBits([]byte(c.value)) >= minFingerprintBits; got != c.ok {
			t.Errorf("%q: fingerprinted = %v, want %v (%.0f bits)", c.value, got, c.ok, entropyBits([]byte(c.value)))
		}
	}
}

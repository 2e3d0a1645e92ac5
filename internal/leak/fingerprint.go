package leak

import (
	"crypto/sha256"
	"encoding/hex"

	"golang.org/x/crypto/scrypt"
)

// SHA256 is the fingerprint of a leaked value that rotor's generic alert
// carries: "sha256:" and the lowercase hex of the value's SHA-256.
func SHA256(value []byte) string {
	sum := sha256.Sum256(value)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// hmslSalt is SHA-256("GitGuardian"), the salt of GitGuardian's
// HasMySecretLeaked hash.
var hmslSalt = func() []byte { s := sha256.Sum256([]byte("GitGuardian")); return s[:] }()

// HMSLHash is GitGuardian's HasMySecretLeaked hash of a value:
// scrypt(value, salt = SHA-256("GitGuardian"), N=2048, r=8, p=1, 32 bytes),
// lowercase hex. It is ggshield's hash_string
// (ggshield/verticals/hmsl/crypto.py) and the incident.hmsl_hash of
// GitGuardian's webhooks; fingerprint_test.go checks it against
// GitGuardian's published value/hash pairs. It costs a few milliseconds, so
// the core computes it once, when a version is created, and resolves alerts
// by lookup.
func HMSLHash(value []byte) string {
	key, err := scrypt.Key(value, hmslSalt, 2048, 8, 1, 32)
	if err != nil {
		panic("leak: scrypt parameters rejected: " + err.Error()) // constants: cannot happen
	}
	return hex.EncodeToString(key)
}

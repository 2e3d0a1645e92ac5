// Package password generates the passwords rotor sets at targets (database
// roles). The rotation core draws them, not the providers, as Vault's
// plugin SDK v5 moved generation out of its database plugins: every
// password rotor sets then comes from one generator with one documented
// policy, and a provider cannot weaken it.
//
// Passwords are drawn uniformly from the alphabet with crypto/rand. A policy
// must give at least MinEntropyBits, and its alphabet may hold only
// printable ASCII characters that survive every common connection-string
// form unquoted: URLs (postgres://user:password@host/db?...), libpq's
// keyword=value strings and JDBC's ;-separated properties.
package password

import (
	"crypto/rand"
	"fmt"
	"math"
	"strings"
)

// MinEntropyBits is the least entropy a policy may give.
const MinEntropyBits = 128

// Defaults.
const (
	// DefaultLength is 32 characters: 190 bits with DefaultAlphabet.
	DefaultLength = 32
	// DefaultAlphabet is letters, digits and the URL-unreserved "-_.~",
	// which need no escaping anywhere a password is written.
	DefaultAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	// MaxLength bounds a policy's length; PostgreSQL itself takes far
	// longer passwords, but nothing is gained past a few hundred bits.
	MaxLength = 256
)

// Forbidden are the characters an alphabet may not hold: each breaks a
// connection string or a shell unless quoted, and consumers rarely quote.
// Space, quotes and backslash end or escape keyword=value values; @ : / ? #
// & = % + split or decode URLs; ; and , split JDBC properties and multi-host
// lists.
const Forbidden = " '\"\\`@:/?#&=%+;,"

// Policy says how to draw a password. The zero value is the default policy.
type Policy struct {
	// Length in characters; 0 means DefaultLength.
	Length int
	// Alphabet to draw from, each character once; "" means DefaultAlphabet.
	Alphabet string
}

// WithDefaults fills in the zero fields.
func (p Policy) WithDefaults() Policy {
	if p.Length == 0 {
		p.Length = DefaultLength
	}
	if p.Alphabet == "" {
		p.Alphabet = DefaultAlphabet
	}
	return p
}

// EntropyBits is the entropy of a password drawn by the policy.
func (p Policy) EntropyBits() float64 {
	p = p.WithDefaults()
	return float64(p.Length) * math.Log2(float64(len(p.Alphabet)))
}

// Check reports what is wrong with a policy, naming the field.
func (p Policy) Check() error {
	p = p.WithDefaults()
	if p.Length < 1 || p.Length > MaxLength {
		return fmt.Errorf("length %d is outside 1..%d", p.Length, MaxLength)
	}
	seen := map[rune]bool{}
	for _, r := range p.Alphabet {
		switch {
		case r < 0x21 || r > 0x7e:
			return fmt.Errorf("alphabet may hold only printable ASCII characters")
		case strings.ContainsRune(Forbidden, r):
			return fmt.Errorf("alphabet holds %q, which breaks connection strings (refused: %s)", r, Forbidden)
		case seen[r]:
			return fmt.Errorf("alphabet repeats %q", r)
		}
		seen[r] = true
	}
	if len(seen) < 2 {
		return fmt.Errorf("alphabet needs at least 2 characters")
	}
	if bits := p.EntropyBits(); bits < MinEntropyBits {
		return fmt.Errorf("length %d over %d characters gives %.0f bits, below the minimum of %d", p.Length, len(p.Alphabet), bits, MinEntropyBits)
	}
	return nil
}

// Generate draws a password by the policy, which it checks first.
func Generate(p Policy) (string, error) {
	if err := p.Check(); err != nil {
		return "", err
	}
	p = p.WithDefaults()
	return Draw(p.Alphabet, p.Length)
}

// Draw draws n characters uniformly from alphabet (at most 256 distinct
// bytes), rejecting the random bytes that would bias the draw towards the
// alphabet's first characters.
func Draw(alphabet string, n int) (string, error) {
	if len(alphabet) == 0 || len(alphabet) > 256 {
		return "", fmt.Errorf("alphabet of %d characters", len(alphabet))
	}
	limit := 256 - 256%len(alphabet)
	var sb strings.Builder
	sb.Grow(n)
	buf := make([]byte, 64)
	for sb.Len() < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && sb.Len() < n {
				sb.WriteByte(alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return sb.String(), nil
}

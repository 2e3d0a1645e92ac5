// Package random is the provider for secrets that have no target: opaque API
// tokens you hand out yourself, HMAC signing keys, session secrets.
//
// It is registered as "random". Create draws a fresh value from crypto/rand;
// Verify checks that a value has the configured shape; Revoke has nothing to
// revoke. Options (tags "rotor:random:<option>"):
//
//	encoding  alphanumeric (default), hex, base64 or base64url
//	length    characters, for alphanumeric (default 40)
//	bytes     random bytes before encoding, for hex and base64 (default 32)
//	alphabet  characters to draw from, for alphanumeric (default A-Z a-z 0-9)
//	field     store the value in this field of a JSON object, keeping the
//	          object's other fields (default: the whole secret is the value)
//
// Every configuration must carry at least 128 bits of entropy; one that does
// not is refused rather than silently weak.
package random

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Name is the provider's registered name.
const Name = "random"

// MinEntropyBits is the least entropy a configuration may produce.
const MinEntropyBits = 128

const defaultAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// It needs nothing from its host or the deployment: no AWS, no network.
func init() { provider.Register(Name, provider.Registration{New: provider.Fixed(Provider{})}) }

// Provider generates random values. The zero value is ready.
type Provider struct{}

// config is the decoded form of the options.
type config struct {
	encoding string
	length   int // characters (alphanumeric)
	bytes    int // random bytes (hex, base64, base64url)
	alphabet string
	field    string
}

func parse(o provider.Options) (config, error) {
	if err := provider.UnknownOptions(Name, o, "encoding", "length", "bytes", "alphabet", "field"); err != nil {
		return config{}, err
	}
	c := config{encoding: "alphanumeric", length: 40, bytes: 32, alphabet: defaultAlphabet, field: o["field"]}
	if v, ok := o["encoding"]; ok {
		switch v {
		case "alphanumeric", "hex", "base64", "base64url":
			c.encoding = v
		default:
			return c, invalid("encoding", "%q is not one of alphanumeric, hex, base64, base64url", v)
		}
	}
	alnum := c.encoding == "alphanumeric"
	for _, name := range []string{"length", "bytes"} {
		v, ok := o[name]
		if !ok {
			continue
		}
		if (name == "length") != alnum {
			other := map[bool]string{true: "length", false: "bytes"}[alnum]
			return c, invalid(name, "does not apply to encoding %s; use rotor:random:%s", c.encoding, other)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return c, invalid(name, "%q is not a whole number from 1 to 4096", v)
		}
		if name == "length" {
			c.length = n
		} else {
			c.bytes = n
		}
	}
	if v, ok := o["alphabet"]; ok {
		if !alnum {
			return c, invalid("alphabet", "does not apply to encoding %s", c.encoding)
		}
		if err := checkAlphabet(v); err != nil {
			return c, err
		}
		c.alphabet = v
	}
	if _, ok := o["field"]; ok && c.field == "" {
		return c, invalid("field", "is empty")
	}
	if bits := c.entropyBits(); bits < MinEntropyBits {
		return c, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"provider random: options give %.0f bits of entropy, below the minimum of %d; raise rotor:random:length or rotor:random:bytes",
			bits, MinEntropyBits))
	}
	return c, nil
}

func checkAlphabet(a string) error {
	seen := map[rune]bool{}
	for _, r := range a {
		if r < 0x21 || r > 0x7e {
			return invalid("alphabet", "may hold only printable ASCII characters without spaces")
		}
		if seen[r] {
			return invalid("alphabet", "repeats %q", r)
		}
		seen[r] = true
	}
	if len(seen) < 2 {
		return invalid("alphabet", "needs at least 2 characters")
	}
	return nil
}

func (c config) entropyBits() float64 {
	if c.encoding == "alphanumeric" {
		return float64(c.length) * math.Log2(float64(len(c.alphabet)))
	}
	return float64(c.bytes) * 8
}

func invalid(option, format string, args ...any) error {
	return rotorerr.New(rotorerr.InvalidInput, "provider random: option rotor:random:"+option+" "+fmt.Sprintf(format, args...))
}

// CheckOptions implements provider.OptionsChecker.
func (Provider) CheckOptions(o provider.Options) error {
	_, err := parse(o)
	return err
}

// Create implements provider.Provider.
func (Provider) Create(_ context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	c, err := parse(req.Options)
	if err != nil {
		return nil, err
	}
	v, err := c.generate()
	if err != nil {
		return nil, err
	}
	if c.field == "" {
		return &provider.CreateResponse{Value: []byte(v)}, nil
	}
	out, err := provider.SetFields(req.Current, map[string]any{c.field: v})
	if err != nil {
		return nil, fmt.Errorf("provider random: current value: %w", err)
	}
	return &provider.CreateResponse{Value: out}, nil
}

func (c config) generate() (string, error) {
	if c.encoding == "alphanumeric" {
		return drawString(c.alphabet, c.length)
	}
	b := make([]byte, c.bytes)
	if _, err := rand.Read(b); err != nil {
		return "", rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("read random: %w", err))
	}
	switch c.encoding {
	case "hex":
		return hex.EncodeToString(b), nil
	case "base64":
		return base64.StdEncoding.EncodeToString(b), nil
	default:
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
}

// drawString draws n characters uniformly from alphabet.
func drawString(alphabet string, n int) (string, error) {
	v, err := password.Draw(alphabet, n)
	if err != nil {
		return "", rotorerr.Wrap(rotorerr.Transient, err)
	}
	return v, nil
}

// Verify implements provider.Provider: with no target to ask, a value "works"
// when it has exactly the configured shape.
func (Provider) Verify(_ context.Context, req *provider.VerifyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	v := string(req.Value)
	if c.field != "" {
		if v, err = provider.Field(req.Value, c.field); err != nil {
			return rotorerr.Wrap(rotorerr.VerificationFailed, err)
		}
	}
	if !c.valid(v) {
		return rotorerr.New(rotorerr.VerificationFailed, "provider random: value does not have the configured encoding and length")
	}
	return nil
}

func (c config) valid(v string) bool {
	switch c.encoding {
	case "alphanumeric":
		if len(v) != c.length {
			return false
		}
		for i := 0; i < len(v); i++ {
			if !strings.ContainsRune(c.alphabet, rune(v[i])) {
				return false
			}
		}
		return true
	case "hex":
		b, err := hex.DecodeString(v)
		return err == nil && len(b) == c.bytes
	case "base64":
		b, err := base64.StdEncoding.DecodeString(v)
		return err == nil && len(b) == c.bytes
	default:
		b, err := base64.RawURLEncoding.DecodeString(v)
		return err == nil && len(b) == c.bytes
	}
}

// Revoke implements provider.Provider. A random value lives nowhere but in
// the secret store, so once it is no longer current there is nothing to do.
func (Provider) Revoke(context.Context, *provider.RevokeRequest) error { return nil }

// Identify implements provider.Identifier: the token is what leaks.
func (Provider) Identify(value []byte, o provider.Options) (*provider.Identity, error) {
	c, err := parse(o)
	if err != nil {
		return nil, err
	}
	v := string(value)
	if c.field != "" {
		if v, err = provider.Field(value, c.field); err != nil {
			return nil, err
		}
	}
	return &provider.Identity{Secret: []byte(v)}, nil
}

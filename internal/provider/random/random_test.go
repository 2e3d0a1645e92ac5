package random

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    provider.Options
		current []byte
		brk     func([]byte) []byte
	}{
		{"raw alphanumeric", provider.Options{}, []byte("old-value-0123456789"), func(v []byte) []byte { return v[:len(v)-1] }},
		{"hex", provider.Options{"encoding": "hex"}, nil, func(v []byte) []byte { return append(append([]byte{}, v...), 'z') }},
		{"json field", provider.Options{"field": "token", "encoding": "base64url"}, []byte(`{"token":"old","user":"svc"}`),
			func([]byte) []byte { return []byte(`{"token":"!!","user":"svc"}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				Name: Name,
				Setup: func(t *testing.T) *providertest.Case {
					return &providertest.Case{Provider: Provider{}, SecretID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:t-AbCdEf",
						Current: tc.current, Options: tc.opts, Break: tc.brk}
				},
				BadOptions: map[string]provider.Options{
					"unknown option":      {"lenght": "40"},
					"unknown encoding":    {"encoding": "base32"},
					"length with hex":     {"encoding": "hex", "length": "40"},
					"too little entropy":  {"length": "12"},
					"alphabet of one":     {"alphabet": "a"},
					"length not a number": {"length": "forty"},
				},
			})
		})
	}
}

func TestCreateShape(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		rule  string
		opts  provider.Options
		check func(t *testing.T, v string)
	}{
		{"alphanumeric default is 40 characters of A-Za-z0-9", nil, func(t *testing.T, v string) {
			if len(v) != 40 || strings.Trim(v, defaultAlphabet) != "" {
				t.Errorf("got %d chars outside the alphabet or wrong length", len(v))
			}
		}},
		{"custom alphabet and length", provider.Options{"alphabet": "abcdef0123456789", "length": "64"}, func(t *testing.T, v string) {
			if len(v) != 64 || strings.Trim(v, "abcdef0123456789") != "" {
				t.Error("value not drawn from the custom alphabet")
			}
		}},
		{"hex encodes bytes", provider.Options{"encoding": "hex", "bytes": "48"}, func(t *testing.T, v string) {
			if b, err := hex.DecodeString(v); err != nil || len(b) != 48 {
				t.Errorf("hex decode: %d bytes, %v", len(b), err)
			}
		}},
		{"base64 encodes bytes", provider.Options{"encoding": "base64"}, func(t *testing.T, v string) {
			if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != 32 {
				t.Errorf("base64 decode: %d bytes, %v", len(b), err)
			}
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			resp, err := Provider{}.Create(ctx, &provider.CreateRequest{Token: "t", Options: tc.opts})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, string(resp.Value))
		})
	}
}

func TestFieldKeepsOtherFields(t *testing.T) {
	resp, err := Provider{}.Create(context.Background(), &provider.CreateRequest{
		Current: []byte(`{"user":"svc","port":5432,"token":"old"}`), Options: provider.Options{"field": "token"}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(resp.Value, &got); err != nil {
		t.Fatal(err)
	}
	tok, _ := got["token"].(string)
	if len(tok) != 40 {
		t.Fatalf("token field has length %d, want 40", len(tok))
	}
	delete(got, "token")
	if diff := cmp.Diff(map[string]any{"user": "svc", "port": float64(5432)}, got); diff != "" {
		t.Errorf("other fields changed (-want +got):\n%s", diff)
	}
}

func TestFieldNeedsJSONObject(t *testing.T) {
	_, err := Provider{}.Create(context.Background(), &provider.CreateRequest{
		Current: []byte("plain-secret-value"), Options: provider.Options{"field": "token"}})
	if !errors.Is(err, rotorerr.InvalidInput) || strings.Contains(err.Error(), "plain-secret-value") {
		t.Errorf("got %v, want InvalidInput without the value", err)
	}
}

func TestUniformDraw(t *testing.T) {
	// With a 62-letter alphabet, rejection sampling keeps every letter's share
	// near 1/62; modulo bias without it would favour the first 8 letters by 25%.
	counts := map[byte]int{}
	const n = 62 * 2000
	v, err := drawString(defaultAlphabet, n)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		counts[v[i]]++
	}
	for c, k := range counts {
		if k < 1600 || k > 2400 {
			t.Errorf("letter %q drawn %d times, want about 2000", c, k)
		}
	}
}

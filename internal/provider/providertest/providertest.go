// Package providertest is the conformance suite every provider must pass.
//
// A provider's test calls Run with a Harness that sets up a fresh target
// (an HTTP API, a database) per case. The suite checks the contract written
// in package provider's documentation: values differ per token, a retried
// Create never leaves two live credentials, Verify accepts working and
// rejects broken credentials with rotorerr.VerificationFailed, Revoke is
// idempotent, bad options are rotorerr.InvalidInput, optional abilities
// behave, and no error message ever contains a secret value.
package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Harness describes a provider under test.
type Harness struct {
	// Name is the provider's registered name; the suite checks that
	// provider.Lookup returns a provider of the same type.
	Name string
	// Setup prepares a fresh target and returns a case's starting point.
	Setup func(t *testing.T) *Case
	// BadOptions are option sets the provider must refuse, by a short label.
	BadOptions map[string]provider.Options
}

// Case is one prepared target.
type Case struct {
	Provider provider.Provider
	SecretID string
	Current  []byte // the secret's current value (may be nil)
	Master   []byte // master secret value (nil when none is needed)
	Options  provider.Options
	// Live reports whether a credential works at the target, checked
	// independently of the provider's Verify. Nil for providers with no
	// target (nothing can be revoked there).
	Live func(value []byte) bool
	// Secrets returns every secret the target knows (minted keys, master key)
	// so the suite can check that errors never contain one. May be nil.
	Secrets func() []string
	// Break returns a working value changed so that it must not verify. Nil
	// means: change the last character of every run of letters and digits.
	Break func(value []byte) []byte
	// Chain is for strategies whose Apply logs in with the current
	// credential (provider.SelfRotator): each created value becomes the
	// case's Current, as the core's switchover would make it, and a create
	// repeated for a token is what the core repeats, the stored value
	// applied again over the same Current (the core never draws a second
	// password for a token).
	Chain bool
}

const (
	tokenA = "0b6f1e0a-5c1d-4f5e-9c1a-6d1f0e7a9b01"
	tokenB = "7c2d9e4b-1a3f-4b6c-8d9e-0f1a2b3c4d02"
)

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	var errs []error // every error any case saw, scanned at the end
	seen := func(err error) error {
		if err != nil {
			errs = append(errs, err)
		}
		return err
	}
	var secrets []string
	setup := func(t *testing.T) *Case {
		c := h.Setup(t)
		t.Cleanup(func() {
			if c.Secrets != nil {
				secrets = append(secrets, c.Secrets()...)
			}
			if c.Master != nil {
				secrets = append(secrets, string(c.Master))
			}
		})
		return c
	}
	ctx := context.Background()
	// request is what the core asks Create, with a password drawn for a
	// PasswordUser as the core draws it.
	request := func(t *testing.T, c *Case, token string, master []byte, o provider.Options) *provider.CreateRequest {
		t.Helper()
		pw, err := provider.NewPassword(c.Provider, o)
		if err != nil {
			pw = "" // bad options: Create must refuse them on its own
		}
		if pw != "" {
			secrets = append(secrets, pw)
		}
		return &provider.CreateRequest{SecretID: c.SecretID, Token: token, Current: c.Current, Master: master, Options: o, Password: pw}
	}
	// chained remembers, per chained case and token, the Current its first
	// create saw and the value it stored.
	type attempt struct{ current, value []byte }
	chained := map[*Case]map[string]attempt{}
	create := func(t *testing.T, c *Case, token string) []byte {
		t.Helper()
		current, value := c.Current, []byte(nil)
		if c.Chain {
			if chained[c] == nil {
				chained[c] = map[string]attempt{}
			}
			if a, ok := chained[c][token]; ok {
				current, value = a.current, a.value
			}
		}
		if value == nil {
			req := request(t, c, token, c.Master, c.Options)
			req.Current = current
			resp, err := c.Provider.Create(ctx, req)
			if seen(err) != nil {
				t.Fatalf("Create: %v", err)
			}
			if len(resp.Value) == 0 {
				t.Fatal("Create returned an empty value")
			}
			value = resp.Value
			secrets = append(secrets, string(value))
		}
		if a, ok := c.Provider.(provider.Applier); ok {
			if err := seen(a.Apply(ctx, &provider.ApplyRequest{SecretID: c.SecretID, Token: token, Value: value, Current: current, Master: c.Master, Options: c.Options})); err != nil {
				t.Fatalf("Apply: %v", err)
			}
		}
		if c.Chain {
			chained[c][token] = attempt{current: current, value: value}
			c.Current = value
		}
		return value
	}
	verify := func(c *Case, token string, v []byte) error {
		return seen(c.Provider.Verify(ctx, &provider.VerifyRequest{SecretID: c.SecretID, Token: token, Value: v, Options: c.Options}))
	}
	revoke := func(c *Case, v, current []byte) error {
		return seen(c.Provider.Revoke(ctx, &provider.RevokeRequest{SecretID: c.SecretID, VersionID: tokenA, Value: v, Current: current, Master: c.Master, Options: c.Options}))
	}

	t.Run("registered under its name", func(t *testing.T) {
		p, err := provider.Lookup(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		c := setup(t)
		if got, want := typeName(p), typeName(c.Provider); got != want {
			t.Errorf("Lookup(%q) is %s, the harness tests %s", h.Name, got, want)
		}
	})

	t.Run("create makes a new value that verifies", func(t *testing.T) {
		c := setup(t)
		before := c.Current // a chained create makes its value the case's Current
		v := create(t, c, tokenA)
		if bytes.Equal(v, before) {
			t.Error("new value equals the current value")
		}
		if err := verify(c, tokenA, v); err != nil {
			t.Errorf("Verify(new) = %v, want nil", err)
		}
		if c.Live != nil && !c.Live(v) {
			t.Error("the target does not accept the new credential")
		}
	})

	t.Run("each token gets its own value", func(t *testing.T) {
		c := setup(t)
		a, b := create(t, c, tokenA), create(t, c, tokenB)
		if bytes.Equal(a, b) {
			t.Error("two tokens produced the same value")
		}
	})

	t.Run("a retried create leaves one live credential per token", func(t *testing.T) {
		c := setup(t)
		first := create(t, c, tokenA)
		second := create(t, c, tokenA)
		if c.Live == nil {
			return
		}
		if !c.Live(second) {
			t.Error("the retried create's credential is not live")
		}
		if !bytes.Equal(first, second) && c.Live(first) {
			t.Error("the first attempt's credential is still live beside the retry's: two live credentials for one token")
		}
	})

	t.Run("verify rejects a value that does not work", func(t *testing.T) {
		c := setup(t)
		v := create(t, c, tokenA)
		bad := corrupt(v)
		if c.Break != nil {
			bad = c.Break(v)
		}
		err := verify(c, tokenA, bad)
		if !errors.Is(err, rotorerr.VerificationFailed) {
			t.Errorf("Verify(corrupted) = %v, want rotorerr.VerificationFailed", err)
		}
	})

	t.Run("revoke is idempotent and ends the credential", func(t *testing.T) {
		c := setup(t)
		before := c.Current // for a chained case, a rollback to it
		v := create(t, c, tokenA)
		if err := revoke(c, v, before); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if err := revoke(c, v, before); err != nil {
			t.Fatalf("second Revoke: %v (revoking what is gone must succeed)", err)
		}
		if c.Live == nil {
			return
		}
		if c.Live(v) {
			t.Error("the revoked credential still works at the target")
		}
		if err := verify(c, tokenA, v); !errors.Is(err, rotorerr.VerificationFailed) {
			t.Errorf("Verify(revoked) = %v, want rotorerr.VerificationFailed", err)
		}
	})

	t.Run("revoking one credential leaves the other working", func(t *testing.T) {
		c := setup(t)
		a := create(t, c, tokenA)
		b := create(t, c, tokenB)
		if err := revoke(c, a, b); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if err := verify(c, tokenB, b); err != nil {
			t.Errorf("Verify(other) after revoking one = %v", err)
		}
	})

	t.Run("bad options are InvalidInput", func(t *testing.T) {
		for label, opts := range h.BadOptions {
			t.Run(label, func(t *testing.T) {
				c := setup(t)
				_, err := c.Provider.Create(ctx, request(t, c, tokenA, c.Master, opts))
				if !errors.Is(seen(err), rotorerr.InvalidInput) {
					t.Errorf("Create(%v) = %v, want rotorerr.InvalidInput", opts, err)
				}
				if err := provider.CheckOptions(c.Provider, opts); !errors.Is(seen(err), rotorerr.InvalidInput) {
					t.Errorf("CheckOptions(%v) = %v, want rotorerr.InvalidInput", opts, err)
				}
			})
		}
	})

	t.Run("a master secret is required when the provider says so", func(t *testing.T) {
		c := setup(t)
		if !provider.NeedsMaster(c.Provider, c.Options) {
			return
		}
		_, err := c.Provider.Create(ctx, request(t, c, tokenA, nil, c.Options))
		if !errors.Is(seen(err), rotorerr.InvalidInput) {
			t.Errorf("Create without master = %v, want rotorerr.InvalidInput", err)
		}
	})

	t.Run("a canceled context is Transient", func(t *testing.T) {
		c := setup(t)
		if c.Live == nil {
			return // no I/O to cancel
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Provider.Create(cctx, request(t, c, tokenA, c.Master, c.Options))
		if k := rotorerr.Classify(seen(err)); k != rotorerr.Transient {
			t.Errorf("Create(canceled) = %v (%s), want Rotor.Transient", err, k)
		}
	})

	t.Run("RevokeToken revokes what was minted for the token", func(t *testing.T) {
		c := setup(t)
		tr, ok := c.Provider.(provider.TokenRevoker)
		if !ok {
			return
		}
		v := create(t, c, tokenA)
		keep := create(t, c, tokenB)
		n, err := tr.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: c.SecretID, Token: tokenA, Master: c.Master, Options: c.Options})
		if seen(err) != nil || n != 1 {
			t.Fatalf("RevokeToken = %d, %v; want 1, nil", n, err)
		}
		if c.Live != nil && (c.Live(v) || !c.Live(keep)) {
			t.Errorf("after RevokeToken(A): A live = %v (want false), B live = %v (want true)", c.Live(v), c.Live(keep))
		}
		if n, err := tr.RevokeToken(ctx, &provider.RevokeTokenRequest{SecretID: c.SecretID, Token: tokenA, Master: c.Master, Options: c.Options}); seen(err) != nil || n != 0 {
			t.Errorf("second RevokeToken = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("an applying provider's create changes nothing at the target", func(t *testing.T) {
		c := setup(t)
		a, ok := c.Provider.(provider.Applier)
		if !ok || c.Live == nil {
			return
		}
		resp, err := c.Provider.Create(ctx, request(t, c, tokenA, c.Master, c.Options))
		if seen(err) != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, string(resp.Value))
		if c.Live(resp.Value) {
			t.Fatal("the created value works before Apply: Create must not have side effects")
		}
		for i := 0; i < 2; i++ {
			if err := seen(a.Apply(ctx, &provider.ApplyRequest{SecretID: c.SecretID, Token: tokenA, Value: resp.Value, Current: c.Current, Master: c.Master, Options: c.Options})); err != nil {
				t.Fatalf("Apply #%d: %v", i+1, err)
			}
		}
		if !c.Live(resp.Value) {
			t.Error("the applied value does not work")
		}
	})

	t.Run("an identifier names each created credential apart", func(t *testing.T) {
		c := setup(t)
		idf, ok := c.Provider.(provider.Identifier)
		if !ok {
			return
		}
		a, b := create(t, c, tokenA), create(t, c, tokenB)
		ia, err := idf.Identify(a, c.Options)
		if err != nil {
			t.Fatalf("Identify(created value): %v", err)
		}
		ib, err := idf.Identify(b, c.Options)
		if err != nil {
			t.Fatalf("Identify(created value): %v", err)
		}
		if len(ia.Secret) == 0 && ia.KeyID == "" {
			t.Fatal("Identify found neither a key id nor a leakable value in a created value")
		}
		if len(ia.Secret) > 0 && !bytes.Contains(a, ia.Secret) {
			t.Error("Identity.Secret is not part of the value: a leak of it could not be the value's")
		}
		if (len(ia.Secret) > 0 && bytes.Equal(ia.Secret, ib.Secret)) || (ia.KeyID != "" && ia.KeyID == ib.KeyID) {
			t.Error("two credentials have the same identity")
		}
		if ia.KeyID != "" && len(ia.Secret) > 0 && bytes.Contains([]byte(ia.KeyID), ia.Secret) {
			t.Error("Identity.KeyID contains the secret: key ids are stored as plain tags")
		}
	})

	t.Run("no error message contains a secret", func(t *testing.T) {
		for _, err := range errs {
			for _, s := range secrets {
				if len(s) >= 6 && strings.Contains(err.Error(), s) {
					t.Errorf("a %s error contains a secret value", rotorerr.Classify(err))
				}
			}
		}
	})
}

// corrupt returns v with its last character of every run of letters and
// digits changed, which breaks keys, tokens and passwords while keeping JSON
// valid.
func corrupt(v []byte) []byte {
	out := append([]byte(nil), v...)
	for i := len(out) - 1; i >= 0; i-- {
		b := out[i]
		if (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') {
			if i+1 == len(out) || !isAlnum(out[i+1]) {
				out[i] = flip(b)
			}
		}
	}
	return out
}

func isAlnum(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

// flip swaps a character for another of the same class, so an encoding check
// cannot tell; and changes length-sensitive values not at all.
func flip(b byte) byte {
	switch {
	case b == '9':
		return '0'
	case b == 'z':
		return 'a'
	case b == 'Z':
		return 'A'
	case b == 'f':
		return '0' // keep hex digits hex
	}
	return b + 1
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

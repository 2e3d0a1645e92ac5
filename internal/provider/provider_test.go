package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

type nop struct{}

func (nop) Create(context.Context, *CreateRequest) (*CreateResponse, error) { return nil, nil }
func (nop) Verify(context.Context, *VerifyRequest) error                    { return nil }
func (nop) Revoke(context.Context, *RevokeRequest) error                    { return nil }

func TestRegistry(t *testing.T) {
	Register("test-nop", nop{})
	if p, err := Lookup("test-nop"); err != nil || p != (nop{}) {
		t.Fatalf("Lookup = %v, %v", p, err)
	}
	_, err := Lookup("tset-nop")
	if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), `unknown provider "tset-nop"`) ||
		!strings.Contains(err.Error(), "test-nop") {
		t.Errorf("unknown name: %v; want InvalidInput naming it and listing the registered ones", err)
	}
	for _, tc := range []struct {
		rule string
		name string
		p    Provider
	}{
		{"a duplicate name panics", "test-nop", nop{}},
		{"an empty name panics", "", nop{}},
		{"a nil provider panics", "test-nil", nil},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			Register(tc.name, tc.p)
		})
	}
}

func TestOptionsWithoutChecker(t *testing.T) {
	if err := CheckOptions(nop{}, Options{"length": "3"}); !errors.Is(err, rotorerr.InvalidInput) {
		t.Errorf("a provider without a checker accepted options: %v", err)
	}
	if err := CheckOptions(nop{}, nil); err != nil {
		t.Error(err)
	}
	err := UnknownOptions("random", Options{"strategy": "x", "lenght": "1"}, "length")
	if err == nil || !strings.Contains(err.Error(), "rotor:strategy") || !strings.Contains(err.Error(), "rotor:random:lenght") {
		t.Errorf("UnknownOptions = %v; want both tags named as the user wrote them", err)
	}
}

func TestSetFields(t *testing.T) {
	got, err := SetFields([]byte(`{"a":1,"b":"x"}`), map[string]any{"b": "y", "c": true})
	if err != nil || string(got) != `{"a":1,"b":"y","c":true}` {
		t.Errorf("SetFields = %s, %v", got, err)
	}
	if _, err := SetFields([]byte(`"secret-string"`), nil); !errors.Is(err, rotorerr.InvalidInput) || strings.Contains(err.Error(), "secret-string") {
		t.Errorf("non-object: %v", err)
	}
}

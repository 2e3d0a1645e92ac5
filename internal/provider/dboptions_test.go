package provider_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

func TestParseDBOptions(t *testing.T) {
	spec := provider.DBSpec{Provider: "db", Strategies: []string{"single", "alternating", "self"}, Operation: "statement-timeout"}
	got, err := provider.ParseDBOptions(spec, provider.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(provider.DBOptions{Strategy: "single", ConnectTimeout: 5 * time.Second, OperationTimeout: 10 * time.Second}, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	got, err = provider.ParseDBOptions(spec, provider.Options{"strategy": "self", "password-length": "40", "connect-timeout": "2s", "statement-timeout": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Strategy != "self" || got.Policy.Length != 40 || got.ConnectTimeout != 2*time.Second || got.OperationTimeout != 30*time.Second {
		t.Errorf("parsed %+v", got)
	}
	for _, tc := range []struct {
		o    provider.Options
		says string
	}{
		{provider.Options{"strategy": "triple"}, `tag rotor:strategy is "triple"; want "single", "alternating" or "self"`},
		{provider.Options{"password-length": "many"}, "tag rotor:db:password-length is not a whole number"},
		{provider.Options{"password-length": "8"}, "password policy (tags rotor:db:password-length, rotor:db:password-alphabet)"},
		{provider.Options{"password-alphabet": ""}, "tag rotor:db:password-alphabet is empty"},
		{provider.Options{"connect-timeout": "forever"}, "tag rotor:db:connect-timeout must be a Go duration between 1ms and 5m"},
		{provider.Options{"statement-timeout": "6m"}, "tag rotor:db:statement-timeout must be"},
		{provider.Options{"command-timeout": "1s"}, "unknown option tag(s) rotor:db:command-timeout"},
	} {
		_, err := provider.ParseDBOptions(spec, tc.o)
		if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseDBOptions(%v) = %v, want InvalidInput saying %q", tc.o, err, tc.says)
		}
	}
}

package rotation

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/provider"
	_ "github.com/rotorhq/rotor/internal/provider/random"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// dbProvider is a database provider's shape, unregistered (the package's
// tests list the registered providers): a master with every strategy but
// self.
type dbProvider struct{}

func (dbProvider) Create(context.Context, *provider.CreateRequest) (*provider.CreateResponse, error) {
	return nil, errors.New("not called")
}
func (dbProvider) Verify(context.Context, *provider.VerifyRequest) error {
	return errors.New("not called")
}
func (dbProvider) Revoke(context.Context, *provider.RevokeRequest) error {
	return errors.New("not called")
}
func (dbProvider) CheckOptions(o provider.Options) error {
	return provider.UnknownOptions("db", o, "strategy")
}
func (dbProvider) NeedsMaster(o provider.Options) bool { return o["strategy"] != "self" }
func (dbProvider) RotatesSelf(o provider.Options) bool { return o["strategy"] == "self" }

func lookupWithDB(name string) (provider.Provider, error) {
	if name == "db" {
		return dbProvider{}, nil
	}
	return provider.Lookup(name)
}

// TestMasterPolicy: which tags make a master that rotates itself, and the
// named refusals of every other combination.
func TestMasterPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tags     map[string]string
		isMaster bool
		err      string // "" for none
	}{
		{"a master with the self strategy", map[string]string{TagProvider: "db", TagStrategy: "self", TagRole: RoleMaster}, true, ""},
		{"self without the master role", map[string]string{TagProvider: "db", TagStrategy: "self"}, false, ""},
		{"a master with another strategy", map[string]string{TagProvider: "db", TagStrategy: "single", TagRole: RoleMaster, TagMaster: "m"},
			false, "rotates only with its provider's self strategy"},
		{"a master of a provider without self", map[string]string{TagProvider: "random", TagRole: RoleMaster}, false, "rotates only with its provider's self strategy"},
		{"self naming a master", map[string]string{TagProvider: "db", TagStrategy: "self", TagRole: RoleMaster, TagMaster: "other"},
			false, "takes no master; remove tag rotor:master-secret"},
		{"an unknown role", map[string]string{TagProvider: "db", TagStrategy: "self", TagRole: "admin"}, false, `tag rotor:role is "admin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := readPolicy("s", tc.tags, lookupWithDB)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if pol.isMaster != tc.isMaster || provider.NeedsMaster(pol.prov, pol.options) {
					t.Errorf("isMaster %v (want %v), needs a master %v (want false)", pol.isMaster, tc.isMaster, provider.NeedsMaster(pol.prov, pol.options))
				}
				return
			}
			if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want InvalidInput saying %q", err, tc.err)
			}
		})
	}
}

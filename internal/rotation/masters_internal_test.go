package rotation

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/postgres"
	_ "github.com/rotorhq/rotor/internal/provider/random"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// TestMasterPolicy: which tags make a master that rotates itself, and the
// named refusals of every other combination.
func TestMasterPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tags     map[string]string
		isMaster bool
		err      string // "" for none
	}{
		{"a master with the self strategy", map[string]string{TagProvider: postgres.Name, TagStrategy: postgres.Self, TagRole: RoleMaster}, true, ""},
		{"self without the master role", map[string]string{TagProvider: postgres.Name, TagStrategy: postgres.Self}, false, ""},
		{"a master with another strategy", map[string]string{TagProvider: postgres.Name, TagStrategy: postgres.Single, TagRole: RoleMaster, TagMaster: "m"},
			false, "rotates only with its provider's self strategy"},
		{"a master of a provider without self", map[string]string{TagProvider: "random", TagRole: RoleMaster}, false, "rotates only with its provider's self strategy"},
		{"self naming a master", map[string]string{TagProvider: postgres.Name, TagStrategy: postgres.Self, TagRole: RoleMaster, TagMaster: "other"},
			false, "takes no master; remove tag rotor:master-secret"},
		{"an unknown role", map[string]string{TagProvider: postgres.Name, TagStrategy: postgres.Self, TagRole: "admin"}, false, `tag rotor:role is "admin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := readPolicy("s", tc.tags, provider.Lookup)
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

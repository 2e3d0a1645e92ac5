package smstore

import (
	"testing"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/smstore/smtest"
)

// The store stands in for the SDK client: it has its method set, and the
// SDK's paginators take it.
var (
	_ smtest.API                       = (*Store)(nil)
	_ sm.ListSecretsAPIClient          = (*Store)(nil)
	_ sm.ListSecretVersionIdsAPIClient = (*Store)(nil)
)

// TestConformance runs the Secrets Manager conformance suite against the
// store, called directly. A restart is a Snapshot and a Load of it.
func TestConformance(t *testing.T) {
	opts := func(cfg smtest.Config, seed byte) Options {
		return Options{Region: cfg.Region, Account: cfg.Account, Now: cfg.Now, Rand: seeded(seed)}
	}
	smtest.Run(t, smtest.Harness{
		New: func(t *testing.T, cfg smtest.Config) smtest.API { return New(opts(cfg, 1)) },
		Restartable: func(t *testing.T, cfg smtest.Config) (smtest.API, func(*testing.T) smtest.API) {
			s := New(opts(cfg, 1))
			restarts := byte(1)
			return s, func(t *testing.T) smtest.API {
				t.Helper()
				snap, err := s.Snapshot()
				if err != nil {
					t.Fatalf("Snapshot: %v", err)
				}
				restarts++
				if s, err = Load(opts(cfg, restarts), snap); err != nil {
					t.Fatalf("Load: %v", err)
				}
				return s
			}
		},
		Check: func(t *testing.T, api smtest.API) { checkInvariants(t, api.(*Store)) },
	})
}

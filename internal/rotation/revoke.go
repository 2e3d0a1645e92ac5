package rotation

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// revokeVersion revokes the credential held by one version. current is the
// version whose credential must keep working.
func (s *Service) revokeVersion(ctx context.Context, sec *secret, version, current string) error {
	if sec.has(version, LabelCurrent) {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("secret %q: refusing to revoke version %s: it is AWSCURRENT", sec.name, version))
	}
	value, err := s.versionValue(ctx, sec, version)
	if err != nil {
		return err
	}
	master, err := s.masterValue(ctx, sec)
	if err != nil {
		return err
	}
	var cur []byte
	if current != "" && current != version {
		if cur, err = s.versionValue(ctx, sec, current); err != nil {
			return err
		}
	}
	if err := sec.pol.prov.Revoke(ctx, &provider.RevokeRequest{SecretID: sec.arn, VersionID: version, Value: value,
		Current: cur, Master: master, Options: sec.pol.options, Holders: s.holders}); err != nil {
		return fmt.Errorf("secret %q: revoke credential of version %s: %w", sec.name, version, err)
	}
	// A revoked credential can leak harmlessly: stop matching alerts to it
	// as live, and remember it as revoked.
	if err := s.recordRevoked(ctx, sec, version); err != nil {
		return err
	}
	return s.forgetIdentity(ctx, sec, version)
}

// refuseLive refuses to revoke a version that is current or pending.
func refuseLive(sec *secret, version string) error {
	for _, l := range []string{LabelCurrent, LabelPending} {
		if sec.has(version, l) {
			return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("secret %q: refusing to revoke version %s: it is %s", sec.name, version, l))
		}
	}
	return nil
}

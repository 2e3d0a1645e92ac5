package rotation

import (
	"time"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/schedule"
)

// Timing validates a managed secret's rotor: tags exactly as resolve and
// create do (every tag, the provider and its options included, with the
// providers registered in this binary) and returns when the secret is due:
// its schedule, window, pause and maximum age. It is for readers outside
// a rotation, like rotor audit, whose verdict must agree with the sweep's.
// A secret without rotor:provider, or with any invalid tag, is an error
// naming what is wrong.
func Timing(name string, tags map[string]string) (schedule.Policy, error) {
	pol, err := readPolicy(name, tags, provider.Lookup)
	if err != nil {
		return schedule.Policy{}, err
	}
	return pol.timing, nil
}

// VersionTime returns the time carried by a version id that rotor minted
// (a UUIDv7, see NewToken), and false for any other id: a value put by a
// person or another tool.
func VersionTime(version string) (time.Time, bool) { return tokenTime(version) }

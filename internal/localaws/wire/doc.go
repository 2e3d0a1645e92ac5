// Package wire is what the local endpoint's services share: the AWS wire
// protocols (awsJson 1.0 and 1.1, the query protocol with its XML answers),
// AWS's error shapes, the one storage helper over the bbolt data file
// (List operations page with internal/paginate), and the terms of IAM
// authorization (Access, what a request needs; Acting, the role a service
// acts as when it calls another on its own). Each service package is
// built from an Env, which carries these shared parts and nothing of the
// server or of the other services.
//
// Nothing here knows a particular service: a service decides its own error
// codes, page sizes and record layout, and wire only carries them.
package wire

import (
	"log/slog"
	"time"
)

// Env is what a service is built from: where it runs, its clock and
// logger, and where it persists.
type Env struct {
	// Region and Account appear in the ARNs a service makes.
	Region, Account string
	// Now is the wall clock.
	Now func() time.Time
	// Log receives the service's errors and debug lines.
	Log *slog.Logger
	// DB is the data file; nil keeps state in memory.
	DB *DB
}

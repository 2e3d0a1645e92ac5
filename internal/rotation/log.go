package rotation

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// logStep writes the one line each step logs: ids and outcome, or the
// error; and the step's metrics (Rotations, StepDuration). A step that
// returned neither output nor error panicked: the boundary answers it as
// Rotor.Unsafe, and so do its metrics.
func (s *Service) logStep(ctx context.Context, step string, started time.Time, in StepInput, out **StepOutput, err *error) {
	rec := metrics.Step{Step: step, Provider: providerDimension(in.Provider), Duration: time.Since(started)}
	attrs := []any{"step", step, "secretId", in.SecretID, "token", in.Token}
	switch {
	case *err != nil:
		kind := string(rotorerr.Classify(*err))
		rec.Outcome, rec.Error = metrics.OutcomeFailed, kind
		s.log().ErrorContext(ctx, "step failed", append(attrs, "errorType", kind, "error", *err)...)
	case *out != nil:
		rec.Outcome = (*out).Outcome
		s.log().Log(ctx, slog.LevelInfo, "step done", append(attrs, "outcome", (*out).Outcome)...)
	default:
		rec.Outcome, rec.Error = metrics.OutcomeFailed, string(rotorerr.Unsafe)
		s.log().Log(ctx, slog.LevelInfo, "step done", attrs...)
	}
	s.record(ctx, s.Metrics.Step(rec))
}

// recordSweep writes what a sweep found among the managed secrets in scope.
func (s *Service) recordSweep(ctx context.Context, found metrics.Sweep) {
	s.record(ctx, s.Metrics.Sweep(found))
}

// record reports a metric that could not be written; a step never fails
// for its metrics.
func (s *Service) record(ctx context.Context, err error) {
	if err != nil {
		s.log().WarnContext(ctx, "metrics not written", "error", err)
	}
}

// providerDimension is the Provider dimension of a step's metrics: the
// name of a registered provider, else metrics.ProviderUnknown. The name
// comes from a tag that anyone who may tag a secret can write; as a
// dimension it would mint a metric (a cost) per distinct value.
func providerDimension(name string) string {
	if slices.Contains(provider.Names(), name) {
		return name
	}
	return metrics.ProviderUnknown
}

package rotation

import (
	"context"
	"log/slog"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// logStep writes the one line each step logs: ids and outcome, or the error.
func (s *Service) logStep(ctx context.Context, step string, in StepInput, out **StepOutput, err *error) {
	attrs := []any{"step", step, "secretId", in.SecretID, "token", in.Token}
	if *err != nil {
		s.log().ErrorContext(ctx, "step failed", append(attrs, "errorType", string(rotorerr.Classify(*err)), "error", *err)...)
		return
	}
	if *out != nil {
		attrs = append(attrs, "outcome", (*out).Outcome)
	}
	s.log().Log(ctx, slog.LevelInfo, "step done", attrs...)
}

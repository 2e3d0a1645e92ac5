package rotation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
)

// Environment variables the functions read. Endpoints come from the SDK's
// own AWS_ENDPOINT_URL variables; there is no "local mode".
const (
	EnvLockTTL = "ROTOR_LOCK_TTL" // Go duration, default 30m
	// EnvWriteBudget is the fleet's Secrets Manager writes per second, a
	// number from 0.1 to 45; default 10 (DefaultWriteBudget).
	EnvWriteBudget = "ROTOR_WRITE_BUDGET"
	EnvLogLevel    = "ROTOR_LOG_LEVEL" // debug, info (default), warn, error
	// EnvSecretPrefixes scopes the deployment: comma-separated secret name
	// prefixes ("prod/,team-a/"); default every name.
	EnvSecretPrefixes = "ROTOR_SECRET_PREFIXES"
	// EnvSweepInterval is how often the sweeper runs (Go duration; the
	// construct sets it from the sweeper's schedule). A sweep plans a
	// secret whose policy does not parse, so that its failure is notified,
	// only at the first sweep of each UTC day; unset, at every sweep.
	EnvSweepInterval = "ROTOR_SWEEP_INTERVAL"
)

// FromEnv builds a Service for a Lambda function: the SDK's default
// configuration chain (for Secrets Manager, the ledger and the providers
// that call AWS), settings from the environment, JSON logs on stdout
// passed through the invocation's redaction set, and EMF metric lines on
// stdout as well.
func FromEnv(ctx context.Context) (*Service, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return FromConfig(cfg, os.Getenv, os.Stdout)
}

// FromConfig builds a Service as FromEnv does, from an AWS configuration,
// an environment and a log destination given: rotor local runs the
// functions in process through it, with the credentials of each
// function's role and the environment its template declares.
func FromConfig(cfg aws.Config, getenv func(string) string, logs io.Writer) (*Service, error) {
	// Providers that call AWS use the same configuration: one load, one
	// set of credentials and endpoints.
	s := &Service{SM: secretsmanager.NewFromConfig(cfg), Providers: provider.NewSet(provider.Env{AWS: &cfg}).Lookup}
	if err := Configure(s, getenv); err != nil {
		return nil, err
	}
	if t := getenv(ledger.EnvTable); t != "" {
		s.Ledger = ledger.New(dynamodb.NewFromConfig(cfg), t)
	}
	var level slog.Level
	if v := getenv(EnvLogLevel); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("%s=%q is not debug, info, warn or error", EnvLogLevel, v)
		}
	}
	s.Log = slog.New(redact.Handler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})))
	// Metrics go where the logs go: CloudWatch Logs extracts them from the
	// function's log group, with no API call and no permission of their own.
	s.Metrics = metrics.New(logs, nil)
	return s, nil
}

// Configure applies the ROTOR_* settings read through getenv to s.
func Configure(s *Service, getenv func(string) string) error {
	var err error
	if v := getenv(EnvLockTTL); v != "" {
		if s.LockTTL, err = time.ParseDuration(v); err != nil || s.LockTTL <= 0 {
			return fmt.Errorf("%s=%q is not a positive duration", EnvLockTTL, v)
		}
	}
	if v := getenv(EnvSecretPrefixes); v != "" {
		prefixes, err := ParsePrefixes(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %w", EnvSecretPrefixes, v, err)
		}
		s.SecretPrefixes = prefixes
	}
	if v := getenv(EnvSweepInterval); v != "" {
		if s.SweepInterval, err = time.ParseDuration(v); err != nil || s.SweepInterval <= 0 {
			return fmt.Errorf("%s=%q is not a positive duration", EnvSweepInterval, v)
		}
	}
	if v := getenv(EnvWriteBudget); v != "" {
		if s.WriteBudget, err = strconv.ParseFloat(v, 64); err != nil || !(s.WriteBudget >= MinWriteBudget && s.WriteBudget <= MaxWriteBudget) {
			return fmt.Errorf("%s=%q is not a number of writes per second from %g to %g", EnvWriteBudget, v, MinWriteBudget, MaxWriteBudget)
		}
	}
	if v := getenv("ROTOR_MAX_CONCURRENCY"); v != "" {
		// Rotations no longer share an execution's Map slots; a setting
		// that does nothing must not pass silently.
		return fmt.Errorf("ROTOR_MAX_CONCURRENCY=%q is no longer read: each secret rotates in its own child execution, paced by %s (writes per second)", v, EnvWriteBudget)
	}
	return nil
}

// ParsePrefixes reads comma-separated secret name prefixes, each 1 to 256
// characters a secret name may hold (letters, digits, /_+=.@-) and no
// wildcard: IAM resource ARNs are built from them.
func ParsePrefixes(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" || len(p) > 256 || strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-") != "" {
			return nil, fmt.Errorf("prefix %q is not 1 to 256 characters of letters, digits and /_+=.@- (no wildcards)", p)
		}
		out = append(out, p)
	}
	return out, nil
}

package chaos

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what a run found.
type Report struct {
	Seed      uint64
	FaultRate float64
	Secrets   int
	// Kills done and planned: a kill planned after more executions than
	// were started (secrets stopped by violations) does not happen.
	Kills, KillsPlanned int
	// Executions the load started (manual rotations and executions its
	// leak alerts started) and how they ended; Running counts those still
	// running when the run ended.
	Executions, Succeeded, Failed, Running int
	// FailedBy counts failed executions by the error their notification
	// names ("(no notification) FAILED" when there is none).
	FailedBy map[string]int
	// Skipped counts planned executions not started because their secret
	// already had a violation.
	Skipped int
	// AlertsLost counts leak alerts that started no execution within 20 s
	// (the endpoint was killed between accepting and delivering them).
	AlertsLost int
	// NotRevokedNotices counts executions whose notification says a
	// credential was NOT revoked; PersonRevoked the live credentials the
	// harness then revoked as the notification asks a person to.
	NotRevokedNotices, PersonRevoked int
	// Violations found, each once.
	Violations []Violation
	// Converge holds, per execution whose burst ended in a state passing
	// the checks, the time from its start to that check.
	Converge []time.Duration
	// HarnessErrors are bursts the harness could not drive or check.
	HarnessErrors []string
	KeyAPIFaults  int
	SecretsKnown  int // secret values scanned for
	ScannedBytes  int
	Wall          time.Duration
}

// NeededPerson counts executions that left a person something to do: a
// credential reported NOT revoked, or a secret left in violation by the
// burst the execution belonged to.
func (r *Report) NeededPerson() int {
	n := r.NotRevokedNotices
	seen := map[string]bool{}
	for _, v := range r.Violations {
		if v.Burst != "" && !seen[v.Burst] {
			seen[v.Burst] = true
			n++
		}
	}
	return n
}

// ByKind counts the violations by kind.
func (r *Report) ByKind() map[string]int {
	out := map[string]int{}
	for _, v := range r.Violations {
		out[v.Kind]++
	}
	return out
}

// Quantile returns the q-quantile (0 to 1) of the convergence times, or 0
// when none converged.
func (r *Report) Quantile(q float64) time.Duration {
	if len(r.Converge) == 0 {
		return 0
	}
	d := slices.Clone(r.Converge)
	slices.Sort(d)
	i := int(float64(len(d))*q+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func (r *Report) sortViolations() {
	sort.SliceStable(r.Violations, func(i, j int) bool {
		a, b := r.Violations[i], r.Violations[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Secret != b.Secret {
			return a.Secret < b.Secret
		}
		return a.Key < b.Key
	})
}

func countsOf(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// String is the summary: the counts the test prints.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos seed=%d faults=%.0f%% kills=%d/%d secrets=%d: %d executions: %d succeeded, %d failed, %d still running; %d skipped; %d alerts lost\n",
		r.Seed, r.FaultRate*100, r.Kills, r.KillsPlanned, r.Secrets, r.Executions, r.Succeeded, r.Failed, r.Running, r.Skipped, r.AlertsLost)
	fmt.Fprintf(&b, "  failed by error: %s\n", countsOf(r.FailedBy))
	fmt.Fprintf(&b, "  needed a person: %d (%d notifications said NOT revoked, %d credentials then revoked by the harness)\n",
		r.NeededPerson(), r.NotRevokedNotices, r.PersonRevoked)
	fmt.Fprintf(&b, "  violations: %d (%s)\n", len(r.Violations), countsOf(r.ByKind()))
	fmt.Fprintf(&b, "  time to converge: median %s, p99 %s over %d executions\n",
		r.Quantile(0.5).Round(10*time.Millisecond), r.Quantile(0.99).Round(10*time.Millisecond), len(r.Converge))
	fmt.Fprintf(&b, "  key API faults injected %d; %d secret values scanned for in %d bytes; %d harness errors; wall %s\n",
		r.KeyAPIFaults, r.SecretsKnown, r.ScannedBytes, len(r.HarnessErrors), r.Wall.Round(time.Second))
	return b.String()
}

// Details lists every violation with its evidence, and the harness errors.
func (r *Report) Details() string {
	var b strings.Builder
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "VIOLATION %s: %s\n", v.Kind, v.Detail)
		if v.Burst != "" {
			fmt.Fprintf(&b, "  after %s\n", v.Burst)
		}
		for _, e := range v.Evidence {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	for _, e := range r.HarnessErrors {
		fmt.Fprintf(&b, "HARNESS ERROR %s\n", e)
	}
	return b.String()
}

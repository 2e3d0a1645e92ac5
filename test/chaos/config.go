package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/localaws"
)

// Config is one chaos run.
type Config struct {
	// Seed chooses the plan: the secrets' bursts, grace periods, delays and
	// the moments of the kills.
	Seed uint64
	// Secrets is how many managed secrets to create, of Kinds in turn. At
	// least 1.
	Secrets int
	// Kinds are the kinds of secret (KindRandom, KindAWSIAM, KindHTTPAPI)
	// the secrets take in turn. Default all three.
	Kinds []string
	// Bursts are the burst kinds the plan draws from (BurstRotate,
	// BurstOverlap, BurstLeakRace, BurstLeak). Default all four, weighted
	// 40, 20, 25 and 15; a subset is drawn from evenly, for a reproduction.
	Bursts []string
	// Rotations is how many executions the load starts (manual rotations
	// and leak alerts; the setup's rotations are not counted). At least 1.
	Rotations int
	// FaultRate is the probability, per call, that a Secrets Manager write,
	// an IAM or STS call, or a key API call fails: half as an error
	// answered without effect, half as an answer lost after the call took
	// effect. From 0 to 0.5.
	FaultRate float64
	// Faults, when set, replace the endpoint's faults that FaultRate
	// implies (EndpointFaults) with these --fault specifications, for a
	// reproduction that faults one operation; FaultRate still applies to
	// the key APIs.
	Faults []string
	// Kills is how many times the endpoint is SIGKILLed (or, in process,
	// closed) during the load and restarted on its data file.
	Kills int
	// MaxGrace is the longest grace period of a manual rotation, in
	// seconds (each draws 0 to MaxGrace).
	MaxGrace int
	// BurstTimeout bounds how long a burst's executions may run before the
	// secret is reported as not converged. Default 150 s.
	BurstTimeout time.Duration
	// Endpoint is the deployment under test; its data file must be new.
	Endpoint Endpoint
	// Logf, when set, receives progress lines (never a secret value).
	Logf func(format string, args ...any)
}

func (c *Config) check() error {
	var problems []string
	if c.Secrets < 1 {
		problems = append(problems, fmt.Sprintf("Secrets is %d, want at least 1", c.Secrets))
	}
	if c.Rotations < 1 {
		problems = append(problems, fmt.Sprintf("Rotations is %d, want at least 1", c.Rotations))
	}
	if c.FaultRate < 0 || c.FaultRate > 0.5 {
		problems = append(problems, fmt.Sprintf("FaultRate is %g, want 0 to 0.5", c.FaultRate))
	}
	if c.Kills < 0 {
		problems = append(problems, fmt.Sprintf("Kills is %d, want 0 or more", c.Kills))
	}
	if c.MaxGrace < 0 || c.MaxGrace > 30 {
		problems = append(problems, fmt.Sprintf("MaxGrace is %d, want 0 to 30 seconds", c.MaxGrace))
	}
	if c.BurstTimeout < 0 {
		problems = append(problems, fmt.Sprintf("BurstTimeout is %s, want positive or 0 for the default", c.BurstTimeout))
	}
	if c.Endpoint == nil {
		problems = append(problems, "Endpoint is nil")
	}
	for _, k := range c.Kinds {
		if !slices.Contains([]string{KindRandom, KindAWSIAM, KindHTTPAPI}, k) {
			problems = append(problems, fmt.Sprintf("Kinds: %q is not random, awsiam or httpapi", k))
		}
	}
	for _, b := range c.Bursts {
		if !slices.Contains([]string{BurstRotate, BurstOverlap, BurstLeakRace, BurstLeak}, b) {
			problems = append(problems, fmt.Sprintf("Bursts: %q is not rotate, overlap, leak-race or leak", b))
		}
	}
	for _, f := range c.Faults {
		if _, err := localaws.ParseFault(f); err != nil {
			problems = append(problems, "Faults: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New("chaos config: " + strings.Join(problems, "; "))
	}
	if c.BurstTimeout == 0 {
		c.BurstTimeout = 150 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []string{KindRandom, KindAWSIAM, KindHTTPAPI}
	}
	return nil
}

// EndpointFaults are the --fault specifications (localaws.ParseFault) for a
// total rate: every Secrets Manager write and every IAM and STS call fail
// half the time as "error", half as "lost". The endpoint tries the faults
// in order, so the second's rate is raised to keep its share of the total.
func EndpointFaults(rate float64) []string {
	if rate <= 0 {
		return nil
	}
	errRate := rate / 2
	lostRate := (rate / 2) / (1 - errRate)
	var out []string
	for _, op := range []string{"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
		"secretsmanager:TagResource", "secretsmanager:UntagResource", "iam:*", "sts:*"} {
		out = append(out, fmt.Sprintf("%s:error:%.4f", op, errRate), fmt.Sprintf("%s:lost:%.4f", op, lostRate))
	}
	return out
}

// Kinds of managed secret.
const (
	KindRandom  = "random"
	KindAWSIAM  = "awsiam"
	KindHTTPAPI = "httpapi"
)

// fresh tells whether secret i starts with no credential: every other
// awsiam secret holds only {"userName": ...}, and its first rotation, under
// faults, mints the user's first key.
func (c *Config) fresh(i int) bool {
	if c.secretKind(i) != KindAWSIAM {
		return false
	}
	n := 0 // awsiam secrets before i
	for j := 0; j < i; j++ {
		if c.secretKind(j) == KindAWSIAM {
			n++
		}
	}
	return n%2 == 1
}

func (c *Config) secretKind(i int) string {
	if len(c.Kinds) == 0 {
		return []string{KindRandom, KindAWSIAM, KindHTTPAPI}[i%3]
	}
	return c.Kinds[i%len(c.Kinds)]
}

// Burst kinds: what the load does to one secret at a time.
const (
	BurstRotate   = "rotate"    // one manual rotation
	BurstOverlap  = "overlap"   // two manual rotations, the second started 0-1.5 s after the first
	BurstLeakRace = "leak-race" // a manual rotation and, 0-2 s later, a leak alert for the then current credential
	BurstLeak     = "leak"      // a leak alert for the current credential
)

// Leak alert forms.
const (
	LeakGuardDuty   = "guardduty"           // a GuardDuty finding naming the access key (awsiam)
	LeakGenericKey  = "generic-key-id"      // a generic alert naming the access key id (awsiam)
	LeakFingerprint = "generic-fingerprint" // a generic alert with the SHA-256 of the value (random, httpapi)
	LeakSecretID    = "generic-secret-id"   // a generic alert naming the secret (any)
)

// burst is one planned burst.
type burst struct {
	Kind   string
	Graces [2]int        // grace periods of the manual rotations, seconds
	Delay  time.Duration // before the second execution (overlap, leak-race)
	Gap    time.Duration // idle time before the burst
	Leak   string        // leak form (leak, leak-race)
}

func (b burst) executions() int {
	if b.Kind == BurstOverlap || b.Kind == BurstLeakRace {
		return 2
	}
	return 1
}

// plan is what a seed decides.
type plan struct {
	bursts [][]burst // per secret, in order
	// kills are the numbers of started executions after which the endpoint
	// is killed, ascending, each with the delay before the kill and the
	// time the endpoint stays down.
	kills []killPlan
}

type killPlan struct {
	after      int
	delay, off time.Duration
}

func makePlan(c Config) plan {
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed_c4a05))
	p := plan{bursts: make([][]burst, c.Secrets)}
	for n, i := 0, 0; n < c.Rotations; i = (i + 1) % c.Secrets {
		b := burst{Gap: time.Duration(rng.IntN(1000)) * time.Millisecond}
		if len(c.Bursts) > 0 {
			b.Kind = c.Bursts[rng.IntN(len(c.Bursts))]
		} else {
			switch r := rng.IntN(100); {
			case r < 40:
				b.Kind = BurstRotate
			case r < 60:
				b.Kind = BurstOverlap
			case r < 85:
				b.Kind = BurstLeakRace
			default:
				b.Kind = BurstLeak
			}
		}
		switch b.Kind {
		case BurstOverlap:
			// Half race within create, half start while the first runs on.
			b.Delay = time.Duration(rng.IntN(150)) * time.Millisecond
			if rng.IntN(2) == 0 {
				b.Delay = time.Duration(rng.IntN(1500)) * time.Millisecond
			}
		case BurstLeakRace:
			b.Delay = time.Duration(rng.IntN(2000)) * time.Millisecond
		}
		// A secret with no credential yet is first rotated: an alert
		// needs a credential to name.
		if n+b.executions() > c.Rotations || (len(p.bursts[i]) == 0 && c.fresh(i)) {
			b.Kind, b.Delay = BurstRotate, 0
		}
		for j := range b.Graces {
			b.Graces[j] = rng.IntN(c.MaxGrace + 1)
		}
		if b.Kind == BurstLeak || b.Kind == BurstLeakRace {
			switch c.secretKind(i) {
			case KindAWSIAM:
				b.Leak = []string{LeakGuardDuty, LeakGuardDuty, LeakGenericKey, LeakSecretID}[rng.IntN(4)]
			default:
				b.Leak = []string{LeakFingerprint, LeakFingerprint, LeakSecretID}[rng.IntN(3)]
			}
		}
		p.bursts[i] = append(p.bursts[i], b)
		n += b.executions()
	}
	for k := 0; k < c.Kills; k++ {
		// Spread over the middle of the load: after 10 % to 90 % of it.
		lo, hi := c.Rotations/10, c.Rotations*9/10
		after := lo + rng.IntN(max(hi-lo, 1))
		p.kills = append(p.kills, killPlan{after: max(after, 1),
			delay: time.Duration(rng.IntN(2000)) * time.Millisecond,
			off:   time.Duration(200+rng.IntN(1300)) * time.Millisecond})
	}
	slices.SortStableFunc(p.kills, func(a, b killPlan) int { return a.after - b.after })
	return p
}

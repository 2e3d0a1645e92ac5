package rotation_test

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/rotation"
)

// emf is what the env's EMF lines add up to.
type emf struct {
	// Rotations by "provider outcome [error]".
	Rotations map[string]float64
	// StepDurations counts the StepDuration values by "step provider".
	StepDurations map[string]int
	Sweeps        []metrics.Sweep
}

// readEMF parses every EMF line the functions wrote; a line that claims to
// be EMF and is not fails the test.
func readEMF(t *testing.T, e *env) emf {
	t.Helper()
	e.mu.Lock()
	logs := e.logs.String()
	e.mu.Unlock()
	got := emf{Rotations: map[string]float64{}, StepDurations: map[string]int{}}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		doc, err := metrics.Parse(sc.Bytes())
		if errors.Is(err, metrics.ErrNotEMF) {
			continue
		}
		if err != nil {
			t.Errorf("an EMF line does not parse: %v", err)
			continue
		}
		if doc.Timestamp.After(e.clock.Now()) {
			t.Errorf("an EMF line is dated %s, after the clock's %s", doc.Timestamp, e.clock.Now())
		}
		if v, ok := doc.Values[metrics.Rotations]; ok {
			key := doc.Dimensions[metrics.DimProvider] + " " + doc.Dimensions[metrics.DimOutcome]
			if er := doc.Dimensions[metrics.DimError]; er != "" {
				key += " " + er
			}
			got.Rotations[key] += v[0]
		}
		if v, ok := doc.Values[metrics.StepDuration]; ok {
			if v[0] < 0 {
				t.Errorf("a negative step duration: %v", v)
			}
			got.StepDurations[doc.Dimensions[metrics.DimStep]+" "+doc.Dimensions[metrics.DimProvider]]++
		}
		if v, ok := doc.Values[metrics.OverdueSecrets]; ok {
			age := doc.Values[metrics.OldestSecretAgeSeconds]
			got.Sweeps = append(got.Sweeps, metrics.Sweep{Overdue: int(v[0]), OldestAge: time.Duration(age[0]) * time.Second})
		}
	}
	return got
}

// TestMetricsOfStateMachineRotations: a rotation through the state machine
// writes one Rotations count per step outcome and one StepDuration per
// step run, by provider; a failed step counts as failed with its Rotor.*
// name. Nothing secret is in the lines (the hygiene scan covers them).
func TestMetricsOfStateMachineRotations(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*sfn)
		secret    string
		status    string
		rotations map[string]float64
		durations map[string]int
	}{
		{
			name: "success", secret: apiSecret, status: asl.StatusSucceeded,
			rotations: map[string]float64{"httpapi created": 1, "httpapi switched": 1, "httpapi verified": 1, "httpapi revoked": 1},
			durations: map[string]int{"create httpapi": 1, "switchover httpapi": 1, "verify httpapi": 1, "expire httpapi": 1},
		},
		{
			name: "verification fails and rolls back", secret: apiSecret, status: asl.StatusFailed,
			setup:     func(s *sfn) { s.e.rejectNew.Store(true) },
			rotations: map[string]float64{"httpapi created": 1, "httpapi switched": 1, "httpapi failed Rotor.VerificationFailed": 1, "httpapi rolled-back": 1},
			durations: map[string]int{"create httpapi": 1, "switchover httpapi": 1, "verify httpapi": 1, "rollback httpapi": 1},
		},
		{
			name: "a panic in create is Rotor.Unsafe, then clean-up", secret: "app/panicky", status: asl.StatusFailed,
			setup:     func(s *sfn) { addPanicky(s.e) },
			rotations: map[string]float64{"test-panic failed Rotor.Unsafe": 1, "test-panic cleaned-up": 1},
			durations: map[string]int{"create test-panic": 1, "cleanup test-panic": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSFN(t)
			if tc.setup != nil {
				tc.setup(s)
			}
			res, hist := s.run(`{"secretId": "` + tc.secret + `", "trigger": "manual"}`)
			if res.Status != tc.status {
				t.Fatalf("execution %s %s, want %s", res.Status, res.Error, tc.status)
			}
			got := readEMF(t, s.e)
			if diff := cmp.Diff(tc.rotations, got.Rotations); diff != "" {
				t.Errorf("Rotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.durations, got.StepDurations); diff != "" {
				t.Errorf("StepDuration values (-want +got):\n%s", diff)
			}
			s.checkHygiene(hist)
		})
	}
}

// TestMetricsOfASweep: a sweep reports the age of the oldest current
// version it saw and how many secrets are past their max-age; a secret
// with no value is due but neither.
func TestMetricsOfASweep(t *testing.T) {
	e := newEnv(t) // apiSecret and rndSecret, made at t0, default max-age 60d
	e.createSecret("svc/young", "value-123456", map[string]string{"rotor:provider": "random", "rotor:max-age": "90d"})
	e.createSecret("svc/broken", "value-123456", map[string]string{"rotor:provider": "no-such-provider"})
	e.clock.Advance(61 * 24 * time.Hour)
	e.createSecret("svc/fresh", "value-123456", map[string]string{"rotor:provider": "random"})
	if _, err := e.store.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: aws.String("svc/empty"),
		Tags: []types.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}); err != nil {
		t.Fatal(err)
	}
	plan := e.must(rotation.FuncResolve, `{"trigger":"sweep"}`)
	if n := len(e.planItems(plan)); n != 4 {
		t.Errorf("the sweep planned %d secrets, want 4 (two past 60d, the broken one, the empty one)", n)
	}
	// Past max-age: apiSecret, rndSecret (61d > 60d) and svc/broken (a
	// broken policy has no max-age: due at once); not svc/young (90d).
	want := []metrics.Sweep{{OldestAge: 61 * 24 * time.Hour, Overdue: 3}}
	if diff := cmp.Diff(want, readEMF(t, e).Sweeps); diff != "" {
		t.Errorf("sweep metrics (-want +got):\n%s", diff)
	}
	e.checkHygiene()
}

// TestMetricsNeverNameAnUnregisteredProvider: the provider dimension comes
// from a tag anyone who may tag a secret can write, so a name that is no
// registered provider's counts as "unknown".
func TestMetricsNeverNameAnUnregisteredProvider(t *testing.T) {
	e := newEnv(t)
	e.createSecret("svc/broken", "value-123456", map[string]string{"rotor:provider": "no-such-provider"})
	_, ierr := e.invoke(rotation.FuncCreate, map[string]any{"secretId": "svc/broken", "token": "0f1e2d3c-4b5a-4697-8887-a6b5c4d3e2f1", "provider": "no-such-provider"})
	if ierr == nil || ierr.Type != "Rotor.InvalidInput" {
		t.Fatalf("create = %+v, want Rotor.InvalidInput", ierr)
	}
	got := readEMF(t, e)
	if diff := cmp.Diff(map[string]float64{"unknown failed Rotor.InvalidInput": 1}, got.Rotations); diff != "" {
		t.Errorf("Rotations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"create unknown": 1}, got.StepDurations); diff != "" {
		t.Errorf("StepDuration values (-want +got):\n%s", diff)
	}
}

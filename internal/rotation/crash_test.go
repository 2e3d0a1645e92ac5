package rotation_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/rotation"
)

// scenario is a rotation cut at one step: prefix runs the steps before it,
// the step itself is invoked with a fault, and finish runs what the state
// machine would run after it. check asserts the converged end state.
type scenario struct {
	name   string
	secret string
	steps  []string // the path, each "fn" or "fn:action"
	reject bool     // the key API rejects new keys (verify fails)
	check  func(e *env, token, previous string)
}

func successEnd(secret string) func(e *env, token, previous string) {
	return func(e *env, token, previous string) {
		st := e.stages(secret)
		if !slices.Equal(st[token], []string{rotation.LabelCurrent}) ||
			!slices.Equal(st[previous], []string{rotation.LabelPrevious, rotation.LabelRevoked}) || len(st) != 2 {
			e.t.Errorf("labels %v; want token AWSCURRENT and previous AWSPREVIOUS+ROTOR_REVOKED", st)
		}
		if secret == apiSecret {
			live := e.ks.Live()
			if len(live) != 1 || live[0].Secret != field(e.value(secret, token), "apiKey") {
				e.t.Errorf("%d live keys; want exactly the token's", len(live))
			}
		}
	}
}

func undoneEnd(e *env, token, previous string) {
	st := e.stages(apiSecret)
	if e.holder(apiSecret, rotation.LabelCurrent) != previous || !slices.Contains(st[token], rotation.LabelFailed) ||
		e.holder(apiSecret, rotation.LabelPending) != "" {
		e.t.Errorf("labels %v; want the previous version current, the token ROTOR_FAILED, no AWSPENDING", st)
	}
	live := e.ks.Live()
	if len(live) != 1 || live[0].Secret != e.initial.Secret {
		e.t.Errorf("%d live keys; want only the initial key", len(live))
	}
}

var scenarios = []scenario{
	{name: "httpapi success", secret: apiSecret, steps: []string{"resolve", "create", "switchover", "verify", "expire"}, check: successEnd(apiSecret)},
	{name: "random success", secret: rndSecret, steps: []string{"resolve", "create", "switchover", "verify", "expire"}, check: successEnd(rndSecret)},
	{name: "httpapi rollback", secret: apiSecret, reject: true, steps: []string{"resolve", "create", "switchover", "verify!", "expire:rollback"}, check: undoneEnd},
	{name: "httpapi cleanup", secret: apiSecret, steps: []string{"resolve", "create", "expire:cleanup"}, check: undoneEnd},
}

// faultMode is what happens to the call a test injects into.
type faultMode string

const (
	lostAnswer faultMode = "lost response" // the call takes effect, its answer is lost
	crashed    faultMode = "crash"         // ... and the process dies: later calls fail without effect
	// resent: the answer is lost and the AWS SDK resends the request, as
	// its retryer does on a connection reset, so a Secrets Manager call may
	// take effect twice and answer the second time (e.g.
	// UpdateSecretVersionStage naming a RemoveFromVersionId that no longer
	// holds the label). The step must treat its goal already reached as
	// success: it answers nothing or what the state machine retries, never
	// Rotor.Unsafe (issue 11, failures 1 and 2).
	resent faultMode = "SDK resend"
)

// TestCrashInjection makes, for every step and every external call inside
// it, that call take effect and its response be lost (or the process die,
// or the SDK resend the request). The step either recovers by itself or
// fails with what the state machine retries; re-run with the same token it
// converges, and after every invocation no live key is missing from the
// secret store.
func TestCrashInjection(t *testing.T) {
	for _, sc := range scenarios {
		for target := range sc.steps {
			name := sc.steps[target]
			if name[len(name)-1] == '!' {
				continue // the step that is meant to fail
			}
			for _, mode := range []faultMode{lostAnswer, crashed, resent} {
				t.Run(fmt.Sprintf("%s/%s/%s", sc.name, name, mode), func(t *testing.T) {
					calls := 0
					for k := 1; ; k++ {
						if k > 60 {
							t.Fatal("the step made more than 60 external calls")
						}
						if !runInjected(t, sc, target, k, mode) {
							break
						}
						calls++
					}
					if calls == 0 {
						t.Fatal("the step made no external call; nothing was injected")
					}
					t.Logf("injected at each of %d calls", calls)
				})
			}
		}
	}
}

// runInjected runs the scenario with the k-th external call of step target
// failing after its effect. It reports whether the fault was reached.
func runInjected(t *testing.T, sc scenario, target, k int, mode faultMode) bool {
	crash := mode == crashed
	e := newEnv(t)
	e.rejectNew.Store(sc.reject)
	input := fmt.Sprintf(`{"secretId":%q,"trigger":"manual"}`, sc.secret)
	var item map[string]any
	token := uuid.NewString()
	previous := e.holder(sc.secret, rotation.LabelCurrent)
	tripped := false
	for i, s := range sc.steps {
		fn, action, wantFail := parseStep(s)
		var payload any = input
		if fn != rotation.FuncResolve {
			payload = step(item, token, "previousVersionId", previous, "action", action)
			if fn == rotation.FuncCreate {
				payload = step(item, token)
			}
		}
		if i == target {
			if mode == resent {
				e.faults.armResend(k)
			} else {
				e.faults.arm(k, crash)
			}
		}
		out, ierr := e.invoke(fn, payload)
		if i == target {
			tripped = e.faults.disarm()
			if !tripped {
				if ierr != nil {
					t.Fatalf("%s failed without a fault: %s %s", s, ierr.Type, ierr.Message)
				}
				return false
			}
			if crash && ierr == nil {
				t.Fatalf("k=%d: %s succeeded although its process crashed mid-way", k, s)
			}
			if mode == resent && ierr != nil && ierr.Type != "Rotor.Transient" {
				t.Fatalf("k=%d: %s answered %s (%s) after a resent request; want success or a retried error", k, s, ierr.Type, ierr.Message)
			}
			if !crash {
				// A lost response must never leave a live key unrecorded.
				if u := e.unrecorded(); len(u) > 0 {
					t.Fatalf("k=%d: after %s failed, live keys recorded nowhere: %v", k, s, u)
				}
			}
			if ierr != nil {
				if out, ierr = e.invoke(fn, payload); ierr != nil {
					t.Fatalf("k=%d: re-running %s with the same token: %s %s", k, s, ierr.Type, ierr.Message)
				}
			}
		} else if wantFail != (ierr != nil) {
			t.Fatalf("k=%d: %s: error %v, want failure %v", k, s, ierr, wantFail)
		}
		if u := e.unrecorded(); len(u) > 0 {
			t.Fatalf("k=%d: after %s, live keys recorded nowhere: %v", k, s, u)
		}
		switch fn {
		case rotation.FuncResolve:
			item = out["items"].([]any)[0].(map[string]any)
		case rotation.FuncCreate:
			if out != nil {
				previous = out["previousVersionId"].(string)
			}
		}
	}
	sc.check(e, token, previous)
	e.checkHygiene()
	return true
}

func parseStep(s string) (fn, action string, wantFail bool) {
	if s[len(s)-1] == '!' {
		s, wantFail = s[:len(s)-1], true
	}
	for i := range s {
		if s[i] == ':' {
			return s[:i], s[i+1:], wantFail
		}
	}
	return s, "", wantFail
}

package statemachine_test

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/strictjson"
	"github.com/rotorhq/rotor/statemachine"
)

// state is the part of an ASL state these checks read.
type state struct {
	Type       string
	Resource   string
	Parameters map[string]any
	Retry      []struct {
		ErrorEquals                                   []string
		IntervalSeconds, BackoffRate, MaxDelaySeconds float64
		MaxAttempts                                   int
	}
	Catch []struct {
		ErrorEquals []string
		Next        string
	}
	Next          string
	ItemProcessor *struct{ States map[string]state }
}

// allStates returns every state of the definition, nested ones included, by name.
func allStates(t *testing.T) map[string]state {
	t.Helper()
	var def struct{ States map[string]state }
	if err := json.Unmarshal([]byte(statemachine.Definition()), &def); err != nil {
		t.Fatal(err)
	}
	out := map[string]state{}
	var walk func(map[string]state)
	walk = func(states map[string]state) {
		for n, s := range states {
			out[n] = s
			if s.ItemProcessor != nil {
				walk(s.ItemProcessor.States)
			}
		}
	}
	walk(def.States)
	return out
}

func functionOf(s state) (string, bool) {
	if !strings.HasPrefix(s.Resource, "${") {
		return "", false
	}
	return statemachine.FunctionOf(strings.Trim(s.Resource, "${}"))
}

func TestFunctionPlaceholdersMatchFunctionDirectories(t *testing.T) {
	dirs, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, d := range dirs {
		if _, err := os.Stat("../functions/" + d.Name() + "/main.go"); d.IsDir() && err == nil {
			onDisk = append(onDisk, d.Name())
		}
	}
	var placeholders, others []string
	for _, p := range statemachine.Placeholders() {
		if fn, ok := statemachine.FunctionOf(p); ok {
			placeholders = append(placeholders, fn)
		} else {
			others = append(others, p)
		}
	}
	sort.Strings(placeholders)
	// The webhook is the only function the state machine does not call: it
	// sits in front of the leak bus.
	inMachine := slices.DeleteFunc(slices.Clone(onDisk), func(d string) bool { return d == "webhook" })
	if len(inMachine) != len(onDisk)-1 {
		t.Errorf("functions/webhook missing: %v", onDisk)
	}
	if diff := cmp.Diff(inMachine, placeholders); diff != "" {
		t.Errorf("functions/ directories (-) vs function placeholders (+):\n%s", diff)
	}
	if diff := cmp.Diff(rotation.Functions, inMachine, cmpSorted); diff != "" {
		t.Errorf("rotation.Functions vs functions/ directories:\n%s", diff)
	}
	if diff := cmp.Diff([]string{"TopicArn"}, others); diff != "" {
		t.Errorf("non-function placeholders:\n%s", diff)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
})

var lambdaErrors = []string{"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException", "Lambda.AWSLambdaException"}

// TestEveryRotorErrorIsHandledByName checks each Lambda task: every Rotor.*
// name is retried or caught by name (not only by States.ALL), the Lambda
// service errors are retried, and a final States.ALL catcher exists for
// runtime failures (timeouts, crashes) that carry no Rotor.* name.
func TestEveryRotorErrorIsHandledByName(t *testing.T) {
	n := 0
	for name, s := range allStates(t) {
		if _, ok := functionOf(s); !ok {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			handled := map[string]bool{}
			retried := map[string]bool{}
			for _, r := range s.Retry {
				for _, e := range r.ErrorEquals {
					handled[e], retried[e] = true, true
				}
			}
			for _, c := range s.Catch {
				for _, e := range c.ErrorEquals {
					handled[e] = true
				}
			}
			for _, k := range rotorerr.All {
				if !handled[string(k)] {
					t.Errorf("%s is neither retried nor caught by name", k)
				}
			}
			for _, e := range lambdaErrors {
				if !retried[e] {
					t.Errorf("%s is not retried", e)
				}
			}
			if handled["States.TaskFailed"] {
				t.Error("matches States.TaskFailed; match Rotor.* names instead")
			}
			if len(s.Catch) == 0 || !slices.Equal(s.Catch[len(s.Catch)-1].ErrorEquals, []string{"States.ALL"}) {
				t.Error("the last catcher is not States.ALL")
			}
			if retried["Rotor.InvalidInput"] || retried["Rotor.Unsafe"] || retried["Rotor.NotFound"] {
				t.Error("retries an error that retrying cannot fix")
			}
		})
	}
	if n != 10 {
		t.Errorf("found %d Lambda task states, want 10 (Resolve, LoadItem, Create, SwitchOver, Verify, VerifyMaster, Expire, Rollback, Cleanup, RevokeLeaked)", n)
	}
}

// TestMissingFunctionIsRetriedBriefly: every Lambda task retries
// Lambda.ResourceNotFoundException a few times, then lets its catchers
// run. Locally a function can be missing for a moment: a host that
// reopens a data file resumes its executions before it registers its
// functions (rotorlocal holds their calls until it has; a host that does
// not would otherwise fail the task, then the cleanup or rollback after it
// the same way, leaving AWSPENDING and a live credential behind). The
// local endpoint answers the name Lambda answers rather than disguising a
// missing function as a service error, so the definition retries that
// name. On AWS a missing function stays missing; the retries cost at most
// 2+4+8 s (less with FULL jitter) before the catchers run.
func TestMissingFunctionIsRetriedBriefly(t *testing.T) {
	n := 0
	for name, s := range allStates(t) {
		if _, ok := functionOf(s); !ok {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			for _, r := range s.Retry {
				if !slices.Contains(r.ErrorEquals, "Lambda.ResourceNotFoundException") {
					continue
				}
				worst, d := 0.0, r.IntervalSeconds
				for range r.MaxAttempts {
					if r.MaxDelaySeconds > 0 {
						d = min(d, r.MaxDelaySeconds)
					}
					worst += d
					d *= max(r.BackoffRate, 1)
				}
				if r.MaxAttempts < 1 || worst > 30 {
					t.Errorf("retried %d times over up to %g s; want at least once and at most 30 s, since on AWS a missing function usually stays missing", r.MaxAttempts, worst)
				}
				return
			}
			t.Error("Lambda.ResourceNotFoundException is not retried")
		})
	}
	if n == 0 {
		t.Fatal("no Lambda task states")
	}
}

// TestTaskParametersAreStepInputs decodes each Lambda task's Parameters as
// the function will, strictly, so a misspelt field fails here and not in
// production.
func TestTaskParametersAreStepInputs(t *testing.T) {
	wantFn := map[string]string{
		"Create": "create", "SwitchOver": "switchover", "Verify": "verify",
		"Expire": "expire", "Rollback": "expire", "Cleanup": "expire", "RevokeLeaked": "expire", "VerifyMaster": "expire",
	}
	wantAction := map[string]string{"Expire": "expire", "Rollback": "rollback", "Cleanup": "cleanup", "RevokeLeaked": "revoke", "VerifyMaster": "verify"}
	states := allStates(t)
	for name, fn := range wantFn {
		s := states[name]
		if got, _ := functionOf(s); got != fn {
			t.Errorf("%s runs function %q, want %q", name, got, fn)
		}
		sample := map[string]any{}
		for k, v := range s.Parameters {
			if k == "versions.$" { // a list of version ids
				sample["versions"] = []string{"x"}
			} else if strings.HasSuffix(k, ".$") {
				sample[strings.TrimSuffix(k, ".$")] = "x"
			} else {
				sample[k] = v
			}
		}
		b, _ := json.Marshal(sample)
		var in rotation.StepInput
		if err := strictjson.Decode(b, &in); err != nil {
			t.Errorf("%s: Parameters are not a valid step input: %v", name, err)
		}
		if in.Action != wantAction[name] {
			t.Errorf("%s sends action %q, want %q", name, in.Action, wantAction[name])
		}
	}
	// Master secrets stay with create and expire: switchover and verify must
	// not be routed to the expire function, and rollback must not go anywhere else.
	for _, n := range []string{"SwitchOver", "Verify"} {
		if fn, _ := functionOf(states[n]); fn == "expire" || fn == "create" {
			t.Errorf("%s runs in the %s function, which may read master secrets", n, fn)
		}
	}
}

func TestVerificationFailureRollsBack(t *testing.T) {
	s := allStates(t)["Verify"]
	for _, c := range s.Catch {
		if slices.Contains(c.ErrorEquals, "Rotor.VerificationFailed") && c.Next != "Rollback" {
			t.Errorf("Rotor.VerificationFailed goes to %s, want Rollback", c.Next)
		}
	}
}

func TestSubstitute(t *testing.T) {
	values := map[string]string{}
	for _, p := range statemachine.Placeholders() {
		values[p] = "arn:aws:lambda:eu-west-1:123456789012:function:" + p
	}
	out, err := statemachine.Substitute(values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "${") {
		t.Error("a placeholder is left after substitution")
	}
	delete(values, "TopicArn")
	if _, err := statemachine.Substitute(values); err == nil || !strings.Contains(err.Error(), "TopicArn") {
		t.Errorf("a missing substitution gave %v", err)
	}
	values["TopicArn"], values["Bogus"] = "x", "y"
	if _, err := statemachine.Substitute(values); err == nil || !strings.Contains(err.Error(), "Bogus") {
		t.Errorf("an unknown substitution gave %v", err)
	}
}

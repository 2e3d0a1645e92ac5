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
		ResultPath  *string
		Next        string
	}
	Next          string
	Default       string
	Choices       []struct{ Next string }
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
	if diff := cmp.Diff([]string{"EventBusName", "TopicArn"}, others); diff != "" {
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

// TestEveryOutcomeIsPutOnEventBridge: each Notify* state (an outcome
// published to SNS) is reached only through its Emit* state, which puts
// the outcome on EventBridge as the package documents it (source rotor, a
// detail-type used by no other state, the detail's members EventDetails
// lists, values taken by path, never the whole state); an Emit* state is
// retried and caught like the Notify* states, so that an event that
// cannot be put never changes the outcome, and keeps no result.
func TestEveryOutcomeIsPutOnEventBridge(t *testing.T) {
	states := allStates(t)
	into := map[string][]string{} // state -> the states whose transitions lead to it
	for name, s := range states {
		next := []string{s.Next, s.Default}
		for _, c := range s.Choices {
			next = append(next, c.Next)
		}
		for _, c := range s.Catch {
			next = append(next, c.Next)
		}
		for _, n := range next {
			if n != "" && !slices.Contains(into[n], name) {
				into[n] = append(into[n], name)
			}
		}
	}
	used := map[string]string{}
	notified := 0
	for name := range states {
		if !strings.HasPrefix(name, "Notify") {
			continue
		}
		notified++
		emit := "Emit" + strings.TrimPrefix(name, "Notify")
		if diff := cmp.Diff([]string{emit}, into[name]); diff != "" {
			t.Errorf("%s is reached from states other than %s (-want +got):\n%s", name, emit, diff)
		}
		checkEmit(t, emit, states[emit], name, used)
	}
	checkEmit(t, "EmitSwitchedOver", states["EmitSwitchedOver"], "HasGracePeriod", used)
	for _, v := range []string{"Verify", "VerifyMaster"} {
		if states[v].Next != "EmitSwitchedOver" {
			t.Errorf("%s goes to %q, want EmitSwitchedOver", v, states[v].Next)
		}
	}
	if notified != 10 {
		t.Errorf("%d Notify states, want 10: document the new outcome's event", notified)
	}
	var types []string
	for dt := range statemachine.EventDetails {
		types = append(types, dt)
		if used[dt] == "" {
			t.Errorf("detail-type %q is put by no state", dt)
		}
	}
	if len(types) != 11 {
		t.Errorf("%d detail-types documented, want 11", len(types))
	}
}

// checkEmit checks one Emit* state that must go on to next.
func checkEmit(t *testing.T, name string, s state, next string, used map[string]string) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if s.Resource != "arn:aws:states:::events:putEvents" || s.Next != next {
			t.Fatalf("resource %q, next %q; want an events:putEvents task going to %s", s.Resource, s.Next, next)
		}
		b, _ := json.Marshal(s.Parameters)
		var p struct {
			Entries []struct {
				Source, DetailType, EventBusName string
				Detail                           map[string]any
			}
		}
		if err := strictjson.Decode(b, &p); err != nil || len(p.Entries) != 1 {
			t.Fatalf("Parameters %s (%v): want one entry of Source, DetailType, EventBusName, Detail", b, err)
		}
		e := p.Entries[0]
		if e.Source != statemachine.EventSource || e.EventBusName != "${EventBusName}" {
			t.Errorf("source %q on bus %q, want %q on ${EventBusName}", e.Source, e.EventBusName, statemachine.EventSource)
		}
		fields, ok := statemachine.EventDetails[e.DetailType]
		if !ok {
			t.Errorf("detail-type %q is not documented in EventDetails", e.DetailType)
		}
		if other := used[e.DetailType]; other != "" {
			t.Errorf("detail-type %q is put by %s too", e.DetailType, other)
		}
		used[e.DetailType] = name
		var got []string
		for k, v := range e.Detail {
			field, byPath := strings.CutSuffix(k, ".$")
			got = append(got, field)
			path, _ := v.(string)
			switch {
			case field == "event":
				if byPath || !strings.HasPrefix(path, "rotation.") && !strings.HasPrefix(path, "leak.") {
					t.Errorf("detail member event is %v, want a literal rotation.* or leak.* name", v)
				}
			case !byPath:
				t.Errorf("detail member %s is literal, want a path", k)
			case path == "$" || path == "$$" || !strings.HasPrefix(path, "$."):
				if path != "$$.Execution.Id" {
					t.Errorf("detail member %s is %q, want a path to one member of the state", k, path)
				}
			}
		}
		if diff := cmp.Diff(fields, got, cmpSorted); diff != "" {
			t.Errorf("detail members of %q (-documented +put):\n%s", e.DetailType, diff)
		}
		var def struct{ States map[string]map[string]any }
		if err := json.Unmarshal([]byte(statemachine.Definition()), &def); err != nil {
			t.Fatal(err)
		}
		if rp, has := def.States[name]["ResultPath"]; !has || rp != nil {
			t.Errorf("ResultPath %v, want null: the state's data is what it was", rp)
		}
		if len(s.Retry) != 1 || !slices.Equal(s.Retry[0].ErrorEquals, []string{"States.ALL"}) || s.Retry[0].MaxAttempts < 1 {
			t.Errorf("retry %+v, want States.ALL retried", s.Retry)
		}
		if len(s.Catch) != 1 || !slices.Equal(s.Catch[0].ErrorEquals, []string{"States.ALL"}) || s.Catch[0].Next != next ||
			s.Catch[0].ResultPath == nil || *s.Catch[0].ResultPath != "$.eventError" {
			t.Errorf("catch %+v, want States.ALL caught into $.eventError, going on to %s", s.Catch, next)
		}
	})
}

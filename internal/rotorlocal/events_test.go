package rotorlocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/statemachine"
)

// eventsEnv is a local host with one rule per rotor detail-type on the
// default bus, each matching {"source":["rotor"],"detail-type":[TYPE]}
// and delivering to an in-process function; the keyservice API behind an
// httpapi secret, with switches that break parts of it; retries and
// waits scaled down.
type eventsEnv struct {
	*leakEnv
	ks        *keyservice.Server
	ksURL     string
	masterKey string
	// Switches on the keyservice API.
	failAll, failDelete, rejectWhoami atomic.Bool

	mu       sync.Mutex
	onDenied func(localaws.Denial)
	denied   []localaws.Denial
}

const eventsSink = "events-sink"

// ruleName is the name of the rule of a detail-type: "rotor-rotation-succeeded".
func ruleName(detailType string) string {
	return "rotor-" + strings.ToLower(strings.NewReplacer(" ", "-").Replace(detailType))
}

func startEventsEnv(t *testing.T) *eventsEnv {
	t.Helper()
	e := &eventsEnv{leakEnv: &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}, masterKey: "mk_events_test_" + randomHex(8)}
	h, err := Start(t.Context(), Options{DataFile: t.TempDir() + "/local.db", Log: slog.New(e.reqs), FunctionLog: e.logs,
		WaitScale: 0.05, Jitter: func() float64 { return 0 },
		OnDenied: func(d localaws.Denial) {
			e.mu.Lock()
			e.denied = append(e.denied, d)
			hook := e.onDenied
			e.mu.Unlock()
			if hook != nil {
				hook(d)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	h.Server.Lambda.Register(eventsSink, func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })
	eb := eventbridge.NewFromConfig(h.awsConfig())
	for dt := range statemachine.EventDetails {
		pattern, _ := json.Marshal(map[string]any{"source": []string{statemachine.EventSource}, "detail-type": []string{dt}})
		_, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(ruleName(dt)), EventPattern: aws.String(string(pattern))})
		e.must(t, err)
		_, err = eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(ruleName(dt)), Targets: []ebtypes.Target{{
			Id: aws.String("sink"), Arn: aws.String(fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, eventsSink))}}})
		e.must(t, err)
	}

	e.ks = keyservice.New(e.masterKey)
	e.ksURL = startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case e.failAll.Load(), e.failDelete.Load() && r.Method == http.MethodDelete:
			http.Error(w, `{"error":"unavailable"}`, http.StatusInternalServerError)
		case e.rejectWhoami.Load() && r.URL.Path == "/v1/whoami":
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		default:
			e.ks.Handler().ServeHTTP(w, r)
		}
	}))
	return e
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// apiSecret creates an httpapi secret served by the keyservice, with
// grace as its rotor:grace-period, and rotates it once so that its key is
// one rotor minted (and fingerprinted, for leaks). It returns its ARN.
func (e *eventsEnv) apiSecret(t *testing.T, name, grace string) string {
	t.Helper()
	e.createSecret(t, name+"-master", e.ks.HTTPAPIConfig(e.ksURL, keyservice.Serves(name), keyservice.RevokeUnminted()), map[string]string{"rotor:role": "master"})
	initial := e.ks.Mint("initial")
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	arn := e.createSecret(t, name, string(value), map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": name + "-master", "rotor:grace-period": grace})
	e.rotate(t, arn, 0)
	return arn
}

// leakOf starts the execution a leak alert about value starts (the rule
// of the rotor-leaks bus passes the alert's detail as the input).
func (e *eventsEnv) leakOf(t *testing.T, value string) string {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"trigger": "leak", "reason": "pasted in a ticket",
		"leak": map[string]string{"source": "generic", "fingerprint": leak.SHA256([]byte(value)), "reference": "https://example.com/incidents/7"}})
	return e.startInput(t, string(in))
}

// delivery is one event a rule delivered, decoded.
type delivery struct {
	rule, raw  string
	DetailType string         `json:"detail-type"`
	Source     string         `json:"source"`
	Resources  []string       `json:"resources"`
	Detail     map[string]any `json:"detail"`
}

// deliveriesSince waits for the deliveries in flight and returns those
// after mark, failing on any delivery that failed.
func (e *eventsEnv) deliveriesSince(t *testing.T, mark int) []delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	e.must(t, e.h.Server.Events.Wait(ctx))
	var out []delivery
	for _, d := range e.h.Server.Events.Deliveries()[mark:] {
		if d.Failed() {
			t.Fatalf("delivery of %s to %s failed: %s", d.EventID, d.Rule, d.Error)
		}
		dv := delivery{rule: d.Rule, raw: d.Input}
		e.must(t, json.Unmarshal([]byte(d.Input), &dv))
		out = append(out, dv)
	}
	return out
}

// expect is what one execution must have put: each detail-type once, in
// this order, about secretID ("" for the events that name no secret).
type expect struct {
	execution string
	types     []string
	secretID  string
}

// TestEveryOutcomeIsOneEvent: each outcome of the state machine puts
// exactly one event on the local EventBridge, which the rule matching its
// source and detail-type delivers; a rotation that switched over puts
// Rotation Switched Over first. Each event's detail has the members the
// statemachine package documents for its type, names the execution that
// put it (as do its resources, after the state machine), and holds no
// encoding of any secret value.
func TestEveryOutcomeIsOneEvent(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *eventsEnv) []expect
	}{
		{"succeeded", func(t *testing.T, e *eventsEnv) []expect {
			id := e.createSecret(t, "svc/random", "initial-value-0123456789abcdefABCDEF", map[string]string{"rotor:provider": "random"})
			arn := e.rotate(t, id, 0)
			return []expect{{arn, []string{statemachine.DetailTypeSwitchedOver, statemachine.DetailTypeSucceeded}, id}}
		}},
		{"failed and rolled back", func(t *testing.T, e *eventsEnv) []expect {
			id := e.apiSecret(t, "svc/verify-fails", "0s")
			e.rejectWhoami.Store(true)
			arn := e.start(t, id, 0)
			e.wait(t, arn, "FAILED")
			e.failedWith(t, arn, "Rotor.VerificationFailed", "")
			return []expect{{arn, []string{statemachine.DetailTypeFailed}, id}}
		}},
		{"expire failed", func(t *testing.T, e *eventsEnv) []expect {
			e.createSecret(t, "svc/traversal-master", e.ks.HTTPAPIConfig(e.ksURL, keyservice.Serves("svc/*"), keyservice.RevokeUnminted()), map[string]string{"rotor:role": "master"})
			initial := e.ks.Mint("initial")
			value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": ".."})
			id := e.createSecret(t, "svc/traversal", string(value), map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "svc/traversal-master"})
			arn := e.start(t, id, 0)
			e.wait(t, arn, "FAILED")
			return []expect{{arn, []string{statemachine.DetailTypeSwitchedOver, statemachine.DetailTypeExpireFailed}, id}}
		}},
		{"undo failed", func(t *testing.T, e *eventsEnv) []expect {
			id := e.apiSecret(t, "svc/api-down", "0s")
			e.failAll.Store(true)
			arn := e.start(t, id, 0)
			e.wait(t, arn, "FAILED")
			return []expect{{arn, []string{statemachine.DetailTypeUndoFailed}, id}}
		}},
		{"rejected", func(t *testing.T, e *eventsEnv) []expect {
			arn := e.start(t, "svc/does-not-exist", 0)
			e.wait(t, arn, "FAILED")
			return []expect{{arn, []string{statemachine.DetailTypeRejected}, ""}}
		}},
		{"fan-out failed", func(t *testing.T, e *eventsEnv) []expect {
			_, err := e.h.SecretsManager().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("svc/due"),
				SecretString: aws.String("initial-value-0123456789abcdefABCDEF"), ClientRequestToken: aws.String(rotatedAgo(61 * 24 * time.Hour)),
				Tags: tags(map[string]string{"rotor:provider": "random"})})
			e.must(t, err)
			restore := e.withoutAction(t, "states:StartExecution")
			arn := e.startInput(t, `{"trigger":"sweep"}`)
			e.wait(t, arn, "FAILED")
			restore()
			return []expect{{arn, []string{statemachine.DetailTypeFanOutFailed}, ""}}
		}},
		{"leak revoked, leak revoke failed", func(t *testing.T, e *eventsEnv) []expect {
			id := e.apiSecret(t, "svc/leaky", "0s")
			previous := e.apiKey(t, id, "AWSCURRENT")
			// A rotation waits out a long grace period: the previous key is
			// AWSPREVIOUS and live, so a leak of it is revoked without a
			// rotation.
			waiting := e.start(t, id, 3600)
			e.awaitState(t, waiting, "GracePeriod")
			e.failDelete.Store(true)
			failed := e.leakOf(t, previous.APIKey)
			e.wait(t, failed, "FAILED")
			e.failDelete.Store(false)
			revoked := e.leakOf(t, previous.APIKey)
			e.wait(t, revoked, "SUCCEEDED")
			_, err := e.h.StepFunctions().StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: aws.String(waiting)})
			e.must(t, err)
			e.wait(t, waiting, "ABORTED")
			return []expect{
				{waiting, []string{statemachine.DetailTypeSwitchedOver}, id},
				{failed, []string{statemachine.DetailTypeLeakRevokeFailed}, id},
				{revoked, []string{statemachine.DetailTypeLeakRevoked}, id},
			}
		}},
		{"leak of a key rotor revoked, unmanaged leak", func(t *testing.T, e *eventsEnv) []expect {
			id := e.apiSecret(t, "svc/exposed", "0s")
			current := e.apiKey(t, id, "AWSCURRENT")
			emergency := e.leakOf(t, current.APIKey)
			e.wait(t, emergency, "SUCCEEDED")
			again := e.leakOf(t, current.APIKey)
			e.wait(t, again, "SUCCEEDED")
			unmanaged := e.leakOf(t, "a-credential-rotor-never-held-"+randomHex(8))
			e.wait(t, unmanaged, "SUCCEEDED")
			return []expect{
				{emergency, []string{statemachine.DetailTypeSwitchedOver, statemachine.DetailTypeSucceeded}, id},
				{again, []string{statemachine.DetailTypeLeakAlreadyRevoked}, id},
				{unmanaged, []string{statemachine.DetailTypeLeakUnmanaged}, ""},
			}
		}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startEventsEnv(t)
			mark := len(e.h.Server.Events.Deliveries())
			want := tc.run(t, e)
			ds := e.deliveriesSince(t, mark)
			// The fixtures' own first rotations put events too: only the
			// executions of the outcome are counted, and all of theirs.
			byExec := map[string][]delivery{}
			for _, d := range ds {
				exec, _ := d.Detail["execution"].(string)
				byExec[exec] = append(byExec[exec], d)
			}
			for _, w := range want {
				var got []string
				for _, d := range byExec[w.execution] {
					got = append(got, d.DetailType)
					seen[d.DetailType] = true
					e.checkEvent(t, d, w)
				}
				if diff := cmp.Diff(w.types, got); diff != "" {
					t.Errorf("events of %s (-want +got):\n%s\nhistory: %.4000s", w.execution, diff, e.history(t, w.execution))
				}
			}
			e.scanEvents(t, ds)
		})
	}
	for dt := range statemachine.EventDetails {
		if !seen[dt] && !t.Failed() {
			t.Errorf("no case put a %q event", dt)
		}
	}
}

// checkEvent checks one delivered event of an execution: it went through
// its type's rule, and its detail is as documented.
func (e *eventsEnv) checkEvent(t *testing.T, d delivery, w expect) {
	t.Helper()
	if d.rule != ruleName(d.DetailType) || d.Source != statemachine.EventSource {
		t.Errorf("event %q from %q delivered by rule %s", d.DetailType, d.Source, d.rule)
	}
	var members []string
	for k := range d.Detail {
		members = append(members, k)
	}
	sort.Strings(members)
	documented := slices.Sorted(slices.Values(statemachine.EventDetails[d.DetailType]))
	if diff := cmp.Diff(documented, members); diff != "" {
		t.Errorf("%s: detail members (-documented +got):\n%s", d.DetailType, diff)
	}
	machine := e.h.StateMachineARN
	if !cmp.Equal([]string{machine, w.execution}, d.Resources) {
		t.Errorf("%s: resources %v, want the state machine and the execution", d.DetailType, d.Resources)
	}
	if w.secretID != "" && d.Detail["secretId"] != w.secretID {
		t.Errorf("%s: secretId %v, want %s", d.DetailType, d.Detail["secretId"], w.secretID)
	}
	if ev, _ := d.Detail["event"].(string); !strings.HasPrefix(ev, "rotation.") && !strings.HasPrefix(ev, "leak.") {
		t.Errorf("%s: event %q", d.DetailType, ev)
	}
}

// scanEvents fails on any encoding of a secret value in a delivered event:
// the keys the keyservice minted, its master key, the secrets' values.
func (e *eventsEnv) scanEvents(t *testing.T, ds []delivery) {
	t.Helper()
	secrets := append(e.ks.Minted(), e.masterKey)
	list, err := e.h.SecretsManager().ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
	e.must(t, err)
	for _, s := range list.SecretList {
		ids, err := e.h.SecretsManager().ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: s.ARN})
		e.must(t, err)
		for _, v := range ids.Versions {
			out, err := e.h.SecretsManager().GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: s.ARN, VersionId: v.VersionId})
			if err == nil {
				secrets = append(secrets, aws.ToString(out.SecretString))
			}
		}
	}
	if len(secrets) < 2 {
		t.Fatalf("only %d secret values to look for", len(secrets))
	}
	for _, d := range ds {
		texts := leaves(d.raw)
		for i, s := range secrets {
			for _, enc := range redact.Encodings(s) {
				for _, text := range texts {
					if strings.Contains(text, enc) {
						t.Errorf("the %s event holds an encoding (%d bytes) of secret value %d", d.DetailType, len(enc), i)
					}
				}
			}
		}
	}
}

// awaitState waits until an execution has entered state.
func (e *eventsEnv) awaitState(t *testing.T, arn, state string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(e.history(t, arn), `"Name":"`+state+`"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not enter %s: %s", arn, state, e.history(t, arn))
		}
	}
}

// withoutAction removes action from the state machine role's policies and
// returns what puts them back.
func (e *eventsEnv) withoutAction(t *testing.T, action string) (restore func()) {
	t.Helper()
	role := e.machineRole(t)
	changed := map[string]string{}
	for name, doc := range role.Policies {
		var d map[string]any
		e.must(t, json.Unmarshal([]byte(doc), &d))
		sts, _ := d["Statement"].([]any)
		var kept []any
		removed := false
		for _, s := range sts {
			st := s.(map[string]any)
			var acts []any
			switch a := st["Action"].(type) {
			case string:
				acts = []any{a}
			case []any:
				acts = a
			}
			left := slices.DeleteFunc(slices.Clone(acts), func(a any) bool { return a == action })
			if len(left) != len(acts) {
				removed = true
			}
			if len(left) > 0 {
				st["Action"] = left
				kept = append(kept, st)
			}
		}
		if removed {
			d["Statement"] = kept
			b, _ := json.Marshal(d)
			e.must(t, e.h.Server.IAM.PutRolePolicy(role.Name, name, string(b)))
			changed[name] = doc
		}
	}
	if len(changed) == 0 {
		t.Fatalf("the state machine's role %s does not grant %s", role.Name, action)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for name, doc := range changed {
				if err := e.h.Server.IAM.PutRolePolicy(role.Name, name, doc); err != nil {
					t.Errorf("restoring %s: %v", name, err)
				}
			}
		})
	}
}

func (e *eventsEnv) machineRole(t *testing.T) (role struct {
	Name     string
	Policies map[string]string
}) {
	t.Helper()
	for _, r := range e.h.Deployment.Roles {
		if r.ARN == e.h.Deployment.StateMachines[0].RoleARN {
			role.Name, role.Policies = r.Name, r.Policies
			return role
		}
	}
	t.Fatal("the state machine's role is not in the deployment")
	return role
}

// TestEventsOnceThroughRetries: a put that is refused is retried and puts
// its event once; a notification retried after the event was put does not
// put it again; an event that can never be put is caught, and the
// rotation still succeeds and is still published to SNS.
func TestEventsOnceThroughRetries(t *testing.T) {
	for _, tc := range []struct {
		name, action    string
		restoreOnDenial bool
		want            []string // the rotation's events
		wantSNS         int      // rotation.succeeded messages
	}{
		{"events:PutEvents refused once", "events:PutEvents", true, []string{statemachine.DetailTypeSwitchedOver, statemachine.DetailTypeSucceeded}, 1},
		{"sns:Publish refused once", "sns:Publish", true, []string{statemachine.DetailTypeSwitchedOver, statemachine.DetailTypeSucceeded}, 1},
		{"events:PutEvents always refused", "events:PutEvents", false, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEventsEnv(t)
			id := e.createSecret(t, "svc/random", "initial-value-0123456789abcdefABCDEF", map[string]string{"rotor:provider": "random"})
			mark := len(e.h.Server.Events.Deliveries())
			restore := e.withoutAction(t, tc.action)
			defer restore()
			if tc.restoreOnDenial {
				e.mu.Lock()
				e.onDenied = func(d localaws.Denial) {
					if d.Action == tc.action {
						go restore() // not within the endpoint's authorization
					}
				}
				e.mu.Unlock()
			}
			arn := e.rotate(t, id, 0)
			var got []string
			for _, d := range e.deliveriesSince(t, mark) {
				got = append(got, d.DetailType)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			e.mu.Lock()
			refused := 0
			for _, d := range e.denied {
				if d.Action == tc.action {
					refused++
				}
			}
			e.mu.Unlock()
			if refused == 0 {
				t.Errorf("%s was never refused: the test tested nothing", tc.action)
			}
			sns := 0
			for _, m := range e.h.Server.SNS.Messages() {
				if strings.Contains(m.Message, `"rotation.succeeded"`) && strings.Contains(m.Message, id) {
					sns++
				}
			}
			if sns != tc.wantSNS {
				t.Errorf("%d rotation.succeeded notifications, want %d\nhistory: %.3000s", sns, tc.wantSNS, e.history(t, arn))
			}
		})
	}
}

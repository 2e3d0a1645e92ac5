package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/rotation"
)

func TestSuccessPath(t *testing.T) {
	for _, tc := range []struct {
		provider, secret string
	}{
		{"httpapi", apiSecret},
		{"random", rndSecret},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			e := newEnv(t)
			old := e.holder(tc.secret, rotation.LabelCurrent)
			oldValue := e.value(tc.secret, old)
			r := e.rotate(fmt.Sprintf(`{"secretId": %q, "trigger": "manual", "reason": "test"}`, tc.secret))
			if r.failedAt != "" {
				t.Fatalf("rotation failed at %s with %s", r.failedAt, r.errType)
			}
			if r.previous != old {
				t.Errorf("create reported previous %q, want the old current %q", r.previous, old)
			}
			want := map[string][]string{
				r.token: {rotation.LabelCurrent},
				old:     {rotation.LabelPrevious, rotation.LabelRevoked},
			}
			if diff := cmp.Diff(want, e.stages(tc.secret)); diff != "" {
				t.Errorf("labels after rotation (-want +got):\n%s", diff)
			}
			newValue := e.value(tc.secret, "")
			if newValue == oldValue {
				t.Error("the current value did not change")
			}
			if tc.provider == "httpapi" {
				if e.ks.Accepts(field(oldValue, "apiKey")) {
					t.Error("the key API still accepts the old key")
				}
				if !e.ks.Accepts(field(newValue, "apiKey")) {
					t.Error("the key API rejects the new key")
				}
				if n := len(e.ks.Live()); n != 1 {
					t.Errorf("%d live keys at the API, want 1", n)
				}
				if field(newValue, "owner") != "billing" {
					t.Error("the secret's other fields were not kept")
				}
			} else if len(newValue) != 48 {
				t.Errorf("random value has %d characters, want 48 (tag rotor:random:length)", len(newValue))
			}
			e.checkHygiene()
		})
	}
}

func TestEveryStepIsIdempotent(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "schedule"}`)[0]
	token := uuid.NewString()
	outcomes := func(fn string, p map[string]any) []string {
		return []string{e.must(fn, p)["outcome"].(string), e.must(fn, p)["outcome"].(string)}
	}
	created := outcomes(rotation.FuncCreate, step(item, token))
	prev := e.holder(apiSecret, rotation.LabelCurrent)
	got := [][]string{
		created,
		outcomes(rotation.FuncSwitchOver, step(item, token, "previousVersionId", prev)),
		outcomes(rotation.FuncVerify, step(item, token, "previousVersionId", prev)),
		outcomes(rotation.FuncExpire, step(item, token, "previousVersionId", prev)),
	}
	want := [][]string{{"created", "reused"}, {"switched", "already-current"}, {"verified", "verified"}, {"revoked", "already-revoked"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes of each step run twice (-want +got):\n%s", diff)
	}
	if n := len(e.ks.Live()); n != 1 {
		t.Errorf("%d live keys, want 1", n)
	}
	e.checkHygiene()
}

func TestVerifyFailureRollsBack(t *testing.T) {
	e := newEnv(t)
	e.rejectNew.Store(true)
	old := e.holder(apiSecret, rotation.LabelCurrent)
	r := e.rotate(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)
	if r.failedAt != rotation.FuncVerify || r.errType != "Rotor.VerificationFailed" {
		t.Fatalf("failed at %q with %q, want verify with Rotor.VerificationFailed", r.failedAt, r.errType)
	}
	if cur := e.holder(apiSecret, rotation.LabelCurrent); cur != old {
		t.Errorf("AWSCURRENT is %s after rollback, want the old version %s", cur, old)
	}
	if !slices.Contains(e.stages(apiSecret)[r.token], rotation.LabelFailed) {
		t.Errorf("the token's labels are %v, want ROTOR_FAILED among them", e.stages(apiSecret)[r.token])
	}
	if e.holder(apiSecret, rotation.LabelPending) != "" {
		t.Error("AWSPENDING survived the rollback")
	}
	e.rejectNew.Store(false)
	if !e.ks.Accepts(e.initial.Secret) {
		t.Error("the old key no longer works")
	}
	if k := field(e.value(apiSecret, r.token), "apiKey"); e.ks.Accepts(k) {
		t.Error("the new key was not revoked")
	}
	if u := e.unrecorded(); len(u) > 0 {
		t.Errorf("live keys not recorded in any version: %v", u)
	}
	e.checkHygiene()
}

func TestConcurrentRotationConflicts(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	first := uuid.NewString()
	e.must(rotation.FuncCreate, step(item, first))
	before := e.snapshot()
	_, ierr := e.invoke(rotation.FuncCreate, step(item, uuid.NewString()))
	if ierr == nil || ierr.Type != "Rotor.Conflict" {
		t.Fatalf("second create = %v, want Rotor.Conflict", ierr)
	}
	if !strings.Contains(ierr.Message, first) {
		t.Errorf("the conflict message %q does not name the version holding AWSPENDING", ierr.Message)
	}
	if !bytes.Equal(before, e.snapshot()) {
		t.Error("the refused create changed the store")
	}
	if n := len(e.ks.Live()); n != 2 {
		t.Errorf("%d live keys, want the initial and the first rotation's", n)
	}
	e.checkHygiene()
}

func TestAbandonedPendingIsReclaimed(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	abandoned := uuid.NewString()
	e.must(rotation.FuncCreate, step(item, abandoned))
	abandonedKey := field(e.value(apiSecret, abandoned), "apiKey")

	e.clock.Advance(rotation.DefaultLockTTL - time.Second)
	if _, ierr := e.invoke(rotation.FuncCreate, step(item, uuid.NewString())); ierr == nil || ierr.Type != "Rotor.Conflict" {
		t.Fatalf("create just inside the lock TTL = %v, want Rotor.Conflict", ierr)
	}
	e.clock.Advance(2 * time.Second)
	r := e.rotateItem(item)
	if r.failedAt != "" {
		t.Fatalf("rotation after the lock TTL failed at %s: %s", r.failedAt, r.errType)
	}
	if e.ks.Accepts(abandonedKey) {
		t.Error("the abandoned rotation's key is still live")
	}
	if slices.Contains(e.stages(apiSecret)[abandoned], rotation.LabelPending) {
		t.Error("the abandoned version still holds AWSPENDING")
	}
	if cur := e.holder(apiSecret, rotation.LabelCurrent); cur != r.token {
		t.Errorf("AWSCURRENT is %s, want %s", cur, r.token)
	}
	if u := e.unrecorded(); len(u) > 0 {
		t.Errorf("live keys not recorded in any version: %v", u)
	}
	e.checkHygiene()
}

func TestInvalidInputChangesNothing(t *testing.T) {
	token := "6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
	type tc struct {
		rule, fn, payload, want string
		setup                   func(e *env)
	}
	cases := []tc{
		{rule: "unknown provider", fn: rotation.FuncResolve, payload: `{"secretId":"svc/unknown","trigger":"manual"}`,
			want: `unknown provider "nope"`, setup: func(e *env) {
				e.createSecret("svc/unknown", "value-123456", map[string]string{"rotor:provider": "nope"})
			}},
		{rule: "unknown provider at create", fn: rotation.FuncCreate, payload: `{"secretId":"svc/unknown","token":"` + token + `"}`,
			want: `registered providers: httpapi, random`, setup: func(e *env) {
				e.createSecret("svc/unknown", "value-123456", map[string]string{"rotor:provider": "nope"})
			}},
		{rule: "missing master secret tag", fn: rotation.FuncCreate, payload: `{"secretId":"svc/nomaster","token":"` + token + `"}`,
			want: "needs a master secret, but the secret has no rotor:master-secret tag", setup: func(e *env) {
				e.createSecret("svc/nomaster", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi"})
			}},
		{rule: "master secret that does not exist", fn: rotation.FuncCreate, payload: `{"secretId":"svc/ghost","token":"` + token + `"}`,
			want: `master secret "rotor/masters/ghost" (tag rotor:master-secret) does not exist`, setup: func(e *env) {
				e.createSecret("svc/ghost", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/ghost"})
			}},
		{rule: "master secret that does not exist, at resolve", fn: rotation.FuncResolve, payload: `{"secretId":"svc/ghost","trigger":"manual"}`,
			want: `master secret "rotor/masters/ghost" (tag rotor:master-secret) does not exist`, setup: func(e *env) {
				e.createSecret("svc/ghost", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/ghost"})
			}},
		{rule: "master secret without rotor:role=master", fn: rotation.FuncResolve, payload: `{"secretId":"svc/untagged","trigger":"manual"}`,
			want: `master secret "rotor/masters/untagged" lacks the tag rotor:role=master`, setup: func(e *env) {
				e.createSecret("rotor/masters/untagged", `{"masterKey":"`+masterKey+`"}`, nil)
				e.createSecret("svc/untagged", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/untagged"})
			}},
		{rule: "malformed master secret", fn: rotation.FuncCreate, payload: `{"secretId":"svc/badmaster","token":"` + token + `"}`,
			want: `unknown field "/baseURL"`, setup: func(e *env) {
				e.createSecret("rotor/masters/bad", `{"masterKey":"`+masterKey+`","baseURL":"https://x","rotor":{"serves":["svc/*"]}}`, map[string]string{"rotor:role": "master"})
				e.createSecret("svc/badmaster", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/bad"})
			}},
		{rule: "master that does not list the secret", fn: rotation.FuncCreate, payload: `{"secretId":"other/team","token":"` + token + `"}`,
			want: `master secret "rotor/masters/keyservice" (tag rotor:master-secret) does not consent to serve it`, setup: func(e *env) {
				e.createSecret("other/team", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": masterName})
			}},
		{rule: "master that does not list the secret, at cleanup", fn: rotation.FuncExpire,
			payload: `{"action":"cleanup","secretId":"other/team","token":"` + token + `"}`,
			want:    `does not consent to serve it`, setup: func(e *env) {
				e.createSecret("other/team", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": masterName})
			}},
		{rule: "master that does not list the secret, at rollback", fn: rotation.FuncExpire,
			payload: `{"action":"rollback","secretId":"other/team","token":"` + token + `"}`,
			want:    `does not consent to serve it`, setup: func(e *env) {
				e.createSecret("other/team", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": masterName})
			}},
		{rule: "master with no consent field", fn: rotation.FuncCreate, payload: `{"secretId":"svc/old","token":"` + token + `"}`,
			want: `does not consent to serve it`, setup: func(e *env) {
				e.createSecret("rotor/masters/old", e.ks.HTTPAPIConfig(e.srv.URL), map[string]string{"rotor:role": "master"})
				e.createSecret("svc/old", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/old"})
			}},
		{rule: "master whose consent field is malformed", fn: rotation.FuncCreate, payload: `{"secretId":"svc/typo","token":"` + token + `"}`,
			want: `field "rotor": unknown field "/serve"`, setup: func(e *env) {
				e.createSecret("rotor/masters/typo", `{"masterKey":"`+masterKey+`","rotor":{"serve":["svc/*"]}}`, map[string]string{"rotor:role": "master"})
				e.createSecret("svc/typo", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/typo"})
			}},
		{rule: "master with a duplicate consent field", fn: rotation.FuncCreate, payload: `{"secretId":"svc/dup","token":"` + token + `"}`,
			want: `duplicate member`, setup: func(e *env) {
				e.createSecret("rotor/masters/dup", `{"masterKey":"`+masterKey+`","rotor":{"serves":[]},"rotor":{"serves":["svc/*"]}}`, map[string]string{"rotor:role": "master"})
				e.createSecret("svc/dup", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/dup"})
			}},
		{rule: "master whose value is not an object", fn: rotation.FuncCreate, payload: `{"secretId":"svc/flat","token":"` + token + `"}`,
			want: `master secret "rotor/masters/flat": the value is not a JSON object`, setup: func(e *env) {
				e.createSecret("rotor/masters/flat", masterKey, map[string]string{"rotor:role": "master"})
				e.createSecret("svc/flat", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "rotor/masters/flat"})
			}},
		{rule: "max-age of zero", fn: rotation.FuncResolve, payload: `{"secretId":"svc/age","trigger":"manual"}`,
			want: `tag rotor:max-age: "0s" is not a duration from 1h0m0s to 3650d`, setup: func(e *env) {
				e.createSecret("svc/age", "value-123456", map[string]string{"rotor:provider": "random", "rotor:max-age": "0s"})
			}},
		{rule: "unparseable max-age at create", fn: rotation.FuncCreate, payload: `{"secretId":"svc/age","token":"` + token + `"}`,
			want: `tag rotor:max-age: "two months" is not a duration`, setup: func(e *env) {
				e.createSecret("svc/age", "value-123456", map[string]string{"rotor:provider": "random", "rotor:max-age": "two months"})
			}},
		{rule: "misspelt rotor tag", fn: rotation.FuncResolve, payload: `{"secretId":"svc/typo","trigger":"manual"}`,
			want: `tag rotor:grace-perod is not one rotor knows`, setup: func(e *env) {
				e.createSecret("svc/typo", "value-123456", map[string]string{"rotor:provider": "random", "rotor:grace-perod": "1h"})
			}},
		{rule: "option of another provider", fn: rotation.FuncResolve, payload: `{"secretId":"svc/mixed","trigger":"manual"}`,
			want: `tag rotor:postgres:password-length is an option of provider postgres, but rotor:provider is random`, setup: func(e *env) {
				e.createSecret("svc/mixed", "value-123456", map[string]string{"rotor:provider": "random", "rotor:postgres:password-length": "40"})
			}},
		{rule: "managed secret marked as a master", fn: rotation.FuncResolve, payload: `{"secretId":"svc/both","trigger":"manual"}`,
			want: `tag rotor:role marks a master secret`, setup: func(e *env) {
				e.createSecret("svc/both", "value-123456", map[string]string{"rotor:provider": "random", "rotor:role": "master"})
			}},
		{rule: "unmanaged secret", fn: rotation.FuncResolve, payload: `{"secretId":"rotor/masters/keyservice","trigger":"manual"}`,
			want: "is not managed by rotor: it has no rotor:provider tag"},
		{rule: "bad provider option", fn: rotation.FuncResolve, payload: `{"secretId":"svc/weak","trigger":"manual"}`,
			want: "bits of entropy", setup: func(e *env) {
				e.createSecret("svc/weak", "value-123456", map[string]string{"rotor:provider": "random", "rotor:random:length": "8"})
			}},
		{rule: "bad grace period tag", fn: rotation.FuncResolve, payload: `{"secretId":"svc/grace","trigger":"manual"}`,
			want: `tag rotor:grace-period: "tomorrow" is not a duration from 0s to 365d`, setup: func(e *env) {
				e.createSecret("svc/grace", "value-123456", map[string]string{"rotor:provider": "random", "rotor:grace-period": "tomorrow"})
			}},
		{rule: "payload is not JSON", fn: rotation.FuncCreate, payload: `{"secretId": "` + apiSecret + `", token}`, want: "malformed JSON at byte"},
		{rule: "payload has an unknown field", fn: rotation.FuncSwitchOver, payload: `{"secretId":"` + apiSecret + `","token":"` + token + `","tokn":"x"}`,
			want: `unknown field "/tokn"`},
		{rule: "payload field has the wrong type", fn: rotation.FuncVerify, payload: `{"secretId":"` + apiSecret + `","token":42}`,
			want: `"/token" must be a string`},
		{rule: "token missing", fn: rotation.FuncCreate, payload: `{"secretId":"` + apiSecret + `"}`, want: "token must be 32 to 64"},
		{rule: "secretId missing", fn: rotation.FuncExpire, payload: `{"token":"` + token + `"}`, want: "secretId is required"},
		{rule: "unknown expire action", fn: rotation.FuncExpire, payload: `{"action":"nuke","secretId":"` + apiSecret + `","token":"` + token + `"}`,
			want: `action "nuke" is not expire, rollback, cleanup, revoke or verify`},
		{rule: "action on the wrong function", fn: rotation.FuncCreate, payload: `{"action":"rollback","secretId":"` + apiSecret + `","token":"` + token + `"}`,
			want: `action "rollback"`},
		{rule: "trigger missing", fn: rotation.FuncResolve, payload: `{"secretId":"` + apiSecret + `"}`, want: "trigger is required"},
		{rule: "unknown trigger", fn: rotation.FuncResolve, payload: `{"secretId":"` + apiSecret + `","trigger":"cron"}`, want: `trigger "cron" is not`},
		{rule: "manual without secretId", fn: rotation.FuncResolve, payload: `{"trigger":"manual"}`, want: `trigger "manual" needs secretId`},
		{rule: "negative grace period", fn: rotation.FuncResolve, payload: `{"secretId":"` + apiSecret + `","trigger":"manual","gracePeriodSeconds":-1}`,
			want: "gracePeriodSeconds -1 is outside"},
		{rule: "leak with a grace period", fn: rotation.FuncResolve, payload: `{"secretId":"` + apiSecret + `","trigger":"leak","gracePeriodSeconds":60}`,
			want: "a leak rotation has no grace period"},
		{rule: "input names a case-variant field", fn: rotation.FuncResolve, payload: `{"SecretId":"` + apiSecret + `","trigger":"manual"}`,
			want: `unknown field "/SecretId"`},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			e := newEnv(t)
			if c.setup != nil {
				c.setup(e)
			}
			// Reading a value stamps LastAccessedDate with the day; read
			// everything once so that only a real change can alter the bytes.
			e.allValues()
			before := e.snapshot()
			keys := len(e.ks.Minted())
			_, ierr := e.invoke(c.fn, c.payload)
			if ierr == nil || ierr.Type != "Rotor.InvalidInput" {
				t.Fatalf("%s(%s) = %+v, want Rotor.InvalidInput", c.fn, c.payload, ierr)
			}
			if !strings.Contains(ierr.Message, c.want) {
				t.Errorf("message %q does not name the problem (%q)", ierr.Message, c.want)
			}
			if !bytes.Equal(before, e.snapshot()) {
				t.Error("the store changed")
			}
			if n := len(e.ks.Minted()); n != keys {
				t.Errorf("the key API minted %d keys", n-keys)
			}
			e.checkHygiene()
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.allValues()
	before := e.snapshot()
	plan := e.must(rotation.FuncResolve, `{"secretId":"`+apiSecret+`","trigger":"manual","dryRun":true}`)
	if plan["dryRun"] != true || len(plan["items"].([]any)) != 1 {
		t.Fatalf("plan = %v, want a dry-run plan with one item", plan)
	}
	item := plan["items"].([]any)[0].(map[string]any)
	if item["currentVersionId"] != e.holder(apiSecret, rotation.LabelCurrent) || item["gracePeriodSeconds"] != float64(3600) {
		t.Errorf("plan item %v does not show the current version and the 1h grace period", item)
	}
	if !bytes.Equal(before, e.snapshot()) || len(e.ks.Minted()) != 1 {
		t.Error("a dry run changed something")
	}
}

func TestExpireRefusesCurrentVersion(t *testing.T) {
	e := newEnv(t)
	cur := e.holder(apiSecret, rotation.LabelCurrent)
	e.allValues()
	before := e.snapshot()
	_, ierr := e.invoke(rotation.FuncExpire, map[string]any{"secretId": apiSecret, "token": uuid.NewString(), "previousVersionId": cur})
	if ierr == nil || ierr.Type != "Rotor.Unsafe" || !strings.Contains(ierr.Message, "it is AWSCURRENT") {
		t.Fatalf("expire(current) = %+v, want Rotor.Unsafe naming AWSCURRENT", ierr)
	}
	if !bytes.Equal(before, e.snapshot()) || !e.ks.Accepts(e.initial.Secret) {
		t.Error("the refused expire changed something")
	}
}

func TestEmergencyRevokesEveryOldCredential(t *testing.T) {
	e := newEnv(t)
	// A normal rotation whose grace period is still running: its previous
	// version (the initial key) is live.
	item := e.resolve(`{"secretId":"` + apiSecret + `","trigger":"schedule"}`)[0]
	first := uuid.NewString()
	prev := e.must(rotation.FuncCreate, step(item, first))["previousVersionId"]
	e.must(rotation.FuncSwitchOver, step(item, first, "previousVersionId", prev))
	firstKey := field(e.value(apiSecret, first), "apiKey")

	leak := e.resolve(`{"trigger":"leak","leak":{"source":"generic","secretId":"` + apiSecret + `","reference":"ticket-1"}}`)[0]
	if leak["mode"] != "emergency" || leak["gracePeriodSeconds"] != float64(0) {
		t.Fatalf("leak item = %v, want emergency mode with grace 0", leak)
	}
	r := e.rotateItem(leak)
	if r.failedAt != "" {
		t.Fatalf("emergency rotation failed at %s: %s", r.failedAt, r.errType)
	}
	live := e.ks.Live()
	if len(live) != 1 || live[0].Secret != field(e.value(apiSecret, ""), "apiKey") {
		t.Errorf("%d keys live after the emergency rotation; want only the new current one", len(live))
	}
	if e.ks.Accepts(firstKey) || e.ks.Accepts(e.initial.Secret) {
		t.Error("an old key survived the emergency rotation")
	}
	e.checkHygiene()
}

func TestSweepPlansOnlyOverdueSecrets(t *testing.T) {
	e := newEnv(t)
	e.createSecret("svc/young", "value-123456", map[string]string{"rotor:provider": "random", "rotor:max-age": "90d"})
	e.clock.Advance(61 * 24 * time.Hour) // past the default 60d, not past 90d
	e.createSecret("svc/fresh", "value-123456", map[string]string{"rotor:provider": "random"})
	plan := e.must(rotation.FuncResolve, `{"trigger":"sweep"}`)
	var names []string
	for _, it := range e.planItems(plan) {
		names = append(names, it["name"].(string))
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{rndSecret, apiSecret}, names); diff != "" {
		t.Errorf("sweep planned (-want +got):\n%s", diff)
	}
}

func TestFirstValueIsMintedForAnEmptySecret(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: aws.String("svc/new"),
		Tags: []types.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}); err != nil {
		t.Fatal(err)
	}
	r := e.rotate(`{"secretId":"svc/new","trigger":"manual"}`)
	if r.failedAt != "" || r.previous != "" {
		t.Fatalf("first rotation: failed at %q, previous %q", r.failedAt, r.previous)
	}
	if diff := cmp.Diff(map[string][]string{r.token: {rotation.LabelCurrent}}, e.stages("svc/new")); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestPlanJSONShape(t *testing.T) {
	// The state machine's paths depend on these names.
	e := newEnv(t)
	plan := e.must(rotation.FuncResolve, `{"secretId":"`+rndSecret+`","trigger":"manual"}`)
	b, _ := json.Marshal(plan)
	for _, k := range []string{`"items"`, `"dryRun"`, `"pace":{"concurrency":5,"rotationsPerSecond":2.5,"seconds":2}`, `"token"`, `"count":1`, `"secretId"`, `"provider":"random"`, `"mode":"normal"`, `"gracePeriodSeconds":86400`, `"trigger":"manual"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("plan %s lacks %s", b, k)
		}
	}
}

func TestSweepPlansSecretsWithBrokenPolicy(t *testing.T) {
	// A bad tag never silently means the default: the sweep plans the
	// secret, and its create fails naming the tag.
	e := newEnv(t)
	e.createSecret("svc/zero-age", "value-123456", map[string]string{"rotor:provider": "random", "rotor:max-age": "0s"})
	plan := e.must(rotation.FuncResolve, `{"trigger":"sweep"}`)
	var item map[string]any
	for _, it := range e.planItems(plan) {
		if it["name"] == "svc/zero-age" {
			item = it
		}
	}
	if item == nil {
		t.Fatalf("the sweep did not plan the secret with rotor:max-age=0s: %v", plan["items"])
	}
	_, ierr := e.invoke(rotation.FuncCreate, step(item, uuid.NewString(), "mode", item["mode"]))
	if ierr == nil || ierr.Type != "Rotor.InvalidInput" || !strings.Contains(ierr.Message, `tag rotor:max-age: "0s"`) {
		t.Fatalf("create = %+v; want Rotor.InvalidInput naming the tag", ierr)
	}
}

func TestSecretPrefixesScopeTheDeployment(t *testing.T) {
	e := newEnv(t)
	e.svc.SecretPrefixes = []string{"app/", "svc/"}
	e.createSecret("svc/api", `{"apiKey":"k-123456"}`, map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": masterName})
	e.allValues()
	before := e.snapshot()

	for _, c := range []struct{ fn, payload, want string }{
		{rotation.FuncResolve, `{"secretId":"` + apiSecret + `","trigger":"manual"}`, `secret "` + apiSecret + `" is outside the secrets this deployment may touch (names starting with "app/", "svc/"`},
		{rotation.FuncCreate, `{"secretId":"` + apiSecret + `","token":"` + uuid.NewString() + `"}`, `is outside the secrets this deployment may touch`},
		{rotation.FuncCreate, `{"secretId":"svc/api","token":"` + uuid.NewString() + `"}`, `secret "svc/api": master secret: secret "` + masterName + `" is outside`},
	} {
		_, ierr := e.invoke(c.fn, c.payload)
		if ierr == nil || ierr.Type != "Rotor.InvalidInput" || !strings.Contains(ierr.Message, c.want) {
			t.Errorf("%s(%s) = %+v, want Rotor.InvalidInput containing %q", c.fn, c.payload, ierr, c.want)
		}
	}
	if !bytes.Equal(before, e.snapshot()) {
		t.Error("the store changed")
	}

	e.clock.Advance(61 * 24 * time.Hour)
	plan := e.must(rotation.FuncResolve, `{"trigger":"sweep"}`)
	var names []string
	for _, it := range e.planItems(plan) {
		names = append(names, it["name"].(string))
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{rndSecret, "svc/api"}, names); diff != "" {
		t.Errorf("sweep planned (-want +got):\n%s", diff)
	}
	if plan["outOfScope"] != float64(1) {
		t.Errorf("outOfScope = %v, want 1 (%s)", plan["outOfScope"], apiSecret)
	}
}

// TestCreateWaitsForAnUnfinishedSwitchover (issue 11, failure 3): rotation
// A's switchover moved AWSCURRENT but died before it removed AWSPENDING;
// rotation B's create must wait for A (Rotor.Conflict), not take A's
// version as current, which A may still roll back. Past the lock TTL, B
// takes the lock over without revoking A's credential, which is current.
func TestCreateWaitsForAnUnfinishedSwitchover(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	a := uuid.NewString()
	out := e.must(rotation.FuncCreate, step(item, a))
	previous := out["previousVersionId"].(string)
	// The first half of A's switchover: AWSCURRENT moved, AWSPENDING kept.
	if _, err := e.store.UpdateSecretVersionStage(context.Background(), &sm.UpdateSecretVersionStageInput{SecretId: aws.String(apiSecret),
		VersionStage: aws.String(rotation.LabelCurrent), MoveToVersionId: aws.String(a), RemoveFromVersionId: aws.String(previous)}); err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	_, ierr := e.invoke(rotation.FuncCreate, step(item, uuid.NewString()))
	if ierr == nil || ierr.Type != "Rotor.Conflict" || !strings.Contains(ierr.Message, a) {
		t.Fatalf("B's create = %v, want Rotor.Conflict naming A's version", ierr)
	}
	if !bytes.Equal(before, e.snapshot()) || len(e.ks.Live()) != 2 {
		t.Error("the refused create changed something")
	}

	e.clock.Advance(rotation.DefaultLockTTL + time.Minute)
	b := uuid.NewString()
	out = e.must(rotation.FuncCreate, step(item, b))
	if out["previousVersionId"] != a {
		t.Errorf("B's previous version is %v, want A's %s", out["previousVersionId"], a)
	}
	if !e.ks.Accepts(field(e.value(apiSecret, a), "apiKey")) {
		t.Error("taking the lock over revoked A's credential, which is current")
	}
	if diff := cmp.Diff([]string{rotation.LabelCurrent}, e.stages(apiSecret)[a]); diff != "" {
		t.Errorf("A's labels (-want +got):\n%s", diff)
	}
}

// TestUndoNeverActsForAnotherRotation (issue 11, build 2): rotation A
// switched over, then rotation B created and switched over on top of it,
// so A's version is B's previous, live through B's grace period. A's
// rollback (its verify failed late, or found AWSCURRENT moved) must not
// revoke it or move a label: B's expire revokes it.
func TestUndoNeverActsForAnotherRotation(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	a := uuid.NewString()
	prevA := e.must(rotation.FuncCreate, step(item, a))["previousVersionId"].(string)
	e.must(rotation.FuncSwitchOver, step(item, a, "previousVersionId", prevA))
	b := uuid.NewString()
	e.must(rotation.FuncCreate, step(item, b))
	e.must(rotation.FuncSwitchOver, step(item, b, "previousVersionId", a))
	before := e.snapshot()

	out := e.must(rotation.FuncExpire, step(item, a, "action", "rollback", "previousVersionId", prevA))
	if out["outcome"] != rotation.OutcomeSuperseded {
		t.Errorf("A's rollback outcome %v, want %q", out["outcome"], rotation.OutcomeSuperseded)
	}
	if !bytes.Equal(before, e.snapshot()) {
		t.Error("A's rollback changed the store")
	}
	if !e.ks.Accepts(field(e.value(apiSecret, a), "apiKey")) {
		t.Error("A's rollback revoked the key B's rotation keeps through its grace period")
	}
}

// TestSupersededRotationLeavesNoOrphan (issue 11, found by the chaos
// test): rotation A switched over; B created and switched over on top of
// it before A's verify finished, and B's expire revoked A's version, B's
// previous. The version A replaced lost its labels and, with A never
// reaching its expire, nobody revoked it: a live key no labelled version
// holds. B's expire revokes it with its own previous (after B's grace
// period), and a create never forgets the identity of a version that still
// exists.
func TestSupersededRotationLeavesNoOrphan(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	a := uuid.NewString()
	p := e.must(rotation.FuncCreate, step(item, a))["previousVersionId"].(string)
	e.must(rotation.FuncSwitchOver, step(item, a, "previousVersionId", p))
	b := uuid.NewString()
	e.must(rotation.FuncCreate, step(item, b))
	e.must(rotation.FuncSwitchOver, step(item, b, "previousVersionId", a))
	e.must(rotation.FuncVerify, step(item, b, "previousVersionId", a))
	e.must(rotation.FuncExpire, step(item, b, "action", "expire", "previousVersionId", a))
	if out := e.must(rotation.FuncExpire, step(item, a, "action", "rollback", "previousVersionId", p)); out["outcome"] != rotation.OutcomeSuperseded {
		t.Errorf("A's rollback outcome %v, want superseded", out["outcome"])
	}
	live := e.ks.Live()
	if len(live) != 1 || live[0].Secret != field(e.value(apiSecret, b), "apiKey") {
		var names []string
		for _, k := range live {
			names = append(names, k.Name)
		}
		t.Errorf("live keys %v; want B's alone (the key of %s, which A replaced, is an orphan)", names, p)
	}
	e.checkHygiene()
}

// TestUndoRefusesAChangedProvider: the secret's provider tag changed in
// the middle of a rotation; its undo must not "revoke" the credential with
// a provider that does not know it (which may do nothing and say done),
// and refuses instead, changing nothing.
func TestUndoRefusesAChangedProvider(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId": "` + apiSecret + `", "trigger": "manual"}`)[0]
	token := uuid.NewString()
	e.must(rotation.FuncCreate, step(item, token))
	if _, err := e.store.TagResource(context.Background(), &sm.TagResourceInput{SecretId: aws.String(apiSecret),
		Tags: []types.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UntagResource(context.Background(), &sm.UntagResourceInput{SecretId: aws.String(apiSecret),
		TagKeys: []string{"rotor:master-secret", "rotor:grace-period"}}); err != nil {
		t.Fatal(err)
	}
	e.allValues()
	before := e.snapshot()
	_, ierr := e.invoke(rotation.FuncExpire, step(item, token, "action", "cleanup"))
	if ierr == nil || ierr.Type != "Rotor.Conflict" || !strings.Contains(ierr.Message, "started with provider httpapi") {
		t.Fatalf("cleanup = %+v, want Rotor.Conflict naming the changed provider", ierr)
	}
	if !bytes.Equal(before, e.snapshot()) || len(e.ks.Live()) != 2 {
		t.Error("the refused cleanup changed something")
	}
}

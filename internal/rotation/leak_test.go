package rotation_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/rotation"
)

// identityTags returns a secret's rotor:keyid:/sha256:/hmsl: tags.
func (e *env) identityTags(name string) map[string]string {
	e.t.Helper()
	out, err := e.store.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	tags := map[string]string{}
	for _, t := range out.Tags {
		k := aws.ToString(t.Key)
		for _, p := range []string{rotation.TagKeyIDPrefix, rotation.TagSHA256Prefix, rotation.TagHMSLPrefix} {
			if strings.HasPrefix(k, p) {
				tags[k] = aws.ToString(t.Value)
			}
		}
	}
	return tags
}

// inGracePeriod runs a scheduled rotation of secret up to its grace period:
// created, switched over and verified, the previous version still live.
func (e *env) inGracePeriod(secret string) (item map[string]any, token string, prev any) {
	e.t.Helper()
	item = e.resolve(`{"secretId":"` + secret + `","trigger":"schedule"}`)[0]
	token = uuid.NewString()
	prev = e.must(rotation.FuncCreate, step(item, token))["previousVersionId"]
	e.must(rotation.FuncSwitchOver, step(item, token, "previousVersionId", prev))
	e.must(rotation.FuncVerify, step(item, token, "previousVersionId", prev))
	return item, token, prev
}

func sha256Hex(v string) string { return strings.TrimPrefix(leak.SHA256([]byte(v)), "sha256:") }

func TestRotationRecordsIdentities(t *testing.T) {
	e := newEnv(t)
	initialVersion := e.holder(apiSecret, rotation.LabelCurrent)
	r := e.rotate(`{"secretId":"` + apiSecret + `","trigger":"manual"}`)
	if r.failedAt != "" {
		t.Fatalf("rotation failed at %s: %s", r.failedAt, r.errType)
	}
	key := field(e.value(apiSecret, ""), "apiKey")
	// The new version is fingerprinted; the initial one was too (when create
	// found it current) and lost its tags when expire revoked it.
	want := map[string]string{
		rotation.TagSHA256Prefix + r.token: sha256Hex(key),
		rotation.TagHMSLPrefix + r.token:   leak.HMSLHash([]byte(key)),
	}
	if diff := cmp.Diff(want, e.identityTags(apiSecret)); diff != "" {
		t.Errorf("identity tags (-want +got):\n%s", diff)
	}
	if initialVersion == r.token {
		t.Fatal("the rotation reused the initial version")
	}
	e.checkHygiene()
}

func TestLeakResolution(t *testing.T) {
	e := newEnv(t)
	if r := e.rotate(`{"secretId":"` + apiSecret + `","trigger":"manual"}`); r.failedAt != "" {
		t.Fatalf("rotation failed at %s", r.failedAt)
	}
	current := e.holder(apiSecret, rotation.LabelCurrent)
	key := field(e.value(apiSecret, ""), "apiKey")
	arn := e.must(rotation.FuncResolve, `{"secretId":"`+apiSecret+`","trigger":"manual"}`)["items"].([]any)[0].(map[string]any)["secretId"]

	cases := []struct {
		name, leak string
		wantMode   string // "" for unmatched
	}{
		{"sha256 of the current key", `{"source":"generic","fingerprint":"` + leak.SHA256([]byte(key)) + `"}`, rotation.ModeEmergency},
		{"GitGuardian hash of the current key", `{"source":"gitguardian","fingerprint":"hmsl:` + leak.HMSLHash([]byte(key)) + `"}`, rotation.ModeEmergency},
		{"the revoked initial key", `{"source":"generic","fingerprint":"` + leak.SHA256([]byte(e.initial.Secret)) + `"}`, ""},
		{"an unknown value", `{"source":"generic","fingerprint":"` + leak.SHA256([]byte("sk_live_not_ours_0123456789abcdef")) + `"}`, ""},
		{"an unknown access key", `{"source":"guardduty","accessKeyId":"AKIAIOSFODNN7EXAMPLE","reference":"finding-1"}`, ""},
		{"the secret by name", `{"source":"generic","secretId":"` + apiSecret + `"}`, rotation.ModeEmergency},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := e.must(rotation.FuncResolve, `{"trigger":"leak","leak":`+c.leak+`}`)
			items := e.planItems(plan)
			if c.wantMode == "" {
				if len(items) != 0 || plan["unmatched"] == nil {
					t.Fatalf("plan %v: want no items and the leak reported as unmatched", plan)
				}
				var want map[string]any
				json.Unmarshal([]byte(c.leak), &want)
				if diff := cmp.Diff(want, plan["unmatched"]); diff != "" {
					t.Errorf("unmatched (-want +got):\n%s", diff)
				}
				return
			}
			if len(items) != 1 || plan["unmatched"] != nil {
				t.Fatalf("plan %v: want one item", plan)
			}
			item := items[0]
			got := map[string]any{"secretId": item["secretId"], "mode": item["mode"], "grace": item["gracePeriodSeconds"], "current": item["currentVersionId"]}
			want := map[string]any{"secretId": arn, "mode": c.wantMode, "grace": 0.0, "current": current}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("item (-want +got):\n%s", diff)
			}
		})
	}
	e.checkHygiene()
}

// TestLeakOfPreviousVersionDuringGrace: a leak names the AWSPREVIOUS
// version while another rotation waits out its grace period. That version
// is revoked at once, nothing is rotated, and the other rotation still
// completes cleanly.
func TestLeakOfPreviousVersionDuringGrace(t *testing.T) {
	e := newEnv(t)
	item, token, prev := e.inGracePeriod(apiSecret)
	newKey := field(e.value(apiSecret, token), "apiKey")

	leakItems := e.resolve(`{"trigger":"leak","leak":{"source":"generic","fingerprint":"` + leak.SHA256([]byte(e.initial.Secret)) + `"}}`)
	if len(leakItems) != 1 {
		t.Fatalf("plan has %d items, want 1", len(leakItems))
	}
	li := leakItems[0]
	if diff := cmp.Diff([]any{prev}, li["leakedVersions"]); li["mode"] != rotation.ModeRevoke || diff != "" {
		t.Fatalf("leak item mode %v, versions (-want +got):\n%s", li["mode"], diff)
	}
	if r := e.rotateItem(li); r.failedAt != "" {
		t.Fatalf("revoke failed: %s", r.errType)
	}
	if e.ks.Accepts(e.initial.Secret) {
		t.Error("the leaked previous key still works")
	}
	if !e.ks.Accepts(newKey) {
		t.Error("the current key stopped working: a leak of an old key must rotate nothing")
	}
	if got := e.holder(apiSecret, rotation.LabelCurrent); got != token {
		t.Errorf("AWSCURRENT is %s, want the running rotation's %s", got, token)
	}

	// The first rotation's grace period ends; its expire finds the work done.
	out := e.must(rotation.FuncExpire, step(item, token, "action", "expire", "previousVersionId", prev, "mode", item["mode"], "versions", item["leakedVersions"]))
	if out["outcome"] != "already-revoked" {
		t.Errorf("expire outcome %v, want already-revoked", out["outcome"])
	}
	if live := e.ks.Live(); len(live) != 1 || live[0].Secret != newKey {
		t.Errorf("%d keys live, want only the current one", len(live))
	}
	if diff := cmp.Diff([]string{rotation.TagHMSLPrefix + token, rotation.TagSHA256Prefix + token}, keys(e.identityTags(apiSecret))); diff != "" {
		t.Errorf("identity tags (-want +got):\n%s", diff)
	}
	e.checkHygiene()
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLeakInputErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ input, want string }{
		{`{"trigger":"leak"}`, "needs secretId, leak.secretId, leak.accessKeyId or leak.fingerprint"},
		{`{"trigger":"leak","leak":{"accessKeyId":"akia-lowercase"}}`, "leak.accessKeyId is not an AWS access key id"},
		{`{"trigger":"leak","leak":{"fingerprint":"md5:abc"}}`, "leak.fingerprint is not sha256:<64 lowercase hex>"},
		{`{"trigger":"leak","secretId":"a","leak":{"secretId":"b"}}`, "secretId and leak.secretId name different secrets"},
		{`{"trigger":"leak","leak":{"secretId":"` + apiSecret + `"},"gracePeriodSeconds":60}`, "a leak rotation has no grace period"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			before := e.snapshot()
			_, ierr := e.invoke(rotation.FuncResolve, json.RawMessage(c.input))
			if ierr == nil || ierr.Type != "Rotor.InvalidInput" || !strings.Contains(ierr.Message, c.want) {
				t.Fatalf("got %+v, want Rotor.InvalidInput containing %q", ierr, c.want)
			}
			if string(before) != string(e.snapshot()) {
				t.Error("a rejected leak changed the store")
			}
		})
	}
}

// TestLeakThroughStateMachine runs leaks through rotation.asl.json: one that
// matches nothing is published as an unmanaged credential leaked, and one
// that names only an old version takes the revoke-only path.
func TestLeakThroughStateMachine(t *testing.T) {
	t.Run("unmanaged", func(t *testing.T) {
		s := newSFN(t)
		res, hist := s.run(`{"trigger":"leak","leak":{"source":"guardduty","accessKeyId":"AKIAIOSFODNN7EXAMPLE","reference":"finding-1"}}`)
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
		}
		if got, want := asl.EnteredStates(hist), []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "EmitUnmanagedLeak", "NotifyUnmanagedLeak", "HasItems", "Done"}; !cmp.Equal(got, want) {
			t.Errorf("states entered:\n got %v\nwant %v", got, want)
		}
		if len(s.published) != 1 || !strings.Contains(s.published[0], `"event":"leak.unmanaged"`) || !strings.Contains(s.published[0], "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("published %v, want one leak.unmanaged message naming the key", s.published)
		}
		s.checkHygiene(hist)
	})
	t.Run("revoke only", func(t *testing.T) {
		s := newSFN(t)
		e := s.e
		_, _, prev := e.inGracePeriod(apiSecret)
		res, hist := s.run(`{"trigger":"leak","leak":{"source":"generic","fingerprint":"` + leak.SHA256([]byte(e.initial.Secret)) + `"}}`)
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
		}
		want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "RevokeLeaked", "EmitRevoked", "NotifyRevoked", "ItemSucceeded"}
		if got := asl.EnteredStates(hist); !cmp.Equal(got, want) {
			t.Errorf("states entered:\n got %v\nwant %v", got, want)
		}
		if e.ks.Accepts(e.initial.Secret) {
			t.Error("the leaked key still works")
		}
		if len(s.published) != 1 || !strings.Contains(s.published[0], `"event":"leak.revoked"`) || !strings.Contains(s.published[0], prev.(string)) {
			t.Errorf("published %v, want one leak.revoked message naming the version", s.published)
		}
		s.checkHygiene(hist)
	})
}

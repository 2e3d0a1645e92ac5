package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/rotation"
)

// TestPaceStaysWithinTheBudget: the pace a plan carries starts children at
// no more than budget/WritesPerRotation per second, and at no less than
// 90 % of it.
func TestPaceStaysWithinTheBudget(t *testing.T) {
	cases := []struct {
		budget float64
		want   rotation.Pace
	}{
		{0, rotation.Pace{Concurrency: 5, Seconds: 2, RotationsPerSecond: 2.5}}, // the default, 10 writes/s
		{10, rotation.Pace{Concurrency: 5, Seconds: 2, RotationsPerSecond: 2.5}},
		{1, rotation.Pace{Concurrency: 1, Seconds: 4, RotationsPerSecond: 0.25}},
		{0.1, rotation.Pace{Concurrency: 1, Seconds: 40, RotationsPerSecond: 0.025}},
		{7, rotation.Pace{Concurrency: 7, Seconds: 4, RotationsPerSecond: 1.75}},
		{45, rotation.Pace{Concurrency: 11, Seconds: 1, RotationsPerSecond: 11.25}}, // 40 at once at most
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.budget), func(t *testing.T) {
			e := newEnv(t)
			e.svc.WriteBudget = c.budget
			plan := e.must(rotation.FuncResolve, `{"secretId":"`+rndSecret+`","trigger":"manual"}`)
			b, _ := json.Marshal(plan["pace"])
			var got rotation.Pace
			json.Unmarshal(b, &got)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("pace (-want +got):\n%s", diff)
			}
			rate := float64(got.Concurrency) / float64(got.Seconds)
			if bound := got.RotationsPerSecond; rate > bound+1e-9 || rate < 0.9*bound {
				t.Errorf("starts %.3f/s; the budget allows %.3f/s (want 90-100 %%)", rate, bound)
			}
		})
	}
}

// TestSweepOfLongNamesFitsEveryLimit: 2,000 due secrets with 512-character
// names. The plan resolve returns is ids and counts (far under 256 KiB);
// each stored page is under MaxPageBytes and MaxPageItems; every item
// comes back from its page; and resolve made no call per secret.
func TestSweepOfLongNamesFitsEveryLimit(t *testing.T) {
	e := newEnv(t)
	const n = 2000
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("fleet/%04d/", i)
		name += strings.Repeat("x", 512-len(name))
		e.createSecret(name, "value-123456", map[string]string{"rotor:provider": "random"})
		want[name] = true
	}
	e.clock.Advance(61 * 24 * time.Hour)
	before := e.faults.calls("ListSecretVersionIds")
	out, ierr := e.invoke(rotation.FuncResolve, `{"trigger":"sweep"}`)
	if ierr != nil {
		t.Fatal(ierr)
	}
	if got := e.faults.calls("ListSecretVersionIds") - before; got != 0 {
		t.Errorf("resolve called ListSecretVersionIds %d times; ListSecrets says all it needs", got)
	}
	b, _ := json.Marshal(out)
	if len(b) > 16<<10 {
		t.Errorf("the plan is %d bytes; want ids and counts only (< 16 KiB)", len(b))
	}
	if out["count"] != float64(n+2) { // and the harness's own two secrets
		t.Errorf("count = %v, want %d", out["count"], n+2)
	}
	pages := out["pages"].([]any)
	got := 0
	for _, p := range pages {
		ref := p.(map[string]any)
		page, err := e.svc.Pages.GetPage(t.Context(), fmt.Sprintf("plan#%s#%v", ref["plan"], ref["index"]))
		if err != nil || page == nil {
			t.Fatalf("page %v: %v", ref, err)
		}
		if len(page) > rotation.MaxPageBytes || int(ref["count"].(float64)) > rotation.MaxPageItems || ref["last"] != ref["count"].(float64)-1 {
			t.Errorf("page %v: %d bytes", ref, len(page))
		}
		got += int(ref["count"].(float64))
	}
	if got != n+2 || len(pages) < n*512/rotation.MaxPageBytes {
		t.Errorf("%d items on %d pages", got, len(pages))
	}
	items := e.planItems(out)
	seen := map[string]bool{}
	for _, it := range items {
		if _, err := uuid.Parse(it["token"].(string)); err != nil || seen[it["token"].(string)] {
			t.Fatalf("item %v: token is not a fresh UUID", it["name"])
		}
		seen[it["token"].(string)] = true
		delete(want, it["name"].(string))
	}
	if len(want) != 0 {
		t.Errorf("%d secrets missing from the plan", len(want))
	}
}

// TestSweepReadsAgesFromVersionIds: after a rotation whose token resolve
// minted, the next sweeps know the version's age from its id alone. The
// other secret's value was not made by rotor: while it changed recently,
// its age takes one ListSecretVersionIds; once it is older than its
// max-age, LastChangedDate says so.
func TestSweepReadsAgesFromVersionIds(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId":"` + rndSecret + `","trigger":"manual"}`)[0]
	token := item["token"].(string)
	if u := uuid.MustParse(token); u.Version() != 7 {
		t.Fatalf("token %s is a version %d UUID, want 7", token, u.Version())
	}
	prev := e.must(rotation.FuncCreate, step(item, token))["previousVersionId"]
	e.must(rotation.FuncSwitchOver, step(item, token, "previousVersionId", prev))
	for _, c := range []struct {
		after time.Duration
		due   bool
		calls int
	}{{59 * 24 * time.Hour, false, 1}, {2 * 24 * time.Hour, true, 0}} {
		e.clock.Advance(c.after)
		before := e.faults.calls("ListSecretVersionIds")
		due := false
		for _, it := range e.resolve(`{"trigger":"sweep"}`) {
			due = due || it["name"] == rndSecret
		}
		if due != c.due {
			t.Errorf("after %s more: planned = %v, want %v", c.after, due, c.due)
		}
		if got := e.faults.calls("ListSecretVersionIds") - before; got != c.calls {
			t.Errorf("after %s more: the sweep called ListSecretVersionIds %d times, want %d", c.after, got, c.calls)
		}
	}
}

// TestStalePlanItemsAreSkipped: a planned rotation whose secret moved on is
// skipped with its reason and changes nothing; an abandoned lock does not
// make an item stale; an emergency item is never skipped.
func TestStalePlanItemsAreSkipped(t *testing.T) {
	cases := []struct {
		name string
		// setup runs after the plan was made and returns the item to create.
		setup      func(e *env, item map[string]any) map[string]any
		wantReason string // "" means create proceeds
		wantErr    string
	}{
		{"current moved", func(e *env, item map[string]any) map[string]any {
			e.rotateItem(item) // another rotation completed
			return item
		}, `not "%s" as planned: another rotation got there first`, ""},
		{"another rotation holds AWSPENDING", func(e *env, item map[string]any) map[string]any {
			e.must(rotation.FuncCreate, step(item, uuid.NewString()))
			return item
		}, "another rotation holds AWSPENDING on version", ""},
		{"an abandoned AWSPENDING", func(e *env, item map[string]any) map[string]any {
			e.must(rotation.FuncCreate, step(item, uuid.NewString()))
			e.clock.Advance(rotation.DefaultLockTTL + time.Minute)
			return item
		}, "", ""},
		{"emergency items are not skipped", func(e *env, item map[string]any) map[string]any {
			e.must(rotation.FuncCreate, step(item, uuid.NewString()))
			item["mode"] = rotation.ModeEmergency
			return item
		}, "", "Rotor.Conflict"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			item := e.resolve(`{"secretId":"` + apiSecret + `","trigger":"manual"}`)[0]
			planned := item["currentVersionId"].(string)
			item = c.setup(e, item)
			e.allValues()
			before, keys := e.snapshot(), len(e.ks.Minted())
			in := step(item, item["token"].(string), "mode", item["mode"], "plannedVersionId", planned)
			out, ierr := e.invoke(rotation.FuncCreate, in)
			switch {
			case c.wantErr != "":
				if ierr == nil || ierr.Type != c.wantErr {
					t.Fatalf("create = %v %+v, want %s", out, ierr, c.wantErr)
				}
			case c.wantReason == "":
				if ierr != nil || out["outcome"] != "created" {
					t.Fatalf("create = %v %+v, want created", out, ierr)
				}
				return
			default:
				want := c.wantReason
				if strings.Contains(want, "%s") {
					want = fmt.Sprintf(want, planned)
				}
				if ierr != nil || out["outcome"] != "skipped" || !strings.Contains(out["reason"].(string), want) {
					t.Fatalf("create = %v %+v, want skipped: %s", out, ierr, want)
				}
			}
			if !bytes.Equal(before, e.snapshot()) || len(e.ks.Minted()) != keys {
				t.Error("a skipped or refused create changed something")
			}
		})
	}
}

// TestOverlappingSweepsRotateOnce: two sweeps plan the same two secrets;
// their children run through the state machine as Step Functions would
// start them ({"planned": ...}): each secret rotates once, and the other
// sweep's child for it ends "skipped" with the reason, not failed.
func TestOverlappingSweepsRotateOnce(t *testing.T) {
	s := newSFN(t)
	s.clock.Advance(61 * 24 * time.Hour)
	var plans []map[string]any
	for i := 0; i < 2; i++ {
		plans = append(plans, s.e.must(rotation.FuncResolve, `{"trigger":"sweep"}`))
	}
	before := map[string]int{apiSecret: len(s.e.stages(apiSecret)), rndSecret: len(s.e.stages(rndSecret))}
	status := map[string]int{}
	for _, plan := range plans {
		for _, p := range plan["pages"].([]any) {
			ref := p.(map[string]any)
			for i := 0; i < int(ref["count"].(float64)); i++ {
				in, _ := json.Marshal(map[string]any{"planned": map[string]any{"plan": ref["plan"], "page": ref["index"], "index": i}})
				res, hist := s.run(string(in))
				if res.Status != asl.StatusSucceeded {
					t.Fatalf("child %s: %s %s", res.Status, res.Error, res.Cause)
				}
				var out struct{ Status, Reason string }
				json.Unmarshal(res.Output, &out)
				status[out.Status]++
				if out.Status == "skipped" && !strings.Contains(out.Reason, "another rotation got there first") {
					t.Errorf("skipped with reason %q", out.Reason)
				}
				s.checkHygiene(hist)
			}
		}
	}
	if diff := cmp.Diff(map[string]int{"succeeded": 2, "skipped": 2}, status); diff != "" {
		t.Errorf("children (-want +got):\n%s", diff)
	}
	for name, n := range before {
		// One rotation: the new version, and the old one revoked.
		if got := len(s.e.stages(name)); got != n+1 {
			t.Errorf("%s: %d labelled versions, want %d (one rotation)", name, got, n+1)
		}
	}
}

// TestDryRunSweepStoresNothing: a dry run of a sweep answers with the
// count and the first names, and stores no page.
func TestDryRunSweepStoresNothing(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 30; i++ {
		e.createSecret(fmt.Sprintf("svc/dry-%02d", i), "value-123456", map[string]string{"rotor:provider": "random"})
	}
	e.clock.Advance(61 * 24 * time.Hour)
	plan := e.must(rotation.FuncResolve, `{"trigger":"sweep","dryRun":true}`)
	if plan["count"] != float64(32) || plan["pages"] != nil || plan["items"] != nil {
		t.Fatalf("dry run = %v, want count 32, no pages, no items", plan)
	}
	if preview := plan["preview"].([]any); len(preview) != rotation.PreviewItems {
		t.Errorf("preview has %d names, want %d", len(preview), rotation.PreviewItems)
	}
}

// racingMarker moves ROTOR_REVOKED off its version just before the first
// call that moves it, as another rotation's expire or undo running at the
// same moment would.
type racingMarker struct {
	rotation.SecretsManager
	once sync.Once
}

func (r *racingMarker) UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, opts ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error) {
	if aws.ToString(in.VersionStage) == rotation.LabelRevoked && in.RemoveFromVersionId != nil {
		r.once.Do(func() {
			_, _ = r.SecretsManager.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: in.SecretId,
				VersionStage: in.VersionStage, RemoveFromVersionId: in.RemoveFromVersionId})
		})
	}
	return r.SecretsManager.UpdateSecretVersionStage(ctx, in, opts...)
}

// TestExpireChasesAMovedMarker: expire's move of ROTOR_REVOKED names the
// version it read the label on; when another rotation moved the label in
// between, expire moves it again from where it is, instead of failing
// with the old credential reported NOT revoked.
func TestExpireChasesAMovedMarker(t *testing.T) {
	e := newEnv(t)
	if r := e.rotate(`{"secretId":"` + rndSecret + `","trigger":"manual"}`); r.failedAt != "" {
		t.Fatalf("first rotation failed at %s", r.failedAt)
	}
	e.svc.SM = &racingMarker{SecretsManager: e.svc.SM}
	r := e.rotate(`{"secretId":"` + rndSecret + `","trigger":"manual"}`)
	if r.failedAt != "" {
		t.Fatalf("second rotation failed at %s: %s", r.failedAt, r.errType)
	}
	if got := e.holder(rndSecret, rotation.LabelRevoked); got != r.previous {
		t.Errorf("ROTOR_REVOKED is on %q, want the previous version %q", got, r.previous)
	}
}

// TestSkippedCreateRevokesWhatAnEarlierAttemptMinted: create's first
// attempt minted a key under its token and failed before recording it (its
// own revocation failed too); meanwhile another rotation took the secret.
// The retried create is skipped, and the key minted under its token is
// revoked all the same: a skipped rotation runs no clean-up.
func TestSkippedCreateRevokesWhatAnEarlierAttemptMinted(t *testing.T) {
	e := newEnv(t)
	item := e.resolve(`{"secretId":"` + apiSecret + `","trigger":"manual"}`)[0]
	planned := item["currentVersionId"].(string)
	token := item["token"].(string)
	orphan := e.ks.Mint("rotor-" + token) // what the first attempt left
	e.must(rotation.FuncCreate, step(item, uuid.NewString()))
	out, ierr := e.invoke(rotation.FuncCreate, step(item, token, "plannedVersionId", planned))
	if ierr != nil || out["outcome"] != "skipped" {
		t.Fatalf("create = %v %+v, want skipped", out, ierr)
	}
	if e.ks.Accepts(orphan.Secret) {
		t.Error("the key the first attempt minted under the skipped token is still live")
	}
}

package chaos

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

// rotorBinary builds the rotor CLI once per test binary.
var rotorBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rotor-chaos-bin-")
	if err != nil {
		return "", err
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "rotor"), "./cmd/rotor")
	cmd.Dir = filepath.Dir(filepath.Dir(wd))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build rotor: %v\n%s", err, out)
	}
	return filepath.Join(dir, "rotor"), nil
})

// endpoint returns a fresh endpoint in a temporary directory: `rotor local
// serve` as a child process, or rotorlocal in this process.
func endpoint(tb testing.TB, inProcess bool) Endpoint {
	tb.Helper()
	dir := tb.TempDir()
	if inProcess {
		e := &InProcess{Dir: dir}
		tb.Cleanup(func() { e.Close() })
		return e
	}
	bin, err := rotorBinary()
	if err != nil {
		tb.Fatal(err)
	}
	p := NewProcess(bin, dir)
	tb.Cleanup(func() { p.Close() })
	return p
}

func TestPlanIsTheSeeds(t *testing.T) {
	cfg := Config{Seed: 7, Secrets: 5, Rotations: 41, Kills: 3, MaxGrace: 2}
	a, b, other := makePlan(cfg), makePlan(cfg), makePlan(Config{Seed: 8, Secrets: 5, Rotations: 41, Kills: 3, MaxGrace: 2})
	opt := cmp.AllowUnexported(plan{}, burst{}, killPlan{})
	if diff := cmp.Diff(a, b, opt); diff != "" {
		t.Errorf("one seed, two plans (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, other, opt) {
		t.Error("seeds 7 and 8 planned the same load")
	}
	n, kinds := 0, map[string]int{}
	for _, bs := range a.bursts {
		for _, x := range bs {
			n += x.executions()
			kinds[x.Kind]++
			if x.Graces[0] > cfg.MaxGrace || x.Graces[1] > cfg.MaxGrace {
				t.Errorf("grace %v over MaxGrace %d", x.Graces, cfg.MaxGrace)
			}
			if (x.Kind == BurstLeak || x.Kind == BurstLeakRace) != (x.Leak != "") {
				t.Errorf("burst %+v: a leak form on a burst that sends no alert, or none on one that does", x)
			}
		}
	}
	if n != cfg.Rotations {
		t.Errorf("the plan starts %d executions, want %d", n, cfg.Rotations)
	}
	if len(kinds) != 4 {
		t.Errorf("burst kinds planned: %v, want all four", kinds)
	}
	if len(a.kills) != cfg.Kills || !slices.IsSortedFunc(a.kills, func(x, y killPlan) int { return x.after - y.after }) {
		t.Errorf("kills %+v: want %d, in order", a.kills, cfg.Kills)
	}
}

func TestConfigRefusesNonsense(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no secrets", Config{Rotations: 1, Endpoint: &InProcess{}}, "Secrets is 0"},
		{"no rotations", Config{Secrets: 1, Endpoint: &InProcess{}}, "Rotations is 0"},
		{"rate", Config{Secrets: 1, Rotations: 1, FaultRate: 0.9, Endpoint: &InProcess{}}, "FaultRate is 0.9"},
		{"grace", Config{Secrets: 1, Rotations: 1, MaxGrace: -1, Endpoint: &InProcess{}}, "MaxGrace is -1"},
		{"endpoint", Config{Secrets: 1, Rotations: 1}, "Endpoint is nil"},
		{"kind", Config{Secrets: 1, Rotations: 1, Kinds: []string{"postgres"}, Endpoint: &InProcess{}}, `Kinds: "postgres"`},
		{"burst", Config{Secrets: 1, Rotations: 1, Bursts: []string{"storm"}, Endpoint: &InProcess{}}, `Bursts: "storm"`},
		{"fault", Config{Secrets: 1, Rotations: 1, Faults: []string{"secretsmanager:PutSecretValue:slow"}, Endpoint: &InProcess{}}, `mode "slow"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestEndpointFaults: the specifications parse as rotor local serve parses
// them, cover every Secrets Manager write and every IAM and STS call, and
// add up to the rate asked for.
func TestEndpointFaults(t *testing.T) {
	if got := EndpointFaults(0); got != nil {
		t.Errorf("rate 0: %v, want no faults", got)
	}
	specs := EndpointFaults(0.2)
	total := map[string]float64{}
	for _, s := range specs {
		f, err := localaws.ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		op := f.Service + ":" + f.Op
		// The endpoint tries the faults in order: error, then lost.
		total[op] += (1 - total[op]) * f.Rate
	}
	want := []string{"iam:*", "secretsmanager:PutSecretValue", "secretsmanager:TagResource", "secretsmanager:UntagResource",
		"secretsmanager:UpdateSecretVersionStage", "sts:*"}
	var ops []string
	for op, p := range total {
		ops = append(ops, op)
		if p < 0.1999 || p > 0.2001 {
			t.Errorf("%s fails with probability %.4f, want 0.2", op, p)
		}
	}
	slices.Sort(ops)
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("faulted operations (-want +got):\n%s", diff)
	}
}

// TestScannerFindsEveryEncoding: a value is found raw and in the encodings
// redact lists, and mask never lets one through.
func TestScannerFindsEveryEncoding(t *testing.T) {
	const value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	s := newSecrets()
	s.add(value, "short")
	for _, tc := range []struct {
		name, text string
		want       int
	}{
		{"raw", `{"cause":"key ` + value + ` refused"}`, 1},
		{"json in json", `{"input":"{\"v\":\"` + value + `\"}"}`, 1},
		{"url query", "https://x/?k=" + url.QueryEscape(value), 1},
		{"base64", "Basic " + base64.StdEncoding.EncodeToString([]byte(value)), 1},
		{"hex", hex.EncodeToString([]byte(value)), 1},
		{"twice", value + " and " + value, 2},
		{"none", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKE", 0},
		{"too short to record", "short", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, _ := s.find(tc.text); n != tc.want {
				t.Errorf("found %d, want %d", n, tc.want)
			}
			if m := s.mask(tc.text); strings.Contains(m, value) || (tc.want > 0 && !strings.Contains(m, "[SECRET]")) {
				t.Errorf("mask: %q", m)
			}
		})
	}
}

// TestExcerptHidesValuesCutAtItsEdges: an excerpt around one value never
// shows part of another that the window would cut.
func TestExcerptHidesValuesCutAtItsEdges(t *testing.T) {
	h := &harness{seen: newSecrets()}
	a, b := strings.Repeat("A1b2", 10), strings.Repeat("Z9y8", 10)
	h.seen.add(a, b)
	text := strings.Repeat(".", 300) + b + strings.Repeat(".", 358) + a + strings.Repeat(".", 358) + b + strings.Repeat(".", 300)
	got := h.excerpt(text, strings.Index(text, a))
	if !strings.Contains(got, "[SECRET]") {
		t.Errorf("the excerpt does not show where the value was: %q", got)
	}
	for _, part := range []string{"A1b2A1b2", "Z9y8Z9y8"} {
		if strings.Contains(got, part) {
			t.Errorf("the excerpt shows part of a value (%s): %q", part, got)
		}
	}
}

func ver(id string, listed bool, labels ...string) *version {
	return &version{id: id, listed: listed, labels: labels}
}

func kinds(fs []finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.kind+":"+f.key)
	}
	return out
}

func TestLabelFindings(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   []*version
		want []string
	}{
		{"converged", []*version{ver("a", true, "AWSCURRENT"), ver("b", true, "AWSPREVIOUS", "ROTOR_REVOKED")}, nil},
		{"no current", []*version{ver("a", true, "AWSPREVIOUS")}, []string{KindCurrentCount + ":"}},
		{"two current", []*version{ver("a", true, "AWSCURRENT"), ver("b", true, "AWSCURRENT")}, []string{KindCurrentCount + ":"}},
		{"pending left", []*version{ver("a", true, "AWSCURRENT"), ver("b", true, "AWSPENDING", "AWSPREVIOUS")}, []string{KindPendingLeft + ":b"}},
		{"pending on current", []*version{ver("a", true, "AWSCURRENT", "AWSPENDING")}, []string{KindPendingLeft + ":a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := map[string]*version{}
			for _, v := range tc.vs {
				vs[v.id] = v
			}
			if diff := cmp.Diff(tc.want, kinds(labelFindings(vs))); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLiveFindings(t *testing.T) {
	cur, prev, failed, revoked, gone := ver("c", true, "AWSCURRENT"), ver("p", true, "AWSPREVIOUS"), ver("f", true, "ROTOR_FAILED"),
		ver("r", true, "AWSPREVIOUS", "ROTOR_REVOKED"), ver("d", false)
	for _, tc := range []struct {
		name       string
		live       []liveCred
		want       []string
		nonCurrent []string
		unreported string // the kind when no notification reports the non-current one
	}{
		{"current only", []liveCred{{id: "k1", holders: []*version{cur}}}, nil, nil, ""},
		{"previous live", []liveCred{{id: "k1", holders: []*version{cur}}, {id: "k2", holders: []*version{prev}}}, nil, []string{"k2"}, KindLiveUnreported},
		{"rolled back yet live", []liveCred{{id: "k3", holders: []*version{failed}}}, []string{KindRevokedLive + ":k3"}, nil, ""},
		{"revoked yet live", []liveCred{{id: "k4", holders: []*version{revoked}}}, []string{KindRevokedLive + ":k4"}, nil, ""},
		{"held by a deprecated version", []liveCred{{id: "k5", holders: []*version{gone}}}, nil, []string{"k5"}, KindOrphan},
		{"held by nothing", []liveCred{{id: "k6"}}, nil, []string{"k6"}, KindOrphan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, nonCurrent := liveFindings(tc.live)
			if diff := cmp.Diff(tc.want, kinds(fs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			var ids []string
			for _, c := range nonCurrent {
				ids = append(ids, c.id)
				if got := unreported(c).kind; got != tc.unreported {
					t.Errorf("unreported %s: %s, want %s", c.id, got, tc.unreported)
				}
			}
			if diff := cmp.Diff(tc.nonCurrent, ids); diff != "" {
				t.Errorf("non-current live credentials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotRevokedNotice(t *testing.T) {
	s := &secret{name: "chaos/x", arn: "arn:aws:secretsmanager:us-east-1:000000000000:secret:chaos/x-AbCdEf"}
	c := liveCred{id: "AKIAEXAMPLE000000001", holders: []*version{ver("11111111-2222-3333-4444-555555555555", true, "AWSPREVIOUS")}}
	for _, tc := range []struct {
		name string
		msg  snsMessage
		want bool
	}{
		{"names the version", snsMessage{"rotor: old credential NOT revoked", `{"secretId":"` + s.arn + `","previousVersionId":"11111111-2222-3333-4444-555555555555"}`}, true},
		{"names the key", snsMessage{"rotor: leaked credential NOT revoked", `{"secretId":"chaos/x","keyId":"AKIAEXAMPLE000000001"}`}, true},
		{"another secret", snsMessage{"rotor: old credential NOT revoked", `{"secretId":"chaos/y","previousVersionId":"11111111-2222-3333-4444-555555555555"}`}, false},
		{"another version", snsMessage{"rotor: old credential NOT revoked", `{"secretId":"chaos/x","previousVersionId":"99999999-2222-3333-4444-555555555555"}`}, false},
		{"says nothing of revocation", snsMessage{"rotor: rotation failed", `{"secretId":"chaos/x","versionId":"11111111-2222-3333-4444-555555555555"}`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := notRevokedNotice([]snsMessage{tc.msg}, s, c) != ""; got != tc.want {
				t.Errorf("reported: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	r := &Report{}
	if r.Quantile(0.5) != 0 {
		t.Error("no convergence: want 0")
	}
	for i := 100; i >= 1; i-- {
		r.Converge = append(r.Converge, time.Duration(i)*time.Second)
	}
	if got := [2]time.Duration{r.Quantile(0.5), r.Quantile(0.99)}; got != [2]time.Duration{50 * time.Second, 99 * time.Second} {
		t.Errorf("median, p99 = %v, want 50s, 99s", got)
	}
}

// TestChecksCatchSabotage proves each check can fail: on a fault-free
// endpoint, every secret rotated once passes; then each case breaks one
// invariant on a secret of its own, the way a faulty rotor could, and the
// check must report it. The end-of-run checks (secret values in outputs,
// failures not notified, a secret that no longer rotates) are proven by
// finish, after sabotage of their own.
func TestChecksCatchSabotage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := &harness{cfg: Config{Seed: 1, Secrets: 15, Rotations: 1, MaxGrace: 0, BurstTimeout: 2 * time.Second,
		Endpoint: endpoint(t, true), Logf: t.Logf}, seen: newSecrets(), quarantined: map[int]bool{}, violations: map[string]*Violation{},
		rep: &Report{FailedBy: map[string]int{}}}
	h.startedCond = sync.NewCond(&h.mu)
	if err := h.cfg.check(); err != nil {
		t.Fatal(err)
	}
	tctx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()
	if err := h.setup(tctx); err != nil { // rotates each secret once and checks it: the checks pass on a sound state
		t.Fatal(err)
	}
	defer func() {
		for _, s := range h.secrets {
			if s.api != nil {
				s.api.close()
			}
		}
	}()
	sm, ic := h.sm, h.iam
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	current := func(s *secret) string {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
		must(err)
		return aws.ToString(out.SecretString)
	}
	put := func(s *secret, value string, labels ...string) {
		_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.arn), SecretString: aws.String(value), VersionStages: labels})
		must(err)
	}
	newIAMKey := func(s *secret) (id, value string) {
		out, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(s.user)})
		must(err)
		k := out.AccessKey
		b, _ := json.Marshal(awsiam.Value{UserName: s.user, AccessKeyID: aws.ToString(k.AccessKeyId), SecretAccessKey: aws.ToString(k.SecretAccessKey)})
		return aws.ToString(k.AccessKeyId), string(b)
	}
	newAPIKey := func(s *secret) (id, value string) {
		k := s.api.ks.Mint("rotor-sabotage")
		b, _ := json.Marshal(map[string]string{"apiKey": k.Secret, "keyId": k.ID})
		return k.ID, string(b)
	}
	sec := func(i int, kind string) *secret {
		t.Helper()
		if s := h.secrets[i]; s.kind == kind {
			return s
		}
		t.Fatalf("secret %d is not %s", i, kind)
		return nil
	}

	for _, tc := range []struct {
		name     string
		secret   int
		kind     string
		sabotage func(s *secret) (key string)
		want     string // kind; "" when the check must pass
		persons  int
	}{
		{"sound", 0, KindRandom, func(*secret) string { return "" }, "", 0},
		{"pending left", 3, KindRandom, func(s *secret) string {
			put(s, randomHex("Pending-", 24), "AWSPENDING")
			return ""
		}, KindPendingLeft, 0},
		{"current IAM key deleted", 1, KindAWSIAM, func(s *secret) string {
			var v awsiam.Value
			must(json.Unmarshal([]byte(current(s)), &v))
			_, err := ic.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(s.user), AccessKeyId: aws.String(v.AccessKeyID)})
			must(err)
			return ""
		}, KindCurrentDead, 0},
		{"current API key revoked", 2, KindHTTPAPI, func(s *secret) string {
			var v struct{ KeyID string }
			must(json.Unmarshal([]byte(current(s)), &v))
			must(s.api.revoke(v.KeyID))
			return ""
		}, KindCurrentDead, 0},
		{"orphan IAM key", 4, KindAWSIAM, func(s *secret) string { id, _ := newIAMKey(s); return id }, KindOrphan, 0},
		{"orphan API key", 5, KindHTTPAPI, func(s *secret) string { id, _ := newAPIKey(s); return id }, KindOrphan, 0},
		{"failed version's key live", 8, KindHTTPAPI, func(s *secret) string {
			id, value := newAPIKey(s)
			put(s, value, "ROTOR_FAILED")
			return id
		}, KindRevokedLive, 0},
		{"previous key live, unreported", 7, KindAWSIAM, func(s *secret) string {
			id, value := newIAMKey(s)
			put(s, value, "AWSPREVIOUS")
			return id
		}, KindLiveUnreported, 0},
		{"previous key live, reported NOT revoked", 10, KindAWSIAM, func(s *secret) string {
			id, value := newIAMKey(s)
			put(s, value, "AWSPREVIOUS")
			msg := fmt.Sprintf(`{"event":"rotation.expire-failed","secretId":%q,"keyId":%q}`, s.arn, id)
			_, err := sns.NewFromConfig(h.aws).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN(h)),
				Subject: aws.String("rotor: old credential NOT revoked"), Message: aws.String(msg)})
			must(err)
			return ""
		}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sec(tc.secret, tc.kind)
			key := tc.sabotage(s)
			res, err := h.check(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range res.violations {
				got = append(got, v.Kind)
				if key != "" && v.Key != key {
					t.Errorf("%s names %q, want %q", v.Kind, v.Key, key)
				}
				if n, _ := h.seen.find(v.Detail); n > 0 {
					t.Errorf("the violation's detail holds a secret value")
				}
			}
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if res.persons != tc.persons {
				t.Errorf("%d credentials revoked as a person, want %d", res.persons, tc.persons)
			}
			for _, v := range res.violations {
				h.addViolation(v) // as a run would: the secret is done
			}
		})
	}

	t.Run("not converged", func(t *testing.T) {
		s := sec(6, KindRandom)
		h.runBurst(ctx, s, 0, burst{Kind: BurstRotate, Graces: [2]int{8, 0}})
		if got := h.violationsOf(s, KindNotConverged); got != 1 {
			t.Errorf("%d not-converged violations, want 1 (the rotation waits 8 s, the burst may take 2)", got)
		}
	})

	// Sabotage for the end of the run.
	leaky := sec(9, KindRandom)
	value := current(leaky)
	h.runBurst(ctx, leaky, 0, burst{Kind: BurstRotate}) // the harness reads the value it leaks below
	_, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.machineARN),
		Input: aws.String(fmt.Sprintf(`{"trigger":"manual","secretId":"chaos/%s"}`, value))})
	must(err)
	_, err = sns.NewFromConfig(h.aws).Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topicARN(h)), Message: aws.String("value " + value)})
	must(err)
	f, err := os.OpenFile(h.cfg.Endpoint.LogPath(), os.O_APPEND|os.O_WRONLY, 0)
	must(err)
	fmt.Fprintf(f, "a function logged %s\n", base64.StdEncoding.EncodeToString([]byte(value)))
	must(f.Close())
	stopped := sec(12, KindRandom)
	arn, err := h.startRotation(ctx, stopped, "sabotage-stopped", 30)
	must(err)
	h.tracker.own(arn, stopped.i, originManual, time.Now())
	for deadline := time.Now().Add(20 * time.Second); h.tracker.describeState(ctx, arn) != "sabotage-stopped in state \"GracePeriod\""; {
		if time.Now().After(deadline) {
			t.Fatalf("the rotation to stop never reached its grace period: %s", h.tracker.describeState(ctx, arn))
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = h.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)})
	must(err)
	stuck := sec(13, KindAWSIAM)
	_, err = ic.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(stuck.user), TagKeys: []string{awsiam.TagSecret}})
	must(err)

	must(h.finish(ctx))
	for _, tc := range []struct {
		kind   string
		secret *secret
	}{
		{KindSecretHistory, nil},
		{KindSecretSNS, nil},
		{KindSecretLog, nil},
		{KindUnnotified, stopped},
		{KindCannotRotate, stuck},
	} {
		t.Run("end: "+tc.kind, func(t *testing.T) {
			if got := h.violationsOf(tc.secret, tc.kind); got == 0 {
				t.Errorf("no %s violation%s", tc.kind, map[bool]string{true: " on " + nameOrAny(tc.secret)}[tc.secret != nil])
			}
		})
	}
	t.Run("end: sound secrets stay sound", func(t *testing.T) {
		for _, i := range []int{0, 11, 14} {
			if n := h.violationsOf(h.secrets[i], ""); n != 0 {
				t.Errorf("%s: %d violations", h.secrets[i].name, n)
			}
		}
	})
	for _, v := range h.violations {
		if n, _ := h.seen.find(v.Detail + strings.Join(v.Evidence, "\n")); n > 0 {
			t.Errorf("violation %s prints a secret value", v.Kind)
		}
	}
}

func nameOrAny(s *secret) string {
	if s == nil {
		return "any secret"
	}
	return s.name
}

// violationsOf counts the violations of a kind ("" for any) on a secret
// (nil for any).
func (h *harness) violationsOf(s *secret, kind string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, v := range h.violations {
		if (kind == "" || v.Kind == kind) && (s == nil || v.Secret == s.name) {
			n++
		}
	}
	return n
}

func topicARN(*harness) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", rotorlocal.Region, rotorlocal.Account, rotorlocal.TopicName)
}

// BenchmarkChaos is make bench's chaos figure: 1,000 rotations at 20 %
// faults with kills, against `rotor local serve`. It reports violations
// (goal 0), rotations succeeded, the median and p99 time to converge and how
// many needed a person; it fails only when the harness cannot do its work.
// One run whatever b.N: use -benchtime=1x.
func BenchmarkChaos(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var rep *Report
	for b.Loop() {
		var err error
		rep, err = Run(ctx, Config{Seed: 1, Secrets: 50, Rotations: 1000, FaultRate: 0.2, Kills: 5, MaxGrace: 2,
			Endpoint: endpoint(b, false)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rep.Violations)), "violations")
	b.ReportMetric(float64(rep.Executions), "rotations")
	b.ReportMetric(float64(rep.Succeeded), "succeeded")
	b.ReportMetric(rep.Quantile(0.5).Seconds(), "converge-p50-s")
	b.ReportMetric(rep.Quantile(0.99).Seconds(), "converge-p99-s")
	b.ReportMetric(float64(rep.NeededPerson()), "needed-person")
	// Lines make bench keeps (it keeps those starting "chaos").
	for _, line := range strings.Split(strings.TrimSpace(rep.String()), "\n") {
		if !strings.HasPrefix(line, "chaos") {
			line = "chaos " + line
		}
		fmt.Println(line)
	}
}

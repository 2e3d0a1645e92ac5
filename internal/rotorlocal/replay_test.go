package rotorlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/webhook"
)

// Replays, played as an attacker who captured a signed delivery would, or
// as a sender that delivers twice: none starts a second emergency rotation
// or raises a false "unmanaged" alarm, across webhook instances and
// restarts (SECURITY.md, replayed leak alerts).

// executions counts the executions the leak bus started.
func (e *leakEnv) executions(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.h.Server.Events.Wait(ctx))
	return len(e.h.Server.Events.Deliveries())
}

func (e *leakEnv) postStatus(t *testing.T, path string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	code, resp := e.post(t, path, body, headers)
	var r struct{ Status, Error string }
	_ = json.Unmarshal([]byte(resp), &r)
	return code, r.Status + r.Error
}

func TestGitGuardianReplayStartsNothing(t *testing.T) {
	e := startLeakEnv(t)
	f := newKeyFixture(t, e, "prod/payments-api", "0s")
	e.rotate(t, "prod/payments-api", 0)
	leaked := e.apiKey(t, "prod/payments-api", "AWSCURRENT")

	var inc map[string]any
	e.must(t, json.Unmarshal(readFile(t, "../../test/testdata/leak/gitguardian-incident-triggered.json"), &inc))
	inc["incident"].(map[string]any)["hmsl_hash"] = leak.HMSLHash([]byte(leaked.APIKey))
	body, _ := json.Marshal(inc)
	keys := e.webhookKeys(t)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := "sha256=" + hmacHex([]byte(ts+keys.GitGuardian), body)

	if code, status := e.postStatus(t, "gitguardian", body, map[string]string{"Timestamp": ts, "Gitguardian-Signature": sig}); code != http.StatusAccepted || status != "accepted" {
		t.Fatalf("the incident: %d %s", code, status)
	}
	e.wait(t, e.leakExecution(t), "SUCCEEDED")
	if f.ks.Accepts(leaked.APIKey) {
		t.Fatal("the leaked key still works")
	}
	current := e.apiKey(t, "prod/payments-api", "AWSCURRENT")

	// The same delivery, its signature spelt in capitals, and once more.
	upper := "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256="))
	for _, s := range []string{upper, sig} {
		if code, status := e.postStatus(t, "gitguardian", body, map[string]string{"Timestamp": ts, "Gitguardian-Signature": s}); code != http.StatusAccepted || status != "duplicate" {
			t.Errorf("replay: %d %s, want 202 duplicate", code, status)
		}
	}
	if n := e.executions(t); n != 1 {
		t.Errorf("%d executions, want the first alone", n)
	}
	if now := e.apiKey(t, "prod/payments-api", "AWSCURRENT"); now != current || !f.ks.Accepts(now.APIKey) {
		t.Error("a replay rotated the secret again")
	}
}

func TestGitHubReplayStartsNothing(t *testing.T) {
	var calls atomic.Int32
	const ghSecret = "ghp_leakedTokenForTheReplayTest0123456789"
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, `{"number":191,"state":"open","secret_type":"github_personal_access_token","secret":%q}`, ghSecret)
	}))
	defer github.Close()
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(t.Context(), Options{DataFile: t.TempDir() + "/local.db", Log: slog.New(e.reqs), FunctionLog: e.logs,
		FunctionEnv: map[string]string{webhook.EnvGitHubAPI: github.URL}})
	e.must(t, err)
	t.Cleanup(func() { h.Close() })
	e.h = h
	keys := e.webhookKeys(t)
	keys.GitHub, keys.GitHubToken = "gh-replay-test-webhook-secret", "github_pat_replaytest0123456789"
	b, _ := json.Marshal(keys)
	_, err = h.SecretsManager().PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(WebhookKeysSecret), SecretString: aws.String(string(b))})
	e.must(t, err)

	body := readFile(t, "../../test/testdata/leak/github-secret-scanning-reopened.json")
	sig := "sha256=" + hmacHex([]byte(keys.GitHub), body)
	post := func(delivery string) (int, string) {
		hs := map[string]string{"X-Hub-Signature-256": sig, "X-GitHub-Event": "secret_scanning_alert"}
		if delivery != "" {
			hs["X-GitHub-Delivery"] = delivery
		}
		return e.postStatus(t, "github", body, hs)
	}
	if code, status := post("72d3162e-cc78-11e3-81ab-4c9367dc0958"); code != http.StatusAccepted || status != "accepted" {
		t.Fatalf("the alert: %d %s", code, status)
	}
	e.wait(t, e.leakExecution(t), "SUCCEEDED") // an unmanaged leak, reported once
	for _, d := range []string{"72d3162e-cc78-11e3-81ab-4c9367dc0958", "a-new-delivery-id", ""} {
		if code, status := post(d); code != http.StatusAccepted || status != "duplicate" {
			t.Errorf("replay with delivery id %q: %d %s, want 202 duplicate", d, code, status)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("GitHub's API was called %d times with the token, want once", n)
	}
	if n := e.executions(t); n != 1 {
		t.Errorf("%d executions, want one", n)
	}
	unmanaged := 0
	for _, m := range h.Server.SNS.Messages() {
		if strings.Contains(m.Message, `"leak.unmanaged"`) {
			unmanaged++
		}
	}
	if unmanaged != 1 {
		t.Errorf("%d unmanaged-leak notifications, want one", unmanaged)
	}
}

// TestGenericReplayAfterRestart: a captured generic alert naming a secret
// (which would start an emergency rotation, revoking the then-current
// credential with no grace) replayed to the restarted endpoint, that is
// to a new webhook instance, starts nothing; once outside its window it is
// refused outright.
func TestGenericReplayAfterRestart(t *testing.T) {
	data := t.TempDir() + "/local.db"
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	start := func() {
		h, err := Start(t.Context(), Options{DataFile: data, Log: slog.New(e.reqs), FunctionLog: e.logs})
		e.must(t, err)
		e.h = h
	}
	start()
	f := newKeyFixture(t, e, "prod/search-api", "0s")
	e.rotate(t, "prod/search-api", 0)
	alert := []byte(`{"secretId":"prod/search-api","reference":"INC-9","reason":"pasted in a ticket"}`)
	keys := e.webhookKeys(t)
	ts, sig := leak.SignGeneric([]byte(keys.Generic), alert, time.Now())
	headers := map[string]string{leak.GenericTimestampHeader: ts, leak.GenericSignatureHeader: sig}
	if code, status := e.postStatus(t, "generic", alert, headers); code != http.StatusAccepted || status != "accepted" {
		t.Fatalf("the alert: %d %s", code, status)
	}
	e.wait(t, e.leakExecution(t), "SUCCEEDED")
	current := e.apiKey(t, "prod/search-api", "AWSCURRENT")

	e.must(t, e.h.Close())
	start()
	t.Cleanup(func() { e.h.Close() })
	if code, status := e.postStatus(t, "generic", alert, headers); code != http.StatusAccepted || status != "duplicate" {
		t.Errorf("replay after a restart: %d %s, want 202 duplicate", code, status)
	}
	old, oldSig := leak.SignGeneric([]byte(keys.Generic), alert, time.Now().Add(-6*time.Minute))
	if code, status := e.postStatus(t, "generic", alert, map[string]string{leak.GenericTimestampHeader: old, leak.GenericSignatureHeader: oldSig}); code != http.StatusUnauthorized || status != "unauthorized" {
		t.Errorf("a capture older than the window: %d %s, want 401 unauthorized", code, status)
	}
	if n := e.executions(t); n != 0 {
		t.Errorf("the restarted endpoint started %d executions, want none", n)
	}
	if now := e.apiKey(t, "prod/search-api", "AWSCURRENT"); now != current || !f.ks.Accepts(now.APIKey) {
		t.Error("a replay rotated the secret again")
	}
}

// TestLeakOfRevokedKeyIsReportedAsRevoked: GuardDuty publishes a finding
// again (as it does while activity continues) after rotor revoked the key:
// the execution reports "already revoked" and rotates nothing, and no
// "unmanaged" alarm is raised.
func TestLeakOfRevokedKeyIsReportedAsRevoked(t *testing.T) {
	e := startLeakEnv(t)
	ctx := t.Context()
	sec, err := e.h.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/ci-bot"),
		SecretString: aws.String(`{"userName":"ci-bot"}`)})
	e.must(t, err)
	_, err = e.h.SecretsManager().TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: sec.ARN, Tags: tags(map[string]string{
		"rotor:provider": "awsiam", "rotor:awsiam:user": "ci-bot"})})
	e.must(t, err)
	_, err = iam.NewFromConfig(e.h.awsConfig()).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-bot"),
		Tags: []iamtypes.Tag{{Key: aws.String(awsiam.TagSecret), Value: sec.ARN}}})
	e.must(t, err)
	e.rotate(t, "prod/ci-bot", 0)
	var leaked struct{ AccessKeyID string }
	e.must(t, json.Unmarshal([]byte(e.value(t, "prod/ci-bot", "AWSCURRENT")), &leaked))

	var ev map[string]any
	e.must(t, json.Unmarshal(readFile(t, "../../test/testdata/events/guardduty-credential-exfiltration.json"), &ev))
	ev["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)["accessKeyId"] = leaked.AccessKeyID
	emit := func() string {
		// GuardDuty publishes an updated finding as a new event (a new
		// event id) about the same finding.
		ev["id"] = uuid.NewString()
		finding, _ := json.Marshal(ev)
		mark := len(e.h.Server.Events.Deliveries())
		resp, err := http.Post(e.h.URL+"/_rotor/events/emit", "application/json", bytes.NewReader(finding))
		e.must(t, err)
		resp.Body.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		e.must(t, e.h.Server.Events.Wait(ctx))
		ds := e.h.Server.Events.Deliveries()[mark:]
		if len(ds) != 1 || ds[0].Failed() {
			t.Fatalf("deliveries: %+v", ds)
		}
		e.wait(t, ds[0].Result, "SUCCEEDED")
		return ds[0].Result
	}
	emit()
	if _, ok := e.h.Server.IAM.AccessKey(leaked.AccessKeyID); ok {
		t.Fatal("the leaked key was not deleted")
	}
	current := e.value(t, "prod/ci-bot", "AWSCURRENT")

	again := emit()
	hist := e.history(t, again)
	if strings.Contains(hist, `"Create"`) {
		t.Errorf("the repeated finding started a rotation: %s", hist)
	}
	if e.value(t, "prod/ci-bot", "AWSCURRENT") != current {
		t.Error("the current key changed")
	}
	var revoked, unmanaged int
	for _, m := range e.h.Server.SNS.Messages() {
		if strings.Contains(m.Message, `"leak.already-revoked"`) && strings.Contains(m.Message, leaked.AccessKeyID) && strings.Contains(m.Message, aws.ToString(sec.ARN)) {
			revoked++
		}
		if strings.Contains(m.Message, `"leak.unmanaged"`) {
			unmanaged++
		}
	}
	if revoked != 1 || unmanaged != 0 {
		t.Errorf("notifications: %d already-revoked (want 1), %d unmanaged (want 0)", revoked, unmanaged)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tags(m map[string]string) []smtypes.Tag {
	var out []smtypes.Tag
	for k, v := range m {
		out = append(out, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

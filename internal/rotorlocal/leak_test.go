package rotorlocal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/webhook"
)

// requestLog records the operations the endpoint served, in order (the
// server logs each at debug level), so that a test can check the order of
// calls a provider made.
type requestLog struct {
	mu  sync.Mutex
	ops []string // "service:operation"
}

func (l *requestLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *requestLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	var svc, op string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "service":
			svc = a.Value.String()
		case "operation":
			op = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.ops = append(l.ops, svc+":"+op)
	l.mu.Unlock()
	return nil
}
func (l *requestLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *requestLog) WithGroup(string) slog.Handler      { return l }

func (l *requestLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops[n:])
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ops)
}

type leakEnv struct {
	h    *Host
	reqs *requestLog
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startLeakEnv(t *testing.T) *leakEnv { return startLeakEnvAt(t, nil) }

// startLeakEnvAt starts one with the functions' clock now (nil: real time).
func startLeakEnvAt(t *testing.T, now func() time.Time) *leakEnv {
	t.Helper()
	e := &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(t.Context(), Options{DataFile: t.TempDir() + "/local.db", Log: slog.New(e.reqs), FunctionLog: e.logs, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	return e
}

func (e *leakEnv) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rotate runs a manual rotation to its end.
func (e *leakEnv) rotate(t *testing.T, secretID string, grace int) string {
	t.Helper()
	arn := e.start(t, secretID, grace)
	e.wait(t, arn, "SUCCEEDED")
	return arn
}

func (e *leakEnv) start(t *testing.T, secretID string, grace int) string {
	t.Helper()
	x, err := e.h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
		Input: aws.String(fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":%d}`, secretID, grace))})
	e.must(t, err)
	return aws.ToString(x.ExecutionArn)
}

func (e *leakEnv) wait(t *testing.T, arn, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	status, err := e.h.Server.SFN.Wait(ctx, arn)
	if err != nil || status != want {
		t.Fatalf("execution %s: %s (%v), want %s\nhistory: %s\nfunctions: %s", arn, status, err, want, e.history(t, arn), e.logs)
	}
}

func (e *leakEnv) history(t testing.TB, arn string) string {
	t.Helper()
	out, err := e.h.StepFunctions().GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	if err != nil {
		return err.Error()
	}
	b, _ := json.Marshal(out.Events)
	return string(b)
}

// leakExecution waits for the event deliveries of a leak alert and returns
// the one execution they started.
func (e *leakEnv) leakExecution(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.h.Server.Events.Wait(ctx))
	ds := e.h.Server.Events.Deliveries()
	if len(ds) != 1 || ds[0].Failed() {
		t.Fatalf("deliveries: %+v, want one execution started", ds)
	}
	return ds[0].Result
}

func (e *leakEnv) value(t *testing.T, secretID, stage string) string {
	t.Helper()
	out, err := e.h.SecretsManager().GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionStage: aws.String(stage)})
	e.must(t, err)
	return aws.ToString(out.SecretString)
}

// scan fails when any secret value appears in text.
func scan(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret value (%d bytes)", what, len(s))
		}
	}
}

// TestGuardDutyFindingRevokesTheAccessKey: a GuardDuty finding about an
// access key rotor minted reaches the default bus, the leak rule starts
// an emergency rotation, the key is deactivated and then deleted, and the
// new key is current and works with STS.
func TestGuardDutyFindingRevokesTheAccessKey(t *testing.T) {
	e := startLeakEnv(t)
	ctx := t.Context()
	cfg := e.h.awsConfig()
	ic := iam.NewFromConfig(cfg)
	sec, err := e.h.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/deploy-bot"),
		SecretString: aws.String(`{"userName":"deploy-bot"}`), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("awsiam")},
			{Key: aws.String("rotor:awsiam:user"), Value: aws.String("deploy-bot")}}})
	e.must(t, err)
	// The user consents to back that one secret.
	_, err = ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("deploy-bot"),
		Tags: []iamtypes.Tag{{Key: aws.String(awsiam.TagSecret), Value: sec.ARN}}})
	e.must(t, err)
	e.rotate(t, "prod/deploy-bot", 0) // rotor mints the user's first key

	var leaked struct{ AccessKeyID, SecretAccessKey string }
	e.must(t, json.Unmarshal([]byte(e.value(t, "prod/deploy-bot", "AWSCURRENT")), &leaked))
	if k, ok := e.h.Server.IAM.AccessKey(leaked.AccessKeyID); !ok || k.Status != "Active" {
		t.Fatalf("the first key: %+v %v", k, ok)
	}

	sample, err := os.ReadFile("../../test/testdata/events/guardduty-credential-exfiltration.json")
	e.must(t, err)
	var ev map[string]any
	e.must(t, json.Unmarshal(sample, &ev))
	ev["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)["accessKeyId"] = leaked.AccessKeyID
	ev["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)["userName"] = "deploy-bot"
	body, _ := json.Marshal(ev)
	mark := e.reqs.len()
	resp, err := http.Post(e.h.URL+"/_rotor/events/emit", "application/json", bytes.NewReader(body))
	e.must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emit: %s", resp.Status)
	}
	arn := e.leakExecution(t)
	e.wait(t, arn, "SUCCEEDED")

	if k, ok := e.h.Server.IAM.AccessKey(leaked.AccessKeyID); ok {
		t.Errorf("the leaked key still exists: %+v", k)
	}
	var iamOps []string
	for _, op := range e.reqs.since(mark) {
		if name, ok := strings.CutPrefix(op, "iam:"); ok && (name == "UpdateAccessKey" || name == "DeleteAccessKey") {
			iamOps = append(iamOps, name)
		}
	}
	if !slices.Equal(iamOps, []string{"UpdateAccessKey", "DeleteAccessKey"}) {
		t.Errorf("IAM calls that revoke: %v, want the key deactivated, then deleted", iamOps)
	}
	var now struct{ UserName, AccessKeyID, SecretAccessKey string }
	e.must(t, json.Unmarshal([]byte(e.value(t, "prod/deploy-bot", "AWSCURRENT")), &now))
	if now.AccessKeyID == leaked.AccessKeyID || now.UserName != "deploy-bot" {
		t.Fatalf("current key %s for %q after the leak of %s", now.AccessKeyID, now.UserName, leaked.AccessKeyID)
	}
	keyCfg := cfg.Copy()
	keyCfg.Credentials = credentials.NewStaticCredentialsProvider(now.AccessKeyID, now.SecretAccessKey, "")
	who, err := sts.NewFromConfig(keyCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/deploy-bot") {
		t.Errorf("STS with the new key: %v %v", who, err)
	}
	keys := e.h.Server.IAM.AccessKeys("deploy-bot")
	if len(keys) != 1 || keys[0].AccessKeyID != now.AccessKeyID {
		t.Errorf("the user's keys: %+v, want the new one alone", keys)
	}
	hist := e.history(t, arn)
	if !strings.Contains(hist, `\"mode\":\"emergency\"`) && !strings.Contains(hist, `"mode":"emergency"`) {
		t.Errorf("the execution was not an emergency rotation: %s", hist)
	}
	secrets := []string{leaked.SecretAccessKey, now.SecretAccessKey}
	scan(t, "the execution history", hist, secrets)
	scan(t, "the functions' output", e.logs.String(), secrets)
}

// keyFixture is the keyservice API with an httpapi secret rotated once, so
// that its key is one rotor minted and fingerprinted.
type keyFixture struct {
	ks  *keyservice.Server
	url string
}

func newKeyFixture(t *testing.T, e *leakEnv, secretID, grace string) *keyFixture {
	t.Helper()
	f := &keyFixture{ks: keyservice.New("mk_leak_test_8c1f3a0b2d")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	e.must(t, err)
	srv := &http.Server{Handler: f.ks.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.url = "http://" + ln.Addr().String()
	initial := f.ks.Mint("initial")
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	sm := e.h.SecretsManager()
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String(secretID + "-master"), SecretString: aws.String(f.ks.HTTPAPIConfig(f.url, keyservice.Serves(secretID), keyservice.RevokeUnminted())), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String(secretID), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String(secretID + "-master")},
			{Key: aws.String("rotor:grace-period"), Value: aws.String(grace)}}},
	} {
		_, err := sm.CreateSecret(t.Context(), in)
		e.must(t, err)
	}
	return f
}

type apiKey struct {
	APIKey string `json:"apiKey"`
	KeyID  string `json:"keyId"`
}

func (e *leakEnv) apiKey(t *testing.T, secretID, stage string) apiKey {
	t.Helper()
	var k apiKey
	e.must(t, json.Unmarshal([]byte(e.value(t, secretID, stage)), &k))
	return k
}

func (e *leakEnv) webhookKeys(t *testing.T) webhook.Keys {
	t.Helper()
	var k webhook.Keys
	e.must(t, json.Unmarshal([]byte(e.value(t, WebhookKeysSecret, "AWSCURRENT")), &k))
	return k
}

func (e *leakEnv) post(t *testing.T, path string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.h.WebhookURL+path, bytes.NewReader(body))
	e.must(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	e.must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func hmacHex(key, data []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// TestGitGuardianIncidentRevokesTheKey: a GitGuardian incident whose
// hmsl_hash is that of a key rotor minted, signed as GitGuardian signs,
// reaches the webhook's function URL; the key is revoked at the API.
func TestGitGuardianIncidentRevokesTheKey(t *testing.T) {
	e := startLeakEnv(t)
	f := newKeyFixture(t, e, "prod/payments-api", "0s")
	e.rotate(t, "prod/payments-api", 0)
	leaked := e.apiKey(t, "prod/payments-api", "AWSCURRENT")
	if !f.ks.Accepts(leaked.APIKey) {
		t.Fatal("the rotated key does not work")
	}

	sample, err := os.ReadFile("../../test/testdata/leak/gitguardian-incident-triggered.json")
	e.must(t, err)
	var inc map[string]any
	e.must(t, json.Unmarshal(sample, &inc))
	inc["incident"].(map[string]any)["hmsl_hash"] = leak.HMSLHash([]byte(leaked.APIKey))
	body, _ := json.Marshal(inc)
	keys := e.webhookKeys(t)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := "sha256=" + hmacHex([]byte(ts+keys.GitGuardian), body)

	// A wrong signature changes nothing.
	if code, resp := e.post(t, "gitguardian", body, map[string]string{"Timestamp": ts, "Gitguardian-Signature": "sha256=" + strings.Repeat("0", 64)}); code != http.StatusUnauthorized {
		t.Fatalf("a bad signature: %d %s", code, resp)
	}
	if ds := e.h.Server.Events.Deliveries(); len(ds) != 0 {
		t.Fatalf("a refused alert was delivered: %+v", ds)
	}
	if code, resp := e.post(t, "gitguardian", body, map[string]string{"Timestamp": ts, "Gitguardian-Signature": sig}); code != http.StatusAccepted {
		t.Fatalf("the signed incident: %d %s", code, resp)
	}
	arn := e.leakExecution(t)
	e.wait(t, arn, "SUCCEEDED")

	if f.ks.Accepts(leaked.APIKey) {
		t.Error("the leaked key still works at the API")
	}
	now := e.apiKey(t, "prod/payments-api", "AWSCURRENT")
	if now.APIKey == leaked.APIKey || !f.ks.Accepts(now.APIKey) {
		t.Error("the current key is not a new, working key")
	}
	secrets := append(f.ks.Minted(), "mk_leak_test_8c1f3a0b2d")
	scan(t, "the execution history", e.history(t, arn), secrets)
	scan(t, "the functions' output", e.logs.String(), secrets)
}

// TestLeakOfPreviousDuringGracePeriod: while a rotation waits out its grace
// period, the previous key (still valid during the grace) leaks. The leak
// revokes it at once, without a new rotation; the waiting rotation then
// completes, its expire finding the key already gone.
func TestLeakOfPreviousDuringGracePeriod(t *testing.T) {
	e := startLeakEnv(t)
	f := newKeyFixture(t, e, "prod/search-api", "0s")
	e.rotate(t, "prod/search-api", 0)
	previous := e.apiKey(t, "prod/search-api", "AWSCURRENT")

	waiting := e.start(t, "prod/search-api", 4)
	// Wait until the rotation has switched over and sits in its grace
	// period: the key it replaced is then AWSPREVIOUS.
	deadline := time.Now().Add(10 * time.Second)
	for e.apiKey(t, "prod/search-api", "AWSPREVIOUS").APIKey != previous.APIKey {
		if time.Now().After(deadline) {
			t.Fatalf("the rotation did not switch over: %s", e.history(t, waiting))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !f.ks.Accepts(previous.APIKey) {
		t.Fatal("the previous key was revoked before its grace period ended")
	}

	alert, _ := json.Marshal(map[string]string{"fingerprint": leak.SHA256([]byte(previous.APIKey)),
		"reference": "https://example.com/incidents/7", "reason": "pasted in a ticket"})
	keys := e.webhookKeys(t)
	ts, sig := leak.SignGeneric([]byte(keys.Generic), alert, time.Now())
	if code, resp := e.post(t, "generic", alert, map[string]string{leak.GenericTimestampHeader: ts, leak.GenericSignatureHeader: sig}); code != http.StatusAccepted {
		t.Fatalf("the generic alert: %d %s", code, resp)
	}
	arn := e.leakExecution(t)
	e.wait(t, arn, "SUCCEEDED")
	if f.ks.Accepts(previous.APIKey) {
		t.Error("the leaked previous key still works")
	}
	st, err := e.h.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(waiting)})
	e.must(t, err)
	if st.Status != "RUNNING" {
		t.Errorf("the rotation in its grace period is %s when the leak was revoked, want RUNNING (grace too short for this machine?)", st.Status)
	}
	if hist := e.history(t, arn); !strings.Contains(hist, "RevokeLeaked") || strings.Contains(hist, `"Create"`) {
		t.Errorf("the leak execution did not revoke without rotating: %s", hist)
	}

	e.wait(t, waiting, "SUCCEEDED")
	now := e.apiKey(t, "prod/search-api", "AWSCURRENT")
	if now.APIKey == previous.APIKey || !f.ks.Accepts(now.APIKey) {
		t.Error("the rotation's new key is not current and working")
	}
	if live := f.ks.Live(); len(live) != 1 || live[0].ID != now.KeyID {
		t.Errorf("%d live keys at the API, want the current one alone", len(live))
	}
	secrets := append(f.ks.Minted(), "mk_leak_test_8c1f3a0b2d")
	scan(t, "the leak execution's history", e.history(t, arn), secrets)
	scan(t, "the rotation's history", e.history(t, waiting), secrets)
	scan(t, "the functions' output", e.logs.String(), secrets)
}

package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/smstore"
	"github.com/rotorhq/rotor/internal/webhook"
)

func TestCachedKeys(t *testing.T) {
	store := smstore.New(smstore.Options{})
	ctx := context.Background()
	put := func(v string) {
		if _, err := store.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("rotor/webhook"), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("rotor/webhook"), SecretString: aws.String(`{"github":"one"}`)}); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	keys := webhook.CachedKeys(store, "rotor/webhook", time.Minute, func() time.Time { return clock })
	get := func() string {
		k, err := keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return k.GitHub
	}
	if got := get(); got != "one" {
		t.Fatalf("first read %q", got)
	}
	put(`{"github":"two"}`)
	if got := get(); got != "one" {
		t.Errorf("within the TTL: %q, want the cached one", got)
	}
	clock = clock.Add(2 * time.Minute)
	if got := get(); got != "two" {
		t.Errorf("after the TTL: %q, want the new one", got)
	}
	put(`{"github":"three","slack":"x"}`)
	clock = clock.Add(2 * time.Minute)
	if _, err := keys(ctx); err == nil || !strings.Contains(err.Error(), `unknown field "/slack"`) || strings.Contains(err.Error(), "three") {
		t.Errorf("a secret with an unknown field: %v", err)
	}
}

func TestFunctionURL(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"secretId":"prod/stripe","reason":"test"}`)
	ts, sig := leak.SignGeneric([]byte(keys.Generic), body, now)
	req := events.LambdaFunctionURLRequest{RawPath: "/generic", Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
		Headers: map[string]string{"x-rotor-signature-256": sig, "x-rotor-timestamp": ts}}
	req.RequestContext.HTTP.Method = "POST"
	resp, err := f.h.FunctionURL(context.Background(), req)
	if err != nil || resp.StatusCode != 202 || len(f.bus.details) != 1 {
		t.Fatalf("FunctionURL: %v %d %s, %d events", err, resp.StatusCode, resp.Body, len(f.bus.details))
	}
	req.Body = "%%%"
	if resp, _ := f.h.FunctionURL(context.Background(), req); resp.StatusCode != 400 {
		t.Errorf("bad base64: %d", resp.StatusCode)
	}
}

// TestFunctionURLRecoversPanics: a panic whose message carries the webhook's
// keys in several encodings is answered 500 with a body that says nothing,
// and logged with its stack, every encoding of every key scrubbed.
func TestFunctionURLRecoversPanics(t *testing.T) {
	f := newFixture(t)
	f.bus.panic = fmt.Sprintf("bus exploded: key %s, %q, %s, %s, token %s",
		keys.Generic, keys.GitGuardian, url.PathEscape(keys.GitHub), base64.StdEncoding.EncodeToString([]byte(keys.GitHubToken)), hex.EncodeToString([]byte(keys.Generic)))
	body := []byte(`{"secretId":"prod/stripe","reason":"test"}`)
	ts, sig := leak.SignGeneric([]byte(keys.Generic), body, now)
	req := events.LambdaFunctionURLRequest{RawPath: "/generic", Body: string(body),
		Headers: map[string]string{"x-rotor-signature-256": sig, "x-rotor-timestamp": ts}}
	req.RequestContext.HTTP.Method = "POST"
	resp, err := f.h.FunctionURL(context.Background(), req)
	if err != nil || resp.StatusCode != 500 || resp.Body != `{"error":"internal error"}` {
		t.Fatalf("FunctionURL: %v %d %s, want 500 and a bare internal error", err, resp.StatusCode, resp.Body)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "webhook panicked") || !strings.Contains(logs, "bus exploded") || !strings.Contains(logs, "goroutine ") {
		t.Errorf("the panic is not logged with its message and stack: %s", logs)
	}
	for _, k := range []string{keys.GitHub, keys.GitGuardian, keys.Generic, keys.GitHubToken} {
		for _, e := range redact.Encodings(k) {
			if strings.Contains(logs, e) || strings.Contains(resp.Body, e) {
				t.Errorf("an encoding of a webhook key (%d bytes) is in the log or the response", len(e))
			}
		}
	}
	if !strings.Contains(logs, "Publish") {
		t.Errorf("the stack does not reach the panicking call: %s", logs)
	}
	// The sender's redelivery goes through once the bug is gone.
	f.bus.panic = ""
	if resp, _ := f.h.FunctionURL(context.Background(), req); resp.StatusCode != 202 || len(f.bus.details) != 1 {
		t.Errorf("the redelivery after a panic: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestGitHubTransportErrorNamesHostOnly: when the GitHub API cannot be
// reached, the answer and the log name method and host, never the alert's
// URL.
func TestGitHubTransportErrorNamesHostOnly(t *testing.T) {
	f := newFixture(t)
	f.github.Close()
	host := strings.TrimPrefix(f.github.URL, "http://")
	gh := sample(t, "github-secret-scanning-reopened.json")
	r := f.h.Handle(context.Background(), githubRequest(gh, "secret_scanning_alert", "d11", sign(keys.GitHub, gh)))
	if r.Status != 503 || !strings.Contains(r.Body, "GET "+host+": dial tcp") {
		t.Fatalf("status %d %s, want 503 naming GET %s", r.Status, r.Body, host)
	}
	for what, text := range map[string]string{"response": r.Body, "log": f.logs.String()} {
		if strings.Contains(text, "/repos/") || strings.Contains(text, "secret-scanning") {
			t.Errorf("the %s quotes the alert's URL: %s", what, text)
		}
	}
}

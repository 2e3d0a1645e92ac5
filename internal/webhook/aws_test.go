package webhook_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/leak"
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

package refreshonrotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
	"github.com/google/go-cmp/cmp"

	refresh "github.com/rotorhq/rotor/examples/refresh-on-rotation"
	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

const (
	secretName = "app/api-key"
	function   = "refresh-on-rotation"
	// The rotation's grace period, in the state machine's seconds; the
	// host runs its waits at waitScale, so it lasts 2 s here.
	graceSeconds = 100
	waitScale    = 0.02
)

// world is rotor local with an httpapi secret whose keys a keyservice API
// on loopback issues, and the API's refusals counted.
type world struct {
	h       *rotorlocal.Host
	cfg     aws.Config
	ks      *keyservice.Server
	ksURL   string
	refused atomic.Int64 // 401 answers of GET /v1/whoami
}

func start(t *testing.T) *world {
	t.Helper()
	w := &world{ks: keyservice.New("mk_example_refresh_" + fmt.Sprint(time.Now().UnixNano()))}
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		w.ks.Handler().ServeHTTP(rec, r)
		if r.URL.Path == "/v1/whoami" && rec.Code == http.StatusUnauthorized {
			w.refused.Add(1)
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.WriteHeader(rec.Code)
		rw.Write(rec.Body.Bytes())
	}))
	t.Cleanup(api.Close)
	w.ksURL = api.URL
	h, err := rotorlocal.Start(t.Context(), rotorlocal.Options{WaitScale: waitScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	w.h = h
	// Credentials the local endpoint did not issue act as the account's root.
	w.cfg = aws.Config{Region: rotorlocal.Region, BaseEndpoint: aws.String(h.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", "")}
	sm := secretsmanager.NewFromConfig(w.cfg)
	initial := w.ks.Mint("initial")
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String(secretName + "-master"), SecretString: aws.String(w.ks.HTTPAPIConfig(w.ksURL, keyservice.Serves(secretName), keyservice.RevokeUnminted())),
			Tags: []smtypes.Tag{{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String(secretName), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String(secretName + "-master")}}},
	} {
		if _, err := sm.CreateSecret(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// subscribe deploys rule.json on the default bus with the consumer's
// HandleEvent as its target, as `lambda.Start(c.HandleEvent)` would serve
// it, and calls arrived with the time each event reached it.
func (w *world) subscribe(t *testing.T, c *refresh.Consumer, arrived func(events.CloudWatchEvent, time.Time)) {
	t.Helper()
	handler := lambda.NewHandler(c.HandleEvent)
	w.h.Server.Lambda.Register(function, func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		arrived(ev, time.Now())
		return handler.Invoke(ctx, payload)
	})
	pattern, err := os.ReadFile("rule.json")
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(w.cfg)
	if _, err := eb.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String(function), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String(function), Targets: []ebtypes.Target{{
		Id: aws.String("consumer"), Arn: aws.String("arn:aws:lambda:" + rotorlocal.Region + ":" + rotorlocal.Account + ":function:" + function)}}}); err != nil {
		t.Fatal(err)
	}
}

// whoami is the consumer's call: the key service's API with the secret's
// key, a refusal wrapping refresh.ErrUnauthorized.
func (w *world) whoami(used func(keyID string)) func(ctx context.Context, value string) error {
	return func(ctx context.Context, value string) error {
		var k struct{ APIKey, KeyID string }
		if err := json.Unmarshal([]byte(value), &k); err != nil {
			return errors.New("the secret is not the API key's JSON")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.ksURL+"/v1/whoami", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+k.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			used(k.KeyID)
			return nil
		case http.StatusUnauthorized:
			return fmt.Errorf("whoami with key %s: %w", k.KeyID, refresh.ErrUnauthorized)
		}
		return fmt.Errorf("whoami: HTTP %d", resp.StatusCode)
	}
}

// use is a key id a call succeeded with, and when.
type use struct {
	keyID string
	at    time.Time
}

// callThrough calls c.Do in a loop while a rotation with a grace period
// runs, and returns the rotation's new key id, the keys the calls used
// and the errors Do returned.
func (w *world) callThrough(t *testing.T, c *refresh.Consumer) (string, []use, []error) {
	t.Helper()
	var mu sync.Mutex
	var uses []use
	var errs []error
	call := w.whoami(func(id string) {
		mu.Lock()
		uses = append(uses, use{id, time.Now()})
		mu.Unlock()
	})
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := c.Do(ctx, call); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	x, err := w.h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(w.h.StateMachineARN),
		Input: aws.String(fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":%d}`, secretName, graceSeconds))})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if status, err := w.h.Server.SFN.Wait(wctx, aws.ToString(x.ExecutionArn)); err != nil || status != "SUCCEEDED" {
		t.Fatalf("rotation: %s (%v)", status, err)
	}
	if err := w.h.Server.Events.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	// Calls go on a little after the rotation, with the old key revoked.
	time.Sleep(100 * time.Millisecond)
	stop()
	<-done
	out, err := secretsmanager.NewFromConfig(w.cfg).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName)})
	if err != nil {
		t.Fatal(err)
	}
	var now struct{ KeyID string }
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &now); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return now.KeyID, uses, errs
}

// TestRefreshOnRotation: a consumer subscribed to rotor's events uses the
// new key within a second of the Rotation Switched Over event, and no call
// of it is refused through a rotation with a grace period: it switched
// before the old key was revoked.
func TestRefreshOnRotation(t *testing.T) {
	w := start(t)
	c, err := refresh.New(secretsmanager.NewFromConfig(w.cfg), secretName, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	arrivals := map[string]time.Time{} // detail-type -> first arrival
	w.subscribe(t, c, func(ev events.CloudWatchEvent, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := arrivals[ev.DetailType]; !ok {
			arrivals[ev.DetailType] = at
		}
	})
	newKey, uses, errs := w.callThrough(t, c)
	if len(errs) != 0 {
		t.Errorf("%d calls failed, the first: %v", len(errs), errs[0])
	}
	if n := w.refused.Load(); n != 0 {
		t.Errorf("the API refused %d calls: the consumer used a revoked key", n)
	}
	mu.Lock()
	switched, ok := arrivals[refresh.DetailTypeSwitchedOver]
	_, succeeded := arrivals[refresh.DetailTypeSucceeded]
	mu.Unlock()
	if !ok || !succeeded {
		t.Fatalf("events that reached the consumer: %v, want Rotation Switched Over and Rotation Succeeded", arrivals)
	}
	var first time.Time
	for _, u := range uses {
		if u.keyID == newKey {
			first = u.at
			break
		}
	}
	switch lag := first.Sub(switched); {
	case first.IsZero():
		t.Fatal("no call used the new key")
	case lag > time.Second:
		t.Errorf("the new key was first used %s after the event, want within a second", lag)
	default:
		t.Logf("the new key was first used %s after the Rotation Switched Over event; %d calls, %d fresh reads", lag.Round(time.Millisecond), len(uses), c.Refreshes.Load())
	}
	if last := uses[len(uses)-1]; last.keyID != newKey {
		t.Errorf("the last call used key %s, want the new key %s", last.keyID, newKey)
	}
	if n := c.Retries.Load(); n != 0 {
		t.Errorf("%d calls were retried, want none", n)
	}
}

// TestRetryOnRefusal: a consumer that gets no event (no rule) keeps the
// old key until it is revoked; the refused call is retried once with a
// fresh read, and no call fails.
func TestRetryOnRefusal(t *testing.T) {
	w := start(t)
	c, err := refresh.New(secretsmanager.NewFromConfig(w.cfg), secretName, 0)
	if err != nil {
		t.Fatal(err)
	}
	newKey, uses, errs := w.callThrough(t, c)
	if len(errs) != 0 {
		t.Errorf("%d calls failed, the first: %v", len(errs), errs[0])
	}
	if n := w.refused.Load(); n == 0 {
		t.Error("no call was refused: the old key was never used after its revocation, and the retry was not tested")
	}
	if n := c.Retries.Load(); n < 1 {
		t.Errorf("%d retries, want at least one", n)
	}
	if last := uses[len(uses)-1]; last.keyID != newKey {
		t.Errorf("the last call used key %s, want the new key %s", last.keyID, newKey)
	}
}

// TestHandleEvent: only rotor's events saying that this secret's current
// version changed refresh the cache.
func TestHandleEvent(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/api-key-AbCdEf"
	reads := 0
	client := &countingClient{reads: &reads}
	for _, tc := range []struct {
		name, source, detailType, detail string
		wantReads                        int
		wantErr                          string
	}{
		{"switched over, by ARN", "rotor", refresh.DetailTypeSwitchedOver, `{"secretId":"` + arn + `"}`, 2, ""},
		{"succeeded", "rotor", refresh.DetailTypeSucceeded, `{"secretId":"` + arn + `"}`, 2, ""},
		{"expire failed", "rotor", refresh.DetailTypeExpireFailed, `{"secretId":"` + arn + `"}`, 2, ""},
		{"another secret", "rotor", refresh.DetailTypeSucceeded, `{"secretId":"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/api-key-2-AbCdEf"}`, 0, ""},
		{"a failed rotation", "rotor", "Rotation Failed", `{"secretId":"` + arn + `"}`, 0, ""},
		{"another source", "example.other", refresh.DetailTypeSucceeded, `{"secretId":"` + arn + `"}`, 0, ""},
		{"no secretId", "rotor", refresh.DetailTypeSucceeded, `{}`, 0, "detail has no secretId"},
		{"a detail that is not an object", "rotor", refresh.DetailTypeSucceeded, `[1]`, 0, "detail: json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := refresh.New(client, "app/api-key", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			reads = 0
			err = c.HandleEvent(t.Context(), events.CloudWatchEvent{ID: "e-1", Source: tc.source, DetailType: tc.detailType, Detail: json.RawMessage(tc.detail)})
			if got := fmt.Sprint(err); tc.wantErr == "" && err != nil || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Errorf("HandleEvent: %v, want %q", err, tc.wantErr)
			}
			if reads != tc.wantReads {
				t.Errorf("%d Secrets Manager reads, want %d (DescribeSecret and GetSecretValue per refresh)", reads, tc.wantReads)
			}
		})
	}
}

func TestSameSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/api-key-AbCdEf"
	got := map[string]bool{}
	for _, id := range []string{arn, "app/api-key", "app/api", "app/api-key-AbCdEf", "api-key", "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/api-key"} {
		got[id] = refresh.SameSecret(id, arn)
	}
	want := map[string]bool{arn: true, "app/api-key": true, "app/api": false, "app/api-key-AbCdEf": false, "api-key": false,
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/api-key": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestREADMEShowsTheRule: the rule the README tells a person to deploy is
// the one the tests deploy.
func TestREADMEShowsTheRule(t *testing.T) {
	rule, err := os.ReadFile("rule.json")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), strings.TrimSpace(string(rule))) {
		t.Error("README.md does not show rule.json as it is")
	}
}

// countingClient answers Secrets Manager reads from memory, counting them;
// the cache calls no other method.
type countingClient struct {
	secretcache.SecretsManagerAPIClient
	reads *int
}

func (c *countingClient) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	*c.reads++
	return &secretsmanager.DescribeSecretOutput{ARN: in.SecretId, VersionIdsToStages: map[string][]string{"v1": {"AWSCURRENT"}}}, nil
}

func (c *countingClient) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	*c.reads++
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, VersionId: in.VersionId, SecretString: aws.String(`{"apiKey":"k","keyId":"v1"}`)}, nil
}

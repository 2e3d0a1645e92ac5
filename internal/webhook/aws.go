package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// Environment of the webhook function.
const (
	EnvSecret    = "ROTOR_WEBHOOK_SECRET" // Secrets Manager id of the Keys JSON (required)
	EnvBus       = "ROTOR_LEAK_BUS"       // event bus; default rotor-leaks
	EnvGitHubAPI = "ROTOR_GITHUB_API"     // GitHub REST API base; default https://api.github.com
)

// keysTTL is how long the keys are cached: a changed signing key is picked
// up within it.
const keysTTL = 5 * time.Minute

// EventBridge puts rotor.leak events on a bus.
type EventBridge struct {
	Client interface {
		PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
	}
	Bus string
}

// Publish implements Publisher, ten entries per call (PutEvents' limit).
func (e *EventBridge) Publish(ctx context.Context, details [][]byte) error {
	for start := 0; start < len(details); start += 10 {
		var entries []ebtypes.PutEventsRequestEntry
		for _, d := range details[start:min(start+10, len(details))] {
			entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(e.Bus),
				Source: aws.String("rotor.webhook"), DetailType: aws.String("rotor.leak"), Detail: aws.String(string(d))})
		}
		out, err := e.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put events on %s: %w", e.Bus, err)
		}
		if out.FailedEntryCount > 0 {
			for _, r := range out.Entries {
				if r.ErrorCode != nil {
					return fmt.Errorf("put events on %s: %d failed, e.g. %s", e.Bus, out.FailedEntryCount, aws.ToString(r.ErrorCode))
				}
			}
			return fmt.Errorf("put events on %s: %d failed", e.Bus, out.FailedEntryCount)
		}
	}
	return nil
}

// SecretReader reads a secret's current value.
type SecretReader interface {
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
}

// CachedKeys reads the Keys JSON from a secret, strictly, and keeps it for
// ttl.
func CachedKeys(sec SecretReader, id string, ttl time.Duration, now func() time.Time) func(context.Context) (*Keys, error) {
	var mu sync.Mutex
	var cached *Keys
	var at time.Time
	return func(ctx context.Context) (*Keys, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached != nil && now().Sub(at) < ttl {
			return cached, nil
		}
		out, err := sec.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("read webhook secret %q: %w", id, err)
		}
		var k Keys
		if err := strictjson.Decode([]byte(aws.ToString(out.SecretString)), &k); err != nil {
			return nil, fmt.Errorf("webhook secret %q: %w", id, err)
		}
		cached, at = &k, now()
		return cached, nil
	}
}

// FromEnv builds the handler the webhook function runs, from its
// environment and the SDK's default configuration (AWS_ENDPOINT_URL reaches
// a local endpoint).
func FromEnv(ctx context.Context, getenv func(string) string) (*Handler, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	return FromConfig(cfg, getenv, os.Stderr)
}

// FromConfig builds the handler as FromEnv does, from an AWS configuration,
// an environment and a log destination given (rotor local runs the webhook
// in process through it).
func FromConfig(cfg aws.Config, getenv func(string) string, logs io.Writer) (*Handler, error) {
	id := getenv(EnvSecret)
	if id == "" {
		return nil, fmt.Errorf("%s is not set: it names the secret holding the webhook keys", EnvSecret)
	}
	table := getenv(ledger.EnvTable)
	if table == "" {
		return nil, fmt.Errorf("%s is not set: it names the DynamoDB table where deliveries are remembered, so that a replay reaching any instance is refused", ledger.EnvTable)
	}
	bus := getenv(EnvBus)
	if bus == "" {
		bus = leak.LeakBus
	}
	return New(Options{
		Keys:      CachedKeys(sm.NewFromConfig(cfg), id, keysTTL, time.Now),
		Publisher: &EventBridge{Client: eventbridge.NewFromConfig(cfg), Bus: bus},
		Dedupe:    ledger.New(dynamodb.NewFromConfig(cfg), table),
		GitHubAPI: getenv(EnvGitHubAPI),
		Log:       slog.New(slog.NewJSONHandler(logs, nil)),
	})
}

// FunctionURL adapts the handler to a Lambda function URL.
func (h *Handler) FunctionURL(ctx context.Context, r events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	body := []byte(r.Body)
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return events.LambdaFunctionURLResponse{StatusCode: 400, Body: `{"error":"body is not valid base64"}`}, nil
		}
		body = b
	}
	path := r.RawPath
	if path == "" {
		path = r.RequestContext.HTTP.Path
	}
	resp := h.Handle(ctx, &Request{Method: r.RequestContext.HTTP.Method, Path: path, Headers: r.Headers, Body: body})
	return events.LambdaFunctionURLResponse{StatusCode: resp.Status, Body: resp.Body,
		Headers: map[string]string{"Content-Type": "application/json"}}, nil
}

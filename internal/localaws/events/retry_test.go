package events

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// The server's tests (internal/localaws) deliver to its real Step
// Functions and Lambda; these drive the service alone, over the SDK, with
// Targets that fail on demand, for what those cannot show: retry counts
// and delays, execution names, and Close during a backoff.

const (
	unitBus     = "rotor-leaks"
	unitPattern = `{"detail-type":["rotor.leak"],"detail":{"trigger":["leak"]}}`
	unitMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:rotation"
)

// newUnit serves a Service on loopback with fast retries and returns it
// with an SDK client.
func newUnit(t *testing.T, targets Targets) (*Service, *eventbridge.Client) {
	t.Helper()
	env := wire.Env{Region: "us-east-1", Account: "000000000000", Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	svc, err := New(env, targets)
	if err != nil {
		t.Fatal(err)
	}
	svc.retryBase, svc.retryMax = time.Millisecond, 4*time.Millisecond
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		svc.Serve(w, r, strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSEvents."), body)
	}))
	t.Cleanup(func() { hs.Close(); svc.Close() })
	c := eventbridge.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	ctx := t.Context()
	must(t, err2(c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(unitBus)})))
	must(t, err2(c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(unitBus), EventPattern: aws.String(unitPattern)})))
	must(t, err2(c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("leak"), EventBusName: aws.String(unitBus), Targets: []ebtypes.Target{{
		Id: aws.String("rotate"), Arn: aws.String(unitMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/events"),
		InputPath: aws.String("$.detail"), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(2)}}}})))
	return svc, c
}

func err2[T any](_ T, err error) error { return err }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func putLeak(t *testing.T, svc *Service, c *eventbridge.Client, detail string) *eventbridge.PutEventsOutput {
	t.Helper()
	out, err := c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String(unitBus),
		Source: aws.String("rotor.webhook"), DetailType: aws.String("rotor.leak"), Detail: aws.String(detail)}}})
	must(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, svc.Wait(ctx))
	return out
}

func TestEventsRetries(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{} // by state machine input
	svc, c := newUnit(t, Targets{StartExecution: func(_ context.Context, machine, name, input string) (string, error) {
		mu.Lock()
		calls[input]++
		n := calls[input]
		mu.Unlock()
		switch {
		case strings.Contains(input, "flaky") && n < 3:
			return "", errors.New("throttled")
		case strings.Contains(input, "down"):
			return "", errors.New("unavailable")
		case strings.Contains(input, "refused"):
			return "", Permanent(errors.New("no such state machine"))
		}
		return strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name, nil
	}})

	for _, c2 := range []string{"flaky", "down", "refused"} {
		if out := putLeak(t, svc, c, `{"trigger":"leak","case":"`+c2+`"}`); out.FailedEntryCount != 0 {
			t.Errorf("FailedEntryCount = %d: delivery failures are not PutEvents failures", out.FailedEntryCount)
		}
	}
	type outcome struct {
		Attempts      int
		Failed        bool
		Error         string
		StartedSample bool
	}
	got := map[string]outcome{}
	for _, d := range svc.Deliveries() {
		var in struct{ Case string }
		must(t, json.Unmarshal([]byte(d.Input), &in))
		got[in.Case] = outcome{d.Attempts, d.Failed(), d.Error, strings.Contains(d.Result, ":execution:rotation:")}
	}
	want := map[string]outcome{
		"flaky":   {Attempts: 3, StartedSample: true},                          // two retries, as the RetryPolicy allows
		"down":    {Attempts: 3, Failed: true, Error: "unavailable"},           // retries exhausted
		"refused": {Attempts: 1, Failed: true, Error: "no such state machine"}, // permanent: never retried
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if f := svc.Failures(); len(f) != 2 {
		t.Errorf("failures: %+v", f)
	}

	t.Run("the same delivery names the same execution", func(t *testing.T) {
		// A retry after a lost answer must not start a second execution:
		// the name depends on the event, the rule and the target only.
		var names []string
		svc.targets.StartExecution = func(_ context.Context, _, name, _ string) (string, error) {
			names = append(names, name)
			return "arn", nil
		}
		rt := route{rule: &ebRule{Name: "leak", ARN: "arn:r"}, target: ebTarget{ID: "t", ARN: unitMachine}}
		for _, id := range []string{"event-1", "event-1", "event-2"} {
			_, err := svc.send(rt, id, []byte(`{}`))
			must(t, err)
		}
		if len(names) != 3 || names[0] != names[1] || names[0] == names[2] || uuid.Validate(names[0]) != nil {
			t.Errorf("execution names %q, want one UUID for event-1 and another for event-2", names)
		}
	})

	t.Run("Close stops retrying", func(t *testing.T) {
		svc.retryBase, svc.retryMax = time.Hour, time.Hour
		svc.targets.StartExecution = func(context.Context, string, string, string) (string, error) { return "", errors.New("unavailable") }
		_, err := c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{EventBusName: aws.String(unitBus),
			Source: aws.String("rotor.webhook"), DetailType: aws.String("rotor.leak"), Detail: aws.String(`{"trigger":"leak"}`)}}})
		must(t, err)
		done := make(chan struct{})
		go func() { svc.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for a retry an hour away")
		}
		f := svc.Failures()
		if last := f[len(f)-1]; !strings.Contains(last.Error, "shutting down") {
			t.Errorf("last failure: %+v", last)
		}
	})
}

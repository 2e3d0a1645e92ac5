package rotorlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/keyservice"
)

// holdingKeyAPI is the key API behind a gate: the first request matching
// hold waits there, unanswered and not applied, until its caller gives
// up; it is then answered 503 without being applied, as a call whose
// caller died never reaches the API's state. Later requests go through.
type holdingKeyAPI struct {
	ks   *keyservice.Server
	url  string
	hold string // "METHOD /path-prefix"

	mu      sync.Mutex
	held    bool
	arrived chan struct{}
}

func newHoldingKeyAPI(t *testing.T, hold string) *holdingKeyAPI {
	t.Helper()
	k := &holdingKeyAPI{ks: keyservice.New("mk_restart_test_3e7a9c1d5b"), hold: hold, arrived: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := k.ks.Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, prefix, _ := strings.Cut(k.hold, " ")
		k.mu.Lock()
		hold := !k.held && r.Method == method && strings.HasPrefix(r.URL.Path, prefix)
		if hold {
			k.held = true
			close(k.arrived)
		}
		k.mu.Unlock()
		if hold {
			<-r.Context().Done() // the function was stopped with its process
			http.Error(w, "the caller went away", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	k.url = "http://" + ln.Addr().String()
	return k
}

// createSecrets creates an httpapi secret whose key the API minted, and
// its master.
func (k *holdingKeyAPI) createSecrets(t *testing.T, h *Host, secretID string) keyservice.Key {
	t.Helper()
	initial := k.ks.Mint("initial")
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String(secretID + "-master"), SecretString: aws.String(k.ks.HTTPAPIConfig(k.url, keyservice.Serves(secretID), keyservice.RevokeUnminted())),
			Tags: []smtypes.Tag{{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String(secretID), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String(secretID + "-master")},
			{Key: aws.String("rotor:grace-period"), Value: aws.String("0s")}}},
	} {
		if _, err := h.SecretsManager().CreateSecret(t.Context(), in); err != nil {
			t.Fatalf("CreateSecret %s: %v", aws.ToString(in.Name), err)
		}
	}
	return initial
}

// TestRotationSurvivesRestartInATask: the host is closed while a
// rotation's Lambda task is in flight (scheduled, its call to the key API
// unanswered); a host started again on the data file resumes the rotation
// before it has registered the functions, and the rotation finishes:
// SUCCEEDED, the new key current and working, every other key revoked,
// and the history keeps each state's input. Before, the resumed task ran
// before its function was registered and failed with
// Lambda.ResourceNotFoundException, and so did the cleanup after it,
// leaving AWSPENDING and a live key.
func TestRotationSurvivesRestartInATask(t *testing.T) {
	for _, tc := range []struct {
		step string // the task in flight
		hold string // the key API call it makes
	}{
		{"Create", "POST /v1/keys"},
		{"Expire", "DELETE /v1/keys/"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			const secretID = "app/restart"
			data := filepath.Join(t.TempDir(), "local.db")
			logs := &syncBuffer{}
			h1, err := Start(t.Context(), Options{DataFile: data, FunctionLog: logs})
			if err != nil {
				t.Fatal(err)
			}
			api := newHoldingKeyAPI(t, tc.hold)
			initial := api.createSecrets(t, h1, secretID)
			input := fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":0}`, secretID)
			x, err := h1.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(h1.StateMachineARN), Input: aws.String(input)})
			if err != nil {
				h1.Close()
				t.Fatal(err)
			}
			arn := aws.ToString(x.ExecutionArn)
			select {
			case <-api.arrived:
			case <-time.After(30 * time.Second):
				h1.Close()
				t.Fatalf("the rotation never called %s\nfunctions: %s", tc.hold, logs)
			}
			before := historyEvents(t, h1, arn)
			if got := lastEntered(before); got != tc.step {
				t.Fatalf("in flight in %s, want %s", got, tc.step)
			}
			h1.Close() // the task is never answered

			h2, err := Start(t.Context(), Options{DataFile: data, FunctionLog: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer h2.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			status, err := h2.Server.SFN.Wait(ctx, arn)
			if err != nil || status != "SUCCEEDED" {
				d, derr := h2.StepFunctions().DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
				if derr != nil {
					t.Fatal(derr)
				}
				t.Fatalf("after the restart the execution is %s (%v): %s: %s\nhistory: %s\nfunctions: %s", status, err,
					aws.ToString(d.Error), aws.ToString(d.Cause), historyText(t, h2, arn), logs)
			}
			e := &leakEnv{h: h2}
			cur := e.apiKey(t, secretID, "AWSCURRENT")
			if cur.APIKey == initial.Secret || !api.ks.Accepts(cur.APIKey) {
				t.Error("the current value is not a new, working key")
			}
			var live []string
			for _, k := range api.ks.Live() {
				live = append(live, k.ID)
			}
			if diff := cmp.Diff([]string{cur.KeyID}, live); diff != "" {
				t.Errorf("live keys at the API (-want +got): the initial key must be revoked and no other minted key left live:\n%s", diff)
			}
			if _, err := h2.SecretsManager().GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionStage: aws.String("AWSPENDING")}); err == nil {
				t.Error("AWSPENDING is left on a version")
			}
			after := historyEvents(t, h2, arn)
			if diff := cmp.Diff(before, after[:min(len(before), len(after))]); diff != "" {
				t.Errorf("the history recorded before the restart reads back differently (-before +after):\n%s", diff)
			}
			for _, ev := range after {
				if d := ev.StateEnteredEventDetails; d != nil && aws.ToString(d.Input) == "null" {
					t.Errorf("state %s's input reads back as null", aws.ToString(d.Name))
				}
			}
			scan(t, "the execution history", historyText(t, h2, arn), append(api.ks.Minted(), "mk_restart_test_3e7a9c1d5b"))
		})
	}
}

// historyEvents returns an execution's history, every page.
func historyEvents(t *testing.T, h *Host, arn string) []historyEvent {
	t.Helper()
	var out []historyEvent
	p := sfn.NewGetExecutionHistoryPaginator(h.StepFunctions(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			var he historyEvent
			b, _ := json.Marshal(e)
			if err := json.Unmarshal(b, &he); err != nil {
				t.Fatal(err)
			}
			out = append(out, he)
		}
	}
	return out
}

// historyEvent is the part of a history event compared across a restart.
type historyEvent struct {
	ID                       int64 `json:"Id"`
	PreviousEventID          int64 `json:"PreviousEventId"`
	Type                     string
	Timestamp                time.Time
	StateEnteredEventDetails *struct{ Name, Input *string }
	StateExitedEventDetails  *struct{ Name, Output *string }
}

func historyText(t *testing.T, h *Host, arn string) string {
	t.Helper()
	b, _ := json.Marshal(historyEvents(t, h, arn))
	return string(b)
}

func lastEntered(events []historyEvent) string {
	name := ""
	for _, e := range events {
		if e.StateEnteredEventDetails != nil {
			name = aws.ToString(e.StateEnteredEventDetails.Name)
		}
	}
	return name
}

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

// localHost starts rotor on an in-memory local endpoint with one secret
// under the random provider.
func localHost(t *testing.T) *rotorlocal.Host {
	t.Helper()
	h, err := rotorlocal.Start(context.Background(), rotorlocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	_, err = h.SecretsManager().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("app/token"), SecretString: aws.String("initial-token-value-0000000000"),
		Tags: []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}, {Key: aws.String("rotor:grace-period"), Value: aws.String("0s")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	return h
}

func TestRotateWaitAndHistory(t *testing.T) {
	h := localHost(t)
	code, out, errOut := cli(t, "rotate", "--secret", "app/token", "--wait", "--endpoint", h.URL, "--output", "json", "--reason", "test")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		ExecutionArn string
		Status       string
		States       []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != "SUCCEEDED" || len(res.States) < 10 {
		t.Fatalf("rotate --output json: %v\n%s", err, out)
	}
	if strings.Contains(out, "initial-token-value") {
		t.Error("the output contains a secret value")
	}

	code, out, _ = cli(t, "history", res.ExecutionArn, "--endpoint", h.URL)
	for _, want := range []string{"Resolve", "RotateOne", "Create", "Expire", "SUCCEEDED in"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("history: exit %d", code)
	}

	code, out, _ = cli(t, "status", "--secret", "app/token", "--endpoint", h.URL)
	if code != 0 || !strings.Contains(out, "AWSCURRENT") || !strings.Contains(out, "AWSPREVIOUS, ROTOR_REVOKED") || !strings.Contains(out, "rotor:provider") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

// TestHistoryOfASweep: history follows a sweep into its page execution
// and the rotations it started, and counts them by outcome.
func TestHistoryOfASweep(t *testing.T) {
	h := localHost(t)
	ctx := context.Background()
	for _, name := range []string{"app/a", "app/b", "app/c"} {
		tok, err := rotation.NewToken(time.Now().Add(-61 * 24 * time.Hour)) // rotated by rotor 61 days ago
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
			SecretString: aws.String("initial-token-value-0000000000"), ClientRequestToken: aws.String(tok),
			Tags: []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}, {Key: aws.String("rotor:grace-period"), Value: aws.String("0s")}}}); err != nil {
			t.Fatal(err)
		}
	}
	x, err := h.StepFunctions().StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN), Input: aws.String(`{"trigger":"sweep"}`)})
	if err != nil {
		t.Fatal(err)
	}
	sweep := aws.ToString(x.ExecutionArn)
	if st, err := h.Server.SFN.Wait(ctx, sweep); err != nil || st != "SUCCEEDED" {
		t.Fatalf("sweep: %s %v", st, err)
	}
	for _, c := range h.Server.SFN.Children(sweep) {
		for _, r := range h.Server.SFN.Children(aws.ToString(c.ExecutionArn)) {
			if st, err := h.Server.SFN.Wait(ctx, aws.ToString(r.ExecutionArn)); err != nil || st != "SUCCEEDED" {
				t.Fatalf("rotation %s: %s %v", aws.ToString(r.ExecutionArn), st, err)
			}
		}
	}
	code, out, errOut := cli(t, "history", sweep, "--endpoint", h.URL, "--children")
	for _, want := range []string{"StartPages", "Swept", "children: 1 page execution(s), 3 rotation(s), 3 succeeded", "app/a", "app/b", "app/c"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s\n%s", want, out, errOut)
		}
	}
	if code != 0 {
		t.Errorf("history: exit %d", code)
	}
}

func TestRotateFailureExitsOne(t *testing.T) {
	h := localHost(t)
	code, out, errOut := cli(t, "rotate", "--secret", "app/missing", "--wait", "--endpoint", h.URL)
	if code != exitFailed || !strings.Contains(out, "Rotor.NotFound") {
		t.Errorf("rotate of a missing secret: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = cli(t, "rotate", "--endpoint", h.URL)
	if code != exitUsage || !strings.Contains(errOut, `required flag(s) "secret"`) {
		t.Errorf("rotate without --secret: exit %d, %s", code, errOut)
	}
	code, _, errOut = cli(t, "rotate", "--secret", "x", "--endpoint", h.URL, "--state-machine", "nope")
	if code != exitUsage || !strings.Contains(errOut, `no state machine named "nope"`) {
		t.Errorf("unknown state machine: exit %d, %s", code, errOut)
	}
}

func TestGraph(t *testing.T) {
	code, out, _ := cli(t, "graph")
	for _, want := range []string{"flowchart TD", "start((start)) --> Route", "subgraph StartChildren", "Verify -.->", "GracePeriod[/GracePeriod/]"} {
		if !strings.Contains(out, want) {
			t.Errorf("graph lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestLocalDemo(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	code, out, errOut := cli(t, "local", "demo", "--grace", "1s", "--output", "json")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Rotations []struct {
			Secret    string
			Execution struct{ Status string }
		}
		KeyAPI struct {
			OldKeyRefused, NewKeyAccepted bool
		} `json:"keyApi"`
		Notifications int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Rotations) != 2 || res.Rotations[0].Execution.Status != "SUCCEEDED" || res.Rotations[1].Execution.Status != "SUCCEEDED" ||
		!res.KeyAPI.OldKeyRefused || !res.KeyAPI.NewKeyAccepted || res.Notifications != 2 {
		t.Errorf("demo result %+v", res)
	}
}

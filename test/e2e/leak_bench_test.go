package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/rotorlocal"
	"github.com/rotorhq/rotor/internal/webhook"
)

// BenchmarkLeakToRevoke times rotor's promise: from a leak alert being
// accepted (the webhook's 202 to a signed generic alert naming a key by its
// sha256 fingerprint) to the leaked key being deleted at the API that
// issued it. In between: the event on the rotor-leaks bus, the leak rule
// starting the state machine, resolve matching the fingerprint among the
// secrets' tags, and the emergency rotation (create, switch over, verify,
// expire revoking the leaked key, no grace period). The API is
// internal/keyservice on loopback, so provider latency is next to nothing.
// Each run leaks the key the previous run made current.
//
// "in-process" runs the functions in the test process; "emulator" runs the
// bootstrap binaries, built for this machine, under the Lambda Runtime
// Interface Emulator. Run with -benchtime=100x for 100 leaks.
func BenchmarkLeakToRevoke(b *testing.B) {
	b.Run("in-process", func(b *testing.B) { benchLeak(b, "") })
	b.Run("emulator", func(b *testing.B) {
		benchLeak(b, filepath.Join(buildForBench(b), "functions"))
	})
}

func benchLeak(b *testing.B, bootstraps string) {
	ctx := context.Background()
	o := rotorlocal.Options{DataFile: filepath.Join(b.TempDir(), "local.db"), Bootstraps: bootstraps}
	if bootstraps != "" {
		o.Emulator = benchEmulator(b)
	}
	h, err := rotorlocal.Start(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()

	ks := keyservice.New(masterKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	api := &http.Server{Handler: ks.Handler()}
	go api.Serve(ln)
	defer api.Close()
	initial := ks.Mint("initial")
	sm := h.SecretsManager()
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String("bench/master"), SecretString: aws.String(ks.HTTPAPIConfig("http://"+ln.Addr().String(), keyservice.Serves("bench/api-key"), keyservice.RevokeUnminted())), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String("bench/api-key"), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String("bench/master")}}},
	} {
		if _, err := sm.CreateSecret(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	current := func() (key struct{ APIKey, KeyID string }) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bench/api-key")})
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &key); err != nil {
			b.Fatal(err)
		}
		return key
	}
	// One rotation first, so that the key is one rotor minted and
	// fingerprinted; and each function is warm, as in a deployment that
	// has run before.
	x, err := h.StepFunctions().StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN),
		Input: aws.String(`{"secretId":"bench/api-key","trigger":"manual","gracePeriodSeconds":0}`)})
	if err != nil {
		b.Fatal(err)
	}
	if st, err := h.Server.SFN.Wait(ctx, aws.ToString(x.ExecutionArn)); err != nil || st != "SUCCEEDED" {
		b.Fatalf("first rotation: %s %v", st, err)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(rotorlocal.WebhookKeysSecret)})
	if err != nil {
		b.Fatal(err)
	}
	var keys webhook.Keys
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &keys); err != nil {
		b.Fatal(err)
	}

	accept := make([]time.Duration, 0, b.N)
	revoke := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		leaked := current()
		deleted := ks.Deleted(leaked.KeyID)
		alert, _ := json.Marshal(map[string]string{"fingerprint": leak.SHA256([]byte(leaked.APIKey)), "reason": "benchmark"})
		ts, sig := leak.SignGeneric([]byte(keys.Generic), alert, time.Now())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.WebhookURL+"generic", bytes.NewReader(alert))
		req.Header.Set(leak.GenericTimestampHeader, ts)
		req.Header.Set(leak.GenericSignatureHeader, sig)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("leak %d: the webhook answered %s", i, resp.Status)
		}
		accepted := time.Now()
		select {
		case <-deleted:
		case <-time.After(30 * time.Second):
			b.Fatalf("leak %d: key %s not revoked after 30 s; deliveries %+v", i, leaked.KeyID, h.Server.Events.Failures())
		}
		revoke = append(revoke, time.Since(accepted))
		accept = append(accept, accepted.Sub(t0))
		// The rotation ends right after the revocation: let it, so that
		// the next leak does not meet it holding AWSPENDING.
		if err := waitIdle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if live := ks.Live(); len(live) != 1 {
		b.Errorf("%d keys live at the API after %d leaks, want 1", len(live), b.N)
	}
	sort.Slice(revoke, func(i, j int) bool { return revoke[i] < revoke[j] })
	sort.Slice(accept, func(i, j int) bool { return accept[i] < accept[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(accept[len(accept)/2]), "accept-p50-ms")
	b.ReportMetric(ms(revoke[len(revoke)/2]), "revoke-p50-ms")
	b.ReportMetric(ms(revoke[(len(revoke)*99)/100]), "revoke-p99-ms")
}

// waitIdle waits until no execution of the state machine is running.
func waitIdle(ctx context.Context, h *rotorlocal.Host) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.Server.Events.Wait(ctx); err != nil {
		return err
	}
	for {
		out, err := h.StepFunctions().ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.StateMachineARN), StatusFilter: "RUNNING"})
		if err != nil {
			return err
		}
		if len(out.Executions) == 0 {
			return nil
		}
		if _, err := h.Server.SFN.Wait(ctx, aws.ToString(out.Executions[0].ExecutionArn)); err != nil {
			return err
		}
	}
}

package rotorlocal

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// BenchmarkLocalRotation: complete rotations (random provider, grace 0) on
// the local endpoint with in-process functions: StartExecution through the
// SDK, the state machine in internal/asl, every function's Secrets Manager
// call over HTTP, journaled to a data file. Reports p50, p99 and rotations
// per second.
func BenchmarkLocalRotation(b *testing.B) {
	ctx := context.Background()
	h, err := Start(ctx, Options{DataFile: b.TempDir() + "/local.db"})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if _, err := h.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bench/token"),
		SecretString: aws.String("initial-value-for-the-benchmark"), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("random")}}}); err != nil {
		b.Fatal(err)
	}
	client := h.StepFunctions()
	input := aws.String(`{"secretId":"bench/token","trigger":"manual","gracePeriodSeconds":0}`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		x, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.StateMachineARN), Input: input})
		if err != nil {
			b.Fatal(err)
		}
		status, err := h.Server.SFN.Wait(ctx, aws.ToString(x.ExecutionArn))
		if err != nil || status != "SUCCEEDED" {
			b.Fatalf("rotation %d: %s %v", i, status, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}

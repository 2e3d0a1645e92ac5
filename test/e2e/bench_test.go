package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/rotorhq/rotor/internal/localaws"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

// BenchmarkBootstraps starts each function's bootstrap (built for this
// machine) under the Lambda Runtime Interface Emulator and reports the time
// until the emulator listens, the first invoke (the function's init: Go
// start-up and loading the AWS configuration), the warm invoke p50 and the
// binary's size. The payload is one every function refuses at once ({}),
// so no AWS call is timed (the webhook answers it 404, reading no keys).
func BenchmarkBootstraps(b *testing.B) {
	dir := buildForBench(b)
	for _, fn := range functions {
		b.Run(fn, func(b *testing.B) {
			bin := filepath.Join(dir, "functions", fn, "bootstrap")
			st, err := os.Stat(bin)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			start := time.Now()
			f, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: benchEmulator(b), Bootstrap: bin,
				Env: []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_ENDPOINT_URL=http://127.0.0.1:9", "ROTOR_WEBHOOK_SECRET=rotor/webhook-keys", "ROTOR_LEDGER_TABLE=rotor-ledger"}})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			listening := time.Since(start)
			srv, err := localaws.New(localaws.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			srv.Lambda.RegisterURL(fn, f.URL())
			invoke := func() time.Duration {
				t0 := time.Now()
				_, err := srv.Lambda.Invoke(ctx, fn, []byte(`{}`))
				// The steps refuse {} by name; anything else (a crash at
				// start-up, which the emulator answers by restarting the
				// process) would time a cold start as a warm invoke.
				fe, ok := err.(*locallambda.FunctionError)
				if err != nil && (!ok || fe.Type != "Rotor.InvalidInput") {
					b.Fatalf("%s answered %v, want a clean refusal", fn, err)
				}
				return time.Since(t0)
			}
			initTime := invoke()
			warm := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				warm = append(warm, invoke())
			}
			b.StopTimer()
			sort.Slice(warm, func(i, j int) bool { return warm[i] < warm[j] })
			b.ReportMetric(float64(listening.Microseconds())/1000, "listen-ms")
			b.ReportMetric(float64(initTime.Microseconds())/1000, "init-ms")
			b.ReportMetric(float64(warm[len(warm)/2].Microseconds())/1000, "warm-p50-ms")
			b.ReportMetric(float64(st.Size()), "bytes")
		})
	}
}

func buildForBench(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("", "rotor-bench-bin-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	wd, _ := os.Getwd()
	root := filepath.Dir(filepath.Dir(wd))
	for _, fn := range functions {
		if err := goBuild(root, filepath.Join(dir, "functions", fn, "bootstrap"), "./functions/"+fn); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func benchEmulator(b *testing.B) string {
	if p := os.Getenv("ROTOR_RIE"); p != "" {
		return p
	}
	wd, _ := os.Getwd()
	p := filepath.Join(filepath.Dir(filepath.Dir(wd)), ".tools", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		b.Fatalf("the Lambda Runtime Interface Emulator is not installed at %s: run make tools", p)
	}
	return p
}

package rotation_test

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkRotation runs complete rotations (resolve, create, switchover,
// verify, expire; grace 0) in-process through the Lambda handlers' JSON path
// against the in-memory store, and for httpapi a live key API on loopback.
// It reports p50 and p99 latency per rotation besides ns/op.
func BenchmarkRotation(b *testing.B) {
	for _, tc := range []struct{ provider, secret string }{{"random", rndSecret}, {"httpapi", apiSecret}} {
		b.Run(tc.provider, func(b *testing.B) {
			e := newEnv(b)
			input := fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":0}`, tc.secret)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if r := e.rotate(input); r.failedAt != "" {
					b.Fatalf("rotation failed at %s: %s", r.failedAt, r.errType)
				}
				lat = append(lat, time.Since(start))
				e.clock.Advance(time.Minute)
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
		})
	}
}

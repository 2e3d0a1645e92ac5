package localaws

import (
	"sync"
	"time"
)

// quotas are token buckets per (service, operation group), refilled at the
// AWS quota rate with a one-second burst.
type quotas struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
}

// smWrites are the Secrets Manager operations that share the 50 TPS write
// quota ("PutSecretValue, RemoveRegionsFromReplication, ... UpdateSecret,
// UpdateSecretVersionStage ... combined").
var smWrites = map[string]bool{
	"CreateSecret": true, "DeleteSecret": true, "PutSecretValue": true, "RestoreSecret": true,
	"TagResource": true, "UntagResource": true, "UpdateSecret": true, "UpdateSecretVersionStage": true,
	"RotateSecret": true, "CancelRotateSecret": true, "PutResourcePolicy": true, "DeleteResourcePolicy": true,
}

func newQuotas(now func() time.Time) *quotas {
	return &quotas{now: now, buckets: map[string]*bucket{}}
}

// limit returns the bucket key and rate of an operation, or "" when it has
// no quota here.
func limit(svc, op string) (string, float64) {
	if svc != "secretsmanager" {
		return "", 0
	}
	switch {
	case smWrites[op]:
		return "sm-writes", 50
	case op == "GetSecretValue":
		return "sm-get", 10000
	case op == "DescribeSecret":
		return "sm-describe", 40000
	}
	return "sm-" + op, 50 // AWS: 50 TPS for the other operations too
}

// take spends a token; when none is left it returns how long until one is.
func (q *quotas) take(svc, op string) (time.Duration, bool) {
	key, rate := limit(svc, op)
	if key == "" {
		return 0, true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	b := q.buckets[key]
	if b == nil {
		b = &bucket{rate: rate, tokens: rate, last: now}
		q.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.rate {
		b.tokens = b.rate
	}
	b.last = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / b.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

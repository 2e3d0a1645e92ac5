package localaws

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// quotaSpec is one of AWS's request-rate quotas: the operations that share
// it and its rate per second.
type quotaSpec struct {
	service, bucket string
	ops             []string
	rate            float64
}

// quotaSpecs are Secrets Manager's request-rate quotas, per account and
// Region, none adjustable, from "AWS Secrets Manager quotas"
// (docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html,
// read 2026-12-07): each "Combined rate of ..." row is one bucket its
// operations share. GetSecretValue and DescribeSecret have their own rates
// since the 2025-03-04 announcement "AWS Secrets Manager increases API
// requests per second limits" (10,000 and 40,000; the table still showed
// them combined at 10,000). The page's table rows for CreateSecret,
// DeleteSecret, ListSecretVersionIds and GetRandomPassword (50 each, each
// its own) could not be read in full when this was written; 50 is what
// the endpoint assumed before. Other services have no quota here:
// DynamoDB's on-demand tables, for one, have no per-second quota low
// enough for rotor to reach.
var quotaSpecs = []quotaSpec{
	{"secretsmanager", "writes", []string{"PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage",
		"RemoveRegionsFromReplication", "ReplicateSecretToRegion", "StopReplicationToReplica"}, 50},
	{"secretsmanager", "tags", []string{"TagResource", "UntagResource"}, 50},
	{"secretsmanager", "restore", []string{"RestoreSecret"}, 50},
	{"secretsmanager", "rotation", []string{"RotateSecret", "CancelRotateSecret"}, 50},
	{"secretsmanager", "resource-policy", []string{"DeleteResourcePolicy", "GetResourcePolicy", "PutResourcePolicy", "ValidateResourcePolicy"}, 50},
	{"secretsmanager", "create", []string{"CreateSecret"}, 50},
	{"secretsmanager", "delete", []string{"DeleteSecret"}, 50},
	{"secretsmanager", "list-versions", []string{"ListSecretVersionIds"}, 50},
	{"secretsmanager", "random-password", []string{"GetRandomPassword"}, 50},
	{"secretsmanager", "list", []string{"ListSecrets"}, 100},
	{"secretsmanager", "batch-get", []string{"BatchGetSecretValue"}, 100},
	{"secretsmanager", "get", []string{"GetSecretValue"}, 10000},
	{"secretsmanager", "describe", []string{"DescribeSecret"}, 40000},
}

// quotaWarnEvery bounds the warnings about throttled requests: one per
// bucket per interval, counting what it throttled since the last.
const quotaWarnEvery = 10 * time.Second

// quotas are token buckets, one per quotaSpec, refilled at the quota's
// rate with a one-second burst. They count every request of their
// operations, and throttle only when enforced (Options.Quotas).
type quotas struct {
	enforce bool
	now     func() time.Time
	log     *slog.Logger
	byOp    map[string]*bucket // by service + "." + operation

	mu      sync.Mutex
	buckets []*bucket // in quotaSpecs' order
}

type bucket struct {
	spec   quotaSpec
	tokens float64
	last   time.Time // zero until the first request
	// counts since the server started
	allowed, throttled int64
	// throttled since the last warning, and when that was
	unwarned int64
	warned   time.Time
}

func newQuotas(enforce bool, now func() time.Time, log *slog.Logger) *quotas {
	q := &quotas{enforce: enforce, now: now, log: log, byOp: map[string]*bucket{}}
	for _, spec := range quotaSpecs {
		b := &bucket{spec: spec, tokens: spec.rate}
		q.buckets = append(q.buckets, b)
		for _, op := range spec.ops {
			q.byOp[spec.service+"."+op] = b
		}
	}
	return q
}

// take counts a request and, when quotas are enforced, spends a token;
// when none is left it refuses the request and returns how long until one
// is. Operations without a quota are always allowed, and not counted.
func (q *quotas) take(svc, op string) (time.Duration, bool) {
	b := q.byOp[svc+"."+op]
	if b == nil {
		return 0, true
	}
	q.mu.Lock()
	now := q.now()
	if !b.last.IsZero() {
		b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*b.spec.rate, b.spec.rate)
	}
	b.last = now
	if !q.enforce || b.tokens >= 1 {
		if q.enforce {
			b.tokens--
		}
		b.allowed++
		q.mu.Unlock()
		return 0, true
	}
	b.throttled++
	b.unwarned++
	wait := time.Duration((1 - b.tokens) / b.spec.rate * float64(time.Second))
	var warn int64 // throttled since the last warning, when one is due
	if b.warned.IsZero() || now.Sub(b.warned) >= quotaWarnEvery {
		warn, b.unwarned, b.warned = b.unwarned, 0, now
	}
	q.mu.Unlock()
	q.log.Debug("throttled request", "service", svc, "operation", op, "bucket", b.spec.bucket, "rate", b.spec.rate)
	if warn > 0 {
		q.log.Warn("requests throttled by a quota", "service", svc, "bucket", b.spec.bucket, "rate", b.spec.rate,
			"throttled", warn, "operation", op)
	}
	return wait, false
}

// QuotaReport is what the endpoint's quotas counted since it started (GET
// /_rotor/quotas answers it as JSON).
type QuotaReport struct {
	// Enforced tells whether requests beyond a rate are refused
	// (Options.Quotas); requests are counted either way.
	Enforced bool          `json:"enforced"`
	Buckets  []QuotaBucket `json:"buckets"`
}

// QuotaBucket is one quota: the operations that share it, its rate, and
// the requests it allowed and throttled.
type QuotaBucket struct {
	Service    string   `json:"service"`
	Bucket     string   `json:"bucket"`
	Operations []string `json:"operations"`
	Rate       float64  `json:"ratePerSecond"`
	Allowed    int64    `json:"allowed"`
	Throttled  int64    `json:"throttled"`
}

func (q *quotas) report() QuotaReport {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := QuotaReport{Enforced: q.enforce, Buckets: make([]QuotaBucket, 0, len(q.buckets))}
	for _, b := range q.buckets {
		r.Buckets = append(r.Buckets, QuotaBucket{Service: b.spec.service, Bucket: b.spec.bucket, Operations: slices.Clone(b.spec.ops),
			Rate: b.spec.rate, Allowed: b.allowed, Throttled: b.throttled})
	}
	return r
}

// Quotas returns what each quota bucket allowed and throttled since the
// server started, for tests and benchmarks.
func (s *Server) Quotas() QuotaReport { return s.quota.report() }

// serveQuotas answers GET /_rotor/quotas.
func (s *Server) serveQuotas(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	wire.WriteEncoded(w, "application/json", s.Quotas(), json.Marshal)
}

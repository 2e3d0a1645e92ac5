package rotorlocal

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rotorhq/rotor/internal/metrics"
)

// The functions' metrics, as CloudWatch would extract them, served at
// GET /_rotor/metrics in Prometheus' text format. Every line a function
// writes, in process or under the emulator, passes through a lineWriter on
// its way to Options.FunctionLog; the EMF lines among them (namespace
// rotor, internal/metrics) add up here: counters for counts, summaries for
// durations, gauges for what a sweep found. They live in memory, from the
// host's start.

// MetricsPath is where the host serves the functions' metrics.
const MetricsPath = "/_rotor/metrics"

// maxLine bounds what a lineWriter buffers of a line without its newline:
// CloudWatch Logs takes events of up to 1 MiB, so a longer line is no EMF.
const maxLine = 1 << 20

// functionMetrics aggregates EMF lines into Prometheus metrics.
type functionMetrics struct {
	reg     *prometheus.Registry
	log     *slog.Logger
	metrics map[string]promMetric // by EMF metric name
	invalid prometheus.Counter
}

// promMetric is one EMF metric's Prometheus family.
type promMetric struct {
	def    metrics.Definition
	per    float64 // Prometheus value = EMF value / per (ms → s)
	labels []string
	add    func(labels []string, v float64)
}

func newFunctionMetrics(log *slog.Logger) *functionMetrics {
	m := &functionMetrics{reg: prometheus.NewRegistry(), log: log, metrics: map[string]promMetric{}}
	m.invalid = prometheus.NewCounter(prometheus.CounterOpts{Name: "rotor_local_emf_invalid_lines_total",
		Help: "Function output lines with an _aws member that are not valid EMF (CloudWatch would extract nothing from them)."})
	m.reg.MustRegister(m.invalid)
	for _, def := range metrics.Definitions() {
		name, per := PrometheusName(def)
		pm := promMetric{def: def, per: per}
		for _, k := range def.Keys() {
			pm.labels = append(pm.labels, strings.ToLower(k))
		}
		help := def.Help + " (EMF metric " + metrics.Namespace + "/" + def.Name + ")"
		switch def.Kind {
		case metrics.Counter:
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, pm.labels)
			m.reg.MustRegister(v)
			pm.add = func(l []string, x float64) { v.WithLabelValues(l...).Add(x) }
		case metrics.Distribution:
			v := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: name, Help: help,
				Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}}, pm.labels)
			m.reg.MustRegister(v)
			pm.add = func(l []string, x float64) { v.WithLabelValues(l...).Observe(x) }
		case metrics.Gauge:
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, pm.labels)
			m.reg.MustRegister(v)
			pm.add = func(l []string, x float64) { v.WithLabelValues(l...).Set(x) }
		default:
			panic("rotorlocal: metric " + def.Name + " of kind " + def.Kind.String())
		}
		m.metrics[def.Name] = pm
	}
	return m
}

// PrometheusName is the name an EMF metric has at GET /_rotor/metrics,
// and what its values are divided by: snake case under "rotor_",
// durations in seconds (Prometheus' base unit), counters ending in
// _total. Rotations is rotor_rotations_total, StepDuration
// rotor_step_duration_seconds, OldestSecretAgeSeconds
// rotor_oldest_secret_age_seconds, OverdueSecrets rotor_overdue_secrets.
func PrometheusName(def metrics.Definition) (string, float64) {
	var b strings.Builder
	b.WriteString(metrics.Namespace + "_")
	for i, r := range def.Name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	name, per := b.String(), 1.0
	switch def.Unit {
	case metrics.Milliseconds:
		name, per = strings.TrimSuffix(name, "_milliseconds")+"_seconds", 1000
	case metrics.Seconds:
		name = strings.TrimSuffix(name, "_seconds") + "_seconds"
	}
	if def.Kind == metrics.Counter {
		name += "_total"
	}
	return name, per
}

// observe adds one line of function output: an EMF line in rotor's
// namespace counts, anything else passes unseen.
func (m *functionMetrics) observe(line []byte) {
	doc, err := metrics.Parse(line)
	if errors.Is(err, metrics.ErrNotEMF) {
		return
	}
	if err != nil {
		m.invalid.Inc()
		m.log.Warn("a function wrote an invalid EMF line", "error", err)
		return
	}
	seen := map[string]bool{}
	for _, dir := range doc.Directives {
		if dir.Namespace != metrics.Namespace {
			continue
		}
		for _, def := range dir.Metrics {
			pm, ok := m.metrics[def.Name]
			if !ok || seen[def.Name] {
				continue // another version's metric, or one named twice in the line
			}
			seen[def.Name] = true
			labels := make([]string, len(pm.labels))
			for i, k := range pm.def.Keys() {
				labels[i] = doc.Dimensions[k]
			}
			for _, v := range doc.Values[def.Name] {
				if pm.def.Kind == metrics.Counter && v < 0 {
					m.invalid.Inc()
					continue // a counter only goes up
				}
				pm.add(labels, v/pm.per)
			}
		}
	}
}

// writer returns a writer that passes everything to next and each whole
// line to observe. Each function gets its own: an emulator's output
// arrives in arbitrary chunks.
func (m *functionMetrics) writer(next io.Writer) io.Writer {
	return &lineWriter{next: next, observe: m.observe}
}

// ServeHTTP answers GET /_rotor/metrics.
func (m *functionMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != MetricsPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET reads the functions' metrics", http.StatusMethodNotAllowed)
		return
	}
	promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).ServeHTTP(w, r)
}

// lineWriter splits what it is given into lines.
type lineWriter struct {
	next    io.Writer
	observe func([]byte)

	mu      sync.Mutex
	buf     []byte
	skipped bool // the line in buf outgrew maxLine: drop it to its end
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n, err := w.next.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !w.skipped {
				w.buf = append(w.buf, p...)
			}
			if len(w.buf) > maxLine {
				w.buf, w.skipped = w.buf[:0], true
			}
			break
		}
		if !w.skipped {
			w.observe(append(w.buf, p[:i]...))
		}
		w.buf, w.skipped, p = w.buf[:0], false, p[i+1:]
	}
	return n, err
}

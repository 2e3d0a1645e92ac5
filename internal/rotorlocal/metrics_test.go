package rotorlocal

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rotorhq/rotor/internal/metrics"
	"github.com/rotorhq/rotor/internal/rotation"
)

// samples flattens an exposition parsed by expfmt's text parser: one
// entry per counter or gauge, and per summary its count and sum, each
// named name{label="value",...} with the labels sorted.
func samples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := func(suffix string) string { return name + suffix + "{" + strings.Join(ls, ",") + "}" }
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key("")] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key("")] = m.GetGauge().GetValue()
			case dto.MetricType_SUMMARY:
				out[key("_count")] = float64(m.GetSummary().GetSampleCount())
				out[key("_sum")] = m.GetSummary().GetSampleSum()
			default:
				t.Errorf("%s: unexpected type %s", name, f.GetType())
			}
		}
	}
	return out
}

// scrape GETs the host's metrics as a Prometheus server would.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %s, Content-Type %q", MetricsPath, resp.Status, ct)
	}
	return samples(t, resp.Body)
}

// pick returns the samples whose names start with one of prefixes.
func pick(all map[string]float64, prefixes ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out
}

// TestMetricsFromFunctionOutput: the lines a function writes pass through
// unchanged; whole EMF lines in rotor's namespace add up, however the
// output is chunked; other lines are ignored, invalid EMF is counted.
func TestMetricsFromFunctionOutput(t *testing.T) {
	m := newFunctionMetrics(slog.New(slog.DiscardHandler))
	var emf bytes.Buffer
	e := metrics.New(&emf, nil)
	for _, s := range []metrics.Step{
		{Step: "create", Provider: "random", Outcome: "created", Duration: 250 * time.Millisecond},
		{Step: "verify", Provider: "random", Outcome: metrics.OutcomeFailed, Error: "Rotor.VerificationFailed", Duration: time.Second},
		{Step: "create", Provider: "random", Outcome: "created", Duration: 750 * time.Millisecond},
	} {
		if err := e.Step(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []metrics.Sweep{{OldestAge: 90 * 24 * time.Hour, Overdue: 3}, {OldestAge: 61 * 24 * time.Hour, Overdue: 1}} {
		if err := e.Sweep(s); err != nil {
			t.Fatal(err)
		}
	}
	output := `{"level":"INFO","msg":"step done"}` + "\n" + emf.String() +
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[]],"Metrics":[{"Name":"OverdueSecrets"}]}]}}` + "\n" + // no value: invalid
		`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"other","Dimensions":[[]],"Metrics":[{"Name":"Rotations"}]}]},"Rotations":5}` + "\n" +
		"plain text from a runtime\n"
	var passed bytes.Buffer
	w := m.writer(&passed)
	// Chunks that cut lines anywhere, as an emulator's pipe may.
	for rest := output; rest != ""; {
		n := min(len(rest), 37)
		if _, err := w.Write([]byte(rest[:n])); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if passed.String() != output {
		t.Error("the output did not pass through unchanged")
	}
	srv := httptest.NewServer(m)
	defer srv.Close()
	got := pick(scrape(t, srv.URL), "rotor_")
	want := map[string]float64{
		`rotor_rotations_total{error="",outcome="created",provider="random"}`:                        2,
		`rotor_rotations_total{error="Rotor.VerificationFailed",outcome="failed",provider="random"}`: 1,
		`rotor_step_duration_seconds_count{provider="random",step="create"}`:                         2,
		`rotor_step_duration_seconds_sum{provider="random",step="create"}`:                           1,
		`rotor_step_duration_seconds_count{provider="random",step="verify"}`:                         1,
		`rotor_step_duration_seconds_sum{provider="random",step="verify"}`:                           1,
		`rotor_oldest_secret_age_seconds{}`:                                                          61 * 24 * 3600,
		`rotor_overdue_secrets{}`:                                                                    1,
		`rotor_local_emf_invalid_lines_total{}`:                                                      1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestMetricsEndpointAnswersOnlyGET(t *testing.T) {
	srv := httptest.NewServer(newFunctionMetrics(slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, MetricsPath, http.StatusOK},
		{http.MethodHead, MetricsPath, http.StatusOK},
		{http.MethodPost, MetricsPath, http.StatusMethodNotAllowed},
		{http.MethodGet, MetricsPath + "/more", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s", resp.Status)
			}
		})
	}
}

// TestMetricsPrometheusNames: the names at /_rotor/metrics, from the EMF
// definitions.
func TestMetricsPrometheusNames(t *testing.T) {
	got := map[string]string{}
	for _, d := range metrics.Definitions() {
		name, per := PrometheusName(d)
		got[d.Name] = fmt.Sprintf("%s /%g", name, per)
	}
	want := map[string]string{
		metrics.Rotations:              "rotor_rotations_total /1",
		metrics.StepDuration:           "rotor_step_duration_seconds /1000",
		metrics.OldestSecretAgeSeconds: "rotor_oldest_secret_age_seconds /1",
		metrics.OverdueSecrets:         "rotor_overdue_secrets /1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

// TestMetricsEndpointAfterRotations: rotations through the deployed state
// machine, functions in process with IAM enforced, show at GET
// /_rotor/metrics: a manual rotation, then a sweep that finds a secret
// whose current version is 61 days old and rotates it.
func TestMetricsEndpointAfterRotations(t *testing.T) {
	e := startLeakEnv(t)
	sm := e.h.SecretsManager()
	tags := []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")},
		{Key: aws.String("rotor:grace-period"), Value: aws.String("0s")}}
	_, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("app/metrics"),
		SecretString: aws.String("initial-value-0123456789abcdef"), Tags: tags})
	e.must(t, err)
	e.rotate(t, "app/metrics", 0)

	// A version id rotor minted 61 days ago: the sweep reads its age from it.
	old, err := rotation.NewToken(time.Now().Add(-61 * 24 * time.Hour))
	e.must(t, err)
	_, err = sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("app/old"), ClientRequestToken: aws.String(old),
		SecretString: aws.String("old-value-0123456789abcdef"), Tags: tags})
	e.must(t, err)
	sweeper := ""
	for _, s := range e.h.Deployment.Schedules {
		if strings.Contains(s.Target.Input, `"sweep"`) {
			sweeper = s.Name
		}
	}
	if sweeper == "" {
		t.Fatal("the template has no sweeper schedule")
	}
	arn, err := e.h.FireSchedule(t.Context(), sweeper)
	e.must(t, err)
	e.wait(t, arn, "SUCCEEDED")
	// The sweep's child executions: every execution must have ended.
	list, err := e.h.StepFunctions().ListExecutions(t.Context(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.h.StateMachineARN)})
	e.must(t, err)
	for _, x := range list.Executions {
		e.wait(t, aws.ToString(x.ExecutionArn), "SUCCEEDED")
	}

	all := scrape(t, e.h.URL)
	got := pick(all, "rotor_rotations_total", "rotor_step_duration_seconds_count", "rotor_overdue_secrets", "rotor_local_")
	want := map[string]float64{
		`rotor_rotations_total{error="",outcome="created",provider="random"}`:    2,
		`rotor_rotations_total{error="",outcome="switched",provider="random"}`:   2,
		`rotor_rotations_total{error="",outcome="verified",provider="random"}`:   2,
		`rotor_rotations_total{error="",outcome="revoked",provider="random"}`:    2,
		`rotor_step_duration_seconds_count{provider="random",step="create"}`:     2,
		`rotor_step_duration_seconds_count{provider="random",step="switchover"}`: 2,
		`rotor_step_duration_seconds_count{provider="random",step="verify"}`:     2,
		`rotor_step_duration_seconds_count{provider="random",step="expire"}`:     2,
		`rotor_overdue_secrets{}`:               1,
		`rotor_local_emf_invalid_lines_total{}`: 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s\nfunction output:\n%s", diff, e.logs)
	}
	// The sweep saw app/old's version at 61 days (and app/metrics' new one).
	if age := all[`rotor_oldest_secret_age_seconds{}`]; age < 61*24*3600 || age > 61*24*3600+300 {
		t.Errorf("oldest secret age %gs, want 61 days", age)
	}
	for k, v := range pick(all, "rotor_step_duration_seconds_sum") {
		if v <= 0 || v > 60 {
			t.Errorf("%s = %gs", k, v)
		}
	}
	// The function output kept the EMF lines (FunctionLog gets every byte).
	if n := strings.Count(e.logs.String(), `"_aws"`); n != 9 {
		t.Errorf("%d EMF lines in the function output, want 9 (8 steps, 1 sweep)", n)
	}
	if slices.ContainsFunc(strings.Split(e.logs.String(), "\n"), func(l string) bool {
		return strings.Contains(l, `"_aws"`) && (strings.Contains(l, "value-0123456789") || strings.Contains(l, "app/"))
	}) {
		t.Error("an EMF line names a secret or holds a value")
	}
}

package metrics_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rotorhq/rotor/internal/metrics"
)

var at = time.Date(2026, 11, 26, 9, 0, 0, 123_000_000, time.UTC)

func fixed() time.Time { return at }

// schema is the specification's JSON schema (testdata/emf.schema.json).
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/emf.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("emf.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("emf.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(s *jsonschema.Schema, line []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// Every line the Emitter writes is valid by the specification's schema and
// by Parse, and reads back as what was recorded.
func TestMetricEmitterWritesEMF(t *testing.T) {
	sch := schema(t)
	for _, tc := range []struct {
		name string
		emit func(*metrics.Emitter) error
		want string
		doc  *metrics.Document
	}{
		{
			name: "a step that succeeded",
			emit: func(e *metrics.Emitter) error {
				return e.Step(metrics.Step{Step: "create", Provider: "httpapi", Outcome: "created", Duration: 1500 * time.Microsecond})
			},
			want: `{"Outcome":"created","Provider":"httpapi","Rotations":1,"Step":"create","StepDuration":1.5,"_aws":{"CloudWatchMetrics":[` +
				`{"Namespace":"rotor","Dimensions":[["Provider","Outcome"]],"Metrics":[{"Name":"Rotations","Unit":"Count"}]},` +
				`{"Namespace":"rotor","Dimensions":[["Step","Provider"]],"Metrics":[{"Name":"StepDuration","Unit":"Milliseconds"}]}],"Timestamp":1795683600123}}` + "\n",
			doc: &metrics.Document{Timestamp: at, Directives: []metrics.Directive{
				{Namespace: "rotor", Dimensions: [][]string{{"Provider", "Outcome"}}, Metrics: []metrics.MetricDefinition{{Name: "Rotations", Unit: "Count"}}},
				{Namespace: "rotor", Dimensions: [][]string{{"Step", "Provider"}}, Metrics: []metrics.MetricDefinition{{Name: "StepDuration", Unit: "Milliseconds"}}},
			}, Dimensions: map[string]string{"Provider": "httpapi", "Outcome": "created", "Step": "create"},
				Values: map[string][]float64{"Rotations": {1}, "StepDuration": {1.5}}},
		},
		{
			name: "a step that failed: also by its error",
			emit: func(e *metrics.Emitter) error {
				return e.Step(metrics.Step{Step: "verify", Provider: "random", Outcome: metrics.OutcomeFailed, Error: "Rotor.VerificationFailed", Duration: 2 * time.Second})
			},
			want: `{"Error":"Rotor.VerificationFailed","Outcome":"failed","Provider":"random","Rotations":1,"Step":"verify","StepDuration":2000,"_aws":{"CloudWatchMetrics":[` +
				`{"Namespace":"rotor","Dimensions":[["Provider","Outcome"],["Provider","Outcome","Error"]],"Metrics":[{"Name":"Rotations","Unit":"Count"}]},` +
				`{"Namespace":"rotor","Dimensions":[["Step","Provider"]],"Metrics":[{"Name":"StepDuration","Unit":"Milliseconds"}]}],"Timestamp":1795683600123}}` + "\n",
			doc: &metrics.Document{Timestamp: at, Directives: []metrics.Directive{
				{Namespace: "rotor", Dimensions: [][]string{{"Provider", "Outcome"}, {"Provider", "Outcome", "Error"}}, Metrics: []metrics.MetricDefinition{{Name: "Rotations", Unit: "Count"}}},
				{Namespace: "rotor", Dimensions: [][]string{{"Step", "Provider"}}, Metrics: []metrics.MetricDefinition{{Name: "StepDuration", Unit: "Milliseconds"}}},
			}, Dimensions: map[string]string{"Provider": "random", "Outcome": "failed", "Error": "Rotor.VerificationFailed", "Step": "verify"},
				Values: map[string][]float64{"Rotations": {1}, "StepDuration": {2000}}},
		},
		{
			name: "a sweep: no dimensions",
			emit: func(e *metrics.Emitter) error {
				return e.Sweep(metrics.Sweep{OldestAge: 61*24*time.Hour + 1500*time.Millisecond, Overdue: 2})
			},
			want: `{"OldestSecretAgeSeconds":5270401,"OverdueSecrets":2,"_aws":{"CloudWatchMetrics":[` +
				`{"Namespace":"rotor","Dimensions":[[]],"Metrics":[{"Name":"OldestSecretAgeSeconds","Unit":"Seconds"},{"Name":"OverdueSecrets","Unit":"Count"}]}],"Timestamp":1795683600123}}` + "\n",
			doc: &metrics.Document{Timestamp: at, Directives: []metrics.Directive{
				{Namespace: "rotor", Dimensions: [][]string{{}}, Metrics: []metrics.MetricDefinition{{Name: "OldestSecretAgeSeconds", Unit: "Seconds"}, {Name: "OverdueSecrets", Unit: "Count"}}},
			}, Dimensions: map[string]string{}, Values: map[string][]float64{"OldestSecretAgeSeconds": {5270401}, "OverdueSecrets": {2}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.emit(metrics.New(&buf, fixed)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, buf.String()); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
			if err := validate(sch, buf.Bytes()); err != nil {
				t.Errorf("the specification's schema refuses the line: %v", err)
			}
			doc, err := metrics.Parse(buf.Bytes())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.doc, doc); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
		})
	}
}

// Parse refuses what breaks a rule of the specification, naming the rule,
// and the schema agrees where it can say so.
func TestMetricParseRefusesInvalidEMF(t *testing.T) {
	sch := schema(t)
	const ok = `"Timestamp":1795683600123,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[["Provider"]],"Metrics":[{"Name":"Rotations","Unit":"Count"}]}]`
	dims := make([]string, 31)
	for i := range dims {
		dims[i] = fmt.Sprintf(`"D%d"`, i)
	}
	defs := make([]string, 101)
	for i := range defs {
		defs[i] = fmt.Sprintf(`{"Name":"M%d"}`, i)
	}
	values := strings.Repeat("1,", 100) + "1"
	for _, tc := range []struct {
		name, line string
		err        error
		problem    string // a substring of the error; "" for ErrNotEMF
		schemaOK   bool   // the schema alone cannot see the problem
	}{
		{name: "plain text", line: `step done`, err: metrics.ErrNotEMF, schemaOK: false},
		{name: "an ordinary JSON log line", line: `{"level":"INFO","msg":"step done"}`, err: metrics.ErrNotEMF},
		{name: "text after the object", line: `{"_aws":{` + ok + `},"Provider":"x","Rotations":1} trailing`, err: metrics.ErrNotEMF, schemaOK: false},
		{name: "_aws not an object", line: `{"_aws":[]}`, err: metrics.ErrInvalid, problem: "_aws is not an object"},
		{name: "no Timestamp", line: `{"_aws":{"CloudWatchMetrics":[]}}`, err: metrics.ErrInvalid, problem: "_aws.Timestamp is missing"},
		{name: "Timestamp in seconds with a fraction", line: `{"_aws":{"Timestamp":1795683600.5,"CloudWatchMetrics":[]}}`, err: metrics.ErrInvalid, problem: "not an integer number of milliseconds"},
		{name: "Timestamp as a string", line: `{"_aws":{"Timestamp":"1795683600123","CloudWatchMetrics":[]}}`, err: metrics.ErrInvalid, problem: "not an integer number of milliseconds"},
		{name: "no CloudWatchMetrics", line: `{"_aws":{"Timestamp":1}}`, err: metrics.ErrInvalid, problem: "_aws.CloudWatchMetrics is missing"},
		{name: "Dimensions of the wrong shape", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":["Provider"],"Metrics":[]}]}}`, err: metrics.ErrInvalid, problem: "_aws:"},
		{name: "no Namespace", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[]}]}}`, err: metrics.ErrInvalid, problem: "Namespace is not 1 to 255"},
		{name: "no dimension set", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[],"Metrics":[]}]}}`, err: metrics.ErrInvalid, problem: "holds no dimension set"},
		{name: "a metric missing from the root", line: `{"_aws":{` + ok + `},"Provider":"x"}`, err: metrics.ErrInvalid, problem: `metric "Rotations" has no numeric member`, schemaOK: true},
		{name: "a metric given as a string", line: `{"_aws":{` + ok + `},"Provider":"x","Rotations":"1"}`, err: metrics.ErrInvalid, problem: `metric "Rotations" (in _aws.CloudWatchMetrics[0]) is neither a number`, schemaOK: true},
		{name: "a metric array with a string", line: `{"_aws":{` + ok + `},"Provider":"x","Rotations":[1,"2"]}`, err: metrics.ErrInvalid, problem: "array of something other than numbers", schemaOK: true},
		{name: "a metric array of 101 values", line: `{"_aws":{` + ok + `},"Provider":"x","Rotations":[` + values + `]}`, err: metrics.ErrInvalid, problem: "101 values, more than 100", schemaOK: true},
		{name: "a dimension missing from the root", line: `{"_aws":{` + ok + `},"Rotations":1}`, err: metrics.ErrInvalid, problem: `dimension "Provider" has no string member`, schemaOK: true},
		{name: "a dimension given as a number", line: `{"_aws":{` + ok + `},"Provider":7,"Rotations":1}`, err: metrics.ErrInvalid, problem: `dimension "Provider" (in _aws.CloudWatchMetrics[0]) is not a string`, schemaOK: true},
		{name: "a dimension value that is not ASCII", line: `{"_aws":{` + ok + `},"Provider":"cl\u00e9","Rotations":1}`, err: metrics.ErrInvalid, problem: "printable ASCII", schemaOK: true},
		{name: "an empty dimension value", line: `{"_aws":{` + ok + `},"Provider":"","Rotations":1}`, err: metrics.ErrInvalid, problem: "printable ASCII", schemaOK: true},
		{name: "31 dimension keys", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[` + strings.Join(dims, ",") + `]],"Metrics":[]}]}}`, err: metrics.ErrInvalid, problem: "31 keys, more than 30"},
		{name: "101 metric definitions", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[]],"Metrics":[` + strings.Join(defs, ",") + `]}]}}`, err: metrics.ErrInvalid, problem: "101 definitions, more than 100"},
		{name: "a unit CloudWatch does not know", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Hours"}]}]},"M":1}`, err: metrics.ErrInvalid, problem: "Unit is not a CloudWatch unit"},
		{name: "a storage resolution of 5", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[]],"Metrics":[{"Name":"M","StorageResolution":5}]}]},"M":1}`, err: metrics.ErrInvalid, problem: "StorageResolution is 5"},
		{name: "a dimension key starting with a colon", line: `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"rotor","Dimensions":[[":x"]],"Metrics":[]}]},":x":"y"}`, err: metrics.ErrInvalid, problem: "not a dimension name"},
		{name: "a duplicate member", line: `{"_aws":{` + ok + `},"Provider":"x","Rotations":1,"Rotations":2}`, err: metrics.ErrNotEMF, schemaOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrics.Parse([]byte(tc.line))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: %v, want %v", err, tc.err)
			}
			if tc.problem != "" && !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("Parse: %v, want it to say %q", err, tc.problem)
			}
			if tc.err != metrics.ErrInvalid {
				return
			}
			if serr := validate(sch, []byte(tc.line)); (serr == nil) != tc.schemaOK {
				t.Errorf("the schema says %v; want it to accept the line: %v", serr, tc.schemaOK)
			}
		})
	}
}

// A record that would not make valid EMF is refused and nothing is written.
func TestMetricEmitterRefusesBadRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		emit    func(*metrics.Emitter) error
		problem string
	}{
		{"no provider", func(e *metrics.Emitter) error {
			return e.Step(metrics.Step{Step: "create", Outcome: "created"})
		}, `dimension "Provider"'s value is not 1 to 1024 printable ASCII`},
		{"a provider that is not ASCII", func(e *metrics.Emitter) error {
			return e.Step(metrics.Step{Step: "create", Provider: "pr\u00f6vider", Outcome: "created"})
		}, `dimension "Provider"'s value`},
		{"a failure without its error", func(e *metrics.Emitter) error {
			return e.Step(metrics.Step{Step: "verify", Provider: "random", Outcome: metrics.OutcomeFailed})
		}, "an Error is given exactly when"},
		{"an error on a success", func(e *metrics.Emitter) error {
			return e.Step(metrics.Step{Step: "verify", Provider: "random", Outcome: "verified", Error: "Rotor.Transient"})
		}, "an Error is given exactly when"},
		{"a negative duration", func(e *metrics.Emitter) error {
			return e.Step(metrics.Step{Step: "verify", Provider: "random", Outcome: "verified", Duration: -time.Second})
		}, "the duration is negative"},
		{"a negative overdue count", func(e *metrics.Emitter) error {
			return e.Sweep(metrics.Sweep{Overdue: -1})
		}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tc.emit(metrics.New(&buf, fixed))
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("error %v, want one saying %q", err, tc.problem)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q after refusing", buf.String())
			}
		})
	}
}

func TestMetricNilEmitterWritesNothing(t *testing.T) {
	var e *metrics.Emitter
	if err := e.Step(metrics.Step{}); err != nil {
		t.Error(err)
	}
	if err := e.Sweep(metrics.Sweep{}); err != nil {
		t.Error(err)
	}
}

// Lines written from many goroutines stay whole: each is one Write.
func TestMetricEmitterLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.New(&buf, nil)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Step(metrics.Step{Step: "create", Provider: "random", Outcome: "created", Duration: time.Duration(i) * time.Millisecond}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		if _, err := metrics.Parse([]byte(l)); err != nil {
			t.Errorf("Parse: %v", err)
		}
	}
}

// The definitions agree with what the Emitter writes: every metric a line
// carries is defined, with the line's unit and one of its dimension sets.
func TestMetricDefinitionsMatchTheLines(t *testing.T) {
	var buf bytes.Buffer
	e := metrics.New(&buf, fixed)
	_ = e.Step(metrics.Step{Step: "verify", Provider: "random", Outcome: metrics.OutcomeFailed, Error: "Rotor.Transient"})
	_ = e.Step(metrics.Step{Step: "create", Provider: "random", Outcome: "created"})
	_ = e.Sweep(metrics.Sweep{})
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		doc, err := metrics.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range doc.Directives {
			for _, m := range dir.Metrics {
				def, ok := metrics.Lookup(m.Name)
				if !ok {
					t.Errorf("metric %s is not defined", m.Name)
					continue
				}
				seen[m.Name] = true
				if def.Unit != m.Unit {
					t.Errorf("%s: unit %s, defined as %s", m.Name, m.Unit, def.Unit)
				}
				allowed := append(def.DimensionSets, def.Optional...)
				for _, set := range dir.Dimensions {
					found := false
					for _, a := range allowed {
						found = found || cmp.Equal(a, set)
					}
					if !found {
						t.Errorf("%s: dimension set %v is not defined (%v)", m.Name, set, allowed)
					}
				}
			}
		}
	}
	for _, d := range metrics.Definitions() {
		if !seen[d.Name] {
			t.Errorf("definition %s: no line carries it", d.Name)
		}
	}
}

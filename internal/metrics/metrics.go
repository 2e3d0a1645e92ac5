// Package metrics writes rotor's metrics as CloudWatch Embedded Metric
// Format (EMF) log lines, and reads such lines back.
//
// The contract:
//
//   - A function writes its metrics as log lines on its own output: no API
//     call, no permission beyond the log group's. CloudWatch Logs extracts
//     them in the namespace "rotor"; rotor local reads the same lines
//     (Parse) and serves them in Prometheus' text format.
//   - The metrics, their units and dimension sets are fixed here
//     (Definitions). Dimension values come from closed vocabularies (step
//     names, step outcomes, Rotor.* error names, registered provider names):
//     never a secret's name, ARN or value, so the number of metrics stays
//     small and a line carries nothing secret.
//   - Every line the Emitter writes is one JSON object ending in a newline,
//     written with one Write, and is valid EMF (Parse accepts it); a record
//     that would not be is refused with an error naming what is wrong, and
//     nothing is written.
//   - Parse accepts a line only if it follows the specification's rules, and
//     says which rule a line breaks without quoting the line's values.
package metrics

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	json "github.com/go-json-experiment/json"
)

// Namespace is the CloudWatch namespace of every rotor metric.
const Namespace = "rotor"

// The metrics. Their names are stable: dashboards, alarms and the local
// endpoint's names derive from them.
const (
	// Rotations counts step outcomes (Count): one per step run, by Provider
	// and Outcome, and for a failed step also by Error.
	Rotations = "Rotations"
	// StepDuration is how long a step ran (Milliseconds), by Step and
	// Provider.
	StepDuration = "StepDuration"
	// OldestSecretAgeSeconds is the age of the oldest current version among
	// the managed secrets a sweep saw (Seconds).
	OldestSecretAgeSeconds = "OldestSecretAgeSeconds"
	// OverdueSecrets is how many managed secrets a sweep found overdue
	// (Count).
	OverdueSecrets = "OverdueSecrets"
)

// Dimension keys.
const (
	DimProvider = "Provider"
	DimOutcome  = "Outcome"
	DimError    = "Error"
	DimStep     = "Step"
)

// OutcomeFailed is the Outcome of a step that returned an error; the Error
// dimension then holds its Rotor.* name.
const OutcomeFailed = "failed"

// ProviderUnknown stands for a provider name that is not a registered
// provider's (a tag anyone who may tag a secret can write): a dimension
// value from it would let a tag mint metrics.
const ProviderUnknown = "unknown"

// Unit is a CloudWatch metric unit.
type Unit string

// The units rotor's metrics use.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
)

// Kind says how a metric's values add up over time, for a consumer that
// aggregates them itself (rotor local's Prometheus endpoint).
type Kind int

const (
	// Counter values are increments.
	Counter Kind = iota + 1
	// Distribution values are observations (quantiles are meaningful).
	Distribution
	// Gauge values replace the previous one.
	Gauge
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Distribution:
		return "distribution"
	case Gauge:
		return "gauge"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Definition describes one metric.
type Definition struct {
	Name string
	Unit Unit
	Kind Kind
	// DimensionSets are the sets of dimension keys the metric is published
	// under (each creates a metric in CloudWatch).
	DimensionSets [][]string
	// Optional marks dimension sets a line includes only when it has their
	// keys (Error: failed steps only).
	Optional [][]string
	Help     string
}

// Keys returns every dimension key a line may give the metric, in order of
// first appearance.
func (d Definition) Keys() []string {
	var keys []string
	for _, set := range append(slices.Clone(d.DimensionSets), d.Optional...) {
		for _, k := range set {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

var definitions = []Definition{
	{Name: Rotations, Unit: Count, Kind: Counter,
		DimensionSets: [][]string{{DimProvider, DimOutcome}}, Optional: [][]string{{DimProvider, DimOutcome, DimError}},
		Help: "Step outcomes: one per step run, by provider and outcome (created, skipped, switched, verified, revoked, rolled-back, cleaned-up, ..., or failed with its Rotor.* error)."},
	{Name: StepDuration, Unit: Milliseconds, Kind: Distribution,
		DimensionSets: [][]string{{DimStep, DimProvider}},
		Help:          "How long each step ran, by step and provider."},
	{Name: OldestSecretAgeSeconds, Unit: Seconds, Kind: Gauge, DimensionSets: [][]string{{}},
		Help: "Age of the oldest current version among the managed secrets the last sweep saw."},
	{Name: OverdueSecrets, Unit: Count, Kind: Gauge, DimensionSets: [][]string{{}},
		Help: "Managed secrets the last sweep found past their rotor:max-age."},
}

// Definitions returns the definition of every rotor metric.
func Definitions() []Definition {
	out := make([]Definition, len(definitions))
	for i, d := range definitions {
		d.DimensionSets = cloneSets(d.DimensionSets)
		d.Optional = cloneSets(d.Optional)
		out[i] = d
	}
	return out
}

// Lookup returns the definition of the metric named name.
func Lookup(name string) (Definition, bool) {
	for _, d := range Definitions() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

func cloneSets(sets [][]string) [][]string {
	out := make([][]string, len(sets))
	for i, s := range sets {
		out[i] = append([]string{}, s...)
	}
	if sets == nil {
		return nil
	}
	return out
}

// Emitter writes EMF lines. A nil *Emitter writes nothing. It is safe for
// concurrent use.
type Emitter struct {
	w   io.Writer
	now func() time.Time
	mu  sync.Mutex
}

// New returns an Emitter writing to w, timestamping lines with now (nil:
// time.Now).
func New(w io.Writer, now func() time.Time) *Emitter {
	if now == nil {
		now = time.Now
	}
	return &Emitter{w: w, now: now}
}

// Step is one step's run.
type Step struct {
	Step     string // create, switchover, verify, expire, revoke, rollback, cleanup
	Provider string // a registered provider's name, or ProviderUnknown
	// Outcome is the step's outcome, or OutcomeFailed.
	Outcome string
	// Error is the Rotor.* name of a failed step's error; empty otherwise.
	Error    string
	Duration time.Duration
}

// Step writes one line: Rotations (1) and StepDuration.
func (e *Emitter) Step(s Step) error {
	if e == nil {
		return nil
	}
	var problems []string
	if (s.Outcome == OutcomeFailed) != (s.Error != "") {
		problems = append(problems, fmt.Sprintf("an Error is given exactly when the Outcome is %q", OutcomeFailed))
	}
	if s.Duration < 0 {
		problems = append(problems, "the duration is negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("metrics: step record: %s", join(problems))
	}
	dims := map[string]string{DimStep: s.Step, DimProvider: s.Provider, DimOutcome: s.Outcome}
	rot, _ := Lookup(Rotations)
	sets := rot.DimensionSets
	if s.Error != "" {
		dims[DimError] = s.Error
		sets = append(sets, rot.Optional...)
	}
	dur, _ := Lookup(StepDuration)
	return e.write(&Document{
		Directives: []Directive{
			{Namespace: Namespace, Dimensions: sets, Metrics: []MetricDefinition{{Name: Rotations, Unit: Count}}},
			{Namespace: Namespace, Dimensions: dur.DimensionSets, Metrics: []MetricDefinition{{Name: StepDuration, Unit: Milliseconds}}},
		},
		Dimensions: dims,
		Values: map[string][]float64{
			Rotations:    {1},
			StepDuration: {float64(s.Duration) / float64(time.Millisecond)},
		},
	})
}

// Sweep is what a sweep found among the managed secrets in scope.
type Sweep struct {
	// OldestAge is the age of the oldest current version (0: none).
	OldestAge time.Duration
	// Overdue is how many secrets are past their max-age.
	Overdue int
}

// Sweep writes one line: OldestSecretAgeSeconds and OverdueSecrets, with
// no dimensions.
func (e *Emitter) Sweep(s Sweep) error {
	if e == nil {
		return nil
	}
	if s.OldestAge < 0 || s.Overdue < 0 {
		return errors.New("metrics: sweep record: the oldest age and the overdue count must not be negative")
	}
	return e.write(&Document{
		Directives: []Directive{{Namespace: Namespace, Dimensions: [][]string{{}}, Metrics: []MetricDefinition{
			{Name: OldestSecretAgeSeconds, Unit: Seconds}, {Name: OverdueSecrets, Unit: Count}}}},
		Values: map[string][]float64{
			OldestSecretAgeSeconds: {math.Floor(s.OldestAge.Seconds())},
			OverdueSecrets:         {float64(s.Overdue)},
		},
	})
}

func (e *Emitter) write(d *Document) error {
	d.Timestamp = e.now()
	line, err := d.Marshal()
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("metrics: write: %w", err)
	}
	return nil
}

// marshalOptions: deterministic member order, for tests and diffs.
var marshalOptions = json.Deterministic(true)

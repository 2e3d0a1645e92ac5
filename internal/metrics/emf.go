package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/rotorhq/rotor/internal/strictjson"
)

// Limits of the EMF specification and of CloudWatch's Dimension type.
const (
	MaxDimensionKeys   = 30  // keys in one dimension set
	MaxMetrics         = 100 // metric definitions in one directive
	MaxValues          = 100 // values in one metric target's array
	maxNameLength      = 255 // namespace, dimension key, metric name
	maxValueLength     = 1024
	metadataMember     = "_aws"
	highResolution     = 1
	standardResolution = 60
)

// Errors of Parse.
var (
	// ErrNotEMF: the line is not a JSON object with an _aws member (an
	// ordinary log line).
	ErrNotEMF = errors.New("not an EMF document")
	// ErrInvalid: the line claims to be EMF (it has _aws) but breaks a rule
	// of the specification; CloudWatch would extract nothing from it.
	ErrInvalid = errors.New("invalid EMF document")
)

// units are the values a MetricDefinition's Unit may take.
var units = []Unit{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
	"Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
	"Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// Document is one EMF log event.
type Document struct {
	// Timestamp is _aws.Timestamp, written in milliseconds since the epoch.
	Timestamp  time.Time
	Directives []Directive
	// Dimensions are the root members that dimension sets name.
	Dimensions map[string]string
	// Values are the root members that metric definitions name: one value
	// is written as a number, several as an array.
	Values map[string][]float64
}

// Directive is a MetricDirective: which root members are metrics, under
// which dimension sets, in which namespace.
type Directive struct {
	Namespace  string             `json:"Namespace"`
	Dimensions [][]string         `json:"Dimensions"`
	Metrics    []MetricDefinition `json:"Metrics"`
}

// MetricDefinition names a metric target and its unit.
type MetricDefinition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitzero"`
	// StorageResolution is 1 (high resolution) or 60; 0 leaves it out.
	StorageResolution int `json:"StorageResolution,omitzero"`
}

// Marshal encodes the document as one line of JSON (without the newline),
// after checking it against the specification's rules.
func (d *Document) Marshal() ([]byte, error) {
	if problems := d.check(); len(problems) > 0 {
		return nil, fmt.Errorf("metrics: %w: %s", ErrInvalid, join(problems))
	}
	root := map[string]any{metadataMember: map[string]any{
		"Timestamp": d.Timestamp.UnixMilli(), "CloudWatchMetrics": d.Directives}}
	for k, v := range d.Dimensions {
		root[k] = v
	}
	for k, vs := range d.Values {
		if len(vs) == 1 {
			root[k] = vs[0]
		} else {
			root[k] = vs
		}
	}
	b, err := json.Marshal(root, marshalOptions)
	if err != nil {
		return nil, fmt.Errorf("metrics: encode: %w", err)
	}
	return b, nil
}

// check applies the specification's rules to a document: what Marshal
// refuses to write and Parse refuses to read.
func (d *Document) check() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.Timestamp.UnixMilli() < 0 {
		add("_aws.Timestamp is before 1970")
	}
	usedDims, usedMetrics := map[string]bool{}, map[string]bool{}
	for i, dir := range d.Directives {
		at := fmt.Sprintf("_aws.CloudWatchMetrics[%d]", i)
		if n := len(dir.Namespace); n < 1 || n > maxNameLength {
			add("%s.Namespace is not 1 to %d characters", at, maxNameLength)
		}
		if len(dir.Dimensions) == 0 {
			add("%s.Dimensions holds no dimension set (an empty set, [[]], publishes without dimensions)", at)
		}
		for j, set := range dir.Dimensions {
			if len(set) > MaxDimensionKeys {
				add("%s.Dimensions[%d] has %d keys, more than %d", at, j, len(set), MaxDimensionKeys)
			}
			for k, key := range set {
				switch {
				case !validName(key):
					add("%s.Dimensions[%d][%d] is not a dimension name (1 to %d ASCII characters, not starting with a colon)", at, j, k, maxNameLength)
				case slices.Index(set, key) != k:
					add("%s.Dimensions[%d] names %q twice", at, j, key)
				default:
					usedDims[key] = true
				}
			}
		}
		if len(dir.Metrics) > MaxMetrics {
			add("%s.Metrics has %d definitions, more than %d", at, len(dir.Metrics), MaxMetrics)
		}
		for j, m := range dir.Metrics {
			mat := fmt.Sprintf("%s.Metrics[%d]", at, j)
			if n := len(m.Name); n < 1 || n > maxNameLength {
				add("%s.Name is not 1 to %d characters", mat, maxNameLength)
			} else {
				usedMetrics[m.Name] = true
			}
			if m.Unit != "" && !slices.Contains(units, m.Unit) {
				add("%s.Unit is not a CloudWatch unit", mat)
			}
			if r := m.StorageResolution; r != 0 && r != highResolution && r != standardResolution {
				add("%s.StorageResolution is %d, not 1 or 60", mat, r)
			}
		}
	}
	for _, key := range sortedKeys(usedDims) {
		v, ok := d.Dimensions[key]
		switch {
		case key == metadataMember:
			add("dimension %q is the metadata member", key)
		case !ok:
			add("dimension %q has no string member on the root", key)
		case !validValue(v):
			add("dimension %q's value is not 1 to %d printable ASCII characters with a non-space", key, maxValueLength)
		}
		if _, clash := d.Values[key]; clash {
			add("%q is named both as a dimension and as a metric", key)
		}
	}
	for _, name := range sortedKeys(usedMetrics) {
		vs, ok := d.Values[name]
		switch {
		case name == metadataMember:
			add("metric %q is the metadata member", name)
		case !ok || len(vs) == 0:
			add("metric %q has no numeric member on the root", name)
		case len(vs) > MaxValues:
			add("metric %q has %d values, more than %d", name, len(vs), MaxValues)
		}
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				add("metric %q has a value that is not a finite number", name)
				break
			}
		}
	}
	return problems
}

// Parse reads one log line as an EMF document. A line that is not a JSON
// object with an _aws member is ErrNotEMF; one that has _aws but breaks a
// rule of the specification is ErrInvalid, with every rule it breaks named.
// Members the specification does not define are ignored, as it requires;
// the root's other members are not kept.
func Parse(line []byte) (*Document, error) {
	var root map[string]jsontext.Value
	if err := json.Unmarshal(trim(line), &root); err != nil || root == nil {
		return nil, ErrNotEMF
	}
	meta, ok := root[metadataMember]
	if !ok {
		return nil, ErrNotEMF
	}
	invalid := func(problems ...string) error { return fmt.Errorf("%w: %s", ErrInvalid, join(problems)) }
	var aws struct {
		Timestamp         *jsontext.Value `json:"Timestamp"`
		CloudWatchMetrics *[]Directive    `json:"CloudWatchMetrics"`
	}
	if meta.Kind() != '{' {
		return nil, invalid("_aws is not an object")
	}
	if err := json.Unmarshal(meta, &aws); err != nil {
		return nil, invalid("_aws: " + strictjson.Describe(err))
	}
	var problems []string
	d := &Document{Dimensions: map[string]string{}, Values: map[string][]float64{}}
	switch ts := aws.Timestamp; {
	case ts == nil:
		problems = append(problems, "_aws.Timestamp is missing")
	default:
		ms, err := strconv.ParseInt(string(*ts), 10, 64)
		if ts.Kind() != '0' || err != nil {
			problems = append(problems, "_aws.Timestamp is not an integer number of milliseconds")
		}
		d.Timestamp = time.UnixMilli(ms)
	}
	if aws.CloudWatchMetrics == nil {
		problems = append(problems, "_aws.CloudWatchMetrics is missing")
	} else {
		d.Directives = *aws.CloudWatchMetrics
	}
	for i, dir := range d.Directives {
		for _, set := range dir.Dimensions {
			for _, key := range set {
				v, ok := root[key]
				if !ok {
					continue // check names it
				}
				var s string
				if v.Kind() != '"' || json.Unmarshal(v, &s) != nil {
					problems = append(problems, fmt.Sprintf("dimension %q (in _aws.CloudWatchMetrics[%d]) is not a string", key, i))
					continue
				}
				d.Dimensions[key] = s
			}
		}
		for _, m := range dir.Metrics {
			v, ok := root[m.Name]
			if !ok {
				continue
			}
			vs, err := numbers(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("metric %q (in _aws.CloudWatchMetrics[%d]) %v", m.Name, i, err))
				continue
			}
			d.Values[m.Name] = vs
		}
	}
	// Directives decode with unknown members ignored; a present member of
	// the wrong shape is a decoding error above. An absent Namespace,
	// Dimensions or Metrics decodes as empty, which check refuses (except
	// Metrics: a directive with no metrics extracts nothing, harmlessly).
	problems = append(problems, d.check()...)
	if len(problems) > 0 {
		return nil, invalid(problems...)
	}
	return d, nil
}

// numbers reads a metric target: a number or an array of numbers.
func numbers(v jsontext.Value) ([]float64, error) {
	switch v.Kind() {
	case '0':
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return nil, errors.New("is not a finite number")
		}
		return []float64{f}, nil
	case '[':
		var fs []float64
		if err := json.Unmarshal(v, &fs); err != nil {
			return nil, errors.New("is an array of something other than numbers")
		}
		return fs, nil
	}
	return nil, errors.New("is neither a number nor an array of numbers")
}

// trim removes what surrounds a log line: its newline and spaces.
func trim(line []byte) []byte { return []byte(strings.TrimSpace(string(line))) }

// validName: a dimension name CloudWatch accepts.
func validName(s string) bool {
	return len(s) >= 1 && len(s) <= maxNameLength && !strings.HasPrefix(s, ":") && printableASCII(s) && strings.TrimSpace(s) != ""
}

// validValue: a dimension value CloudWatch accepts.
func validValue(s string) bool {
	return len(s) >= 1 && len(s) <= maxValueLength && printableASCII(s) && strings.TrimSpace(s) != ""
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(problems []string) string { return strings.Join(problems, "; ") }

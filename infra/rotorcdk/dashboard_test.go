package rotorcdk_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/metrics"
)

// joined renders an Fn::Join of strings and tokens as one string, each
// token as TOKEN(<logical id or pseudo parameter>).
func joined(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	j, _ := v.(map[string]any)["Fn::Join"].([]any)
	if len(j) != 2 {
		t.Fatalf("not a string or an Fn::Join: %v", v)
	}
	var b strings.Builder
	for _, part := range j[1].([]any) {
		if s, ok := part.(string); ok {
			b.WriteString(s)
			continue
		}
		fmt.Fprintf(&b, "TOKEN(%s)", ref(part))
	}
	return b.String()
}

// widget is what the tests read of a dashboard widget.
type widget struct {
	Type       string `json:"type"`
	Properties struct {
		Title       string  `json:"title"`
		Metrics     [][]any `json:"metrics"`
		Annotations struct {
			Alarms []string `json:"alarms"`
		} `json:"annotations"`
	} `json:"properties"`
}

// dashboard returns the stack's one dashboard: its name and widgets.
func dashboard(t *testing.T, d *deployment) (string, []widget) {
	t.Helper()
	ids := d.ofType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards %v, want one", ids)
	}
	p := d.resources[ids[0]].Properties
	var body struct {
		Widgets []widget `json:"widgets"`
	}
	// Tokens sit inside JSON strings (ARNs, the Region), so the body parses
	// with them rendered as text.
	if err := json.Unmarshal([]byte(joined(t, p["DashboardBody"])), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	return joined(t, p["DashboardName"]), body.Widgets
}

// TestDashboard: the dashboard shows each of the functions' metrics under
// the dimension sets they are written with, and the failed executions.
func TestDashboard(t *testing.T) {
	d := synth(t, testConfig)
	name, widgets := dashboard(t, d)
	if name != "rotor-rotation-TOKEN(AWS::Region)" {
		t.Errorf("dashboard name %q, want the state machine's name and the Region", name)
	}
	titles := map[string][][]any{}
	var order []string
	for _, w := range widgets {
		order = append(order, w.Properties.Title)
		titles[w.Properties.Title] = w.Properties.Metrics
	}
	want := []string{
		"Rotations by outcome (each step's outcome, by provider)",
		"Failed steps by error",
		"Step duration p50 (by step and provider)",
		"Step duration p99 (by step and provider)",
		"Oldest managed secret age (days, at each sweep)",
		"Overdue secrets (past rotor:max-age, at each sweep)",
		"Executions failed, timed out, aborted",
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Fatalf("widgets (-want +got):\n%s", diff)
	}

	// The SEARCH expressions name the namespace, the metric and exactly a
	// dimension set the functions write it with.
	sets := map[string][][]string{}
	for _, def := range metrics.Definitions() {
		sets[def.Name] = append(slices.Clone(def.DimensionSets), def.Optional...)
	}
	for title, wantExpr := range map[string]string{
		want[0]: `SEARCH('{rotor,Outcome,Provider} MetricName="Rotations"', 'Sum', 300)`,
		want[1]: `SEARCH('{rotor,Error,Outcome,Provider} MetricName="Rotations"', 'Sum', 300)`,
		want[2]: `SEARCH('{rotor,Provider,Step} MetricName="StepDuration"', 'p50', 300)`,
		want[3]: `SEARCH('{rotor,Provider,Step} MetricName="StepDuration"', 'p99', 300)`,
	} {
		ms := titles[title]
		if len(ms) != 1 || len(ms[0]) != 1 {
			t.Errorf("%s: metrics %v, want one expression", title, ms)
			continue
		}
		expr, _ := ms[0][0].(map[string]any)["expression"].(string)
		if expr != wantExpr {
			t.Errorf("%s: expression %s, want %s", title, expr, wantExpr)
		}
		var schema, metric string
		if _, err := fmt.Sscanf(expr, "SEARCH('{%s MetricName=%q", &schema, &metric); err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		keys := strings.Split(strings.TrimSuffix(schema, "}"), ",")
		if keys[0] != metrics.Namespace {
			t.Errorf("%s: namespace %s", title, keys[0])
		}
		found := false
		for _, set := range sets[metric] {
			found = found || cmp.Equal(sortedCopy(set), keys[1:])
		}
		if !found {
			t.Errorf("%s: dimensions %v are none of %s's sets %v", title, keys[1:], metric, sets[metric])
		}
	}

	// The sweep's metrics have no dimensions, one point per sweep (the
	// default: every 15 minutes).
	age := titles[want[4]]
	if diff := cmp.Diff([][]any{
		{map[string]any{"expression": "age / 86400", "label": "oldest current version (days)", "period": float64(900)}},
		{metrics.Namespace, metrics.OldestSecretAgeSeconds, map[string]any{"id": "age", "stat": "Maximum", "period": float64(900), "visible": false}},
	}, stripRegion(age)); diff != "" {
		t.Errorf("oldest age widget (-want +got):\n%s", diff)
	}
	overdue := widgets[5]
	if overdue.Type != "metric" || len(overdue.Properties.Annotations.Alarms) != 1 || !strings.Contains(overdue.Properties.Annotations.Alarms[0], "TOKEN(RotorOverdueSecretsAlarm") {
		t.Errorf("overdue widget is not the overdue alarm's: %+v", overdue)
	}

	execs := titles[want[6]]
	var got []string
	for _, m := range execs {
		got = append(got, fmt.Sprint(m[0], " ", m[1]))
	}
	if diff := cmp.Diff([]string{"AWS/States ExecutionsFailed", "AWS/States ExecutionsTimedOut", "AWS/States ExecutionsAborted"}, got); diff != "" {
		t.Errorf("executions widget (-want +got):\n%s", diff)
	}
}

// TestOverdueAlarm: an alarm on the sweep's OverdueSecrets, over the
// sweeper's period, wired to the notification topic like the others; none
// when the sweeper is off.
func TestOverdueAlarm(t *testing.T) {
	for _, tc := range []struct {
		name, config  string
		period, evals float64
	}{
		{"sweeper every 15 minutes (the default)", testConfig, 900, 2},
		{"daily sweeper", `{"sweeperSchedule": "rate(1 day)"}`, 86400, 2},
		{"sweeper off", `{"sweeperSchedule": "off", "leakSources": {"guardDuty": false, "health": true, "eventBus": false}}`, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synth(t, tc.config)
			topic := d.ofType("AWS::SNS::Topic")[0]
			var found []map[string]any
			for _, id := range d.ofType("AWS::CloudWatch::Alarm") {
				if p := d.resources[id].Properties; p["MetricName"] == metrics.OverdueSecrets {
					found = append(found, p)
				}
			}
			if tc.evals == 0 {
				if len(found) != 0 {
					t.Errorf("sweeper off, but overdue alarms %v", found)
				}
				return
			}
			if len(found) != 1 {
				t.Fatalf("overdue alarms %v, want one", found)
			}
			p := maps.Clone(found[0]) // the deployment is shared with other tests
			actions, _ := p["AlarmActions"].([]any)
			if len(actions) != 1 || ref(actions[0]) != topic {
				t.Errorf("alarm actions %v, want the topic", actions)
			}
			delete(p, "AlarmActions")
			delete(p, "AlarmDescription")
			if diff := cmp.Diff(map[string]any{
				"Namespace": metrics.Namespace, "MetricName": metrics.OverdueSecrets, "Statistic": "Minimum",
				"Period": tc.period, "EvaluationPeriods": tc.evals, "DatapointsToAlarm": tc.evals,
				"Threshold": float64(0), "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
			}, p); diff != "" {
				t.Errorf("alarm (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// stripRegion drops the "region" CDK adds to a metric's options.
func stripRegion(ms [][]any) [][]any {
	out := make([][]any, len(ms))
	for i, m := range ms {
		out[i] = slices.Clone(m)
		if o, ok := m[len(m)-1].(map[string]any); ok {
			o = maps.Clone(o)
			delete(o, "region")
			out[i][len(m)-1] = o
		}
	}
	return out
}

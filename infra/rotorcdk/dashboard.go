package rotorcdk

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/jsii-runtime-go"

	"github.com/rotorhq/rotor/internal/metrics"
)

// The metrics the functions write as EMF lines (internal/metrics) need no
// permission: CloudWatch Logs extracts them from the functions' log groups.
// What the construct adds is the dashboard and the alarm on overdue
// secrets.

// Limits of CloudWatch alarms: Period × EvaluationPeriods may reach 7
// days, or 1 day for a period under an hour; a period is a multiple of 60
// seconds.
const (
	maxAlarmRange      = 7 * 24 * 3600
	maxShortAlarmRange = 24 * 3600
	hour               = 3600
	day                = 24 * hour
)

var rateExpression = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// sweepPeriod is how often the sweeper runs, in seconds, as far as the
// alarm and the dashboard need to know: a rate's interval, and a day for a
// cron expression (a sweeper's usual cadence; one at another cadence is
// still evaluated, only over a day).
func sweepPeriod(schedule string) int {
	m := rateExpression.FindStringSubmatch(schedule)
	if m == nil {
		return day
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return day
	}
	unit := map[string]int{"minute": 60, "minutes": 60, "hour": hour, "hours": hour, "day": day, "days": day}[m[2]]
	if n > maxAlarmRange/unit {
		return maxAlarmRange
	}
	return n * unit
}

// overdueAlarmWindow is the alarm's period and evaluation periods: a
// period of one sweep, and two of them, so that it fires when two sweeps in
// a row found secrets past their max-age, that is when the count stayed
// above zero for a sweeper period (the first sweep to find a secret due
// starts its rotation; the next should find it rotated). A sweeper too slow
// for two periods in an alarm's range is evaluated over one.
func overdueAlarmWindow(schedule string) (period, evaluations int) {
	period = max(sweepPeriod(schedule), 60)
	limit := maxAlarmRange
	if period < hour {
		limit = maxShortAlarmRange
	}
	if 2*period <= limit {
		return period, 2
	}
	return min(period, maxAlarmRange), 1
}

// rotorMetric is one of the functions' metrics with no dimensions (the
// sweep's).
func rotorMetric(name, statistic string, period int) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name),
		Statistic: jsii.String(statistic), Period: awscdk.Duration_Seconds(jsii.Number(period)),
	})
}

// search is a SEARCH expression over one of the functions' metrics, for
// every combination of values of exactly the dimension keys given.
func search(metric, statistic string, period int, label string, keys ...string) awscloudwatch.MathExpression {
	schema := metrics.Namespace
	for _, k := range keys {
		schema += "," + k
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(fmt.Sprintf(`SEARCH('{%s} MetricName="%s"', '%s', %d)`, schema, metric, statistic, period)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{},
		Label:        jsii.String(label),
		Period:       awscdk.Duration_Seconds(jsii.Number(period)),
	})
}

// observability adds the alarm on overdue secrets (when the sweeper runs)
// and the dashboard.
func (r *Rotor) observability(cfg Config) {
	c := r.Construct
	sweeping := cfg.SweeperSchedule != "off"
	period, evaluations := overdueAlarmWindow(cfg.SweeperSchedule)
	overdue := rotorMetric(metrics.OverdueSecrets, "Minimum", period)
	if sweeping {
		r.OverdueAlarm = awscloudwatch.NewAlarm(c, jsii.String("OverdueSecretsAlarm"), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(fmt.Sprintf("rotor: managed secrets stayed past their rotor:max-age for %d sweeps in a row (%s)",
				evaluations, cfg.SweeperSchedule)),
			Metric:             overdue,
			Threshold:          jsii.Number(0),
			EvaluationPeriods:  jsii.Number(float64(evaluations)),
			DatapointsToAlarm:  jsii.Number(float64(evaluations)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			// No sweep in a period is no evidence of an overdue secret;
			// a sweeper that cannot start is the dead-letter alarm's.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		r.OverdueAlarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(r.Topic))
	}

	const width, height = 12, 6
	step := 300 // the steps' metrics: five-minute points
	graph := func(title string, left []awscloudwatch.IMetric, unit string) awscloudwatch.GraphWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &left, Width: jsii.Number(width), Height: jsii.Number(height),
			LeftYAxis: &awscloudwatch.YAxisProps{Label: jsii.String(unit), ShowUnits: jsii.Bool(false), Min: jsii.Number(0)},
		})
	}
	widgets := []awscloudwatch.IWidget{
		graph("Rotations by outcome (each step's outcome, by provider)", []awscloudwatch.IMetric{
			search(metrics.Rotations, "Sum", step, "", metrics.DimOutcome, metrics.DimProvider)}, "count"),
		graph("Failed steps by error", []awscloudwatch.IMetric{
			search(metrics.Rotations, "Sum", step, "", metrics.DimError, metrics.DimOutcome, metrics.DimProvider)}, "count"),
		graph("Step duration p50 (by step and provider)", []awscloudwatch.IMetric{
			search(metrics.StepDuration, "p50", step, "p50", metrics.DimProvider, metrics.DimStep)}, "ms"),
		graph("Step duration p99 (by step and provider)", []awscloudwatch.IMetric{
			search(metrics.StepDuration, "p99", step, "p99", metrics.DimProvider, metrics.DimStep)}, "ms"),
		graph("Oldest managed secret age (days, at each sweep)", []awscloudwatch.IMetric{
			awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression:   jsii.String("age / 86400"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{"age": rotorMetric(metrics.OldestSecretAgeSeconds, "Maximum", period)},
				Label:        jsii.String("oldest current version (days)"),
				Period:       awscdk.Duration_Seconds(jsii.Number(period)),
			})}, "days"),
	}
	if r.OverdueAlarm != nil {
		widgets = append(widgets, awscloudwatch.NewAlarmWidget(&awscloudwatch.AlarmWidgetProps{
			Title: jsii.String("Overdue secrets (past rotor:max-age, at each sweep)"), Alarm: r.OverdueAlarm,
			Width: jsii.Number(width), Height: jsii.Number(height),
			LeftYAxis: &awscloudwatch.YAxisProps{Label: jsii.String("secrets"), ShowUnits: jsii.Bool(false), Min: jsii.Number(0)},
		}))
	} else {
		widgets = append(widgets, graph("Overdue secrets (past rotor:max-age, at each sweep)",
			[]awscloudwatch.IMetric{rotorMetric(metrics.OverdueSecrets, "Maximum", period)}, "secrets"))
	}
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Seconds(jsii.Number(step))}
	widgets = append(widgets, graph("Executions failed, timed out, aborted", []awscloudwatch.IMetric{
		r.StateMachine.MetricFailed(sum), r.StateMachine.MetricTimedOut(sum), r.StateMachine.MetricAborted(sum)}, "executions"))

	r.Dashboard = awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		// The state machine's name, which an operator already knows, and
		// the Region: a state machine's name is unique in its Region, a
		// dashboard's in the account.
		DashboardName:   jsii.String(cfg.StateMachineName + "-" + *awscdk.Stack_Of(c).Region()),
		DefaultInterval: awscdk.Duration_Days(jsii.Number(7)),
	})
	for i := 0; i < len(widgets); i += 2 {
		r.Dashboard.AddWidgets(widgets[i:min(i+2, len(widgets))]...)
	}
}

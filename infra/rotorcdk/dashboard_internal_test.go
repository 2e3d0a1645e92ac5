package rotorcdk

import (
	"fmt"
	"testing"
)

// TestOverdueAlarmWindow: one sweeper period per alarm period, two periods
// when CloudWatch's range allows (7 days; 1 day under an hour), else one.
func TestOverdueAlarmWindow(t *testing.T) {
	for _, tc := range []struct {
		schedule            string
		period, evaluations int
	}{
		{"rate(1 day)", 86400, 2},
		{"rate(15 minutes)", 900, 2},
		{"rate(1 minute)", 60, 2},
		{"rate(59 minutes)", 3540, 2},
		{"rate(2 hours)", 7200, 2},
		{"rate(3 days)", 259200, 2},
		{"rate(4 days)", 345600, 1},
		{"rate(30 days)", 604800, 1},
		{"rate(100000 days)", 604800, 1},
		{"cron(0 3 * * ? *)", 86400, 2},
		{"cron(0/15 * * * ? *)", 86400, 2},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			p, n := overdueAlarmWindow(tc.schedule)
			if got, want := fmt.Sprint(p, " ", n), fmt.Sprint(tc.period, " ", tc.evaluations); got != want {
				t.Errorf("period and evaluations %s, want %s", got, want)
			}
			if p%60 != 0 || p*n > 7*86400 || (p < 3600 && p*n > 86400) {
				t.Errorf("period %d × %d is not an alarm CloudWatch accepts", p, n)
			}
		})
	}
}

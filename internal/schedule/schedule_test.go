package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestNext: the next time of each expression after a fixed instant, among
// them the examples of EventBridge Scheduler's documentation.
func TestNext(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		expr  string
		loc   *time.Location
		after string
		want  []string
	}{
		{"cron(0 10 * * ? *)", time.UTC, "2026-12-07T10:00:00Z", []string{"2026-12-08T10:00:00Z", "2026-12-09T10:00:00Z"}},
		{"cron(15 12 * * ? *)", time.UTC, "2026-12-07T00:00:00Z", []string{"2026-12-07T12:15:00Z"}},
		{"cron(0 18 ? * MON-FRI *)", time.UTC, "2026-12-11T18:00:00Z", []string{"2026-12-14T18:00:00Z"}}, // Friday to Monday
		{"cron(0 8 1 * ? *)", time.UTC, "2026-12-07T00:00:00Z", []string{"2027-01-01T08:00:00Z", "2027-02-01T08:00:00Z"}},
		{"cron(0/15 * * * ? *)", time.UTC, "2026-12-07T10:07:00Z", []string{"2026-12-07T10:15:00Z", "2026-12-07T10:30:00Z"}},
		{"cron(0/10 * ? * MON-FRI *)", time.UTC, "2026-12-12T00:00:00Z", []string{"2026-12-14T00:00:00Z"}}, // Saturday
		{"cron(0 3 ? * SUN *)", time.UTC, "2026-12-07T00:00:00Z", []string{"2026-12-13T03:00:00Z", "2026-12-20T03:00:00Z"}},
		{"cron(0 3 ? * 1 *)", time.UTC, "2026-12-07T00:00:00Z", []string{"2026-12-13T03:00:00Z"}}, // 1 is Sunday
		{"cron(0 0 L * ? *)", time.UTC, "2027-02-01T00:00:00Z", []string{"2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z"}},
		{"cron(0 0 LW * ? *)", time.UTC, "2027-01-01T00:00:00Z", []string{"2027-01-29T00:00:00Z"}},  // the 31st is a Sunday
		{"cron(0 0 15W * ? *)", time.UTC, "2027-05-01T00:00:00Z", []string{"2027-05-14T00:00:00Z"}}, // the 15th is a Saturday
		{"cron(0 0 1W * ? *)", time.UTC, "2027-05-01T00:00:00Z", []string{"2027-05-03T00:00:00Z"}},  // Saturday the 1st: Monday the 3rd
		{"cron(0 0 ? * 6#3 *)", time.UTC, "2026-12-01T00:00:00Z", []string{"2026-12-18T00:00:00Z"}}, // the third Friday
		{"cron(0 0 ? * 2L *)", time.UTC, "2026-12-01T00:00:00Z", []string{"2026-12-28T00:00:00Z"}},  // the last Monday
		{"cron(0 12 1 1 ? 2028)", time.UTC, "2026-12-01T00:00:00Z", []string{"2028-01-01T12:00:00Z", ""}},
		{"cron(0 9 * DEC ? *)", time.UTC, "2026-12-31T10:00:00Z", []string{"2027-12-01T09:00:00Z"}},
		// 02:30 does not exist in New York on 8 March 2026: skipped.
		{"cron(30 2 * * ? *)", ny, "2026-03-07T08:00:00Z", []string{"2026-03-09T06:30:00Z"}},
		{"cron(0 3 ? * SUN *)", ny, "2026-12-07T00:00:00Z", []string{"2026-12-13T08:00:00Z"}},
		{"rate(7 days)", time.UTC, "2026-12-07T10:00:00Z", []string{"2026-12-14T10:00:00Z", "2026-12-21T10:00:00Z"}},
		{"rate(1 hour)", time.UTC, "2026-12-07T10:00:00Z", []string{"2026-12-07T11:00:00Z"}},
	} {
		t.Run(tc.expr+" "+tc.loc.String(), func(t *testing.T) {
			e, err := Parse(tc.expr, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			next := at(tc.after)
			for range tc.want {
				next = e.Next(next)
				if next.IsZero() {
					got = append(got, "")
					continue
				}
				got = append(got, next.UTC().Format(time.RFC3339))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Next (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, says string }{
		{"every day", "neither rate"},
		{"rate(1 days)", "write rate(1 day)"},
		{"rate(2 day)", "write rate(2 days)"},
		{"rate(0 hours)", "at least 1"},
		{"rate(3 weeks)", "not minute(s), hour(s) or day(s)"},
		{"cron(0 10 * * *)", "6 fields"},
		{"cron(0 10 * * * *)", "one of day-of-month and day-of-week must be ?"},
		{"cron(0 10 ? * ? *)", "one of day-of-month and day-of-week must be ?"},
		{"cron(60 10 * * ? *)", "minutes"},
		{"cron(0 24 * * ? *)", "hours"},
		{"cron(0 0 32 * ? *)", "day-of-month"},
		{"cron(0 0 ? * 8 *)", "day-of-week"},
		{"cron(0 0 ? * 6#6 *)", "1-5"},
		{"cron(0 0 ? FOO * *)", "month"},
		{"cron(0 0 1 * ? 1969)", "year"},
		{"cron(0 5-1 * * ? *)", "backwards"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr, time.UTC)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Parse(%q) = %v, want an error saying %q", tc.expr, err, tc.says)
			}
		})
	}
}

func TestFromTagsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags map[string]string
		says []string
	}{
		{"bad zone", map[string]string{TagTimezone: "Mars/Olympus"}, []string{"rotor:timezone"}},
		{"bad schedule and pause", map[string]string{TagSchedule: "weekly", TagPaused: "soon"}, []string{"rotor:schedule", "rotor:paused is \"soon\""}},
		{"window without duration", map[string]string{TagWindow: "cron(0 2 ? * SAT *)"}, []string{"rotor:window", "duration"}},
		{"window of rate", map[string]string{TagWindow: "rate(1 day) 4h"}, []string{"cron(...)"}},
		{"window too long", map[string]string{TagWindow: "cron(0 2 ? * SAT *) 40d"}, []string{"31d"}},
		{"reason without pause", map[string]string{TagPausedReason: "freeze"}, []string{"without rotor:paused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromTags(tc.tags, 60*24*time.Hour)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%v does not say %q", err, s)
				}
			}
		})
	}
}

// TestDecide: the example (a weekly schedule and a window), pauses,
// and the maximum age.
func TestDecide(t *testing.T) {
	const day = 24 * time.Hour
	weekly := map[string]string{TagSchedule: "cron(0 3 ? * SUN *)", TagWindow: "cron(0 2 ? * SUN *) 4h"}
	last := at("2026-12-06T12:00:00Z") // a Sunday, after the window
	for _, tc := range []struct {
		name   string
		tags   map[string]string
		last   time.Time
		now    string
		want   Decision
		wantAt string // NextDue
	}{
		{"not yet due", weekly, last, "2026-12-10T00:00:00Z", Decision{Why: "schedule cron(0 3 ? * SUN *)"}, "2026-12-13T03:00:00Z"},
		{"due inside the window", weekly, last, "2026-12-13T03:15:00Z", Decision{Due: true, Why: "schedule cron(0 3 ? * SUN *)"}, "2026-12-13T03:15:00Z"},
		{"due outside the window waits", weekly, last, "2026-12-13T07:00:00Z",
			Decision{Why: "schedule cron(0 3 ? * SUN *)", Held: "outside its window (cron(0 2 ? * SUN *) for 4h); it opens 2026-12-20T02:00:00Z"}, "2026-12-20T02:00:00Z"},
		{"a rotation in the window covers the window", weekly, at("2026-12-13T02:15:00Z"), "2026-12-13T03:30:00Z",
			Decision{Why: "schedule cron(0 3 ? * SUN *)"}, "2026-12-20T03:00:00Z"},
		{"paused with a reason", map[string]string{TagSchedule: "rate(1 day)", TagPaused: "true", TagPausedReason: "deploy freeze"}, last, "2026-12-08T00:00:00Z",
			Decision{Why: "schedule rate(1 day)", Held: "paused: deploy freeze"}, ""},
		{"paused until", map[string]string{TagSchedule: "rate(1 day)", TagPaused: "2026-12-10T00:00:00Z"}, last, "2026-12-08T00:00:00Z",
			Decision{Why: "schedule rate(1 day)", Held: "paused until 2026-12-10T00:00:00Z"}, "2026-12-10T00:00:00Z"},
		{"a pause that ended", map[string]string{TagSchedule: "rate(1 day)", TagPaused: "2026-12-07T00:00:00Z"}, last, "2026-12-08T00:00:00Z",
			Decision{Due: true, Why: "schedule rate(1 day)"}, "2026-12-08T00:00:00Z"},
		{"max-age alone", map[string]string{}, last, "2027-02-10T00:00:00Z", Decision{Due: true, Why: "max-age 60d", Overdue: true}, "2027-02-10T00:00:00Z"},
		{"overdue while paused", map[string]string{TagPaused: "true"}, last, "2027-02-10T00:00:00Z", Decision{Why: "max-age 60d", Held: "paused", Overdue: true}, ""},
		{"no value yet", map[string]string{}, time.Time{}, "2026-12-08T00:00:00Z", Decision{Due: true, Why: "it has no current value", Overdue: true}, "2026-12-08T00:00:00Z"},
		{"time zone", map[string]string{TagSchedule: "cron(0 3 ? * SUN *)", TagTimezone: "Europe/Berlin"}, last, "2026-12-13T02:30:00Z",
			Decision{Due: true, Why: "schedule cron(0 3 ? * SUN *)"}, "2026-12-13T02:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromTags(tc.tags, 60*day)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Decide(tc.last, at(tc.now))
			next := ""
			if !got.NextDue.IsZero() {
				next = got.NextDue.UTC().Format(time.RFC3339)
			}
			got.NextDue = time.Time{}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
			if next != tc.wantAt {
				t.Errorf("NextDue = %q, want %q", next, tc.wantAt)
			}
		})
	}
}

// Package schedule decides when a managed secret is due, from the timing
// tags on it: a schedule (rotor:schedule, in rotor:timezone), a
// maintenance window (rotor:window), a pause (rotor:paused,
// rotor:paused-reason) and the maximum age (rotor:max-age, read by package
// rotation and passed in).
//
// Expressions are EventBridge Scheduler's, so a schedule written for AWS's
// own rotation (ScheduleExpression) means the same here:
//
//	rate(<n> minute|minutes|hour|hours|day|days)
//	cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)
//
// in cron, day-of-month takes , - * ? / L W; month 1-12 or JAN-DEC;
// day-of-week 1-7 (1 is Sunday) or SUN-SAT with , - * ? L #; year
// 1970-2199; one of day-of-month and day-of-week must be ?. A rate counts
// from the last rotation; a cron expression names wall-clock times in the
// schedule's time zone (daylight saving included: a time that does not
// exist that day is skipped, as Scheduler does).
//
// The contract of Decide (policy.go): a secret is due when its schedule has
// an occurrence after its last rotation that is not in the future, or its
// current version is older than its maximum age; a due secret starts only
// inside its window and while not paused, and otherwise waits, with the
// reason said; leaks ignore all of it (the caller's rule, not this
// package's). Invalid tags are errors naming the tag and the accepted
// form, never a silent default.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Expr is a parsed schedule expression.
type Expr interface {
	// Next returns the first time the expression names strictly after t
	// (for a rate, t plus the rate); the zero time when there is none
	// before the year 2200.
	Next(t time.Time) time.Time
	String() string
}

// Parse reads a rate(...) or cron(...) expression; a cron expression's
// times are in loc.
func Parse(s string, loc *time.Location) (Expr, error) {
	switch {
	case strings.HasPrefix(s, "rate(") && strings.HasSuffix(s, ")"):
		return parseRate(s)
	case strings.HasPrefix(s, "cron(") && strings.HasSuffix(s, ")"):
		return parseCron(s, loc)
	}
	return nil, fmt.Errorf("%q is neither rate(<n> <unit>) nor cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)", s)
}

type rate struct {
	every time.Duration
	text  string
}

func (r rate) Next(t time.Time) time.Time { return t.Add(r.every) }
func (r rate) String() string             { return r.text }

func parseRate(s string) (Expr, error) {
	f := strings.Fields(s[len("rate(") : len(s)-1])
	if len(f) != 2 {
		return nil, fmt.Errorf("%q: a rate is rate(<n> <unit>), like rate(7 days)", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%q: %q is not a whole number of at least 1", s, f[0])
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := strings.TrimSuffix(f[1], "s")
	d, ok := units[unit]
	if !ok {
		return nil, fmt.Errorf("%q: unit %q is not minute(s), hour(s) or day(s)", s, f[1])
	}
	// EventBridge Scheduler's own rule: rate(1 day), rate(2 days).
	if (n == 1) != (f[1] == unit) {
		want := unit
		if n != 1 {
			want += "s"
		}
		return nil, fmt.Errorf("%q: write rate(%d %s)", s, n, want)
	}
	return rate{every: time.Duration(n) * d, text: s}, nil
}

// cron is a parsed cron expression: one bit per allowed value of each
// field, and day-of-month and day-of-week's special forms.
type cron struct {
	text                 string
	loc                  *time.Location
	minutes, hours       uint64
	months               uint64 // bits 1..12
	years                [4]uint64
	anyDOM, anyDOW       bool // "?" (or "*")
	dom                  uint64
	lastDOM              bool   // L
	nearestWeekday       int    // nW: the weekday nearest day n; 0 when not used
	lastWeekdayOfMonth   bool   // LW
	dow                  uint64 // bits 1..7, 1 = Sunday
	lastDOW              int    // nL: the last day n of the month; 0 when not used
	nthDOW, nthDOWNumber int    // d#n: the n-th day d of the month; 0 when not used
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func parseCron(s string, loc *time.Location) (Expr, error) {
	f := strings.Fields(s[len("cron(") : len(s)-1])
	if len(f) != 6 {
		return nil, fmt.Errorf("%q: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not %d", s, len(f))
	}
	c := &cron{text: s, loc: loc}
	bad := func(field string, err error) error { return fmt.Errorf("%q: %s: %v", s, field, err) }
	var err error
	if c.minutes, err = bits(f[0], 0, 59, nil); err != nil {
		return nil, bad("minutes", err)
	}
	if c.hours, err = bits(f[1], 0, 23, nil); err != nil {
		return nil, bad("hours", err)
	}
	if c.months, err = bits(f[3], 1, 12, monthNames); err != nil {
		return nil, bad("month", err)
	}
	if err := c.parseYears(f[5]); err != nil {
		return nil, bad("year", err)
	}
	domQ, dowQ := f[2] == "?", f[4] == "?"
	if domQ == dowQ {
		return nil, fmt.Errorf("%q: one of day-of-month and day-of-week must be ? (and only one)", s)
	}
	if domQ {
		c.anyDOM = true
		if err := c.parseDOW(f[4]); err != nil {
			return nil, bad("day-of-week", err)
		}
	} else {
		c.anyDOW = true
		if err := c.parseDOM(f[2]); err != nil {
			return nil, bad("day-of-month", err)
		}
	}
	return c, nil
}

func (c *cron) String() string { return c.text }

func (c *cron) parseYears(field string) error {
	for _, part := range strings.Split(field, ",") {
		lo, hi, step, err := span(part, 1970, 2199, nil)
		if err != nil {
			return err
		}
		for y := lo; y <= hi; y += step {
			c.years[(y-1970)/64] |= 1 << ((y - 1970) % 64)
		}
	}
	return nil
}

func (c *cron) hasYear(y int) bool {
	if y < 1970 || y > 2199 {
		return false
	}
	return c.years[(y-1970)/64]&(1<<((y-1970)%64)) != 0
}

func (c *cron) parseDOM(field string) error {
	switch {
	case field == "*":
		c.dom = ^uint64(0)
		return nil
	case field == "L":
		c.lastDOM = true
		return nil
	case field == "LW":
		c.lastWeekdayOfMonth = true
		return nil
	case strings.HasSuffix(field, "W"):
		n, err := strconv.Atoi(strings.TrimSuffix(field, "W"))
		if err != nil || n < 1 || n > 31 {
			return fmt.Errorf("%q: W follows one day of the month, 1-31", field)
		}
		c.nearestWeekday = n
		return nil
	}
	var err error
	c.dom, err = bits(field, 1, 31, nil)
	return err
}

func (c *cron) parseDOW(field string) error {
	switch {
	case field == "*":
		c.dow = ^uint64(0)
		return nil
	case field == "L":
		c.lastDOW = 7 // L alone: the last day of the week, Saturday
		return nil
	case strings.HasSuffix(field, "L"):
		d, err := dayNumber(strings.TrimSuffix(field, "L"))
		if err != nil {
			return err
		}
		c.lastDOW = d
		return nil
	case strings.Contains(field, "#"):
		dn, nth, _ := strings.Cut(field, "#")
		d, err := dayNumber(dn)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(nth)
		if err != nil || n < 1 || n > 5 {
			return fmt.Errorf("%q: # is followed by 1-5 (the n-th such day of the month)", field)
		}
		c.nthDOW, c.nthDOWNumber = d, n
		return nil
	}
	var err error
	c.dow, err = bits(field, 1, 7, dayNames)
	return err
}

func dayNumber(s string) (int, error) {
	if d, ok := dayNames[strings.ToUpper(s)]; ok {
		return d, nil
	}
	d, err := strconv.Atoi(s)
	if err != nil || d < 1 || d > 7 {
		return 0, fmt.Errorf("%q is not a day of the week (1-7, 1 is Sunday, or SUN-SAT)", s)
	}
	return d, nil
}

// bits reads a list of values, ranges and steps ("1,5-7,*/15") into a bit
// set.
func bits(field string, min, max int, names map[string]int) (uint64, error) {
	var b uint64
	for _, part := range strings.Split(field, ",") {
		lo, hi, step, err := span(part, min, max, names)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			b |= 1 << v
		}
	}
	return b, nil
}

// span reads one element of a list: *, v, a-b, with an optional /step.
func span(part string, min, max int, names map[string]int) (lo, hi, step int, err error) {
	base, stepText, hasStep := strings.Cut(part, "/")
	step = 1
	if hasStep {
		if step, err = strconv.Atoi(stepText); err != nil || step < 1 {
			return 0, 0, 0, fmt.Errorf("%q: the step after / is a whole number of at least 1", part)
		}
	}
	value := func(s string) (int, error) {
		if v, ok := names[strings.ToUpper(s)]; ok {
			return v, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < min || v > max {
			return 0, fmt.Errorf("%q is not a value from %d to %d", s, min, max)
		}
		return v, nil
	}
	switch {
	case base == "*":
		return min, max, step, nil
	case strings.Contains(base, "-"):
		a, b, _ := strings.Cut(base, "-")
		if lo, err = value(a); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = value(b); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, fmt.Errorf("%q: the range runs backwards", part)
		}
		return lo, hi, step, nil
	}
	if lo, err = value(base); err != nil {
		return 0, 0, 0, err
	}
	if hasStep {
		return lo, max, step, nil
	}
	return lo, lo, 1, nil
}

// dayMatches reports whether the date y-m-d (in c's zone) is one of c's days.
func (c *cron) dayMatches(y int, m time.Month, d int) bool {
	if !c.hasYear(y) || c.months&(1<<uint(m)) == 0 {
		return false
	}
	last := time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
	weekday := int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()) + 1 // 1 = Sunday
	if c.anyDOW {
		switch {
		case c.lastDOM:
			return d == last
		case c.lastWeekdayOfMonth:
			return d == lastWeekday(y, m, last)
		case c.nearestWeekday > 0:
			return d == nearestWeekday(y, m, c.nearestWeekday, last)
		}
		return c.dom&(1<<uint(d)) != 0
	}
	switch {
	case c.lastDOW > 0:
		return weekday == c.lastDOW && d+7 > last
	case c.nthDOW > 0:
		return weekday == c.nthDOW && (d-1)/7+1 == c.nthDOWNumber
	}
	return c.dow&(1<<uint(weekday)) != 0
}

func lastWeekday(y int, m time.Month, last int) int {
	for d := last; ; d-- {
		switch time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday() {
		case time.Saturday, time.Sunday:
		default:
			return d
		}
	}
}

// nearestWeekday is the weekday nearest day n of the month, never in
// another month (Quartz's and Scheduler's W).
func nearestWeekday(y int, m time.Month, n, last int) int {
	if n > last {
		n = last
	}
	switch time.Date(y, m, n, 12, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3 // Monday the 3rd
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

// Next implements Expr: day by day in the expression's zone, then the
// first hour and minute of the day after t.
func (c *cron) Next(t time.Time) time.Time {
	t = t.In(c.loc)
	start := t.Truncate(time.Minute).Add(time.Minute)
	y, m, d := start.Date()
	for day := 0; day < 366*230; day++ {
		date := time.Date(y, m, d+day, 0, 0, 0, 0, c.loc)
		yy, mm, dd := date.Date()
		if yy > 2199 {
			break
		}
		if !c.dayMatches(yy, mm, dd) {
			continue
		}
		for h := 0; h < 24; h++ {
			if c.hours&(1<<uint(h)) == 0 {
				continue
			}
			for min := 0; min < 60; min++ {
				if c.minutes&(1<<uint(min)) == 0 {
					continue
				}
				at := time.Date(yy, mm, dd, h, min, 0, 0, c.loc)
				// A wall-clock time that does not exist that day (a
				// daylight-saving gap) comes back normalised to another
				// hour: skipped.
				if at.Hour() != h || at.Minute() != min || at.Day() != dd {
					continue
				}
				if !at.Before(start) {
					return at
				}
			}
		}
	}
	return time.Time{}
}

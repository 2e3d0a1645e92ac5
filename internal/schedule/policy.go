package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Tags read here.
const (
	TagSchedule     = "rotor:schedule"
	TagTimezone     = "rotor:timezone"
	TagWindow       = "rotor:window"
	TagPaused       = "rotor:paused"
	TagPausedReason = "rotor:paused-reason"
)

// Tags lists them, for the callers that refuse unknown rotor: tags.
var Tags = []string{TagSchedule, TagTimezone, TagWindow, TagPaused, TagPausedReason}

// Window is a maintenance window: it opens at each time Start names and
// lasts Duration.
type Window struct {
	Start    Expr
	Duration time.Duration
}

// Policy is a secret's timing policy.
type Policy struct {
	// Schedule is rotor:schedule; nil when the secret has none (then only
	// the maximum age makes it due).
	Schedule Expr
	// Location is rotor:timezone (default UTC): where the schedule's and
	// the window's wall-clock times are.
	Location *time.Location
	// Window is rotor:window; nil when rotations may start at any time.
	Window *Window
	// Paused is rotor:paused: true, or until PausedUntil when it is not
	// zero; PausedReason is rotor:paused-reason.
	Paused       bool
	PausedUntil  time.Time
	PausedReason string
	// MaxAge is rotor:max-age, as package rotation read it.
	MaxAge time.Duration
}

// Limits of the window's duration.
const (
	MinWindow = time.Minute
	MaxWindow = 31 * 24 * time.Hour
)

// FromTags reads the timing tags; maxAge is the secret's maximum age. Every
// invalid tag is named in the error, and the policy is then unusable.
func FromTags(tags map[string]string, maxAge time.Duration) (Policy, error) {
	p := Policy{Location: time.UTC, MaxAge: maxAge}
	var errs []error
	if tz, ok := tags[TagTimezone]; ok {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "" || tz == "Local" {
			errs = append(errs, fmt.Errorf("tag %s is %q: not an IANA time zone name like Europe/Berlin or UTC", TagTimezone, tz))
		} else {
			p.Location = loc
		}
	}
	if s, ok := tags[TagSchedule]; ok {
		e, err := Parse(s, p.Location)
		if err != nil {
			errs = append(errs, fmt.Errorf("tag %s: %v", TagSchedule, err))
		}
		p.Schedule = e
	}
	if s, ok := tags[TagWindow]; ok {
		w, err := parseWindow(s, p.Location)
		if err != nil {
			errs = append(errs, fmt.Errorf("tag %s: %v", TagWindow, err))
		}
		p.Window = w
	}
	if s, ok := tags[TagPaused]; ok {
		switch {
		case s == "true":
			p.Paused = true
		case s == "false":
		default:
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				errs = append(errs, fmt.Errorf("tag %s is %q: want true, false or an RFC 3339 time until which rotations wait, like 2026-12-24T00:00:00Z", TagPaused, s))
			}
			p.Paused, p.PausedUntil = err == nil, t
		}
	}
	if s, ok := tags[TagPausedReason]; ok {
		if _, paused := tags[TagPaused]; !paused {
			errs = append(errs, fmt.Errorf("tag %s is set without %s", TagPausedReason, TagPaused))
		}
		p.PausedReason = s
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// parseWindow reads "<cron expression> <duration>".
func parseWindow(s string, loc *time.Location) (*Window, error) {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 || strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("%q: a window is a start expression and a duration, like \"cron(0 2 ? * SAT *) 4h\"", s)
	}
	expr, dur := strings.TrimSpace(s[:i]), s[i+1:]
	if !strings.HasPrefix(expr, "cron(") {
		return nil, fmt.Errorf("%q: a window opens at the times a cron(...) expression names", s)
	}
	e, err := Parse(expr, loc)
	if err != nil {
		return nil, err
	}
	d, err := parseDuration(dur)
	if err != nil || d < MinWindow || d > MaxWindow {
		return nil, fmt.Errorf("%q: the duration %q is not a Go duration or whole days (4h, 90m, 2d) from %s to %s", s, dur, MinWindow, "31d")
	}
	return &Window{Start: e, Duration: d}, nil
}

// parseDuration reads a Go duration or whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not whole days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// OverdueSlack is how long past its maximum age a secret may be before it
// counts as overdue: the sweep (every 15 minutes by default) starts a
// secret as it becomes due, so one merely due at this sweep is not yet a
// compliance failure, and an alarm on the count fires only for secrets
// that stay past it.
const OverdueSlack = time.Hour

// Decision is what Decide found.
type Decision struct {
	// Due: the sweep starts a rotation now.
	Due bool
	// Why says what made it due, or would: "max-age 60d" or the schedule.
	Why string
	// Held says why a secret that is due waits (paused, outside its
	// window); "" when it does not.
	Held string
	// NextDue is when it is next due and may start (now when Due); zero
	// while it is paused with no end.
	NextDue time.Time
	// Overdue: its current version is older than its maximum age by more
	// than OverdueSlack, whatever holds it.
	Overdue bool
}

// Decide says whether a secret whose current version was made at last
// (zero: it has none) is due at now. A rotation made inside a window
// covers the schedule's times until that window closes.
func (p Policy) Decide(last, now time.Time) Decision {
	var dueAt time.Time
	var d Decision
	switch {
	case last.IsZero():
		dueAt, d.Why, d.Overdue = now, "it has no current value", true
	default:
		dueAt, d.Why = last.Add(p.MaxAge), "max-age "+formatDuration(p.MaxAge)
		d.Overdue = !now.Before(dueAt.Add(OverdueSlack))
		if p.Schedule != nil {
			// A rotation inside a window covers the schedule's times in
			// that window: a rotation held until 02:15 by a window that
			// opened at 02:00 is not due again at 03:00.
			from := last
			if p.Window != nil && p.Window.open(last) {
				from = p.Window.Start.Next(last.Add(-p.Window.Duration)).Add(p.Window.Duration)
			}
			if at := p.Schedule.Next(from); !at.IsZero() && at.Before(dueAt) {
				dueAt, d.Why = at, "schedule "+p.Schedule.String()
			}
		}
	}
	due := !now.Before(dueAt)
	next := dueAt
	if next.Before(now) {
		next = now
	}
	d.Held = p.Holds(now)
	if p.paused(now) {
		switch {
		case p.PausedUntil.IsZero():
			next = time.Time{}
		case p.PausedUntil.After(next):
			next = p.PausedUntil
		}
	}
	if !next.IsZero() && p.Window != nil && !p.Window.open(next) {
		next = p.Window.Start.Next(next)
	}
	d.Due = due && d.Held == ""
	if !due {
		d.Held = "" // nothing to hold: it is not due
	}
	d.NextDue = next
	return d
}

// Holds says why a rotation may not start at now (paused, outside its
// window), or "" when it may. Leaks and people starting a rotation by hand
// override it; a sweep and a schedule do not.
func (p Policy) Holds(now time.Time) string {
	switch {
	case p.paused(now):
		held := "paused"
		if !p.PausedUntil.IsZero() {
			held += " until " + p.PausedUntil.UTC().Format(time.RFC3339)
		}
		if p.PausedReason != "" {
			held += ": " + p.PausedReason
		}
		return held
	case p.Window != nil && !p.Window.open(now):
		return "outside its window (" + p.Window.Start.String() + " for " + formatDuration(p.Window.Duration) + "); it opens " + p.Window.Start.Next(now).UTC().Format(time.RFC3339)
	}
	return ""
}

func (p Policy) paused(now time.Time) bool {
	return p.Paused && (p.PausedUntil.IsZero() || now.Before(p.PausedUntil))
}

// open reports whether the window is open at t: a start in (t-Duration, t].
func (w *Window) open(t time.Time) bool {
	s := w.Start.Next(t.Add(-w.Duration))
	return !s.IsZero() && !s.After(t)
}

// formatDuration writes a duration as the tags do: 60d, 4h, 90m.
func formatDuration(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

// Package redact is the last line of defence that keeps secret values out of
// errors and logs.
//
// rotor never formats a secret value on purpose; but providers echo what
// servers answer, and servers echo what they were sent. Every secret value a
// step reads or makes is added to the Set carried by the step's context, and
// the Lambda boundary and the logger pass every message through Scrub before
// it leaves the process.
package redact

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// minLen is the shortest value worth redacting: shorter strings match too much
// ordinary text, and no credential rotor makes is that short.
const minLen = 6

// Set is a set of secret strings. The zero value is ready; it is safe for
// concurrent use.
type Set struct {
	mu     sync.RWMutex
	values map[string]struct{}
}

// secretKey matches JSON field names whose string values are treated as
// secret on their own (besides the whole document).
var secretKey = regexp.MustCompile(`(?i)(pass|secret|token|key|credential|private)`)

// Add records v, and, when v is a JSON object, every string field whose name
// looks secret (password, apiKey, token...), since those are echoed alone.
func (s *Set) Add(v string) {
	if s == nil || len(v) < minLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	s.values[v] = struct{}{}
	var doc map[string]any
	if json.Unmarshal([]byte(v), &doc) == nil {
		addFields(s.values, doc)
	}
}

func addFields(dst map[string]struct{}, doc map[string]any) {
	for k, v := range doc {
		switch x := v.(type) {
		case string:
			if secretKey.MatchString(k) && len(x) >= minLen {
				dst[x] = struct{}{}
			}
		case map[string]any:
			addFields(dst, x)
		}
	}
}

// Scrub replaces every recorded value in msg with Mask, longest first so that
// a value containing another is masked whole.
func (s *Set) Scrub(msg string) string {
	if s == nil {
		return msg
	}
	s.mu.RLock()
	vals := make([]string, 0, len(s.values))
	for v := range s.values {
		vals = append(vals, v)
	}
	s.mu.RUnlock()
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		if strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, Mask)
		}
		// JSON-escaped forms appear when a message embeds a JSON document.
		if q, err := json.Marshal(v); err == nil {
			if e := string(q[1 : len(q)-1]); e != v && strings.Contains(msg, e) {
				msg = strings.ReplaceAll(msg, e, Mask)
			}
		}
	}
	return msg
}

type ctxKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Set) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the Set in ctx, or nil (whose methods do nothing).
func FromContext(ctx context.Context) *Set {
	s, _ := ctx.Value(ctxKey{}).(*Set)
	return s
}

// Add records v in the Set carried by ctx, if any.
func Add(ctx context.Context, v string) { FromContext(ctx).Add(v) }

// Handler wraps a slog.Handler so that the message and every string attribute
// of a record are scrubbed with the Set carried by the context passed to the
// logging call (use the ...Context logging methods).
func Handler(next slog.Handler) slog.Handler { return &handler{next: next} }

type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	s := FromContext(ctx)
	if s == nil {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, s.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(s, a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func scrubAttr(s *Set, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		clean := make([]any, len(attrs))
		for i, x := range attrs {
			clean[i] = scrubAttr(s, x)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindString:
		return slog.String(a.Key, s.Scrub(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, s.Scrub(err.Error()))
		}
		return slog.String(a.Key, s.Scrub(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{next: h.next.WithGroup(name)} }

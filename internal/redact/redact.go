// Package redact is the last line of defence that keeps secret values out of
// errors and logs.
//
// rotor never formats a secret value on purpose; but providers echo what
// servers answer, servers echo what they were sent, and a value travels
// encoded (in a URL, a JSON body, a header). Every secret value a step reads
// or makes is added to the Set carried by the step's context, and the Lambda
// boundary and the logger pass every message through Scrub before it leaves
// the process.
//
// Contract:
//
//   - Add(v) records v. When v is a JSON object or array it also records every
//     string or number leaf held under a field whose name looks secret
//     (password, apiKey, token, credential, private... but not names ending
//     in id, name, field, path, url, arn or type, which identify rather than
//     authenticate), in objects and arrays nested at any depth; a leaf of an
//     array counts as held under the field holding the array.
//   - Each recorded value is matched in these forms, computed once by Add:
//     raw; JSON-escaped (with and without HTML escaping); Go-quoted (%q);
//     url.PathEscape; url.QueryEscape, and the same with %20 for spaces;
//     base64, standard and URL alphabets, padded and raw; hex, lower and
//     upper case.
//   - A form at least MinLen bytes long is masked wherever it occurs, even
//     inside a longer word. A shorter form (a short value, or a short
//     encoding of one) is masked only where it stands as a whole token: the
//     characters next to it, if any, are neither letters, digits nor '_'. So
//     a 4-byte password "ab/c" is masked in `refused "ab/c"` and in
//     "/v1/ab%2Fc/keys", not in "grab/cat"; an ordinary word is mangled only
//     when a secret equals it.
//   - Occurrences of all forms are found in the original message, and
//     overlapping or adjacent ones become a single Mask, so masking one form
//     never hides or creates another: what remains of the message is exactly
//     the text that was part of no occurrence.
//
// Not covered (see SECURITY.md): a value inside a larger encoded whole
// (base64 or hex of a longer string that contains the value, such as a Basic
// authorization header; hashes; compressed or encrypted text); encodings not
// listed above (lower-case percent escapes, \u-escaped non-ASCII, HTML
// entities, double escaping); a value changed in case, truncated, or split
// across messages; a short form that touches a letter or digit.
package redact

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// MinLen is the length (in bytes) from which a form is masked wherever it
// occurs. Shorter forms match too much ordinary text to be masked inside
// words, so they are masked only as whole tokens.
const MinLen = 6

// Set is a set of secret strings. The zero value is ready; it is safe for
// concurrent use.
type Set struct {
	mu     sync.RWMutex
	values map[string]struct{} // every value recorded
	// forms are the encodings of every value, deduplicated. The slice is
	// replaced, never written in place, so Scrub reads it without holding
	// the lock.
	forms []form
}

// form is one encoding of a recorded value.
type form struct {
	s     string
	token bool // shorter than MinLen: masked only as a whole token
}

// secretName matches field names whose values are secret on their own
// (besides the whole document); idName excludes names that identify.
var (
	secretName = regexp.MustCompile(`(?i)(pass|secret|token|key|credential|private)`)
	idName     = regexp.MustCompile(`(?i)(id|ids|name|names|field|path|url|uri|arn|type)$`)
)

// Add records v and, when v is a JSON document, its secret-looking leaves
// (see the package comment). The empty string is ignored.
func (s *Set) Add(v string) {
	if s == nil || v == "" {
		return
	}
	s.mu.RLock()
	_, dup := s.values[v]
	s.mu.RUnlock()
	if dup {
		return
	}
	vals := []string{v}
	if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) == nil {
			vals = appendLeaves(vals, "", doc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	forms := slices.Clip(s.forms) // appending copies: readers keep their slice
	for _, x := range vals {
		if _, ok := s.values[x]; ok || x == "" {
			continue
		}
		s.values[x] = struct{}{}
		forms = appendForms(forms, x)
	}
	s.forms = forms
}

// appendLeaves appends the string and number leaves of doc held under a
// secret-looking name; name is the field holding doc ("" at the top).
func appendLeaves(dst []string, name string, doc any) []string {
	switch x := doc.(type) {
	case map[string]any:
		for k, v := range x {
			dst = appendLeaves(dst, k, v)
		}
	case []any:
		for _, v := range x {
			dst = appendLeaves(dst, name, v)
		}
	case string:
		if secretLooking(name) {
			dst = append(dst, x)
		}
	case json.Number:
		if secretLooking(name) {
			dst = append(dst, x.String())
		}
	}
	return dst
}

func secretLooking(name string) bool {
	return name != "" && secretName.MatchString(name) && !idName.MatchString(name)
}

// Encodings returns every encoding of v that a Set matches (the list in the
// package comment), each once, longest first. Tests use it to look for
// leaks.
func Encodings(v string) []string {
	out := encodings(v)
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

func encodings(v string) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(v)
	add(jsonEscape(v, true))
	add(jsonEscape(v, false))
	if q := strconv.Quote(v); len(q) >= 2 {
		add(q[1 : len(q)-1])
	}
	add(url.PathEscape(v))
	qe := url.QueryEscape(v)
	add(qe)
	add(strings.ReplaceAll(qe, "+", "%20"))
	b := []byte(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString(b))
	}
	h := hex.EncodeToString(b)
	add(h)
	add(strings.ToUpper(h))
	return out
}

// appendForms appends the encodings of v, leaving out those that contain
// another encoding of v matched anywhere: masking the shorter one masks the
// longer one's occurrences too (the padded base64 around the raw one, say).
func appendForms(dst []form, v string) []form {
	cands := encodings(v)
	for i, c := range cands {
		redundant := false
		for j, o := range cands {
			if j != i && len(o) >= MinLen && len(o) < len(c) && strings.Contains(c, o) {
				redundant = true
				break
			}
		}
		if !redundant {
			dst = append(dst, form{s: c, token: len(c) < MinLen})
		}
	}
	return dst
}

// jsonEscape returns v as it appears inside a JSON string.
func jsonEscape(v string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(v) // a string always encodes
	q := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(q[1 : len(q)-1])
}

// Scrub replaces every occurrence of a recorded value's forms in msg with
// Mask (see the package comment for the rules).
func (s *Set) Scrub(msg string) string {
	if s == nil || msg == "" {
		return msg
	}
	s.mu.RLock()
	forms := s.forms
	s.mu.RUnlock()
	var spans []span
	for _, f := range forms {
		for i := 0; i <= len(msg)-len(f.s); {
			j := strings.Index(msg[i:], f.s)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(f.s)
			if f.token && !wholeToken(msg, start, end) {
				i = start + 1
				continue
			}
			spans = append(spans, span{start, end})
			i = end
		}
	}
	if len(spans) == 0 {
		return msg
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var out strings.Builder
	out.Grow(len(msg))
	last := 0 // end of the text already written or masked
	for k := 0; k < len(spans); {
		start, end := spans[k].start, spans[k].end
		for k++; k < len(spans) && spans[k].start <= end; k++ {
			end = max(end, spans[k].end)
		}
		out.WriteString(msg[last:start])
		out.WriteString(Mask)
		last = end
	}
	out.WriteString(msg[last:])
	return out.String()
}

type span struct{ start, end int }

// wholeToken reports whether msg[start:end] has no word character on either
// side.
func wholeToken(msg string, start, end int) bool {
	if start > 0 {
		if r, _ := utf8.DecodeLastRuneInString(msg[:start]); isWord(r) {
			return false
		}
	}
	if end < len(msg) {
		if r, _ := utf8.DecodeRuneInString(msg[end:]); isWord(r) {
			return false
		}
	}
	return true
}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

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

// Handler wraps a slog.Handler so that the message and every attribute of a
// record are scrubbed with the Set carried by the context passed to the
// logging call (use the ...Context logging methods). Attributes given to
// Logger.With are not: they have no context.
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
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, s.Scrub(err.Error()))
		}
		return slog.String(a.Key, s.Scrub(v.String()))
	}
	// Numbers, booleans, times and durations keep their kind unless their
	// text is a secret (a numeric PIN, say).
	text := v.String()
	if clean := s.Scrub(text); clean != text || v.Kind() == slog.KindString {
		return slog.String(a.Key, clean)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{next: h.next.WithGroup(name)} }

package redact

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	s := &Set{}
	s.Add(`{"username":"svc","password":"p@ss-word-1","host":"db.internal"}`)
	s.Add("sk_live_abcdef")
	s.Add("short") // below minLen: ignored
	for _, tc := range []struct{ rule, in, want string }{
		{"a whole value", "got sk_live_abcdef back", "got [REDACTED] back"},
		{"a secret-looking field alone", "auth failed for p@ss-word-1", "auth failed for [REDACTED]"},
		{"a non-secret field stays", "cannot reach db.internal", "cannot reach db.internal"},
		{"the whole JSON document", `body {"username":"svc","password":"p@ss-word-1","host":"db.internal"}`, "body [REDACTED]"},
		{"a JSON-escaped form", `{"x":"{\"username\":\"svc\",\"password\":\"p@ss-word-1\",\"host\":\"db.internal\"}"}`, `{"x":"[REDACTED]"}`},
		{"short values are not masked", "a short answer", "a short answer"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := s.Scrub(tc.in); got != tc.want {
				t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	var nilSet *Set
	if nilSet.Scrub("x-secret-x") != "x-secret-x" {
		t.Error("a nil Set changed a message")
	}
}

func TestHandlerScrubsRecords(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	s := &Set{}
	ctx := NewContext(context.Background(), s)
	Add(ctx, "tok_0123456789")
	log.InfoContext(ctx, "minted tok_0123456789", "value", "tok_0123456789", "err", errors.New("echo tok_0123456789"),
		slog.Group("g", "inner", "tok_0123456789"), "n", 3)
	if strings.Contains(buf.String(), "tok_0123456789") {
		t.Fatalf("log line leaks the value: %s", buf.String())
	}
	if strings.Count(buf.String(), Mask) != 4 || !strings.Contains(buf.String(), `"n":3`) {
		t.Errorf("log line %s: want 4 masks and other attributes kept", buf.String())
	}
}

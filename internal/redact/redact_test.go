package redact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScrub(t *testing.T) {
	s := &Set{}
	s.Add(`{"username":"svc","password":"p@ss-word-1","host":"db.internal"}`)
	s.Add("sk_live_abcdef")
	s.Add("abcdef_tail_9")
	s.Add("k/9+") // a short value: masked as a whole token only
	s.Add("long/secret+value=1&2?3#4 é")
	for _, tc := range []struct{ rule, in, want string }{
		{"a whole value", "got sk_live_abcdef back", "got [REDACTED] back"},
		{"a long value inside a word", "xsk_live_abcdefx", "x[REDACTED]x"},
		{"a secret-looking field alone", "auth failed for p@ss-word-1", "auth failed for [REDACTED]"},
		{"a non-secret field stays", "cannot reach db.internal", "cannot reach db.internal"},
		{"the whole JSON document", `body {"username":"svc","password":"p@ss-word-1","host":"db.internal"}`, "body [REDACTED]"},
		{"a JSON-escaped form", `{"x":"{\"username\":\"svc\",\"password\":\"p@ss-word-1\",\"host\":\"db.internal\"}"}`, `{"x":"[REDACTED]"}`},
		{"a path-escaped form", "GET /v1/long%2Fsecret+value=1&2%3F3%234%20%C3%A9/keys", "GET /v1/[REDACTED]/keys"},
		{"a query-escaped form", "?k=long%2Fsecret%2Bvalue%3D1%262%3F3%234+%C3%A9&x=1", "?k=[REDACTED]&x=1"},
		{"a query-escaped form with %20", "?k=long%2Fsecret%2Bvalue%3D1%262%3F3%234%20%C3%A9", "?k=[REDACTED]"},
		{"std base64", "Basic bG9uZy9zZWNyZXQrdmFsdWU9MSYyPzMjNCDDqQ==", "Basic [REDACTED]=="},
		{"raw URL base64", "tok=bG9uZy9zZWNyZXQrdmFsdWU9MSYyPzMjNCDDqQ.", "tok=[REDACTED]."},
		{"lower hex", "6c6f6e672f7365637265742b76616c75653d3126323f33233420c3a9", "[REDACTED]"},
		{"upper hex", "x=6C6F6E672F7365637265742B76616C75653D3126323F33233420C3A9;", "x=[REDACTED];"},
		{"a short value as a token", `refused "k/9+" at /v1/k%2F9+/keys?k=k%2F9%2B`, `refused "[REDACTED]" at /v1/[REDACTED]/keys?k=[REDACTED]`},
		{"a short value inside a word stays", "awk/9+x", "awk/9+x"},
		{"adjacent occurrences become one mask", "sk_live_abcdefsk_live_abcdef", "[REDACTED]"},
		{"overlapping values become one mask", "sk_live_abcdef_tail_9", "[REDACTED]"},
		{"a partial value stays", "sk_live_abcde", "sk_live_abcde"},
		{"nothing to mask", "an ordinary message", "an ordinary message"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, s.Scrub(tc.in)); diff != "" {
				t.Errorf("Scrub(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	var nilSet *Set
	if nilSet.Scrub("x-secret-x") != "x-secret-x" {
		t.Error("a nil Set changed a message")
	}
}

// TestAddWalksJSON: leaves under secret-looking names are recorded from
// objects and arrays at any depth; identifying names are not.
func TestAddWalksJSON(t *testing.T) {
	s := &Set{}
	s.Add(`{"users":[{"name":"ann","password":"pw-1"},{"password":"pw-2"}],
		"apiKeys":["k1","k2",{"deep":{"token":123456}}],
		"nested":{"list":[[{"privateKey":"pk-xyz"}]]},
		"keyId":"key_9","secretName":"prod/api","host":"db.internal","port":5432}`)
	for _, tc := range []struct{ rule, in, want string }{
		{"an object in an array", "login pw-1 refused, pw-2 too", "login [REDACTED] refused, [REDACTED] too"},
		{"strings of an array under a secret name", "keys k1,k2", "keys [REDACTED],[REDACTED]"},
		{"a number under a secret name", "token 123456 expired", "token [REDACTED] expired"},
		{"arrays of arrays of objects", "key pk-xyz", "key [REDACTED]"},
		{"an id stays", "revoke key_9", "revoke key_9"},
		{"a name stays", "secret prod/api", "secret prod/api"},
		{"a leaf under a plain name stays", "user ann at db.internal:5432", "user ann at db.internal:5432"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, s.Scrub(tc.in)); diff != "" {
				t.Errorf("Scrub(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestShortValues: values shorter than MinLen are masked where they stand
// as a whole token, and nowhere else.
func TestShortValues(t *testing.T) {
	for _, tc := range []struct{ value, in, want string }{
		{"ab1", "pin ab1.", "pin [REDACTED]."},
		{"ab1", "ab1", "[REDACTED]"},
		{"ab1", "tab1e ab12 _ab1", "tab1e ab12 _ab1"},
		{"é", "x é y", "x [REDACTED] y"},
		{"é", "café", "café"},
		{"/", "a / b", "a [REDACTED] b"},
		{"/", "GET /v1/keys", "GET /v1/keys"},
		{"/", "%2F and L w== and 2f", "[REDACTED] and L w== and [REDACTED]"}, // path escape and hex
		{"a", "a cat", "[REDACTED] cat"},
		{`"`, `say \" now`, `say [REDACTED] now`}, // the JSON-escaped form
	} {
		t.Run(tc.value+" in "+tc.in, func(t *testing.T) {
			s := &Set{}
			s.Add(tc.value)
			if diff := cmp.Diff(tc.want, s.Scrub(tc.in)); diff != "" {
				t.Errorf("Scrub(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestEncodings(t *testing.T) {
	got := Encodings("a/b+c d<é")
	want := []string{
		"612f622b6320643cc3a9", "612F622B6320643CC3A9", // hex
		`a/b+c d\u003cé`,                     // JSON with HTML escaping
		"a%2Fb%2Bc%20d%3C%C3%A9",             // query escape with %20
		"a%2Fb+c%20d%3C%C3%A9",               // path escape
		"a%2Fb%2Bc+d%3C%C3%A9",               // query escape
		"YS9iK2MgZDzDqQ==", "YS9iK2MgZDzDqQ", // std base64, padded and raw
		"YS9iK2MgZDzDqQ==", "YS9iK2MgZDzDqQ", // URL base64: the same here
		"a/b+c d<é", // raw, JSON without HTML escaping, Go-quoted
	}
	if diff := cmp.Diff(dedupe(want), sorted(got), sortByLen); diff != "" {
		t.Errorf("Encodings (-want +got):\n%s", diff)
	}
	if e := Encodings(`"\` + "\n"); !contains(e, `\"\\\n`) || !contains(e, "%22%5C%0A") || !contains(e, "225c0a") {
		t.Errorf("Encodings of quote, backslash, newline: %q", e)
	}
}

var sortByLen = cmp.Transformer("sort", sorted)

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestHandlerScrubsRecords(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	s := &Set{}
	ctx := NewContext(context.Background(), s)
	Add(ctx, "tok_0123456789")
	Add(ctx, "271828")
	log.InfoContext(ctx, "minted tok_0123456789", "value", "tok_0123456789", "err", errors.New("echo tok_0123456789"),
		slog.Group("g", "inner", "tok_0123456789"), "pin", 271828, "n", 3, "any", fmt.Stringer(stringer("b64 dG9rXzAxMjM0NTY3ODk=")))
	if strings.Contains(buf.String(), "tok_0123456789") || strings.Contains(buf.String(), "271828") || strings.Contains(buf.String(), "dG9rXzAxMjM0NTY3ODk") {
		t.Fatalf("log line leaks the value: %s", buf.String())
	}
	if strings.Count(buf.String(), Mask) != 6 || !strings.Contains(buf.String(), `"n":3`) {
		t.Errorf("log line %s: want 6 masks and other attributes kept", buf.String())
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestConcurrentAddScrub runs Add and Scrub together (meaningful under -race).
func TestConcurrentAddScrub(t *testing.T) {
	s := &Set{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			s.Add(fmt.Sprintf("value-%04d", i))
		}
	}()
	for i := 0; i < 200; i++ {
		_ = s.Scrub("value-0001 and value-0199")
	}
	<-done
	if got := s.Scrub("value-0001 and value-0199"); got != Mask+" and "+Mask {
		t.Errorf("after all adds: %q", got)
	}
}

// BenchmarkScrub: a log-line-sized message against a Set of 20 values of
// the sizes rotor records (keys, passwords, a master document).
func BenchmarkScrub(b *testing.B) {
	s := &Set{}
	for i := range 19 {
		s.Add(fmt.Sprintf("sk_live_%032x/+=%d", i*7919, i))
	}
	s.Add(`{"masterKey":"mk_live_0123456789abcdef","baseUrl":"https://api.example.com","headers":{"Authorization":"Bearer {{.MasterKey}}"}}`)
	for _, bc := range []struct{ name, msg string }{
		{"clean 200B", strings.Repeat("provider httpapi: create: HTTP 503 ", 6)},
		{"clean 4KiB", strings.Repeat("a log line with nothing secret in it, ", 110)},
		{"one leak 200B", strings.Repeat("provider httpapi: create: ", 4) + "sk_live_" + fmt.Sprintf("%032x", 7919*3) + "%2F%2B%3D3 HTTP 401"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.msg)))
			for b.Loop() {
				_ = s.Scrub(bc.msg)
			}
		})
	}
}

package intrinsic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixedUUID is what the deterministic test Env returns for States.UUID; it is
// the value AWS's documentation shows.
const fixedUUID = "ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"

// mustJSON decodes a JSON text into encoding/json's generic values; "" is
// null.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

// resolve is a small JSONPath evaluator for the tests: a root followed by
// .name, [index] and ['name'] segments.
func resolve(root any, path string) (any, error) {
	cur, rest := root, path
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			rest = rest[end:]
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("cannot select %q from a non-object", name)
			}
			v, ok := m[name]
			if !ok {
				return nil, fmt.Errorf("field %q not found", name)
			}
			cur = v
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, errors.New("unterminated [")
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			if strings.HasPrefix(inner, "'") {
				m, ok := cur.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("cannot select %s from a non-object", inner)
				}
				v, ok := m[strings.Trim(inner, "'")]
				if !ok {
					return nil, fmt.Errorf("field %s not found", inner)
				}
				cur = v
				continue
			}
			i, err := strconv.Atoi(inner)
			if err != nil {
				return nil, fmt.Errorf("unsupported selector [%s]", inner)
			}
			a, ok := cur.([]any)
			if !ok || i < 0 || i >= len(a) {
				return nil, fmt.Errorf("index %d not found", i)
			}
			cur = a[i]
		default:
			return nil, fmt.Errorf("unsupported path syntax at %q", rest)
		}
	}
	return cur, nil
}

// testEnv is a deterministic Env: paths resolve against input ("$") and ctx
// ("$$"), Random always returns random, UUID returns fixedUUID.
func testEnv(input, ctx any, random float64) Env {
	return Env{
		Path: func(p string) (any, error) {
			switch {
			case strings.HasPrefix(p, "$$"):
				return resolve(ctx, p[2:])
			case strings.HasPrefix(p, "$"):
				return resolve(input, p[1:])
			}
			return nil, fmt.Errorf("not a path: %q", p)
		},
		Random: func() float64 { return random },
		UUID:   func() string { return fixedUUID },
	}
}

// evalCase is one expression evaluated against an input. Name it after the
// documented rule or example it checks.
type evalCase struct {
	name   string
	expr   string
	input  string  // JSON of the state input ("$"); "" is null
	ctx    string  // JSON of the context object ("$$"); "" is null
	random float64 // what Env.Random returns
	want   string  // JSON of the expected result (ignored when err is set)
	err    string  // expected failure: a substring of Error.Message
	fn     string  // expected Error.Function when err is set; "" means the outer call
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			got, err := c.Eval(testEnv(mustJSON(t, tc.input), mustJSON(t, tc.ctx), tc.random))
			if tc.err != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("Eval(%q) = %#v, %v; want an *Error containing %q", tc.expr, got, err, tc.err)
				}
				if !strings.Contains(e.Message, tc.err) {
					t.Errorf("Eval(%q) error message %q; want it to contain %q", tc.expr, e.Message, tc.err)
				}
				wantFn := tc.fn
				if wantFn == "" {
					wantFn = c.name
				}
				if e.Function != wantFn {
					t.Errorf("Eval(%q) error names %q; want %q", tc.expr, e.Function, wantFn)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tc.expr, err)
			}
			if diff := cmp.Diff(mustJSON(t, tc.want), got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tc.expr, diff)
			}
		})
	}
}

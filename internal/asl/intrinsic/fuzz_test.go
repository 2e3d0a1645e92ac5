package intrinsic

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzInput is the state input the fuzz Env resolves "$" paths against.
const fuzzInput = `{
	"s": "a,b;c", "e": "", "n": 3, "f": -1.5, "big": 1e300, "t": true, "z": null,
	"arr": [1, "1", [1], {"a": 1}, null, 1], "nums": [3, 1, 2], "empty": [],
	"o": {"a": {"b": [1, 2]}, "c": "x"}, "p": {"c": 2},
	"json": "{\"k\": [1, 2, {\"m\": null}]}", "b64": "RGF0YSB0byBlbmNvZGU=", "tmpl": "{}+{}"
}`

// FuzzParseEval parses arbitrary strings and evaluates what parses with a
// deterministic stub Env. It checks that nothing panics and that the
// contract holds: a parse error comes with no Call, an evaluation error is an
// *Error, a result is a JSON value, evaluation is deterministic, and every
// path Paths reports starts with "$".
func FuzzParseEval(f *testing.F) {
	for _, seed := range []string{
		"States.Format('Hello, {}', $.s)",
		"States.Format($.tmpl, 1, $.o)",
		`States.Format('\'\{\}\\ {}', 'x')`,
		"States.StringToJson($.json)",
		"States.JsonToString($.o)",
		"States.Array('Foo', 2020, $.o, null, true, -1.5e3)",
		"States.ArrayPartition($.arr, 2)",
		"States.ArrayContains($.arr, $.o.a)",
		"States.ArrayRange(1, 9, 2)",
		"States.ArrayGetItem($.nums, 1)",
		"States.ArrayLength($.arr)",
		"States.ArrayUnique($.arr)",
		"States.Base64Encode($.s)",
		"States.Base64Decode($.b64)",
		"States.Hash($.s, 'SHA-256')",
		"States.JsonMerge($.o, $.p, false)",
		"States.MathRandom(1, 999)",
		"States.MathRandom(1, 999, 7)",
		"States.MathAdd($.n, -1)",
		"States.StringSplit($.s, ',;')",
		"States.UUID()",
		"States.Array($.o['a'].b[0], $$.Execution.Id, $.x[?(@.y == 'a,b)')])",
		"States.ArrayGetItem(States.StringSplit($.s, ','), States.MathAdd(States.ArrayLength(States.StringSplit($.s, ',')), -1))",
		"States.Format('{}', States.Array(States.Array(States.Array())))",
		"States.Format('x'",
		"States.Format('x\\",
		"States.Array(1,)",
		"States.Array($.a[0)",
		"States.ArrayRange(0, $.big, 1)",
	} {
		f.Add(seed)
	}
	input := mustJSON(f, fuzzInput)
	ctx := mustJSON(f, `{"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:sm:run"}}`)
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := Parse(expr)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse(%q) returned a Call with the error %v", expr, err)
			}
			return
		}
		for _, p := range c.Paths() {
			if !strings.HasPrefix(p, "$") {
				t.Fatalf("Parse(%q).Paths() includes %q", expr, p)
			}
		}
		env := testEnv(input, ctx, 0.25)
		got, err := c.Eval(env)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Eval(%q) error %T %v; want *Error", expr, err, err)
			}
			if e.Function == "" || e.Message == "" {
				t.Fatalf("Eval(%q) error %#v has an empty field", expr, e)
			}
			return
		}
		if !isJSONValue(got) {
			t.Fatalf("Eval(%q) = %#v, not a JSON value", expr, got)
		}
		if _, err := compactJSON(got); err != nil {
			t.Fatalf("Eval(%q) = %#v does not serialise: %v", expr, got, err)
		}
		again, err := c.Eval(env)
		if err != nil {
			t.Fatalf("Eval(%q) succeeded, then failed: %v", expr, err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("Eval(%q) is not deterministic (-first +second):\n%s", expr, diff)
		}
	})
}

// isJSONValue reports whether v is made only of encoding/json's generic
// values.
func isJSONValue(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return true
	case []any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

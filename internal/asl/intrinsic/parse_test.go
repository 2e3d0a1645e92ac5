package intrinsic

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		want bool
	}{
		{"a call starts with States.", "States.UUID()", true},
		{"the prefix alone looks like a call", "States.", true},
		{"a JSONPath is not a call", "$.a", false},
		{"leading whitespace is not trimmed", " States.UUID()", false},
		{"the prefix is case-sensitive", "states.UUID()", false},
		{"empty string", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsCall(tc.s); got != tc.want {
				t.Errorf("IsCall(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

// TestParseSyntax checks the argument syntax of AWS's page "Intrinsic
// functions for JSONPath states": what parses, and to which values.
func TestParseSyntax(t *testing.T) {
	runEvalCases(t, []evalCase{
		{name: "arguments separated by commas without whitespace", expr: "States.Array(1,2,3)", want: `[1, 2, 3]`},
		{name: "whitespace around arguments, tabs and newlines", expr: "States.Array( 1 ,\t2\n, 3 )", want: `[1, 2, 3]`},
		{name: "whitespace inside empty parentheses", expr: "States.Array(  )", want: `[]`},
		{name: "whitespace between name and parenthesis", expr: "States.Array (1)", want: `[1]`},
		{name: "trailing whitespace after the call", expr: "States.Array(1) \n", want: `[1]`},
		{name: "numbers: integer, negative, decimal, exponent, zero", expr: "States.Array(0, -7, 3.25, -0.5, 1e3, 2.5E-1, 1e+2)", want: `[0, -7, 3.25, -0.5, 1000, 0.25, 100]`},
		{name: "numbers: -0 is 0", expr: "States.JsonToString(States.Array(-0, -0.0))", want: `"[0,0]"`},
		{name: "literals true, false and null", expr: "States.Array(true,false,null)", want: `[true, false, null]`},
		{name: "empty string literal", expr: "States.Array('')", want: `[""]`},
		{name: "string literal with commas, parentheses, double quotes and $", expr: `States.Array('a, b) "c" $.d')`, want: `["a, b) \"c\" $.d"]`},
		{name: "string literal with escaped quote", expr: `States.Array('it\'s')`, want: `["it's"]`},
		{name: "string literal with escaped backslash before the closing quote", expr: `States.Array('a\\')`, want: `["a\\"]`},
		{name: "string literal with non-ASCII text", expr: "States.Array('héllo 世界 😀')", want: `["héllo 世界 😀"]`},
		{name: "input path", expr: "States.Array($.a.b)", input: `{"a": {"b": 1}}`, want: `[1]`},
		{name: "the whole input", expr: "States.Array($)", input: `{"a": 1}`, want: `[{"a": 1}]`},
		{name: "context path", expr: "States.Array($$.Execution.Id)", ctx: `{"Execution": {"Id": "x"}}`, want: `["x"]`},
		{name: "path with index", expr: "States.Array($.a[1])", input: `{"a": [1, 2]}`, want: `[2]`},
		{name: "path with quoted name containing a comma and a parenthesis", expr: "States.Array($.a['b, c)'], 1)", input: `{"a": {"b, c)": 7}}`, want: `[7, 1]`},
		{name: "path directly followed by the closing parenthesis", expr: "States.ArrayLength($.a)", input: `{"a": [1]}`, want: `1`},
		{name: "nested call as an argument", expr: "States.Array(States.Array(1), 2)", want: `[[1], 2]`},
		{name: "ten levels of nesting are allowed", expr: strings.Repeat("States.Array(", 10) + "1" + strings.Repeat(")", 10), want: `[[[[[[[[[[1]]]]]]]]]]`},
	})
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		expr string
		want []string
	}{
		{"no arguments", "States.UUID()", nil},
		{"literals only", "States.Array('$.a', 1, true, null)", nil},
		{"input and context paths in order", "States.Array($.a, $$.Execution.Id, $)", []string{"$.a", "$$.Execution.Id", "$"}},
		{"paths of nested calls, duplicates kept", "States.Format('{}{}', States.ArrayLength($.a), States.ArrayGetItem($.a, $.i))", []string{"$.a", "$.a", "$.i"}},
		{"brackets, quotes and filters stay in one path", "States.Array($.a['b c'], $.x[?(@.y == 'a,b)')].z, $.f.length())", []string{"$.a['b c']", "$.x[?(@.y == 'a,b)')].z", "$.f.length()"}},
		{"double-quoted names", `States.Array($["a,b"], $.c)`, []string{`$["a,b"]`, "$.c"}},
		{"variables are passed through", "States.Array($myVar.a)", []string{"$myVar.a"}},
		{"surrounding whitespace is not part of the path", "States.Array( $.a , $.b )", []string{"$.a", "$.b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, c.Paths()); diff != "" {
				t.Errorf("Paths() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseErrors checks that malformed expressions are rejected with the
// problem and the byte offset where it was found.
func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("States.Array(", 11) + "1" + strings.Repeat(")", 11)
	for _, tc := range []struct {
		name string
		expr string
		want string // substring of the error, offset included
	}{
		{"empty expression", "", "at offset 0: expected an intrinsic function call starting with \"States.\""},
		{"leading whitespace", " States.UUID()", "at offset 0: expected an intrinsic function call"},
		{"a JSONPath is not a call", "$.a", "at offset 0: expected an intrinsic function call"},
		{"missing function name", "States.()", "at offset 7: expected a function name after \"States.\""},
		{"unknown function name", "States.Foo()", "at offset 0: unknown intrinsic function States.Foo"},
		{"function names are case-sensitive", "States.format('x')", "unknown intrinsic function States.format"},
		{"unknown nested function name", "States.Array(States.Nope())", "at offset 13: unknown intrinsic function States.Nope"},
		{"missing parenthesis", "States.UUID", "at offset 11: expected '(' after States.UUID, found end of expression"},
		{"something else instead of a parenthesis", "States.UUID[]", "at offset 11: expected '(' after States.UUID, found '['"},
		{"unbalanced parentheses: never closed", "States.Format('x'", "at offset 13: unbalanced parentheses: the '(' of States.Format is never closed"},
		{"unbalanced parentheses: never closed after a comma", "States.Array(1,", "unbalanced parentheses: the '(' of States.Array is never closed"},
		{"unbalanced parentheses: nested call never closed", "States.Array(States.Array(1)", "at offset 12: unbalanced parentheses"},
		{"unbalanced parentheses: one too many", "States.Format('x'))", "at offset 18: unexpected ')' after the closing parenthesis of States.Format"},
		{"trailing characters", "States.UUID() x", "at offset 14: unexpected 'x' after the closing parenthesis of States.UUID"},
		{"trailing path", "States.UUID()$.a", "unexpected '$' after the closing parenthesis"},
		{"unterminated string", "States.Format('x)", "at offset 14: unterminated string literal"},
		{"unterminated string ending in an escaped quote", `States.Format('x\')`, "at offset 14: unterminated string literal"},
		{"open escape backslash at the end", `States.Format('x\`, "at offset 16: unterminated string literal (it ends in an open escape backslash)"},
		{"escape of a non-reserved character", `States.Format('a\nb')`, `at offset 16: invalid escape \n in a string literal: only \', \{, \} and \\ are allowed`},
		{"unicode escapes are not supported", `States.Format('\u0041')`, `invalid escape \u`},
		{"double-quoted strings are not literals", `States.Array("x")`, `at offset 13: unexpected '"'`},
		{"text after a string literal", "States.Array('a''b')", "at offset 16: unexpected '\\'' after a string literal"},
		{"missing argument after a comma", "States.Array(1,)", "at offset 15: missing argument in the arguments of States.Array"},
		{"missing argument before a comma", "States.Array(,1)", "at offset 13: missing argument"},
		{"missing comma", "States.Array(1 2)", "at offset 15: expected ',' or ')' in the arguments of States.Array, found '2'"},
		{"leading zeros", "States.Array(01)", "at offset 13: invalid number \"01\": leading zeros are not allowed"},
		{"decimal point without digits", "States.Array(1.)", "invalid number \"1.\": expected a digit after '.'"},
		{"leading decimal point", "States.Array(.5)", "at offset 13: unexpected '.'"},
		{"lone minus", "States.Array(-)", "invalid number: expected a digit after '-'"},
		{"plus sign", "States.Array(+1)", "unexpected '+'"},
		{"exponent without digits", "States.Array(1e)", "expected a digit in the exponent"},
		{"number followed by letters", "States.Array(12ab)", "at offset 15: unexpected 'a' after the number \"12\""},
		{"number out of range", "States.Array(1e999)", "number 1e999 is out of range"},
		{"capitalised literal", "States.Array(True)", "unexpected \"True\""},
		{"unknown bare word", "States.Array(nil)", "at offset 13: unexpected \"nil\""},
		{"literal followed by other characters", "States.Array(null.x)", "unexpected '.' after \"null\""},
		{"path with an unclosed bracket", "States.Array($.a[0)", "at offset 13: unbalanced brackets or parentheses in the path"},
		{"path with an unopened bracket", "States.Array($.a])", "at offset 16: unbalanced ']' in the path"},
		{"path with an unterminated quoted name", "States.Array($.a['b)", "at offset 17: unterminated quoted name in the path"},
		{"path with an unclosed parenthesis", "States.Array($.a.length()", "unbalanced parentheses"},
		{"path with a space inside", "States.Array($.a b)", "at offset 17: expected ',' or ')'"},
		{"nesting deeper than ten levels", deep, "at offset 130: intrinsic functions are nested more than 10 levels deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.expr)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded with %d arguments; want an error containing %q", tc.expr, len(c.args), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error:\n  %v\nwant it to contain:\n  %s", tc.expr, err, tc.want)
			}
			if c != nil {
				t.Errorf("Parse(%q) returned a Call with its error", tc.expr)
			}
		})
	}
}

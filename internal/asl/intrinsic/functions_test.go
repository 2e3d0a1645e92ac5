package intrinsic

import (
	"strings"
	"testing"
)

// TestFunctionRules checks each function's rules (documented ones and the
// decisions commented in functions.go), including its failures.
func TestFunctionRules(t *testing.T) {
	long := strings.Repeat("a", maxInputChars)
	emoji := strings.Repeat("\U0001F600", maxInputChars/2) // 2 UTF-16 units each
	limits := `{"ok": "` + long + `", "over": "` + long + `a", "emojiOK": "` + emoji + `", "emojiOver": "` + emoji + `a"}`

	runEvalCases(t, []evalCase{
		// States.Format
		{name: "Format: escaped braces in a literal template are literal", expr: `States.Format('\{\} {}', 1)`, want: `"{} 1"`},
		{name: "Format: an escaped brace next to an unescaped one is no placeholder", expr: `States.Format('\{}{\}')`, want: `"{}{}"`},
		{name: "Format: lone unescaped braces in a literal are literal", expr: `States.Format('{"a": {}}', 1)`, want: `"{\"a\": 1}"`},
		{name: "Format: every {} in a template from a path is a placeholder", expr: "States.Format($.t, 'x', 'y')", input: `{"t": "{}-{}"}`, want: `"x-y"`},
		{name: "Format: backslashes in a template from a path are plain text", expr: "States.Format($.t, 'x')", input: `{"t": "\\{}"}`, want: `"\\x"`},
		{name: "Format: template with no placeholders and no values", expr: "States.Format('plain')", want: `"plain"`},
		{name: "Format: empty template", expr: "States.Format('')", want: `""`},
		{name: "Format: booleans and null in JSON form", expr: "States.Format('{} {} {}', true, false, null)", want: `"true false null"`},
		{name: "Format: numbers in JSON form", expr: "States.Format('{} {} {} {} {}', 2020, -1.5, 1e21, 0.0000001, -0)", want: `"2020 -1.5 1e+21 1e-7 0"`},
		{name: "Format: arrays in Java toString form, strings raw", expr: "States.Format('{}', $.a)", input: `{"a": [1, "a b", [true, null], {}]}`, want: `"[1, a b, [true, null], {}]"`},
		{name: "Format: object keys sorted", expr: "States.Format('{}', $.o)", input: `{"o": {"b": 1, "a": "x"}}`, want: `"{a=x, b=1}"`},
		{name: "Format: a nested call as a value", expr: "States.Format('n={}', States.ArrayLength($.a))", input: `{"a": [1, 2]}`, want: `"n=2"`},
		{name: "Format: a nested call as the template", expr: "States.Format(States.ArrayGetItem($.t, 0), 1)", input: `{"t": ["<{}>"]}`, want: `"<1>"`},
		{name: "Format: a placeholder with no value fails", expr: "States.Format('{} {}', 1)", err: "the template has 2 {} placeholders but 1 value was given"},
		{name: "Format: a value with no placeholder fails", expr: "States.Format('x', 1)", err: "the template has 0 {} placeholders but 1 value was given"},
		{name: "Format: a template from a path must be a string", expr: "States.Format($.t)", input: `{"t": 5}`, err: "the first argument (the template) must be a string, got number"},
		{name: "Format: a literal template must be a string", expr: "States.Format(5)", err: "must be a string, got number"},
		{name: "Format: at least one argument", expr: "States.Format()", err: "expects at least 1 argument, got 0"},

		// States.StringToJson
		{name: "StringToJson: invalid JSON fails", expr: "States.StringToJson('{\"a\":')", err: "not valid JSON"},
		{name: "StringToJson: text after the value fails", expr: "States.StringToJson('{} x')", err: "unexpected text after the JSON value"},
		{name: "StringToJson: two values fail", expr: "States.StringToJson('1 2')", err: "unexpected text after the JSON value"},
		{name: "StringToJson: surrounding whitespace is allowed", expr: "States.StringToJson($.s)", input: `{"s": "\n [1] \t"}`, want: `[1]`},
		{name: "StringToJson: the argument must be a string", expr: "States.StringToJson($.s)", input: `{"s": {"a": 1}}`, err: "must be a string, got object"},
		{name: "StringToJson: one argument", expr: "States.StringToJson('1', '2')", err: "expects 1 argument, got 2"},

		// States.JsonToString
		{name: "JsonToString: HTML characters are not escaped", expr: "States.JsonToString($.v)", input: `{"v": {"a": "<b>&</b>"}}`, want: `"{\"a\":\"<b>&</b>\"}"`},
		{name: "JsonToString: object keys sorted", expr: "States.JsonToString($.v)", input: `{"v": {"b": 1, "a": 2}}`, want: `"{\"a\":2,\"b\":1}"`},
		{name: "JsonToString: a nested call's result", expr: "States.JsonToString(States.Array(1, 'a'))", want: `"[1,\"a\"]"`},
		{name: "JsonToString: round trip with StringToJson", expr: "States.StringToJson(States.JsonToString($.v))", input: `{"v": {"a": [1, {"b": null}]}}`, want: `{"a": [1, {"b": null}]}`},
		{name: "JsonToString: one argument", expr: "States.JsonToString()", err: "expects 1 argument, got 0"},

		// States.Array
		{name: "Array: no arguments give an empty array", expr: "States.Array()", want: `[]`},
		{name: "Array: literals of every kind", expr: "States.Array('a', -1.5, 2e3, true, false, null, '')", want: `["a", -1.5, 2000, true, false, null, ""]`},
		{name: "Array: nested arrays", expr: "States.Array(States.Array(1), States.Array())", want: `[[1], []]`},

		// States.ArrayPartition
		{name: "ArrayPartition: chunk larger than the array", expr: "States.ArrayPartition($.a, 5)", input: `{"a": [0, 1, 2]}`, want: `[[0, 1, 2]]`},
		{name: "ArrayPartition: exact multiple", expr: "States.ArrayPartition($.a, 2)", input: `{"a": [0, 1, 2, 3]}`, want: `[[0, 1], [2, 3]]`},
		{name: "ArrayPartition: chunk size 1", expr: "States.ArrayPartition($.a, 1)", input: `{"a": [0, 1]}`, want: `[[0], [1]]`},
		{name: "ArrayPartition: empty array gives no chunks", expr: "States.ArrayPartition($.a, 3)", input: `{"a": []}`, want: `[]`},
		{name: "ArrayPartition: non-integer chunk size is rounded", expr: "States.ArrayPartition($.a, 1.5)", input: `{"a": [0, 1, 2]}`, want: `[[0, 1], [2]]`},
		{name: "ArrayPartition: chunk size rounded to zero fails", expr: "States.ArrayPartition($.a, 0.4)", input: `{"a": [0]}`, err: "the chunk size must be a positive integer, got 0"},
		{name: "ArrayPartition: zero chunk size fails", expr: "States.ArrayPartition($.a, 0)", input: `{"a": [0]}`, err: "must be a positive integer"},
		{name: "ArrayPartition: negative chunk size fails", expr: "States.ArrayPartition($.a, -2)", input: `{"a": [0]}`, err: "must be a positive integer, got -2"},
		{name: "ArrayPartition: chunk size must be a number", expr: "States.ArrayPartition($.a, '2')", input: `{"a": [0]}`, err: "the second argument (the chunk size) must be a number, got string"},
		{name: "ArrayPartition: first argument must be an array", expr: "States.ArrayPartition($.a, 2)", input: `{"a": {"x": 1}}`, err: "the first argument must be an array, got object"},
		{name: "ArrayPartition: two arguments", expr: "States.ArrayPartition($.a)", input: `{"a": []}`, err: "expects 2 arguments, got 1"},

		// States.ArrayContains
		{name: "ArrayContains: absent value", expr: "States.ArrayContains($.a, 10)", input: `{"a": [1, 2]}`, want: `false`},
		{name: "ArrayContains: empty array contains nothing", expr: "States.ArrayContains($.a, null)", input: `{"a": []}`, want: `false`},
		{name: "ArrayContains: null element", expr: "States.ArrayContains($.a, null)", input: `{"a": [1, null]}`, want: `true`},
		{name: "ArrayContains: deep equality of arrays", expr: "States.ArrayContains($.a, $.v)", input: `{"a": [[1, 2, 3], 2], "v": [1, 2, 3]}`, want: `true`},
		{name: "ArrayContains: array order matters", expr: "States.ArrayContains($.a, $.v)", input: `{"a": [[1, 2, 3]], "v": [3, 2, 1]}`, want: `false`},
		{name: "ArrayContains: deep equality of objects", expr: "States.ArrayContains($.a, $.v)", input: `{"a": [{"1": 2, "2": []}], "v": {"2": [], "1": 2}}`, want: `true`},
		{name: "ArrayContains: an object is not an empty array", expr: "States.ArrayContains($.a, $.v)", input: `{"a": [{"1": 2, "2": []}], "v": []}`, want: `false`},
		{name: "ArrayContains: booleans", expr: "States.ArrayContains($.a, false)", input: `{"a": [true, false]}`, want: `true`},
		{name: "ArrayContains: a number is not its string", expr: "States.ArrayContains($.a, '1')", input: `{"a": [1]}`, want: `false`},
		{name: "ArrayContains: numbers compare by value", expr: "States.ArrayContains($.a, 1)", input: `{"a": [1.0]}`, want: `true`},
		{name: "ArrayContains: first argument must be an array", expr: "States.ArrayContains('abc', 'a')", err: "the first argument must be an array, got string"},

		// States.ArrayRange
		{name: "ArrayRange: last included when the steps land on it", expr: "States.ArrayRange(0, 9, 3)", want: `[0, 3, 6, 9]`},
		{name: "ArrayRange: last not reached", expr: "States.ArrayRange(0, 10, 3)", want: `[0, 3, 6, 9]`},
		{name: "ArrayRange: step larger than the range", expr: "States.ArrayRange(1, 9, 9)", want: `[1]`},
		{name: "ArrayRange: first equals last", expr: "States.ArrayRange(4, 4, 1)", want: `[4]`},
		{name: "ArrayRange: negative step counts down", expr: "States.ArrayRange(9, 1, -2)", want: `[9, 7, 5, 3, 1]`},
		{name: "ArrayRange: step pointing away from last gives an empty array", expr: "States.ArrayRange(9, 1, 1)", want: `[]`},
		{name: "ArrayRange: negative numbers", expr: "States.ArrayRange(-3, -1, 1)", want: `[-3, -2, -1]`},
		{name: "ArrayRange: non-integers are rounded", expr: "States.ArrayRange(0.5, 2.4, 1.2)", want: `[1, 2]`},
		{name: "ArrayRange: zero step fails", expr: "States.ArrayRange(1, 9, 0)", err: "the step (third argument) must not be zero"},
		{name: "ArrayRange: step rounded to zero fails", expr: "States.ArrayRange(1, 9, 0.4)", err: "must not be zero"},
		{name: "ArrayRange: 1000 items is the limit", expr: "States.ArrayLength(States.ArrayRange(1, 1000, 1))", want: `1000`},
		{name: "ArrayRange: 1001 items fail", expr: "States.ArrayRange(0, 1000, 1)", err: "the range would contain 1001 items; the limit is 1000"},
		{name: "ArrayRange: huge ranges fail without being built", expr: "States.ArrayRange(-9007199254740992, 9007199254740992, 1)", err: "the limit is 1000"},
		{name: "ArrayRange: beyond 2^53 is out of range", expr: "States.ArrayRange(0, 1e300, 1)", err: "the second argument (the last element) 1e+300 is out of range"},
		{name: "ArrayRange: arguments must be numbers", expr: "States.ArrayRange(1, '9', 1)", err: "the second argument (the last element) must be a number, got string"},
		{name: "ArrayRange: three arguments", expr: "States.ArrayRange(1, 9)", err: "expects 3 arguments, got 2"},

		// States.ArrayGetItem
		{name: "ArrayGetItem: first item", expr: "States.ArrayGetItem($.a, 0)", input: `{"a": ["x", "y"]}`, want: `"x"`},
		{name: "ArrayGetItem: last item", expr: "States.ArrayGetItem($.a, 1)", input: `{"a": ["x", {"y": 1}]}`, want: `{"y": 1}`},
		{name: "ArrayGetItem: an integral decimal is an integer", expr: "States.ArrayGetItem($.a, 1.0)", input: `{"a": ["x", "y"]}`, want: `"y"`},
		{name: "ArrayGetItem: index past the end fails", expr: "States.ArrayGetItem($.a, 2)", input: `{"a": ["x", "y"]}`, err: "the index 2 is out of bounds for an array of length 2"},
		{name: "ArrayGetItem: negative index fails", expr: "States.ArrayGetItem($.a, -1)", input: `{"a": ["x", "y"]}`, err: "the index -1 is out of bounds"},
		{name: "ArrayGetItem: empty array has no items", expr: "States.ArrayGetItem($.a, 0)", input: `{"a": []}`, err: "out of bounds for an array of length 0"},
		{name: "ArrayGetItem: non-integer index fails", expr: "States.ArrayGetItem($.a, 0.5)", input: `{"a": ["x", "y"]}`, err: "the index must be an integer, got 0.5"},
		{name: "ArrayGetItem: index must be a number", expr: "States.ArrayGetItem($.a, '0')", input: `{"a": ["x"]}`, err: "the second argument (the index) must be a number, got string"},
		{name: "ArrayGetItem: first argument must be an array", expr: "States.ArrayGetItem($.a, 0)", input: `{"a": "xy"}`, err: "the first argument must be an array, got string"},

		// States.ArrayLength
		{name: "ArrayLength: empty array", expr: "States.ArrayLength($.a)", input: `{"a": []}`, want: `0`},
		{name: "ArrayLength: argument must be an array", expr: "States.ArrayLength($.a)", input: `{"a": null}`, err: "the first argument must be an array, got null"},
		{name: "ArrayLength: one argument", expr: "States.ArrayLength($.a, $.a)", input: `{"a": []}`, err: "expects 1 argument, got 2"},

		// States.ArrayUnique
		{name: "ArrayUnique: first occurrences keep their order", expr: "States.ArrayUnique($.a)", input: `{"a": [3, 1, 3, 2, 1]}`, want: `[3, 1, 2]`},
		{
			name:  "ArrayUnique: deep equality of every JSON type",
			expr:  "States.ArrayUnique($.a)",
			input: `{"a": [null, null, true, true, false, false, 1, 1, 1.1, 0, -0, "HelloWorld", "HelloWorld", [], [], [null], [null], {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}]}`,
			want:  `[null, true, false, 1, 1.1, 0, "HelloWorld", [], [null], {"a": 1, "b": 2}, {"a": 1, "b": 1}]`,
		},
		{name: "ArrayUnique: a number and its string are distinct", expr: "States.ArrayUnique($.a)", input: `{"a": [1, "1", 1]}`, want: `[1, "1"]`},
		{name: "ArrayUnique: empty array", expr: "States.ArrayUnique($.a)", input: `{"a": []}`, want: `[]`},
		{name: "ArrayUnique: argument must be an array", expr: "States.ArrayUnique($.a)", input: `{"a": "aab"}`, err: "the first argument must be an array, got string"},

		// States.Base64Encode
		{name: "Base64Encode: UTF-8 bytes are encoded", expr: "States.Base64Encode('é€')", want: `"w6nigqw="`},
		{name: "Base64Encode: no line breaks in long output", expr: "States.Base64Encode(States.Format('{}{}{}{}', $.s, $.s, $.s, $.s))", input: `{"s": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, want: `"` + strings.Repeat("YWFh", 40) + `"`},
		{name: "Base64Encode: 10,000 characters is the limit", expr: "States.ArrayLength(States.StringSplit(States.Base64Encode($.ok), '='))", input: limits, want: `1`},
		{name: "Base64Encode: 10,001 characters fail", expr: "States.Base64Encode($.over)", input: limits, err: "the data to encode is 10001 characters long; the limit is 10000"},
		{name: "Base64Encode: 5,000 emoji are 10,000 UTF-16 characters", expr: "States.ArrayLength(States.Array(States.Base64Encode($.emojiOK)))", input: limits, want: `1`},
		{name: "Base64Encode: characters are counted in UTF-16 units", expr: "States.Base64Encode($.emojiOver)", input: limits, err: "is 10001 characters long"},
		{name: "Base64Encode: argument must be a string", expr: "States.Base64Encode($.v)", input: `{"v": 12}`, err: "the first argument (the data to encode) must be a string, got number"},

		// States.Base64Decode
		{name: "Base64Decode: missing padding is accepted", expr: "States.Base64Decode('RGF0YSB0byBlbmNvZGU')", want: `"Data to encode"`},
		{name: "Base64Decode: MIME line breaks are ignored", expr: "States.Base64Decode($.v)", input: `{"v": "RGF0YSB0\r\nbyBlbmNvZGU="}`, want: `"Data to encode"`},
		{name: "Base64Decode: UTF-8 text", expr: "States.Base64Decode('w6nigqw=')", want: `"é€"`},
		{name: "Base64Decode: incomplete padding fails", expr: "States.Base64Decode('QQ=')", err: "not valid Base64"},
		{name: "Base64Decode: padding in the middle fails", expr: "States.Base64Decode('QQ==QQ==')", err: "not valid Base64"},
		{name: "Base64Decode: a lone final character fails", expr: "States.Base64Decode('QUJDR')", err: "not valid Base64"},
		{name: "Base64Decode: invalid UTF-8 becomes U+FFFD", expr: "States.Base64Decode('/w==')", want: `"\ufffd"`},
		{name: "Base64Decode: 10,001 characters fail", expr: "States.Base64Decode($.over)", input: limits, err: "the Base64 data is 10001 characters long; the limit is 10000"},
		{name: "Base64Decode: argument must be a string", expr: "States.Base64Decode($.v)", input: `{"v": ["QQ=="]}`, err: "must be a string, got array"},

		// States.Hash
		{name: "Hash: empty data", expr: "States.Hash('', 'MD5')", want: `"d41d8cd98f00b204e9800998ecf8427e"`},
		{name: "Hash: UTF-8 bytes are hashed", expr: "States.Hash('é', 'MD5')", want: `"66ddcd97cfdeabb2f6fb8a999b4bc76f"`},
		{name: "Hash: 10,000 characters is the limit", expr: "States.ArrayLength(States.Array(States.Hash($.ok, 'SHA-256')))", input: limits, want: `1`},
		{name: "Hash: 10,001 characters fail", expr: "States.Hash($.over, 'SHA-256')", input: limits, err: "the data to hash is 10001 characters long; the limit is 10000"},
		{name: "Hash: algorithm names are exact", expr: "States.Hash('x', 'sha-256')", err: `unsupported algorithm "sha-256"`},
		{name: "Hash: unsupported algorithm fails", expr: "States.Hash('x', 'SHA-224')", err: `unsupported algorithm "SHA-224"`},
		{name: "Hash: data must be a string", expr: "States.Hash($.v, 'MD5')", input: `{"v": {"a": 1}}`, err: "the first argument (the data to hash) must be a string, got object"},
		{name: "Hash: algorithm must be a string", expr: "States.Hash('x', 256)", err: "the second argument (the algorithm) must be a string, got number"},

		// States.JsonMerge
		{name: "JsonMerge: empty objects", expr: "States.JsonMerge($.a, $.a, false)", input: `{"a": {}}`, want: `{}`},
		{name: "JsonMerge: deep merge (true) fails", expr: "States.JsonMerge($.a, $.b, true)", input: `{"a": {}, "b": {}}`, err: "deep merging is not supported: the third argument must be false"},
		{name: "JsonMerge: third argument must be a boolean", expr: "States.JsonMerge($.a, $.b, 'false')", input: `{"a": {}, "b": {}}`, err: "the third argument (deep merge) must be the boolean false, got string"},
		{name: "JsonMerge: first argument must be an object", expr: "States.JsonMerge($.a, $.b, false)", input: `{"a": [], "b": {}}`, err: "the first argument must be a JSON object, got array"},
		{name: "JsonMerge: second argument must be an object", expr: "States.JsonMerge($.a, $.b, false)", input: `{"a": {}, "b": "x"}`, err: "the second argument must be a JSON object, got string"},
		{name: "JsonMerge: three arguments", expr: "States.JsonMerge($.a, $.b)", input: `{"a": {}, "b": {}}`, err: "expects 3 arguments, got 2"},

		// States.MathRandom
		{name: "MathRandom: start is inclusive", expr: "States.MathRandom(5, 10)", random: 0, want: `5`},
		{name: "MathRandom: end is exclusive", expr: "States.MathRandom(5, 10)", random: 0.9999999999, want: `9`},
		{name: "MathRandom: a one-integer range", expr: "States.MathRandom(5, 6)", random: 0.7, want: `5`},
		{name: "MathRandom: negative bounds", expr: "States.MathRandom(-99999, -9999)", random: 0.5, want: `-54999`},
		{name: "MathRandom: non-integer bounds are rounded", expr: "States.MathRandom(12.5, 14.51)", random: 0.99, want: `14`},
		{name: "MathRandom: start equal to end fails", expr: "States.MathRandom(3, 3)", err: "the start (3) must be less than the end (3), which is exclusive"},
		{name: "MathRandom: start after end fails", expr: "States.MathRandom(4, 3)", err: "must be less than the end"},
		{name: "MathRandom: bounds must be numbers", expr: "States.MathRandom('1', 3)", err: "the first argument (the start) must be a number, got string"},
		{name: "MathRandom: seed must be a number", expr: "States.MathRandom(1, 3, 'seed')", err: "the third argument (the seed) must be a number, got string"},
		{name: "MathRandom: Env.Random outside [0,1) fails", expr: "States.MathRandom(1, 3)", random: 1, err: "outside [0,1)"},
		{name: "MathRandom: two or three arguments", expr: "States.MathRandom(1)", err: "expects 2 or 3 arguments, got 1"},
		{name: "MathRandom: not four arguments", expr: "States.MathRandom(1, 2, 3, 4)", err: "expects 2 or 3 arguments, got 4"},

		// States.MathAdd
		{name: "MathAdd: largest 32-bit integer", expr: "States.MathAdd(2147483647, 0)", want: `2147483647`},
		{name: "MathAdd: smallest 32-bit integer", expr: "States.MathAdd(-2147483648, 0)", want: `-2147483648`},
		{name: "MathAdd: sum beyond 32 bits is exact", expr: "States.MathAdd(2147483647, 1)", want: `2147483648`},
		{name: "MathAdd: argument above the 32-bit range fails", expr: "States.MathAdd(2147483648, 0)", err: "the first argument (2147483648) is outside the range -2147483648 to 2147483647"},
		{name: "MathAdd: argument below the 32-bit range fails", expr: "States.MathAdd(0, -2147483649)", err: "the second argument (-2147483649) is outside the range"},
		{name: "MathAdd: rounding happens before the range check", expr: "States.MathAdd(2147483647.4, 0)", want: `2147483647`},
		{name: "MathAdd: arguments must be numbers", expr: "States.MathAdd('1', 2)", err: "the first argument (a number to add) must be a number, got string"},
		{name: "MathAdd: null is not a number", expr: "States.MathAdd($.missing, 2)", input: `{"missing": null}`, err: "must be a number, got null"},
		{name: "MathAdd: two arguments", expr: "States.MathAdd(1, 2, 3)", err: "expects 2 arguments, got 3"},

		// States.StringSplit
		{name: "StringSplit: empty string gives an empty array", expr: "States.StringSplit('', ',')", want: `[]`},
		{name: "StringSplit: empty delimiters leave the string whole", expr: "States.StringSplit('a,b', '')", want: `["a,b"]`},
		{name: "StringSplit: delimiters are characters, not a substring", expr: "States.StringSplit('a-b_c', '_-')", want: `["a", "b", "c"]`},
		{name: "StringSplit: non-ASCII delimiter", expr: "States.StringSplit('a→b→→c', '→')", want: `["a", "b", "c"]`},
		{name: "StringSplit: escaped reserved character as delimiter", expr: `States.StringSplit('a{b}c', '\{\}')`, want: `["a", "b", "c"]`},
		{name: "StringSplit: string must be a string", expr: "States.StringSplit($.v, ',')", input: `{"v": 1}`, err: "the first argument (the string to split) must be a string, got number"},
		{name: "StringSplit: delimiters must be a string", expr: "States.StringSplit('a', $.v)", input: `{"v": [","]}`, err: "the second argument (the delimiting characters) must be a string, got array"},

		// States.UUID
		{name: "UUID: arguments are not allowed", expr: "States.UUID(1)", err: "expects no arguments, got 1"},
		{name: "UUID: nested in Format", expr: "States.Format('id-{}', States.UUID())", want: `"id-ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"`},

		// Failures of nested calls and paths.
		{name: "nested failure names the inner function", expr: "States.Array(States.ArrayGetItem($.a, 3))", input: `{"a": []}`, err: "out of bounds", fn: "States.ArrayGetItem"},
		{name: "path failure names the function whose argument it is", expr: "States.Array(1, States.ArrayLength($.nope))", input: `{}`, err: `cannot resolve the path $.nope: field "nope" not found`, fn: "States.ArrayLength"},
		{name: "argument count is checked before paths are resolved", expr: "States.ArrayLength($.nope, $.nope)", input: `{}`, err: "expects 1 argument, got 2"},
	})
}

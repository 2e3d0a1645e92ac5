package intrinsic

import "testing"

// TestAWSDocumentationExamples reproduces every example on AWS's page
// "Intrinsic functions for JSONPath states in Step Functions"
// (docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html),
// with the page's inputs and expressions. Where the page's printed output is
// wrong, the case asserts what AWS returns and says why.
func TestAWSDocumentationExamples(t *testing.T) {
	const imageRecipe = `{"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/my-recipe/1.0.1"}}`
	runEvalCases(t, []evalCase{
		{
			name:  "intro: KeyId.$ States.Array($.Id)",
			expr:  "States.Array($.Id)",
			input: `{"Id": 123456}`,
			want:  `[123456]`,
		},
		{
			// The page's myArn example nests nine calls, but its template
			// has three {} and only two values follow, which the page's own
			// States.Format rule forbids ("There must be as many remaining
			// arguments ... as there are occurrences of {}").
			name:  "intro: myArn, nine nested functions, three placeholders for two values, fails",
			expr:  "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
			input: imageRecipe,
			err:   "the template has 3 {} placeholders but 2 values were given",
		},
		{
			name:  "intro: myArn with the template matching its two values",
			expr:  "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
			input: imageRecipe,
			want:  `"1.0"`,
		},
		{
			name:  "States.Array: BuildId.$ returns [123456]",
			expr:  "States.Array($.Id)",
			input: `{"Id": 123456}`,
			want:  `[123456]`,
		},
		{
			name:  "States.ArrayPartition: chunks of four, last chunk smaller",
			expr:  "States.ArrayPartition($.inputArray,4)",
			input: `{"inputArray": [1,2,3,4,5,6,7,8,9]}`,
			want:  `[[1,2,3,4],[5,6,7,8],[9]]`,
		},
		{
			name:  "States.ArrayContains: lookingFor 5 is in inputArray",
			expr:  "States.ArrayContains($.inputArray, $.lookingFor)",
			input: `{"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5}`,
			want:  `true`,
		},
		{
			name: "States.ArrayRange: 1 to 9 by 2",
			expr: "States.ArrayRange(1, 9, 2)",
			want: `[1,3,5,7,9]`,
		},
		{
			name:  "States.ArrayGetItem: index position 5",
			expr:  "States.ArrayGetItem($.inputArray, $.index)",
			input: `{"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5}`,
			want:  `6`,
		},
		{
			name:  "States.ArrayLength: length of inputArray",
			expr:  "States.ArrayLength($.inputArray)",
			input: `{"inputArray": [1,2,3,4,5,6,7,8,9]}`,
			want:  `9`,
		},
		{
			name:  "States.ArrayUnique: removes duplicate values",
			expr:  "States.ArrayUnique($.inputArray)",
			input: `{"inputArray": [1,2,3,3,3,3,3,3,4]}`,
			want:  `[1,2,3,4]`,
		},
		{
			name:  "States.Base64Encode: Data to encode",
			expr:  "States.Base64Encode($.input)",
			input: `{"input": "Data to encode"}`,
			want:  `"RGF0YSB0byBlbmNvZGU="`,
		},
		{
			// The page prints {"data": "Decoded data"}, but
			// RGF0YSB0byBlbmNvZGU= is the encoding of "Data to encode" (the
			// previous example); AWS returns that.
			name:  "States.Base64Decode: RGF0YSB0byBlbmNvZGU= decodes to the encoded example's input",
			expr:  "States.Base64Decode($.base64)",
			input: `{"base64": "RGF0YSB0byBlbmNvZGU="}`,
			want:  `"Data to encode"`,
		},
		{
			// The page prints aaff4a450a104cd177d28d18d7485e8cae074b7, 39
			// hex digits: a digit is missing ("d74485" printed as "d7485").
			// This is the full SHA-1 of "input data".
			name:  "States.Hash: SHA-1 of input data",
			expr:  "States.Hash($.Data, $.Algorithm)",
			input: `{"Data": "input data", "Algorithm": "SHA-1"}`,
			want:  `"aaff4a450a104cd177d28d18d74485e8cae074b7"`,
		},
		{
			name:  "States.JsonMerge: shallow merge, json2's key a replaces json1's",
			expr:  "States.JsonMerge($.json1, $.json2, false)",
			input: `{"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}`,
			want:  `{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}`,
		},
		{
			name:  "States.StringToJson: escapedJsonString",
			expr:  "States.StringToJson($.escapedJsonString)",
			input: `{"escapedJsonString": "{\"foo\": \"bar\"}"}`,
			want:  `{"foo": "bar"}`,
		},
		{
			// The page prints {\"foo\": \"bar\"}; AWS serialises compactly
			// (see TestRecordedAWSBehaviour and the specification's example).
			name:  "States.JsonToString: unescapedJson",
			expr:  "States.JsonToString($.unescapedJson)",
			input: `{"unescapedJson": {"foo": "bar"}}`,
			want:  `"{\"foo\":\"bar\"}"`,
		},
		{
			// Random numbers cannot be reproduced; the Env's Random is set
			// so that the page's 456 comes out: 1 + floor(r*(999-1)) = 456.
			name:   "States.MathRandom: between 1 and 999",
			expr:   "States.MathRandom($.start, $.end)",
			input:  `{"start": 1, "end": 999}`,
			random: 455.5 / 998,
			want:   `456`,
		},
		{
			name:  "States.MathAdd: subtract one from 111",
			expr:  "States.MathAdd($.value1, $.step)",
			input: `{"value1": 111, "step": -1}`,
			want:  `110`,
		},
		{
			name:  "States.StringSplit: single delimiting character",
			expr:  "States.StringSplit($.inputString, $.splitter)",
			input: `{"inputString": "1,2,3,4,5", "splitter": ","}`,
			want:  `["1","2","3","4","5"]`,
		},
		{
			name:  "States.StringSplit: multiple delimiting characters",
			expr:  "States.StringSplit($.inputString, $.splitter)",
			input: `{"inputString": "This.is+a,test=string", "splitter": ".+,="}`,
			want:  `["This","is","a","test","string"]`,
		},
		{
			name: "States.UUID: called with no arguments",
			expr: "States.UUID()",
			want: `"ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"`,
		},
		{
			name:  "States.Format: literal template",
			expr:  "States.Format('Hello, my name is {}.', $.name)",
			input: `{"name": "Arnav", "template": "Hello, my name is {}."}`,
			want:  `"Hello, my name is Arnav."`,
		},
		{
			name:  "States.Format: template from a path",
			expr:  "States.Format($.template, $.name)",
			input: `{"name": "Arnav", "template": "Hello, my name is {}."}`,
			want:  `"Hello, my name is Arnav."`,
		},
		{
			name: `reserved characters: \' \{ \} \\ represent ' { } \`,
			expr: `States.Format('\'\{\}\\ and {}', 'x')`,
			want: `"'{}\\ and x"`,
		},
		{
			name:  "reserved characters: bracket notation for a field name with a space",
			expr:  "States.Array($.abc['def ghi'])",
			input: `{"abc": {"def ghi": 1}}`,
			want:  `[1]`,
		},
	})
}

// TestSpecificationExamples reproduces the examples of the Amazon States
// Language specification (states-language.net, Appendix B).
func TestSpecificationExamples(t *testing.T) {
	runEvalCases(t, []evalCase{
		{
			name:  "States.Format: name and year",
			expr:  "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
			input: `{"name": "Foo", "zebra": "stripe"}`,
			want:  `"Your name is Foo, we are in the year 2020"`,
		},
		{
			name:  "States.StringToJson: someString",
			expr:  "States.StringToJson($.someString)",
			input: `{"someString": "{\"number\": 20}", "zebra": "stripe"}`,
			want:  `{"number": 20}`,
		},
		{
			name:  "States.JsonToString: someJson, compact",
			expr:  "States.JsonToString($.someJson)",
			input: `{"someJson": {"name": "Foo", "year": 2020}, "zebra": "stripe"}`,
			want:  `"{\"name\":\"Foo\",\"year\":2020}"`,
		},
		{
			name:  "States.Array: string, number, path and null",
			expr:  "States.Array('Foo', 2020, $.someJson, null)",
			input: `{"someJson": {"random": "abcdefg"}, "zebra": "stripe"}`,
			want:  `["Foo", 2020, {"random": "abcdefg"}, null]`,
		},
	})
}

// TestRecordedAWSBehaviour checks behaviour the documentation does not spell
// out, against execution histories recorded on AWS (the snapshot files of
// LocalStack's intrinsic-function tests, which are marked as validated
// against AWS).
func TestRecordedAWSBehaviour(t *testing.T) {
	const format1 = "States.Format('Formatting argument {}.', $.FunctionInput)"
	runEvalCases(t, []evalCase{
		{name: "Format: empty string inserts nothing", expr: format1, input: `{"FunctionInput": ""}`, want: `"Formatting argument ."`},
		{name: "Format: string inserts raw", expr: format1, input: `{"FunctionInput": "HelloWorld"}`, want: `"Formatting argument HelloWorld."`},
		{name: "Format: null inserts null", expr: format1, input: `{"FunctionInput": null}`, want: `"Formatting argument null."`},
		{name: "Format: integer inserts in JSON form", expr: format1, input: `{"FunctionInput": 1}`, want: `"Formatting argument 1."`},
		{name: "Format: decimal inserts in JSON form", expr: format1, input: `{"FunctionInput": 1.1}`, want: `"Formatting argument 1.1."`},
		{name: "Format: JSON text in a string inserts raw", expr: format1, input: `{"FunctionInput": "{\"Arg1\": 1, \"Arg2\": []}"}`, want: `"Formatting argument {\"Arg1\": 1, \"Arg2\": []}."`},
		{name: "Format: object inserts in Java toString form", expr: format1, input: `{"FunctionInput": {"Arg1": 1, "Arg2": []}}`, want: `"Formatting argument {Arg1=1, Arg2=[]}."`},
		{
			name: "Format: context object paths, an object in Java toString form",
			expr: "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Id, $$.StateMachine)",
			ctx:  `{"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:run"}, "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"}}`,
			want: `"Formatting arguments fst=arn:aws:states:us-east-1:111111111111:execution:sm:run and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm, Name=sm}."`,
		},

		{name: "StringSplit: only delimiters gives an empty array", expr: "States.StringSplit($.fst, $.snd)", input: `{"fst": ",,,,", "snd": ","}`, want: `[]`},
		{name: "StringSplit: empty strings between delimiters are dropped", expr: "States.StringSplit($.fst, $.snd)", input: `{"fst": ", , ,", "snd": ","}`, want: `[" ", " "]`},
		{name: "StringSplit: whitespace tokens are kept", expr: "States.StringSplit($.fst, $.snd)", input: `{"fst": " , ", "snd": ","}`, want: `[" ", " "]`},
		{name: "StringSplit: no delimiter present gives the whole string", expr: "States.StringSplit($.fst, $.snd)", input: `{"fst": " ", "snd": ","}`, want: `[" "]`},
		{name: "StringSplit: letter and newline delimiters", expr: "States.StringSplit($.fst, $.snd)", input: `{"fst": "split on T and \nnew line", "snd": "T\n"}`, want: `["split on ", " and ", "new line"]`},
		{name: "StringSplit: a newline inside a string literal", expr: "States.StringSplit('Hello\nWorld', '\n')", want: `["Hello", "World"]`},
		{
			name: "StringSplit: CSV text from the context object",
			expr: "States.StringSplit($$.Execution.Input.FunctionInput, ',')",
			ctx:  `{"Execution": {"Input": {"FunctionInput": "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"}}}`,
			want: `["Value1","Value2","Value3\nValue4","Value5","Value6\n","\ntrue","1","'HelloWorld'\nNull","None","\n   \n"]`,
		},

		{name: "MathAdd: integers", expr: "States.MathAdd(-9, 3)", want: `-6`},
		{name: "MathAdd: each argument rounded before adding, 1.49 + 1.5", expr: "States.MathAdd(1.49, 1.5)", want: `3`},
		{name: "MathAdd: each argument rounded before adding, 1.5 + 1.51", expr: "States.MathAdd(1.5, 1.51)", want: `4`},
		{name: "MathAdd: Java rounding, -1.49 + -1.5", expr: "States.MathAdd(-1.49, -1.5)", want: `-2`},
		{name: "MathAdd: Java rounding, -1.5 + -1.51", expr: "States.MathAdd(-1.5, -1.51)", want: `-3`},
		{name: "MathAdd: 1.49 rounds down", expr: "States.MathAdd(1.49, 0)", want: `1`},
		{name: "MathAdd: 1.49 + -1.49", expr: "States.MathAdd(1.49, -1.49)", want: `0`},
		{name: "MathAdd: 1.5 rounds up", expr: "States.MathAdd(1.5, 0)", want: `2`},
		{name: "MathAdd: 1.51 rounds up", expr: "States.MathAdd(1.51, 0)", want: `2`},
		{name: "MathAdd: -1.49 rounds up", expr: "States.MathAdd(-1.49, 0)", want: `-1`},
		{name: "MathAdd: -1.5 rounds towards positive infinity", expr: "States.MathAdd(-1.5, 0)", want: `-1`},
		{name: "MathAdd: -1.51 rounds down", expr: "States.MathAdd(-1.51, 0)", want: `-2`},
		{name: "MathAdd: 0.5 rounds to 1, not half-even 0", expr: "States.MathAdd(0.5, 0)", want: `1`},
		{name: "MathAdd: 2.5 rounds to 3, not half-even 2", expr: "States.MathAdd(2.5, 0)", want: `3`},
		{name: "MathAdd: 3.5 rounds to 4", expr: "States.MathAdd(3.5, 0)", want: `4`},
		{name: "MathAdd: -0.5 + 0.5 is 0 + 1", expr: "States.MathAdd(-0.5, 0.5)", want: `1`},
		{name: "MathAdd: -0.5 rounds to 0, not away from zero", expr: "States.MathAdd(-0.5, 0)", want: `0`},
		{name: "MathAdd: -2.5 rounds to -2", expr: "States.MathAdd(-2.5, 0)", want: `-2`},
		{name: "MathAdd: -3.5 rounds to -3", expr: "States.MathAdd(-3.5, 0)", want: `-3`},
		{name: "MathAdd: decimals from paths", expr: "States.MathAdd($.fst, $.snd)", input: `{"fst": 1.5, "snd": 1.51}`, want: `4`},

		{name: "StringToJson: empty string gives null", expr: "States.StringToJson($.s)", input: `{"s": ""}`, want: `null`},
		{name: "StringToJson: blank string gives null", expr: "States.StringToJson($.s)", input: `{"s": " "}`, want: `null`},
		{name: "StringToJson: null", expr: "States.StringToJson($.s)", input: `{"s": "null"}`, want: `null`},
		{name: "StringToJson: -0 is 0", expr: "States.StringToJson($.s)", input: `{"s": "-0"}`, want: `0`},
		{name: "StringToJson: integer", expr: "States.StringToJson($.s)", input: `{"s": "1"}`, want: `1`},
		{name: "StringToJson: decimal", expr: "States.StringToJson($.s)", input: `{"s": "1.1"}`, want: `1.1`},
		{name: "StringToJson: boolean", expr: "States.StringToJson($.s)", input: `{"s": "true"}`, want: `true`},
		{name: "StringToJson: JSON string", expr: "States.StringToJson($.s)", input: `{"s": "\"HelloWorld\""}`, want: `"HelloWorld"`},
		{name: "StringToJson: array", expr: "States.StringToJson($.s)", input: `{"s": "[1, 2, \"HelloWorld\"]"}`, want: `[1, 2, "HelloWorld"]`},
		{name: "StringToJson: object", expr: "States.StringToJson($.s)", input: `{"s": "{\"Arg1\": 1, \"Arg2\": []}"}`, want: `{"Arg1": 1, "Arg2": []}`},

		{name: "JsonToString: null", expr: "States.JsonToString($.v)", input: `{"v": null}`, want: `"null"`},
		{name: "JsonToString: zero", expr: "States.JsonToString($.v)", input: `{"v": 0}`, want: `"0"`},
		{name: "JsonToString: integer", expr: "States.JsonToString($.v)", input: `{"v": 1}`, want: `"1"`},
		{name: "JsonToString: decimal", expr: "States.JsonToString($.v)", input: `{"v": 1.1}`, want: `"1.1"`},
		{name: "JsonToString: boolean", expr: "States.JsonToString($.v)", input: `{"v": true}`, want: `"true"`},
		{name: "JsonToString: string is quoted", expr: "States.JsonToString($.v)", input: `{"v": "HelloWorld"}`, want: `"\"HelloWorld\""`},
		{name: "JsonToString: array is compact", expr: "States.JsonToString($.v)", input: `{"v": [1, 2, "HelloWorld"]}`, want: `"[1,2,\"HelloWorld\"]"`},
		{name: "JsonToString: object is compact", expr: "States.JsonToString($.v)", input: `{"v": {"Arg1": 1, "Arg2": []}}`, want: `"{\"Arg1\":1,\"Arg2\":[]}"`},

		{
			name:  "JsonMerge: second object's keys win, nested objects not merged",
			expr:  "States.JsonMerge($.fst, $.snd, false)",
			input: `{"fst": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "snd": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}`,
			want:  `{"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}`,
		},
		{
			name: "JsonMerge: a nested StringToJson of a literal and a context path",
			expr: `States.JsonMerge(States.StringToJson('{"constant_in_literal": "false"}'), $$.Execution.Input.input_field, false)`,
			ctx:  `{"Execution": {"Input": {"input_field": {"constant_input_field": "constant_value"}}}}`,
			want: `{"constant_in_literal": "false", "constant_input_field": "constant_value"}`,
		},
		{
			name: "nested calls: last dash-separated part of the state machine name",
			expr: "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
			ctx:  `{"StateMachine": {"Name": "my-state-machine"}}`,
			want: `"machine"`,
		},

		{name: "Hash: MD5", expr: "States.Hash('input data', 'MD5')", want: `"812f45842bc6d66ee14572ce20db8e86"`},
		{name: "Hash: SHA-1", expr: "States.Hash('input data', 'SHA-1')", want: `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{name: "Hash: SHA-256", expr: "States.Hash('input data', 'SHA-256')", want: `"b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"`},
		{name: "Hash: SHA-384", expr: "States.Hash('input data', 'SHA-384')", want: `"d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"`},
		{name: "Hash: SHA-512", expr: "States.Hash('input data', 'SHA-512')", want: `"6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"`},

		{name: "Base64Encode: empty string", expr: "States.Base64Encode($.v)", input: `{"v": ""}`, want: `""`},
		{name: "Base64Decode: empty string", expr: "States.Base64Decode($.v)", input: `{"v": ""}`, want: `""`},
	})
}

package eventpattern

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// instanceEvent is the example event of the user guide's "Amazon
// EventBridge input transformation".
const instanceEvent = `{
  "version": "0",
  "id": "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "123456789012",
  "time": "2015-11-11T21:29:54Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
  "detail": {"instance-id": "i-0123456789", "state": "RUNNING", "n": 1.50, "quote": "say \"hi\" <b>"}
}`

// instancePaths is the guide's InputPathsMap.
var instancePaths = map[string]string{"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}

var meta = Meta{RuleName: "example", RuleARN: "arn:aws:events:us-east-2:123456789012:rule/example",
	IngestionTime: time.Date(2015, 11, 11, 21, 29, 55, 123e6, time.UTC)}

func TestTransform(t *testing.T) {
	withPaths := func(template string) Input {
		return Input{Transformer: &InputTransformer{PathsMap: instancePaths, Template: template}}
	}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"nothing: the whole event, minified", Input{}, compactString(instanceEvent)},
		{"constant input", Input{Input: `{ "a" : [1, 2] }`}, `{"a":[1,2]}`},
		{"input path", Input{InputPath: "$.detail"}, `{"instance-id":"i-0123456789","state":"RUNNING","n":1.50,"quote":"say \"hi\" <b>"}`},
		{"input path $", Input{InputPath: "$"}, compactString(instanceEvent)},
		{"input path with an index", Input{InputPath: "$.resources[0]"}, `"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"`},
		{"input path keeps numbers as written", Input{InputPath: "$.detail.n"}, `1.50`},
		{"input path to nothing", Input{InputPath: "$.detail.missing"}, `null`},
		{"input path past the end of an array", Input{InputPath: "$.resources[3]"}, `null`},
		{"input path with a wildcard", Input{InputPath: "$.resources[*]"}, `["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]`},
		{"input path with a member wildcard", Input{InputPath: "$.detail.*"}, `["i-0123456789","RUNNING",1.50,"say \"hi\" <b>"]`},

		// The guide's input template examples.
		{"simple string", withPaths(`"instance <instance> is in <state>"`), `"instance i-0123456789 is in RUNNING"`},
		{"string with escaped quotes", withPaths(`"instance \"<instance>\" is in <state>"`), `"instance \"i-0123456789\" is in RUNNING"`},
		{"simple JSON", withPaths(`{
  "instance" : <instance>,
  "state": <state>
}`), `{"instance":"i-0123456789","state":"RUNNING"}`},
		{"JSON with strings and variables", withPaths(`{
 "instance" : <instance>,
 "state": "<state>",
 "instanceStatus": "instance \"<instance>\" is in <state>"
}`), `{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \"i-0123456789\" is in RUNNING"}`},
		{"JSON with a mix of variables and static information", withPaths(`{
  "instance" : <instance>,
  "state": [ 9, <state>, true ],
  "Transformed" : "Yes"
}`), `{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}`},
		{"reserved variables in JSON", withPaths(`{"instance": <instance>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>,
  "originalEvent": <aws.events.event>}`),
			`{"instance":"i-0123456789","ruleArn":"arn:aws:events:us-east-2:123456789012:rule/example","ruleName":"example",` +
				`"originalEvent":{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification",` +
				`"source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}}`},
		{"reserved variables in a string", withPaths(`"<aws.events.rule-name> triggered"`), `"example triggered"`},
		{"the whole event", withPaths(`{"event": <aws.events.event.json>}`), `{"event":` + compactString(instanceEvent) + `}`},
		{"ingestion time", withPaths(`{"at": <aws.events.event.ingestion-time>, "s": "at <aws.events.event.ingestion-time>"}`),
			`{"at":"2015-11-11T21:29:55.123Z","s":"at 2015-11-11T21:29:55.123Z"}`},

		// Values and strings.
		{"missing path outside a string is null", Input{Transformer: &InputTransformer{
			PathsMap: map[string]string{"x": "$.detail.missing"}, Template: `{"x": <x>}`}}, `{"x":null}`},
		{"missing path inside a string is empty", Input{Transformer: &InputTransformer{
			PathsMap: map[string]string{"x": "$.detail.missing"}, Template: `{"x": "[<x>]"}`}}, `{"x":"[]"}`},
		{"string value inside a string is escaped", Input{Transformer: &InputTransformer{
			PathsMap: map[string]string{"q": "$.detail.quote"}, Template: `{"q": "<q>", "v": <q>}`}},
			`{"q":"say \"hi\" <b>","v":"say \"hi\" <b>"}`},
		{"object inside a string is its JSON, escaped", Input{Transformer: &InputTransformer{
			PathsMap: map[string]string{"d": "$.resources"}, Template: `{"d": "<d>"}`}},
			`{"d":"[\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"]"}`},
		{"number inside a string", Input{Transformer: &InputTransformer{
			PathsMap: map[string]string{"n": "$.detail.n"}, Template: `{"n": <n>, "s": "n=<n>"}`}}, `{"n":1.50,"s":"n=1.50"}`},
		{"unknown placeholders stay", withPaths(`{"html": "<p>hi</p>", "state": <state>}`), `{"html":"<p>hi</p>","state":"RUNNING"}`},
		{"escaped quote does not end the string", withPaths(`{"a": "x\"<state>\"", "b": <state>}`), `{"a":"x\"RUNNING\"","b":"RUNNING"}`},
		{"escaped backslash ends before the quote", withPaths(`{"a": "x\\", "b": <state>}`), `{"a":"x\\","b":"RUNNING"}`},
		{"a template that is not JSON gives text", withPaths(`instance <instance> is in <state>`), `instance "i-0123456789" is in "RUNNING"`},
		{"a template without placeholders", Input{Transformer: &InputTransformer{Template: `{"fixed": true}`}}, `{"fixed":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Transform([]byte(instanceEvent), tt.in, meta)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func compactString(s string) string { return string(compact([]byte(s))) }

func TestTransformRotorLeak(t *testing.T) {
	// The transformation rotor's leak rule applies: the alert's detail
	// becomes the rotation's input, tagged with its origin.
	ev := `{"version":"0","id":"e1","detail-type":"Secret Leak Detected","source":"rotor.leak","account":"000000000000",
		"time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":[],"detail":{"secretId":"prod/db","provider":"github","url":"https://x/y"}}`
	in := Input{Transformer: &InputTransformer{
		PathsMap: map[string]string{"secret": "$.detail.secretId", "provider": "$.detail.provider", "id": "$.id"},
		Template: `{"SecretId": <secret>, "Reason": "leak reported by <provider> (event <id>)", "Immediate": true}`,
	}}
	got, err := Transform([]byte(ev), in, Meta{RuleName: "leak"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"SecretId":"prod/db","Reason":"leak reported by github (event e1)","Immediate":true}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestTransformNotJSON(t *testing.T) {
	if _, err := Transform([]byte(`{`), Input{InputPath: "$.a"}, meta); err == nil {
		t.Error("Transform of a malformed event with InputPath: no error")
	}
	// Without a transformation the event goes as it is.
	got, err := Transform([]byte(`not json`), Input{}, meta)
	if err != nil || string(got) != "not json" {
		t.Errorf("Transform = %q, %v", got, err)
	}
}

func TestCompileInputErrors(t *testing.T) {
	many := map[string]string{}
	for i := range 101 {
		many["v"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "$.a"
	}
	long := make([]byte, maxTemplate+1)
	for i := range long {
		long[i] = ' '
	}
	tests := []struct {
		name  string
		in    Input
		field string
	}{
		{"Input and InputPath", Input{Input: `{}`, InputPath: "$"}, "Input"},
		{"InputPath and InputTransformer", Input{InputPath: "$", Transformer: &InputTransformer{Template: "x"}}, "Input"},
		{"Input not JSON", Input{Input: `{"a":`}, "Input"},
		{"InputPath without $", Input{InputPath: "detail"}, "InputPath"},
		{"InputPath with a bracketed name", Input{InputPath: "$['detail']"}, "InputPath"},
		{"InputPath with an empty member", Input{InputPath: "$..detail"}, "InputPath"},
		{"InputPath with an unclosed bracket", Input{InputPath: "$.a[0"}, "InputPath"},
		{"InputPath with a negative index", Input{InputPath: "$.a[-1]"}, "InputPath"},
		{"InputPath after a bracket", Input{InputPath: "$.a[0]b"}, "InputPath"},
		{"InputPath too long", Input{InputPath: "$." + string(long[:300])}, "InputPath"},
		{"empty template", Input{Transformer: &InputTransformer{}}, "InputTransformer.InputTemplate"},
		{"template too long", Input{Transformer: &InputTransformer{Template: string(long)}}, "InputTransformer.InputTemplate"},
		{"too many variables", Input{Transformer: &InputTransformer{PathsMap: many, Template: "x"}}, "InputTransformer.InputPathsMap"},
		{"reserved variable", Input{Transformer: &InputTransformer{PathsMap: map[string]string{"aws.events.rule-name": "$.a"}, Template: "x"}},
			`InputTransformer.InputPathsMap["aws.events.rule-name"]`},
		{"reserved variable in capitals", Input{Transformer: &InputTransformer{PathsMap: map[string]string{"AWS.x": "$.a"}, Template: "x"}},
			`InputTransformer.InputPathsMap["AWS.x"]`},
		{"variable name with a space", Input{Transformer: &InputTransformer{PathsMap: map[string]string{"a b": "$.a"}, Template: "x"}},
			`InputTransformer.InputPathsMap["a b"]`},
		{"bad variable path", Input{Transformer: &InputTransformer{PathsMap: map[string]string{"a": "detail.a"}, Template: "x"}},
			`InputTransformer.InputPathsMap["a"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileInput(tt.in)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("CompileInput = %v, want an *InputError", err)
			}
			if diff := cmp.Diff(tt.field, ie.Field); diff != "" {
				t.Errorf("field (-want +got):\n%s\n(error: %v)", diff, err)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want jsonPath
	}{
		{"$", nil},
		{"$.detail", jsonPath{{name: "detail"}}},
		{"$.detail-type", jsonPath{{name: "detail-type"}}},
		{"$.a.b[0].c", jsonPath{{name: "a"}, {name: "b"}, {index: 0}, {name: "c"}}},
		{"$.a/b_c.d", jsonPath{{name: "a/b_c"}, {name: "d"}}},
		{"$.a[*].b", jsonPath{{name: "a"}, {wildcard: true}, {name: "b"}}},
		{"$.*", jsonPath{{name: "*", wildcard: true}}},
		{"$[1][2]", jsonPath{{index: 1}, {index: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(pathStep{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

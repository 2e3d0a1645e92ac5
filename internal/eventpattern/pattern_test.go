package eventpattern

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ec2Event is the example event of the EventBridge user guide and of
// aws/event-ruler's README.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

// detail wraps a detail object into an event.
func detail(d string) string { return `{"source":"test","detail":` + d + `}` }

func TestMatch(t *testing.T) {
	tests := []struct {
		name, pattern, event string
		want                 bool
	}{
		// Exact values ("Event patterns").
		{"exact values and nested objects", `{"detail-type":["EC2 Instance State-change Notification"],
			"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
			"detail":{"state":["initializing","running"]}}`, ec2Event, true},
		{"one of several values", `{"source":["aws.ec2","aws.fargate"]}`, ec2Event, true},
		{"no listed value", `{"source":["aws.s3","aws.fargate"]}`, ec2Event, false},
		{"every field must match", `{"source":["aws.ec2"],"detail":{"state":["stopped"]}}`, ec2Event, false},
		{"a field the event lacks", `{"detail":{"missing":["x"]}}`, ec2Event, false},
		{"nested pattern against a string", `{"source":{"x":["aws.ec2"]}}`, ec2Event, false},
		{"strings are case-sensitive", `{"source":["AWS.EC2"]}`, ec2Event, false},
		{"number", `{"detail":{"c-count":[5]}}`, ec2Event, true},
		{"number compares as a number", `{"detail":{"x-limit":[3.018e2]}}`, ec2Event, true},
		{"number does not match a string", `{"detail":{"c-count":["5"]}}`, ec2Event, false},
		{"string does not match a number", `{"detail":{"n":[5]}}`, detail(`{"n":"5"}`), false},
		{"large integer", `{"account":[123456789012]}`, `{"account":123456789012}`, true},
		{"true", `{"detail":{"on":[true]}}`, detail(`{"on":true}`), true},
		{"true is not false", `{"detail":{"on":[true]}}`, detail(`{"on":false}`), false},
		{"true is not the string true", `{"detail":{"on":[true]}}`, detail(`{"on":"true"}`), false},
		{"null", `{"detail":{"responseElements":[null]}}`, detail(`{"eventVersion":"","responseElements":null}`), true},
		{"empty string", `{"detail":{"eventVersion":[""]}}`, detail(`{"eventVersion":"","responseElements":null}`), true},
		{"null is not the empty string", `{"detail":{"responseElements":[""]}}`, detail(`{"responseElements":null}`), false},
		{"the empty string is not null", `{"detail":{"eventVersion":[null]}}`, detail(`{"eventVersion":""}`), false},
		{"null does not match a missing field", `{"detail":{"x":[null]}}`, detail(`{}`), false},

		// Arrays ("Arrays in event patterns").
		{"an event array matches if one element does", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`,
			`{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}`, true},
		{"no element matches", `{"resources":["x"]}`, `{"resources":["a","b"]}`, false},
		{"an empty array matches no value", `{"resources":["x"]}`, `{"resources":[]}`, false},
		{"nested arrays", `{"a":[3]}`, `{"a":[[1,2],[3]]}`, true},
		{"array of objects", `{"employees":{"firstName":["Anna"]}}`, employees, true},
		{"fields within one element", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, employees, true},
		{"fields across elements do not match", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, employees, false},
		{"array of arrays of objects", `{"employees":{"firstName":["Peter"],"lastName":["Jones"]}}`,
			`{"employees":[[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}],[{"firstName":"Peter","lastName":"Jones"}]]}`, true},
		{"objects are not leaves", `{"detail":["x"]}`, detail(`{"x":1}`), false},

		// prefix.
		{"prefix", `{"time":[{"prefix":"2017-10-02"}]}`, ec2Event, true},
		{"prefix mismatch", `{"time":[{"prefix":"2017-10-03"}]}`, ec2Event, false},
		{"prefix on European regions", `{"source":["aws.ec2"],"region":[{"prefix":"eu-"}]}`, ec2Event, false},
		{"prefix is case-sensitive", `{"source":[{"prefix":"AWS."}]}`, ec2Event, false},
		{"prefix matches strings only", `{"detail":{"c-count":[{"prefix":"5"}]}}`, ec2Event, false},
		{"prefix ignoring case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, detail(`{"service":"eventbridge"}`), true},
		{"prefix ignoring case, upper case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, detail(`{"service":"EVENTBRIDGE"}`), true},
		{"prefix ignoring case, mismatch", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, detail(`{"service":"bridge"}`), false},
		{"prefix ignoring case, too short", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, detail(`{"service":"even"}`), false},

		// suffix.
		{"suffix", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
		{"suffix mismatch", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.jpg"}`, false},
		{"suffix is case-sensitive", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"IMAGE.PNG"}`, false},
		{"suffix ignoring case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, detail(`{"FileName":"IMAGE.PNG"}`), true},
		{"suffix ignoring case, mismatch", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, detail(`{"FileName":"image.jpg"}`), false},
		{"suffix of non-ASCII text", `{"a":[{"suffix":{"equals-ignore-case":"ÉTÉ"}}]}`, `{"a":"un été"}`, true},

		// equals-ignore-case.
		{"equals-ignore-case", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"Alice"}`, true},
		{"equals-ignore-case mismatch", `{"Name":[{"equals-ignore-case":"alice"}]}`, `{"Name":"Alicia"}`, false},
		{"equals-ignore-case matches strings only", `{"n":[{"equals-ignore-case":"5"}]}`, `{"n":5}`, false},

		// wildcard.
		{"wildcard", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"Simple Notification Service"}`, true},
		{"wildcard mismatch", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"Simple Notification"}`, false},
		{"wildcard matches an empty run", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleService"}`, true},
		{"wildcard in a path", `{"FilePath":[{"wildcard":"dir/*.png"}]}`, `{"FilePath":"dir/sub/a.png"}`, true},
		{"several wildcards", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`,
			`{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/rotor-leaks"}`, true},
		{"several wildcards, mismatch", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`,
			`{"EventBusArn":"arn:aws:events:eu-west-1:123456789012:event-bus/rotor-leaks"}`, false},
		{"wildcard parts must not overlap", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
		{"escaped star", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"a*b"}`, true},
		{"escaped star is literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
		{"escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
		{"wildcard matches strings only", `{"a":[{"wildcard":"*"}]}`, `{"a":1}`, false},

		// anything-but.
		{"anything-but string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, ec2Event, true},
		{"anything-but string, excluded", `{"detail":{"state":[{"anything-but":"running"}]}}`, ec2Event, false},
		{"anything-but number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, ec2Event, true},
		{"anything-but number, excluded", `{"detail":{"x-limit":[{"anything-but":301.8}]}}`, ec2Event, false},
		{"anything-but strings", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, ec2Event, true},
		{"anything-but strings, excluded", `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, ec2Event, false},
		{"anything-but numbers", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, ec2Event, true},
		{"anything-but numbers, excluded", `{"detail":{"c-count":[{"anything-but":[1,5]}]}}`, ec2Event, false},
		{"anything-but AWS API calls", `{"detail-type":[{"anything-but":"AWS API Call via CloudTrail"}]}`, ec2Event, true},
		{"anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, ec2Event, true},
		{"anything-but prefix, excluded", `{"source":[{"anything-but":{"prefix":"aws."}}]}`, ec2Event, false},
		{"anything-but suffix", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.jpg"}`, true},
		{"anything-but suffix, excluded", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.png"}`, false},
		{"anything-but ignoring case", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"running"}`, true},
		{"anything-but ignoring case, excluded", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
		{"anything-but ignoring case, list", `{"state":[{"anything-but":{"equals-ignore-case":["stopped","overloaded"]}}]}`, `{"state":"Stopped"}`, false},
		{"anything-but wildcard", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/ls"}`, true},
		{"anything-but wildcard, excluded", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},
		{"anything-but wildcard, list", `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*"]}}]}`, `{"FilePath":"/usr/bin/ls"}`, false},
		{"anything-but does not match a missing field", `{"detail":{"missing":[{"anything-but":"x"}]}}`, ec2Event, false},
		{"anything-but matches other types", `{"detail":{"c-count":[{"anything-but":"x"}]}}`, ec2Event, true},
		{"anything-but and an array", `{"s":[{"anything-but":"a"}]}`, `{"s":["a","b"]}`, true},

		// numeric.
		{"numeric ranges", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],
			"x-limit":[{"numeric":["=",3.018e2]}]}}`, ec2Event, true},
		{"numeric upper bound excluded", `{"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}}`, ec2Event, false},
		{"numeric lower bound excluded", `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, ec2Event, false},
		{"numeric lower bound included", `{"detail":{"c-count":[{"numeric":[">=",5]}]}}`, ec2Event, true},
		{"numeric upper bound included", `{"detail":{"c-count":[{"numeric":["<=",5]}]}}`, ec2Event, true},
		{"numeric equality", `{"detail":{"c-count":[{"numeric":["=",5.0]}]}}`, ec2Event, true},
		{"numeric equality, mismatch", `{"detail":{"c-count":[{"numeric":["=",4]}]}}`, ec2Event, false},
		{"numeric negative", `{"t":[{"numeric":[">=",-10.5,"<",0]}]}`, `{"t":-3}`, true},
		{"numeric matches numbers only", `{"n":[{"numeric":[">",0]}]}`, `{"n":"5"}`, false},

		// cidr.
		{"cidr", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, ec2Event, true},
		{"cidr outside", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, ec2Event, false},
		{"cidr with host bits", `{"detail":{"source-ip":[{"cidr":"10.0.0.7/24"}]}}`, ec2Event, true},
		{"cidr IPv6", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8:1::7"}`, true},
		{"cidr IPv6 outside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db9::7"}`, false},
		{"cidr IPv4 against IPv6", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"2001:db8::1"}`, false},
		{"cidr not an address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"ten"}`, false},

		// exists.
		{"exists false, missing", `{"detail":{"c-count":[{"exists":false}]}}`,
			`{"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["initializing","running"]}}`, true},
		{"exists false, not a leaf", `{"detail":{"c-count":[{"exists":false}]}}`,
			`{"detail":{"state":["initializing","running"],"c-count":{"c1":100}}}`, true},
		{"exists false, present", `{"detail":{"c-count":[{"exists":false}]}}`, ec2Event, false},
		{"exists false, no parent", `{"detail":{"c-count":[{"exists":false}]}}`, `{"source":"x"}`, true},
		{"exists false, empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"exists false, in another element", `{"a":{"b":[{"exists":false}],"c":[1]}}`, `{"a":[{"c":1},{"b":2}]}`, false},
		{"exists true", `{"detail":{"state":[{"exists":true}]}}`, ec2Event, true},
		{"exists true, missing", `{"detail":{"description":[{"exists":true}]}}`, ec2Event, false},
		{"exists true, null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
		{"exists true, not a leaf", `{"a":[{"exists":true}]}`, `{"a":{"b":1}}`, false},
		{"exists true, empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
		{"exists or a value", `{"a":[{"exists":false},"x"]}`, `{"a":"x"}`, true},

		// $or.
		{"$or first", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
			`{"source":"aws.cloudwatch","metricName":"ReadLatency"}`, true},
		{"$or second", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
			`{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
		{"$or neither", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
			`{"source":"aws.cloudwatch","namespace":"AWS/S3"}`, false},
		{"$or and the other fields", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]}`,
			`{"source":"aws.s3","namespace":"AWS/EC2"}`, false},
		{"parallel $or", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],
			"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
			`{"namespace":"AWS/EC2","detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
		{"$or with an and inside", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},
			{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"]},{"scope":["Service"]}]}`,
			`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/ES"}`, true},
		{"$or with an and inside, half", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},
			{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"]},{"scope":["Service"]}]}`,
			`{"source":"aws.cloudwatch","metricType":"MetricType"}`, false},
		{"nested $or", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},
			{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`,
			`{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1000}`, true},

		// The user guide's complex example.
		{"complex", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],
			"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],
			"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, ec2Event, true},
		{"complex, one field off", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],
			"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",3]}]}}`, ec2Event, false},

		// rotor's own rule.
		{"leak alert", `{"source":["rotor.leak"],"detail-type":["Secret Leak Detected"],"detail":{"secretId":[{"exists":true}]}}`,
			`{"source":"rotor.leak","detail-type":"Secret Leak Detected","detail":{"secretId":"prod/db"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Match([]byte(tt.event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

const employees = `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"},{"firstName":"Peter","lastName":"Jones"}]}`

func TestMatchValue(t *testing.T) {
	p, err := Compile([]byte(`{"detail":{"n":[{"numeric":[">",1]}],"s":["x"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	// What json.Unmarshal gives without UseNumber: float64.
	var ev any
	if err := json.Unmarshal([]byte(`{"detail":{"n":2,"s":"x"}}`), &ev); err != nil {
		t.Fatal(err)
	}
	if !p.MatchValue(ev) {
		t.Error("MatchValue of a decoded event with float64 numbers = false")
	}
}

func TestMatchErrors(t *testing.T) {
	p, err := Compile([]byte(`{"a":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{``, `{`, `[{"a":"x"}]`, `"x"`, `{"a":"x"} {}`} {
		if _, err := p.Match([]byte(ev)); err == nil {
			t.Errorf("Match(%q): no error", ev)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, pattern string
		want          string // path
	}{
		{"not JSON", `{"source":`, "$"},
		{"trailing data", `{"source":["a"]} x`, "$"},
		{"not an object", `["aws.ec2"]`, "$"},
		{"empty pattern", `{}`, "$"},
		{"leaf not in an array", `{"source":"aws.ec2"}`, "$.source"},
		{"number leaf not in an array", `{"detail":{"n":5}}`, "$.detail.n"},
		{"empty object", `{"detail":{}}`, "$.detail"},
		{"empty array", `{"source":[]}`, "$.source"},
		{"nested array", `{"source":[["aws.ec2"]]}`, "$.source[0]"},
		{"field name needing quotes", `{"a.b":"x"}`, `$["a.b"]`},
		{"unknown operator", `{"source":[{"contains":"ec2"}]}`, "$.source[0].contains"},
		{"two operators", `{"source":[{"prefix":"a","suffix":"b"}]}`, "$.source[0]"},
		{"empty operator object", `{"source":[{}]}`, "$.source[0]"},
		{"prefix not a string", `{"source":[{"prefix":1}]}`, "$.source[0].prefix"},
		{"prefix ignoring case not a string", `{"source":[{"prefix":{"equals-ignore-case":1}}]}`, "$.source[0].prefix"},
		{"prefix with an unknown option", `{"source":[{"prefix":{"wildcard":"a"}}]}`, "$.source[0].prefix"},
		{"suffix not a string", `{"source":[{"suffix":["a"]}]}`, "$.source[0].suffix"},
		{"equals-ignore-case not a string", `{"source":[{"equals-ignore-case":null}]}`, "$.source[0].equals-ignore-case"},
		{"wildcard not a string", `{"source":[{"wildcard":1}]}`, "$.source[0].wildcard"},
		{"consecutive wildcards", `{"source":[{"wildcard":"a**b"}]}`, "$.source[0].wildcard"},
		{"bad escape", `{"source":[{"wildcard":"a\\b"}]}`, "$.source[0].wildcard"},
		{"trailing backslash", `{"source":[{"wildcard":"a\\"}]}`, "$.source[0].wildcard"},
		{"anything-but boolean", `{"s":[{"anything-but":true}]}`, "$.s[0].anything-but"},
		{"anything-but null", `{"s":[{"anything-but":null}]}`, "$.s[0].anything-but"},
		{"anything-but empty list", `{"s":[{"anything-but":[]}]}`, "$.s[0].anything-but"},
		{"anything-but mixed list", `{"s":[{"anything-but":["a",1]}]}`, "$.s[0].anything-but"},
		{"anything-but list of booleans", `{"s":[{"anything-but":["a",false]}]}`, "$.s[0].anything-but[1]"},
		{"anything-but empty prefix", `{"s":[{"anything-but":{"prefix":""}}]}`, "$.s[0].anything-but.prefix"},
		{"anything-but suffix not a string", `{"s":[{"anything-but":{"suffix":1}}]}`, "$.s[0].anything-but.suffix"},
		{"anything-but unknown operator", `{"s":[{"anything-but":{"numeric":[">",1]}}]}`, "$.s[0].anything-but.numeric"},
		{"anything-but two operators", `{"s":[{"anything-but":{"prefix":"a","suffix":"b"}}]}`, "$.s[0].anything-but"},
		{"anything-but ignoring case number", `{"s":[{"anything-but":{"equals-ignore-case":[1]}}]}`, "$.s[0].anything-but.equals-ignore-case[0]"},
		{"anything-but bad wildcard", `{"s":[{"anything-but":{"wildcard":["a","b**"]}}]}`, "$.s[0].anything-but.wildcard[1]"},
		{"numeric not an array", `{"n":[{"numeric":5}]}`, "$.n[0].numeric"},
		{"numeric too short", `{"n":[{"numeric":[">"]}]}`, "$.n[0].numeric"},
		{"numeric value not a number", `{"n":[{"numeric":[">","5"]}]}`, "$.n[0].numeric[1]"},
		{"numeric operator not a string", `{"n":[{"numeric":[5,5]}]}`, "$.n[0].numeric[0]"},
		{"numeric unknown operator", `{"n":[{"numeric":["!=",5]}]}`, "$.n[0].numeric[0]"},
		{"numeric out of range", `{"n":[{"numeric":[">",5e10]}]}`, "$.n[0].numeric[1]"},
		{"numeric equality with a second bound", `{"n":[{"numeric":["=",1,"<",2]}]}`, "$.n[0].numeric"},
		{"numeric upper bound first", `{"n":[{"numeric":["<",1,">",0]}]}`, "$.n[0].numeric"},
		{"numeric second bound a lower bound", `{"n":[{"numeric":[">",0,">",1]}]}`, "$.n[0].numeric[2]"},
		{"numeric empty range", `{"n":[{"numeric":[">",5,"<",5]}]}`, "$.n[0].numeric"},
		{"exists not a boolean", `{"a":[{"exists":"yes"}]}`, "$.a[0].exists"},
		{"cidr not a prefix", `{"ip":[{"cidr":"10.0.0.0"}]}`, "$.ip[0].cidr"},
		{"cidr not a string", `{"ip":[{"cidr":24}]}`, "$.ip[0].cidr"},
		{"$or not an array", `{"$or":{"a":["x"]}}`, "$.$or"},
		{"$or with one object", `{"$or":[{"a":["x"]}]}`, "$.$or"},
		{"$or with a string", `{"$or":[{"a":["x"]},"b"]}`, "$.$or[1]"},
		{"$or with an empty object", `{"$or":[{"a":["x"]},{}]}`, "$.$or[1]"},
		{"operator as a field inside $or", `{"$or":[{"a":["x"]},{"prefix":["b"]}]}`, "$.$or[1].prefix"},
		{"error inside $or", `{"$or":[{"a":["x"]},{"b":"y"}]}`, "$.$or[1].b"},
		{"huge number", `{"n":[1e999]}`, "$.n[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.pattern))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Compile(%s) = %v, want an *Error", tt.pattern, err)
			}
			if diff := cmp.Diff(tt.want, pe.Path); diff != "" {
				t.Errorf("path (-want +got):\n%s\n(error: %v)", diff, err)
			}
			if pe.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestCompileErrorMessage(t *testing.T) {
	_, err := Compile([]byte(`{"detail":{"state":[{"prefix":1}]}}`))
	want := "invalid event pattern at $.detail.state[0].prefix: must be a string or {\"equals-ignore-case\": string}"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

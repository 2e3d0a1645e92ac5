package eventpattern

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatch compiles arbitrary patterns and matches arbitrary events: it
// must never panic, a compiled pattern must decide every JSON object, and
// the answer must not depend on anything but its inputs.
func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{`{"source":["aws.ec2"]}`, ec2Event},
		{`{"detail":{"state":[{"anything-but":{"prefix":"init"}}],"c-count":[{"numeric":[">",0,"<=",5]}]}}`, ec2Event},
		{`{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}],"x":[{"exists":false}]}}`, ec2Event},
		{`{"a":[{"wildcard":"x*y\\*z"}],"$or":[{"b":[1]},{"c":[null,true]}]}`, `{"a":"xqy*z","c":[true]}`},
		{`{"employees":{"firstName":["Anna"],"lastName":[{"suffix":{"equals-ignore-case":"TH"}}]}}`, employees},
		{`{"a":[{"anything-but":{"wildcard":["*b","c*"]}}],"b":{"c":[{"exists":true}]}}`, `{"a":[["q"]],"b":[{"c":null},5]}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Compile([]byte(pattern))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Compile error %T is not an *Error: %v", err, err)
			}
			return
		}
		got, err := p.Match([]byte(event))
		if err != nil {
			return
		}
		if again, _ := p.Match([]byte(event)); again != got {
			t.Fatalf("Match is not deterministic for %s on %s", pattern, event)
		}
	})
}

// FuzzWildcard checks wildcard matching against the equivalent regular
// expression.
func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"Simple*Service", "Simple Notification Service"}, {"a\\*b*", "a*bc"},
		{"*/lib/*", "/usr/lib/x"}, {"ab*ba", "aba"}, {"*", ""}, {"a\\\\*", "a\\"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		// The regexp package reads invalid UTF-8 as U+FFFD: compare on
		// valid text only; and keep its quadratic matching quick.
		if !utf8.ValidString(s) || !utf8.ValidString(pattern) || len(s) > 1<<10 || len(pattern) > 1<<8 {
			return
		}
		g, err := compileGlob(pattern, "$")
		if err != nil {
			return
		}
		quoted := make([]string, len(g.parts))
		for i, p := range g.parts {
			quoted[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^(?s:` + strings.Join(quoted, ".*") + `)$`)
		if got, want := g.match(s), re.MatchString(s); got != want {
			t.Fatalf("wildcard %q on %q = %v, regexp %s says %v", pattern, s, got, re, want)
		}
	})
}

// FuzzTransform applies arbitrary templates and paths to arbitrary events.
func FuzzTransform(f *testing.F) {
	f.Add(`{"i": <instance>, "s": "<state> \"<instance>\"", "e": <aws.events.event>}`, "$.detail.state", instanceEvent)
	f.Add(`"<aws.events.event.json>"`, "$.resources[*]", `{"resources":[1,{"a":"<x>"}]}`)
	f.Add(`<`, "$.*", `[]`)
	f.Fuzz(func(t *testing.T, template, path, event string) {
		in := Input{Transformer: &InputTransformer{Template: template,
			PathsMap: map[string]string{"instance": path, "state": "$.detail.state"}}}
		if tr, err := CompileInput(in); err == nil {
			_, _ = tr.Apply([]byte(event), meta)
		}
		if tr, err := CompileInput(Input{InputPath: path}); err == nil {
			_, _ = tr.Apply([]byte(event), meta)
		}
	})
}

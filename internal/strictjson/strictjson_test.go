package strictjson

import (
	"strings"
	"testing"
)

type doc struct {
	BaseURL string            `json:"baseUrl"`
	Port    int               `json:"port"`
	Headers map[string]string `json:"headers"`
	Inner   struct {
		Path string `json:"path"`
	} `json:"inner"`
}

func TestDecode(t *testing.T) {
	const secret = "sk_live_do_not_echo_me"
	for _, tc := range []struct {
		rule, in, want string
	}{
		{"a valid document decodes", `{"baseUrl":"https://x","port":1,"inner":{"path":"/p"}}`, ""},
		{"an unknown member is refused", `{"baseUrl":"x","nope":"` + secret + `"}`, `unknown field "/nope"`},
		{"names are case-sensitive", `{"baseURL":"` + secret + `"}`, `unknown field "/baseURL"`},
		{"a duplicate member is refused", `{"baseUrl":"a","baseUrl":"` + secret + `"}`, `duplicate member "/baseUrl"`},
		{"an unknown nested member is refused", `{"inner":{"Path":"x"}}`, `unknown field "/inner/Path"`},
		{"a wrong type names the member, not the value", `{"port":"` + secret + `"}`, `"/port" must be a whole number`},
		{"a syntax error gives the offset", `{"baseUrl":"` + secret + `" "port":1}`, "malformed JSON at byte"},
		{"trailing data is refused", `{"port":1} {"port":2}`, "malformed JSON at byte"},
		{"empty input is refused", ``, "truncated or empty JSON"},
		{"a top-level array is refused", `["` + secret + `"]`, "the top level must be an object"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tc.in), &d)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error quotes the input: %v", err)
			}
		})
	}
}

package httpapi

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"text/template"

	"github.com/theory/jsonpath"

	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// Config is the master secret's JSON. Everything but MasterKey is non-secret
// configuration; templates are Go text/template strings.
type Config struct {
	// MasterKey may create, list and revoke keys. Templates reach it as
	// {{.MasterKey}}. Required.
	MasterKey string `json:"masterKey"`
	// BaseURL is prefixed to every path. It must be https, except on a
	// loopback host (127.0.0.0/8, ::1, localhost). Required.
	BaseURL string `json:"baseUrl"`
	// KeyName names each minted key and must contain {{.Token}}, so that a
	// retried create finds the key minted for its token. Default "rotor-{{.Token}}".
	KeyName string `json:"keyName"`
	// Headers are sent with create, list and revoke (not verify), e.g.
	// {"Authorization": "Bearer {{.MasterKey}}"}.
	Headers map[string]string `json:"headers"`
	// TimeoutSeconds bounds each request. Default 10.
	TimeoutSeconds int `json:"timeoutSeconds"`

	Create CreateCall `json:"create"`
	List   ListCall   `json:"list"`
	Revoke RevokeCall `json:"revoke"`
	Verify VerifyCall `json:"verify"`
	Secret Layout     `json:"secret"`
}

// Call is one HTTP request. Path, header values and the string leaves of Body
// are templates; values substituted into Path are path-escaped.
type Call struct {
	Method       string            `json:"method"`
	Path         string            `json:"path"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         any               `json:"body,omitempty"`
	ExpectStatus []int             `json:"expectStatus,omitempty"`
}

// CreateCall mints a key. Template data: MasterKey, Token, KeyName, OldKeyID.
type CreateCall struct {
	Call
	// KeyPath and IDPath are JSONPath (RFC 9535) queries into the response
	// for the new key's value and id. Defaults "$.secret" and "$.id".
	KeyPath string `json:"keyPath"`
	IDPath  string `json:"idPath"`
}

// ListCall lists keys, so that keys minted for a token can be found after a
// lost response. Template data: MasterKey, Token, KeyName.
type ListCall struct {
	Call
	// ItemsPath selects the keys in the response (default "$.keys[*]");
	// NamePath and IDPath are queries into each item (defaults "$.name",
	// "$.id"). KeyPath, when the API shows key values in lists, lets a retried
	// create reuse the key it finds instead of revoking it and minting again.
	ItemsPath string `json:"itemsPath"`
	NamePath  string `json:"namePath"`
	IDPath    string `json:"idPath"`
	KeyPath   string `json:"keyPath,omitempty"`
}

// RevokeCall deletes or disables a key. Template data: MasterKey, KeyID, Token.
type RevokeCall struct {
	Call
	// GoneStatus are answers meaning the key is already gone, which is
	// success. Default [404, 410].
	GoneStatus []int `json:"goneStatus,omitempty"`
	// Unminted lets expire revoke a key rotor did not mint (the key a
	// secret held before its first rotation) by the id in the secret's
	// value. That id is the secret owner's to write: with this set, the
	// owner of any secret this master serves could name the first key of
	// another secret it serves. Default false: such a version's expire
	// fails (Rotor.InvalidInput) and the key is revoked by hand, or the
	// secret starts with no key and rotor mints the first.
	Unminted bool `json:"unminted,omitempty"`
}

// VerifyCall proves a key works using only that key. Template data: Key,
// KeyID; the master key is not available to it. Default headers are not sent.
type VerifyCall struct {
	Call
	// RejectStatus are answers meaning the key does not work. Default [401, 403].
	// Any other unexpected status except 429 and 5xx also fails verification.
	RejectStatus []int `json:"rejectStatus,omitempty"`
}

// Layout says where the managed secret's JSON keeps the key and its id.
type Layout struct {
	KeyField string `json:"keyField"` // default "apiKey"
	IDField  string `json:"idField"`  // default "keyId"
}

// Template data per call: each call sees only what it may use.
type (
	mintData   struct{ MasterKey, Token, KeyName, OldKeyID string }
	listData   struct{ MasterKey, Token, KeyName string }
	revokeData struct{ MasterKey, KeyID, Token string }
	verifyData struct{ Key, KeyID string }
)

// parseConfig decodes and validates the master secret. Errors are
// InvalidInput, name the setting, and never quote the document.
func parseConfig(master []byte) (*Config, error) {
	if len(master) == 0 {
		return nil, invalid("the master secret is empty; it must hold the httpapi configuration JSON")
	}
	var c Config
	if err := strictjson.Decode(master, &c); err != nil {
		return nil, invalid("master secret is not valid httpapi configuration: %v", err)
	}
	c.defaults()
	if c.MasterKey == "" {
		return nil, invalid("master secret: masterKey is required")
	}
	if err := checkBaseURL(c.BaseURL); err != nil {
		return nil, err
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 300 {
		return nil, invalid("master secret: timeoutSeconds must be between 1 and 300")
	}
	n1, err1 := render("keyName", c.KeyName, listData{Token: "11111111-1111-4111-8111-111111111111"})
	n2, err2 := render("keyName", c.KeyName, listData{Token: "22222222-2222-4222-8222-222222222222"})
	if err := firstErr(err1, err2); err != nil {
		return nil, err
	}
	if n1 == n2 || !strings.Contains(n1, "11111111-1111-4111-8111-111111111111") {
		return nil, invalid("master secret: keyName must contain {{.Token}} so a retried create can find its key")
	}
	checks := []struct {
		name string
		call Call
		data any
	}{
		{"create", c.Create.Call, mintData{}},
		{"list", c.List.Call, listData{}},
		{"revoke", c.Revoke.Call, revokeData{}},
		{"verify", c.Verify.Call, verifyData{}},
	}
	for _, ch := range checks {
		if err := checkCall(ch.name, ch.call, ch.data, c.Headers); err != nil {
			return nil, err
		}
	}
	for name, p := range map[string]string{
		"create.keyPath": c.Create.KeyPath, "create.idPath": c.Create.IDPath,
		"list.itemsPath": c.List.ItemsPath, "list.namePath": c.List.NamePath, "list.idPath": c.List.IDPath,
		"list.keyPath": c.List.KeyPath,
	} {
		if p == "" {
			continue
		}
		if _, err := jsonpath.Parse(p); err != nil {
			return nil, invalid("master secret: %s %q is not a JSONPath query", name, p)
		}
	}
	if c.Secret.KeyField == c.Secret.IDField || c.Secret.KeyField == metaField || c.Secret.IDField == metaField {
		return nil, invalid("master secret: secret.keyField and secret.idField must differ from each other and from %q", metaField)
	}
	return &c, nil
}

func (c *Config) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defInts := func(s *[]int, v ...int) {
		if len(*s) == 0 {
			*s = v
		}
	}
	def(&c.KeyName, "rotor-{{.Token}}")
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = 10
	}
	def(&c.Create.Method, "POST")
	def(&c.Create.KeyPath, "$.secret")
	def(&c.Create.IDPath, "$.id")
	defInts(&c.Create.ExpectStatus, 200, 201)
	def(&c.List.Method, "GET")
	def(&c.List.ItemsPath, "$.keys[*]")
	def(&c.List.NamePath, "$.name")
	def(&c.List.IDPath, "$.id")
	defInts(&c.List.ExpectStatus, 200)
	def(&c.Revoke.Method, "DELETE")
	defInts(&c.Revoke.ExpectStatus, 200, 202, 204)
	defInts(&c.Revoke.GoneStatus, 404, 410)
	def(&c.Verify.Method, "GET")
	defInts(&c.Verify.ExpectStatus, 200)
	defInts(&c.Verify.RejectStatus, 401, 403)
	def(&c.Secret.KeyField, "apiKey")
	def(&c.Secret.IDField, "keyId")
}

// checkCall renders every template of a call with empty data of its type, so
// a template that uses a field the call may not see (the master key in
// verify) is refused before anything is sent.
func checkCall(name string, call Call, data any, common map[string]string) error {
	if call.Path == "" {
		return invalid("master secret: %s.path is required", name)
	}
	if !strings.HasPrefix(call.Path, "/") {
		return invalid("master secret: %s.path must start with /", name)
	}
	if _, err := render(name+".path", call.Path, data); err != nil {
		return err
	}
	hs := call.Headers
	if name != "verify" {
		hs = merge(common, call.Headers)
	}
	for k, v := range hs {
		if _, err := render(name+".headers."+k, v, data); err != nil {
			return err
		}
	}
	if _, err := renderJSON(name+".body", call.Body, data); err != nil {
		return err
	}
	for _, s := range call.ExpectStatus {
		if s < 100 || s > 599 {
			return invalid("master secret: %s.expectStatus %d is not an HTTP status", name, s)
		}
	}
	return nil
}

// checkKeyID refuses a key id that could address something else once
// substituted into a path: ids are 1 to 256 unreserved URL characters
// (RFC 3986: letters, digits, - . _ ~), and never "." or "..", which
// path-escaping leaves as they are.
func checkKeyID(what, id string) error {
	if id == "" || len(id) > 256 || id == "." || id == ".." ||
		strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" {
		return invalid("%s is not a key id: ids are 1 to 256 letters, digits and -._~, and not \".\" or \"..\"", what)
	}
	return nil
}

func checkBaseURL(raw string) error {
	if raw == "" {
		return invalid("master secret: baseUrl is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return invalid("master secret: baseUrl %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return invalid("master secret: baseUrl must use https (plain http is allowed only on loopback), got host %q", u.Hostname())
	default:
		return invalid("master secret: baseUrl scheme %q is not https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func render(name, text string, data any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", invalid("master secret: %s is not a valid template: %s", name, templateErr(err))
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", invalid("master secret: %s uses a value this request cannot see: %s", name, templateErr(err))
	}
	return b.String(), nil
}

// templateErr reduces a template error to its reason. Template errors quote
// the template, never data, so they are safe; the reduction keeps them short.
func templateErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// renderJSON renders every string leaf of v, so substituted values are
// JSON-escaped by construction.
func renderJSON(name string, v any, data any) (any, error) {
	switch x := v.(type) {
	case string:
		return render(name, x, data)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := renderJSON(name+"."+k, e, data)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := renderJSON(fmt.Sprintf("%s[%d]", name, i), e, data)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func invalid(format string, args ...any) error {
	return rotorerr.New(rotorerr.InvalidInput, "provider httpapi: "+fmt.Sprintf(format, args...))
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/webhook"
)

// Test keys. The GitHub alert's secret is what the fake GitHub API returns.
var keys = webhook.Keys{
	GitHub:      "gh-webhook-secret-5f0c1d2e3a4b",
	GitGuardian: "gg-signature-token-9a8b7c6d5e4f",
	Generic:     "rotor-generic-key-0e1d2c3b4a59",
	GitHubToken: "github_pat_11ABCDEFG0123456789_testtokenvalue",
}

const githubSecret = "adafruit_io_0123456789abcdef0123456789abcdef"

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// recorder is the bus: it keeps what was published.
type recorder struct {
	mu      sync.Mutex
	details []string
	fail    error
	panic   string // Publish panics with this message
}

func (r *recorder) Publish(_ context.Context, details [][]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.panic != "" {
		panic(r.panic)
	}
	if r.fail != nil {
		return r.fail
	}
	for _, d := range details {
		r.details = append(r.details, string(d))
	}
	return nil
}

// memDedupe is the ledger's Claim/Release in memory, for these unit tests;
// internal/rotorlocal tests the handler on the real table over the wire.
type memDedupe struct {
	mu   sync.Mutex
	keys map[string]time.Time // key -> expiry
	fail error
}

func (d *memDedupe) Claim(_ context.Context, key string, ttl time.Duration, _ map[string]string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return false, d.fail
	}
	if exp, ok := d.keys[key]; ok && !now.After(exp) {
		return false, nil
	}
	d.keys[key] = now.Add(ttl)
	return true, nil
}

func (d *memDedupe) Release(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.keys, key)
	return nil
}

type fixture struct {
	h       *webhook.Handler
	dedupe  *memDedupe
	bus     *recorder
	github  *httptest.Server
	ghCalls int
	ghFail  bool
	logs    *bytes.Buffer
	keysErr error
	keysMod func(*webhook.Keys)
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{bus: &recorder{}, logs: &bytes.Buffer{}, dedupe: &memDedupe{keys: map[string]time.Time{}}}
	f.github = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ghCalls++
		if r.Header.Get("Authorization") != "Bearer "+keys.GitHubToken || r.URL.Path != "/repos/Codertocat/Hello-World/secret-scanning/alerts/191" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		if f.ghFail {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, `{"number":191,"state":"open","secret_type":"adafruit_io_key","secret":%q}`, githubSecret)
	}))
	t.Cleanup(f.github.Close)
	h, err := webhook.New(webhook.Options{
		Keys: func(context.Context) (*webhook.Keys, error) {
			if f.keysErr != nil {
				return nil, f.keysErr
			}
			k := keys
			if f.keysMod != nil {
				f.keysMod(&k)
			}
			return &k, nil
		},
		Publisher: f.bus, Dedupe: f.dedupe, GitHubAPI: f.github.URL, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../test/testdata/leak", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(key string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write(p)
	}
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func githubRequest(body []byte, event, delivery, signature string) *webhook.Request {
	return &webhook.Request{Method: "POST", Path: "/github", Body: body, Headers: map[string]string{
		"x-hub-signature-256": signature, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}}
}

func ggRequest(body []byte, at time.Time, signature string) *webhook.Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	if signature == "" {
		signature = sign(ts+keys.GitGuardian, body)
	}
	return &webhook.Request{Method: "POST", Path: "/gitguardian", Body: body,
		Headers: map[string]string{"Gitguardian-Signature": signature, "Timestamp": ts}}
}

// genericRequest signs body with key as sent at `at`.
func genericRequest(body []byte, key string, at time.Time) *webhook.Request {
	ts, sig := leak.SignGeneric([]byte(key), body, at)
	return &webhook.Request{Method: "POST", Path: "/generic", Body: body, Headers: map[string]string{
		leak.GenericTimestampHeader: ts, leak.GenericSignatureHeader: sig}}
}

// upper writes a request's signature header in capitals: the same
// signature, spelt otherwise.
func upper(r *webhook.Request, header string) *webhook.Request {
	c := *r
	c.Headers = map[string]string{}
	for k, v := range r.Headers {
		if k == header {
			v = "sha256=" + strings.ToUpper(strings.TrimPrefix(v, "sha256="))
		}
		c.Headers[k] = v
	}
	return &c
}

func TestWebhook(t *testing.T) {
	gh := sample(t, "github-secret-scanning-reopened.json")
	ghResolved := sample(t, "github-resolved-near-miss.json")
	gg := sample(t, "gitguardian-incident-triggered.json")
	ggResolved := sample(t, "gitguardian-incident-resolved-near-miss.json")
	generic := []byte(`{"fingerprint":"` + leak.SHA256([]byte("sk_live_leaked_0123456789abcdef")) + `","reference":"INC-7"}`)
	big := bytes.Repeat([]byte("x"), leak.MaxBodyBytes+1)
	ghDetails := []string{`{"trigger":"leak","reason":"adafruit_io_key","leak":{"source":"github","fingerprint":"` +
		leak.SHA256([]byte(githubSecret)) + `","reference":"https://github.com/Codertocat/Hello-World/security/secret-scanning/191"}}`}
	ggDetails := []string{`{"trigger":"leak","reason":"generic_password","leak":{"source":"gitguardian","fingerprint":"hmsl:d775db0302080c1b7516109e929dd4b214a0f353ed3b66ff2e56c47d55a102ed","reference":"https://dashboard.gitguardian.com/workspace/1/incidents/xxx"}}`}

	type want struct {
		Status  int
		Details []string // the state machine inputs published by all requests
		Error   string   // part of the response's error
		Log     string   // part of the logs (why a request was refused)
	}
	ggAt := now.Add(-time.Second)
	cases := []struct {
		name  string
		setup func(f *fixture)
		reqs  []*webhook.Request // all but the last must be accepted
		want  want
	}{
		{name: "GitHub alert: the secret is fetched and only its fingerprint published",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh))},
			want: want{Status: 202, Details: ghDetails}},
		{name: "GitHub: wrong signature",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign("another-secret", gh))},
			want: want{Status: 401, Error: "unauthorized", Log: "does not match"}},
		{name: "GitHub: missing signature",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", "")},
			want: want{Status: 401, Error: "unauthorized", Log: "X-Hub-Signature-256 header is missing"}},
		{name: "GitHub: replayed delivery",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh)), githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh))},
			want: want{Status: 202, Details: ghDetails, Log: "duplicate delivery ignored"}},
		{name: "GitHub: replayed with a new delivery id",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh)), githubRequest(gh, "secret_scanning_alert", "d-new", sign(keys.GitHub, gh))},
			want: want{Status: 202, Details: ghDetails, Log: "duplicate delivery ignored"}},
		{name: "GitHub: replayed with no delivery id",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh)), githubRequest(gh, "secret_scanning_alert", "", sign(keys.GitHub, gh))},
			want: want{Status: 202, Details: ghDetails, Log: "duplicate delivery ignored"}},
		{name: "GitHub: replayed with the signature in capitals",
			reqs: []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d1", sign(keys.GitHub, gh)),
				upper(githubRequest(gh, "secret_scanning_alert", "d2", sign(keys.GitHub, gh)), "x-hub-signature-256")},
			want: want{Status: 202, Details: ghDetails, Log: "duplicate delivery ignored"}},
		{name: "GitHub: a resolved alert starts nothing",
			reqs: []*webhook.Request{githubRequest(ghResolved, "secret_scanning_alert", "d2", sign(keys.GitHub, ghResolved))},
			want: want{Status: 202}},
		{name: "GitHub: the API fails, so GitHub may redeliver",
			setup: func(f *fixture) { f.ghFail = true },
			reqs:  []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d3", sign(keys.GitHub, gh))},
			want:  want{Status: 503, Error: "status 500"}},
		{name: "GitGuardian incident: its HasMySecretLeaked hash is published",
			reqs: []*webhook.Request{ggRequest(gg, now.Add(-10*time.Second), "")},
			want: want{Status: 202, Details: ggDetails}},
		{name: "GitGuardian: stale timestamp",
			reqs: []*webhook.Request{ggRequest(gg, now.Add(-6*time.Minute), "")},
			want: want{Status: 401, Error: "unauthorized", Log: "older than the replay window"}},
		{name: "GitGuardian: timestamp from the future",
			reqs: []*webhook.Request{ggRequest(gg, now.Add(6*time.Minute), "")},
			want: want{Status: 401, Error: "unauthorized", Log: "ahead of the clock"}},
		{name: "GitGuardian: replayed within the window",
			reqs: []*webhook.Request{ggRequest(gg, ggAt, ""), ggRequest(gg, ggAt, "")},
			want: want{Status: 202, Details: ggDetails, Log: "duplicate delivery ignored"}},
		{name: "GitGuardian: replayed with the signature in capitals",
			reqs: []*webhook.Request{ggRequest(gg, ggAt, ""), upper(ggRequest(gg, ggAt, ""), "Gitguardian-Signature")},
			want: want{Status: 202, Details: ggDetails, Log: "duplicate delivery ignored"}},
		{name: "GitGuardian: signature over another body",
			reqs: []*webhook.Request{ggRequest(gg, now, sign(strconv.FormatInt(now.Unix(), 10)+keys.GitGuardian, ggResolved))},
			want: want{Status: 401, Error: "unauthorized", Log: "does not match"}},
		{name: "GitGuardian: a resolved incident starts nothing",
			reqs: []*webhook.Request{ggRequest(ggResolved, now, "")},
			want: want{Status: 202}},
		{name: "generic alert",
			reqs: []*webhook.Request{genericRequest(generic, keys.Generic, now)},
			want: want{Status: 202, Details: []string{`{"trigger":"leak","leak":{"source":"generic","fingerprint":"` + leak.SHA256([]byte("sk_live_leaked_0123456789abcdef")) + `","reference":"INC-7"}}`}}},
		{name: "generic: replayed",
			reqs: []*webhook.Request{genericRequest(generic, keys.Generic, now), upper(genericRequest(generic, keys.Generic, now), leak.GenericSignatureHeader)},
			want: want{Status: 202, Details: []string{`{"trigger":"leak","leak":{"source":"generic","fingerprint":"` + leak.SHA256([]byte("sk_live_leaked_0123456789abcdef")) + `","reference":"INC-7"}}`},
				Log: "duplicate delivery ignored"}},
		{name: "generic: captured and replayed after the window",
			reqs: []*webhook.Request{genericRequest(generic, keys.Generic, now.Add(-6*time.Minute))},
			want: want{Status: 401, Error: "unauthorized", Log: "older than the replay window"}},
		{name: "generic: the old signature without a timestamp",
			reqs: []*webhook.Request{{Method: "POST", Path: "/generic", Body: generic, Headers: map[string]string{leak.GenericSignatureHeader: sign(keys.Generic, generic)}}},
			want: want{Status: 401, Error: "unauthorized", Log: "X-Rotor-Timestamp header is missing"}},
		{name: "generic: signed with the GitHub key",
			reqs: []*webhook.Request{genericRequest(generic, keys.GitHub, now)},
			want: want{Status: 401, Error: "unauthorized", Log: "does not match"}},
		{name: "generic: malformed but signed",
			reqs: []*webhook.Request{genericRequest([]byte(`{"fingerprint":"md5:1"}`), keys.Generic, now)},
			want: want{Status: 400, Error: "fingerprint"}},
		{name: "a source whose key is not configured says no more than any refusal",
			setup: func(f *fixture) { f.keysMod = func(k *webhook.Keys) { k.GitGuardian = "" } },
			reqs:  []*webhook.Request{ggRequest(gg, now, "")},
			want:  want{Status: 401, Error: "unauthorized", Log: "no signature token is configured"}},
		{name: "oversized body",
			reqs: []*webhook.Request{githubRequest(big, "secret_scanning_alert", "d4", sign(keys.GitHub, big))},
			want: want{Status: 413}},
		{name: "GET", reqs: []*webhook.Request{{Method: "GET", Path: "/github"}}, want: want{Status: 405}},
		{name: "unknown path", reqs: []*webhook.Request{{Method: "POST", Path: "/slack"}}, want: want{Status: 404}},
		{name: "keys unavailable",
			setup: func(f *fixture) { f.keysErr = errors.New("AccessDeniedException") },
			reqs:  []*webhook.Request{githubRequest(gh, "secret_scanning_alert", "d5", sign(keys.GitHub, gh))},
			want:  want{Status: 503, Error: "keys unavailable"}},
		{name: "ledger unavailable",
			setup: func(f *fixture) { f.dedupe.fail = errors.New("ProvisionedThroughputExceededException") },
			reqs:  []*webhook.Request{genericRequest(generic, keys.Generic, now)},
			want:  want{Status: 503, Error: "cannot record the delivery"}},
		{name: "bus unavailable",
			setup: func(f *fixture) { f.bus.fail = errors.New("ThrottlingException") },
			reqs:  []*webhook.Request{genericRequest(generic, keys.Generic, now)},
			want:  want{Status: 503, Error: "redeliver"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			var resp webhook.Response
			for i, r := range c.reqs {
				resp = f.h.Handle(context.Background(), r)
				if i < len(c.reqs)-1 && resp.Status != 202 {
					t.Fatalf("request %d: %d %s", i, resp.Status, resp.Body)
				}
			}
			var body struct{ Error string }
			json.Unmarshal([]byte(resp.Body), &body)
			if !strings.Contains(body.Error, c.want.Error) {
				t.Errorf("error %q does not contain %q", body.Error, c.want.Error)
			}
			if resp.Status == 401 && resp.Body != `{"error":"unauthorized"}` {
				t.Errorf("a refusal says more than \"unauthorized\": %s", resp.Body)
			}
			if !strings.Contains(f.logs.String(), c.want.Log) {
				t.Errorf("the logs do not say %q:\n%s", c.want.Log, f.logs)
			}
			got := want{Status: resp.Status, Details: f.bus.details, Error: c.want.Error, Log: c.want.Log}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nresponse: %s", diff, resp.Body)
			}
			for _, secret := range []string{keys.GitHub, keys.GitGuardian, keys.Generic, keys.GitHubToken, githubSecret} {
				if strings.Contains(resp.Body+f.logs.String()+strings.Join(f.bus.details, ""), secret) {
					t.Errorf("a secret appears in the response, the logs or the events")
				}
			}
		})
	}
}

func TestGitHubRedeliveryAfterFailure(t *testing.T) {
	f := newFixture(t)
	gh := sample(t, "github-secret-scanning-reopened.json")
	f.ghFail = true
	if r := f.h.Handle(context.Background(), githubRequest(gh, "secret_scanning_alert", "d9", sign(keys.GitHub, gh))); r.Status != 503 {
		t.Fatalf("first delivery: %d", r.Status)
	}
	f.ghFail = false
	if r := f.h.Handle(context.Background(), githubRequest(gh, "secret_scanning_alert", "d9", sign(keys.GitHub, gh))); r.Status != 202 || len(f.bus.details) != 1 {
		t.Fatalf("redelivery: %d %s, %d events", r.Status, r.Body, len(f.bus.details))
	}
}

func TestTokenGoesOnlyToTheConfiguredHost(t *testing.T) {
	f := newFixture(t)
	// A signed payload whose repository URL points elsewhere: the token still
	// goes to the configured API, which knows no such repository.
	gh := bytes.Replace(sample(t, "github-secret-scanning-reopened.json"), []byte("https://api.github.com/repos/Codertocat/Hello-World"), []byte("https://evil.example/repos/Codertocat/Hello-World"), -1)
	r := f.h.Handle(context.Background(), githubRequest(gh, "secret_scanning_alert", "d10", sign(keys.GitHub, gh)))
	// Had the handler followed the payload's URL, the request would have
	// gone to evil.example (and failed: no network); it asked the
	// configured API, once, and published the fingerprint.
	if r.Status != 202 || f.ghCalls != 1 || len(f.bus.details) != 1 {
		t.Errorf("status %d %s, %d calls to the configured API, %d events", r.Status, r.Body, f.ghCalls, len(f.bus.details))
	}
}

func FuzzHandle(f *testing.F) {
	for _, name := range []string{"github-secret-scanning-reopened.json", "gitguardian-incident-triggered.json", "generic-alert.json"} {
		b, err := os.ReadFile(filepath.Join("../../test/testdata/leak", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add("/github", "secret_scanning_alert", b, true)
		f.Add("/gitguardian", "", b, true)
		f.Add("/generic", "", b, false)
	}
	f.Fuzz(func(t *testing.T, path, event string, body []byte, signed bool) {
		fx := newFixture(t)
		headers := map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": "x", "Timestamp": strconv.FormatInt(now.Unix(), 10)}
		if signed {
			headers["X-Hub-Signature-256"] = sign(keys.GitHub, body)
			headers[leak.GenericTimestampHeader], headers[leak.GenericSignatureHeader] = leak.SignGeneric([]byte(keys.Generic), body, now)
			headers["Gitguardian-Signature"] = sign(headers["Timestamp"]+keys.GitGuardian, body)
		}
		r := fx.h.Handle(context.Background(), &webhook.Request{Method: "POST", Path: path, Headers: headers, Body: body})
		switch r.Status {
		case 202, 400, 401, 404, 413, 503:
		default:
			t.Fatalf("status %d", r.Status)
		}
		if r.Status != 202 && len(fx.bus.details) > 0 {
			t.Fatalf("status %d but %d events published", r.Status, len(fx.bus.details))
		}
	})
}

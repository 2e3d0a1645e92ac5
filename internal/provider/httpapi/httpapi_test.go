package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/providertest"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

const master = "mk_test_7f3a9c2e1b4d6f8a0c2e4b6d"

func newServer(t *testing.T) (*keyservice.Server, *httptest.Server) {
	ks := keyservice.New(master)
	srv := httptest.NewServer(ks.Handler())
	t.Cleanup(srv.Close)
	return ks, srv
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name: Name,
		Setup: func(t *testing.T) *providertest.Case {
			ks, srv := newServer(t)
			old := ks.Mint("initial")
			cur, _ := json.Marshal(map[string]string{"apiKey": old.Secret, "keyId": old.ID, "owner": "billing"})
			return &providertest.Case{
				Provider: &Provider{}, SecretID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:api-AbCdEf",
				Current: cur, Master: []byte(ks.HTTPAPIConfig(srv.URL)),
				Live: func(v []byte) bool {
					k, err := provider.Field(v, "apiKey")
					return err == nil && ks.Accepts(k)
				},
				Secrets: ks.Minted,
			}
		},
		BadOptions: map[string]provider.Options{"any option": {"length": "40"}},
	})
}

// config returns the keyservice configuration with one change applied.
func config(t *testing.T, base string, change func(map[string]any)) []byte {
	var c map[string]any
	if err := json.Unmarshal([]byte(keyservice.New(master).HTTPAPIConfig(base)), &c); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(c)
	}
	b, _ := json.Marshal(c)
	return b
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		base   string
		change func(map[string]any)
		want   string
	}{
		{"https is required off loopback", "http://api.example.com", nil, "must use https"},
		{"http on 127.0.0.1 is allowed", "http://127.0.0.1:9", nil, ""},
		{"http on localhost is allowed", "http://localhost:9", nil, ""},
		{"http on ::1 is allowed", "http://[::1]:9", nil, ""},
		{"other schemes are refused", "ftp://api.example.com", nil, "scheme"},
		{"https anywhere is allowed", "https://api.example.com", nil, ""},
		{"keyName must contain the token", "https://a.example", func(c map[string]any) { c["keyName"] = "rotor-key" }, "keyName must contain {{.Token}}"},
		{"verify may not use the master key", "https://a.example", func(c map[string]any) {
			c["verify"].(map[string]any)["headers"] = map[string]string{"X-Admin": "{{.MasterKey}}"}
		}, "verify.headers.X-Admin uses a value this request cannot see"},
		{"unknown fields are refused", "https://a.example", func(c map[string]any) { c["baseURL"] = "x" }, `unknown field "/baseURL"`},
		{"masterKey is required", "https://a.example", func(c map[string]any) { delete(c, "masterKey") }, "masterKey is required"},
		{"paths must be absolute", "https://a.example", func(c map[string]any) { c["revoke"].(map[string]any)["path"] = "keys" }, "revoke.path must start with /"},
		{"JSONPath queries must parse", "https://a.example", func(c map[string]any) { c["create"].(map[string]any)["keyPath"] = "$..[" }, "create.keyPath"},
		{"a bad template is named", "https://a.example", func(c map[string]any) { c["create"].(map[string]any)["path"] = "/v1/{{.Nope" }, "create.path is not a valid template"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := parseConfig(config(t, tc.base, tc.change))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("parseConfig: %v", err)
				}
				return
			}
			if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseConfig = %v, want InvalidInput containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), master) {
				t.Fatal("error contains the master key")
			}
		})
	}
	t.Run("malformed JSON never echoes the document", func(t *testing.T) {
		_, err := parseConfig([]byte(`{"masterKey": "` + master + `" "baseUrl": 1}`))
		if !errors.Is(err, rotorerr.InvalidInput) || strings.Contains(err.Error(), master) {
			t.Fatalf("got %v", err)
		}
	})
}

// lossy forwards requests and, for the call it is told to, drops the
// response after the server has acted on it.
type lossy struct {
	next  http.RoundTripper
	match string // "METHOD /path-prefix"
	left  atomic.Int32
}

func (l *lossy) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && strings.HasPrefix(r.Method+" "+r.URL.Path, l.match) && l.left.Add(-1) >= 0 {
		resp.Body.Close()
		return nil, fmt.Errorf("connection reset by peer (injected)")
	}
	return resp, err
}

func TestLostCreateResponseIsRecoveredByToken(t *testing.T) {
	ks, srv := newServer(t)
	l := &lossy{next: http.DefaultTransport, match: "POST /v1/keys"}
	l.left.Store(1)
	p := &Provider{Client: &http.Client{Transport: l}}
	req := &provider.CreateRequest{Token: "3f0c8a52-2b7e-4d21-9a0e-5b9f7c6d1e20", Master: []byte(ks.HTTPAPIConfig(srv.URL))}
	_, err := p.Create(context.Background(), req)
	if rotorerr.Classify(err) != rotorerr.Transient {
		t.Fatalf("Create with a lost response = %v, want Transient", err)
	}
	if got := len(ks.Live()); got != 1 {
		t.Fatalf("the server holds %d live keys after the lost response, want the 1 orphan", got)
	}
	resp, err := p.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("retried Create: %v", err)
	}
	live := ks.Live()
	key, _ := provider.Field(resp.Value, "apiKey")
	if len(live) != 1 || live[0].Secret != key {
		t.Fatalf("after the retry the server holds %d live keys; want exactly the one the retry returned", len(live))
	}
}

func TestRetryReusesKeyWhenListShowsValues(t *testing.T) {
	// An API that shows key values in lists lets a retried create reuse the key.
	ks := keyservice.New(master)
	mux := http.NewServeMux()
	mux.Handle("/", ks.Handler())
	mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": ks.Live()})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := config(t, srv.URL, func(c map[string]any) { c["list"].(map[string]any)["keyPath"] = "$.secret" })
	p := &Provider{}
	req := &provider.CreateRequest{Token: "9d5e3c1a-7b2f-4e8d-a6c4-2f1e0d9c8b70", Master: cfg}
	first, err := p.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := provider.Field(first.Value, "apiKey")
	b, _ := provider.Field(second.Value, "apiKey")
	if a != b || len(ks.Live()) != 1 || ks.Calls()["POST /v1/keys"] != 1 {
		t.Fatalf("retry minted again: same=%v live=%d posts=%d", a == b, len(ks.Live()), ks.Calls()["POST /v1/keys"])
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		status int
		want   rotorerr.Kind
	}{
		{"429 is transient", 429, rotorerr.Transient},
		{"503 is transient", 503, rotorerr.Transient},
		{"401 on a management call is a bad master key", 401, rotorerr.InvalidInput},
		{"400 is a configuration problem", 400, rotorerr.InvalidInput},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"error":"bad key %s"}`, master) // an API echoing what it was sent
			}))
			defer srv.Close()
			_, err := (&Provider{}).Create(context.Background(), &provider.CreateRequest{Token: "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", Master: config(t, srv.URL, nil)})
			if got := rotorerr.Classify(err); got != tc.want {
				t.Errorf("HTTP %d gave %v (%s), want %s", tc.status, err, got, tc.want)
			}
			if strings.Contains(err.Error(), master) {
				t.Error("the error quotes the response body, which echoes the master key")
			}
		})
	}
}

func TestVerifyNeverSendsMasterKey(t *testing.T) {
	ks := keyservice.New(master)
	var leaked atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/whoami" && strings.Contains(fmt.Sprint(r.Header), master) {
			leaked.Store(true)
		}
		ks.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	p := &Provider{}
	resp, err := p.Create(context.Background(), &provider.CreateRequest{Token: "1e2d3c4b-5a69-4877-8695-a4b3c2d1e0f0", Master: []byte(ks.HTTPAPIConfig(srv.URL))})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.Value), master) {
		t.Fatal("the managed secret's value contains the master key")
	}
	if err := p.Verify(context.Background(), &provider.VerifyRequest{Token: "x", Value: resp.Value}); err != nil {
		t.Fatal(err)
	}
	if leaked.Load() {
		t.Fatal("verify sent the master key")
	}
}

// TestRedirectsAreNotFollowed: not by the default client, nor by a
// host's client that follows redirects, whose transport the registered
// provider uses all the same.
func TestRedirectsAreNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect was followed")
	}))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	var sent atomic.Int32
	hostClient := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	registered, err := provider.NewSet(provider.Env{HTTPClient: hostClient}).Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		p        provider.Provider
		wantSent bool
	}{
		{"default client", &Provider{}, false},
		{"host's client, registered", registered, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent.Store(0)
			_, err := tc.p.Create(context.Background(), &provider.CreateRequest{Token: "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", Master: config(t, srv.URL, nil)})
			if !errors.Is(err, rotorerr.InvalidInput) {
				t.Fatalf("got %v, want InvalidInput for an unexpected 307", err)
			}
			if got := sent.Load() > 0; got != tc.wantSent {
				t.Errorf("requests through the host's transport: %v, want %v", got, tc.wantSent)
			}
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// recording wraps a key service and records every request line.
type recording struct {
	mu    sync.Mutex
	lines []string
	next  http.Handler
}

func (r *recording) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.lines = append(r.lines, req.Method+" "+req.URL.EscapedPath())
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

func (r *recording) deletes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if strings.HasPrefix(l, "DELETE ") {
			out = append(out, l)
		}
	}
	return out
}

// TestRevokeUsesWhatRotorRecorded: the key revoked for a version is the
// one the API lists under the name rotor gave it when it minted; the id in
// the version's value, which the secret's owner can edit, decides nothing
// (SECURITY.md, trust boundaries).
func TestRevokeUsesWhatRotorRecorded(t *testing.T) {
	const (
		version = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
		other   = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	)
	type want struct {
		kind     rotorerr.Kind
		text     string
		deletes  []string // request lines
		liveKeys []string // names of the keys still live
	}
	for _, tc := range []struct {
		name     string
		unminted bool
		// setup mints keys and returns the version's value.
		setup func(ks *keyservice.Server) []byte
		want  func(ks *keyservice.Server) want
	}{
		{"a version rotor minted: its own key, whatever the value says", false, func(ks *keyservice.Server) []byte {
			ks.Mint("rotor-" + version)
			victim := ks.Mint("rotor-" + other)
			v, _ := json.Marshal(map[string]string{"apiKey": "x", "keyId": victim.ID})
			return v
		}, func(ks *keyservice.Server) want {
			return want{deletes: []string{"DELETE /v1/keys/key_1"}, liveKeys: []string{"rotor-" + other}}
		}},
		{"a key id that climbs out of its path", true, func(ks *keyservice.Server) []byte {
			ks.Mint("initial")
			return []byte(`{"apiKey":"x","keyId":".."}`)
		}, func(*keyservice.Server) want {
			return want{kind: rotorerr.InvalidInput, text: `field "keyId" is not a key id`, liveKeys: []string{"initial"}}
		}},
		{"an unminted key, by default", false, func(ks *keyservice.Server) []byte {
			k := ks.Mint("initial")
			v, _ := json.Marshal(map[string]string{"apiKey": k.Secret, "keyId": k.ID})
			return v
		}, func(*keyservice.Server) want {
			return want{kind: rotorerr.InvalidInput, text: "which rotor did not mint", liveKeys: []string{"initial"}}
		}},
		{"an unminted key, the master opting in", true, func(ks *keyservice.Server) []byte {
			k := ks.Mint("initial")
			v, _ := json.Marshal(map[string]string{"apiKey": k.Secret, "keyId": k.ID})
			return v
		}, func(*keyservice.Server) want {
			return want{deletes: []string{"DELETE /v1/keys/key_1"}}
		}},
		{"an edited id naming another rotation's key", true, func(ks *keyservice.Server) []byte {
			victim := ks.Mint("rotor-" + other)
			v, _ := json.Marshal(map[string]string{"apiKey": "x", "keyId": victim.ID})
			return v
		}, func(*keyservice.Server) want {
			return want{kind: rotorerr.Unsafe, text: "a name rotor gave a key of another rotation", liveKeys: []string{"rotor-" + other}}
		}},
		{"a key that is gone", false, func(ks *keyservice.Server) []byte {
			return []byte(`{"apiKey":"x","keyId":"key_99"}`)
		}, func(*keyservice.Server) want { return want{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks := keyservice.New(master)
			rec := &recording{next: ks.Handler()}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			value := tc.setup(ks)
			cfg := config(t, srv.URL, func(c map[string]any) { c["revoke"].(map[string]any)["unminted"] = tc.unminted })
			err := (&Provider{}).Revoke(context.Background(), &provider.RevokeRequest{SecretID: "s", VersionID: version, Value: value, Master: cfg})
			w := tc.want(ks)
			if w.kind == "" && err != nil || w.kind != "" && (!errors.Is(err, w.kind) || !strings.Contains(err.Error(), w.text)) {
				t.Fatalf("Revoke = %v, want %s %q", err, w.kind, w.text)
			}
			if diff := cmp.Diff(w.deletes, rec.deletes()); diff != "" {
				t.Errorf("DELETE requests (-want +got):\n%s", diff)
			}
			var live []string
			for _, k := range ks.Live() {
				live = append(live, k.Name)
			}
			if diff := cmp.Diff(w.liveKeys, live); diff != "" {
				t.Errorf("live keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintedKeyWithBadIDIsRevoked(t *testing.T) {
	// An API answering an id that would climb out of a path: the key it
	// minted is revoked by its name, and create fails.
	ks := keyservice.New(master)
	mux := http.NewServeMux()
	mux.Handle("/", ks.Handler())
	mux.HandleFunc("POST /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		k := ks.Mint("rotor-6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "../admin", "secret": k.Secret})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, err := (&Provider{}).Create(context.Background(), &provider.CreateRequest{Token: "6b5a4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", Master: config(t, srv.URL, nil)})
	if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), "the new key's id is not a key id") {
		t.Fatalf("Create = %v, want InvalidInput about the id", err)
	}
	if n := len(ks.Live()); n != 0 {
		t.Errorf("%d keys live, want the minted one revoked", n)
	}
}

// TestTransportErrorsNameMethodAndHost: a master key that is part of the
// path (and a key id in the query) is never quoted by a transport error,
// in any encoding; the error names the call, method and host.
func TestTransportErrorsNameMethodAndHost(t *testing.T) {
	const key = `mk/+= %&?#"\'é`
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	// An API that lists the version's key and hangs up on its DELETE.
	const revokedVersion = "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9"
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, `{"keys":[{"id":"key_1","name":"rotor-%s"}]}`, revokedVersion)
			return
		}
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer hangup.Close()
	withKeyInPath := func(c map[string]any) {
		c["masterKey"] = key
		c["timeoutSeconds"] = 1
		c["list"].(map[string]any)["path"] = "/v1/{{.MasterKey}}/keys?name={{.KeyName}}"
		c["revoke"].(map[string]any)["path"] = "/v1/{{.MasterKey}}/keys/{{.KeyID}}"
	}
	for _, tc := range []struct {
		name, base string
		call       func(master []byte) error
		want       string
		timeout    bool
	}{
		{"create at a closed port", closed, func(m []byte) error {
			_, err := (&Provider{}).Create(context.Background(), &provider.CreateRequest{Token: "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", Master: m})
			return err
		}, "provider httpapi: list: GET " + strings.TrimPrefix(closed, "http://") + ": dial tcp", false},
		{"revoke at a closed port", closed, func(m []byte) error {
			return (&Provider{}).Revoke(context.Background(), &provider.RevokeRequest{Master: m, VersionID: revokedVersion, Value: []byte(`{"apiKey":"sk_x","keyId":"key_1"}`)})
		}, "provider httpapi: list: GET " + strings.TrimPrefix(closed, "http://") + ": dial tcp", false},
		{"revoke hung up on", hangup.URL, func(m []byte) error {
			return (&Provider{}).Revoke(context.Background(), &provider.RevokeRequest{Master: m, VersionID: revokedVersion, Value: []byte(`{"apiKey":"sk_x","keyId":"key_1"}`)})
		}, "provider httpapi: revoke: DELETE " + strings.TrimPrefix(hangup.URL, "http://") + ":", false},
		{"create timing out", slow.URL, func(m []byte) error {
			_, err := (&Provider{}).Create(context.Background(), &provider.CreateRequest{Token: "5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", Master: m})
			return err
		}, "provider httpapi: list: GET " + strings.TrimPrefix(slow.URL, "http://") + ": timed out", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(config(t, tc.base, withKeyInPath))
			if rotorerr.Classify(err) != rotorerr.Transient {
				t.Fatalf("got %v, want Rotor.Transient", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start %q", err, tc.want)
			}
			if tc.timeout && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a timeout does not wrap context.DeadlineExceeded: %v", err)
			}
			for _, f := range append(redact.Encodings(key), "/v1/", "key/1", "key%2F1", "rotor-") {
				if strings.Contains(err.Error(), f) {
					t.Errorf("error %q quotes %q of the path or query", err, f)
				}
			}
		})
	}
}

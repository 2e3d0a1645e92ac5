// Package keyservice is a small key-management HTTP API of the kind rotor's
// httpapi provider drives: a master key creates, lists and deletes API keys,
// and an API key is accepted only while it is live.
//
// It is a real server, not a mock: tests run rotations against it, and
// `rotor local demo` starts one on loopback. It behaves like common
// SaaS key APIs: the key's value is shown only in the create response, names
// need not be unique, deleting an unknown key is 404.
//
//	POST   /v1/keys        {"name": "..."}  -> 201 {"id", "name", "secret", "created"}
//	GET    /v1/keys                         -> 200 {"keys": [{"id", "name", "created"}]}
//	DELETE /v1/keys/{id}                    -> 204, or 404 when unknown
//	GET    /v1/whoami      (the API key)    -> 200 {"id", "name"}, or 401
//
// The management calls take "Authorization: Bearer <master key>".
package keyservice

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Key is an API key held by the server.
type Key struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`

	seq int // creation order
}

// Server is the key API. Create it with New.
type Server struct {
	master string

	mu     sync.Mutex
	seq    int
	live   map[string]Key           // by id
	minted []string                 // every secret ever issued, for leak scans in tests
	calls  map[string]int           // "METHOD /path-pattern" -> count
	gone   map[string]chan struct{} // by id, closed when the key is deleted
}

// New returns a server whose management calls require masterKey.
func New(masterKey string) *Server {
	return &Server{master: masterKey, live: map[string]Key{}, calls: map[string]int{}, gone: map[string]chan struct{}{}}
}

// Deleted returns a channel closed once the key with this id is deleted
// (at once if no such key is live), so that benchmarks time a revocation
// without polling.
func (s *Server) Deleted(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[id]; !ok {
		c := make(chan struct{})
		close(c)
		return c
	}
	c, ok := s.gone[id]
	if !ok {
		c = make(chan struct{})
		s.gone[id] = c
	}
	return c
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/keys", s.admin(s.create))
	mux.HandleFunc("GET /v1/keys", s.admin(s.list))
	mux.HandleFunc("DELETE /v1/keys/{id}", s.admin(s.delete))
	mux.HandleFunc("GET /v1/whoami", s.whoami)
	return mux
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return t
	}
	return ""
}

func (s *Server) count(r *http.Request) {
	s.mu.Lock()
	s.calls[r.Pattern]++
	s.mu.Unlock()
}

func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.count(r)
		if subtle.ConstantTimeCompare([]byte(bearer(r)), []byte(s.master)) != 1 {
			reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid master key"})
			return
		}
		next(w, r)
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.Name == "" {
		reply(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"name\": \"...\"}"})
		return
	}
	k := s.Mint(req.Name)
	reply(w, http.StatusCreated, k)
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	keys := s.Live()
	for i := range keys {
		keys[i].Secret = ""
	}
	reply(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.live[id]
	delete(s.live, id)
	if c, waited := s.gone[id]; waited {
		close(c)
		delete(s.gone, id)
	}
	s.mu.Unlock()
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such key"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	s.count(r)
	if k, ok := s.lookup(bearer(r)); ok {
		reply(w, http.StatusOK, map[string]string{"id": k.ID, "name": k.Name})
		return
	}
	reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid api key"})
}

func (s *Server) lookup(secret string) (Key, bool) {
	if secret == "" {
		return Key{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.live {
		if subtle.ConstantTimeCompare([]byte(k.Secret), []byte(secret)) == 1 {
			return k, true
		}
	}
	return Key{}, false
}

// Accepts reports whether secret is a live API key.
func (s *Server) Accepts(secret string) bool {
	_, ok := s.lookup(secret)
	return ok
}

// Live returns the live keys, secrets included, oldest first.
func (s *Server) Live() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]Key, 0, len(s.live))
	for _, k := range s.live {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].seq < keys[j].seq })
	return keys
}

// Mint creates a key directly, as an operator would in the API's console.
func (s *Server) Mint(name string) Key {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	k := Key{ID: fmt.Sprintf("key_%d", s.seq), Name: name, Secret: "sk_live_" + hex.EncodeToString(b), Created: time.Now().UTC(), seq: s.seq}
	s.live[k.ID] = k
	s.minted = append(s.minted, k.Secret)
	return k
}

// Minted returns every secret the server ever issued, live or not.
func (s *Server) Minted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.minted...)
}

// Calls returns how many requests each route received, keyed by its pattern
// ("POST /v1/keys").
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// ConfigOption changes the configuration HTTPAPIConfig writes.
type ConfigOption func(map[string]any)

// Serves adds the master's consent to serve the secrets named by patterns,
// which a master stored in Secrets Manager needs (the rotation core reads
// and strips it; the provider itself never sees it).
func Serves(patterns ...string) ConfigOption {
	return func(c map[string]any) { c["rotor"] = map[string]any{"serves": patterns} }
}

// RevokeUnminted lets expire revoke keys rotor did not mint, such as the
// key a test secret starts with (httpapi's revoke.unminted).
func RevokeUnminted() ConfigOption {
	return func(c map[string]any) { c["revoke"].(map[string]any)["unminted"] = true }
}

// HTTPAPIConfig returns the master secret that configures rotor's httpapi
// provider for this server at baseURL: the whole integration, as data.
func (s *Server) HTTPAPIConfig(baseURL string, opts ...ConfigOption) string {
	cfg := map[string]any{
		"masterKey": s.master,
		"baseUrl":   baseURL,
		"keyName":   "rotor-{{.Token}}",
		"headers":   map[string]string{"Authorization": "Bearer {{.MasterKey}}"},
		"create": map[string]any{"method": "POST", "path": "/v1/keys", "body": map[string]any{"name": "{{.KeyName}}"},
			"expectStatus": []int{201}, "keyPath": "$.secret", "idPath": "$.id"},
		"list":   map[string]any{"method": "GET", "path": "/v1/keys", "itemsPath": "$.keys[*]", "namePath": "$.name", "idPath": "$.id"},
		"revoke": map[string]any{"method": "DELETE", "path": "/v1/keys/{{.KeyID}}", "expectStatus": []int{204}, "goneStatus": []int{404}},
		"verify": map[string]any{"method": "GET", "path": "/v1/whoami", "headers": map[string]string{"Authorization": "Bearer {{.Key}}"},
			"expectStatus": []int{200}, "rejectStatus": []int{401}},
		"secret": map[string]string{"keyField": "apiKey", "idField": "keyId"},
	}
	for _, o := range opts {
		o(cfg)
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

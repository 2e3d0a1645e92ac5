package chaos

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/rotorhq/rotor/internal/keyservice"
)

// keyAPI is one secret's key API (internal/keyservice) on loopback behind
// a faulty front: at the fault rate a call is answered 500 without effect
// or takes effect and loses its answer (the connection is closed), half
// each. Every injected fault is recorded for the report.
type keyAPI struct {
	ks     *keyservice.Server
	master string
	url    string
	srv    *http.Server

	mu     sync.Mutex
	rate   float64
	rng    *rand.Rand
	faults []injected
}

// injected is one fault the key API injected.
type injected struct {
	at   time.Time
	what string // "POST /v1/keys lost"
}

func startKeyAPI(seed uint64, index int, master string) (*keyAPI, error) {
	k := &keyAPI{ks: keyservice.New(master), master: master, rng: rand.New(rand.NewPCG(seed, uint64(index)))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k.url = "http://" + ln.Addr().String()
	k.srv = &http.Server{Handler: k, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.srv.Serve(ln) }()
	return k, nil
}

func (k *keyAPI) setRate(r float64) {
	k.mu.Lock()
	k.rate = r
	k.mu.Unlock()
}

func (k *keyAPI) fault(r *http.Request) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	x := k.rng.Float64()
	mode := ""
	switch {
	case x < k.rate/2:
		mode = "error"
	case x < k.rate:
		mode = "lost"
	default:
		return ""
	}
	k.faults = append(k.faults, injected{at: time.Now(), what: fmt.Sprintf("%s %s %s", r.Method, r.URL.Path, mode)})
	return mode
}

func (k *keyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch k.fault(r) {
	case "error":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"injected fault"}`))
		return
	case "lost":
		k.ks.Handler().ServeHTTP(httptest.NewRecorder(), r)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	k.ks.Handler().ServeHTTP(w, r)
}

// revoke deletes a key as a person would at the API's console, without
// faults.
func (k *keyAPI) revoke(id string) error {
	req := httptest.NewRequest(http.MethodDelete, "/v1/keys/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+k.master)
	rec := httptest.NewRecorder()
	k.ks.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent && rec.Code != http.StatusNotFound {
		return fmt.Errorf("revoke key %s at the key API: status %d", id, rec.Code)
	}
	return nil
}

// injectedSince lists the faults injected since a time, oldest first.
func (k *keyAPI) injectedSince(t time.Time) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, f := range k.faults {
		if !f.at.Before(t) {
			out = append(out, f.at.Format("15:04:05.000")+" "+f.what)
		}
	}
	return out
}

func (k *keyAPI) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.faults)
}

func (k *keyAPI) close() { _ = k.srv.Close() }

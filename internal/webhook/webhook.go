// Package webhook is the handler behind the webhook function's URL. It
// authenticates leak alerts sent by GitHub secret scanning, GitGuardian and
// rotor's own generic format, normalizes them (package leak) and puts one
// rotor.leak event per leaked credential on the rotor-leaks bus, whose rule
// starts the rotation state machine with the event's detail.
//
// Contract:
//   - Nothing is published unless the request is a POST to /github,
//     /gitguardian or /generic, at most leak.MaxBodyBytes long, correctly
//     signed for that source and, for GitGuardian, sent within the replay
//     window. Every refusal has its status code: 405, 404, 413, 401 (bad,
//     missing or replayed signature), 400 (malformed alert).
//   - A signed event that is not a leak (a resolved alert, a ping) is
//     answered 202 and publishes nothing.
//   - A GitHub alert carries no secret: the handler fetches it from the
//     GitHub REST API with a token and keeps only its SHA-256 fingerprint.
//     The token is sent only to the configured API host.
//   - No secret (signing key, token, fetched value) appears in a response,
//     a log line or an error, in any encoding internal/redact knows; errors
//     name the GitHub API's method and host, never a URL. Failures to fetch
//     or publish are 503, so that the sender's delivery log shows them and
//     can redeliver. A panic is answered 500 with a body that says nothing
//     more, and logged, scrubbed, with its stack.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotation"
)

// Keys are the webhook's secrets, kept as one JSON object in a Secrets
// Manager secret: {"github": ..., "gitguardian": ..., "generic": ...,
// "githubToken": ...}. A source whose key is empty is refused.
type Keys struct {
	GitHub      string `json:"github"`      // the GitHub webhook's secret
	GitGuardian string `json:"gitguardian"` // the GitGuardian custom webhook's signature token
	Generic     string `json:"generic"`     // the key of X-Rotor-Signature-256 for /generic
	GitHubToken string `json:"githubToken"` // reads secret scanning alerts (fine-grained: "Secret scanning alerts: read")
}

// Publisher puts rotor.leak events on the bus. Each detail is a state
// machine input.
type Publisher interface {
	Publish(ctx context.Context, details [][]byte) error
}

// Handler handles webhook requests. Create it with New.
type Handler struct {
	keys      func(context.Context) (*Keys, error)
	publisher Publisher
	client    *http.Client
	githubAPI *url.URL
	window    time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // recent deliveries, for replays
}

// Options configure a Handler.
type Options struct {
	// Keys returns the webhook's secrets; it is called per request, so it
	// should cache (see CachedKeys).
	Keys func(context.Context) (*Keys, error)
	// Publisher puts the events on the bus.
	Publisher Publisher
	// GitHubAPI is the GitHub REST API's base URL. Default
	// "https://api.github.com"; GitHub Enterprise Server uses
	// "https://HOST/api/v3". The token is sent to this host only.
	GitHubAPI string
	// Client fetches GitHub alerts. Default: a client with a 10 s timeout
	// that follows no redirects.
	Client *http.Client
	// ReplayWindow bounds how old a GitGuardian request may be, and how long
	// a delivery is remembered to refuse its replay. Default 5 minutes.
	ReplayWindow time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives one line per request; nil discards.
	Log *slog.Logger
}

// New builds a Handler.
func New(o Options) (*Handler, error) {
	if o.Keys == nil || o.Publisher == nil {
		return nil, errors.New("webhook: Keys and Publisher are required")
	}
	if o.GitHubAPI == "" {
		o.GitHubAPI = "https://api.github.com"
	}
	api, err := url.Parse(strings.TrimSuffix(o.GitHubAPI, "/"))
	if err != nil || api.Host == "" || (api.Scheme != "https" && !isLoopback(api.Hostname())) {
		return nil, fmt.Errorf("webhook: GitHub API URL %q must be https (http only on loopback)", o.GitHubAPI)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.ReplayWindow <= 0 {
		o.ReplayWindow = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Log lines pass through the request's redaction set.
	o.Log = slog.New(redact.Handler(o.Log.Handler()))
	return &Handler{keys: o.Keys, publisher: o.Publisher, client: o.Client, githubAPI: api, window: o.ReplayWindow,
		now: o.Now, log: o.Log, seen: map[string]time.Time{}}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Request is an HTTP request as the function URL delivers it. Header names
// are matched case-insensitively.
type Request struct {
	Method  string
	Path    string
	Headers map[string]string
	Body    []byte
}

func (r *Request) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Response is the answer: a status and a small JSON body.
type Response struct {
	Status int
	Body   string
}

func answer(status int, fields map[string]any) Response {
	b, _ := json.Marshal(fields)
	return Response{Status: status, Body: string(b)}
}

// Handle answers one request. Every secret it reads (the keys, a fetched
// alert's value) is added to a redaction set for the request, which scrubs
// its log lines. A panic is a bug: it is logged, scrubbed, with its stack,
// and answered 500 with a body that says nothing about it.
func (h *Handler) Handle(ctx context.Context, r *Request) (resp Response) {
	set := &redact.Set{}
	ctx = redact.NewContext(ctx, set)
	defer func() {
		if v := recover(); v != nil {
			h.log.ErrorContext(ctx, "webhook panicked (a bug in rotor)", "path", r.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			resp = answer(http.StatusInternalServerError, map[string]any{"error": "internal error"})
		}
	}()
	resp, published := h.handle(ctx, r)
	h.log.InfoContext(ctx, "webhook", "path", r.Path, "status", resp.Status, "published", published)
	return resp
}

func (h *Handler) handle(ctx context.Context, r *Request) (Response, int) {
	source := strings.Trim(r.Path, "/")
	switch source {
	case leak.SourceGitHub, leak.SourceGitGuardian, leak.SourceGeneric:
	default:
		return answer(http.StatusNotFound, map[string]any{"error": "unknown path; POST to /github, /gitguardian or /generic"}), 0
	}
	if r.Method != http.MethodPost {
		return answer(http.StatusMethodNotAllowed, map[string]any{"error": "use POST"}), 0
	}
	if len(r.Body) > leak.MaxBodyBytes {
		return answer(http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body larger than %d bytes", leak.MaxBodyBytes)}), 0
	}
	keys, err := h.keys(ctx)
	if err != nil {
		h.log.ErrorContext(ctx, "webhook keys unavailable", "error", err)
		return answer(http.StatusServiceUnavailable, map[string]any{"error": "webhook keys unavailable"}), 0
	}
	for _, k := range []string{keys.GitHub, keys.GitGuardian, keys.Generic, keys.GitHubToken} {
		redact.Add(ctx, k)
	}

	var alert *leak.Alert
	var delivery string
	switch source {
	case leak.SourceGitHub:
		err = leak.VerifyGitHubSignature([]byte(keys.GitHub), r.Body, r.header("X-Hub-Signature-256"))
		delivery = "github:" + r.header("X-GitHub-Delivery")
		if err == nil {
			alert, err = leak.ParseGitHub(r.header("X-GitHub-Event"), r.Body)
		}
	case leak.SourceGitGuardian:
		sig := r.header("Gitguardian-Signature")
		if sig == "" {
			sig = r.header("X-GitGuardian-Signature")
		}
		err = leak.VerifyGitGuardianSignature([]byte(keys.GitGuardian), r.Body, r.header("Timestamp"), sig, h.now(), h.window)
		delivery = "gitguardian:" + sig
		if err == nil {
			alert, err = leak.ParseGitGuardian(r.Body)
		}
	case leak.SourceGeneric:
		// The same construction as GitHub's, under rotor's own header.
		err = leak.VerifyGitHubSignature([]byte(keys.Generic), r.Body, r.header("X-Rotor-Signature-256"))
		if err != nil {
			err = fmt.Errorf("%w (header X-Rotor-Signature-256)", err)
		}
		sum := sha256.Sum256(r.Body)
		delivery = "generic:" + hex.EncodeToString(sum[:])
		if err == nil {
			alert, err = leak.ParseGeneric(r.Body)
		}
	}
	switch {
	case errors.Is(err, leak.ErrSignature):
		return answer(http.StatusUnauthorized, map[string]any{"error": err.Error()}), 0
	case err == nil && !h.first(delivery):
		return answer(http.StatusUnauthorized, map[string]any{"error": "this delivery was already received (replay)"}), 0
	case errors.Is(err, leak.ErrNotALeak):
		return answer(http.StatusAccepted, map[string]any{"status": "ignored", "reason": err.Error()}), 0
	case err != nil:
		return answer(http.StatusBadRequest, map[string]any{"error": err.Error()}), 0
	}
	defer func() {
		if v := recover(); v != nil {
			h.forget(delivery) // Handle answers 500: let the redelivery through
			panic(v)
		}
	}()

	if alert.GitHub != nil {
		fp, err := h.githubFingerprint(ctx, alert.GitHub, keys.GitHubToken)
		if err != nil {
			h.forget(delivery) // let GitHub's redelivery through
			h.log.ErrorContext(ctx, "cannot read GitHub secret scanning alert", "repository", alert.GitHub.Repository,
				"alert", alert.GitHub.Number, "error", err)
			return answer(http.StatusServiceUnavailable, map[string]any{"error": "cannot read the alert's secret from GitHub: " + err.Error()}), 0
		}
		alert.Fingerprints = append(alert.Fingerprints, fp)
	}
	details := Details(alert)
	if len(details) == 0 {
		return answer(http.StatusAccepted, map[string]any{"status": "ignored", "reason": "the alert names no credential"}), 0
	}
	if err := h.publisher.Publish(ctx, details); err != nil {
		h.forget(delivery)
		h.log.ErrorContext(ctx, "cannot publish leak events", "error", err)
		return answer(http.StatusServiceUnavailable, map[string]any{"error": "cannot publish the leak events; redeliver"}), 0
	}
	return answer(http.StatusAccepted, map[string]any{"status": "accepted", "events": len(details)}), len(details)
}

// first records a delivery and reports whether it is new. Deliveries are
// remembered for the replay window, per function instance: a replay that
// reaches another instance gets through, and only repeats an idempotent
// emergency response.
func (h *Handler) first(delivery string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for k, at := range h.seen {
		if now.Sub(at) > h.window {
			delete(h.seen, k)
		}
	}
	if strings.HasSuffix(delivery, ":") { // no delivery id: cannot tell
		return true
	}
	if _, dup := h.seen[delivery]; dup {
		return false
	}
	h.seen[delivery] = now
	return true
}

func (h *Handler) forget(delivery string) {
	h.mu.Lock()
	delete(h.seen, delivery)
	h.mu.Unlock()
}

// Details turns an alert into state machine inputs, {"trigger": "leak",
// "reason": ..., "leak": {...}}: one input when the alert describes one
// credential (however many ways: key id, fingerprint, secret), else one per
// key id and per fingerprint, each a credential of its own.
func Details(a *leak.Alert) [][]byte {
	reason := a.Reason
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	var leaks []rotation.Leak
	if len(a.AccessKeyIDs) <= 1 && len(a.Fingerprints) <= 1 {
		l := rotation.Leak{Source: a.Source, SecretID: a.SecretID, Reference: a.Reference}
		if len(a.AccessKeyIDs) == 1 {
			l.AccessKeyID = a.AccessKeyIDs[0]
		}
		if len(a.Fingerprints) == 1 {
			l.Fingerprint = a.Fingerprints[0]
		}
		if l.AccessKeyID != "" || l.Fingerprint != "" || l.SecretID != "" {
			leaks = append(leaks, l)
		}
	} else {
		for _, k := range a.AccessKeyIDs {
			leaks = append(leaks, rotation.Leak{Source: a.Source, AccessKeyID: k, Reference: a.Reference})
		}
		for _, f := range a.Fingerprints {
			leaks = append(leaks, rotation.Leak{Source: a.Source, Fingerprint: f, Reference: a.Reference})
		}
	}
	out := make([][]byte, 0, len(leaks))
	for i := range leaks {
		b, _ := json.Marshal(rotation.Input{Trigger: rotation.TriggerLeak, Reason: reason, Leak: &leaks[i]})
		out = append(out, b)
	}
	return out
}

// githubFingerprint reads a secret scanning alert's secret and returns its
// fingerprint. The value goes no further than this function.
func (h *Handler) githubFingerprint(ctx context.Context, a *leak.GitHubAlert, token string) (string, error) {
	if token == "" {
		return "", errors.New("no githubToken is configured in the webhook secret")
	}
	// Built from the trusted base, not taken from the payload: the token
	// must never follow a URL the sender chose.
	u := fmt.Sprintf("%s/repos/%s/secret-scanning/alerts/%d", h.githubAPI.String(), pathEscapeRepo(a.Repository), a.Number)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := h.client.Do(req)
	if err != nil {
		// Method and host only: a transport error quotes the whole URL.
		return "", fmt.Errorf("alert %d of %s: %w", a.Number, a.Repository, redact.NewRequestError(req.Method, req.URL, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read alert %d of %s: %w", a.Number, a.Repository, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET alert %d of %s: status %d", a.Number, a.Repository, resp.StatusCode)
	}
	var doc struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil || doc.Secret == "" {
		return "", fmt.Errorf("alert %d of %s: the response has no secret field", a.Number, a.Repository)
	}
	redact.Add(ctx, doc.Secret)
	return leak.SHA256([]byte(doc.Secret)), nil
}

func pathEscapeRepo(repo string) string {
	owner, name, _ := strings.Cut(repo, "/")
	return url.PathEscape(owner) + "/" + url.PathEscape(name)
}

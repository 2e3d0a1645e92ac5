// Package webhook is the handler behind the webhook function's URL. It
// authenticates leak alerts sent by GitHub secret scanning, GitGuardian and
// rotor's own generic format, normalizes them (package leak) and puts one
// rotor.leak event per leaked credential on the rotor-leaks bus, whose rule
// starts the rotation state machine with the event's detail.
//
// Contract:
//   - Nothing is published unless the request is a POST to /github,
//     /gitguardian or /generic, at most leak.MaxBodyBytes long, correctly
//     signed for that source and, for GitGuardian and generic alerts, sent
//     within the replay window. Every refusal has its status code: 405,
//     404, 413, 401 (bad or missing signature, stale timestamp; the body
//     says only "unauthorized", so that a prober learns nothing of which
//     keys are configured: the log says why), 400 (malformed alert).
//   - A signed event that is not a leak (a resolved alert, a ping) is
//     answered 202 and publishes nothing.
//   - A delivery is acted on once (SECURITY.md, replayed leak alerts), across
//     function instances and restarts: the handler claims it in the ledger
//     (a DynamoDB table, never memory) before it fetches or publishes
//     anything, keyed by what the sender cannot vary without the signing
//     key: the decoded signature bytes for GitGuardian and generic alerts
//     (whose signatures cover a timestamp, refused outside the window),
//     and for GitHub, whose signature covers no timestamp or delivery id,
//     the alert's identity (repository, alert number, action). A duplicate
//     is answered 202 "duplicate" and starts nothing. A delivery the
//     handler could not act on (GitHub or the bus unavailable) is released,
//     so the sender's redelivery goes through.
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
	"time"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/ledger"
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

// Deduper remembers deliveries for every instance of the function: Claim
// succeeds once per key until ttl; Release forgets a key. The ledger
// (internal/ledger, a DynamoDB table) implements it.
type Deduper interface {
	Claim(ctx context.Context, key string, ttl time.Duration, attrs map[string]string) (bool, error)
	Release(ctx context.Context, key string) error
}

// Handler handles webhook requests. Create it with New.
type Handler struct {
	keys         func(context.Context) (*Keys, error)
	publisher    Publisher
	dedupe       Deduper
	client       *http.Client
	githubAPI    *url.URL
	window       time.Duration
	githubWindow time.Duration
	now          func() time.Time
	log          *slog.Logger
}

// Options configure a Handler.
type Options struct {
	// Keys returns the webhook's secrets; it is called per request, so it
	// should cache (see CachedKeys).
	Keys func(context.Context) (*Keys, error)
	// Publisher puts the events on the bus.
	Publisher Publisher
	// Dedupe remembers accepted deliveries across instances and restarts.
	// Required.
	Dedupe Deduper
	// GitHubAPI is the GitHub REST API's base URL. Default
	// "https://api.github.com"; GitHub Enterprise Server uses
	// "https://HOST/api/v3". The token is sent to this host only.
	GitHubAPI string
	// Client fetches GitHub alerts. Default: a client with a 10 s timeout
	// that follows no redirects.
	Client *http.Client
	// ReplayWindow bounds how old (or how far ahead of the clock) a
	// GitGuardian or generic request's timestamp may be; its deliveries
	// are remembered for twice that. Default 5 minutes.
	ReplayWindow time.Duration
	// GitHubReplayWindow is how long a GitHub alert's identity (repository,
	// alert number, action) is remembered: GitHub signs no timestamp, so
	// this is the only bound on a replay. A replay after it is still
	// answered "already revoked" by the rotation if it was. Default 24h.
	GitHubReplayWindow time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives one line per request; nil discards.
	Log *slog.Logger
}

// New builds a Handler.
func New(o Options) (*Handler, error) {
	if o.Keys == nil || o.Publisher == nil || o.Dedupe == nil {
		return nil, errors.New("webhook: Keys, Publisher and Dedupe are required")
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
	if o.GitHubReplayWindow <= 0 {
		o.GitHubReplayWindow = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Log lines pass through the request's redaction set.
	o.Log = slog.New(redact.Handler(o.Log.Handler()))
	return &Handler{keys: o.Keys, publisher: o.Publisher, dedupe: o.Dedupe, client: o.Client, githubAPI: api,
		window: o.ReplayWindow, githubWindow: o.GitHubReplayWindow, now: o.Now, log: o.Log}, nil
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
	var identity []byte // what makes this delivery one delivery
	ttl := 2*h.window + time.Minute
	switch source {
	case leak.SourceGitHub:
		err = leak.VerifyGitHubSignature([]byte(keys.GitHub), r.Body, r.header("X-Hub-Signature-256"))
		if err == nil {
			alert, err = leak.ParseGitHub(r.header("X-GitHub-Event"), r.Body)
		}
		if err == nil {
			// The delivery id is not signed: a replay may carry any. The
			// alert's identity is signed.
			a := alert.GitHub
			identity = fmt.Appendf(nil, "%s\x00%d\x00%s", strings.ToLower(a.Repository), a.Number, a.Action)
			ttl = h.githubWindow
		}
	case leak.SourceGitGuardian:
		sig := r.header("Gitguardian-Signature")
		if sig == "" {
			sig = r.header("X-GitGuardian-Signature")
		}
		err = leak.VerifyGitGuardianSignature([]byte(keys.GitGuardian), r.Body, r.header("Timestamp"), sig, h.now(), h.window)
		if err == nil {
			identity, _ = leak.SignatureBytes(sig)
			alert, err = leak.ParseGitGuardian(r.Body)
		}
	case leak.SourceGeneric:
		sig := r.header(leak.GenericSignatureHeader)
		err = leak.VerifyGenericSignature([]byte(keys.Generic), r.Body, r.header(leak.GenericTimestampHeader), sig, h.now(), h.window)
		if err == nil {
			identity, _ = leak.SignatureBytes(sig)
			alert, err = leak.ParseGeneric(r.Body)
		}
	}
	switch {
	case errors.Is(err, leak.ErrSignature):
		h.log.WarnContext(ctx, "webhook request refused", "path", r.Path, "reason", err.Error())
		return answer(http.StatusUnauthorized, map[string]any{"error": "unauthorized"}), 0
	case errors.Is(err, leak.ErrNotALeak):
		return answer(http.StatusAccepted, map[string]any{"status": "ignored", "reason": err.Error()}), 0
	case err != nil:
		return answer(http.StatusBadRequest, map[string]any{"error": err.Error()}), 0
	}
	sum := sha256.Sum256(identity)
	delivery := ledger.DeliveryPrefix + source + "#" + hex.EncodeToString(sum[:])
	first, err := h.dedupe.Claim(ctx, delivery, ttl, map[string]string{"source": source, "reference": alert.Reference})
	if err != nil {
		h.log.ErrorContext(ctx, "cannot record the delivery", "error", err)
		return answer(http.StatusServiceUnavailable, map[string]any{"error": "cannot record the delivery; redeliver"}), 0
	}
	if !first {
		h.log.WarnContext(ctx, "duplicate delivery ignored", "path", r.Path, "reference", alert.Reference)
		return answer(http.StatusAccepted, map[string]any{"status": "duplicate", "reason": "this alert was already received; nothing was started"}), 0
	}
	defer func() {
		if v := recover(); v != nil {
			h.release(ctx, delivery) // Handle answers 500: let the redelivery through
			panic(v)
		}
	}()

	if alert.GitHub != nil {
		fp, err := h.githubFingerprint(ctx, alert.GitHub, keys.GitHubToken)
		if err != nil {
			h.release(ctx, delivery) // let GitHub's redelivery through
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
		h.release(ctx, delivery)
		h.log.ErrorContext(ctx, "cannot publish leak events", "error", err)
		return answer(http.StatusServiceUnavailable, map[string]any{"error": "cannot publish the leak events; redeliver"}), 0
	}
	return answer(http.StatusAccepted, map[string]any{"status": "accepted", "events": len(details)}), len(details)
}

// release forgets a delivery rotor could not act on. If that fails too,
// the sender's redelivery is answered "duplicate" until the record
// expires: logged, since a person must then act on the alert.
func (h *Handler) release(ctx context.Context, delivery string) {
	if err := h.dedupe.Release(ctx, delivery); err != nil {
		h.log.ErrorContext(ctx, "cannot release a delivery that was not acted on; its redelivery will be refused until the record expires",
			"error", err)
	}
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

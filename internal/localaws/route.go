package localaws

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"

	"github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// service is one AWS service's operations.
type service interface {
	// Serve answers one request whose operation is op and whose body is
	// already read.
	Serve(w http.ResponseWriter, r *http.Request, op string, body []byte)
}

// errorWriter is implemented by services whose protocol is not JSON, so
// that injected faults and throttling are answered in it.
type errorWriter interface {
	WriteError(w http.ResponseWriter, code, message string, status int)
}

// answerError answers an error the server itself raises, in svc's protocol.
func answerError(w http.ResponseWriter, svc service, code, message string, status int) {
	if ew, ok := svc.(errorWriter); ok {
		ew.WriteError(w, code, message, status)
		return
	}
	wire.WriteJSONError(w, "application/x-amz-json-1.1", &wire.Error{Code: code, Message: message, Status: status})
}

// services lists the service names routing understands, with their SigV4
// signing names.
var services = map[string]bool{"secretsmanager": true, "states": true, "sns": true, "lambda": true, "iam": true, "sts": true, "events": true, "dynamodb": true}

func serviceNames() []string {
	return []string{"dynamodb", "events", "iam", "lambda", "secretsmanager", "sns", "states", "sts"}
}

// allowedHosts checks Options.AllowedHosts: each a bare host name or IP
// address, since a scheme, port, path or wildcard would never match a Host
// (or, for a wildcard, would undo the protection).
func allowedHosts(hosts []string) (map[string]bool, error) {
	allowed := map[string]bool{}
	for _, h := range hosts {
		if _, err := netip.ParseAddr(h); err != nil && !hostNameRE.MatchString(h) {
			return nil, fmt.Errorf("allowed host %q: want a host name or IP address, without scheme, port, path or wildcard", h)
		}
		allowed[strings.ToLower(h)] = true
	}
	return allowed, nil
}

var hostNameRE = regexp.MustCompile(`^(?i)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)

// refuse answers 403 and reports true when a request must not be served:
// its Host is not a loopback name or an allowed host, or it carries an
// Origin header, which browsers send and the SDKs and CLIs do not.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request) bool {
	var msg string
	if _, ok := r.Header["Origin"]; ok {
		msg = "browser requests are refused: DNS rebinding and cross-site requests could read secrets or mint keys (the request carries an Origin header)"
	} else if !s.hostAllowed(r.Host) {
		msg = fmt.Sprintf("rotor's local endpoint answers only requests for a loopback host (localhost, 127.0.0.0/8, ::1) or an allowed host, not %q: DNS rebinding could otherwise let a web page read secrets or mint keys", r.Host)
	} else {
		return false
	}
	s.opts.Log.Warn("refused request", "host", r.Host, "origin", r.Header.Get("Origin"), "path", r.URL.Path)
	wire.WriteJSONError(w, "application/json", &wire.Error{Code: "AccessDeniedException", Message: msg, Status: http.StatusForbidden})
	return true
}

// hostAllowed tells whether a Host header names this machine's loopback
// interface or one of Options.AllowedHosts.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1] // an IPv6 literal without port
	}
	host = strings.ToLower(host)
	if host == "localhost" || s.allowed[host] {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// register plugs a service in under its signing name.
func (s *Server) register(name string, svc service) { s.handlers[name] = svc }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

var scopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request`)

// route finds the service and operation of a request.
func (s *Server) route(r *http.Request, body []byte) (string, string) {
	svc := ""
	if m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		svc = m[1]
	}
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "secretsmanager."):
		return "secretsmanager", strings.TrimPrefix(target, "secretsmanager.")
	case strings.HasPrefix(target, "AWSStepFunctions."):
		return "states", strings.TrimPrefix(target, "AWSStepFunctions.")
	case strings.HasPrefix(target, "AWSEvents."):
		return "events", strings.TrimPrefix(target, "AWSEvents.")
	case strings.HasPrefix(target, "DynamoDB_20120810."):
		return "dynamodb", strings.TrimPrefix(target, "DynamoDB_20120810.")
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/"):
		return "lambda", "Invoke"
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if q, err := wire.ParseQuery(body); err == nil {
			if svc == "" {
				svc = queryService(q.Get("Action"))
			}
			return svc, q.Get("Action")
		}
	}
	return svc, ""
}

// queryService guesses the service of an unsigned query-protocol request.
func queryService(action string) string {
	switch action {
	case "GetCallerIdentity", "AssumeRole":
		return "sts"
	case "CreateTopic", "Subscribe", "Publish", "ListTopics", "ListSubscriptions", "ListSubscriptionsByTopic", "Unsubscribe", "DeleteTopic",
		"GetTopicAttributes", "SetTopicAttributes":
		return "sns"
	}
	return "iam"
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.refuse(w, r) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_rotor/") {
		s.serveAdmin(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBody))
	if err != nil {
		wire.WriteJSONError(w, "application/x-amz-json-1.1", &wire.Error{Code: "RequestEntityTooLargeException",
			Message: fmt.Sprintf("the request body is larger than %d bytes", s.opts.MaxRequestBody), Status: http.StatusRequestEntityTooLarge})
		return
	}
	if strings.HasPrefix(r.URL.Path, lambda.FunctionURLPrefix) {
		s.Lambda.ServeFunctionURL(w, r, body)
		return
	}
	svcName, op := s.route(r, body)
	svc, ok := s.handlers[svcName]
	if !ok || op == "" {
		wire.WriteJSONError(w, "application/x-amz-json-1.1", &wire.Error{Code: "UnknownOperationException",
			Message: fmt.Sprintf("rotor local endpoint: no service for this request (service %q, operation %q)", svcName, op)})
		return
	}
	s.opts.Log.Debug("request", "service", svcName, "operation", op)
	if s.opts.EnforceIAM && !s.authorize(w, r, svcName, op, svc, body) {
		return
	}
	if retryAfter, ok := s.quota.take(svcName, op); !ok {
		w.Header().Set("Retry-After", fmt.Sprintf("%d", int(retryAfter.Seconds())+1))
		answerError(w, svc, "ThrottlingException", "Rate exceeded", http.StatusBadRequest)
		return
	}
	switch s.fault(svcName, op) {
	case "error":
		answerError(w, svc, "InternalFailure", "injected fault", http.StatusInternalServerError)
		return
	case "lost":
		svc.Serve(discard{h: make(http.Header)}, r, op, body)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	svc.Serve(w, r, op, body)
}

// serveAdmin answers rotor's own endpoints under /_rotor/: health, the
// quotas' counts, and whatever services expose (recorded SNS messages).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_rotor/health":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	case "/_rotor/quotas":
		s.serveQuotas(w, r)
		return
	}
	s.adminMu.Lock()
	extra := s.admin
	s.adminMu.Unlock()
	for prefix, h := range extra {
		if strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	for _, svc := range s.handlers {
		if a, ok := svc.(interface {
			Admin(w http.ResponseWriter, r *http.Request) bool
		}); ok && a.Admin(w, r) {
			return
		}
	}
	http.NotFound(w, r)
}

// HandleAdmin serves requests whose path starts with prefix (under
// /_rotor/) with h: what a host adds to the endpoint's own (rotor local
// fires schedules at /_rotor/schedules/).
func (s *Server) HandleAdmin(prefix string, h http.Handler) error {
	if !strings.HasPrefix(prefix, "/_rotor/") {
		return fmt.Errorf("admin path %q: want a prefix under /_rotor/", prefix)
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if s.admin == nil {
		s.admin = map[string]http.Handler{}
	}
	if _, dup := s.admin[prefix]; dup {
		return fmt.Errorf("admin path %q is handled already", prefix)
	}
	s.admin[prefix] = h
	return nil
}

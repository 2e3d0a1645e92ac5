// Package localaws is an HTTP server on loopback that speaks the AWS wire
// protocols the AWS SDK for Go v2 uses, for the services rotor needs:
// Secrets Manager (awsJson1.1, backed by smstore), Step Functions
// (awsJson1.0, run by internal/asl), SNS (query protocol), Lambda Invoke
// (REST, routed to in-process handlers or to function binaries under the
// Lambda Runtime Interface Emulator) and function URLs (FunctionURLPrefix),
// IAM users and access keys and STS GetCallerIdentity (query protocol),
// EventBridge buses, rules and PutEvents delivering to state machines
// and functions (awsJson1.1, patterns matched by internal/eventpattern),
// and DynamoDB tables with conditional single-item writes (awsJson1.0).
// The unchanged SDK reaches it through AWS_ENDPOINT_URL.
//
// It answers only requests addressed to this machine by a loopback name
// (Host localhost, 127.0.0.0/8 or ::1, or one of Options.AllowedHosts) and
// carrying no Origin header: a web page the user visits can reach a
// loopback port too, by DNS rebinding (its own name resolving to 127.0.0.1,
// so the page may read the answers) or by a cross-site form POST, and the
// endpoint holds secrets and mints keys without checking signatures.
//
// It knows nothing of rotation: whoever hosts it (cmd/rotor, tests) plugs
// Lambda functions in. State persists in a bbolt file when Options.DataFile
// is set: secrets, topics and messages, state machines, executions and their
// history; IAM users and keys; EventBridge buses and rules; DynamoDB tables
// and items. An execution waiting out a Wait continues after a restart at
// the time it was due. New resumes journaled executions at once, before the
// host can have registered its functions: a host with a data file sets
// Options.AwaitFunctions and calls Server.FunctionsReady once it has, and
// until then every Lambda call the endpoint makes on its own waits.
//
// Requests are routed by the service named in the SigV4 credential scope
// (what the SDK signs with), falling back to X-Amz-Target and the REST path.
// Signatures are not verified here, except by STS, whose GetCallerIdentity
// checks them against the access keys IAM issued.
// AWS's quotas can be enforced (Options.Quotas) and faults injected per
// operation (Options.Faults), both for tests.
package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/rotorhq/rotor/internal/localaws/dynamodb"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	"github.com/rotorhq/rotor/internal/localaws/secretsmanager"
	"github.com/rotorhq/rotor/internal/localaws/sns"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Options configure a Server.
type Options struct {
	// Region and Account appear in ARNs. Defaults "us-east-1" and
	// "000000000000".
	Region, Account string
	// DataFile is the bbolt file state persists in; "" keeps it in memory.
	DataFile string
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Quotas enforces AWS's request-rate quotas (Secrets Manager: 50 writes
	// per second shared across its write operations, 10,000 GetSecretValue
	// and 40,000 DescribeSecret per second), answering ThrottlingException,
	// which the SDK retries. Other services have none here: DynamoDB's
	// on-demand tables, for one, have no per-second quota low enough for
	// rotor to reach.
	Quotas bool
	// Faults are injected into matching operations.
	Faults []Fault
	// MaxRequestBody bounds request bodies. Default 7 MiB (Lambda takes
	// synchronous payloads up to 6 MB).
	MaxRequestBody int64
	// Log receives one line per request at debug level and errors; nil
	// discards.
	Log *slog.Logger
	// AllowedHosts are host names (or IP addresses), without port, that
	// requests may name in Host besides the loopback ones: a tunnel's public
	// name, for webhooks delivered through it. Every request naming another
	// host is refused, because a browser sends the page's own host name
	// when DNS rebinding points that name at 127.0.0.1.
	AllowedHosts []string
	// Jitter is the state machine engine's random source for retry jitter
	// (JitterStrategy FULL) and States.MathRandom, in [0, 1); nil uses
	// math/rand. Tests that exhaust retries pass a function returning 0, so
	// that backoffs with full jitter take no time.
	Jitter func() float64
	// AwaitFunctions holds every Lambda call the endpoint makes on its own
	// (Step Functions' Lambda tasks, EventBridge rules' Lambda targets)
	// until the host calls Server.FunctionsReady. New resumes the executions
	// journaled in DataFile before it returns, and StartExecution is served
	// as soon as the server listens, so a host that registers functions
	// after New (all of them: New creates the Lambda service) sets it;
	// otherwise a resumed execution's next task can run before its
	// function exists and fail with Lambda.ResourceNotFoundException.
	// Calls held are cancelled as usual (StopExecution, Close). Without it
	// (the default) calls go out at once: right for a host whose functions
	// are registered before any execution starts, with no data file to
	// resume from.
	AwaitFunctions bool
}

// Fault makes an operation fail: "error" answers a 500 without applying
// the request; "lost" applies it and then drops the connection, as if the
// response were lost.
type Fault struct {
	Service string  // "secretsmanager", "states", "sns", "lambda", "iam", "sts", "events", "dynamodb"
	Op      string  // operation name, "*" for all
	Mode    string  // "error" or "lost"
	Rate    float64 // probability per request, 0 < Rate <= 1
}

// ParseFault parses SERVICE:OP:MODE[:RATE], e.g.
// "secretsmanager:PutSecretValue:lost:0.5" (RATE defaults to 1).
func ParseFault(s string) (Fault, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 3 || len(parts) > 4 {
		return Fault{}, fmt.Errorf("fault %q: want SERVICE:OPERATION:MODE[:RATE]", s)
	}
	f := Fault{Service: parts[0], Op: parts[1], Mode: parts[2], Rate: 1}
	if _, ok := services[f.Service]; !ok {
		return Fault{}, fmt.Errorf("fault %q: unknown service %q (want one of %s)", s, f.Service, strings.Join(serviceNames(), ", "))
	}
	if f.Mode != "error" && f.Mode != "lost" {
		return Fault{}, fmt.Errorf("fault %q: mode %q is not error or lost", s, f.Mode)
	}
	if len(parts) == 4 {
		if _, err := fmt.Sscanf(parts[3], "%g", &f.Rate); err != nil || f.Rate <= 0 || f.Rate > 1 {
			return Fault{}, fmt.Errorf("fault %q: rate %q is not a number in (0, 1]", s, parts[3])
		}
	}
	return f, nil
}

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

// Server is the local endpoint. Create it with New, then Start or Serve.
type Server struct {
	// The services, for hosts that reach them directly (rotor's CLI plugs
	// Lambda functions in; tests read SNS messages).
	SM       *secretsmanager.Service
	SNS      *sns.Service
	Lambda   *Lambda
	SFN      *StepFunctions
	IAM      *iam.Service
	STS      *iam.STS
	Events   *Events
	DynamoDB *dynamodb.Service

	opts     Options
	allowed  map[string]bool // Options.AllowedHosts, lower case
	db       *bbolt.DB
	env      wire.Env // what every service is built from
	handlers map[string]service
	quota    *quotas

	// functionsReady is closed once the host's functions are registered
	// (at once without Options.AwaitFunctions).
	functionsReady chan struct{}
	readyOnce      sync.Once

	mu       sync.Mutex
	srv      *http.Server
	listener net.Listener
}

// New opens the data file (if any), builds the services and resumes the
// executions the data file holds as running. With Options.AwaitFunctions
// their Lambda tasks wait for FunctionsReady; without, register functions
// before starting executions that call them.
func New(opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRequestBody == 0 {
		opts.MaxRequestBody = 7 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	allowed, err := allowedHosts(opts.AllowedHosts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, handlers: map[string]service{}, allowed: allowed, functionsReady: make(chan struct{})}
	if !opts.AwaitFunctions {
		close(s.functionsReady)
	}
	if opts.Quotas {
		s.quota = newQuotas(opts.Now)
	}
	if opts.DataFile != "" {
		// NoSync: a write reaches the operating system before the request
		// is answered, so the data survives the process being killed
		// (kill -9), though not the machine losing power; fsync per write
		// would cost milliseconds on every state transition.
		db, err := bbolt.Open(opts.DataFile, 0o600, &bbolt.Options{Timeout: 2 * time.Second, NoSync: true})
		if err != nil {
			if errors.Is(err, berrors.ErrTimeout) {
				return nil, fmt.Errorf("data file %s is in use by another rotor process", opts.DataFile)
			}
			return nil, fmt.Errorf("open data file %s: %w", opts.DataFile, err)
		}
		s.db = db
	}
	s.env = wire.Env{Region: opts.Region, Account: opts.Account, Now: opts.Now, Log: opts.Log, DB: wire.NewDB(s.db, opts.DataFile)}
	if s.SM, err = secretsmanager.New(s.env); err != nil {
		s.Close()
		return nil, err
	}
	if s.SNS, err = sns.New(s.env); err != nil {
		s.Close()
		return nil, err
	}
	s.Lambda = newLambda(s)
	if s.SFN, err = newStepFunctions(s); err != nil {
		s.Close()
		return nil, err
	}
	s.register("secretsmanager", s.SM)
	s.register("sns", s.SNS)
	s.register("lambda", s.Lambda)
	s.register("states", s.SFN)
	if s.IAM, err = iam.New(s.env); err != nil {
		s.Close()
		return nil, err
	}
	s.STS = iam.NewSTS(s.env, s.IAM.Credentials)
	s.register("iam", s.IAM)
	s.register("sts", s.STS)
	if s.Events, err = newEvents(s); err != nil {
		s.Close()
		return nil, err
	}
	s.Events.startExecution = sfnStarter(s.SFN)
	s.Events.invokeFunction = lambdaInvoker(s.Lambda)
	s.register("events", s.Events)
	if s.DynamoDB, err = dynamodb.New(s.env); err != nil {
		s.Close()
		return nil, err
	}
	s.register("dynamodb", s.DynamoDB)
	return s, nil
}

// FunctionsReady tells the server that the host has registered its Lambda
// functions: Lambda calls held by Options.AwaitFunctions go out. Calling it
// again does nothing; a function registered later is still found by the
// calls made after that.
func (s *Server) FunctionsReady() {
	s.readyOnce.Do(func() {
		if s.opts.AwaitFunctions {
			close(s.functionsReady)
		}
	})
}

// awaitFunctions blocks until FunctionsReady has been called (at once
// without Options.AwaitFunctions) or ctx ends.
func (s *Server) awaitFunctions(ctx context.Context) error {
	select {
	case <-s.functionsReady:
		return nil
	default:
	}
	s.opts.Log.Debug("lambda call waits for the host's functions")
	select {
	case <-s.functionsReady:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	case "CreateTopic", "Subscribe", "Publish", "ListTopics", "ListSubscriptions", "Unsubscribe", "DeleteTopic":
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
	if strings.HasPrefix(r.URL.Path, FunctionURLPrefix) {
		s.Lambda.serveFunctionURL(w, r, body)
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
	if s.quota != nil {
		if retryAfter, ok := s.quota.take(svcName, op); !ok {
			w.Header().Set("Retry-After", fmt.Sprintf("%d", int(retryAfter.Seconds())+1))
			answerError(w, svc, "ThrottlingException", "Rate exceeded", http.StatusBadRequest)
			return
		}
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

func (s *Server) fault(svc, op string) string {
	for _, f := range s.opts.Faults {
		if f.Service == svc && (f.Op == "*" || f.Op == op) && rand.Float64() < f.Rate {
			return f.Mode
		}
	}
	return ""
}

// discard is a ResponseWriter that drops what it is given.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background;
// it returns the endpoint URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.listener = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Log.Error("serve", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// URL is the endpoint URL once started.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Close stops serving and closes the data file.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	var errs []error
	if srv != nil {
		// Let requests in flight finish, then close whatever is left: a
		// connection opened but never used would hold Shutdown for its
		// whole idle timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
	for _, svc := range s.handlers {
		if c, ok := svc.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// serveAdmin answers rotor's own endpoints under /_rotor/: health, and
// whatever services expose (recorded SNS messages).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_rotor/health" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
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

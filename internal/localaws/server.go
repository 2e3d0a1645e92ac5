// Package localaws is an HTTP server on loopback that speaks the AWS wire
// protocols the AWS SDK for Go v2 uses, for the services rotor needs. The
// unchanged SDK reaches it through AWS_ENDPOINT_URL.
//
// It is a thin server over one package per service, each built from a
// wire.Env (region, account, clock, logger, data file) and the function
// values it calls the others through, never from the server:
//
//   - secretsmanager: Secrets Manager (awsJson1.1, backed by smstore);
//   - stepfunctions: Step Functions (awsJson1.0, run by internal/asl, whose
//     asl.Services implements the Lambda, SNS, EventBridge and Step
//     Functions integrations);
//   - sns: SNS topics, subscriptions and Publish (query protocol);
//   - lambda: Lambda Invoke (REST, routed to in-process handlers or to
//     function binaries under the Lambda Runtime Interface Emulator) and
//     function URLs (lambda.FunctionURLPrefix);
//   - iam: IAM users and access keys, roles and their inline policies,
//     and STS GetCallerIdentity and AssumeRole (query protocol);
//   - events: EventBridge buses, rules and PutEvents delivering to state
//     machines and functions (awsJson1.1, patterns matched by
//     internal/eventpattern);
//   - dynamodb: DynamoDB tables with conditional single-item writes
//     (awsJson1.0);
//
// and one package they share, wire: the protocols, AWS's error shapes, the
// paginator and the storage helper. The server itself routes, guards,
// throttles, injects faults, answers the admin endpoints under /_rotor/,
// opens the data file and wires the services together (wiring.go).
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
// is set, one bucket per service: secrets, topics and messages, state
// machines, executions and their history; IAM users and keys; EventBridge
// buses and rules; DynamoDB tables and items. An execution waiting out a
// Wait continues after a restart at the time it was due. New resumes
// journaled executions at once, before the host can have registered its
// functions: a host with a data file sets Options.AwaitFunctions and calls
// Server.FunctionsReady once it has, and until then every Lambda call the
// endpoint makes on its own waits.
//
// Requests are routed by the service named in the SigV4 credential scope
// (what the SDK signs with), falling back to X-Amz-Target and the REST path.
// Signatures are verified by STS (against the access keys IAM issued and
// the role sessions STS issued) and, under Options.EnforceIAM, for every
// request signed with such a key, which then acts as its user or role:
// every request is authorized against its principal's identity policies
// (authz.go). Without EnforceIAM, and for any other key, signatures are
// not verified.
// AWS's quotas can be enforced (Options.Quotas; what each bucket allowed
// and throttled is counted either way, Server.Quotas and GET
// /_rotor/quotas) and faults injected per operation (Options.Faults), both
// for tests.
package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/localaws/dynamodb"
	"github.com/rotorhq/rotor/internal/localaws/events"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	"github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/localaws/secretsmanager"
	"github.com/rotorhq/rotor/internal/localaws/sns"
	"github.com/rotorhq/rotor/internal/localaws/stepfunctions"
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
	// Quotas enforces AWS's request-rate quotas, in AWS's buckets
	// (Secrets Manager: 50 per second shared by PutSecretValue,
	// UpdateSecret and UpdateSecretVersionStage, 50 shared by TagResource
	// and UntagResource, 50 for CreateSecret, 100 for ListSecrets, 10,000
	// GetSecretValue and 40,000 DescribeSecret; quota.go lists them all),
	// answering ThrottlingException, which the SDK retries. Each throttled
	// request is logged at debug level, and a warning at most every 10 s
	// per bucket. Requests are counted in their buckets either way
	// (Server.Quotas, GET /_rotor/quotas). Other services have no quota
	// here.
	Quotas bool
	// Faults are injected into matching operations.
	Faults []Fault
	// FunctionConcurrency bounds how many invocations of each in-process
	// Lambda function run at once (lambda.Options.Concurrency); 0 means
	// lambda.DefaultConcurrency (64). Beyond it invocations wait.
	FunctionConcurrency int
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
	// WaitScale multiplies every Wait state's and retry interval's
	// duration (tests: 0.01 runs a definition's retries a hundred times
	// faster); 0 means 1.
	WaitScale float64
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
	// EnforceIAM authorizes every request, and every call a service makes
	// on its own, against the identity policies of whoever makes it (see
	// authz.go): a role session (iam.STS.Issue, AssumeRole) acts as its
	// role, whose inline policies (iam.Service.PutRole) must allow it; an
	// IAM user's key may do nothing but sts:GetCallerIdentity (user
	// policies are not modelled); any other key, or none, is the
	// account's root and may do everything. A state machine's tasks act as
	// its RoleArn, an EventBridge target's deliveries to a state machine as
	// the target's RoleArn. Refusals are answered with the service's
	// AccessDenied error and change nothing. Off (the default), every
	// caller may do everything, as before; AssumeRole and role sessions
	// work either way.
	EnforceIAM bool
	// OnDenied, when set, is told of every refusal under EnforceIAM
	// (each is also logged as a warning).
	OnDenied func(Denial)
}

// Server is the local endpoint. Create it with New, then Start or Serve.
type Server struct {
	// The services, for hosts that reach them directly (rotor's CLI plugs
	// Lambda functions in; tests read SNS messages).
	SM       *secretsmanager.Service
	SNS      *sns.Service
	Lambda   *lambda.Service
	SFN      *stepfunctions.Service
	IAM      *iam.Service
	STS      *iam.STS
	Events   *events.Service
	DynamoDB *dynamodb.Service

	opts     Options
	allowed  map[string]bool // Options.AllowedHosts, lower case
	db       *bbolt.DB
	env      wire.Env // what every service is built from
	handlers map[string]service
	adminMu  sync.Mutex
	admin    map[string]http.Handler // HandleAdmin
	quota    *quotas

	// functionsReady is closed once the host's functions are registered
	// (at once without Options.AwaitFunctions).
	functionsReady chan struct{}
	readyOnce      sync.Once
	// sfnBuilt is closed once SFN is set (or failed to build): executions
	// stepfunctions.New resumes run before it returns.
	sfnBuilt chan struct{}

	mu       sync.Mutex
	srv      *http.Server
	listener net.Listener
}

// FunctionURL returns the local URL of a function's URL, ending in "/"
// (see lambda.FunctionURLPrefix).
func (s *Server) FunctionURL(function string) string {
	return s.URL() + lambda.FunctionURLPrefix + function + "/"
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
	if opts.FunctionConcurrency < 0 {
		return nil, fmt.Errorf("function concurrency %d: want 0 (the default, %d) or more", opts.FunctionConcurrency, lambda.DefaultConcurrency)
	}
	s := &Server{opts: opts, handlers: map[string]service{}, allowed: allowed, functionsReady: make(chan struct{}), sfnBuilt: make(chan struct{})}
	if !opts.AwaitFunctions {
		close(s.functionsReady)
	}
	s.quota = newQuotas(opts.Quotas, opts.Now, opts.Log)
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
	if err := s.build(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// build builds the services, each from the server's wire.Env and the
// function values it calls the others through (wiring.go), and registers
// them under their signing names.
func (s *Server) build() error {
	var err error
	if s.SM, err = secretsmanager.New(s.env); err != nil {
		return err
	}
	s.register("secretsmanager", s.SM)
	if s.SNS, err = sns.New(s.env); err != nil {
		return err
	}
	s.register("sns", s.SNS)
	if s.Lambda, err = lambda.New(s.env, lambda.Options{Concurrency: s.opts.FunctionConcurrency}); err != nil {
		return err
	}
	s.register("lambda", s.Lambda)
	// IAM before Step Functions: the executions New resumes act as their
	// roles at once (EnforceIAM).
	if s.IAM, err = iam.New(s.env); err != nil {
		return err
	}
	s.register("iam", s.IAM)
	s.STS = iam.NewSTS(s.env, s.IAM)
	s.register("sts", s.STS)
	// EventBridge before Step Functions: the executions New resumes may put
	// events at once.
	targets := events.Targets{StartExecution: s.startForEvents, Invoke: s.invokeForEvents}
	if s.Events, err = events.New(s.env, targets); err != nil {
		close(s.sfnBuilt)
		return err
	}
	s.register("events", s.Events)
	tasks := asl.Services{Invoke: s.invokeForStates, Publish: s.publishForStates, PutEvents: s.putEventsForStates,
		StartExecution: s.startForStates, WaitExecution: s.waitForStates, StopExecution: s.stopForStates}
	s.SFN, err = stepfunctions.New(s.env, stepfunctions.Options{Tasks: tasks, Jitter: s.opts.Jitter, WaitScale: s.opts.WaitScale})
	close(s.sfnBuilt)
	if err != nil {
		return err
	}
	s.register("states", s.SFN)
	if s.DynamoDB, err = dynamodb.New(s.env); err != nil {
		return err
	}
	s.register("dynamodb", s.DynamoDB)
	return nil
}

// Package rotorlocal hosts rotor on the local endpoint: it starts
// internal/localaws and deploys on it what a synthesized CloudFormation
// template declares (internal/cfn): the roles and their policies, the
// functions with their environment, the state machine from its definition
// and substitutions, the topic, the event buses and rules, the schedules,
// the ledger table, the webhook's keys secret and function URL. Without a
// template given, it deploys the repository's own (Rotor.template.json,
// the normalized output of `make synth` with the default configuration;
// test/template fails when the two drift apart): there is one description
// of a deployment, the construct's, and no second wiring by hand.
//
// IAM is enforced unless Options.IAMOff: each function calls AWS with
// credentials the local STS issued for its role, the state machine and
// the rules' and schedules' targets act as theirs, and the endpoint
// evaluates the role's policies on every request. The host itself, and
// whoever signs with credentials local IAM did not issue, acts as the
// account's root.
//
// Functions run either in process (the same constructors the Lambda
// functions' main packages call, internal/rotation and internal/webhook,
// reaching the endpoint through the AWS SDK over the wire) or as function
// binaries under the Lambda Runtime Interface Emulator.
//
// Executions the data file holds as running resume when Start opens it,
// but no Lambda call goes out before every function is registered (in
// process, under the emulator, or routed with Options.Routes): a rotation
// interrupted by a restart carries on instead of failing on a function not
// registered yet.
//
// The metrics the functions write as EMF log lines (internal/metrics) add
// up in memory and are served at GET /_rotor/metrics in Prometheus' text
// format, the numbers CloudWatch would extract from the same lines.
//
// It is what `rotor local serve` and `rotor local demo` run, and what the
// end-to-end tests start; localaws itself knows nothing of rotation.
package rotorlocal

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/localaws"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	_ "github.com/rotorhq/rotor/internal/provider/all" // the providers the in-process functions use
)

// DefaultTemplate is the template deployed when Options.Template is nil:
// `make synth`'s, normalized (cfn.Normalize), for the repository's
// cdk.json. `make template` refreshes it.
//
//go:embed Rotor.template.json
var DefaultTemplate []byte

// Names the host gives what it deploys, where the template leaves the
// physical name to CloudFormation: stable, so that scripts and the CLI's
// defaults find them.
const (
	StateMachineName = "rotor-rotation" // the construct's default, named in the template
	TopicName        = "rotor-notifications"
	// WebhookKeysSecret holds the webhook's signing keys, generated at the
	// first start: read them with GetSecretValue to sign test requests.
	WebhookKeysSecret = "rotor/webhook-keys"
	WebhookFunction   = "webhook"
	// LedgerTable is the DynamoDB table of the ledger (internal/ledger).
	LedgerTable = "rotor-ledger"
	// FunctionPrefix + a rotor function's name (create, webhook, ...) is
	// the local name of its Lambda function.
	FunctionPrefix = "rotor-"
	// StackName prefixes every other generated physical name.
	StackName = "rotor"
	Region    = "us-east-1"
	Account   = "000000000000"
	// credentialLifetime is how long the credentials the functions get
	// last; in-process functions renew theirs, the emulator's are set at
	// start (restart rotor local after it).
	credentialLifetime = 12 * time.Hour
)

// Options configure a Host.
type Options struct {
	Addr     string // default 127.0.0.1:0
	DataFile string // "" keeps state in memory
	// Template is a synthesized CloudFormation template (JSON), e.g.
	// cdk.out/Rotor.template.json; nil deploys DefaultTemplate.
	Template []byte
	// IAMOff lets every caller do everything. By default (false) IAM is
	// enforced: see the package comment.
	IAMOff bool
	// OnDenied is called for every request IAM refuses.
	OnDenied func(localaws.Denial)
	// WaitScale multiplies every Wait state's and retry interval's
	// duration (localaws.Options.WaitScale); 0 means 1.
	WaitScale float64
	Quotas    bool
	Faults    []localaws.Fault
	// Bootstraps, when set, is a directory holding <function>/bootstrap
	// binaries built for this machine: each runs under the Lambda Runtime
	// Interface Emulator instead of in-process.
	Bootstraps string
	// Emulator is the aws-lambda-rie path ("" finds it; see internal/localaws/lambda.StartRIE).
	Emulator string
	// FunctionEnv is added to the environment of every function, over what
	// the template sets.
	FunctionEnv map[string]string
	// FunctionLog receives function output (RIE processes, in-process JSON
	// logs and EMF metric lines); nil discards. The EMF lines also add up
	// at GET /_rotor/metrics (MetricsPath) either way.
	FunctionLog io.Writer
	Log         *slog.Logger
	// AllowedHosts are host names the endpoint answers besides loopback
	// ones (see localaws.Options.AllowedHosts).
	AllowedHosts []string
	// Jitter is passed to localaws.Options.Jitter (nil: random jitter).
	Jitter func() float64
	// Now is the in-process functions' clock (nil: time.Now): a test moves
	// it to see when schedules, windows and pauses let a sweep rotate. It
	// dates the versions rotor makes (their ids) and every due decision;
	// Secrets Manager's own dates stay real.
	Now func() time.Time
	// Routes sends a function's invokes (by its local name, e.g.
	// "rotor-create") to an emulator already running at an invocations URL,
	// in place of what Start deploys for it; registered, like every
	// function, before any Lambda call goes out.
	Routes map[string]string
}

// Host is a running local deployment.
type Host struct {
	Server *localaws.Server
	URL    string
	// Deployment is what the template declared, resolved.
	Deployment      *cfn.Deployment
	StateMachineARN string
	TopicARN        string
	// WebhookURL is the webhook's function URL; POST alerts to
	// WebhookURL+"github", "gitguardian" or "generic".
	WebhookURL string
	// WebhookKeys is the ARN of the secret holding the webhook's keys.
	WebhookKeys string
	// Functions maps rotor's function names (resolve, ..., webhook) to
	// their local Lambda names.
	Functions map[string]string
	rie       []*locallambda.RIEFunction

	scheduleMu sync.Mutex
	fired      int
	// What ColdStart builds functions with.
	extraEnv    map[string]string
	functionLog io.Writer
	now         func() time.Time
	// metrics adds up the EMF lines the functions write (MetricsPath).
	metrics *functionMetrics
}

// Start starts the endpoint and deploys rotor on it.
func Start(ctx context.Context, o Options) (*Host, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.FunctionLog == nil {
		o.FunctionLog = io.Discard
	}
	if o.Template == nil {
		o.Template = DefaultTemplate
	}
	for name, url := range o.Routes {
		if name == "" || (!strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://")) {
			return nil, fmt.Errorf("route %q to %q: want a function name and an http(s) invocations URL", name, url)
		}
	}
	// A template that cannot load is refused before the data file is
	// opened: only what a service assigns at creation (a secret's ARN, a
	// function URL) may be missing yet, and deploy supplies it.
	if d, err := cfn.Load(o.Template, cfn.Env{Partition: "aws", Region: Region, Account: Account, StackName: StackName}); d == nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	// New resumes the executions the data file holds before deploy has
	// registered a function: their Lambda calls wait for FunctionsReady.
	srv, err := localaws.New(localaws.Options{Region: Region, Account: Account, DataFile: o.DataFile,
		Quotas: o.Quotas, Faults: o.Faults, Log: o.Log, AllowedHosts: o.AllowedHosts, Jitter: o.Jitter,
		AwaitFunctions: true, EnforceIAM: !o.IAMOff, OnDenied: o.OnDenied, WaitScale: o.WaitScale})
	if err != nil {
		return nil, err
	}
	url, err := srv.Start(o.Addr)
	if err != nil {
		srv.Close()
		return nil, err
	}
	h := &Host{Server: srv, URL: url, Functions: map[string]string{}, metrics: newFunctionMetrics(o.Log)}
	if err := srv.HandleAdmin(MetricsPath, h.metrics); err != nil {
		h.Close()
		return nil, err
	}
	if err := h.deploy(ctx, o); err != nil {
		h.Close()
		return nil, err
	}
	for name, url := range o.Routes {
		if _, ok := h.function(name); !ok {
			h.Close()
			return nil, fmt.Errorf("route %q: the template has no function %s (it has %s)", name, name, strings.Join(h.functionNames(), ", "))
		}
		srv.Lambda.RegisterURL(name, url)
	}
	srv.FunctionsReady()
	return h, nil
}

// Client options for the SDK clients the host uses: credentials local IAM
// did not issue, which act as the account's root.
func (h *Host) awsConfig() aws.Config {
	return aws.Config{Region: Region, BaseEndpoint: aws.String(h.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALROTOR", "local-secret-key", "")}
}

// roleConfig is the configuration of a client acting as roleARN, with
// credentials the local STS issues (and renews) for it.
func (h *Host) roleConfig(roleARN, session string) aws.Config {
	cfg := h.awsConfig()
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c, err := h.Server.STS.Issue(roleARN, session, credentialLifetime)
		if err != nil {
			return aws.Credentials{}, err
		}
		return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			Source: "rotor local STS", CanExpire: true, Expires: c.Expiration}, nil
	}))
	return cfg
}

// SecretsManager returns an SDK client for the endpoint.
func (h *Host) SecretsManager() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(h.awsConfig())
}

// StepFunctions returns an SDK client for the endpoint.
func (h *Host) StepFunctions() *sfn.Client { return sfn.NewFromConfig(h.awsConfig()) }

// Close stops the functions and the endpoint. Executions still running
// resume when a host starts again on the same data file.
func (h *Host) Close() error {
	var errs []error
	errs = append(errs, h.Server.Close())
	for _, f := range h.rie {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

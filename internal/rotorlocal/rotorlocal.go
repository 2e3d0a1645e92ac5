// Package rotorlocal hosts rotor on the local endpoint: it starts
// internal/localaws, creates the notification topic, the rotation state
// machine from statemachine/rotation.asl.json, the leak bus and the leak
// rules of internal/leak (as the CDK construct does), and routes the Lambda
// functions either to in-process handlers (internal/rotation, reaching the
// endpoint through the AWS SDK over the wire) or to function binaries under
// the Lambda Runtime Interface Emulator.
//
// Executions the data file holds as running resume when Start opens it,
// but no Lambda call goes out before every function is registered (in
// process, under the emulator, or routed with Options.Routes): a rotation
// interrupted by a restart carries on instead of failing on a function not
// registered yet.
//
// It is what `rotor local serve` and `rotor local demo` run, and what the
// end-to-end tests start; localaws itself knows nothing of rotation.
package rotorlocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/localaws"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/provider"
	_ "github.com/rotorhq/rotor/internal/provider/all" // the providers the in-process functions use
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/webhook"
	"github.com/rotorhq/rotor/statemachine"
)

// Names of what the host creates.
const (
	StateMachineName = "rotor-rotation"
	TopicName        = "rotor-notifications"
	// WebhookKeysSecret holds the webhook's signing keys, generated at the
	// first start: read them with GetSecretValue to sign test requests.
	WebhookKeysSecret = "rotor/webhook-keys"
	WebhookFunction   = "webhook"
	// LedgerTable is the DynamoDB table of the ledger (internal/ledger).
	LedgerTable    = "rotor-ledger"
	FunctionPrefix = "rotor-"
	Region         = "us-east-1"
	Account        = "000000000000"
)

// Options configure a Host.
type Options struct {
	Addr     string // default 127.0.0.1:0
	DataFile string // "" keeps state in memory
	Quotas   bool
	Faults   []localaws.Fault
	// Bootstraps, when set, is a directory holding <function>/bootstrap
	// binaries built for this machine: each runs under the Lambda Runtime
	// Interface Emulator instead of in-process.
	Bootstraps string
	// Emulator is the aws-lambda-rie path ("" finds it; see internal/localaws/lambda.StartRIE).
	Emulator string
	// FunctionEnv is added to the environment of every function (in-process
	// handlers read rotation's ROTOR_* settings from it too).
	FunctionEnv map[string]string
	// FunctionLog receives function output (RIE processes, in-process JSON
	// logs); nil discards.
	FunctionLog io.Writer
	Log         *slog.Logger
	// AllowedHosts are host names the endpoint answers besides loopback
	// ones (see localaws.Options.AllowedHosts).
	AllowedHosts []string
	// Jitter is passed to localaws.Options.Jitter (nil: random jitter).
	Jitter func() float64
	// Routes sends a function's invokes (by name, e.g. "rotor-create") to
	// an emulator already running at an invocations URL, in place of what
	// Start deploys for it; registered, like every function, before any
	// Lambda call goes out.
	Routes map[string]string
}

// Host is a running local deployment.
type Host struct {
	Server          *localaws.Server
	URL             string
	StateMachineARN string
	TopicARN        string
	// WebhookURL is the webhook's function URL; POST alerts to
	// WebhookURL+"github", "gitguardian" or "generic".
	WebhookURL string
	rie        []*locallambda.RIEFunction
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
	for name, url := range o.Routes {
		if name == "" || (!strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://")) {
			return nil, fmt.Errorf("route %q to %q: want a function name and an http(s) invocations URL", name, url)
		}
	}
	// New resumes the executions the data file holds before deploy has
	// registered a function: their Lambda calls wait for FunctionsReady.
	srv, err := localaws.New(localaws.Options{Region: Region, Account: Account, DataFile: o.DataFile,
		Quotas: o.Quotas, Faults: o.Faults, Log: o.Log, AllowedHosts: o.AllowedHosts, Jitter: o.Jitter,
		AwaitFunctions: true})
	if err != nil {
		return nil, err
	}
	url, err := srv.Start(o.Addr)
	if err != nil {
		srv.Close()
		return nil, err
	}
	h := &Host{Server: srv, URL: url}
	if err := h.deploy(ctx, o); err != nil {
		h.Close()
		return nil, err
	}
	for name, url := range o.Routes {
		srv.Lambda.RegisterURL(name, url)
	}
	srv.FunctionsReady()
	return h, nil
}

// Client options for the SDK clients the host and its functions use.
func (h *Host) awsConfig() aws.Config {
	return aws.Config{Region: Region, BaseEndpoint: aws.String(h.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALROTOR", "local-secret-key", "")}
}

// SecretsManager returns an SDK client for the endpoint.
func (h *Host) SecretsManager() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(h.awsConfig())
}

// StepFunctions returns an SDK client for the endpoint.
func (h *Host) StepFunctions() *sfn.Client { return sfn.NewFromConfig(h.awsConfig()) }

func (h *Host) deploy(ctx context.Context, o Options) error {
	topic, err := sns.NewFromConfig(h.awsConfig()).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(TopicName)})
	if err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	h.TopicARN = aws.ToString(topic.TopicArn)
	subs := map[string]string{"TopicArn": h.TopicARN}
	for _, p := range statemachine.Placeholders() {
		if fn, ok := statemachine.FunctionOf(p); ok {
			subs[p] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s%s", Region, Account, FunctionPrefix, fn)
		}
	}
	def, err := statemachine.Substitute(subs)
	if err != nil {
		return err
	}
	sm, err := h.StepFunctions().CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(StateMachineName),
		Definition: aws.String(def), RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/rotor-local", Account))})
	if err != nil {
		return fmt.Errorf("create state machine: %w", err)
	}
	h.StateMachineARN = aws.ToString(sm.StateMachineArn)
	if err := h.deployLedger(ctx); err != nil {
		return err
	}
	env := map[string]string{"AWS_ENDPOINT_URL": h.URL, "AWS_REGION": Region,
		"AWS_ACCESS_KEY_ID": "AKIDLOCALROTOR", "AWS_SECRET_ACCESS_KEY": "local-secret-key",
		ledger.EnvTable: LedgerTable}
	for k, v := range o.FunctionEnv {
		env[k] = v
	}
	for _, fn := range rotation.Functions {
		if o.Bootstraps != "" {
			if err := h.startRIE(ctx, o, fn, env); err != nil {
				return err
			}
			continue
		}
		if err := h.registerInProcess(fn, env, o.FunctionLog); err != nil {
			return err
		}
	}
	if err := h.deployLeakRules(ctx); err != nil {
		return err
	}
	return h.deployWebhook(ctx, o, env)
}

// deployLedger creates the ledger's table (kept from an earlier start on
// the same data file) with its TTL attribute, as the construct does.
func (h *Host) deployLedger(ctx context.Context) error {
	db := dynamodb.NewFromConfig(h.awsConfig())
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(LedgerTable), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(ledger.KeyAttr), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(ledger.KeyAttr), KeyType: ddbtypes.KeyTypeHash}}})
	var inUse *ddbtypes.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create ledger table: %w", err)
	}
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(LedgerTable),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(ledger.ExpiresAttr), Enabled: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("ledger table TTL: %w", err)
	}
	return nil
}

// ledger is the ledger the in-process functions use.
func (h *Host) ledger() *ledger.Ledger {
	return ledger.New(dynamodb.NewFromConfig(h.awsConfig()), LedgerTable)
}

// deployLeakRules creates the leak bus and the rules of leak.Rules, which
// the CDK construct deploys too, each starting the state machine.
func (h *Host) deployLeakRules(ctx context.Context) error {
	eb := eventbridge.NewFromConfig(h.awsConfig())
	_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(leak.LeakBus)})
	var exists *ebtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create event bus %s: %w", leak.LeakBus, err)
	}
	for _, r := range leak.Rules() {
		pattern, err := json.Marshal(r.Pattern)
		if err != nil {
			return fmt.Errorf("rule %s: %w", r.ID, err)
		}
		var bus *string
		if r.Bus != "" {
			bus = aws.String(r.Bus)
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.ID), EventBusName: bus,
			Description: aws.String(r.Description), EventPattern: aws.String(string(pattern))}); err != nil {
			return fmt.Errorf("put rule %s: %w", r.ID, err)
		}
		target := ebtypes.Target{Id: aws.String("rotation"), Arn: aws.String(h.StateMachineARN),
			RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/rotor-local-events", Account))}
		if paths, template, ok := r.Transformer(); ok {
			target.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: paths, InputTemplate: aws.String(template)}
		} else {
			target.InputPath = aws.String(r.InputPath)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.ID), EventBusName: bus,
			Targets: []ebtypes.Target{target}}); err != nil {
			return fmt.Errorf("put targets of rule %s: %w", r.ID, err)
		}
	}
	return nil
}

// deployWebhook creates the webhook's keys (once) and its function URL.
func (h *Host) deployWebhook(ctx context.Context, o Options, env map[string]string) error {
	keys := webhook.Keys{GitHub: randomKey(), GitGuardian: randomKey(), Generic: randomKey()}
	b, _ := json.Marshal(keys)
	_, err := h.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(WebhookKeysSecret),
		Description: aws.String("rotor local: the webhook's signing keys"), SecretString: aws.String(string(b))})
	var exists *smtypes.ResourceExistsException
	if err != nil && !errors.As(err, &exists) { // kept from an earlier start on the same data file
		return fmt.Errorf("create webhook keys: %w", err)
	}
	wenv := map[string]string{webhook.EnvSecret: WebhookKeysSecret, webhook.EnvBus: leak.LeakBus}
	for k, v := range env {
		wenv[k] = v
	}
	name := FunctionPrefix + WebhookFunction
	if o.Bootstraps != "" {
		if err := h.startRIE(ctx, o, WebhookFunction, wenv); err != nil {
			return err
		}
	} else {
		handler, err := webhook.New(webhook.Options{
			Keys:      webhook.CachedKeys(h.SecretsManager(), WebhookKeysSecret, time.Minute, time.Now),
			Publisher: &webhook.EventBridge{Client: eventbridge.NewFromConfig(h.awsConfig()), Bus: leak.LeakBus},
			Dedupe:    h.ledger(),
			GitHubAPI: wenv[webhook.EnvGitHubAPI],
			Log:       slog.New(slog.NewJSONHandler(o.FunctionLog, nil)),
		})
		if err != nil {
			return err
		}
		h.Server.Lambda.Register(name, func(ctx context.Context, payload []byte) ([]byte, error) {
			var req events.LambdaFunctionURLRequest
			if err := json.Unmarshal(payload, &req); err != nil {
				return nil, &locallambda.FunctionError{Type: "Runtime.UnmarshalError", Message: err.Error()}
			}
			resp, err := handler.FunctionURL(ctx, req)
			if err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		})
	}
	h.WebhookURL = h.Server.FunctionURL(name)
	return nil
}

func randomKey() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (h *Host) startRIE(ctx context.Context, o Options, fn string, env map[string]string) error {
	bin := filepath.Join(o.Bootstraps, fn, "bootstrap")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("function %s: %w (build the bootstraps for this machine first)", fn, err)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	f, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: o.Emulator, Bootstrap: bin, Env: envList,
		Stdout: o.FunctionLog, Stderr: o.FunctionLog})
	if err != nil {
		return fmt.Errorf("function %s: %w", fn, err)
	}
	h.rie = append(h.rie, f)
	h.Server.Lambda.RegisterURL(FunctionPrefix+fn, f.URL())
	return nil
}

// registerInProcess runs a function's handler in this process, configured
// the way the Lambda function is: from its environment.
func (h *Host) registerInProcess(fn string, env map[string]string, logs io.Writer) error {
	// The providers whose Needs name AWS services get the endpoint's
	// configuration, as a function's SDK gets it from AWS_ENDPOINT_URL;
	// this process's own environment may point at a real account.
	cfg := h.awsConfig()
	svc := &rotation.Service{SM: secretsmanager.NewFromConfig(cfg), Ledger: h.ledger(),
		Log:       slog.New(redact.Handler(slog.NewJSONHandler(logs, nil))),
		Providers: provider.NewSet(provider.Env{AWS: &cfg}).Lookup}
	if err := rotation.Configure(svc, func(k string) string { return env[k] }); err != nil {
		return fmt.Errorf("function %s: %w", fn, err)
	}
	handler, err := svc.Handler(fn)
	if err != nil {
		return err
	}
	h.Server.Lambda.Register(FunctionPrefix+fn, func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := handler.Invoke(ctx, payload)
		var ie messages.InvokeResponse_Error
		if errors.As(err, &ie) {
			return nil, &locallambda.FunctionError{Type: ie.Type, Message: ie.Message}
		}
		return out, err
	})
	return nil
}

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

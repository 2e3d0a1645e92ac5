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
// It is what `rotor local serve` and `rotor local demo` run, and what the
// end-to-end tests start; localaws itself knows nothing of rotation.
package rotorlocal

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	_ "github.com/rotorhq/rotor/internal/provider/all" // the providers the in-process functions use
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/webhook"
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
	// logs); nil discards.
	FunctionLog io.Writer
	Log         *slog.Logger
	// AllowedHosts are host names the endpoint answers besides loopback
	// ones (see localaws.Options.AllowedHosts).
	AllowedHosts []string
	// Jitter is passed to localaws.Options.Jitter (nil: random jitter).
	Jitter func() float64
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
	h := &Host{Server: srv, URL: url, Functions: map[string]string{}}
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

func (h *Host) function(name string) (cfn.Function, bool) {
	for _, f := range h.Deployment.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return cfn.Function{}, false
}

func (h *Host) functionNames() []string {
	var out []string
	for _, f := range h.Deployment.Functions {
		out = append(out, f.Name)
	}
	return out
}

// deploy loads the template and creates what it declares, in dependency
// order. What exists already (a data file from an earlier start) is kept.
func (h *Host) deploy(ctx context.Context, o Options) error {
	known, err := h.preDeploy(ctx, o.Template)
	if err != nil {
		return err
	}
	d, err := cfn.Load(o.Template, cfn.Env{Partition: "aws", Region: Region, Account: Account, StackName: StackName, Known: known})
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	h.Deployment = d
	if len(d.Unmodelled) > 0 {
		o.Log.Info("resources the local endpoint does not deploy", "resources", unmodelledSummary(d.Unmodelled))
	}
	for _, r := range d.Roles {
		if _, err := h.Server.IAM.PutRole(iam.Role{Name: r.Name, Path: r.Path, AssumeRolePolicy: r.AssumeRolePolicy, Policies: r.Policies}); err != nil {
			return fmt.Errorf("role %s: %w", r.LogicalID, err)
		}
	}
	if err := h.deployTopics(ctx, d); err != nil {
		return err
	}
	if err := h.deployTables(ctx, d); err != nil {
		return err
	}
	if err := h.deployFunctions(ctx, o, d); err != nil {
		return err
	}
	if err := h.fillWebhookKeys(ctx, d, known); err != nil {
		return err
	}
	for _, m := range d.StateMachines {
		out, err := h.StepFunctions().CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(m.Name),
			Definition: aws.String(m.Definition), RoleArn: aws.String(m.RoleARN)})
		if err != nil {
			return fmt.Errorf("state machine %s: %w", m.LogicalID, err)
		}
		if got := aws.ToString(out.StateMachineArn); got != m.ARN {
			return fmt.Errorf("state machine %s: created as %s, but the template resolves it to %s", m.LogicalID, got, m.ARN)
		}
		if h.StateMachineARN == "" {
			h.StateMachineARN = m.ARN
		}
	}
	if h.StateMachineARN == "" {
		return errors.New("template: no AWS::StepFunctions::StateMachine: is this rotor's template?")
	}
	if err := h.deployEvents(ctx, d); err != nil {
		return err
	}
	return h.Server.HandleAdmin("/_rotor/schedules/", http.HandlerFunc(h.serveFire))
}

// serveFire answers POST /_rotor/schedules/<name>: FireSchedule, with the
// execution's ARN.
func (h *Host) serveFire(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "POST fires the schedule"})
		return
	}
	arn, err := h.FireSchedule(r.Context(), strings.TrimPrefix(r.URL.Path, "/_rotor/schedules/"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"executionArn": arn})
}

// preDeploy creates what the template cannot name before it exists (the
// secrets, whose ARNs end in a random suffix) and chooses the physical
// names rotor local keeps stable. It returns them as cfn.Env.Known.
func (h *Host) preDeploy(ctx context.Context, template []byte) (map[string]map[string]string, error) {
	var t struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]json.RawMessage
			Metadata   map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	known := map[string]map[string]string{}
	webhookSecret := ""
	count := map[string]int{}
	for _, r := range t.Resources {
		count[r.Type]++
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::Lambda::Function":
			var fn string
			if err := json.Unmarshal(r.Metadata[cfnMetadataFunction], &fn); err != nil || fn == "" {
				return nil, fmt.Errorf("template: function %s has no %q metadata naming which of rotor's functions it is (synthesize it with this version's construct)", id, cfnMetadataFunction)
			}
			name := FunctionPrefix + fn
			known[id] = map[string]string{"Name": name, "Ref": name,
				"Arn": fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, name)}
			var env struct{ Variables map[string]json.RawMessage }
			_ = json.Unmarshal(r.Properties["Environment"], &env)
			var ref struct{ Ref string }
			if json.Unmarshal(env.Variables[webhook.EnvSecret], &ref) == nil && ref.Ref != "" {
				webhookSecret = ref.Ref
			}
		case "AWS::SNS::Topic":
			if count[r.Type] == 1 {
				known[id] = map[string]string{"Name": TopicName, "TopicName": TopicName,
					"Ref": fmt.Sprintf("arn:aws:sns:%s:%s:%s", Region, Account, TopicName)}
				known[id]["TopicArn"] = known[id]["Ref"]
			}
		case "AWS::DynamoDB::Table":
			if count[r.Type] == 1 {
				known[id] = map[string]string{"Name": LedgerTable, "Ref": LedgerTable,
					"Arn": fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, Account, LedgerTable)}
			}
		}
	}
	for _, id := range ids {
		r := t.Resources[id]
		if r.Type != "AWS::Lambda::Url" {
			continue
		}
		var target struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
		if err := json.Unmarshal(r.Properties["TargetFunctionArn"], &target); err != nil || len(target.GetAtt) != 2 || known[target.GetAtt[0]] == nil {
			return nil, fmt.Errorf("template: function URL %s: TargetFunctionArn is not the Arn of a function of the template", id)
		}
		known[id] = map[string]string{"FunctionUrl": h.Server.FunctionURL(known[target.GetAtt[0]]["Name"])}
	}
	for _, id := range ids {
		r := t.Resources[id]
		if r.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		name := StackName + "-" + id
		if id == webhookSecret {
			name = WebhookKeysSecret
		}
		if raw, ok := r.Properties["Name"]; ok {
			if err := json.Unmarshal(raw, &name); err != nil {
				return nil, fmt.Errorf("template: secret %s: Name is not a literal string", id)
			}
		}
		var fill []string
		if id == webhookSecret {
			fill = webhookKeyNames
		}
		arn, err := h.createSecret(ctx, id, name, r.Properties, fill)
		if err != nil {
			return nil, err
		}
		known[id] = map[string]string{"Name": name, "Ref": arn, "Id": arn}
	}
	return known, nil
}

// cfnMetadataFunction is infra/rotorcdk.MetadataFunction (the construct's
// package is not imported here: it pulls in the CDK).
const cfnMetadataFunction = "rotor:function"

// webhookKeyNames are the signing keys of the webhook's secret.
var webhookKeyNames = []string{"github", "gitguardian", "generic"}

// createSecret creates a secret of the template with its literal or
// generated value, or finds it from an earlier start. The keys named by
// fill that the generated JSON leaves empty get random values.
func (h *Host) createSecret(ctx context.Context, id, name string, props map[string]json.RawMessage, fill []string) (string, error) {
	sm := h.SecretsManager()
	if out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}); err == nil {
		return aws.ToString(out.ARN), nil
	}
	var desc, value string
	_ = json.Unmarshal(props["Description"], &desc)
	if raw, ok := props["SecretString"]; ok {
		if err := json.Unmarshal(raw, &value); err != nil {
			return "", fmt.Errorf("template: secret %s: SecretString is not a literal string", id)
		}
	} else {
		var g struct {
			SecretStringTemplate string
			GenerateStringKey    string
			PasswordLength       int
			ExcludePunctuation   bool
		}
		if raw, ok := props["GenerateSecretString"]; ok {
			if err := json.Unmarshal(raw, &g); err != nil {
				return "", fmt.Errorf("template: secret %s: GenerateSecretString: %w", id, err)
			}
		}
		if g.PasswordLength == 0 {
			g.PasswordLength = 32
		}
		generated := randomKey(g.PasswordLength)
		value = generated
		if g.SecretStringTemplate != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(g.SecretStringTemplate), &obj); err != nil {
				return "", fmt.Errorf("template: secret %s: SecretStringTemplate is not a JSON object", id)
			}
			obj[g.GenerateStringKey] = generated
			for _, k := range fill {
				if v, _ := obj[k].(string); v == "" {
					obj[k] = randomKey(g.PasswordLength)
				}
			}
			b, _ := json.Marshal(obj)
			value = string(b)
		}
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		Description: aws.String(desc), SecretString: aws.String(value)})
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", id, err)
	}
	return aws.ToString(out.ARN), nil
}

// fillWebhookKeys finds the webhook's keys and URL. The signing keys the
// template leaves empty (GitHub's and GitGuardian's, which on AWS a person
// copies in from those services: the README's first-deploy checklist) are
// random ones, set when the secret is created (createSecret); a secret
// kept from an earlier start that lacks one gets it here, once.
func (h *Host) fillWebhookKeys(ctx context.Context, d *cfn.Deployment, known map[string]map[string]string) error {
	fn, ok := h.Functions[WebhookFunction]
	if !ok {
		return nil
	}
	f, _ := h.function(fn)
	arn := f.Env[webhook.EnvSecret]
	h.WebhookKeys = arn
	for _, u := range d.FunctionURLs {
		if u.Function == fn {
			h.WebhookURL = h.Server.FunctionURL(fn)
		}
	}
	sm := h.SecretsManager()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("webhook keys: %w", err)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &keys); err != nil {
		return fmt.Errorf("webhook keys %s: not a JSON object", arn)
	}
	changed := false
	for _, k := range webhookKeyNames {
		if v, _ := keys[k].(string); v == "" {
			keys[k] = randomKey(48)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b, _ := json.Marshal(keys)
	_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(string(b))})
	var exists *smtypes.ResourceExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("webhook keys: %w", err)
	}
	return nil
}

func (h *Host) deployTopics(ctx context.Context, d *cfn.Deployment) error {
	for _, t := range d.Topics {
		in := &sns.CreateTopicInput{Name: aws.String(t.Name)}
		if t.KMSKeyARN != "" {
			in.Attributes = map[string]string{"KmsMasterKeyId": t.KMSKeyARN}
		}
		out, err := sns.NewFromConfig(h.awsConfig()).CreateTopic(ctx, in)
		if err != nil {
			return fmt.Errorf("topic %s: %w", t.LogicalID, err)
		}
		if got := aws.ToString(out.TopicArn); got != t.ARN {
			return fmt.Errorf("topic %s: created as %s, but the template resolves it to %s", t.LogicalID, got, t.ARN)
		}
		if h.TopicARN == "" {
			h.TopicARN = t.ARN
		}
	}
	return nil
}

// deployTables creates the tables (kept from an earlier start on the same
// data file) with their TTL attribute.
func (h *Host) deployTables(ctx context.Context, d *cfn.Deployment) error {
	db := dynamodb.NewFromConfig(h.awsConfig())
	for _, t := range d.Tables {
		attrs := []ddbtypes.AttributeDefinition{{AttributeName: aws.String(t.HashKey), AttributeType: ddbtypes.ScalarAttributeType(t.HashKeyType)}}
		keys := []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.HashKey), KeyType: ddbtypes.KeyTypeHash}}
		if t.RangeKey != "" {
			attrs = append(attrs, ddbtypes.AttributeDefinition{AttributeName: aws.String(t.RangeKey), AttributeType: ddbtypes.ScalarAttributeType(t.RangeKeyType)})
			keys = append(keys, ddbtypes.KeySchemaElement{AttributeName: aws.String(t.RangeKey), KeyType: ddbtypes.KeyTypeRange})
		}
		_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(t.Name), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: attrs, KeySchema: keys})
		var inUse *ddbtypes.ResourceInUseException
		if errors.As(err, &inUse) {
			continue
		}
		if err != nil {
			return fmt.Errorf("table %s: %w", t.LogicalID, err)
		}
		if t.TTLAttribute != "" {
			if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(t.Name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)}}); err != nil {
				return fmt.Errorf("table %s TTL: %w", t.LogicalID, err)
			}
		}
	}
	return nil
}

// deployFunctions registers each function under its role's credentials:
// in process, under the emulator, or (Options.Routes) not at all.
func (h *Host) deployFunctions(ctx context.Context, o Options, d *cfn.Deployment) error {
	h.extraEnv, h.functionLog = o.FunctionEnv, o.FunctionLog
	for _, f := range d.Functions {
		h.Functions[f.Rotor] = f.Name
		if _, routed := o.Routes[f.Name]; routed {
			continue
		}
		env := map[string]string{}
		for k, v := range f.Env {
			env[k] = v
		}
		for k, v := range o.FunctionEnv {
			env[k] = v
		}
		if o.Bootstraps != "" {
			if err := h.startRIE(ctx, o, f, env); err != nil {
				return err
			}
			continue
		}
		if err := h.registerInProcess(f, env, o.FunctionLog); err != nil {
			return err
		}
	}
	return nil
}

// deployEvents creates the buses, the rules with their targets and the
// schedules (which fire on demand: FireSchedule).
func (h *Host) deployEvents(ctx context.Context, d *cfn.Deployment) error {
	eb := eventbridge.NewFromConfig(h.awsConfig())
	for _, b := range d.Buses {
		_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.Name)})
		var exists *ebtypes.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("event bus %s: %w", b.LogicalID, err)
		}
	}
	for _, r := range d.Rules {
		if r.Schedule != "" {
			return fmt.Errorf("rule %s: scheduled rules (%s) are not modelled: use an AWS::Scheduler::Schedule", r.LogicalID, r.Schedule)
		}
		state := ebtypes.RuleStateEnabled
		if !r.Enabled {
			state = ebtypes.RuleStateDisabled
		}
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(r.Bus),
			Description: aws.String(r.Description), EventPattern: aws.String(r.Pattern), State: state}); err != nil {
			return fmt.Errorf("rule %s: %w", r.LogicalID, err)
		}
		var targets []ebtypes.Target
		for _, t := range r.Targets {
			et := ebtypes.Target{Id: aws.String(t.ID), Arn: aws.String(t.ARN), RoleArn: nonEmpty(t.RoleARN),
				Input: nonEmpty(t.Input), InputPath: nonEmpty(t.InputPath)}
			if t.InputTemplate != "" {
				et.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: t.InputPathsMap, InputTemplate: aws.String(t.InputTemplate)}
			}
			targets = append(targets, et)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.Bus),
			Targets: targets}); err != nil {
			return fmt.Errorf("targets of rule %s: %w", r.LogicalID, err)
		}
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// unmodelledSummary counts the resources not deployed by type:
// "AWS::Logs::LogGroup x7, ...".
func unmodelledSummary(rs []cfn.Resource) string {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Type]++
	}
	types := make([]string, 0, len(n))
	for t := range n {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = t + " x" + strconv.Itoa(n[t])
	}
	return strings.Join(parts, ", ")
}

// Unmodelled is unmodelledSummary of the deployment's.
func (h *Host) Unmodelled() string { return unmodelledSummary(h.Deployment.Unmodelled) }

// FireSchedule starts what a schedule targets, now, as EventBridge
// Scheduler would: with the schedule's role and input. It returns the
// execution's ARN.
func (h *Host) FireSchedule(ctx context.Context, name string) (string, error) {
	var names []string
	for _, s := range h.Deployment.Schedules {
		names = append(names, s.Name)
		if s.Name != name && s.LogicalID != name {
			continue
		}
		if !strings.Contains(s.Target.ARN, ":states:") || !strings.Contains(s.Target.ARN, ":stateMachine:") {
			return "", fmt.Errorf("schedule %s: its target %s is not a state machine, the only target modelled", name, s.Target.ARN)
		}
		h.scheduleMu.Lock()
		h.fired++
		n := h.fired
		h.scheduleMu.Unlock()
		out, err := sfn.NewFromConfig(h.roleConfig(s.Target.RoleARN, "scheduler")).StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(s.Target.ARN), Input: aws.String(s.Target.Input),
			Name: aws.String(fmt.Sprintf("%s-%d-%d", truncate(s.Name, 40), time.Now().Unix(), n))})
		if err != nil {
			return "", fmt.Errorf("schedule %s: %w", name, err)
		}
		return aws.ToString(out.ExecutionArn), nil
	}
	return "", fmt.Errorf("no schedule %q (the template has: %s)", name, strings.Join(names, ", "))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func randomKey(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)[:n]
}

// functionEnv is what Lambda adds to a function's own environment.
func (h *Host) functionEnv(f cfn.Function, env map[string]string, creds *iam.Credentials) []string {
	all := map[string]string{"AWS_ENDPOINT_URL": h.URL, "AWS_REGION": Region, "AWS_DEFAULT_REGION": Region,
		"AWS_LAMBDA_FUNCTION_NAME": f.Name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(f.TimeoutSeconds)}
	if creds != nil {
		all["AWS_ACCESS_KEY_ID"], all["AWS_SECRET_ACCESS_KEY"], all["AWS_SESSION_TOKEN"] = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	}
	for k, v := range env {
		all[k] = v
	}
	out := make([]string, 0, len(all))
	for k, v := range all {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (h *Host) startRIE(ctx context.Context, o Options, f cfn.Function, env map[string]string) error {
	bin := filepath.Join(o.Bootstraps, f.Rotor, "bootstrap")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("function %s: %w (build the bootstraps for this machine first)", f.Rotor, err)
	}
	creds, err := h.Server.STS.Issue(f.RoleARN, f.Name, credentialLifetime)
	if err != nil {
		return fmt.Errorf("function %s: role %s: %w", f.Rotor, f.RoleARN, err)
	}
	rf, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: o.Emulator, Bootstrap: bin, Env: h.functionEnv(f, env, &creds),
		Stdout: o.FunctionLog, Stderr: o.FunctionLog})
	if err != nil {
		return fmt.Errorf("function %s: %w", f.Rotor, err)
	}
	h.rie = append(h.rie, rf)
	h.Server.Lambda.RegisterURL(f.Name, rf.URL())
	return nil
}

// registerInProcess runs a function's handler in this process, built by
// the constructor its main package calls, from its environment and with
// its role's credentials.
func (h *Host) registerInProcess(f cfn.Function, env map[string]string, logs io.Writer) error {
	cfg := h.roleConfig(f.RoleARN, f.Name)
	getenv := func(k string) string { return env[k] }
	timeout := time.Duration(f.TimeoutSeconds) * time.Second
	var invoke func(ctx context.Context, payload []byte) ([]byte, error)
	if f.Rotor == WebhookFunction {
		handler, err := webhook.FromConfig(cfg, getenv, logs)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		invoke = func(ctx context.Context, payload []byte) ([]byte, error) {
			var req events.LambdaFunctionURLRequest
			if err := json.Unmarshal(payload, &req); err != nil {
				return nil, &locallambda.FunctionError{Type: "Runtime.UnmarshalError", Message: err.Error()}
			}
			resp, err := handler.FunctionURL(ctx, req)
			if err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		}
	} else {
		svc, err := rotation.FromConfig(cfg, getenv, logs)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		handler, err := svc.Handler(f.Rotor)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		invoke = handler.Invoke
	}
	h.Server.Lambda.Register(f.Name, func(ctx context.Context, payload []byte) ([]byte, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		out, err := invoke(ctx, payload)
		var ie messages.InvokeResponse_Error
		if errors.As(err, &ie) {
			return nil, &locallambda.FunctionError{Type: ie.Type, Message: ie.Message}
		}
		return out, err
	})
	return nil
}

// ColdStart builds an in-process function (by rotor's name: create,
// webhook, ...) again, as Lambda starts a new execution environment:
// whatever it cached (the webhook's keys) is read again.
func (h *Host) ColdStart(fn string) error {
	name, ok := h.Functions[fn]
	if !ok {
		return fmt.Errorf("no function %q", fn)
	}
	f, _ := h.function(name)
	env := map[string]string{}
	for k, v := range f.Env {
		env[k] = v
	}
	for k, v := range h.extraEnv {
		env[k] = v
	}
	return h.registerInProcess(f, env, h.functionLog)
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

// Package rotorcdk is rotor's AWS CDK construct: the rotation state machine
// from statemachine/rotation.asl.json, its five Go Lambda functions, the
// triggers (EventBridge Scheduler schedules per secret and a sweeper,
// EventBridge rules for GuardDuty and AWS Health credential findings, the
// rotor-leaks event bus), the notification topic with alarms, a dashboard
// of the functions' metrics (EMF lines, internal/metrics), the outcome
// events on EventBridge (Config.EventBusName), the ledger
// table the functions share, and least-privilege roles. Import it into your
// own CDK app with NewRotor, or deploy the app in infra/.
//
// IAM model: every Secrets Manager permission on managed secrets is
// conditioned on the tag rotor:provider; master secrets are the secrets
// tagged rotor:role=master, and only the create and expire functions may
// read them (verify is explicitly denied). Secret ARNs end in a random
// suffix, so resources are the ARN patterns secret:<prefix>* of the stack's
// account and Region (one per Config.SecretNamePrefixes, or secret:* when
// there are none) narrowed by those tag conditions. What a provider needs
// is its own registration's data (provider.Needs), never code here: its
// IAM statements go to the roles of the functions they name, with the
// same patterns for its ${SecretArns} (awsiam: IAM users are reachable
// only when their rotor:secret tag names a secret in them), and a
// provider that reaches private servers (postgres) is why the vpc setting
// places the functions that call providers in its subnets. The ledger
// table is written only under each function's own key prefix
// (dynamodb:LeadingKeys). The functions' roles live under the IAM path
// /rotor/ (RolePath), which is what infra/scp/rotor-guard.json recognizes
// them by.
package rotorcdk

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/provider"
	_ "github.com/rotorhq/rotor/internal/provider/all" // the providers the functions run, whose needs the roles grant
	awsiamprov "github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/webhook"
	"github.com/rotorhq/rotor/statemachine"
)

// Tags that scope permissions.
const (
	TagProvider = rotation.TagProvider // present on every managed secret
	TagRole     = rotation.TagRole     // RoleMaster on master secrets
	RoleMaster  = rotation.RoleMaster
	LeakBusName = leak.LeakBus
	// TagUserSecret is the IAM user tag naming, by ARN, the one secret the
	// user backs: rotor may act only on users whose tag names a secret it
	// may touch.
	TagUserSecret = awsiamprov.TagSecret
	// RolePath is the IAM path of the functions' roles; the service
	// control policy in infra/scp exempts exactly these roles.
	RolePath     = "/rotor/"
	functionMemo = 128
)

// Props configure the construct.
type Props struct {
	Config
	// AssetDir holds <function>/bootstrap for each function, built by
	// `make build` (linux/arm64). Default "dist".
	AssetDir string
}

// Rotor is the deployed system.
type Rotor struct {
	constructs.Construct
	StateMachine awsstepfunctions.StateMachine
	Functions    map[string]awslambda.Function // by function name: resolve, create, ...
	Roles        map[string]awsiam.Role
	Topic        awssns.Topic
	LeakBus      awsevents.EventBus
	DeadLetters  awssqs.Queue
	// Ledger is the table of delivered alerts and revoked credentials
	// (internal/ledger).
	Ledger awsdynamodb.Table
	// The webhook, when the leak bus is enabled: its URL and the secret
	// holding its signing keys.
	WebhookURL  awslambda.FunctionUrl
	WebhookKeys awssecretsmanager.Secret
	// Dashboard shows the functions' metrics (internal/metrics) and the
	// executions; OverdueAlarm, when the sweeper runs, fires when two
	// sweeps in a row found secrets past their rotor:max-age.
	Dashboard    awscloudwatch.Dashboard
	OverdueAlarm awscloudwatch.Alarm

	schedulerRole awsiam.Role
}

// functionSpec is what differs between the functions.
type functionSpec struct {
	name    string
	timeout float64 // seconds
	doc     string
}

var functions = []functionSpec{
	{"resolve", 60, "turns an execution's input into a plan; reads metadata only"},
	{"create", 120, "mints or generates the new credential and stores it AWSPENDING; reads master secrets"},
	{"switchover", 30, "moves AWSCURRENT to the new version"},
	{"verify", 60, "proves the new credential works; never reads a master secret"},
	{"expire", 300, "revokes old credentials, rolls back, cleans up; reads master secrets"},
}

// NewRotor adds rotor to scope.
func NewRotor(scope constructs.Construct, id string, props *Props) *Rotor {
	if props == nil {
		props = &Props{}
	}
	cfg := props.Config
	if cfg.LeakSources == nil { // a zero Config: take the documented defaults
		c, err := ParseConfig(nil)
		if err != nil {
			panic(err)
		}
		cfg = *c
	}
	if cfg.WebhookReservedConcurrency == nil {
		n := defaultWebhookConcurrency
		cfg.WebhookReservedConcurrency = &n
	}
	// A Config built in Go has not been through ParseConfig: the prefixes
	// become IAM resources and an environment variable, so check them the
	// same way.
	if problems := prefixProblems(cfg.SecretNamePrefixes); len(problems) > 0 {
		panic(fmt.Errorf("rotorcdk: %s", strings.Join(problems, "; ")))
	}
	if *cfg.WebhookReservedConcurrency < 0 {
		panic(fmt.Errorf("rotorcdk: webhookReservedConcurrency %d is negative", *cfg.WebhookReservedConcurrency))
	}
	if cfg.EventBusName == "" {
		cfg.EventBusName = DefaultEventBus
	}
	if problems := eventBusProblems(cfg.EventBusName); len(problems) > 0 {
		panic(fmt.Errorf("rotorcdk: %s", strings.Join(problems, "; ")))
	}
	assets := props.AssetDir
	if assets == "" {
		assets = "dist"
	}
	// c is the construct scope; jsii refuses the Go struct that embeds it.
	c := constructs.NewConstruct(scope, jsii.String(id))
	r := &Rotor{Construct: c, Functions: map[string]awslambda.Function{}, Roles: map[string]awsiam.Role{}}
	retention := retentionDays[cfg.LogRetentionDays]
	stack := awscdk.Stack_Of(c)

	// Notifications: an encrypted, TLS-only topic that the state machine
	// and CloudWatch alarms publish to. CloudWatch publishes as its service
	// principal, on behalf of an alarm: both the key and the topic let it
	// do so only for this account's alarms (aws:SourceAccount,
	// aws:SourceArn), so that no other account's alarm can use them. The
	// alarms' own ARNs would do better, but they depend on the topic, which
	// depends on the key: a cycle.
	fromAlarms := map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *stack.Account()},
		"ArnLike":      map[string]any{"aws:SourceArn": arn(stack, "cloudwatch", *stack.Region(), "alarm:*")},
	}
	cloudWatch := &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)}
	key := awskms.NewKey(c, jsii.String("TopicKey"), &awskms.KeyProps{
		EnableKeyRotation: jsii.Bool(true),
		Description:       jsii.String("rotor: encrypts the notification topic"),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: cloudWatch,
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &fromAlarms,
	}), nil)
	r.Topic = awssns.NewTopic(c, jsii.String("Notifications"), &awssns.TopicProps{
		DisplayName: jsii.String("rotor"), MasterKey: key, EnforceSSL: jsii.Bool(true),
	})
	// The topic policy that enforceSSL writes replaces SNS's default one,
	// which let the account's alarms publish: say so again, scoped.
	r.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: cloudWatch,
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{r.Topic.TopicArn()},
		Conditions: &fromAlarms,
	}))
	for _, email := range cfg.AlertEmails {
		r.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}

	// The ledger (internal/ledger): deliveries the webhook accepted and
	// credentials rotor revoked, shared by every function instance.
	// Records hold key ids, fingerprints and signature digests, never a
	// secret, so the table uses DynamoDB's default encryption (an AWS owned
	// key): a key of our own would add a key policy, a cost and a KMS call
	// on the webhook's path, and guard nothing that the table's IAM
	// scoping below does not. RETAIN, like the log groups: deleting or
	// replacing the table with the stack would forget what it remembers,
	// so that a replayed alert would be accepted again and a leak of a
	// revoked key reported as unmanaged.
	r.Ledger = awsdynamodb.NewTable(c, jsii.String("Ledger"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(ledger.KeyAttr), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(ledger.ExpiresAttr),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:    awsdynamodb.TableEncryption_DEFAULT,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// Functions, each with its own role, log group and the permissions of
	// its step.
	secrets := newSecretScope(stack, cfg.SecretNamePrefixes)
	inSubnets := vpcFunctions()
	for _, f := range functions {
		env := map[string]*string{
			"ROTOR_LOCK_TTL":        jsii.String(cfg.LockTTL),
			rotation.EnvWriteBudget: jsii.String(strconv.FormatFloat(cfg.WriteBudget, 'g', -1, 64)),
		}
		if len(cfg.SecretNamePrefixes) > 0 {
			env[rotation.EnvSecretPrefixes] = jsii.String(strings.Join(cfg.SecretNamePrefixes, ","))
		}
		if f.name == "resolve" && cfg.SweeperSchedule != "off" {
			env[rotation.EnvSweepInterval] = jsii.String((time.Duration(sweepPeriod(cfg.SweeperSchedule)) * time.Second).String())
		}
		if _, ok := ledgerAccess[f.name]; ok {
			env[ledger.EnvTable] = r.Ledger.TableName()
		}
		fn, role := r.function(f, assets, retention, env)
		if cfg.VPC != nil && inSubnets[f.name] {
			inVPC(fn, role, cfg.VPC)
		}
		for _, st := range secretsPolicy(f.name, stack, secrets) {
			role.AddToPolicy(st)
		}
		for _, st := range providerPolicy(f.name, stack, secrets) {
			role.AddToPolicy(st)
		}
		r.ledgerPolicy(f.name, role)
		r.Functions[f.name] = fn
		r.Roles[f.name] = role
		suppress(role, "AwsSolutions-IAM5", "Secret ARNs end in a random suffix: the statements name secret:<prefix>* of the stack's account and Region, narrowed by conditions on the rotor:provider and rotor:role tags (ListSecrets, which has no resource-level permissions, is on * narrowed by aws:RequestedRegion); IAM users are user/* narrowed by their rotor:secret tag; X-Ray and the log stream ARN suffix have no narrower resource.")
	}

	// The state machine: the definition file, its placeholders filled.
	smLogs := awslogs.NewLogGroup(c, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		Retention: retention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	subs := map[string]*string{"TopicArn": r.Topic.TopicArn(), "EventBusName": jsii.String(cfg.EventBusName)}
	for _, p := range statemachine.Placeholders() {
		if fn, ok := statemachine.FunctionOf(p); ok {
			subs[p] = r.Functions[fn].FunctionArn()
		}
	}
	r.StateMachine = awsstepfunctions.NewStateMachine(c, jsii.String("Rotation"), &awsstepfunctions.StateMachineProps{
		// The body is statemachine/rotation.asl.json byte for byte, as the
		// statemachine package embeds it, rather than DefinitionBody_FromFile:
		// that would upload it as an S3 asset, so `cdk diff` would show a
		// changed workflow as a changed hash instead of the changed states,
		// and an app importing this package would need a path to the file.
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(statemachine.Definition())),
		DefinitionSubstitutions: &subs,
		StateMachineName:        jsii.String(cfg.StateMachineName),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		TracingEnabled:          jsii.Bool(true),
		// ALL with execution data: every payload in this workflow carries
		// ids only (docs/architecture.md, invariants: no secret value ever enters a payload), so full
		// logs cost no secrecy and are what an operator needs to follow a
		// failed rotation.
		Logs:    &awsstepfunctions.LogOptions{Destination: smLogs, Level: awsstepfunctions.LogLevel_ALL, IncludeExecutionData: jsii.Bool(true)},
		Comment: jsii.String("rotor: rotate managed secrets"),
	})
	for _, f := range functions {
		r.Functions[f.name].GrantInvoke(r.StateMachine.Role())
	}
	r.Topic.GrantPublish(r.StateMachine.Role())
	// The outcome events (the Emit* states): that one bus, source rotor.
	r.StateMachine.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OutcomeEvents"),
		Actions:    jsii.Strings("events:PutEvents"),
		Resources:  jsii.Strings(arn(stack, "events", *stack.Region(), "event-bus/"+cfg.EventBusName)),
		Conditions: &map[string]any{"StringEquals": map[string]any{"events:source": statemachine.EventSource}},
	}))
	explain(r.StateMachine.Role(), stateMachineNeeds)
	r.fanOutPolicy(stack, cfg.StateMachineName)
	suppress(r.StateMachine.Role(), "AwsSolutions-IAM5", "lambda:InvokeFunction on each function's ARN and ARN:* (its versions and aliases), as CDK grants it; this state machine's own executions (execution:NAME:*), which it starts as children; log delivery and X-Ray actions have no resource-level permissions.")

	// Triggers: schedules, the sweeper, leak alerts.
	r.DeadLetters = awssqs.NewQueue(c, jsii.String("TriggerDeadLetters"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	suppress(r.DeadLetters, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the schedules and rules; it has none of its own.")
	for i, s := range cfg.Secrets {
		input := map[string]any{"secretId": s.SecretID, "trigger": "schedule"}
		if g, ok := gracePeriodSeconds(s.GracePeriod); ok {
			input["gracePeriodSeconds"] = g
		}
		r.schedule(fmt.Sprintf("Schedule%d", i), "rotor: rotate "+s.SecretID, s.Schedule, s.TimeZone, input)
	}
	if cfg.SweeperSchedule != "off" {
		r.schedule("Sweeper", "rotor: rotate every managed secret that is due (rotor:schedule, rotor:max-age) inside its rotor:window and not rotor:paused", cfg.SweeperSchedule,
			cfg.SweeperTimeZone, map[string]any{"trigger": "sweep"})
	}
	r.leakRules(*cfg.LeakSources)
	if r.LeakBus != nil {
		r.webhook(assets, retention, *cfg.WebhookReservedConcurrency)
	}

	// Alarms on the outcomes that need a person.
	for _, a := range []struct {
		id, doc string
		metric  awscloudwatch.IMetric
	}{
		{"ExecutionsFailed", "a rotation failed", r.StateMachine.MetricFailed(nil)},
		{"ExecutionsTimedOut", "a rotation timed out", r.StateMachine.MetricTimedOut(nil)},
		{"TriggerDeadLetters", "a schedule or rule could not start a rotation", r.DeadLetters.MetricApproximateNumberOfMessagesVisible(nil)},
	} {
		alarm := awscloudwatch.NewAlarm(c, jsii.String(a.id+"Alarm"), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String("rotor: " + a.doc),
			Metric:             a.metric,
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(r.Topic))
	}
	r.observability(cfg)

	// What an operator needs next: rotor --state-machine, subscriptions,
	// put-events.
	awscdk.NewCfnOutput(c, jsii.String("StateMachineArn"), &awscdk.CfnOutputProps{Value: r.StateMachine.StateMachineArn(),
		Description: jsii.String("rotor rotate --state-machine (the CLI's default name is rotor-rotation)")})
	awscdk.NewCfnOutput(c, jsii.String("TopicArn"), &awscdk.CfnOutputProps{Value: r.Topic.TopicArn(),
		Description: jsii.String("rotor's notification topic")})
	awscdk.NewCfnOutput(c, jsii.String("LedgerTableName"), &awscdk.CfnOutputProps{Value: r.Ledger.TableName(),
		Description: jsii.String("rotor's ledger table (infra/scp/rotor-guard.json keeps its writes to rotor)")})
	if r.LeakBus != nil {
		awscdk.NewCfnOutput(c, jsii.String("LeakBusName"), &awscdk.CfnOutputProps{Value: r.LeakBus.EventBusName(),
			Description: jsii.String("put rotor.leak events here")})
	}
	return r
}

// function makes one Lambda function with its own role and log group.
func (r *Rotor) function(f functionSpec, assets string, retention awslogs.RetentionDays, env map[string]*string) (awslambda.Function, awsiam.Role) {
	c, name := r.Construct, title(f.name)
	logs := awslogs.NewLogGroup(c, jsii.String(name+"Logs"), &awslogs.LogGroupProps{
		Retention: retention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(c, jsii.String(name+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("rotor " + f.name + ": " + f.doc),
		Path:        jsii.String(RolePath),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("Logs"), Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logs.LogGroupArn(), jsii.String(*logs.LogGroupArn() + ":*")},
	}))
	fn := awslambda.NewFunction(c, jsii.String(name+"Function"), &awslambda.FunctionProps{
		Description:   jsii.String("rotor " + f.name + ": " + f.doc),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(assets, f.name)), nil),
		MemorySize:    jsii.Number(functionMemo),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(f.timeout)),
		Tracing:       awslambda.Tracing_ACTIVE,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logs,
		Role:          role,
		Environment:   &env,
	})
	// Which of rotor's functions this is: what `rotor local serve
	// --template` runs for it (the asset itself is built for arm64).
	fn.Node().DefaultChild().(awslambda.CfnFunction).AddMetadata(jsii.String(MetadataFunction), f.name)
	explain(role, needsOf(f.name))
	return fn, role
}

// providerFunctions are the functions that call providers.
var providerFunctions = []string{provider.FuncCreate, provider.FuncVerify, provider.FuncExpire}

// vpcFunctions are the functions the vpc setting places in its subnets:
// those that call providers, when a registered provider reaches servers a
// deployment may keep in private subnets (provider.NetPrivate: a
// database).
func vpcFunctions() map[string]bool {
	out := map[string]bool{}
	for _, name := range provider.Names() {
		needs, err := provider.NeedsOf(name)
		if err != nil {
			panic(err)
		}
		if slices.Contains(needs.Network, provider.NetPrivate) {
			for _, fn := range providerFunctions {
				out[fn] = true
			}
		}
	}
	return out
}

// inVPC attaches a function to the configured subnets. The subnets and
// security groups are given by id and set on the CloudFormation resource:
// importing them as CDK constructs would need the VPC's id and zones too,
// or a lookup against the account at synthesis.
func inVPC(fn awslambda.Function, role awsiam.Role, v *VPC) {
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("VpcNetworkInterfaces"),
		// What AWSLambdaVPCAccessExecutionRole grants, inline.
		Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
			"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: jsii.Strings("*"),
	}))
	// Only the finding on Resource::*, so that any other wildcard on this
	// role is still reported.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Lambda's VPC attachment: these EC2 network-interface actions take no resource-level permissions (AWSLambdaVPCAccessExecutionRole grants them on *)"),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
	cfn := fn.Node().DefaultChild().(awslambda.CfnFunction)
	cfn.AddPropertyOverride(jsii.String("VpcConfig"), map[string]any{
		"SubnetIds": v.SubnetIDs, "SecurityGroupIds": v.SecurityGroupIDs,
	})
	// Lambda checks the network-interface permissions when it creates the
	// function: the role's policy must exist first.
	fn.Node().AddDependency(role)
}

// webhook deploys the webhook function behind a function URL: GitHub
// secret scanning, GitGuardian and generic alerts, authenticated by their
// HMAC signatures (so the URL itself needs no IAM auth), onto the leak bus.
//
// reserved > 0 reserves that many concurrent executions for it, which also
// caps it: a flood of unauthenticated requests is throttled there instead
// of starving the rotation functions of the account's concurrency.
func (r *Rotor) webhook(assets string, retention awslogs.RetentionDays, reserved int) {
	c := r.Construct
	r.WebhookKeys = awssecretsmanager.NewSecret(c, jsii.String("WebhookKeys"), &awssecretsmanager.SecretProps{
		Description: jsii.String("rotor webhook: signing keys (github, gitguardian, generic) and a GitHub token that reads secret scanning alerts"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(`{"github":"","gitguardian":"","githubToken":""}`),
			GenerateStringKey:    jsii.String("generic"), PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true),
		},
	})
	suppress(r.WebhookKeys, "AwsSolutions-SMG4", "The webhook's signing keys are shared with GitHub and GitGuardian, which cannot follow an automatic rotation; rotate them by hand on both sides.")
	fn, role := r.function(functionSpec{"webhook", 30, "authenticates leak alerts from GitHub, GitGuardian and rotor's generic format and puts them on the leak bus"},
		assets, retention, map[string]*string{
			webhook.EnvSecret: r.WebhookKeys.SecretArn(),
			webhook.EnvBus:    r.LeakBus.EventBusName(),
			ledger.EnvTable:   r.Ledger.TableName(),
		})
	if reserved > 0 {
		fn.Node().DefaultChild().(awslambda.CfnFunction).SetReservedConcurrentExecutions(jsii.Number(float64(reserved)))
	}
	r.ledgerPolicy("webhook", role)
	// GetSecretValue alone: GrantRead adds DescribeSecret, which the
	// webhook never calls (the least-privilege test shows it unneeded).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("ReadKeys"),
		Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: &[]*string{r.WebhookKeys.SecretArn()}}))
	r.LeakBus.GrantPutEventsTo(role, nil)
	suppress(role, "AwsSolutions-IAM5", "X-Ray and the log stream ARN suffix have no narrower resource.")
	r.Functions["webhook"] = fn
	r.Roles["webhook"] = role
	r.WebhookURL = fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{AuthType: awslambda.FunctionUrlAuthType_NONE})
	awscdk.NewCfnOutput(c, jsii.String("WebhookUrl"), &awscdk.CfnOutputProps{Value: r.WebhookURL.Url(),
		Description: jsii.String("POST leak alerts to <url>github, <url>gitguardian or <url>generic")})
}

// providerPolicy is what the registered providers declare that function
// fn's role needs (provider.Needs.IAM), in the stack's partition, account
// and Region, scoped to the secrets the deployment may touch: awsiam's
// keys of the IAM users that consent to such a secret, for one.
func providerPolicy(fn string, stack awscdk.Stack, scope secretScope) []awsiam.PolicyStatement {
	d := provider.Deployment{Partition: *stack.Partition(), Account: *stack.Account(), Region: *stack.Region(), SecretARNs: scope.arns}
	var out []awsiam.PolicyStatement
	for _, st := range providerStatements(fn, d) {
		cond := map[string]any{}
		for _, c := range st.Conditions {
			keys, _ := cond[c.Operator].(map[string]any)
			if keys == nil {
				keys = map[string]any{}
				cond[c.Operator] = keys
			}
			keys[c.Key] = c.Values
		}
		props := &awsiam.PolicyStatementProps{Sid: jsii.String(st.Sid), Actions: jsii.Strings(st.Actions...), Resources: jsii.Strings(st.Resources...)}
		if len(cond) > 0 {
			props.Conditions = &cond
		}
		out = append(out, awsiam.NewPolicyStatement(props))
	}
	return out
}

// providerStatements are the statements of every registered provider, by
// provider name, that name function fn, expanded for d.
func providerStatements(fn string, d provider.Deployment) []provider.Statement {
	var out []provider.Statement
	for _, name := range provider.Names() {
		needs, err := provider.NeedsOf(name)
		if err != nil {
			panic(err)
		}
		for _, st := range needs.IAM {
			if slices.Contains(st.Functions, fn) {
				out = append(out, st.Expand(d))
			}
		}
	}
	return out
}

// fanOutPolicy lets the state machine start executions of itself (page and
// child executions) and, for the page executions it waits for
// (startExecution.sync:2), describe and stop them and keep the managed
// EventBridge rule through which Step Functions learns that they ended.
// The ARNs are built from the name: a reference to the state machine's
// own ARN in its role would be a dependency cycle.
func (r *Rotor) fanOutPolicy(stack awscdk.Stack, name string) {
	self := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
		ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	executions := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("states"), Resource: jsii.String("execution"),
		ResourceName: jsii.String(name + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
	rule := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("events"), Resource: jsii.String("rule"),
		ResourceName: jsii.String("StepFunctionsGetEventsForStepFunctionsExecutionRule"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
	role := r.StateMachine.Role()
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("StartChildren"),
		Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{self}}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("WaitForPages"),
		Actions: jsii.Strings("states:DescribeExecution", "states:StopExecution"), Resources: &[]*string{executions}}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("SyncRule"),
		Actions: jsii.Strings("events:PutTargets", "events:PutRule", "events:DescribeRule"), Resources: &[]*string{rule}}))
}

// ledgerGrant is what a function may do in the ledger table under one key
// prefix (dynamodb:LeadingKeys).
type ledgerGrant struct {
	prefix  string
	actions []string
}

// ledgerAccess is what each function may do in the ledger table: resolve
// reads revoked credentials and writes and reads plan pages (a child
// execution's first step is resolve reading its item), create and expire
// record revoked credentials, create takes a secret's rotation lock and
// switchover and expire (undo) release it, the webhook claims and releases
// deliveries.
// No other function, and nothing else, touches it.
var ledgerAccess = map[string][]ledgerGrant{
	"resolve":    {{ledger.RevokedPrefix, []string{"dynamodb:GetItem"}}, {ledger.PlanPrefix, []string{"dynamodb:GetItem", "dynamodb:PutItem"}}},
	"create":     {{ledger.RevokedPrefix, []string{"dynamodb:PutItem"}}, {ledger.LockPrefix, []string{"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"}}},
	"switchover": {{ledger.LockPrefix, []string{"dynamodb:DeleteItem"}}},
	"expire":     {{ledger.RevokedPrefix, []string{"dynamodb:PutItem"}}, {ledger.LockPrefix, []string{"dynamodb:GetItem", "dynamodb:DeleteItem"}}},
	"webhook":    {{ledger.DeliveryPrefix, []string{"dynamodb:PutItem", "dynamodb:DeleteItem"}}},
}

func (r *Rotor) ledgerPolicy(fn string, role awsiam.Role) {
	for i, g := range ledgerAccess[fn] {
		sid := "LedgerRecords"
		if i > 0 {
			sid += strconv.Itoa(i + 1)
		}
		own := map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{g.prefix + "*"}}}
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String(sid),
			Actions: jsii.Strings(g.actions...), Resources: &[]*string{r.Ledger.TableArn()}, Conditions: &own}))
	}
}

func (r *Rotor) schedule(id, description, expr, tz string, input map[string]any) {
	if r.schedulerRole == nil {
		// One role for every schedule, as the CDK would make on its own,
		// but ours, so that it carries MetadataNeeds.
		stack := awscdk.Stack_Of(r.Construct)
		r.schedulerRole = awsiam.NewRole(r.Construct, jsii.String("SchedulerRole"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil).WithConditions(&map[string]any{
				"StringEquals": map[string]any{
					"aws:SourceAccount": *stack.Account(),
					"aws:SourceArn":     arn(stack, "scheduler", *stack.Region(), "schedule-group/default"),
				},
			}),
			Description: jsii.String("rotor: EventBridge Scheduler starts rotations with this role"),
		})
		explain(r.schedulerRole, schedulerNeeds)
	}
	awsscheduler.NewSchedule(r.Construct, jsii.String(id), &awsscheduler.ScheduleProps{
		Description: jsii.String(description),
		Schedule:    awsscheduler.ScheduleExpression_Expression(jsii.String(expr), awscdk.TimeZone_Of(jsii.String(tz))),
		Target: awsschedulertargets.NewStepFunctionsStartExecution(r.StateMachine, &awsschedulertargets.ScheduleTargetBaseProps{
			Input:           awsscheduler.ScheduleTargetInput_FromObject(input),
			RetryAttempts:   jsii.Number(5),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
			DeadLetterQueue: r.DeadLetters,
			Role:            r.schedulerRole,
		}),
	})
}

// leakRules deploys leak.Rules(): GuardDuty and AWS Health alerts on the
// default bus, rotor's own on the rotor-leaks bus, each mapped to the state
// machine input.
func (r *Rotor) leakRules(src LeakSources) {
	c := r.Construct
	enabled := map[string]bool{"GuardDutyAccessKeyFindings": src.GuardDuty, "HealthCredentialsExposed": src.Health, "LeakBusAlerts": src.EventBus}
	for _, rule := range leak.Rules() {
		if !enabled[rule.ID] {
			continue
		}
		input := awsevents.RuleTargetInput_FromEventPath(jsii.String(rule.InputPath))
		if rule.Input != nil {
			input = awsevents.RuleTargetInput_FromObject(eventFields(rule.Input))
		}
		props := &awsevents.RuleProps{
			Description:  jsii.String(rule.Description),
			EventPattern: eventPattern(rule.Pattern),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(r.StateMachine, &awseventstargets.SfnStateMachineProps{
				Input: input, DeadLetterQueue: r.DeadLetters, RetryAttempts: jsii.Number(8), MaxEventAge: awscdk.Duration_Hours(jsii.Number(1)),
			})},
		}
		if rule.Bus == leak.LeakBus {
			if r.LeakBus == nil {
				r.LeakBus = awsevents.NewEventBus(c, jsii.String("LeakBus"), &awsevents.EventBusProps{EventBusName: jsii.String(LeakBusName)})
			}
			props.EventBus = r.LeakBus
		}
		awsevents.NewRule(c, jsii.String(rule.ID), props)
	}
}

// eventPattern converts a JSON event pattern to the CDK's.
func eventPattern(p map[string]any) *awsevents.EventPattern {
	strs := func(v any) *[]*string {
		l, _ := v.([]any)
		out := make([]*string, len(l))
		for i, s := range l {
			out[i] = jsii.String(s.(string))
		}
		return &out
	}
	ep := &awsevents.EventPattern{}
	for k, v := range p {
		switch k {
		case "source":
			ep.Source = strs(v)
		case "detail-type":
			ep.DetailType = strs(v)
		case "detail":
			d := v.(map[string]any)
			ep.Detail = &d
		default:
			panic("rotorcdk: event pattern field " + k + " is not converted")
		}
	}
	return ep
}

// eventFields replaces leak.Field values with the CDK's event fields.
func eventFields(v map[string]any) map[string]any {
	out := map[string]any{}
	for k, e := range v {
		switch x := e.(type) {
		case leak.Field:
			out[k] = awsevents.EventField_FromPath(jsii.String(string(x)))
		case map[string]any:
			out[k] = eventFields(x)
		default:
			out[k] = x
		}
	}
	return out
}

// secretScope is the secrets a deployment may touch, as IAM resource ARN
// patterns of the stack's account and Region: secret:<prefix>* for each
// configured name prefix (secret ARNs end in -XXXXXX, a random suffix), or
// secret:* without prefixes.
type secretScope struct{ arns []string }

func newSecretScope(stack awscdk.Stack, prefixes []string) secretScope {
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	var s secretScope
	for _, p := range prefixes {
		s.arns = append(s.arns, arn(stack, "secretsmanager", *stack.Region(), "secret:"+p+"*"))
	}
	return s
}

// arn builds an ARN in the stack's partition and account (tokens that
// CloudFormation resolves, unless the stack has an explicit environment).
func arn(stack awscdk.Stack, service, region, resource string) string {
	return "arn:" + *stack.Partition() + ":" + service + ":" + region + ":" + *stack.Account() + ":" + resource
}

// secretsPolicy is each function's Secrets Manager access.
func secretsPolicy(fn string, stack awscdk.Stack, scope secretScope) []awsiam.PolicyStatement {
	managed := map[string]any{"StringLike": map[string]any{"secretsmanager:ResourceTag/" + TagProvider: "*"}}
	master := map[string]any{"StringEquals": map[string]any{"secretsmanager:ResourceTag/" + TagRole: RoleMaster}}
	inRegion := map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": stack.Region()}}
	allow := func(sid string, cond map[string]any, actions ...string) awsiam.PolicyStatement {
		return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String(sid),
			Actions: jsii.Strings(prefixed(actions)...), Resources: jsii.Strings(scope.arns...), Conditions: &cond})
	}
	// ListSecrets has no resource-level permission: * in the stack's Region.
	listSecrets := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("ListSecretsInRegion"),
		Actions: jsii.Strings("secretsmanager:ListSecrets"), Resources: jsii.Strings("*"), Conditions: &inRegion})
	// Create records, and create and expire remove, the tags that identify
	// each version's credential for leak matching; they may touch no other
	// tag (rotor:provider, rotor:master-secret are policy).
	identities := map[string]any{
		"StringLike":              map[string]any{"secretsmanager:ResourceTag/" + TagProvider: "*"},
		"ForAllValues:StringLike": map[string]any{"aws:TagKeys": identityTagPatterns()},
	}
	var out []awsiam.PolicyStatement
	switch fn {
	case "resolve":
		out = append(out,
			allow("ManagedSecretsMetadata", managed, "DescribeSecret", "ListSecretVersionIds"),
			allow("MasterSecretsExist", master, "DescribeSecret"),
			listSecrets)
	case "create":
		out = append(out,
			allow("ManagedSecrets", managed, "DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage", "ListSecretVersionIds"),
			allow("LeakIdentityTags", identities, "TagResource", "UntagResource"),
			allow("ReadMasterSecrets", master, "GetSecretValue"),
			listSecrets) // which secrets hold a key (awsiam's holders)
	case "switchover":
		out = append(out, allow("ManagedSecretLabels", managed, "DescribeSecret", "UpdateSecretVersionStage"))
	case "verify":
		out = append(out,
			allow("ManagedSecrets", managed, "DescribeSecret", "GetSecretValue"),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("NeverMasterSecrets"), Effect: awsiam.Effect_DENY,
				Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings("*"), Conditions: &master}))
	case "expire":
		out = append(out,
			allow("ManagedSecrets", managed, "DescribeSecret", "GetSecretValue", "UpdateSecretVersionStage", "ListSecretVersionIds"),
			allow("LeakIdentityTags", identities, "UntagResource"),
			allow("ReadMasterSecrets", master, "GetSecretValue"),
			listSecrets)
	}
	// X-Ray: Tracing ACTIVE makes CDK add its statement to the role.
	return out
}

func identityTagPatterns() []string {
	return []string{rotation.TagKeyIDPrefix + "*", rotation.TagSHA256Prefix + "*", rotation.TagHMSLPrefix + "*"}
}

func prefixed(actions []string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = "secretsmanager:" + a
	}
	sort.Strings(out)
	return out
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// suppress records a cdk-nag suppression with its reason on a construct
// and its children.
func suppress(c constructs.IConstruct, rule, reason string) {
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String(rule), Reason: jsii.String(reason)},
	}, jsii.Bool(true))
}

// Metadata keys the construct writes on resources, which `rotor local
// serve --template` (internal/cfn) reads.
const (
	// MetadataFunction, on each function: resolve, create, ..., webhook.
	MetadataFunction = "rotor:function"
	// MetadataNeeds, on a role: action -> why the role needs it although
	// no run on the local endpoint exercises it (the local endpoint has no
	// CloudWatch Logs, X-Ray or SQS). Every other action of every role is
	// shown needed by the least-privilege mutation test (test/template).
	MetadataNeeds = "rotor:needs"
)

// Why the actions no local run exercises are granted.
var (
	functionNeeds = map[string]string{
		"logs:CreateLogStream":     "Lambda writes the function's JSON logs to its own log group.",
		"logs:PutLogEvents":        "Lambda writes the function's JSON logs to its own log group.",
		"xray:PutTraceSegments":    "Active tracing: Lambda sends the function's trace segments to X-Ray.",
		"xray:PutTelemetryRecords": "Active tracing: Lambda sends the function's trace telemetry to X-Ray.",
	}
	// Recovery and race paths of the functions (internal/rotation) that the
	// end-to-end cases do not reach; the unit and chaos tests do.
	recoveryNeeds = map[string]map[string]string{
		"resolve": {
			"dynamodb:GetItem": "A leak of a credential rotor already revoked is answered from its revoked# record (NotifyAlreadyRevoked) instead of rotating again.",
		},
		"create": {
			"secretsmanager:ListSecretVersionIds":     "Recovery: dates the version holding an AWSPENDING left by a rotation that died, and finds the versions Secrets Manager dropped, whose identity tags go.",
			"secretsmanager:UpdateSecretVersionStage": "Recovery: removes AWSPENDING from a version abandoned by a rotation that died (older than ROTOR_LOCK_TTL).",
			"secretsmanager:UntagResource":            "Forgets the identity tags (rotor:keyid:, rotor:sha256:, rotor:hmsl:) of versions Secrets Manager no longer keeps.",
			"secretsmanager:ListSecrets":              "awsiam: finds the managed secrets that record a key (the provider's holders) before it deletes a key of a user at IAM's two-key limit; a master that rotates itself finds the secrets it serves, whose rotation locks it must not override.",
			"iam:UpdateAccessKey":                     "awsiam: a user at IAM's two-key limit, or an abandoned AWSPENDING reclaimed: the key no secret holds is deactivated, then deleted.",
			"iam:DeleteAccessKey":                     "awsiam: as iam:UpdateAccessKey.",
			"iam:UntagUser":                           "awsiam: removes the rotor:token tag that marks a key minted once, when the key it marks is gone.",
			"dynamodb:PutItem":                        "A planned rotation skipped after it minted (another rotation moved AWSCURRENT), or an abandoned AWSPENDING reclaimed, revokes the credential and records it (revoked#).",
			"dynamodb:GetItem":                        "When the rotation lock is taken, reads its holder to name it in the skip reason, or to take over a lock past its TTL; reads the lock of the master (or, for a master that rotates itself, of the secrets it serves) once its own is held.",
			"dynamodb:DeleteItem":                     "A create that recorded nothing (refused input) releases the lock at once instead of holding the secret for ROTOR_LOCK_TTL.",
		},
		"webhook": {
			"dynamodb:DeleteItem": "Releases a delivery's claim (delivery#) when putting the alert on the bus failed, so that the sender's retry is accepted.",
		},
		"expire": {
			"secretsmanager:ListSecretVersionIds": "Undo after a failed verify: lists the versions to find the one to mark ROTOR_FAILED when labels moved meanwhile.",
			"dynamodb:DeleteItem":                 "Undo releases the rotation lock (lock#) a failed rotation holds.",
		},
	}
	stateMachineNeeds = map[string]string{
		"logs:CreateLogDelivery":        "Step Functions delivers execution logs (level ALL) to the state machine's log group through CloudWatch Logs' vended log delivery.",
		"logs:GetLogDelivery":           "Execution logs: vended log delivery.",
		"logs:UpdateLogDelivery":        "Execution logs: vended log delivery.",
		"logs:DeleteLogDelivery":        "Execution logs: vended log delivery.",
		"logs:ListLogDeliveries":        "Execution logs: vended log delivery.",
		"logs:PutResourcePolicy":        "Execution logs: the log group's resource policy for vended delivery.",
		"logs:DescribeResourcePolicies": "Execution logs: the log group's resource policy for vended delivery.",
		"logs:DescribeLogGroups":        "Execution logs: vended log delivery checks the log group.",
		"xray:PutTraceSegments":         "Tracing: Step Functions sends the executions' trace segments to X-Ray.",
		"xray:PutTelemetryRecords":      "Tracing: X-Ray telemetry.",
		"xray:GetSamplingRules":         "Tracing: X-Ray sampling rules.",
		"xray:GetSamplingTargets":       "Tracing: X-Ray sampling targets.",
		"events:PutTargets":             "startExecution.sync:2 (a sweep waiting for its pages) learns that a child ended through the managed rule StepFunctionsGetEventsForStepFunctionsExecutionRule, which Step Functions creates with the state machine's role; the local engine waits for the child directly.",
		"events:PutRule":                "startExecution.sync:2: the managed rule, as above.",
		"events:DescribeRule":           "startExecution.sync:2: the managed rule, as above.",
		"states:StopExecution":          "A sweep that is stopped or times out stops the page execution it waits for (startExecution.sync:2); no end-to-end case stops a sweep.",
	}
	schedulerNeeds = map[string]string{
		"sqs:SendMessage": "A schedule whose start fails is dead-lettered to the trigger queue; the local endpoint has no SQS.",
	}
)

// needsOf is MetadataNeeds of function fn's role.
func needsOf(fn string) map[string]string {
	out := map[string]string{}
	for a, why := range functionNeeds {
		out[a] = why
	}
	for a, why := range recoveryNeeds[fn] {
		out[a] = why
	}
	return out
}

// explain records on role why it holds actions no local run exercises
// (MetadataNeeds).
func explain(role awsiam.IRole, needs map[string]string) {
	if cfn, ok := role.Node().DefaultChild().(awsiam.CfnRole); ok {
		cfn.AddMetadata(jsii.String(MetadataNeeds), needs)
	}
}

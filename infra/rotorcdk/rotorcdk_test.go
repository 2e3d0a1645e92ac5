package rotorcdk_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/infra/rotorcdk"
	"github.com/rotorhq/rotor/statemachine"
)

// The deployment most tests look at: two scheduled secrets (one cron with
// a time zone and a grace period), an alert address, every leak source.
const testConfig = `{
  "secrets": [
    {"secretId": "prod/stripe", "schedule": "rate(30 days)"},
    {"secretId": "prod/github-app", "schedule": "cron(0 3 ? * SUN *)", "timeZone": "Europe/Berlin", "gracePeriod": "2h"}
  ],
  "alertEmails": ["secops@example.com"],
  "logRetentionDays": 90,
  "writeBudget": 5
}`

// The state machine's functions, and every function the stack deploys.
var (
	functionNames = []string{"resolve", "create", "switchover", "verify", "expire"}
	allFunctions  = append(slices.Clone(functionNames), "webhook")
)

// outdir holds the cloud assemblies: the stacks synthesize again (cdk-nag
// writes its report) after the test that first built them has ended.
var outdir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rotorcdk-test-")
	if err != nil {
		panic(err)
	}
	outdir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newApp(t *testing.T) awscdk.App {
	dir, err := os.MkdirTemp(outdir, "app-")
	if err != nil {
		t.Fatal(err)
	}
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
}

// deployment is one synthesized stack and its template as plain JSON.
type deployment struct {
	stack     awscdk.Stack
	template  assertions.Template
	resources map[string]resource
}

type resource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

var (
	deployments   = map[string]*deployment{}
	deploymentsMu sync.Mutex
)

// synth synthesizes the app's stack for a configuration, once per
// configuration, with placeholder bootstraps as the function assets.
func synth(t *testing.T, config string) *deployment {
	t.Helper()
	deploymentsMu.Lock()
	defer deploymentsMu.Unlock()
	if d, ok := deployments[config]; ok {
		return d
	}
	cfg, err := rotorcdk.ParseConfig([]byte(config))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	assets, err := os.MkdirTemp(outdir, "assets-")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range allFunctions {
		if err := os.MkdirAll(filepath.Join(assets, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(assets, fn, "bootstrap"), []byte("placeholder "+fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app := newApp(t)
	stack, _ := rotorcdk.NewStack(app, "Rotor", &rotorcdk.Props{Config: *cfg, AssetDir: assets}, nil)
	tpl := assertions.Template_FromStack(stack, nil)
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	d := &deployment{stack: stack, template: tpl, resources: doc.Resources}
	deployments[config] = d
	return d
}

// ofType returns the logical ids of the resources of a type, sorted.
func (d *deployment) ofType(typ string) []string {
	var ids []string
	for id, r := range d.resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// function returns the logical id of a rotor function ("verify").
func (d *deployment) function(t *testing.T, name string) string {
	t.Helper()
	for _, id := range d.ofType("AWS::Lambda::Function") {
		if strings.HasPrefix(id, "Rotor"+strings.ToUpper(name[:1])+name[1:]+"Function") {
			return id
		}
	}
	t.Fatalf("no function %s in the template", name)
	return ""
}

// ref returns the logical id in {"Ref": id} or {"Fn::GetAtt": [id, attr]}.
func ref(v any) string {
	m, _ := v.(map[string]any)
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) == 2 {
		s, _ := g[0].(string)
		return s
	}
	return ""
}

func TestFunctions(t *testing.T) {
	d := synth(t, testConfig)
	ids := d.ofType("AWS::Lambda::Function")
	if len(ids) != 6 {
		t.Fatalf("want 6 functions (five steps and the webhook), got %d: %v", len(ids), ids)
	}
	d.template.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), map[string]any{
		"Architectures": []string{"arm64"}, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"MemorySize": 128, "TracingConfig": map[string]any{"Mode": "Active"},
	}, jsii.Number(6))
	timeouts := map[string]float64{"resolve": 60, "create": 120, "switchover": 30, "verify": 60, "expire": 300, "webhook": 30}
	roles := map[string]string{}
	for _, fn := range allFunctions {
		p := d.resources[d.function(t, fn)].Properties
		if got := p["Timeout"]; got != timeouts[fn] {
			t.Errorf("%s: Timeout %v, want %v", fn, got, timeouts[fn])
		}
		logging, _ := p["LoggingConfig"].(map[string]any)
		if logging["LogFormat"] != "JSON" {
			t.Errorf("%s: LoggingConfig %v, want LogFormat JSON", fn, logging)
		}
		group := d.resources[ref(logging["LogGroup"])]
		if group.Type != "AWS::Logs::LogGroup" || group.Properties["RetentionInDays"] != 90.0 {
			t.Errorf("%s: log group %v, want one with RetentionInDays 90", fn, group)
		}
		role := ref(p["Role"])
		if other, dup := roles[role]; dup {
			t.Errorf("%s and %s share the role %s", fn, other, role)
		}
		roles[role] = fn
	}
}

func TestStateMachineIsTheDefinitionFile(t *testing.T) {
	d := synth(t, testConfig)
	ids := d.ofType("AWS::StepFunctions::StateMachine")
	if len(ids) != 1 {
		t.Fatalf("want one state machine, got %v", ids)
	}
	p := d.resources[ids[0]].Properties
	if p["StateMachineName"] != "rotor-rotation" {
		t.Errorf("StateMachineName %v, want rotor-rotation (the CLI's default)", p["StateMachineName"])
	}
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("StateMachineType %v, want STANDARD", p["StateMachineType"])
	}
	if diff := cmp.Diff(map[string]any{"Enabled": true}, p["TracingConfiguration"]); diff != "" {
		t.Errorf("TracingConfiguration (-want +got):\n%s", diff)
	}
	if logging, _ := p["LoggingConfiguration"].(map[string]any); logging["Level"] != "ALL" {
		t.Errorf("LoggingConfiguration %v, want Level ALL", logging)
	}

	file, err := os.ReadFile("../../statemachine/rotation.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := p["DefinitionString"].(string)
	if def != string(file) {
		t.Fatalf("DefinitionString is not statemachine/rotation.asl.json byte for byte")
	}

	// Every placeholder is substituted, each by the resource it names.
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	values := map[string]string{}
	for name, v := range subs {
		if name == "EventBusName" { // a name, not a resource of the stack
			if v != rotorcdk.DefaultEventBus {
				t.Errorf("substitution EventBusName is %v, want %q", v, rotorcdk.DefaultEventBus)
			}
			values[name] = rotorcdk.DefaultEventBus
			continue
		}
		want := d.ofType("AWS::SNS::Topic")[0]
		if fn, ok := statemachine.FunctionOf(name); ok {
			want = d.function(t, fn)
		}
		if got := ref(v); got != want {
			t.Errorf("substitution %s refers to %q, want %q", name, got, want)
		}
		values[name] = "arn:aws:test:us-east-1:123456789012:" + ref(v)
	}
	var names []string
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff(statemachine.Placeholders(), names); diff != "" {
		t.Fatalf("DefinitionSubstitutions keys (-placeholders +substituted):\n%s", diff)
	}
	filled, err := statemachine.Substitute(values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(filled, "${") {
		t.Errorf("a placeholder survives substitution")
	}
	// The same substitution CloudFormation makes, applied by hand.
	byHand := def
	for k, v := range values {
		byHand = strings.ReplaceAll(byHand, "${"+k+"}", v)
	}
	if byHand != filled {
		t.Errorf("CloudFormation's substitution and statemachine.Substitute disagree")
	}
}

func TestSchedules(t *testing.T) {
	d := synth(t, testConfig)
	type schedule struct {
		Expression, TimeZone string
		Input                map[string]any
	}
	var got []schedule
	queue := d.ofType("AWS::SQS::Queue")
	for _, id := range d.ofType("AWS::Scheduler::Schedule") {
		p := d.resources[id].Properties
		target, _ := p["Target"].(map[string]any)
		var input map[string]any
		if err := json.Unmarshal([]byte(target["Input"].(string)), &input); err != nil {
			t.Fatalf("%s: input: %v", id, err)
		}
		got = append(got, schedule{p["ScheduleExpression"].(string), p["ScheduleExpressionTimezone"].(string), input})
		if ref(target["Arn"]) != d.ofType("AWS::StepFunctions::StateMachine")[0] {
			t.Errorf("%s: target %v is not the state machine", id, target["Arn"])
		}
		if dlq, _ := target["DeadLetterConfig"].(map[string]any); len(queue) != 1 || ref(dlq["Arn"]) != queue[0] {
			t.Errorf("%s: dead-letter config %v, want the queue %v", id, dlq, queue)
		}
		retry, _ := target["RetryPolicy"].(map[string]any)
		if n, _ := retry["MaximumRetryAttempts"].(float64); n < 1 {
			t.Errorf("%s: retry policy %v", id, retry)
		}
	}
	want := []schedule{
		{"cron(0 3 ? * SUN *)", "Europe/Berlin", map[string]any{"secretId": "prod/github-app", "trigger": "schedule", "gracePeriodSeconds": 7200.0}},
		{"rate(15 minutes)", "UTC", map[string]any{"trigger": "sweep"}},
		{"rate(30 days)", "UTC", map[string]any{"secretId": "prod/stripe", "trigger": "schedule"}},
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Expression < got[j].Expression })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schedules (-want +got):\n%s", diff)
	}
}

func TestOptionalParts(t *testing.T) {
	d := synth(t, `{"sweeperSchedule": "off", "leakSources": {"guardDuty": false, "health": true, "eventBus": false}}`)
	if got := d.ofType("AWS::Scheduler::Schedule"); len(got) != 0 {
		t.Errorf("sweeper off and no secrets, but schedules %v", got)
	}
	if got := d.ofType("AWS::Events::Rule"); len(got) != 1 || !strings.Contains(got[0], "Health") {
		t.Errorf("only the Health rule wanted, got %v", got)
	}
	if got := d.ofType("AWS::Events::EventBus"); len(got) != 0 {
		t.Errorf("event bus disabled, got %v", got)
	}
}

func TestNotifications(t *testing.T) {
	d := synth(t, testConfig)
	topic := d.ofType("AWS::SNS::Topic")
	if len(topic) != 1 {
		t.Fatalf("want one topic, got %v", topic)
	}
	if ref(d.resources[topic[0]].Properties["KmsMasterKeyId"]) == "" {
		t.Errorf("topic is not encrypted with a KMS key: %v", d.resources[topic[0]].Properties)
	}
	// enforceSSL: the topic policy denies publishing without TLS.
	tlsOnly := false
	for _, id := range d.ofType("AWS::SNS::TopicPolicy") {
		doc, _ := json.Marshal(d.resources[id].Properties)
		if strings.Contains(string(doc), `"aws:SecureTransport":"false"`) && strings.Contains(string(doc), `"Effect":"Deny"`) {
			tlsOnly = true
		}
	}
	if !tlsOnly {
		t.Errorf("no topic policy denies requests without TLS")
	}
	d.template.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
		"Protocol": "email", "Endpoint": "secops@example.com"})
	alarms := map[string]bool{}
	for _, id := range d.ofType("AWS::CloudWatch::Alarm") {
		p := d.resources[id].Properties
		actions, _ := p["AlarmActions"].([]any)
		if len(actions) != 1 || ref(actions[0]) != topic[0] {
			t.Errorf("%s: alarm actions %v, want the topic", id, actions)
		}
		alarms[p["MetricName"].(string)] = true
	}
	if diff := cmp.Diff(map[string]bool{"ExecutionsFailed": true, "ExecutionsTimedOut": true, "ApproximateNumberOfMessagesVisible": true, "OverdueSecrets": true}, alarms); diff != "" {
		t.Errorf("alarms (-want +got):\n%s", diff)
	}
}

// TestCdkNagFindsNothing: no AwsSolutions error or warning, for the test
// deployment, a scoped one, and one that reserves no concurrency.
func TestCdkNagFindsNothing(t *testing.T) {
	for _, config := range []string{testConfig, prefixConfig, `{"webhookReservedConcurrency": 0}`} {
		d := synth(t, config)
		errs := assertions.Annotations_FromStack(d.stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		if len(*errs) > 0 {
			out, _ := json.MarshalIndent(errs, "", "  ")
			t.Errorf("config %s: cdk-nag AwsSolutions errors:\n%s", config, out)
		}
		warnings := assertions.Annotations_FromStack(d.stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
		if len(*warnings) > 0 {
			out, _ := json.MarshalIndent(warnings, "", "  ")
			t.Errorf("config %s: cdk-nag AwsSolutions warnings:\n%s", config, out)
		}
	}
}

// TestCdkNagCanFail shows the check above can fail: the same checks on a
// stack with a queue that accepts plain HTTP report errors.
func TestCdkNagCanFail(t *testing.T) {
	app := newApp(t)
	stack := awscdk.NewStack(app, jsii.String("Careless"), nil)
	awssqs.NewQueue(stack, jsii.String("Plain"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_UNENCRYPTED})
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	errs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-SQS.*")))
	if len(*errs) == 0 {
		t.Fatal("cdk-nag reported nothing for an unencrypted queue without a dead-letter queue or TLS")
	}
}

// TestVPC: with a vpc configured, exactly the functions that reach
// credential targets run in its subnets, their roles may manage network
// interfaces, and cdk-nag still finds nothing.
func TestVPC(t *testing.T) {
	d := synth(t, `{"vpc": {"subnetIds": ["subnet-0a1b2c3d4e5f60718", "subnet-11223344"], "securityGroupIds": ["sg-0123456789abcdef0"]}}`)
	want := map[string]bool{"create": true, "verify": true, "expire": true}
	for _, fn := range allFunctions {
		id := d.function(t, fn)
		p := d.resources[id].Properties
		vpc, inVPC := p["VpcConfig"].(map[string]any)
		if inVPC != want[fn] {
			t.Errorf("%s: in a VPC = %v, want %v", fn, inVPC, want[fn])
			continue
		}
		if !inVPC {
			continue
		}
		if diff := cmp.Diff(map[string]any{"SubnetIds": []any{"subnet-0a1b2c3d4e5f60718", "subnet-11223344"},
			"SecurityGroupIds": []any{"sg-0123456789abcdef0"}}, vpc); diff != "" {
			t.Errorf("%s: VpcConfig (-want +got):\n%s", fn, diff)
		}
		raw, _ := json.Marshal(d.policies(t, d.functionRole(t, fn)))
		if !strings.Contains(string(raw), "ec2:CreateNetworkInterface") {
			t.Errorf("%s: its role may not create network interfaces", fn)
		}
	}
	for _, fn := range []string{"resolve", "switchover", "webhook"} {
		raw, _ := json.Marshal(d.policies(t, d.functionRole(t, fn)))
		if strings.Contains(string(raw), "ec2:") {
			t.Errorf("%s: its role has EC2 permissions it does not need", fn)
		}
	}
	for _, kind := range []string{"error", "warning"} {
		find := assertions.Annotations_FromStack(d.stack).FindError
		if kind == "warning" {
			find = assertions.Annotations_FromStack(d.stack).FindWarning
		}
		if found := find(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))); len(*found) > 0 {
			out, _ := json.MarshalIndent(found, "", "  ")
			t.Errorf("cdk-nag %ss with a VPC:\n%s", kind, out)
		}
	}
}

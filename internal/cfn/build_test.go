package cfn

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// load loads resources (the members of a Resources object) and extra
// top-level sections.
func load(t *testing.T, resources, extra string, known map[string]map[string]string) (*Deployment, error) {
	t.Helper()
	tpl := `{"Resources": {` + resources + `}`
	if extra != "" {
		tpl += ", " + extra
	}
	tpl += "}"
	env := testEnv()
	env.Known = known
	return Load([]byte(tpl), env)
}

func mustLoad(t *testing.T, resources, extra string, known map[string]map[string]string) *Deployment {
	t.Helper()
	d, err := load(t, resources, extra, known)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const (
	trust     = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}`
	trustJSON = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"}}],"Version":"2012-10-17"}`
)

func TestRoles(t *testing.T) {
	d := mustLoad(t, `
 "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "fn", "Role": {"Fn::GetAtt": ["R", "Arn"]}}},
 "R": {"Type": "AWS::IAM::Role", "Metadata": {"rotor:needs": {"xray:PutTraceSegments": "tracing", "logs:PutLogEvents": "logs"}},
  "Properties": {"RoleName": "named", "Path": "/p/", "AssumeRolePolicyDocument": `+trust+`,
   "Policies": [{"PolicyName": "inline", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::GetAtt": ["Fn", "Arn"]}, "Condition": {"NumericLessThan": {"x": 3600}}}]}}]}},
 "Plain": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": `+trust+`}},
 "P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "attached", "Roles": [{"Ref": "R"}, {"Ref": "Plain"}],
  "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "<&>"}]}}}`, "", nil)
	attached := `{"Statement":[{"Action":"sns:Publish","Effect":"Allow","Resource":"<&>"}],"Version":"2012-10-17"}`
	want := []Role{
		{LogicalID: "Plain", Name: "Stack-Plain", Path: "/", ARN: "arn:aws:iam::000000000000:role/Stack-Plain",
			AssumeRolePolicy: trustJSON, Policies: map[string]string{"attached": attached}},
		{LogicalID: "R", Name: "named", Path: "/p/", ARN: "arn:aws:iam::000000000000:role/p/named", AssumeRolePolicy: trustJSON,
			Policies: map[string]string{
				"inline":   `{"Statement":[{"Action":"lambda:InvokeFunction","Condition":{"NumericLessThan":{"x":3600}},"Effect":"Allow","Resource":"arn:aws:lambda:us-east-1:000000000000:function:fn"}],"Version":"2012-10-17"}`,
				"attached": attached,
			},
			Explain: map[string]string{"xray:PutTraceSegments": "tracing", "logs:PutLogEvents": "logs"}},
	}
	if diff := cmp.Diff(want, d.Roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("arn:aws:iam::000000000000:role/p/named", d.Functions[0].RoleARN); diff != "" {
		t.Errorf("function role (-want +got):\n%s", diff)
	}
}

func TestFunctions(t *testing.T) {
	d := mustLoad(t, `
 "Defaults": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::000000000000:role/r"}},
 "Full": {"Type": "AWS::Lambda::Function", "Metadata": {"rotor:function": "create", "aws:cdk:path": "x"},
  "Properties": {"FunctionName": "full", "Role": "arn:aws:iam::000000000000:role/r", "MemorySize": 256, "Timeout": "30",
   "ReservedConcurrentExecutions": 5, "Environment": {"Variables": {"A": "a", "T": {"Ref": "T"}}}}},
 "LongLogicalIDThatMakesTheGeneratedNameLongerThanSixtyFourCharacters": {"Type": "AWS::Lambda::Function",
  "Properties": {"Role": "arn:aws:iam::000000000000:role/r"}},
 "T": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "ledger", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
  "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}}`, "", nil)
	long := "Stack-LongLogicalIDThatMakesTheGeneratedNameLongerThanSixtyFourC"
	want := []Function{
		{LogicalID: "Defaults", Name: "Stack-Defaults", ARN: "arn:aws:lambda:us-east-1:000000000000:function:Stack-Defaults",
			MemoryMB: 128, TimeoutSeconds: 3, RoleARN: "arn:aws:iam::000000000000:role/r"},
		{LogicalID: "Full", Name: "full", ARN: "arn:aws:lambda:us-east-1:000000000000:function:full", Rotor: "create",
			Env: map[string]string{"A": "a", "T": "ledger"}, MemoryMB: 256, TimeoutSeconds: 30,
			RoleARN: "arn:aws:iam::000000000000:role/r", ReservedConcurrency: 5},
		{LogicalID: "LongLogicalIDThatMakesTheGeneratedNameLongerThanSixtyFourCharacters", Name: long,
			ARN: "arn:aws:lambda:us-east-1:000000000000:function:" + long, MemoryMB: 128, TimeoutSeconds: 3, RoleARN: "arn:aws:iam::000000000000:role/r"},
	}
	if len(long) != 64 {
		t.Fatalf("test's long name is %d long", len(long))
	}
	if diff := cmp.Diff(want, d.Functions); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
}

func TestStateMachines(t *testing.T) {
	const role = `"RoleArn": "arn:aws:iam::000000000000:role/sm"`
	const fn = `"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "f", "Role": "arn:aws:iam::000000000000:role/r"}}`
	const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, tc := range []struct {
		name, sm string
		want     string
		err      string
	}{
		{name: "substitutions",
			sm:   `"DefinitionString": "{\"A\":\"${F}\",\"B\":\"${F}\",\"N\":${N}}", "DefinitionSubstitutions": {"F": {"Fn::GetAtt": ["Fn", "Arn"]}, "N": 3}`,
			want: `{"A":"` + fnARN + `","B":"` + fnARN + `","N":3}`},
		{name: "definition string from an intrinsic",
			sm:   `"DefinitionString": {"Fn::Join": ["", ["{\"R\":\"", {"Fn::GetAtt": ["Fn", "Arn"]}, "\"}"]]}`,
			want: `{"R":"` + fnARN + `"}`},
		{name: "definition object",
			sm:   `"Definition": {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${F}", "End": true}}}, "DefinitionSubstitutions": {"F": {"Ref": "Fn"}}`,
			want: `{"StartAt":"A","States":{"A":{"End":true,"Resource":"f","Type":"Task"}}}`},
		{name: "a substituted value is not searched again",
			sm:   `"DefinitionString": "${A}", "DefinitionSubstitutions": {"A": "${B}", "B": "b"}`,
			want: `${B}`},
		{name: "unknown placeholder", sm: `"DefinitionString": "{\"A\":\"${Missing}\"}"`,
			err: "resource SM: Properties.DefinitionString: placeholder ${Missing} has no entry in DefinitionSubstitutions"},
		{name: "unterminated placeholder", sm: `"DefinitionString": "[\"${Missing\"]"`,
			err: "resource SM: Properties.DefinitionString: has a ${ without a closing }"},
		{name: "no definition", sm: `"StateMachineType": "STANDARD"`,
			err: "resource SM: Properties.DefinitionString: is required (or Definition)"},
		{name: "s3 definition", sm: `"DefinitionS3Location": {"Bucket": "b", "Key": "k"}`,
			err: "resource SM: Properties.DefinitionS3Location: is not supported: the definition must be in the template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := load(t, fn+`, "SM": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {`+role+`, `+tc.sm+`}}`, "", nil)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error; want %q", tc.err)
				}
				if diff := cmp.Diff(tc.err, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []StateMachine{{LogicalID: "SM", Name: "Stack-SM", ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:Stack-SM",
				Definition: tc.want, RoleARN: "arn:aws:iam::000000000000:role/sm"}}
			if diff := cmp.Diff(want, d.StateMachines); diff != "" {
				t.Errorf("state machines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTopicsAndKeys(t *testing.T) {
	d := mustLoad(t, `
 "K": {"Type": "AWS::KMS::Key"},
 "ByArn": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["K", "Arn"]}}},
 "ById": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "by-id", "KmsMasterKeyId": {"Ref": "K"}}},
 "ByAlias": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}},
 "Fifo": {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": true}},
 "Plain": {"Type": "AWS::SNS::Topic"}`, "", nil)
	k := "arn:aws:kms:us-east-1:000000000000:key/" + uuidOf(t, "K")
	topic := func(id, name, key string) Topic {
		return Topic{LogicalID: id, Name: name, ARN: "arn:aws:sns:us-east-1:000000000000:" + name, KMSKeyARN: key}
	}
	want := []Topic{
		topic("ByAlias", "Stack-ByAlias", "arn:aws:kms:us-east-1:000000000000:alias/aws/sns"),
		topic("ByArn", "Stack-ByArn", k),
		topic("ById", "by-id", k),
		topic("Fifo", "Stack-Fifo.fifo", ""),
		topic("Plain", "Stack-Plain", ""),
	}
	if diff := cmp.Diff(want, d.Topics); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Key{{LogicalID: "K", ID: uuidOf(t, "K"), ARN: k}}, d.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// uuidOf is the key ID of logical ID id in testEnv: loaded twice, the same.
func uuidOf(t *testing.T, id string) string {
	t.Helper()
	var ids []string
	for range 2 {
		d := mustLoad(t, `"`+id+`": {"Type": "AWS::KMS::Key"}`, "", nil)
		ids = append(ids, d.Keys[0].ID)
	}
	if ids[0] != ids[1] || len(ids[0]) != 36 || ids[0][14] != '5' {
		t.Fatalf("key IDs %q: want one version 5 UUID", ids)
	}
	return ids[0]
}

func TestKeyIDs(t *testing.T) {
	a, b := uuidOf(t, "KeyA"), uuidOf(t, "KeyB")
	if a == b {
		t.Errorf("two keys have the same ID %s", a)
	}
	if a != uuidOf(t, "KeyA") {
		t.Error("a key's ID changes from one load to the next")
	}
}

func TestEvents(t *testing.T) {
	d := mustLoad(t, `
 "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "leaks"}},
 "SM": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineName": "sm", "DefinitionString": "{}", "RoleArn": "arn:aws:iam::000000000000:role/sm"}},
 "Q": {"Type": "AWS::SQS::Queue"},
 "OnBus": {"Type": "AWS::Events::Rule", "Properties": {"Description": "d", "EventBusName": {"Ref": "Bus"},
  "EventPattern": {"detail-type": ["rotor.leak"], "detail": {"trigger": ["leak"], "n": [{"numeric": [">", 5]}]}},
  "Targets": [
   {"Id": "T0", "Arn": {"Ref": "SM"}, "RoleArn": "arn:aws:iam::000000000000:role/ev", "InputPath": "$.detail", "RetryPolicy": {"MaximumRetryAttempts": 8},
    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Q", "Arn"]}}},
   {"Id": "T1", "Arn": {"Ref": "SM"}, "InputTransformer": {"InputPathsMap": {"a": "$.detail.a"}, "InputTemplate": "{\"a\":<a>}"}},
   {"Id": "T2", "Arn": {"Ref": "SM"}, "Input": "{\"trigger\":\"x\"}"}]}},
 "OnBusArn": {"Type": "AWS::Events::Rule", "Properties": {"Name": "by-arn", "EventBusName": {"Fn::GetAtt": ["Bus", "Arn"]}, "State": "DISABLED",
  "EventPattern": "{ \"source\" : [\"a\"] }"}},
 "Scheduled": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)"}},
 "Sweep": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(0 3 * * ? *)", "ScheduleExpressionTimezone": "Europe/Paris",
  "State": "DISABLED", "Description": "s", "FlexibleTimeWindow": {"Mode": "OFF"},
  "Target": {"Arn": {"Ref": "SM"}, "RoleArn": "arn:aws:iam::000000000000:role/sch", "Input": "{\"trigger\":\"sweep\"}",
   "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Q", "Arn"]}}, "RetryPolicy": {"MaximumRetryAttempts": 5}}}},
 "Defaults": {"Type": "AWS::Scheduler::Schedule", "Properties": {"Name": "defaults", "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
  "Target": {"Arn": {"Ref": "SM"}, "RoleArn": "arn:aws:iam::000000000000:role/sch"}}}`, "", nil)
	sm := "arn:aws:states:us-east-1:000000000000:stateMachine:sm"
	q := "arn:aws:sqs:us-east-1:000000000000:Stack-Q"
	wantRules := []Rule{
		{LogicalID: "OnBus", Name: "Stack-OnBus", ARN: "arn:aws:events:us-east-1:000000000000:rule/leaks/Stack-OnBus", Bus: "leaks", Description: "d",
			Pattern: `{"detail":{"n":[{"numeric":[">",5]}],"trigger":["leak"]},"detail-type":["rotor.leak"]}`, Enabled: true,
			Targets: []Target{
				{ID: "T0", ARN: sm, RoleARN: "arn:aws:iam::000000000000:role/ev", InputPath: "$.detail", DeadLetterARN: q},
				{ID: "T1", ARN: sm, InputPathsMap: map[string]string{"a": "$.detail.a"}, InputTemplate: `{"a":<a>}`},
				{ID: "T2", ARN: sm, Input: `{"trigger":"x"}`},
			}},
		{LogicalID: "OnBusArn", Name: "by-arn", ARN: "arn:aws:events:us-east-1:000000000000:rule/leaks/by-arn", Bus: "leaks",
			Pattern: `{"source":["a"]}`},
		{LogicalID: "Scheduled", Name: "Stack-Scheduled", ARN: "arn:aws:events:us-east-1:000000000000:rule/Stack-Scheduled", Bus: "default",
			Schedule: "rate(1 hour)", Enabled: true},
	}
	if diff := cmp.Diff(wantRules, d.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	wantSchedules := []Schedule{
		{LogicalID: "Defaults", Name: "defaults", ARN: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/defaults", Group: "default",
			Expression: "rate(1 day)", Timezone: "UTC", Enabled: true, Target: Target{ARN: sm, RoleARN: "arn:aws:iam::000000000000:role/sch"}},
		{LogicalID: "Sweep", Name: "Stack-Sweep", ARN: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/Stack-Sweep", Group: "default",
			Description: "s", Expression: "cron(0 3 * * ? *)", Timezone: "Europe/Paris",
			Target: Target{ARN: sm, RoleARN: "arn:aws:iam::000000000000:role/sch", Input: `{"trigger":"sweep"}`, DeadLetterARN: q}},
	}
	if diff := cmp.Diff(wantSchedules, d.Schedules); diff != "" {
		t.Errorf("schedules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Bus{{LogicalID: "Bus", Name: "leaks", ARN: "arn:aws:events:us-east-1:000000000000:event-bus/leaks"}}, d.Buses); diff != "" {
		t.Errorf("buses (-want +got):\n%s", diff)
	}
}

func TestTablesSecretsURLsOutputs(t *testing.T) {
	d := mustLoad(t, `
 "T": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t",
  "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
  "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
  "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": false}}},
 "Generated": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Description": "g",
  "GenerateSecretString": {"SecretStringTemplate": "{\"u\":\"\"}", "GenerateStringKey": "p", "PasswordLength": 48, "ExcludePunctuation": true, "RequireEachIncludedType": true}}},
 "Literal": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "lit", "SecretString": {"Fn::Join": ["", ["{\"t\":\"", {"Ref": "T"}, "\"}"]]}}},
 "Default": {"Type": "AWS::SecretsManager::Secret"},
 "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::000000000000:role/r"}},
 "U": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "AuthType": "AWS_IAM"}},
 "ByName": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": {"Ref": "Fn"}, "AuthType": "NONE"}}`,
		`"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
 "Outputs": {
  "Url": {"Value": {"Fn::GetAtt": ["U", "FunctionUrl"]}, "Description": "the URL"},
  "Table": {"Value": {"Ref": "T"}, "Export": {"Name": {"Fn::ImportValue": "ignored"}}},
  "Skipped": {"Value": {"Fn::ImportValue": "never resolved"}, "Condition": "Never"}}`,
		map[string]map[string]string{"Generated": {"Ref": "arn:g"}, "U": {"FunctionUrl": "https://u/"}})
	if diff := cmp.Diff([]Table{{LogicalID: "T", Name: "t", ARN: "arn:aws:dynamodb:us-east-1:000000000000:table/t",
		HashKey: "pk", HashKeyType: "S", RangeKey: "sk", RangeKeyType: "N"}}, d.Tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	wantSecrets := []Secret{
		{LogicalID: "Default", Name: "Stack-Default", Length: 32},
		{LogicalID: "Generated", Name: "Stack-Generated", ARN: "arn:g", Description: "g", Template: `{"u":""}`, GenerateKey: "p", Length: 48, ExcludePunctuation: true},
		{LogicalID: "Literal", Name: "lit", SecretString: `{"t":"t"}`, Length: 32},
	}
	if diff := cmp.Diff(wantSecrets, d.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	wantURLs := []FunctionURL{{LogicalID: "ByName", Function: "Stack-Fn", AuthType: "NONE"}, {LogicalID: "U", Function: "Stack-Fn", AuthType: "AWS_IAM"}}
	if diff := cmp.Diff(wantURLs, d.FunctionURLs); diff != "" {
		t.Errorf("function URLs (-want +got):\n%s", diff)
	}
	wantOutputs := map[string]Output{"Url": {Value: "https://u/", Description: "the URL"}, "Table": {Value: "t"}}
	if diff := cmp.Diff(wantOutputs, d.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestTTL(t *testing.T) {
	d := mustLoad(t, `"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
  "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "B"}], "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": "true"}}}`, "", nil)
	if diff := cmp.Diff("exp", d.Tables[0].TTLAttribute); diff != "" {
		t.Errorf("TTL (-want +got):\n%s", diff)
	}
}

func TestUnmodelled(t *testing.T) {
	d := mustLoad(t, `
 "Zeta": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}], "Dimensions": [{"Value": {"Fn::GetAtt": ["Q", "QueueName"]}}],
  "X": {"Fn::ImportValue": "unmodelled properties are not resolved"}}},
 "Q": {"Type": "AWS::SQS::Queue"},
 "Alpha": {"Type": "Custom::Thing", "Properties": {"ServiceToken": {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:x"}}},
 "Topic": {"Type": "AWS::SNS::Topic"},
 "Hidden": {"Type": "AWS::EC2::VPC", "Condition": "Never"}`, `"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}}`, nil)
	want := []Resource{{LogicalID: "Alpha", Type: "Custom::Thing"}, {LogicalID: "Q", Type: "AWS::SQS::Queue"}, {LogicalID: "Zeta", Type: "AWS::CloudWatch::Alarm"}}
	if diff := cmp.Diff(want, d.Unmodelled); diff != "" {
		t.Errorf("unmodelled (-want +got):\n%s", diff)
	}
}

// TestMetadata covers what rotor's construct writes on functions and roles.
func TestMetadata(t *testing.T) {
	const role = `"AssumeRolePolicyDocument": ` + trust
	for _, tc := range []struct {
		name, meta string
		fn         bool
		want       any
		err        string
	}{
		{name: "function", fn: true, meta: `{"rotor:function": "webhook"}`, want: "webhook"},
		{name: "function without", fn: true, meta: `{"aws:cdk:path": "x"}`, want: ""},
		{name: "function not a string", fn: true, meta: `{"rotor:function": ["webhook"]}`,
			err: "resource X: Metadata.rotor:function: must be a non-empty string"},
		{name: "role", meta: `{"rotor:needs": {"sqs:SendMessage": "dead letters"}}`, want: map[string]string{"sqs:SendMessage": "dead letters"}},
		{name: "role without", meta: `{}`, want: map[string]string(nil)},
		{name: "role not an object", meta: `{"rotor:needs": "sqs:SendMessage"}`,
			err: "resource X: Metadata.rotor:needs: must be an object: action -> why the role needs it"},
		{name: "role reason not a string", meta: `{"rotor:needs": {"sqs:SendMessage": 1}}`,
			err: "resource X: Metadata.rotor:needs.sqs:SendMessage: must be a non-empty string: why the role needs the action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := `"X": {"Type": "AWS::IAM::Role", "Metadata": ` + tc.meta + `, "Properties": {` + role + `}}`
			if tc.fn {
				res = `"X": {"Type": "AWS::Lambda::Function", "Metadata": ` + tc.meta + `, "Properties": {"Role": "arn:aws:iam::000000000000:role/r"}}`
			}
			d, err := load(t, res, "", nil)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error; want %q", tc.err)
				}
				if diff := cmp.Diff(tc.err, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if tc.fn {
				got = d.Functions[0].Rotor
			} else {
				got = d.Roles[0].Explain
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRefused: valid CloudFormation the loader does not model, and
// malformed templates, are errors naming what and where.
func TestRefused(t *testing.T) {
	const fnRole = `"Role": "arn:aws:iam::000000000000:role/r"`
	for _, tc := range []struct {
		name     string
		template string // whole template, when set
		res      string // else these resources
		extra    string
		env      *Env
		known    map[string]map[string]string
		kind     error
		err      string
	}{
		{name: "yaml", template: "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n", kind: ErrUnsupported,
			err: "template: not a JSON object: only JSON templates are supported (cdk synth writes JSON; convert a YAML template with cfn-flip)"},
		{name: "empty", template: " \n", kind: ErrInvalid, err: "template: empty"},
		{name: "malformed", template: `{"Resources": {`, kind: ErrInvalid, err: "template: truncated or empty JSON"},
		{name: "syntax", template: `{"Resources": {"A": x}}`, kind: ErrInvalid, err: "template: malformed JSON at byte 20"},
		{name: "duplicate name", template: `{"Resources": {"A": {"Type": "AWS::SNS::Topic"}, "A": {"Type": "AWS::SNS::Topic"}}}`, kind: ErrInvalid,
			err: `template: duplicate member "/Resources/A"`},
		{name: "no resources", template: `{"Outputs": {}}`, kind: ErrInvalid, err: "template: Resources: is required"},
		{name: "empty resources", template: `{"Resources": {}}`, kind: ErrInvalid, err: "template: Resources: declares no resource"},
		{name: "resources not an object", template: `{"Resources": []}`, kind: ErrInvalid, err: "template: Resources: must be an object"},
		{name: "transform", template: `{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"A": {"Type": "AWS::SNS::Topic"}}}`, kind: ErrUnsupported,
			err: "template: Transform: is not supported: load the template CloudFormation processes (macros, SAM) or the stack without hooks"},
		{name: "unknown section", template: `{"Resource": {}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}}}`, kind: ErrInvalid,
			err: "template: Resource: is not a template section"},
		{name: "resource attribute", res: `"A": {"Type": "AWS::SNS::Topic", "Propertie": {}}`, kind: ErrInvalid,
			err: "resource A: Propertie: is not a resource attribute"},
		{name: "resource without type", res: `"A": {"Properties": {}}`, kind: ErrInvalid, err: "resource A: Type: is required"},
		{name: "logical ID", res: `"A-1": {"Type": "AWS::SNS::Topic"}`, kind: ErrInvalid, err: "resource A-1: a logical ID is letters and digits only"},
		{name: "env account", res: `"A": {"Type": "AWS::SNS::Topic"}`, env: &Env{Region: "us-east-1", Account: "123", StackName: "S"}, kind: ErrInvalid,
			err: "env: Account: must be 12 digits"},
		{name: "env region", res: `"A": {"Type": "AWS::SNS::Topic"}`, env: &Env{Account: "000000000000", StackName: "S"}, kind: ErrInvalid,
			err: "env: Region: must be a Region such as us-east-1"},
		{name: "env stack name", res: `"A": {"Type": "AWS::SNS::Topic"}`, env: &Env{Region: "us-east-1", Account: "000000000000", StackName: "1x"}, kind: ErrInvalid,
			err: "env: StackName: must be a letter, then up to 127 letters, digits and hyphens"},
		{name: "known names nothing", res: `"A": {"Type": "AWS::SNS::Topic"}`, known: map[string]map[string]string{"B": {"Ref": "x"}}, kind: ErrInvalid,
			err: "env: Known.B: the template declares no resource or parameter of that name"},
		{name: "managed policies", res: `"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ` + trust + `,
			"ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]}}`, kind: ErrUnsupported,
			err: "resource R: Properties.ManagedPolicyArns: is not supported: the local IAM evaluates only the policy documents of the template"},
		{name: "policy on users", res: `"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p", "PolicyDocument": {}, "Users": ["u"]}}`, kind: ErrUnsupported,
			err: "resource P: Properties.Users: is not supported: the local IAM deploys the template's roles only"},
		{name: "policy on a role not in the template", res: `"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p", "PolicyDocument": {}, "Roles": ["elsewhere"]}}`,
			kind: ErrUnresolved, err: "resource P: Properties.Roles[0]: names no AWS::IAM::Role of the template"},
		{name: "policy without name", res: `"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ` + trust + `}},
			"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {}, "Roles": [{"Ref": "R"}]}}`,
			kind: ErrInvalid, err: "resource P: Properties.PolicyName: is required"},
		{name: "role without trust", res: `"R": {"Type": "AWS::IAM::Role"}`, kind: ErrInvalid, err: "resource R: Properties.AssumeRolePolicyDocument: is required"},
		{name: "policy document not an object", res: `"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": "[1]"}}`, kind: ErrInvalid,
			err: "resource R: Properties.AssumeRolePolicyDocument: must be a JSON object"},
		{name: "function name too long", res: `"F": {"Type": "AWS::Lambda::Function", "Properties": {` + fnRole + `, "FunctionName": "` + strings.Repeat("f", 65) + `"}}`,
			kind: ErrInvalid, err: "resource F: Properties.FunctionName: is longer than AWS::Lambda::Function's limit of 64"},
		{name: "circular name", res: `"F": {"Type": "AWS::Lambda::Function", "Properties": {` + fnRole + `, "FunctionName": {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["F", "Arn"]}]}]}}}`,
			kind: ErrInvalid, err: "resource F: Properties.FunctionName.Fn::Select[1].Fn::Split[1]: Fn::GetAtt F.Arn: circular reference through the name of F"},
		{name: "function without role", res: `"F": {"Type": "AWS::Lambda::Function"}`, kind: ErrInvalid, err: "resource F: Properties.Role: is required"},
		{name: "memory not a number", res: `"F": {"Type": "AWS::Lambda::Function", "Properties": {` + fnRole + `, "MemorySize": "big"}}`, kind: ErrInvalid,
			err: "resource F: Properties.MemorySize: must be a whole number"},
		{name: "reserved zero", res: `"F": {"Type": "AWS::Lambda::Function", "Properties": {` + fnRole + `, "ReservedConcurrentExecutions": 0}}`, kind: ErrUnsupported,
			err: "resource F: Properties.ReservedConcurrentExecutions: 0 (a function that never runs) is not supported"},
		{name: "env var a list", res: `"F": {"Type": "AWS::Lambda::Function", "Properties": {` + fnRole + `, "Environment": {"Variables": {"L": ["a"]}}}}`, kind: ErrInvalid,
			err: "resource F: Properties.Environment.Variables.L: must be a string"},
		{name: "url qualifier", res: `"U": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": "f", "AuthType": "NONE", "Qualifier": "live"}}`, kind: ErrUnsupported,
			err: "resource U: Properties.Qualifier: is not supported: a URL of the function's unqualified version only"},
		{name: "url auth type", res: `"U": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": "f", "AuthType": "OPEN"}}`, kind: ErrInvalid,
			err: "resource U: Properties.AuthType: must be NONE or AWS_IAM"},
		{name: "rule target parameters", res: `"R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["a"]},
			"Targets": [{"Id": "T", "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "SqsParameters": {"MessageGroupId": "g"}}]}}`, kind: ErrUnsupported,
			err: "resource R: Properties.Targets[0].SqsParameters: is not supported"},
		{name: "rule target inputs", res: `"R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["a"]},
			"Targets": [{"Id": "T", "Arn": "arn:x", "Input": "{}", "InputPath": "$.detail"}]}}`, kind: ErrInvalid,
			err: "resource R: Properties.Targets[0]: Input, InputPath and InputTransformer are exclusive"},
		{name: "rule target without id", res: `"R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["a"]}, "Targets": [{"Arn": "arn:x"}]}}`,
			kind: ErrInvalid, err: "resource R: Properties.Targets[0].Id: is required"},
		{name: "rule state", res: `"R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["a"]}, "State": "ON"}}`, kind: ErrInvalid,
			err: "resource R: Properties.State: must be ENABLED or DISABLED"},
		{name: "rule without pattern", res: `"R": {"Type": "AWS::Events::Rule", "Properties": {"Description": "d"}}`, kind: ErrInvalid,
			err: "resource R: Properties: needs EventPattern or ScheduleExpression"},
		{name: "schedule without role", res: `"S": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 day)", "Target": {"Arn": "arn:x"}}}`,
			kind: ErrInvalid, err: "resource S: Properties.Target.RoleArn: is required"},
		{name: "schedule start date", res: `"S": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 day)", "StartDate": "2030-01-01T00:00:00Z",
			"Target": {"Arn": "arn:x", "RoleArn": "arn:r"}}}`, kind: ErrUnsupported, err: "resource S: Properties.StartDate: is not supported"},
		{name: "table key without definition", res: `"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}`,
			kind: ErrInvalid, err: "resource T: Properties.KeySchema[0].AttributeName: has no entry in AttributeDefinitions"},
		{name: "table two hash keys", res: `"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "HASH"}],
			"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}}`, kind: ErrInvalid,
			err: "resource T: Properties.KeySchema[1].KeyType: must be one HASH and at most one RANGE"},
		{name: "secret both values", res: `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "v", "GenerateSecretString": {}}}`, kind: ErrInvalid,
			err: "resource S: Properties.SecretString: and GenerateSecretString are exclusive"},
		{name: "secret exclude characters", res: `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {"ExcludeCharacters": "/@"}}}`,
			kind: ErrUnsupported, err: "resource S: Properties.GenerateSecretString.ExcludeCharacters: is not supported"},
		{name: "secret template without key", res: `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {"SecretStringTemplate": "{}"}}}`,
			kind: ErrInvalid, err: "resource S: Properties.GenerateSecretString: SecretStringTemplate and GenerateStringKey go together"},
		{name: "bus without name", res: `"B": {"Type": "AWS::Events::EventBus"}`, kind: ErrInvalid, err: "resource B: Properties.Name: is required"},
		{name: "resource condition unknown", res: `"A": {"Type": "AWS::SNS::Topic", "Condition": "Nope"}`, kind: ErrUnresolved,
			err: "resource A: Condition: condition Nope: no condition of that name in Conditions"},
		{name: "condition not a condition function", res: `"A": {"Type": "AWS::SNS::Topic", "Condition": "C"}`, extra: `"Conditions": {"C": {"Fn::If": ["x", "a", "b"]}}`,
			kind: ErrUnsupported, err: "condition C: Fn::If is not a condition function"},
		{name: "condition and arity", res: `"A": {"Type": "AWS::SNS::Topic", "Condition": "C"}`, extra: `"Conditions": {"C": {"Fn::And": [{"Fn::Equals": ["a", "a"]}]}}`,
			kind: ErrInvalid, err: "condition C: Fn::And takes a list of 2 to 10 conditions"},
		{name: "unmodelled ref to nothing", res: `"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Nothing"}]}}`,
			kind: ErrUnresolved, err: "resource A: Properties.AlarmActions[0]: Ref Nothing: the template declares no parameter or resource of that name"},
		{name: "unmodelled getatt of nothing", res: `"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"D": {"Fn::GetAtt": "Nothing.Arn"}}}`,
			kind: ErrUnresolved, err: "resource A: Properties.D: Fn::GetAtt Nothing: the template declares no resource of that name"},
		{name: "unmodelled parameter without value", res: `"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"T": {"Fn::Sub": "${P}-x"}}}`,
			extra: `"Parameters": {"P": {"Type": "String"}}`, kind: ErrUnresolved,
			err: "resource A: Properties.T.Fn::Sub: Fn::Sub ${P}: parameter P has no Default and Env.Known gives it no value"},
		{name: "ssm parameter outside rules", res: `"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"T": {"Ref": "BootstrapVersion"}}}`,
			extra: `"Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/hnb659fds/version"}}`, kind: ErrUnknown,
			err: `resource A: Properties.T: Ref BootstrapVersion: parameter BootstrapVersion is read from SSM Parameter Store at deploy time: supply its value in Env.Known["BootstrapVersion"]["Ref"]`},
		{name: "output not a string", res: `"A": {"Type": "AWS::SNS::Topic"}`, extra: `"Outputs": {"O": {"Value": ["a"]}}`, kind: ErrInvalid,
			err: "output O: Value: must resolve to a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d *Deployment
			var err error
			switch {
			case tc.template != "":
				d, err = Load([]byte(tc.template), testEnv())
			case tc.env != nil:
				tpl := `{"Resources": {` + tc.res + `}}`
				d, err = Load([]byte(tpl), *tc.env)
			default:
				d, err = load(t, tc.res, tc.extra, tc.known)
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.err)
			}
			if diff := cmp.Diff(tc.err, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(err, %v) = false", tc.kind)
			}
			if (d != nil) != (tc.kind == ErrUnknown) {
				t.Errorf("Deployment returned = %v, want it only for ErrUnknown", d != nil)
			}
		})
	}
}

// TestRulesSectionIgnored: CDK's bootstrap check refers to an SSM
// parameter in Rules only; that loads.
func TestRulesSectionIgnored(t *testing.T) {
	d := mustLoad(t, `"A": {"Type": "AWS::SNS::Topic"}`, `"Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/hnb659fds/version"}},
 "Rules": {"CheckBootstrapVersion": {"Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": [["1"], {"Ref": "BootstrapVersion"}]}]}}]}}`, nil)
	if len(d.Topics) != 1 {
		t.Errorf("topics: %d, want 1", len(d.Topics))
	}
}

// TestErrorsNeverQuoteValues: a failure in a resource holding a secret
// names where, not what.
func TestErrorsNeverQuoteValues(t *testing.T) {
	const value = "hunter2-s3cr3t-value"
	for _, tc := range []struct{ name, res string }{
		{"unsupported intrinsic beside it", `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": {"Fn::Join": ["", ["` + value + `", {"Fn::ImportValue": "x"}]]}}}`},
		{"wrong type", `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": ["` + value + `"]}}`},
		{"unresolved sub", `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": {"Fn::Sub": "` + value + `${Nope}"}}}`},
		{"select out of range", `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": {"Fn::Select": [3, ["` + value + `"]]}}}`},
		{"not a name", `"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": {"Fn::Sub": "${p@ss s3cr3t}"}}}`},
		{"env var", `"F": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "r", "Environment": {"Variables": {"K": {"` + value + `": 1}}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.res, "", nil)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error quotes the value: %s", strings.ReplaceAll(err.Error(), value, "<value>"))
			}
		})
	}
	// A syntax error in a template holding the value.
	_, err := Load([]byte(`{"Resources": {"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "`+value+`" x}}}}`), testEnv())
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("syntax error: %v", err != nil)
	}
}

// TestSeveralErrors: one Load reports every problem, sorted.
func TestSeveralErrors(t *testing.T) {
	_, err := load(t, `
 "B": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::ImportValue": "r"}}},
 "A": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "r", "Timeout": "x"}}`, "", nil)
	want := "resource A: Properties.Timeout: must be a whole number\n" +
		"resource B: Properties.Role: Fn::ImportValue is not supported"
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestErrorFields: an error is typed, for errors.As, with where and what.
func TestErrorFields(t *testing.T) {
	_, err := load(t, `"RotorCreateFunctionD9BA1E0B": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "r",
  "Environment": {"Variables": {"X": {"Fn::ImportValue": "shared"}}}}}`, "", nil)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not an *Error", err)
	}
	want := &Error{Section: "resource", LogicalID: "RotorCreateFunctionD9BA1E0B", Path: "Properties.Environment.Variables.X",
		Intrinsic: "Fn::ImportValue", Kind: ErrUnsupported, Msg: "Fn::ImportValue is not supported"}
	if diff := cmp.Diff(*want, *e, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

// TestCDKMetadataCondition: an environment-agnostic CDK stack puts its
// metadata resource under a condition on the Region, nested Fn::Or of at
// most 10 Fn::Equals.
func TestCDKMetadataCondition(t *testing.T) {
	var eq []string
	for _, r := range []string{"af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "cn-north-1", "cn-northwest-1"} {
		eq = append(eq, `{"Fn::Equals": [{"Ref": "AWS::Region"}, "`+r+`"]}`)
	}
	cond := func(last string) string {
		return `"Conditions": {"CDKMetadataAvailable": {"Fn::Or": [{"Fn::Or": [` + strings.Join(eq, ", ") + `]},
  {"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "` + last + `"]}]}]}}`
	}
	const res = `"CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:x"}, "Condition": "CDKMetadataAvailable"},
 "T": {"Type": "AWS::SNS::Topic"}`
	for _, tc := range []struct {
		last string
		want []Resource
	}{
		{"us-east-1", []Resource{{LogicalID: "CDKMetadata", Type: "AWS::CDK::Metadata"}}},
		{"us-west-2", nil},
	} {
		d := mustLoad(t, res, cond(tc.last), nil)
		if diff := cmp.Diff(tc.want, d.Unmodelled); diff != "" {
			t.Errorf("with %s: unmodelled (-want +got):\n%s", tc.last, diff)
		}
	}
}

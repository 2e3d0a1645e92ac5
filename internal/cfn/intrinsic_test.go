package cfn

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// base declares one resource of each type an intrinsic can name; the
// function under test holds the intrinsic as its environment variable X.
const base = `{
 "Parameters": {
  "Stage": {"Type": "String", "Default": "dev"},
  "Zones": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
  "NoDefault": {"Type": "String"},
  "Ssm": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/some/parameter"}
 },
 "Mappings": {"RegionMap": {"us-east-1": {"ami": "ami-1"}}},
 "Conditions": {
  "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
  "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
  "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
  "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "NotProd"}]},
  "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
  "Loop1": {"Condition": "Loop2"},
  "Loop2": {"Fn::Not": [{"Condition": "Loop1"}]}
 },
 "Resources": {
  "RotorCreateFunctionD9BA1E0B": {"Type": "AWS::Lambda::Function", "Properties": {
   "Role": "arn:aws:iam::000000000000:role/r", "Environment": {"Variables": {"X": __X__}}}},
  "Named": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "my-fn", "Role": "arn:aws:iam::000000000000:role/r"}},
  "Role1": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/rotor/", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
  "Pol1": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "pol", "Roles": [{"Ref": "Role1"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
  "Table1": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}},
  "Topic1": {"Type": "AWS::SNS::Topic"},
  "Off": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
  "Key1": {"Type": "AWS::KMS::Key"},
  "Bus1": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "my-bus"}},
  "RuleDefault": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["x"]}}},
  "RuleOnBus": {"Type": "AWS::Events::Rule", "Properties": {"EventBusName": {"Ref": "Bus1"}, "EventPattern": {"source": ["x"]}}},
  "Queue1": {"Type": "AWS::SQS::Queue"},
  "Logs1": {"Type": "AWS::Logs::LogGroup"},
  "SM1": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineName": "sm", "DefinitionString": "{}", "RoleArn": {"Fn::GetAtt": ["Role1", "Arn"]}}},
  "Secret1": {"Type": "AWS::SecretsManager::Secret"},
  "Url1": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": {"Fn::GetAtt": ["Named", "Arn"]}, "AuthType": "NONE"}},
  "Sched1": {"Type": "AWS::Scheduler::Schedule", "Properties": {"GroupName": "g1", "ScheduleExpression": "rate(1 day)",
   "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": {"Arn": {"Ref": "SM1"}, "RoleArn": {"Fn::GetAtt": ["Role1", "Arn"]}}}},
  "Vpc1": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
 }
}`

const keyUUID = "7e533ab6-5190-5291-a6cc-a76cfa4e7f73"

func testEnv() Env {
	return Env{Region: "us-east-1", Account: "000000000000", StackName: "Stack"}
}

const fnID = "RotorCreateFunctionD9BA1E0B"

func TestIntrinsics(t *testing.T) {
	const where = "resource RotorCreateFunctionD9BA1E0B: Properties.Environment.Variables.X"
	for _, tc := range []struct {
		name      string
		x         string
		partition string
		known     map[string]map[string]string
		want      string
		absent    bool // X is removed (AWS::NoValue)
		err       string
		kind      error
		intrinsic string
	}{
		{name: "partition", x: `{"Ref": "AWS::Partition"}`, want: "aws"},
		{name: "partition aws-cn", x: `{"Ref": "AWS::Partition"}`, partition: "aws-cn", want: "aws-cn"},
		{name: "region", x: `{"Ref": "AWS::Region"}`, want: "us-east-1"},
		{name: "account", x: `{"Ref": "AWS::AccountId"}`, want: "000000000000"},
		{name: "stack name", x: `{"Ref": "AWS::StackName"}`, want: "Stack"},
		{name: "url suffix", x: `{"Ref": "AWS::URLSuffix"}`, want: "amazonaws.com"},
		{name: "url suffix aws-cn", x: `{"Ref": "AWS::URLSuffix"}`, partition: "aws-cn", want: "amazonaws.com.cn"},
		{name: "no value", x: `{"Ref": "AWS::NoValue"}`, absent: true},
		{name: "unknown pseudo parameter", x: `{"Ref": "AWS::Bogus"}`, kind: ErrUnsupported, intrinsic: "Ref",
			err: where + ": Ref AWS::Bogus: not a supported pseudo parameter"},
		{name: "number", x: `5`, want: "5"},
		{name: "boolean", x: `true`, want: "true"},

		{name: "parameter default", x: `{"Ref": "Stage"}`, want: "dev"},
		{name: "parameter known", x: `{"Ref": "Stage"}`, known: map[string]map[string]string{"Stage": {"Ref": "prod"}}, want: "prod"},
		{name: "list parameter", x: `{"Fn::Select": [1, {"Ref": "Zones"}]}`, want: "b"},
		{name: "parameter without value", x: `{"Ref": "NoDefault"}`, kind: ErrUnresolved, intrinsic: "Ref",
			err: where + ": Ref NoDefault: parameter NoDefault has no Default and Env.Known gives it no value"},
		{name: "ssm parameter", x: `{"Ref": "Ssm"}`, kind: ErrUnknown, intrinsic: "Ref",
			err: where + `: Ref Ssm: parameter Ssm is read from SSM Parameter Store at deploy time: supply its value in Env.Known["Ssm"]["Ref"]`},
		{name: "ssm parameter known", x: `{"Ref": "Ssm"}`, known: map[string]map[string]string{"Ssm": {"Ref": "6"}}, want: "6"},

		{name: "function ref", x: `{"Ref": "Named"}`, want: "my-fn"},
		{name: "function arn", x: `{"Fn::GetAtt": ["Named", "Arn"]}`, want: "arn:aws:lambda:us-east-1:000000000000:function:my-fn"},
		{name: "getatt string form", x: `{"Fn::GetAtt": "Named.Arn"}`, want: "arn:aws:lambda:us-east-1:000000000000:function:my-fn"},
		{name: "getatt attribute from ref", x: `{"Fn::GetAtt": ["Named", {"Fn::Join": ["", ["A", "rn"]]}]}`, want: "arn:aws:lambda:us-east-1:000000000000:function:my-fn"},
		{name: "known wins", x: `{"Fn::GetAtt": ["Named", "Arn"]}`, known: map[string]map[string]string{"Named": {"Arn": "arn:given"}}, want: "arn:given"},
		{name: "known name", x: `{"Fn::GetAtt": ["Named", "Arn"]}`, known: map[string]map[string]string{"Named": {"Name": "other"}},
			want: "arn:aws:lambda:us-east-1:000000000000:function:other"},
		{name: "role ref", x: `{"Ref": "Role1"}`, want: "Stack-Role1"},
		{name: "role arn with path", x: `{"Fn::GetAtt": ["Role1", "Arn"]}`, want: "arn:aws:iam::000000000000:role/rotor/Stack-Role1"},
		{name: "policy ref", x: `{"Ref": "Pol1"}`, want: "pol"},
		{name: "table ref", x: `{"Ref": "Table1"}`, want: "Stack-Table1"},
		{name: "table arn", x: `{"Fn::GetAtt": ["Table1", "Arn"]}`, want: "arn:aws:dynamodb:us-east-1:000000000000:table/Stack-Table1"},
		{name: "table stream arn", x: `{"Fn::GetAtt": ["Table1", "StreamArn"]}`, kind: ErrUnsupported, intrinsic: "Fn::GetAtt",
			err: where + ": Fn::GetAtt Table1.StreamArn: attribute StreamArn of AWS::DynamoDB::Table is not modelled"},
		{name: "topic ref", x: `{"Ref": "Topic1"}`, want: "arn:aws:sns:us-east-1:000000000000:Stack-Topic1"},
		{name: "topic arn", x: `{"Fn::GetAtt": ["Topic1", "TopicArn"]}`, want: "arn:aws:sns:us-east-1:000000000000:Stack-Topic1"},
		{name: "topic name", x: `{"Fn::GetAtt": ["Topic1", "TopicName"]}`, want: "Stack-Topic1"},
		{name: "key ref", x: `{"Ref": "Key1"}`, want: keyUUID},
		{name: "key arn", x: `{"Fn::GetAtt": ["Key1", "Arn"]}`, want: "arn:aws:kms:us-east-1:000000000000:key/" + keyUUID},
		{name: "bus ref", x: `{"Ref": "Bus1"}`, want: "my-bus"},
		{name: "bus arn", x: `{"Fn::GetAtt": ["Bus1", "Arn"]}`, want: "arn:aws:events:us-east-1:000000000000:event-bus/my-bus"},
		{name: "bus name", x: `{"Fn::GetAtt": ["Bus1", "Name"]}`, want: "my-bus"},
		{name: "rule ref", x: `{"Ref": "RuleDefault"}`, want: "Stack-RuleDefault"},
		{name: "rule arn", x: `{"Fn::GetAtt": ["RuleDefault", "Arn"]}`, want: "arn:aws:events:us-east-1:000000000000:rule/Stack-RuleDefault"},
		{name: "rule arn on a bus", x: `{"Fn::GetAtt": ["RuleOnBus", "Arn"]}`, want: "arn:aws:events:us-east-1:000000000000:rule/my-bus/Stack-RuleOnBus"},
		{name: "queue ref", x: `{"Ref": "Queue1"}`, want: "https://sqs.us-east-1.amazonaws.com/000000000000/Stack-Queue1"},
		{name: "queue url", x: `{"Fn::GetAtt": ["Queue1", "QueueUrl"]}`, want: "https://sqs.us-east-1.amazonaws.com/000000000000/Stack-Queue1"},
		{name: "queue arn", x: `{"Fn::GetAtt": ["Queue1", "Arn"]}`, want: "arn:aws:sqs:us-east-1:000000000000:Stack-Queue1"},
		{name: "queue name", x: `{"Fn::GetAtt": ["Queue1", "QueueName"]}`, want: "Stack-Queue1"},
		{name: "log group ref", x: `{"Ref": "Logs1"}`, want: "Stack-Logs1"},
		{name: "log group arn", x: `{"Fn::GetAtt": ["Logs1", "Arn"]}`, want: "arn:aws:logs:us-east-1:000000000000:log-group:Stack-Logs1:*"},
		{name: "state machine ref", x: `{"Ref": "SM1"}`, want: "arn:aws:states:us-east-1:000000000000:stateMachine:sm"},
		{name: "state machine arn", x: `{"Fn::GetAtt": ["SM1", "Arn"]}`, want: "arn:aws:states:us-east-1:000000000000:stateMachine:sm"},
		{name: "state machine name", x: `{"Fn::GetAtt": ["SM1", "Name"]}`, want: "sm"},
		{name: "secret ref unknown", x: `{"Ref": "Secret1"}`, kind: ErrUnknown, intrinsic: "Ref",
			err: where + `: Ref Secret1: the ARN of secret Secret1 is known only once it is created: supply it in Env.Known["Secret1"]["Ref"]`},
		{name: "secret ref known", x: `{"Ref": "Secret1"}`, known: map[string]map[string]string{"Secret1": {"Ref": "arn:secret"}}, want: "arn:secret"},
		{name: "secret id known", x: `{"Fn::GetAtt": ["Secret1", "Id"]}`, known: map[string]map[string]string{"Secret1": {"Ref": "arn:secret"}}, want: "arn:secret"},
		{name: "url ref", x: `{"Ref": "Url1"}`, want: "arn:aws:lambda:us-east-1:000000000000:function:my-fn"},
		{name: "url function arn", x: `{"Fn::GetAtt": ["Url1", "FunctionArn"]}`, want: "arn:aws:lambda:us-east-1:000000000000:function:my-fn"},
		{name: "url unknown", x: `{"Fn::GetAtt": ["Url1", "FunctionUrl"]}`, kind: ErrUnknown, intrinsic: "Fn::GetAtt",
			err: where + `: Fn::GetAtt Url1.FunctionUrl: the URL of function URL Url1 is known only once it is created: supply it in Env.Known["Url1"]["FunctionUrl"]`},
		{name: "url known", x: `{"Fn::GetAtt": ["Url1", "FunctionUrl"]}`, known: map[string]map[string]string{"Url1": {"FunctionUrl": "https://u/"}}, want: "https://u/"},
		{name: "schedule ref", x: `{"Ref": "Sched1"}`, want: "Stack-Sched1"},
		{name: "schedule arn", x: `{"Fn::GetAtt": ["Sched1", "Arn"]}`, want: "arn:aws:scheduler:us-east-1:000000000000:schedule/g1/Stack-Sched1"},
		{name: "unmodelled ref", x: `{"Ref": "Vpc1"}`, want: "Vpc1"},
		{name: "unmodelled attribute", x: `{"Fn::GetAtt": ["Vpc1", "CidrBlock"]}`, kind: ErrUnsupported, intrinsic: "Fn::GetAtt",
			err: where + `: Fn::GetAtt Vpc1.CidrBlock: AWS::EC2::VPC is not modelled: its attribute CidrBlock is unknown (supply it in Env.Known["Vpc1"]["CidrBlock"])`},
		{name: "unmodelled attribute known", x: `{"Fn::GetAtt": ["Vpc1", "CidrBlock"]}`, known: map[string]map[string]string{"Vpc1": {"CidrBlock": "10.0.0.0/16"}}, want: "10.0.0.0/16"},
		{name: "ref to nothing", x: `{"Ref": "Nothing"}`, kind: ErrUnresolved, intrinsic: "Ref",
			err: where + ": Ref Nothing: the template declares no parameter or resource of that name"},
		{name: "getatt of nothing", x: `{"Fn::GetAtt": ["Nothing", "Arn"]}`, kind: ErrUnresolved, intrinsic: "Fn::GetAtt",
			err: where + ": Fn::GetAtt Nothing.Arn: the template declares no resource of that name"},
		{name: "getatt malformed", x: `{"Fn::GetAtt": "NoDot"}`, kind: ErrInvalid, intrinsic: "Fn::GetAtt",
			err: where + `: Fn::GetAtt takes ["LogicalID", "Attribute"] or "LogicalID.Attribute"`},
		{name: "resource not created", x: `{"Ref": "Off"}`, kind: ErrUnresolved, intrinsic: "Ref",
			err: where + ": Ref Off: resource Off is not created: its condition IsProd is false"},
		{name: "ref not a string", x: `{"Ref": ["Named"]}`, kind: ErrInvalid, intrinsic: "Ref",
			err: where + ": Ref takes a logical ID or parameter name as a literal string"},

		{name: "join", x: `{"Fn::Join": ["-", ["a", {"Ref": "Stage"}, "b"]]}`, want: "a-dev-b"},
		{name: "join of a split", x: `{"Fn::Join": ["+", {"Fn::Split": [",", "x,y"]}]}`, want: "x+y"},
		{name: "join drops no value", x: `{"Fn::Join": ["-", ["a", {"Ref": "AWS::NoValue"}, "b"]]}`, want: "a-b"},
		{name: "join of a list", x: `{"Fn::Join": ["-", [["a"]]]}`, kind: ErrInvalid, intrinsic: "Fn::Join",
			err: "resource RotorCreateFunctionD9BA1E0B: Properties.Environment.Variables.X.Fn::Join[1][0]: Fn::Join joins strings only"},
		{name: "join of a string", x: `{"Fn::Join": ["-", "a"]}`, kind: ErrInvalid, intrinsic: "Fn::Join",
			err: where + ".Fn::Join[1]: Fn::Join's second argument must be a list"},
		{name: "join arity", x: `{"Fn::Join": ["-"]}`, kind: ErrInvalid, intrinsic: "Fn::Join",
			err: where + ": Fn::Join takes a list of 2 arguments"},
		{name: "nested error path", x: `{"Fn::Join": ["", ["a", {"Fn::Sub": "${Nothing}"}]]}`, kind: ErrUnresolved, intrinsic: "Fn::Sub",
			err: where + ".Fn::Join[1][1].Fn::Sub: Fn::Sub ${Nothing}: the template declares no parameter or resource of that name"},

		{name: "sub", x: `{"Fn::Sub": "${AWS::Region}/${Stage}/${Named}/${Named.Arn}/${!Literal}"}`,
			want: "us-east-1/dev/my-fn/arn:aws:lambda:us-east-1:000000000000:function:my-fn/${Literal}"},
		{name: "sub with variables", x: `{"Fn::Sub": ["${A}-${AWS::AccountId}-${B}", {"A": {"Ref": "Stage"}, "B": "b"}]}`, want: "dev-000000000000-b"},
		{name: "sub variable shadows", x: `{"Fn::Sub": ["${Stage}", {"Stage": "mine"}]}`, want: "mine"},
		{name: "sub unused unknown variable", x: `{"Fn::Sub": ["x", {"S": {"Ref": "Secret1"}}]}`, want: "x"},
		{name: "sub without text", x: `{"Fn::Sub": "plain"}`, want: "plain"},
		{name: "sub unterminated", x: `{"Fn::Sub": "a${Stage"}`, kind: ErrInvalid, intrinsic: "Fn::Sub",
			err: where + ".Fn::Sub: Fn::Sub: ${ without a closing }"},
		{name: "sub unknown name", x: `{"Fn::Sub": "${Missing}"}`, kind: ErrUnresolved, intrinsic: "Fn::Sub",
			err: where + ".Fn::Sub: Fn::Sub ${Missing}: the template declares no parameter or resource of that name"},
		{name: "sub unknown attribute", x: `{"Fn::Sub": "${Table1.StreamArn}"}`, kind: ErrUnsupported, intrinsic: "Fn::Sub",
			err: where + ".Fn::Sub: Fn::Sub ${Table1.StreamArn}: attribute StreamArn of AWS::DynamoDB::Table is not modelled"},
		{name: "sub of a list", x: `{"Fn::Sub": ["${L}", {"L": ["a"]}]}`, kind: ErrInvalid, intrinsic: "Fn::Sub",
			err: where + ".Fn::Sub: Fn::Sub ${L}: does not resolve to a string"},
		{name: "sub malformed", x: `{"Fn::Sub": ["a"]}`, kind: ErrInvalid, intrinsic: "Fn::Sub",
			err: where + `: Fn::Sub takes "string" or ["string", {"Name": value}]`},

		{name: "select", x: `{"Fn::Select": ["0", ["p", "q"]]}`, want: "p"},
		{name: "select of a split", x: `{"Fn::Select": [2, {"Fn::Split": ["/", "a/b/c"]}]}`, want: "c"},
		{name: "select out of range", x: `{"Fn::Select": [2, ["p", "q"]]}`, kind: ErrInvalid, intrinsic: "Fn::Select",
			err: where + ".Fn::Select[0]: Fn::Select index 2 is out of range of a list of 2"},
		{name: "select bad index", x: `{"Fn::Select": ["x", ["p"]]}`, kind: ErrInvalid, intrinsic: "Fn::Select",
			err: where + ".Fn::Select[0]: Fn::Select's index must be a whole number, 0 or more"},
		{name: "split of a list", x: `{"Fn::Select": [0, {"Fn::Split": [",", ["a"]]}]}`, kind: ErrInvalid, intrinsic: "Fn::Split",
			err: where + ".Fn::Select[1].Fn::Split[1]: Fn::Split splits a string"},
		{name: "split result as a string", x: `{"Fn::Split": [",", "a,b"]}`, kind: ErrInvalid,
			err: where + ": must be a string"},

		{name: "if true", x: `{"Fn::If": ["IsDev", "yes", "no"]}`, want: "yes"},
		{name: "if false", x: `{"Fn::If": ["IsProd", "yes", "no"]}`, want: "no"},
		{name: "if not", x: `{"Fn::If": ["NotProd", "yes", "no"]}`, want: "yes"},
		{name: "if and", x: `{"Fn::If": ["Both", "yes", "no"]}`, want: "yes"},
		{name: "if or", x: `{"Fn::If": ["Either", "yes", "no"]}`, want: "yes"},
		{name: "if known parameter", x: `{"Fn::If": ["IsProd", "yes", "no"]}`, known: map[string]map[string]string{"Stage": {"Ref": "prod"}}, want: "yes"},
		{name: "if no value", x: `{"Fn::If": ["IsProd", "yes", {"Ref": "AWS::NoValue"}]}`, absent: true},
		{name: "if branch not taken is not resolved", x: `{"Fn::If": ["IsDev", "yes", {"Fn::ImportValue": "x"}]}`, want: "yes"},
		{name: "if unknown condition", x: `{"Fn::If": ["Nope", "yes", "no"]}`, kind: ErrUnresolved, intrinsic: "Fn::If",
			err: where + ".Fn::If[0]: condition Nope: no condition of that name in Conditions"},
		{name: "if condition cycle", x: `{"Fn::If": ["Loop1", "yes", "no"]}`, kind: ErrInvalid, intrinsic: "Condition",
			err: "condition Loop2: Fn::Not[0]: condition Loop1: conditions refer to each other in a cycle"},

		{name: "find in map", x: `{"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "ami"]}`, want: "ami-1"},
		{name: "find in map missing", x: `{"Fn::FindInMap": ["RegionMap", "eu-west-1", "ami"]}`, kind: ErrUnresolved, intrinsic: "Fn::FindInMap",
			err: where + ": Fn::FindInMap: mapping RegionMap has no entry for these keys"},

		{name: "import value", x: `{"Fn::ImportValue": "x"}`, kind: ErrUnsupported, intrinsic: "Fn::ImportValue",
			err: "resource RotorCreateFunctionD9BA1E0B: Properties.Environment.Variables.X: Fn::ImportValue is not supported"},
		{name: "get azs", x: `{"Fn::Select": [0, {"Fn::GetAZs": ""}]}`, kind: ErrUnsupported, intrinsic: "Fn::GetAZs",
			err: where + ".Fn::Select[1]: Fn::GetAZs is not supported"},
		{name: "condition function in a property", x: `{"Fn::Equals": ["a", "a"]}`, kind: ErrUnsupported, intrinsic: "Fn::Equals",
			err: where + ": Fn::Equals is a condition function: it is supported in Conditions only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv()
			env.Partition = tc.partition
			env.Known = tc.known
			d, err := Load([]byte(strings.Replace(base, "__X__", tc.x, 1)), env)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error; want %q", tc.err)
				}
				if diff := cmp.Diff(tc.err, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if !errors.Is(err, tc.kind) {
					t.Errorf("errors.Is(err, %v) = false", tc.kind)
				}
				if got := errors.Is(err, rotorerr.InvalidInput); got != (tc.kind != ErrUnknown) {
					t.Errorf("errors.Is(err, rotorerr.InvalidInput) = %v", got)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *Error: %T", err)
				}
				if e.Intrinsic != tc.intrinsic {
					t.Errorf("Intrinsic = %q, want %q", e.Intrinsic, tc.intrinsic)
				}
				if (d != nil) != (tc.kind == ErrUnknown) {
					t.Errorf("Deployment returned = %v, want it only for ErrUnknown", d != nil)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var fn *Function
			for i := range d.Functions {
				if d.Functions[i].LogicalID == fnID {
					fn = &d.Functions[i]
				}
			}
			if fn == nil {
				t.Fatal("function under test not loaded")
			}
			got, ok := fn.Env["X"]
			if tc.absent {
				if ok {
					t.Errorf("X = %q, want it removed", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("X (-want +got):\n%s", diff)
			}
		})
	}
}

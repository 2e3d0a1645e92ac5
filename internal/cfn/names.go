package cfn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// The resource types whose Ref and attributes the loader computes.
const (
	tRole         = "AWS::IAM::Role"
	tPolicy       = "AWS::IAM::Policy"
	tFunction     = "AWS::Lambda::Function"
	tURL          = "AWS::Lambda::Url"
	tStateMachine = "AWS::StepFunctions::StateMachine"
	tTopic        = "AWS::SNS::Topic"
	tKey          = "AWS::KMS::Key"
	tBus          = "AWS::Events::EventBus"
	tRule         = "AWS::Events::Rule"
	tSchedule     = "AWS::Scheduler::Schedule"
	tTable        = "AWS::DynamoDB::Table"
	tSecret       = "AWS::SecretsManager::Secret"
	tQueue        = "AWS::SQS::Queue"
	tLogGroup     = "AWS::Logs::LogGroup"
)

// naming is where a type's physical name comes from: the property that
// sets it, and the service's length limit for a generated one.
type naming struct {
	prop     string
	limit    int
	required bool // CloudFormation refuses the resource without it
	fifo     string
}

var namings = map[string]naming{
	tFunction:     {prop: "FunctionName", limit: 64},
	tRole:         {prop: "RoleName", limit: 64},
	tPolicy:       {prop: "PolicyName", limit: 128, required: true},
	tTable:        {prop: "TableName", limit: 255},
	tTopic:        {prop: "TopicName", limit: 256, fifo: "FifoTopic"},
	tBus:          {prop: "Name", limit: 256, required: true},
	tRule:         {prop: "Name", limit: 64},
	tQueue:        {prop: "QueueName", limit: 80, fifo: "FifoQueue"},
	tLogGroup:     {prop: "LogGroupName", limit: 512},
	tStateMachine: {prop: "StateMachineName", limit: 80},
	tSecret:       {prop: "Name", limit: 512},
	tSchedule:     {prop: "Name", limit: 64},
}

// ref resolves Ref name: a pseudo parameter, a parameter or a resource.
func (l *loader) ref(name string) (any, error) {
	e := l.env
	switch name {
	case "AWS::Partition":
		return e.Partition, nil
	case "AWS::Region":
		return e.Region, nil
	case "AWS::AccountId":
		return e.Account, nil
	case "AWS::StackName":
		return e.StackName, nil
	case "AWS::StackId":
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("cfn:stack:"+e.Partition+":"+e.Region+":"+e.Account+":"+e.StackName))
		return l.arn("cloudformation", e.Region, "stack/"+e.StackName+"/"+id.String()), nil
	case "AWS::URLSuffix":
		return urlSuffix(e.Partition), nil
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, &problem{kind: ErrUnsupported, msg: "not a supported pseudo parameter"}
	}
	if p, ok := l.params[name]; ok {
		return l.paramValue(name, p)
	}
	if r, ok := l.res[name]; ok {
		return l.attribute(r, "Ref")
	}
	return nil, &problem{kind: ErrUnresolved, msg: "the template declares no parameter or resource of that name"}
}

func urlSuffix(partition string) string {
	if partition == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// param is a template parameter.
type param struct {
	typ    string
	def    string
	hasDef bool
}

func (p param) ssm() bool { return strings.HasPrefix(p.typ, "AWS::SSM::Parameter::Value<") }

func (p param) list() bool {
	t := strings.TrimSuffix(strings.TrimPrefix(p.typ, "AWS::SSM::Parameter::Value<"), ">")
	return t == "CommaDelimitedList" || strings.HasPrefix(t, "List<")
}

// paramValue is a parameter's value: Env.Known's, else its Default. An
// SSM parameter's Default names the parameter in Parameter Store, not its
// value, so only Env.Known can give it.
func (l *loader) paramValue(name string, p param) (any, error) {
	v, ok := l.env.Known[name]["Ref"]
	switch {
	case ok:
	case p.ssm():
		return nil, &problem{kind: ErrUnknown, need: &Need{LogicalID: name, Attribute: "Ref"},
			msg: "parameter " + name + " is read from SSM Parameter Store at deploy time: supply its value in Env.Known[\"" + name + "\"][\"Ref\"]"}
	case !p.hasDef:
		return nil, &problem{kind: ErrUnresolved, msg: "parameter " + name + " has no Default and Env.Known gives it no value"}
	default:
		v = p.def
	}
	if p.list() {
		var out []any
		for _, s := range strings.Split(v, ",") {
			out = append(out, s)
		}
		return out, nil
	}
	return v, nil
}

// getAtt resolves Fn::GetAtt id.attr.
func (l *loader) getAtt(id, attr string) (any, error) {
	r, ok := l.res[id]
	if !ok {
		return nil, &problem{kind: ErrUnresolved, msg: "the template declares no resource of that name"}
	}
	return l.attribute(r, attr)
}

// attribute is r's Ref ("Ref") or attribute attr: Env.Known's, else as
// CloudFormation returns it for r's type, computed once.
func (l *loader) attribute(r *resource, attr string) (any, error) {
	if v, ok := l.env.Known[r.id][attr]; ok {
		return v, nil
	}
	if !r.created {
		return nil, &problem{kind: ErrUnresolved, msg: "resource " + r.id + " is not created: its condition " + r.cond + " is false"}
	}
	key := r.id + "\x00" + attr
	if m, ok := l.memo[key]; ok {
		if m.busy {
			return nil, &problem{kind: ErrInvalid, cycle: true, msg: "circular reference through " + r.id}
		}
		return m.val, m.err
	}
	m := &memo{busy: true}
	l.memo[key] = m
	m.val, m.err = l.compute(r, attr)
	m.busy = false
	if isCycle(m.err) {
		// Computed inside the cycle: the value that started it reports it.
		delete(l.memo, key)
	}
	return m.val, m.err
}

func isCycle(err error) bool {
	var p *problem
	return errors.As(err, &p) && p.cycle
}

type memo struct {
	val  any
	err  error
	busy bool
}

func (l *loader) arn(service, region, resource string) string {
	return "arn:" + l.env.Partition + ":" + service + ":" + region + ":" + l.env.Account + ":" + resource
}

// compute is attribute without Env.Known and the memo.
func (l *loader) compute(r *resource, attr string) (any, error) {
	region := l.env.Region
	unsupported := func() (any, error) {
		return nil, &problem{kind: ErrUnsupported, msg: "attribute " + attr + " of " + r.typ + " is not modelled"}
	}
	// name is computed only where the type has one.
	name := func() (string, error) { return l.physicalName(r) }
	switch r.typ {
	case tFunction:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			return l.arn("lambda", region, "function:"+n), err
		}
	case tRole:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			if err != nil {
				return nil, err
			}
			path, err := l.propString(r, "Path", "/")
			return l.arn("iam", "", "role"+path+n), err
		}
	case tPolicy:
		if attr == "Ref" {
			return name()
		}
	case tTable:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			return l.arn("dynamodb", region, "table/"+n), err
		}
	case tTopic:
		n, err := name()
		switch attr {
		case "Ref", "TopicArn":
			return l.arn("sns", region, n), err
		case "TopicName":
			return n, err
		}
	case tKey:
		id := l.keyID(r)
		switch attr {
		case "Ref", "KeyId":
			return id, nil
		case "Arn":
			return l.arn("kms", region, "key/"+id), nil
		}
	case tBus:
		n, err := name()
		switch attr {
		case "Ref", "Name":
			return n, err
		case "Arn":
			return l.arn("events", region, "event-bus/"+n), err
		}
	case tRule:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			if err != nil {
				return nil, err
			}
			bus, err := l.propString(r, "EventBusName", "default")
			if bus = busName(bus); bus != "default" {
				n = bus + "/" + n
			}
			return l.arn("events", region, "rule/"+n), err
		}
	case tQueue:
		n, err := name()
		switch attr {
		case "Ref", "QueueUrl":
			return "https://sqs." + region + "." + urlSuffix(l.env.Partition) + "/" + l.env.Account + "/" + n, err
		case "Arn":
			return l.arn("sqs", region, n), err
		case "QueueName":
			return n, err
		}
	case tLogGroup:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			return l.arn("logs", region, "log-group:"+n+":*"), err
		}
	case tStateMachine:
		n, err := name()
		switch attr {
		case "Ref", "Arn":
			return l.arn("states", region, "stateMachine:"+n), err
		case "Name":
			return n, err
		}
	case tSecret:
		switch attr {
		case "Ref", "Id":
			// Secrets Manager ends the ARN in a random suffix.
			for _, a := range []string{"Ref", "Id"} {
				if v, ok := l.env.Known[r.id][a]; ok {
					return v, nil
				}
			}
			return nil, &problem{kind: ErrUnknown, need: &Need{LogicalID: r.id, Attribute: "Ref"},
				msg: "the ARN of secret " + r.id + " is known only once it is created: supply it in Env.Known[\"" + r.id + "\"][\"Ref\"]"}
		}
	case tURL:
		switch attr {
		case "Ref", "FunctionArn":
			if v, ok := l.env.Known[r.id]["FunctionArn"]; ok {
				return v, nil
			}
			fn, err := l.propString(r, "TargetFunctionArn", "")
			if err != nil {
				return nil, err
			}
			if fn == "" {
				return nil, &problem{kind: ErrInvalid, msg: "function URL " + r.id + " has no TargetFunctionArn"}
			}
			if !strings.HasPrefix(fn, "arn:") {
				fn = l.arn("lambda", region, "function:"+fn)
			}
			return fn, nil
		case "FunctionUrl":
			return nil, &problem{kind: ErrUnknown, need: &Need{LogicalID: r.id, Attribute: "FunctionUrl"},
				msg: "the URL of function URL " + r.id + " is known only once it is created: supply it in Env.Known[\"" + r.id + "\"][\"FunctionUrl\"]"}
		}
	case tSchedule:
		n, err := name()
		switch attr {
		case "Ref":
			return n, err
		case "Arn":
			if err != nil {
				return nil, err
			}
			group, err := l.propString(r, "GroupName", "default")
			return l.arn("scheduler", region, "schedule/"+group+"/"+n), err
		}
	default:
		if attr == "Ref" {
			return r.id, nil
		}
		return nil, &problem{kind: ErrUnsupported, msg: r.typ + " is not modelled: its attribute " + attr + " is unknown (supply it in Env.Known[\"" + r.id + "\"][\"" + attr + "\"])"}
	}
	return unsupported()
}

// busName reduces an event bus name or ARN to its name.
func busName(s string) string {
	if i := strings.LastIndex(s, ":event-bus/"); i >= 0 && strings.HasPrefix(s, "arn:") {
		return s[i+len(":event-bus/"):]
	}
	return s
}

// keyID is a KMS key's id: a UUID the service would draw at random, here
// derived from where the key is, so that every load names it alike.
func (l *loader) keyID(r *resource) string {
	e := l.env
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("cfn:kms:"+e.Partition+":"+e.Region+":"+e.Account+":"+e.StackName+":"+r.id)).String()
}

// physicalName is r's name: Env.Known's "Name", else its name property,
// else <StackName>-<LogicalID> cut to the service's limit (with a FIFO
// topic's or queue's .fifo kept).
func (l *loader) physicalName(r *resource) (string, error) {
	if v, ok := l.env.Known[r.id]["Name"]; ok {
		return v, nil
	}
	key := r.id + "\x00\x00name"
	if m, ok := l.memo[key]; ok {
		if m.busy {
			return "", &problem{kind: ErrInvalid, cycle: true, msg: "circular reference through the name of " + r.id}
		}
		s, _ := m.val.(string)
		return s, m.err
	}
	m := &memo{busy: true}
	l.memo[key] = m
	s, err := l.computeName(r)
	m.val, m.err, m.busy = s, err, false
	if isCycle(err) {
		delete(l.memo, key)
	}
	return s, err
}

func (l *loader) computeName(r *resource) (string, error) {
	n := namings[r.typ]
	at := loc{"resource", r.id}
	path := "Properties." + n.prop
	if raw, ok := r.props[n.prop]; ok {
		v, err := l.resolve(at, path, raw)
		if err != nil {
			return "", err
		}
		if _, none := v.(noValue); !none {
			s, ok := v.(string)
			if !ok || s == "" {
				return "", at.err(path, "", ErrInvalid, "must be a non-empty string")
			}
			if len(s) > n.limit {
				return "", at.err(path, "", ErrInvalid, fmt.Sprintf("is longer than %s's limit of %d", r.typ, n.limit))
			}
			return s, nil
		}
	}
	if n.required {
		return "", at.err(path, "", ErrInvalid, "is required")
	}
	suffix := ""
	if n.fifo != "" {
		fifo, err := l.propString(r, n.fifo, "false")
		if err != nil {
			return "", err
		}
		if fifo == "true" {
			suffix = ".fifo"
		}
	}
	s := l.env.StackName + "-" + r.id
	if len(s) > n.limit-len(suffix) {
		s = s[:n.limit-len(suffix)]
	}
	return s + suffix, nil
}

// propString resolves r's property prop to a string, def when absent.
func (l *loader) propString(r *resource, prop, def string) (string, error) {
	raw, ok := r.props[prop]
	if !ok {
		return def, nil
	}
	at := loc{"resource", r.id}
	v, err := l.resolve(at, "Properties."+prop, raw)
	if err != nil {
		return "", err
	}
	if _, none := v.(noValue); none {
		return def, nil
	}
	s, ok := scalar(v)
	if !ok {
		return "", at.err("Properties."+prop, "", ErrInvalid, "must be a string")
	}
	return s, nil
}

package cfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rotorhq/rotor/internal/awsarn"
)

// rb builds one modelled resource, recording every failure in the loader
// and carrying on, so that one Load reports them all.
type rb struct {
	l  *loader
	r  *resource
	at loc
}

func (b *rb) fail(err error) {
	if err != nil {
		b.l.errs = append(b.l.errs, err)
	}
}

func (b *rb) invalid(path, msg string) { b.fail(b.at.err(path, "", ErrInvalid, msg)) }

func (b *rb) unsupported(path, msg string) { b.fail(b.at.err(path, "", ErrUnsupported, msg)) }

func (b *rb) has(name string) bool {
	_, ok := b.r.props[name]
	return ok
}

// prop resolves a property: false when it is absent, AWS::NoValue, or
// failed (the failure recorded).
func (b *rb) prop(name string) (any, bool) {
	raw, ok := b.r.props[name]
	if !ok {
		return nil, false
	}
	v, err := b.l.resolve(b.at, "Properties."+name, raw)
	if err != nil {
		b.fail(err)
		return nil, false
	}
	if _, none := v.(noValue); none {
		return nil, false
	}
	return v, true
}

// attr is the resource's own Ref or attribute.
func (b *rb) attr(a string) string {
	v, err := b.l.attribute(b.r, a)
	if err != nil {
		b.fail(b.at.place("", "", a, err))
		return ""
	}
	s, _ := v.(string)
	return s
}

func (b *rb) str(v any, path string) (string, bool) {
	s, ok := scalar(v)
	if !ok {
		b.invalid(path, "must be a string")
	}
	return s, ok
}

func (b *rb) obj(v any, path string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		b.invalid(path, "must be an object")
	}
	return m, ok
}

func (b *rb) list(v any, path string) ([]any, bool) {
	a, ok := v.([]any)
	if !ok {
		b.invalid(path, "must be a list")
	}
	return a, ok
}

func (b *rb) integer(v any, path string) (int, bool) {
	s, _ := scalar(v)
	n, err := strconv.Atoi(s)
	if err != nil {
		b.invalid(path, "must be a whole number")
		return 0, false
	}
	return n, true
}

func (b *rb) boolean(v any, path string) (bool, bool) {
	s, _ := scalar(v)
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	b.invalid(path, "must be true or false")
	return false, false
}

// doc is a JSON document property (a policy, an event pattern): an object,
// written as compact JSON, or a string holding a JSON object, compacted.
func (b *rb) doc(v any, path string) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		s, err := compactJSON(x)
		if err != nil {
			b.invalid(path, "cannot be written as JSON")
			return "", false
		}
		return s, true
	case string:
		var buf bytes.Buffer
		var probe map[string]any
		if json.Unmarshal([]byte(x), &probe) != nil || probe == nil || json.Compact(&buf, []byte(x)) != nil {
			b.invalid(path, "must be a JSON object")
			return "", false
		}
		return buf.String(), true
	}
	b.invalid(path, "must be a JSON object")
	return "", false
}

func (b *rb) propStr(name, def string) string {
	if v, ok := b.prop(name); ok {
		s, _ := b.str(v, "Properties."+name)
		return s
	}
	return def
}

func (b *rb) propInt(name string, def int) int {
	if v, ok := b.prop(name); ok {
		n, _ := b.integer(v, "Properties."+name)
		return n
	}
	return def
}

// field reads key of a resolved object m found at path.
type field struct {
	b    *rb
	m    map[string]any
	path string
}

func (f field) str(key, def string) string {
	if v, ok := f.m[key]; ok {
		s, _ := f.b.str(v, join(f.path, key))
		return s
	}
	return def
}

func (f field) required(key string) string {
	if _, ok := f.m[key]; !ok {
		f.b.invalid(join(f.path, key), "is required")
		return ""
	}
	return f.str(key, "")
}

func (f field) only(allowed ...string) {
	for k := range f.m {
		if !slices.Contains(allowed, k) {
			f.b.unsupported(join(f.path, k), "is not supported")
		}
	}
}

// metaString reads a metadata entry the construct writes as a string.
func (b *rb) metaString(key string) string {
	v, ok := b.r.meta[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok || s == "" {
		b.invalid("Metadata."+key, "must be a non-empty string")
	}
	return s
}

func (b *rb) role() Role {
	r := Role{LogicalID: b.r.id, Name: b.attr("Ref"), ARN: b.attr("Arn"), Path: b.propStr("Path", "/")}
	if !strings.HasPrefix(r.Path, "/") || !strings.HasSuffix(r.Path, "/") {
		b.invalid("Properties.Path", "must begin and end with /")
	}
	if v, ok := b.prop("AssumeRolePolicyDocument"); ok {
		r.AssumeRolePolicy, _ = b.doc(v, "Properties.AssumeRolePolicyDocument")
	} else if !b.has("AssumeRolePolicyDocument") {
		b.invalid("Properties.AssumeRolePolicyDocument", "is required")
	}
	if v, ok := b.prop("Policies"); ok {
		list, _ := b.list(v, "Properties.Policies")
		for i, p := range list {
			path := fmt.Sprintf("Properties.Policies[%d]", i)
			m, ok := b.obj(p, path)
			if !ok {
				continue
			}
			f := field{b, m, path}
			name := f.required("PolicyName")
			dv, ok := m["PolicyDocument"]
			if !ok {
				b.invalid(path+".PolicyDocument", "is required")
				continue
			}
			doc, ok := b.doc(dv, path+".PolicyDocument")
			if !ok || name == "" {
				continue
			}
			if _, dup := r.Policies[name]; dup {
				b.invalid(path+".PolicyName", "names a policy the role has already")
				continue
			}
			if r.Policies == nil {
				r.Policies = map[string]string{}
			}
			r.Policies[name] = doc
		}
	}
	// The local IAM evaluates only the documents the template holds: an
	// AWS managed policy or a boundary would be silently missing.
	for _, p := range []string{"ManagedPolicyArns", "PermissionsBoundary"} {
		if v, ok := b.prop(p); ok {
			if a, isList := v.([]any); !isList || len(a) > 0 {
				b.unsupported("Properties."+p, "is not supported: the local IAM evaluates only the policy documents of the template")
			}
		}
	}
	if v, ok := b.r.meta[MetadataNeeds]; ok {
		m, isObj := v.(map[string]any)
		for action, why := range m {
			s, isStr := why.(string)
			if !isStr || s == "" {
				b.invalid("Metadata."+MetadataNeeds+"."+action, "must be a non-empty string: why the role needs the action")
				continue
			}
			if r.Explain == nil {
				r.Explain = map[string]string{}
			}
			r.Explain[action] = s
		}
		if !isObj {
			b.invalid("Metadata."+MetadataNeeds, "must be an object: action -> why the role needs it")
		}
	}
	return r
}

// Metadata keys rotor's construct (infra/rotorcdk) writes.
const (
	// MetadataFunction, on a function: which of rotor's functions it is.
	MetadataFunction = "rotor:function"
	// MetadataNeeds, on a role: action -> why the role needs it although
	// no local run exercises it.
	MetadataNeeds = "rotor:needs"
)

// attachPolicy adds an AWS::IAM::Policy to the roles its Roles name.
func (b *rb) attachPolicy(roles []Role) {
	name := b.attr("Ref")
	var doc string
	if v, ok := b.prop("PolicyDocument"); ok {
		doc, _ = b.doc(v, "Properties.PolicyDocument")
	} else if !b.has("PolicyDocument") {
		b.invalid("Properties.PolicyDocument", "is required")
	}
	for _, k := range []string{"Users", "Groups"} {
		if v, ok := b.prop(k); ok {
			if a, isList := v.([]any); !isList || len(a) > 0 {
				b.unsupported("Properties."+k, "is not supported: the local IAM deploys the template's roles only")
			}
		}
	}
	v, ok := b.prop("Roles")
	if !ok {
		if !b.has("Roles") && !b.has("Users") && !b.has("Groups") {
			b.invalid("Properties.Roles", "is required: the local IAM deploys the template's roles only")
		}
		return
	}
	list, _ := b.list(v, "Properties.Roles")
	byName := map[string]int{}
	for i, r := range roles {
		if r.Name != "" {
			byName[r.Name] = i
		}
	}
	for i, x := range list {
		path := fmt.Sprintf("Properties.Roles[%d]", i)
		rn, ok := b.str(x, path)
		if !ok {
			continue
		}
		j, ok := byName[rn]
		if !ok {
			b.fail(b.at.err(path, "", ErrUnresolved, "names no AWS::IAM::Role of the template"))
			continue
		}
		if doc == "" || name == "" {
			continue // failed above
		}
		if _, dup := roles[j].Policies[name]; dup {
			b.invalid("Properties.PolicyName", "names a policy role "+roles[j].LogicalID+" has already")
			continue
		}
		if roles[j].Policies == nil {
			roles[j].Policies = map[string]string{}
		}
		roles[j].Policies[name] = doc
	}
}

func (b *rb) function() Function {
	f := Function{LogicalID: b.r.id, Name: b.attr("Ref"), ARN: b.attr("Arn"),
		Rotor:          b.metaString(MetadataFunction),
		MemoryMB:       b.propInt("MemorySize", 128),
		TimeoutSeconds: b.propInt("Timeout", 3),
		RoleARN:        b.propStr("Role", "")}
	if !b.has("Role") {
		b.invalid("Properties.Role", "is required")
	}
	if v, ok := b.prop("Environment"); ok {
		if m, ok := b.obj(v, "Properties.Environment"); ok {
			if vars, ok := m["Variables"]; ok {
				path := "Properties.Environment.Variables"
				vm, _ := b.obj(vars, path)
				for k, x := range vm {
					if s, ok := b.str(x, path+"."+k); ok {
						if f.Env == nil {
							f.Env = map[string]string{}
						}
						f.Env[k] = s
					}
				}
			}
		}
	}
	if v, ok := b.prop("ReservedConcurrentExecutions"); ok {
		n, _ := b.integer(v, "Properties.ReservedConcurrentExecutions")
		switch {
		case n < 0:
			b.invalid("Properties.ReservedConcurrentExecutions", "must be 0 or more")
		case n == 0:
			b.unsupported("Properties.ReservedConcurrentExecutions", "0 (a function that never runs) is not supported")
		default:
			f.ReservedConcurrency = n
		}
	}
	return f
}

func (b *rb) url() FunctionURL {
	u := FunctionURL{LogicalID: b.r.id, AuthType: b.propStr("AuthType", "")}
	if target := b.propStr("TargetFunctionArn", ""); target != "" {
		u.Function = awsarn.FunctionName(target)
	} else if !b.has("TargetFunctionArn") {
		b.invalid("Properties.TargetFunctionArn", "is required")
	}
	if u.AuthType != "NONE" && u.AuthType != "AWS_IAM" && b.has("AuthType") {
		b.invalid("Properties.AuthType", "must be NONE or AWS_IAM")
	} else if !b.has("AuthType") {
		b.invalid("Properties.AuthType", "is required")
	}
	if b.has("Qualifier") {
		b.unsupported("Properties.Qualifier", "is not supported: a URL of the function's unqualified version only")
	}
	return u
}

func (b *rb) stateMachine() StateMachine {
	m := StateMachine{LogicalID: b.r.id, Name: b.attr("Name"), ARN: b.attr("Arn"), RoleARN: b.propStr("RoleArn", "")}
	if !b.has("RoleArn") {
		b.invalid("Properties.RoleArn", "is required")
	}
	if b.has("DefinitionS3Location") {
		b.unsupported("Properties.DefinitionS3Location", "is not supported: the definition must be in the template")
		return m
	}
	var def, path string
	switch {
	case b.has("DefinitionString") && b.has("Definition"):
		b.invalid("Properties.Definition", "and DefinitionString are exclusive")
		return m
	case b.has("DefinitionString"):
		path = "Properties.DefinitionString"
		v, ok := b.prop("DefinitionString")
		if !ok {
			return m
		}
		if def, ok = v.(string); !ok {
			b.invalid(path, "must be a string")
			return m
		}
	case b.has("Definition"):
		path = "Properties.Definition"
		v, ok := b.prop("Definition")
		if !ok {
			return m
		}
		if def, ok = b.doc(v, path); !ok {
			return m
		}
	default:
		b.invalid("Properties.DefinitionString", "is required (or Definition)")
		return m
	}
	subs := map[string]string{}
	if b.has("DefinitionSubstitutions") {
		v, ok := b.prop("DefinitionSubstitutions")
		if !ok {
			return m
		}
		sm, ok := b.obj(v, "Properties.DefinitionSubstitutions")
		if !ok {
			return m
		}
		for k, x := range sm {
			s, ok := b.str(x, "Properties.DefinitionSubstitutions."+k)
			if !ok {
				return m
			}
			subs[k] = s
		}
	}
	// One pass, so that a substituted value is never searched again.
	var out strings.Builder
	for {
		i := strings.Index(def, "${")
		if i < 0 {
			out.WriteString(def)
			break
		}
		out.WriteString(def[:i])
		def = def[i+2:]
		j := strings.IndexByte(def, '}')
		if j < 0 {
			b.invalid(path, "has a ${ without a closing }")
			return m
		}
		v, ok := subs[def[:j]]
		if !ok {
			b.invalid(path, "placeholder ${"+quote(def[:j])+"} has no entry in DefinitionSubstitutions")
			return m
		}
		out.WriteString(v)
		def = def[j+1:]
	}
	m.Definition = out.String()
	return m
}

func (b *rb) topic() Topic {
	t := Topic{LogicalID: b.r.id, Name: b.attr("TopicName"), ARN: b.attr("Ref")}
	switch k := b.propStr("KmsMasterKeyId", ""); {
	case k == "":
	case strings.HasPrefix(k, "arn:"):
		t.KMSKeyARN = k
	case strings.HasPrefix(k, "alias/"):
		t.KMSKeyARN = b.l.arn("kms", b.l.env.Region, k)
	default:
		t.KMSKeyARN = b.l.arn("kms", b.l.env.Region, "key/"+k)
	}
	return t
}

func (b *rb) state(def string) bool {
	switch s := b.propStr("State", def); s {
	case "ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
		return true
	case "DISABLED":
	default:
		b.invalid("Properties.State", "must be ENABLED or DISABLED")
	}
	return false
}

func (b *rb) rule() Rule {
	r := Rule{LogicalID: b.r.id, Name: b.attr("Ref"), ARN: b.attr("Arn"),
		Bus:         busName(b.propStr("EventBusName", "default")),
		Description: b.propStr("Description", ""),
		Schedule:    b.propStr("ScheduleExpression", ""),
		Enabled:     b.state("ENABLED")}
	if v, ok := b.prop("EventPattern"); ok {
		r.Pattern, _ = b.doc(v, "Properties.EventPattern")
	}
	if !b.has("EventPattern") && !b.has("ScheduleExpression") {
		b.invalid("Properties", "needs EventPattern or ScheduleExpression")
	}
	if v, ok := b.prop("Targets"); ok {
		list, _ := b.list(v, "Properties.Targets")
		for i, x := range list {
			path := fmt.Sprintf("Properties.Targets[%d]", i)
			if m, ok := b.obj(x, path); ok {
				r.Targets = append(r.Targets, b.target(field{b, m, path}, true))
			}
		}
	}
	return r
}

// target reads a rule's (Id, Input, InputPath, InputTransformer) or a
// schedule's (Input) target. Parameters for other target types (ECS,
// HTTP, SQS message groups, ...) are refused, not dropped.
func (b *rb) target(f field, rule bool) Target {
	common := []string{"Arn", "RoleArn", "Input", "DeadLetterConfig", "RetryPolicy"}
	t := Target{ARN: f.required("Arn"), RoleARN: f.str("RoleArn", ""), Input: f.str("Input", "")}
	if rule {
		f.only(append(common, "Id", "InputPath", "InputTransformer")...)
		t.ID = f.required("Id")
		t.InputPath = f.str("InputPath", "")
		if v, ok := f.m["InputTransformer"]; ok {
			path := join(f.path, "InputTransformer")
			if m, ok := b.obj(v, path); ok {
				it := field{b, m, path}
				it.only("InputPathsMap", "InputTemplate")
				t.InputTemplate = it.required("InputTemplate")
				if pm, ok := m["InputPathsMap"]; ok {
					pmm, _ := b.obj(pm, join(path, "InputPathsMap"))
					for k, x := range pmm {
						if s, ok := b.str(x, join(path, "InputPathsMap."+k)); ok {
							if t.InputPathsMap == nil {
								t.InputPathsMap = map[string]string{}
							}
							t.InputPathsMap[k] = s
						}
					}
				}
			}
		}
		n := 0
		for _, k := range []string{"Input", "InputPath", "InputTransformer"} {
			if _, ok := f.m[k]; ok {
				n++
			}
		}
		if n > 1 {
			b.invalid(f.path, "Input, InputPath and InputTransformer are exclusive")
		}
	} else {
		f.only(common...)
		if _, ok := f.m["RoleArn"]; !ok {
			b.invalid(join(f.path, "RoleArn"), "is required")
		}
	}
	if v, ok := f.m["DeadLetterConfig"]; ok {
		path := join(f.path, "DeadLetterConfig")
		if m, ok := b.obj(v, path); ok {
			dl := field{b, m, path}
			dl.only("Arn")
			t.DeadLetterARN = dl.str("Arn", "")
		}
	}
	return t
}

func (b *rb) schedule() Schedule {
	s := Schedule{LogicalID: b.r.id, Name: b.attr("Ref"), ARN: b.attr("Arn"),
		Group:       b.propStr("GroupName", "default"),
		Description: b.propStr("Description", ""),
		Expression:  b.propStr("ScheduleExpression", ""),
		Timezone:    b.propStr("ScheduleExpressionTimezone", "UTC"),
		Enabled:     b.state("ENABLED")}
	if !b.has("ScheduleExpression") {
		b.invalid("Properties.ScheduleExpression", "is required")
	}
	for _, p := range []string{"StartDate", "EndDate"} {
		if b.has(p) {
			b.unsupported("Properties."+p, "is not supported")
		}
	}
	if v, ok := b.prop("Target"); ok {
		if m, ok := b.obj(v, "Properties.Target"); ok {
			s.Target = b.target(field{b, m, "Properties.Target"}, false)
		}
	} else if !b.has("Target") {
		b.invalid("Properties.Target", "is required")
	}
	return s
}

func (b *rb) table() Table {
	t := Table{LogicalID: b.r.id, Name: b.attr("Ref"), ARN: b.attr("Arn")}
	types := map[string]string{}
	if v, ok := b.prop("AttributeDefinitions"); ok {
		list, _ := b.list(v, "Properties.AttributeDefinitions")
		for i, x := range list {
			path := fmt.Sprintf("Properties.AttributeDefinitions[%d]", i)
			if m, ok := b.obj(x, path); ok {
				f := field{b, m, path}
				name, typ := f.required("AttributeName"), f.required("AttributeType")
				if typ != "S" && typ != "N" && typ != "B" {
					b.invalid(path+".AttributeType", "must be S, N or B")
				}
				types[name] = typ
			}
		}
	}
	v, ok := b.prop("KeySchema")
	if !ok {
		if !b.has("KeySchema") {
			b.invalid("Properties.KeySchema", "is required")
		}
	} else {
		list, _ := b.list(v, "Properties.KeySchema")
		for i, x := range list {
			path := fmt.Sprintf("Properties.KeySchema[%d]", i)
			m, ok := b.obj(x, path)
			if !ok {
				continue
			}
			f := field{b, m, path}
			name, kt := f.required("AttributeName"), f.required("KeyType")
			typ, defined := types[name]
			if !defined {
				b.invalid(path+".AttributeName", "has no entry in AttributeDefinitions")
			}
			switch {
			case kt == "HASH" && t.HashKey == "":
				t.HashKey, t.HashKeyType = name, typ
			case kt == "RANGE" && t.RangeKey == "":
				t.RangeKey, t.RangeKeyType = name, typ
			default:
				b.invalid(path+".KeyType", "must be one HASH and at most one RANGE")
			}
		}
		if t.HashKey == "" && len(list) > 0 {
			b.invalid("Properties.KeySchema", "has no HASH key")
		}
	}
	if v, ok := b.prop("TimeToLiveSpecification"); ok {
		path := "Properties.TimeToLiveSpecification"
		if m, ok := b.obj(v, path); ok {
			if e, ok := m["Enabled"]; ok {
				if on, _ := b.boolean(e, path+".Enabled"); on {
					t.TTLAttribute = field{b, m, path}.required("AttributeName")
				}
			} else {
				b.invalid(path+".Enabled", "is required")
			}
		}
	}
	return t
}

func (b *rb) secret() Secret {
	s := Secret{LogicalID: b.r.id, Description: b.propStr("Description", ""), Length: 32}
	name, err := b.l.physicalName(b.r)
	b.fail(b.at.place("", "", "Name", err))
	s.Name = name
	// The ARN ends in a random suffix: only Env.Known can give it, and no
	// error here (a reference to it is one where it is used).
	for _, a := range []string{"Ref", "Id"} {
		if v, ok := b.l.env.Known[b.r.id][a]; ok && s.ARN == "" {
			s.ARN = v
		}
	}
	if b.has("SecretString") && b.has("GenerateSecretString") {
		b.invalid("Properties.SecretString", "and GenerateSecretString are exclusive")
		return s
	}
	s.SecretString = b.propStr("SecretString", "")
	v, ok := b.prop("GenerateSecretString")
	if !ok {
		return s
	}
	path := "Properties.GenerateSecretString"
	m, ok := b.obj(v, path)
	if !ok {
		return s
	}
	f := field{b, m, path}
	s.Template, s.GenerateKey = f.str("SecretStringTemplate", ""), f.str("GenerateStringKey", "")
	if (s.Template == "") != (s.GenerateKey == "") {
		b.invalid(path, "SecretStringTemplate and GenerateStringKey go together")
	}
	if x, ok := m["PasswordLength"]; ok {
		if n, ok := b.integer(x, path+".PasswordLength"); ok {
			if n < 1 || n > 4096 {
				b.invalid(path+".PasswordLength", "must be 1 to 4096")
			}
			s.Length = n
		}
	}
	if x, ok := m["ExcludePunctuation"]; ok {
		s.ExcludePunctuation, _ = b.boolean(x, path+".ExcludePunctuation")
	}
	// Options Secret does not model are refused unless they say what the
	// default does.
	for k, x := range m {
		switch k {
		case "SecretStringTemplate", "GenerateStringKey", "PasswordLength", "ExcludePunctuation":
		case "ExcludeLowercase", "ExcludeNumbers", "ExcludeUppercase", "IncludeSpace":
			if on, ok := b.boolean(x, join(path, k)); ok && on {
				b.unsupported(join(path, k), "is not supported")
			}
		case "RequireEachIncludedType":
			if on, ok := b.boolean(x, join(path, k)); ok && !on {
				b.unsupported(join(path, k), "false is not supported")
			}
		case "ExcludeCharacters":
			if c, ok := b.str(x, join(path, k)); ok && c != "" {
				b.unsupported(join(path, k), "is not supported")
			}
		default:
			b.unsupported(join(path, k), "is not supported")
		}
	}
	return s
}

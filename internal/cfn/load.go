package cfn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/rotorhq/rotor/internal/strictjson"
)

// loader holds a parsed template while Load resolves it.
type loader struct {
	env      Env
	params   map[string]param
	mappings map[string]any
	conds    map[string]any
	condMemo map[string]*condResult
	res      map[string]*resource
	ids      []string // the resources' logical IDs, sorted
	outputs  map[string]any
	memo     map[string]*memo
	errs     []error
}

// resource is one entry of the template's Resources.
type resource struct {
	id, typ string
	props   map[string]any // as written, intrinsics unresolved
	meta    map[string]any
	cond    string // its Condition, "" when none
	created bool   // false when its condition is false
}

var (
	logicalID = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	stackName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	account   = regexp.MustCompile(`^[0-9]{12}$`)
	partition = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	region    = regexp.MustCompile(`^[a-z]+(-[a-z]+)*-[0-9]+$`)
)

// Load reads a synthesized CloudFormation template (JSON) and returns
// what it deploys in env, every intrinsic resolved.
//
// When the only problems are values a service assigns at creation and
// env.Known does not supply (ErrUnknown: a secret's ARN, a function URL),
// Load returns the Deployment as well as the error: the values that need
// them are left empty (a whole property: a function's Env, a role's policy),
// and Unknowns(err) lists what to supply in env.Known before loading again.
// On any other problem the Deployment is nil. Errors are *Error, joined.
func Load(template []byte, env Env) (*Deployment, error) {
	l, err := parse(template, env)
	if err != nil {
		return nil, err
	}
	d := l.build()
	errs := flatten(l.errs)
	if len(errs) == 0 {
		return d, nil
	}
	all := make([]error, len(errs))
	unknownOnly := true
	for i, e := range errs {
		all[i] = e
		unknownOnly = unknownOnly && e.Kind == ErrUnknown
	}
	if unknownOnly {
		return d, errors.Join(all...)
	}
	return nil, errors.Join(all...)
}

func invalid(section, id, path, msg string) *Error {
	return &Error{Section: section, LogicalID: id, Path: path, Kind: ErrInvalid, Msg: msg}
}

func checkEnv(env *Env) error {
	if env.Partition == "" {
		env.Partition = "aws"
	}
	for _, c := range []struct {
		name, v string
		re      *regexp.Regexp
		want    string
	}{
		{"Partition", env.Partition, partition, "aws, aws-cn, aws-us-gov, ..."},
		{"Region", env.Region, region, "a Region such as us-east-1"},
		{"Account", env.Account, account, "12 digits"},
		{"StackName", env.StackName, stackName, "a letter, then up to 127 letters, digits and hyphens"},
	} {
		if !c.re.MatchString(c.v) {
			return invalid("env", "", c.name, "must be "+c.want)
		}
	}
	return nil
}

// parse checks the template's shape and env, and indexes the sections.
func parse(template []byte, env Env) (*loader, error) {
	if err := checkEnv(&env); err != nil {
		return nil, err
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(template, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(body) == 0 {
		return nil, invalid("template", "", "", "empty")
	}
	if body[0] != '{' {
		return nil, &Error{Section: "template", Kind: ErrUnsupported,
			Msg: "not a JSON object: only JSON templates are supported (cdk synth writes JSON; convert a YAML template with cfn-flip)"}
	}
	// encoding/json/v2 refuses duplicate names and invalid UTF-8 and
	// describes a failure without quoting the template; encoding/json then
	// decodes numbers as written (json.Number), for policies and patterns.
	var probe any
	if err := jsonv2.Unmarshal(body, &probe); err != nil {
		return nil, invalid("template", "", "", strictjson.Describe(err))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, invalid("template", "", "", "malformed JSON")
	}
	l := &loader{env: env, params: map[string]param{}, condMemo: map[string]*condResult{},
		res: map[string]*resource{}, memo: map[string]*memo{}}
	var errs []error
	section := func(name string) map[string]any {
		v, ok := top[name]
		if !ok {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, invalid("template", "", name, "must be an object"))
		}
		return m
	}
	for k := range top {
		switch k {
		case "AWSTemplateFormatVersion", "Description", "Metadata", "Rules",
			"Parameters", "Mappings", "Conditions", "Resources", "Outputs":
			// Rules hold assertions on parameters (CDK's bootstrap version
			// check); nothing is deployed from them.
		case "Transform", "Hooks":
			errs = append(errs, &Error{Section: "template", Path: k, Kind: ErrUnsupported,
				Msg: "is not supported: load the template CloudFormation processes (macros, SAM) or the stack without hooks"})
		default:
			errs = append(errs, invalid("template", "", k, "is not a template section"))
		}
	}
	for name, v := range section("Parameters") {
		p, ok := v.(map[string]any)
		typ, _ := p["Type"].(string)
		if !ok || typ == "" {
			errs = append(errs, invalid("parameter", name, "Type", "is required: a string"))
			continue
		}
		pp := param{typ: typ}
		if d, ok := p["Default"]; ok {
			s, isScalar := scalar(d)
			if !isScalar {
				errs = append(errs, invalid("parameter", name, "Default", "must be a string or number"))
				continue
			}
			pp.def, pp.hasDef = s, true
		}
		l.params[name] = pp
	}
	l.mappings = section("Mappings")
	l.conds = section("Conditions")
	l.outputs = section("Outputs")
	resources := section("Resources")
	if _, ok := top["Resources"]; !ok {
		errs = append(errs, invalid("template", "", "Resources", "is required"))
	} else if resources != nil && len(resources) == 0 {
		errs = append(errs, invalid("template", "", "Resources", "declares no resource"))
	}
	for id, v := range resources {
		r, err := parseResource(id, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := l.params[id]; dup {
			errs = append(errs, invalid("resource", id, "", "has the name of a parameter"))
			continue
		}
		l.res[id] = r
		l.ids = append(l.ids, id)
	}
	slices.Sort(l.ids)
	for id := range env.Known {
		if _, ok := l.res[id]; !ok {
			if _, ok := l.params[id]; !ok {
				errs = append(errs, invalid("env", "", "Known."+id, "the template declares no resource or parameter of that name"))
			}
		}
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return l, nil
}

func joinErrors(errs []error) error {
	fl := flatten(errs)
	all := make([]error, len(fl))
	for i, e := range fl {
		all[i] = e
	}
	return errors.Join(all...)
}

func parseResource(id string, v any) (*resource, error) {
	if !logicalID.MatchString(id) {
		return nil, invalid("resource", id, "", "a logical ID is letters and digits only")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("resource", id, "", "must be an object")
	}
	r := &resource{id: id, created: true}
	for k, x := range m {
		var ok bool
		switch k {
		case "Type":
			r.typ, ok = x.(string)
			ok = ok && r.typ != ""
		case "Properties":
			r.props, ok = x.(map[string]any)
		case "Metadata":
			r.meta, ok = x.(map[string]any)
		case "Condition":
			r.cond, ok = x.(string)
		case "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy", "Version":
			ok = true // deployment order and lifecycle: not what is deployed
		default:
			return nil, invalid("resource", id, k, "is not a resource attribute")
		}
		if !ok {
			return nil, invalid("resource", id, k, "has the wrong type")
		}
	}
	if r.typ == "" {
		return nil, invalid("resource", id, "Type", "is required")
	}
	return r, nil
}

// compactJSON writes v as compact JSON with sorted keys, <, > and & as
// they are.
func compactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// build evaluates conditions and turns every resource into the
// Deployment, recording failures in l.errs.
func (l *loader) build() *Deployment {
	d := &Deployment{Env: l.env}
	for _, id := range l.ids {
		r := l.res[id]
		if r.cond == "" {
			continue
		}
		c, err := l.condition(r.cond)
		if err != nil {
			l.errs = append(l.errs, loc{"resource", id}.place("Condition", "", "condition "+r.cond, err))
			continue
		}
		r.created = c
	}
	var policies []*resource
	for _, id := range l.ids {
		r := l.res[id]
		if !r.created {
			continue
		}
		b := &rb{l: l, r: r, at: loc{"resource", id}}
		switch r.typ {
		case tRole:
			d.Roles = append(d.Roles, b.role())
		case tPolicy:
			policies = append(policies, r)
		case tFunction:
			d.Functions = append(d.Functions, b.function())
		case tURL:
			d.FunctionURLs = append(d.FunctionURLs, b.url())
		case tStateMachine:
			d.StateMachines = append(d.StateMachines, b.stateMachine())
		case tTopic:
			d.Topics = append(d.Topics, b.topic())
		case tKey:
			d.Keys = append(d.Keys, Key{LogicalID: id, ID: b.attr("Ref"), ARN: b.attr("Arn")})
		case tBus:
			d.Buses = append(d.Buses, Bus{LogicalID: id, Name: b.attr("Ref"), ARN: b.attr("Arn")})
		case tRule:
			d.Rules = append(d.Rules, b.rule())
		case tSchedule:
			d.Schedules = append(d.Schedules, b.schedule())
		case tTable:
			d.Tables = append(d.Tables, b.table())
		case tSecret:
			d.Secrets = append(d.Secrets, b.secret())
		default:
			d.Unmodelled = append(d.Unmodelled, Resource{LogicalID: id, Type: r.typ})
			l.checkRefs(loc{"resource", id}, "Properties", r.props)
		}
	}
	for _, r := range policies {
		b := &rb{l: l, r: r, at: loc{"resource", r.id}}
		b.attachPolicy(d.Roles)
	}
	ids := make([]string, 0, len(l.outputs))
	for id := range l.outputs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if o, ok := l.output(id); ok {
			if d.Outputs == nil {
				d.Outputs = map[string]Output{}
			}
			d.Outputs[id] = o
		}
	}
	return d
}

// checkRefs reports, in an unmodelled resource's properties (which are not
// resolved: nothing local uses them), references to what the template does
// not declare and parameters without a value, as CloudFormation would
// refuse them.
func (l *loader) checkRefs(at loc, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if name, ok := x["Ref"].(string); ok {
				if err := l.refExists(name); err != nil {
					l.errs = append(l.errs, at.place(path, "Ref", "Ref "+name, err))
				}
				return
			}
			if a, ok := x["Fn::GetAtt"]; ok {
				id := ""
				switch g := a.(type) {
				case string:
					id, _, _ = strings.Cut(g, ".")
				case []any:
					if len(g) > 0 {
						id, _ = g[0].(string)
					}
				}
				if _, ok := l.res[id]; !ok {
					l.errs = append(l.errs, at.err(path, "Fn::GetAtt", ErrUnresolved, "Fn::GetAtt "+id+": the template declares no resource of that name"))
				}
				return
			}
			if a, ok := x["Fn::Sub"]; ok {
				var str string
				var vars map[string]any
				switch sv := a.(type) {
				case string:
					str = sv
				case []any:
					if len(sv) == 2 {
						str, _ = sv[0].(string)
						vars, _ = sv[1].(map[string]any)
						l.checkRefs(at, path+".Fn::Sub[1]", sv[1])
					}
				}
				for _, name := range subRefs(str) {
					if _, ok := vars[name]; ok {
						continue
					}
					var err error
					if id, _, dot := strings.Cut(name, "."); dot {
						if _, ok := l.res[id]; !ok {
							err = &problem{kind: ErrUnresolved, msg: "the template declares no resource of that name"}
						}
					} else {
						err = l.refExists(name)
					}
					if err != nil {
						l.errs = append(l.errs, at.place(path+".Fn::Sub", "Fn::Sub", "Fn::Sub ${"+name+"}", err))
					}
				}
				return
			}
		}
		for k, e := range x {
			l.checkRefs(at, join(path, k), e)
		}
	case []any:
		for i, e := range x {
			l.checkRefs(at, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// refExists checks Ref name without computing what it resolves to.
func (l *loader) refExists(name string) error {
	if p, ok := l.params[name]; ok {
		_, err := l.paramValue(name, p)
		return err
	}
	if _, ok := l.res[name]; ok {
		return nil
	}
	_, err := l.ref(name) // a pseudo parameter, or the problem of a name not declared
	return err
}

// subRefs lists the names an Fn::Sub string refers to: Name for ${Name},
// Name.Attr for ${Name.Attr}; not ${!Literal}.
func subRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		if strings.HasPrefix(s, "!") {
			continue
		}
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j+1:]
	}
}

// output resolves one of Outputs; false when it is not created or failed.
func (l *loader) output(id string) (Output, bool) {
	at := loc{"output", id}
	m, ok := l.outputs[id].(map[string]any)
	if !ok {
		l.errs = append(l.errs, invalid("output", id, "", "must be an object"))
		return Output{}, false
	}
	if c, ok := m["Condition"]; ok {
		name, _ := c.(string)
		on, err := l.condition(name)
		if err != nil {
			l.errs = append(l.errs, at.place("Condition", "", "condition "+name, err))
			return Output{}, false
		}
		if !on {
			return Output{}, false
		}
	}
	raw, ok := m["Value"]
	if !ok {
		l.errs = append(l.errs, invalid("output", id, "Value", "is required"))
		return Output{}, false
	}
	var o Output
	v, err := l.resolve(at, "Value", raw)
	if err != nil {
		l.errs = append(l.errs, err)
		return Output{}, false
	}
	if o.Value, ok = scalar(v); !ok {
		l.errs = append(l.errs, invalid("output", id, "Value", "must resolve to a string"))
		return Output{}, false
	}
	if dr, ok := m["Description"]; ok {
		dv, err := l.resolve(at, "Description", dr)
		if err != nil {
			l.errs = append(l.errs, err)
			return Output{}, false
		}
		if o.Description, ok = dv.(string); !ok {
			l.errs = append(l.errs, invalid("output", id, "Description", "must be a string"))
			return Output{}, false
		}
	}
	return o, true
}

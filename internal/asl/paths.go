package asl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"

	"github.com/rotorhq/rotor/internal/asl/intrinsic"
)

// path is a compiled ASL Path: "$..." against the state's input, "$$..."
// against the context object. A singular path (fields and indexes only)
// selects one value; any other selects a list, as AWS's JSONPath does.
type path struct {
	raw     string
	context bool
	query   *jsonpath.Path
	steps   []pathStep // for singular paths
	single  bool
}

type pathStep struct {
	name  string
	index int
	isIdx bool
}

var jpParser = jsonpath.NewParser()

func compilePath(s string) (*path, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	p := &path{raw: s}
	q := s
	if strings.HasPrefix(s, "$$") {
		p.context, q = true, s[1:]
	}
	jp, err := jpParser.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("path %q is not valid JSONPath: %v", s, trimJSONPathErr(err))
	}
	p.query = jp
	p.single = true
	for _, seg := range jp.Query().Segments() {
		sels := seg.Selectors()
		if seg.IsDescendant() || len(sels) != 1 {
			p.single = false
			break
		}
		switch sel := sels[0].(type) {
		case spec.Name:
			p.steps = append(p.steps, pathStep{name: string(sel)})
		case spec.Index:
			p.steps = append(p.steps, pathStep{index: int(sel), isIdx: true})
		default:
			p.single = false
		}
		if !p.single {
			break
		}
	}
	if !p.single {
		p.steps = nil
	}
	return p, nil
}

func trimJSONPathErr(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "jsonpath: ")
}

// reference reports whether p is a Reference Path (ResultPath's kind): one
// node named by fields and non-negative indexes.
func (p *path) reference() bool {
	if !p.single {
		return false
	}
	for _, st := range p.steps {
		if st.isIdx && st.index < 0 {
			return false
		}
	}
	return true
}

// get evaluates p in env. For a singular path it returns the node and
// whether it exists; otherwise the list of matches (possibly empty) and true.
func (p *path) get(env *evalEnv) (any, bool) {
	if p.context {
		return p.getIn(env.context())
	}
	return p.getIn(env.input)
}

// getIn evaluates p against root.
func (p *path) getIn(root any) (any, bool) {
	if !p.single {
		nodes := p.query.Select(root)
		out := make([]any, len(nodes))
		copy(out, nodes)
		return out, true
	}
	cur := root
	for _, st := range p.steps {
		if st.isIdx {
			arr, ok := cur.([]any)
			i := st.index
			if i < 0 {
				i += len(arr)
			}
			if !ok || i < 0 || i >= len(arr) {
				return nil, false
			}
			cur = arr[i]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[st.name]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// set returns a copy of doc with value placed at reference path p, copying
// only the objects along the way (values are never mutated in place) and
// creating missing objects.
func (p *path) set(doc, value any) (any, error) {
	return setAt(doc, p.steps, value, p.raw)
}

func setAt(doc any, steps []pathStep, value any, raw string) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	st := steps[0]
	if st.isIdx {
		arr, ok := doc.([]any)
		if !ok || st.index >= len(arr) {
			return nil, fmt.Errorf("unable to apply ResultPath %q: index %d does not exist", raw, st.index)
		}
		out := make([]any, len(arr))
		copy(out, arr)
		v, err := setAt(arr[st.index], steps[1:], value, raw)
		if err != nil {
			return nil, err
		}
		out[st.index] = v
		return out, nil
	}
	var obj map[string]any
	switch d := doc.(type) {
	case map[string]any:
		obj = d
	case nil:
		obj = nil
	default:
		return nil, fmt.Errorf("unable to apply ResultPath %q: the input is not a JSON object at field %q", raw, st.name)
	}
	out := make(map[string]any, len(obj)+1)
	for k, v := range obj {
		out[k] = v
	}
	v, err := setAt(obj[st.name], steps[1:], value, raw)
	if err != nil {
		return nil, err
	}
	out[st.name] = v
	return out, nil
}

// optPath is InputPath, OutputPath, ResultPath or ItemsPath: absent (the
// default "$"), null, or a path.
type optPath struct {
	set  bool
	null bool
	path *path
}

// pathOrCall is a field that takes a path or an intrinsic function
// (ErrorPath, CausePath).
type pathOrCall struct {
	path  *path
	call  *intrinsic.Call
	paths map[string]*path
}

func compileCallPaths(c *intrinsic.Call) (map[string]*path, error) {
	paths := map[string]*path{}
	for _, ps := range c.Paths() {
		p, err := compilePath(ps)
		if err != nil {
			return nil, err
		}
		paths[ps] = p
	}
	return paths, nil
}

func compilePathOrCall(s string) (*pathOrCall, error) {
	if intrinsic.IsCall(s) {
		c, err := intrinsic.Parse(s)
		if err != nil {
			return nil, err
		}
		paths, err := compileCallPaths(c)
		if err != nil {
			return nil, err
		}
		return &pathOrCall{call: c, paths: paths}, nil
	}
	p, err := compilePath(s)
	if err != nil {
		return nil, err
	}
	return &pathOrCall{path: p}, nil
}

// template is a compiled payload template (Parameters, ResultSelector,
// ItemSelector): fields whose names end in ".$" take a path or an intrinsic
// function; the rest are copied. Constant subtrees are built once.
type template struct{ root tnode }

type tnode interface {
	eval(env *evalEnv) (any, error)
}

type tconst struct{ v any }
type tobject struct {
	keys []string
	vals []tnode
}
type tarray struct{ elems []tnode }
type tpath struct {
	p     *path
	field string
}
type tcall struct {
	c     *intrinsic.Call
	field string
	paths map[string]*path // the call's path arguments, compiled once
}

// compileTemplate compiles v; errors name the field.
func compileTemplate(v any, field string) (*template, []string) {
	var errs []string
	n := compileNode(v, field, &errs)
	return &template{root: n}, errs
}

func compileNode(v any, field string, errs *[]string) tnode {
	switch x := v.(type) {
	case map[string]any:
		obj := &tobject{}
		dynamic := false
		for _, k := range sortedKeys(x) {
			val := x[k]
			name := k
			var n tnode
			if strings.HasSuffix(k, ".$") {
				name = strings.TrimSuffix(k, ".$")
				s, ok := val.(string)
				if !ok {
					*errs = append(*errs, fmt.Sprintf("%s: field %q must be a path or an intrinsic function string", field, k))
					continue
				}
				if intrinsic.IsCall(s) {
					c, err := intrinsic.Parse(s)
					if err != nil {
						*errs = append(*errs, fmt.Sprintf("%s: field %q: %v", field, k, err))
						continue
					}
					paths, err := compileCallPaths(c)
					if err != nil {
						*errs = append(*errs, fmt.Sprintf("%s: field %q: %v", field, k, err))
						continue
					}
					n = tcall{c: c, field: k, paths: paths}
				} else {
					p, err := compilePath(s)
					if err != nil {
						*errs = append(*errs, fmt.Sprintf("%s: field %q: %v", field, k, err))
						continue
					}
					n = tpath{p: p, field: k}
				}
				dynamic = true
			} else {
				n = compileNode(val, field, errs)
				if _, c := n.(tconst); !c {
					dynamic = true
				}
			}
			obj.keys = append(obj.keys, name)
			obj.vals = append(obj.vals, n)
		}
		if !dynamic {
			return tconst{v: x}
		}
		return obj
	case []any:
		arr := &tarray{}
		dynamic := false
		for _, e := range x {
			n := compileNode(e, field, errs)
			if _, c := n.(tconst); !c {
				dynamic = true
			}
			arr.elems = append(arr.elems, n)
		}
		if !dynamic {
			return tconst{v: x}
		}
		return arr
	}
	return tconst{v: v}
}

// evalEnv is what paths and intrinsics see: the input, and the context
// object, built only when a path asks for it.
type evalEnv struct {
	input any
	x     *Execution
	st    *stateRun
	ctx   any
	built bool
}

func (env *evalEnv) context() any {
	if !env.built {
		env.ctx, env.built = env.x.contextObject(env.st), true
	}
	return env.ctx
}

func (c tconst) eval(*evalEnv) (any, error) { return c.v, nil }

func (o *tobject) eval(env *evalEnv) (any, error) {
	out := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		v, err := o.vals[i].eval(env)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (a *tarray) eval(env *evalEnv) (any, error) {
	out := make([]any, len(a.elems))
	for i, e := range a.elems {
		v, err := e.eval(env)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (t tpath) eval(env *evalEnv) (any, error) {
	v, ok := t.p.get(env)
	if !ok {
		where := "input"
		doc := env.input
		if t.p.context {
			where, doc = "context object", env.context()
		}
		return nil, runtimeErr("The JSONPath '%s' specified for the field '%s' could not be found in the %s '%s'", t.p.raw, t.field, where, compact(doc))
	}
	return v, nil
}

func (t tcall) eval(env *evalEnv) (any, error) {
	v, err := t.c.Eval(env.intrinsicEnv(t.paths))
	if err != nil {
		return nil, &stateError{name: ErrIntrinsicFailure, cause: fmt.Sprintf("The evaluation of the intrinsic function for the field '%s' failed: %v", t.field, err)}
	}
	return v, nil
}

func (env *evalEnv) intrinsicEnv(paths map[string]*path) intrinsic.Env {
	ienv := intrinsic.Env{
		Path: func(ps string) (any, error) {
			p, ok := paths[ps]
			if !ok {
				var err error
				if p, err = compilePath(ps); err != nil {
					return nil, err
				}
			}
			v, ok := p.get(env)
			if !ok {
				return nil, fmt.Errorf("the JSONPath %s could not be found", ps)
			}
			return v, nil
		},
	}
	if env.x.journal == nil {
		ienv.Random, ienv.UUID = env.x.eng.random, env.x.eng.uuid
	} else {
		ienv.Random = func() float64 { return env.x.draw(env.st, env.x.eng.random) }
		ienv.UUID = func() string { return env.x.drawUUID(env.st) }
	}
	return ienv
}

func (t *template) eval(env *evalEnv) (any, error) { return t.root.eval(env) }

// eval evaluates a path or intrinsic field (ErrorPath, CausePath).
func (pc *pathOrCall) eval(env *evalEnv, field string) (any, error) {
	if pc.call != nil {
		return tcall{c: pc.call, field: field, paths: pc.paths}.eval(env)
	}
	return tpath{p: pc.path, field: field}.eval(env)
}

// compact renders v as compact JSON for error causes, cut to 1 KiB.
func compact(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 1024 {
		return string(b[:1024]) + "..."
	}
	return string(b)
}

package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// noValue is what Ref AWS::NoValue resolves to: the property or list
// element holding it is removed.
type noValue struct{}

// resolve returns v with every intrinsic function resolved. Values are
// what encoding/json decodes with UseNumber: map[string]any, []any,
// string, json.Number, bool and nil. Failures are *Errors located at path
// under at, joined when there are several.
func (l *loader) resolve(at loc, path string, v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return l.intrinsic(at, path, k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		var errs []error
		for k, e := range x {
			r, err := l.resolve(at, join(path, k), e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if _, skip := r.(noValue); !skip {
				out[k] = r
			}
		}
		return out, errors.Join(errs...)
	case []any:
		out := make([]any, 0, len(x))
		var errs []error
		for i, e := range x {
			r, err := l.resolve(at, fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if _, skip := r.(noValue); !skip {
				out = append(out, r)
			}
		}
		return out, errors.Join(errs...)
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// args returns an intrinsic's argument list of exactly n elements.
func args(at loc, path, fn string, arg any, n int) ([]any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != n {
		return nil, at.err(path, fn, ErrInvalid, fmt.Sprintf("%s takes a list of %d arguments", fn, n))
	}
	return a, nil
}

// intrinsic resolves {fn: arg} found at path.
func (l *loader) intrinsic(at loc, path, fn string, arg any) (any, error) {
	in := join(path, fn)
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, at.err(path, fn, ErrInvalid, "Ref takes a logical ID or parameter name as a literal string")
		}
		v, err := l.ref(name)
		if err != nil {
			return nil, at.place(path, fn, "Ref "+name, err)
		}
		return v, nil
	case "Fn::GetAtt":
		id, attr, err := l.getAttArgs(at, path, arg)
		if err != nil {
			return nil, err
		}
		v, err := l.getAtt(id, attr)
		if err != nil {
			return nil, at.place(path, fn, "Fn::GetAtt "+quote(id)+"."+quote(attr), err)
		}
		return v, nil
	case "Fn::Join":
		a, err := args(at, path, fn, arg, 2)
		if err != nil {
			return nil, err
		}
		sep, ok := a[0].(string)
		if !ok {
			return nil, at.err(in+"[0]", fn, ErrInvalid, "Fn::Join's delimiter must be a literal string")
		}
		list, err := l.resolve(at, in+"[1]", a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, at.err(in+"[1]", fn, ErrInvalid, "Fn::Join's second argument must be a list")
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, ok := scalar(it)
			if !ok {
				return nil, at.err(fmt.Sprintf("%s[1][%d]", in, i), fn, ErrInvalid, "Fn::Join joins strings only")
			}
			parts[i] = s
		}
		return strings.Join(parts, sep), nil
	case "Fn::Sub":
		return l.sub(at, path, arg)
	case "Fn::Select":
		a, err := args(at, path, fn, arg, 2)
		if err != nil {
			return nil, err
		}
		iv, err := l.resolve(at, in+"[0]", a[0])
		if err != nil {
			return nil, err
		}
		is, _ := scalar(iv)
		i, perr := strconv.Atoi(is)
		if perr != nil || i < 0 {
			return nil, at.err(in+"[0]", fn, ErrInvalid, "Fn::Select's index must be a whole number, 0 or more")
		}
		list, err := l.resolve(at, in+"[1]", a[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, at.err(in+"[1]", fn, ErrInvalid, "Fn::Select's second argument must be a list")
		}
		if i >= len(items) {
			return nil, at.err(in+"[0]", fn, ErrInvalid, fmt.Sprintf("Fn::Select index %d is out of range of a list of %d", i, len(items)))
		}
		return items[i], nil
	case "Fn::Split":
		a, err := args(at, path, fn, arg, 2)
		if err != nil {
			return nil, err
		}
		sep, ok := a[0].(string)
		if !ok || sep == "" {
			return nil, at.err(in+"[0]", fn, ErrInvalid, "Fn::Split's delimiter must be a non-empty literal string")
		}
		sv, err := l.resolve(at, in+"[1]", a[1])
		if err != nil {
			return nil, err
		}
		s, ok := sv.(string)
		if !ok {
			return nil, at.err(in+"[1]", fn, ErrInvalid, "Fn::Split splits a string")
		}
		var out []any
		for _, p := range strings.Split(s, sep) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::If":
		a, err := args(at, path, fn, arg, 3)
		if err != nil {
			return nil, err
		}
		name, ok := a[0].(string)
		if !ok {
			return nil, at.err(in+"[0]", fn, ErrInvalid, "Fn::If's first argument must name a condition")
		}
		c, err := l.condition(name)
		if err != nil {
			return nil, at.place(in+"[0]", fn, "condition "+name, err)
		}
		if c {
			return l.resolve(at, in+"[1]", a[1])
		}
		return l.resolve(at, in+"[2]", a[2])
	case "Fn::FindInMap":
		a, err := args(at, path, fn, arg, 3)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 3)
		for i := range a {
			v, err := l.resolve(at, fmt.Sprintf("%s[%d]", in, i), a[i])
			if err != nil {
				return nil, err
			}
			s, ok := scalar(v)
			if !ok {
				return nil, at.err(fmt.Sprintf("%s[%d]", in, i), fn, ErrInvalid, "Fn::FindInMap's keys must be strings")
			}
			keys[i] = s
		}
		m, _ := l.mappings[keys[0]].(map[string]any)
		top, _ := m[keys[1]].(map[string]any)
		v, ok := top[keys[2]]
		if !ok {
			// The keys may come from parameters: they are not quoted.
			return nil, at.err(path, fn, ErrUnresolved, "Fn::FindInMap: mapping "+quote(keys[0])+" has no entry for these keys")
		}
		return v, nil
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		return nil, at.err(path, fn, ErrUnsupported, fn+" is a condition function: it is supported in Conditions only")
	}
	return nil, at.err(path, fn, ErrUnsupported, fn+" is not supported")
}

// getAttArgs reads Fn::GetAtt's ["ID", "Attr"] or "ID.Attr".
func (l *loader) getAttArgs(at loc, path string, arg any) (string, string, error) {
	const fn = "Fn::GetAtt"
	bad := at.err(path, fn, ErrInvalid, `Fn::GetAtt takes ["LogicalID", "Attribute"] or "LogicalID.Attribute"`)
	switch a := arg.(type) {
	case string:
		id, attr, ok := strings.Cut(a, ".")
		if !ok || id == "" || attr == "" {
			return "", "", bad
		}
		return id, attr, nil
	case []any:
		if len(a) != 2 {
			return "", "", bad
		}
		id, ok := a[0].(string)
		if !ok || id == "" {
			return "", "", bad
		}
		av, err := l.resolve(at, join(path, fn)+"[1]", a[1])
		if err != nil {
			return "", "", err
		}
		attr, ok := av.(string)
		if !ok || attr == "" {
			return "", "", bad
		}
		return id, attr, nil
	}
	return "", "", bad
}

// sub resolves Fn::Sub's "string" or ["string", {vars}].
func (l *loader) sub(at loc, path string, arg any) (any, error) {
	const fn = "Fn::Sub"
	in := join(path, fn)
	var s string
	var vars map[string]any
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		ok := len(a) == 2
		if ok {
			s, ok = a[0].(string)
		}
		if ok {
			vars, ok = a[1].(map[string]any)
		}
		if !ok {
			return nil, at.err(path, fn, ErrInvalid, `Fn::Sub takes "string" or ["string", {"Name": value}]`)
		}
	default:
		return nil, at.err(path, fn, ErrInvalid, `Fn::Sub takes "string" or ["string", {"Name": value}]`)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		if strings.HasPrefix(s, "!") {
			// ${!Literal} is the text ${Literal}.
			b.WriteString("${")
			s = s[1:]
			continue
		}
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return nil, at.err(in, fn, ErrInvalid, "Fn::Sub: ${ without a closing }")
		}
		name := s[:j]
		s = s[j+1:]
		var v any
		var err error
		what := "Fn::Sub ${" + quote(name) + "}"
		if raw, ok := vars[name]; ok {
			v, err = l.resolve(at, in+"[1]."+name, raw)
		} else if id, attr, dot := strings.Cut(name, "."); dot {
			v, err = l.getAtt(id, attr)
			err = at.place(in, fn, what, err)
		} else {
			v, err = l.ref(name)
			err = at.place(in, fn, what, err)
		}
		if err != nil {
			return nil, err
		}
		str, ok := scalar(v)
		if !ok {
			return nil, at.err(in, fn, ErrInvalid, what+": does not resolve to a string")
		}
		b.WriteString(str)
	}
}

// scalar returns a string, number or boolean as CloudFormation passes it
// to a string property.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// condition evaluates the template's condition name, once.
func (l *loader) condition(name string) (bool, error) {
	if c, ok := l.condMemo[name]; ok {
		if c.busy {
			return false, &problem{kind: ErrInvalid, msg: "conditions refer to each other in a cycle"}
		}
		return c.val, c.err
	}
	def, ok := l.conds[name]
	if !ok {
		return false, &problem{kind: ErrUnresolved, msg: "no condition of that name in Conditions"}
	}
	c := &condResult{busy: true}
	l.condMemo[name] = c
	c.val, c.err = l.condValue(loc{"condition", name}, "", def)
	c.busy = false
	return c.val, c.err
}

type condResult struct {
	val, busy bool
	err       error
}

// condValue evaluates a condition function.
func (l *loader) condValue(at loc, path string, v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, at.err(path, "", ErrInvalid, "a condition must be one of Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")
	}
	var fn string
	var arg any
	for k, a := range m {
		fn, arg = k, a
	}
	in := join(path, fn)
	switch fn {
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return false, at.err(path, fn, ErrInvalid, "Condition takes a condition's name")
		}
		c, err := l.condition(name)
		return c, at.place(path, fn, "condition "+name, err)
	case "Fn::Equals":
		a, err := args(at, path, fn, arg, 2)
		if err != nil {
			return false, err
		}
		var s [2]string
		for i := range a {
			r, err := l.resolve(at, fmt.Sprintf("%s[%d]", in, i), a[i])
			if err != nil {
				return false, err
			}
			str, ok := scalar(r)
			if !ok {
				return false, at.err(fmt.Sprintf("%s[%d]", in, i), fn, ErrInvalid, "Fn::Equals compares strings")
			}
			s[i] = str
		}
		return s[0] == s[1], nil
	case "Fn::Not":
		a, err := args(at, path, fn, arg, 1)
		if err != nil {
			return false, err
		}
		c, err := l.condValue(at, in+"[0]", a[0])
		return !c, err
	case "Fn::And", "Fn::Or":
		a, ok := arg.([]any)
		if !ok || len(a) < 2 || len(a) > 10 {
			return false, at.err(path, fn, ErrInvalid, fn+" takes a list of 2 to 10 conditions")
		}
		// Every operand is evaluated, as CloudFormation does, so that an
		// error in any of them is reported.
		and := fn == "Fn::And"
		result := and
		for i := range a {
			c, err := l.condValue(at, fmt.Sprintf("%s[%d]", in, i), a[i])
			if err != nil {
				return false, err
			}
			if c != and {
				result = c
			}
		}
		return result, nil
	}
	return false, at.err(path, fn, ErrUnsupported, fn+" is not a condition function")
}

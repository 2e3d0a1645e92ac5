package cfn

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// The kinds of Load errors, for errors.Is. Every *Error but those of kind
// ErrUnknown is also rotorerr.InvalidInput.
var (
	// ErrInvalid: the template is malformed (not JSON, a section or a
	// property of the wrong shape, a required property missing).
	ErrInvalid = errors.New("invalid template")
	// ErrUnsupported: the template is valid CloudFormation that this
	// loader does not model (an intrinsic, a property, a section).
	ErrUnsupported = errors.New("not supported")
	// ErrUnresolved: a reference names nothing the template declares, a
	// resource whose condition is false, an attribute not modelled, or a
	// parameter without a value.
	ErrUnresolved = errors.New("unresolved reference")
	// ErrUnknown: a value only the service assigns at creation (a secret's
	// ARN, a function URL) that Env.Known does not supply.
	ErrUnknown = errors.New("value known only once deployed")
)

// Error is one problem of a template, located by section, logical ID and
// property path. Its message names where and what, never a value of the
// template (a SecretString may be among them).
type Error struct {
	// Section is "template", "env", "parameter", "mapping", "condition",
	// "resource" or "output".
	Section   string
	LogicalID string
	// Path is the property path inside the section's entry, as
	// Properties.Targets[0].Arn; for an intrinsic's arguments it goes on
	// into them: Properties.Environment.Variables.X.Fn::Join[1][0].
	Path string
	// Intrinsic is the intrinsic function at fault ("Ref", "Fn::Sub", ...),
	// "" when the problem is not about one.
	Intrinsic string
	// Kind is ErrInvalid, ErrUnsupported, ErrUnresolved or ErrUnknown.
	Kind error
	// Need is, for ErrUnknown, the value Env.Known must supply.
	Need *Need
	Msg  string
}

// Need is a value Env.Known must supply: Env.Known[LogicalID][Attribute].
type Need struct {
	LogicalID string
	Attribute string // "Ref" or an attribute name
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Section)
	if e.LogicalID != "" {
		b.WriteString(" " + e.LogicalID)
	}
	if e.Path != "" {
		b.WriteString(": " + e.Path)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *Error) Unwrap() []error {
	if e.Kind == ErrUnknown {
		return []error{e.Kind}
	}
	return []error{e.Kind, rotorerr.InvalidInput}
}

// Unknowns lists, sorted and without repeats, the values Env.Known must
// supply for Load to succeed: the Need of every ErrUnknown in err.
func Unknowns(err error) []Need {
	seen := map[Need]bool{}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *Error:
			if e.Need != nil {
				seen[*e.Need] = true
			}
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	out := make([]Need, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Need) int {
		if c := strings.Compare(a.LogicalID, b.LogicalID); c != 0 {
			return c
		}
		return strings.Compare(a.Attribute, b.Attribute)
	})
	return out
}

// loc is where a value is being resolved.
type loc struct {
	section, id string
}

func (l loc) err(path, intrinsic string, kind error, msg string) *Error {
	return &Error{Section: l.section, LogicalID: l.id, Path: path, Intrinsic: intrinsic, Kind: kind, Msg: msg}
}

// problem is an error not yet located: what a reference lookup returns,
// placed by the caller at the path that made it.
type problem struct {
	kind  error
	need  *Need
	msg   string
	cycle bool // a circular reference, found where it closes
}

func (p *problem) Error() string { return p.msg }

// place locates err at path: a problem becomes an *Error there (the
// message prefixed by what was looked up, as "Ref X"); an *Error (already
// located where its cause is, as a condition or a resource's name) and a
// joined list of them pass through.
func (l loc) place(path, intrinsic, what string, err error) error {
	var p *problem
	if errors.As(err, &p) {
		e := l.err(path, intrinsic, p.kind, what+": "+p.msg)
		e.Need = p.need
		return e
	}
	return err
}

var identifier = regexp.MustCompile(`^[A-Za-z0-9:_.-]{1,255}$`)

// quote returns a name the template uses as a reference (a Sub variable,
// a placeholder) for an error message, unless it does not look like a name:
// text between ${ and } may be a value, which no error may quote.
func quote(name string) string {
	if identifier.MatchString(name) {
		return name
	}
	return "(not a name)"
}

// flatten lists the *Errors of err (a joined tree of them), deduplicated by
// message and sorted.
func flatten(errs []error) []*Error {
	seen := map[string]bool{}
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		switch e := err.(type) {
		case *Error:
			if !seen[e.Error()] {
				seen[e.Error()] = true
				out = append(out, e)
			}
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		default:
			// Not expected: every failure is built as an *Error. Keep it
			// rather than lose it.
			x := &Error{Section: "template", Kind: ErrInvalid, Msg: err.Error()}
			if !seen[x.Error()] {
				seen[x.Error()] = true
				out = append(out, x)
			}
		}
	}
	for _, err := range errs {
		walk(err)
	}
	slices.SortFunc(out, func(a, b *Error) int { return strings.Compare(a.Error(), b.Error()) })
	return out
}

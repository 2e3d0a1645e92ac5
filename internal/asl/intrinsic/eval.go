package intrinsic

import (
	"fmt"
)

// Env supplies what evaluation needs from the engine.
type Env struct {
	// Path resolves a JSONPath argument ("$..." against the state's input,
	// "$$..." against the context object) and returns its single value; the
	// engine decides the semantics. Its error is returned wrapped.
	Path func(path string) (any, error)
	// Random returns a number in [0,1), used by MathRandom without seed;
	// nil: math/rand/v2.
	Random func() float64
	// UUID returns a v4 UUID for States.UUID; nil: github.com/google/uuid.
	UUID func() string
}

// Error is an evaluation failure; the engine raises it as
// States.IntrinsicFailure with Message as the cause.
type Error struct {
	Function string // the failing function, such as "States.ArrayGetItem"
	Message  string // what went wrong, for the States.IntrinsicFailure cause

	err error // the Env.Path error, if that is the cause
}

func (e *Error) Error() string { return e.Function + ": " + e.Message }

// Unwrap returns the error Env.Path returned, when that is the cause.
func (e *Error) Unwrap() error { return e.err }

func (c *Call) errorf(format string, a ...any) *Error {
	return &Error{Function: c.name, Message: fmt.Sprintf(format, a...)}
}

// function describes one intrinsic: how many arguments it takes and how it
// computes its result from their values.
type function struct {
	minArgs, maxArgs int // maxArgs < 0: no upper bound
	eval             func(c *Call, env *Env, vals []any) (any, error)
}

// Eval evaluates the call. Values are encoding/json's generic values:
// map[string]any, []any, string, float64, bool, nil. Any failure at
// evaluation (wrong argument count or type, bad JSON, out of range, a path
// error) is an *Error.
//
// Arguments are evaluated left to right, nested calls first; the first
// failure stops evaluation. The argument count is checked before any
// argument is evaluated.
func (c *Call) Eval(env Env) (any, error) {
	return c.eval(&env)
}

func (c *Call) eval(env *Env) (any, error) {
	if err := c.checkCount(); err != nil {
		return nil, err
	}
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case argString:
			vals[i] = a.str
		case argNumber:
			vals[i] = a.num
		case argBool:
			vals[i] = a.b
		case argNull:
			vals[i] = nil
		case argPath:
			if env.Path == nil {
				return nil, c.errorf("cannot resolve the path %s: no path resolver (Env.Path is nil)", a.str)
			}
			v, err := env.Path(a.str)
			if err != nil {
				return nil, &Error{Function: c.name, Message: fmt.Sprintf("cannot resolve the path %s: %v", a.str, err), err: err}
			}
			vals[i] = v
		case argCall:
			v, err := a.call.eval(env)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	return c.fn.eval(c, env, vals)
}

func (c *Call) checkCount() error {
	n, lo, hi := len(c.args), c.fn.minArgs, c.fn.maxArgs
	if n >= lo && (hi < 0 || n <= hi) {
		return nil
	}
	var want string
	switch {
	case hi == 0:
		want = "no arguments"
	case lo == hi:
		want = plural(lo, "argument")
	case hi < 0:
		want = "at least " + plural(lo, "argument")
	default:
		want = fmt.Sprintf("%d or %d arguments", lo, hi)
	}
	return c.errorf("expects %s, got %d", want, n)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ordinal names argument i (0-based) in messages.
func ordinal(i int) string {
	switch i {
	case 0:
		return "first argument"
	case 1:
		return "second argument"
	case 2:
		return "third argument"
	}
	return fmt.Sprintf("argument %d", i+1)
}

package provider

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// DBOptions are the options every database provider takes (tags
// rotor:strategy and rotor:<provider>:<option>), parsed once here:
//
//	strategy            one of the provider's strategies (the first is the default)
//	password-length     characters of a new password (password's default)
//	password-alphabet   characters to draw from (password's default; checked by password.Policy)
//	connect-timeout     Go duration for connecting and logging in, 1ms to 5m (default 5s)
//	<operation>-timeout Go duration for each statement or command, 1ms to 5m (default 10s)
type DBOptions struct {
	Strategy         string
	Policy           password.Policy
	ConnectTimeout   time.Duration
	OperationTimeout time.Duration
}

// DBSpec is what a database provider accepts.
type DBSpec struct {
	Provider   string   // its registered name
	Strategies []string // the first is the default
	// Operation names the per-operation timeout option:
	// "statement-timeout", "command-timeout".
	Operation string
}

// ParseDBOptions reads o by spec; every error is rotorerr.InvalidInput
// naming the tag and the accepted values.
func ParseDBOptions(spec DBSpec, o Options) (DBOptions, error) {
	if err := UnknownOptions(spec.Provider, o, "strategy", "password-length", "password-alphabet", "connect-timeout", spec.Operation); err != nil {
		return DBOptions{}, err
	}
	invalid := func(format string, args ...any) error {
		return rotorerr.New(rotorerr.InvalidInput, "provider "+spec.Provider+": "+fmt.Sprintf(format, args...))
	}
	tag := func(option string) string { return "tag rotor:" + spec.Provider + ":" + option }
	c := DBOptions{Strategy: spec.Strategies[0], ConnectTimeout: 5 * time.Second, OperationTimeout: 10 * time.Second}
	if s, ok := o["strategy"]; ok {
		if !contains(spec.Strategies, s) {
			return c, invalid("tag rotor:strategy is %q; want %s", s, orList(spec.Strategies))
		}
		c.Strategy = s
	}
	if s, ok := o["password-length"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return c, invalid("%s is not a whole number", tag("password-length"))
		}
		c.Policy.Length = n
	}
	if s, ok := o["password-alphabet"]; ok {
		if s == "" {
			return c, invalid("%s is empty", tag("password-alphabet"))
		}
		c.Policy.Alphabet = s
	}
	if err := c.Policy.Check(); err != nil {
		return c, invalid("password policy (tags rotor:%s:password-length, rotor:%s:password-alphabet): %v", spec.Provider, spec.Provider, err)
	}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"connect-timeout", &c.ConnectTimeout}, {spec.Operation, &c.OperationTimeout}} {
		if s, ok := o[t.name]; ok {
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Millisecond || d > 5*time.Minute {
				return c, invalid("%s must be a Go duration between 1ms and 5m, like 10s", tag(t.name))
			}
			*t.dst = d
		}
	}
	return c, nil
}

// orList writes "a", "b" or "c".
func orList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

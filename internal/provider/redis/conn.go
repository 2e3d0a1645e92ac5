package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// who logs in: a master (a refused login is bad configuration) or the
// credential under test (a refused login is a failed verification).
type who int

const (
	asMaster who = iota
	asCredential
)

// errRefused marks a login the server refused (WRONGPASS), which the self
// strategy answers by trying the other password it holds.
var errRefused = errors.New("the server refused the login")

// refused is a refused login's message, which errors.Is finds to be
// errRefused.
type refused string

func (r refused) Error() string      { return string(r) }
func (refused) Is(target error) bool { return target == errRefused }

// errNoPerm marks a command the user may not run (NOPERM), for the
// messages that name the ACL rule to grant.
var errNoPerm = errors.New("not permitted")

// noPerm is a NOPERM reply's message, which errors.Is finds to be
// errNoPerm.
type noPerm string

func (n noPerm) Error() string      { return string(n) }
func (noPerm) Is(target error) bool { return target == errNoPerm }

func isNoPerm(err error) bool { return errors.Is(err, errNoPerm) }

// session is one connection to one server as one user. Nothing is sent
// until the first command: go-redis authenticates (HELLO 2 AUTH user
// password, then AUTH alone if HELLO is refused) before it, and the
// command's error says whether the login or the command failed.
type session struct {
	client *goredis.Client
	at     endpoint
	user   string
	pass   string // only to keep it out of errors (scrub)
	as     who
	// loggedIn is set once the server accepted the login (go-redis's
	// OnConnect), which tells a refused login from a refused command:
	// go-redis returns the server's reply to either unwrapped.
	loggedIn atomic.Bool
}

// login prepares a session. Its commands run one at a time, on one
// connection, never retried or redialled behind the step's back
// (MaxRetries -1, one dial attempt): a step that fails returns, and the
// core retries it whole. PoolSize is above one on purpose: go-redis starts
// a background redial (tryDial) after PoolSize failed dials in a row, which
// would connect again to a server rotor has just found untrusted.
func (c config) login(ctx context.Context, e endpoint, user, pass string, as who) (*session, error) {
	if err := ctx.Err(); err != nil {
		return nil, rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider redis: connect to %s as %q: %w", e.address(), user, err))
	}
	tc, err := e.tlsConfig()
	if err != nil {
		return nil, err
	}
	s := &session{at: e, user: user, pass: pass, as: as}
	s.client = goredis.NewClient(&goredis.Options{
		Addr:                  e.address(),
		Username:              user,
		Password:              pass,
		TLSConfig:             tc,
		Protocol:              2,
		DisableIdentity:       true, // no CLIENT SETINFO, which a consumer's user may not run
		DialTimeout:           c.connectTimeout,
		DialerRetries:         1,
		ReadTimeout:           c.commandTimeout,
		WriteTimeout:          c.commandTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              4,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		OnConnect: func(context.Context, *goredis.Conn) error {
			s.loggedIn.Store(true)
			return nil
		},
	})
	return s, nil
}

func (s *session) close() { _ = s.client.Close() }

// do runs one command; what names it in errors.
func (s *session) do(ctx context.Context, what string, args ...any) (any, error) {
	v, err := s.client.Do(ctx, args...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.classify(err, what)
	}
	return v, nil
}

// hexHash matches what may be a password's SHA-256 in a server's error
// (ACL SETUSER quotes the rule it refuses).
var hexHash = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// classify maps an error to a rotor kind. Redis's messages name commands
// and users, never passwords (only hashes reach ACL SETUSER, and those
// are masked here).
func (s *session) classify(err error, what string) error {
	where := fmt.Sprintf("%s as %q", s.at.address(), s.user)
	if !s.loggedIn.Load() {
		what = "connect and log in"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		hint := ""
		if s.at.tls != Disable && !s.loggedIn.Load() {
			// A server without TLS waits for a command and never answers the
			// handshake's first message.
			hint = fmt.Sprintf(" (tls is %s: a server that does not speak TLS never answers the handshake)", s.at.tls)
		}
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider redis: %s: %s%s: %w", where, what, hint, err))
	}
	kind, fix := rotorerr.VerificationFailed, "check the value's host, port, tls and cacert"
	if s.as == asMaster {
		kind, fix = rotorerr.InvalidInput, "check the master's host, port, tls and cacert"
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostErr):
		return rotorerr.New(kind, fmt.Sprintf("provider redis: connect to %s: the server's TLS certificate is not trusted (%v) under tls %s; rotor sent no password (%s)", s.at.address(), err, s.at.tls, fix))
	case errors.As(err, &recordErr):
		return rotorerr.New(kind, fmt.Sprintf("provider redis: connect to %s: the server does not speak TLS, which tls %s requires; rotor sent no password (%s)", s.at.address(), s.at.tls, fix))
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		// Refused or unreachable servers, timeouts, resets.
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider redis: %s: %s: %w", where, what, err))
	}
	msg := s.scrub(rerr.Error())
	code, _, _ := strings.Cut(msg, " ")
	if !s.loggedIn.Load() && code != "WRONGPASS" && code != "NOAUTH" && code != "LOADING" && code != "BUSY" {
		// Neither HELLO nor AUTH was accepted, for a reason other than the
		// password: not a Redis with ACL users, or not Redis at all.
		return rotorerr.New(kind, fmt.Sprintf("provider redis: %s did not accept the login of user %q: %s (rotor needs Redis 7.0 or later, or Valkey; %s)", s.at.address(), s.user, msg, fix))
	}
	switch code {
	case "WRONGPASS", "NOAUTH":
		text := fmt.Sprintf("provider redis: %s refused the login of user %q (%s)", s.at.address(), s.user, code)
		if s.as == asMaster {
			text += "; check the master's username and password, and that the user is on"
		}
		return rotorerr.Wrap(kind, refused(text))
	case "NOPERM":
		return rotorerr.Wrap(rotorerr.InvalidInput, noPerm(fmt.Sprintf("provider redis: %s: %s: %s", where, what, msg)))
	case "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN":
		return rotorerr.New(rotorerr.Transient, fmt.Sprintf("provider redis: %s: %s: %s", where, what, msg))
	case "MOVED", "ASK", "READONLY":
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider redis: %s: %s: %s (rotor changes ACL users on one standalone primary: name it in host)", where, what, code))
	}
	if strings.Contains(msg, "max number of clients") {
		return rotorerr.New(rotorerr.Transient, fmt.Sprintf("provider redis: %s: %s: %s", where, what, msg))
	}
	if strings.Contains(strings.ToLower(msg), "wrong number of arguments for 'auth'") || strings.Contains(msg, "unknown subcommand") {
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider redis: %s: %s: %s (rotor needs Redis 7.0 or later, or Valkey: ACL users, ACL DRYRUN)", where, what, msg))
	}
	return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider redis: %s: %s: %s", where, what, msg))
}

// scrub keeps a server's message short and free of the session's
// password and of anything like a hash: Redis quotes no password in its
// errors, but whoever answers at an address may echo anything back.
func (s *session) scrub(msg string) string {
	if s.pass != "" {
		msg = strings.ReplaceAll(msg, s.pass, "<password>")
	}
	msg = hexHash.ReplaceAllString(msg, "<hash>")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return strings.ToValidUTF8(msg, "?")
}

// user is what ACL GETUSER says of an ACL user.
type user struct {
	on        bool
	passwords map[string]bool // SHA-256 hex
}

// getUser reads the ACL user name; found is false when there is none.
func (s *session) getUser(ctx context.Context, name string) (u user, found bool, err error) {
	v, err := s.do(ctx, "ACL GETUSER "+name, "ACL", "GETUSER", name)
	if err != nil || v == nil {
		return u, false, err
	}
	fields, ok := v.([]any)
	if !ok || len(fields)%2 != 0 {
		return u, false, s.unexpected("ACL GETUSER " + name)
	}
	u.passwords = map[string]bool{}
	for i := 0; i < len(fields); i += 2 {
		key, _ := fields[i].(string)
		list, _ := fields[i+1].([]any)
		for _, x := range list {
			str, _ := x.(string)
			switch key {
			case "flags":
				u.on = u.on || str == "on"
			case "passwords":
				u.passwords[str] = true
			}
		}
	}
	return u, true, nil
}

// mayRun checks, with ACL DRYRUN, that user may run the command args,
// naming rule, the ACL rule that would allow it, when it may not.
func (s *session) mayRun(ctx context.Context, user, rule string, args ...any) error {
	what := fmt.Sprintf("ACL DRYRUN %s %v", user, args[:2])
	v, err := s.do(ctx, what, append([]any{"ACL", "DRYRUN", user}, args...)...)
	if err != nil {
		if isNoPerm(err) {
			return invalid("%s: user %q may not run ACL DRYRUN, with which rotor checks its rights before changing anything: grant it +acl|dryrun", s.at.address(), s.user)
		}
		return err
	}
	if str, _ := v.(string); str != "OK" {
		return invalid("%s: user %q may not run %v (ACL DRYRUN says: %s): grant it %s", s.at.address(), user, args[:2], s.scrub(str), rule)
	}
	return nil
}

// setPasswords runs ACL SETUSER name with rules that are only resetpass,
// #<hash> and !<hash>: the server never receives a password.
func (s *session) setPasswords(ctx context.Context, name string, rules ...string) error {
	args := []any{"ACL", "SETUSER", name}
	for _, r := range rules {
		args = append(args, r)
	}
	_, err := s.do(ctx, "ACL SETUSER "+name+" (passwords)", args...)
	return err
}

// killClients ends the connections of user name, except this session's
// own (SKIPME yes, Redis's default). A user that is gone has none.
func (s *session) killClients(ctx context.Context, name string) error {
	_, err := s.do(ctx, "CLIENT KILL USER "+name, "CLIENT", "KILL", "USER", name, "SKIPME", "yes")
	if err != nil && strings.Contains(err.Error(), "No such user") {
		return nil
	}
	return err
}

// whoami is the user the session is logged in as. ok is false when the
// user may not run ACL WHOAMI: the login itself succeeded, which is all a
// user without that right can show (Redis 7.0's NOPERM names no user).
func (s *session) whoami(ctx context.Context) (name string, ok bool, err error) {
	v, err := s.client.Do(ctx, "ACL", "WHOAMI").Result()
	if goredis.IsPermissionError(err) && s.loggedIn.Load() {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.classify(err, "ACL WHOAMI")
	}
	name, isString := v.(string)
	if !isString {
		return "", false, s.unexpected("ACL WHOAMI")
	}
	return name, true, nil
}

func (s *session) unexpected(what string) error {
	return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider redis: %s: unexpected reply to %s: is it Redis 7 or Valkey?", s.at.address(), what))
}

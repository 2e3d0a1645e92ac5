// Package redis rotates the passwords of Redis ACL users (Redis 7.0 or
// later, Valkey).
//
// It is registered as "redis". The managed secret's value is
//
//	{"host": "cache.example.com", "port": 6379, "username": "app",
//	 "password": "...", "tls": "verify-full", "cacert": "/var/task/ca.pem"}
//
// host and username are required; port defaults to 6379. tls is one of
// "verify-full" (the default: TLS with the certificate checked against the
// system's roots, or against the PEM file cacert names, and the host
// name), "require" (TLS without checking the certificate) or "disable" (no
// TLS); cacert is read only with verify-full. Other fields are kept as
// they are. host is one DNS name or IP address.
//
// Redis has no challenge-response authentication: AUTH and HELLO carry the
// password itself, so whoever answers at an address that TLS does not
// verify receives it. Hence the rules below on where each password goes.
//
// # Strategies (tag rotor:strategy)
//
//   - multi-password (default): a master ACL user changes the managed
//     user's passwords. A Redis user may hold several passwords, so the
//     grace period needs no second user: Apply makes the user's passwords
//     exactly {current, new} with one atomic ACL SETUSER u resetpass
//     #<sha256(current)> #<sha256(new)>, so consumers on either password
//     keep working until expire. Exactly, not "add": a retried create
//     (a new password for the same token) drops the first attempt's, so
//     a token never leaves two live passwords; a rotation started during
//     another's grace period drops the older rotation's previous password
//     there and then (its grace ends early, as with postgres's alternating
//     roles); and passwords added to the user outside rotor are dropped at
//     the next rotation. Revoke (expire, rollback, cleanup) removes the
//     revoked password's hash (!<sha256>) and puts back the current one's
//     when it is missing (so a rollback leaves exactly {current}), in one
//     ACL SETUSER, then ends every connection of the user (CLIENT KILL USER
//     u): Redis keeps a connection authenticated after its password is
//     removed, and cannot tell which password a connection used, so
//     connections on the current password are ended too. Consumers must
//     reconnect (see below).
//   - self: the value is a master's own (the master secret rotates
//     itself; provider.SelfRotator). Create logs in with the current value
//     and checks, with ACL DRYRUN, that the user may change itself; Apply
//     logs in with the current value, or with the new one when the
//     current is refused (an earlier attempt got further), and sets the
//     passwords to exactly {current, new}; Verify logs in with the new
//     value under a master's connection rules; Revoke logs in with the
//     current value (or else the revoked one) and removes the revoked
//     password, puts back the current one when missing, and ends the
//     user's other connections (SKIPME yes: not its own).
//
// No password ever reaches the server except in the AUTH or HELLO of a
// login with that very password: ACL SETUSER carries SHA-256 hashes only
// (#<hex>, !<hex>, resetpass), which Redis stores anyway. MONITOR, which
// leaves administrative commands out, and SLOWLOG, which redacts ACL
// SETUSER's arguments, show no password either.
//
// # Where each credential goes
//
// The master secret (tag rotor:master-secret, multi-password only) holds an
// ACL user and the server it is for, in the same layout:
//
//	{"host": "cache.example.com", "port": 6379, "username": "rotor_admin",
//	 "password": "...", "tls": "verify-full", "cacert": "/var/task/ca.pem"}
//
// Its ACL rules must allow at least
//
//	+acl|getuser +acl|setuser +acl|dryrun +client|kill
//
// (ACL SETUSER cannot be limited to some users: such a user can change
// every user, itself included, so treat it as an administrator). Where the
// master credential goes comes from the master secret only, never from the
// managed secret, which anyone allowed to write it could point at a server
// of their own: host is required and tls defaults to verify-full; a master
// may say "disable" explicitly (a private network, loopback) but not
// "require", which would hand its password to whoever answers. The self
// strategy's value follows the same rules, being a master's, and its user
// needs the same four rules (plus +acl|whoami for Verify's identity check,
// below). The master's own user is never a multi-password target.
//
// The managed secret contributes the user: its username names an ACL user
// on the master's server. Its host, port, tls and cacert are its
// consumers' (a proxy or another DNS name for the same server is fine) and
// are used by Verify only, which logs in with the new password as
// consumers will: over tls "require" or "disable" that sends the password
// to whoever answers there, as the consumers themselves do, so that is the
// managed secret's owner's choice; the master's password never goes there.
// Verify then asks ACL WHOAMI and fails unless it names the user; a user
// not allowed ACL WHOAMI is verified by the login alone (Redis 7.0's NOPERM
// reply names no user).
//
// # Consumers
//
// Every revoke ends all connections of the user, so consumers' clients
// must reconnect when a connection drops (go-redis, redis-py and Jedis
// pools do) and, on a WRONGPASS reply to AUTH, read the secret again
// rather than retry the password they had: after expire only AWSCURRENT's
// password works. A grace period longer than the consumers' secret cache
// lets them move over before that.
//
// ACL users are per server: Redis does not replicate ACL SETUSER to
// replicas or to other cluster nodes, so name a standalone primary (or run
// a secret per node). Amazon ElastiCache's users (RBAC) take their
// passwords from its API (CreateUser, ModifyUser: up to two), not from
// ACL SETUSER: this provider does not rotate them.
//
// # Options (tags rotor:redis:<option>)
//
//	password-length     characters of a new password (default 32)
//	password-alphabet   characters to draw from (default A-Z a-z 0-9 -_.~)
//	connect-timeout     Go duration for connecting and logging in (default 5s)
//	command-timeout     Go duration for each command (default 10s)
//
// Errors: a malformed value or option, a master without host or with tls
// require, a master refused (WRONGPASS) or not allowed a command (NOPERM),
// a missing or disabled user, or an untrusted master server are
// rotorerr.InvalidInput; an unreachable or loading server (LOADING, BUSY),
// timeouts and cancellation are rotorerr.Transient; a new credential the
// server refuses, or whose server is not trusted, is
// rotorerr.VerificationFailed. Revoking the current credential, or with no
// current value, is rotorerr.Unsafe. Create checks everything it can (the
// master logs in and may change the user, the user exists and is on)
// before the core stores anything, and changes nothing.
package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Name is the provider's registered name.
const Name = "redis"

// Strategies.
const (
	MultiPassword = "multi-password"
	Self          = "self"
)

// It connects to the server the master secret (or, for self, the value)
// names, which a deployment may keep in private subnets.
func init() {
	provider.Register(Name, provider.Registration{
		New:   provider.Fixed(&Provider{}),
		Needs: provider.Needs{Network: []provider.Network{provider.NetPrivate}},
	})
}

// Provider rotates Redis ACL user passwords. The zero value is ready.
type Provider struct{}

// config is the decoded form of the options.
type config struct {
	strategy       string
	policy         password.Policy
	connectTimeout time.Duration
	commandTimeout time.Duration
}

func parse(o provider.Options) (config, error) {
	d, err := provider.ParseDBOptions(provider.DBSpec{Provider: Name, Strategies: []string{MultiPassword, Self}, Operation: "command-timeout"}, o)
	return config{strategy: d.Strategy, policy: d.Policy, connectTimeout: d.ConnectTimeout, commandTimeout: d.OperationTimeout}, err
}

func invalid(format string, args ...any) error {
	return rotorerr.New(rotorerr.InvalidInput, "provider redis: "+fmt.Sprintf(format, args...))
}

func unsafe(format string, args ...any) error {
	return rotorerr.New(rotorerr.Unsafe, "provider redis: "+fmt.Sprintf(format, args...))
}

// CheckOptions implements provider.OptionsChecker.
func (*Provider) CheckOptions(o provider.Options) error {
	_, err := parse(o)
	return err
}

// NeedsMaster implements provider.MasterUser: every strategy but self
// changes the user as the master.
func (*Provider) NeedsMaster(o provider.Options) bool { return o["strategy"] != Self }

// RotatesSelf implements provider.SelfRotator.
func (*Provider) RotatesSelf(o provider.Options) bool { return o["strategy"] == Self }

// PasswordPolicy implements provider.PasswordUser.
func (*Provider) PasswordPolicy(o provider.Options) (password.Policy, error) {
	c, err := parse(o)
	if err != nil {
		return password.Policy{}, err
	}
	return c.policy, nil
}

// Identify implements provider.Identifier: a password is what leaks.
func (*Provider) Identify(value []byte, _ provider.Options) (*provider.Identity, error) {
	v, err := decode("value", value)
	if err != nil {
		return nil, err
	}
	if v.Password == "" {
		return &provider.Identity{}, nil
	}
	return &provider.Identity{Secret: []byte(v.Password)}, nil
}

// secrets registers every password in ms, and its hash, with the request's
// redaction set.
func secrets(ctx context.Context, ms ...string) {
	for _, m := range ms {
		if m != "" {
			redact.Add(ctx, m)
			redact.Add(ctx, hash(m))
		}
	}
}

// Create implements provider.Provider. It changes nothing at the server:
// it checks that the user can be changed (as the master, or for self as
// the user itself) and returns the current value with the core's
// password, for the core to store as AWSPENDING before Apply sets it.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	c, err := parse(req.Options)
	if err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, invalid("no password to set: the rotation core draws one for this provider (provider.NewPassword)")
	}
	secrets(ctx, req.Password)
	if c.strategy == Self {
		err = c.checkSelf(ctx, req.Current)
	} else {
		err = c.checkMulti(ctx, req.Current, req.Master)
	}
	if err != nil {
		return nil, err
	}
	value, err := provider.SetFields(req.Current, map[string]any{"password": req.Password})
	if err != nil {
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

func (c config) checkMulti(ctx context.Context, current, masterSecret []byte) error {
	cur, err := decode("current value", current)
	if err != nil {
		return err
	}
	if err := cur.requireTarget("current value"); err != nil {
		return err
	}
	secrets(ctx, cur.Password)
	m, err := masterOf(masterSecret)
	if err != nil {
		return err
	}
	secrets(ctx, m.password)
	if cur.Username == m.username {
		return invalid("the master secret's user %q is the user being rotated; use another user as master, or the self strategy", m.username)
	}
	s, err := c.login(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.checkTarget(ctx, cur.Username); err != nil {
		return err
	}
	return s.checkRights(ctx, m.username, cur.Username)
}

func (c config) checkSelf(ctx context.Context, current []byte) error {
	m, err := loginOf("current value", current)
	if err != nil {
		return err
	}
	secrets(ctx, m.password)
	s, err := c.login(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.checkTarget(ctx, m.username); err != nil {
		return err
	}
	return s.checkRights(ctx, m.username, m.username)
}

// checkTarget checks that the user exists and is on: rotor sets
// passwords, it does not enable users someone turned off.
func (s *session) checkTarget(ctx context.Context, name string) error {
	u, found, err := s.getUser(ctx, name)
	switch {
	case isNoPerm(err):
		return invalid("%s: user %q may not run ACL GETUSER, with which rotor checks the user it changes: grant it +acl|getuser", s.at.address(), s.user)
	case err != nil:
		return err
	case !found:
		return invalid("ACL user %q does not exist on %s (the master's server); rotor changes the passwords of existing users, it does not create them", name, s.at.address())
	case !u.on:
		return invalid("ACL user %q on %s is off; rotor does not turn users on (ACL SETUSER %s on)", name, s.at.address(), name)
	}
	return nil
}

// checkRights checks that master may change target's passwords and end its
// connections.
func (s *session) checkRights(ctx context.Context, master, target string) error {
	if err := s.mayRun(ctx, master, "+acl|setuser", "ACL", "SETUSER", target, "resetpass"); err != nil {
		return err
	}
	return s.mayRun(ctx, master, "+client|kill", "CLIENT", "KILL", "USER", target)
}

// Apply implements provider.Applier: the user's passwords become exactly
// {current, new}, by hash. Applying again changes nothing.
func (p *Provider) Apply(ctx context.Context, req *provider.ApplyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	if c.strategy == Self {
		return c.applySelf(ctx, req)
	}
	v, err := decode("new value", req.Value)
	if err != nil {
		return err
	}
	if err := v.requireCredential("new value"); err != nil {
		return err
	}
	secrets(ctx, v.Password)
	cur, err := decode("current value", req.Current)
	if err != nil {
		return err
	}
	secrets(ctx, cur.Password)
	if cur.Username != v.Username {
		return invalid("the new value names user %q and the current value %q; a rotation keeps the user", v.Username, cur.Username)
	}
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	secrets(ctx, m.password)
	if v.Username == m.username {
		return invalid("the master secret's user %q is the user being rotated; use another user as master, or the self strategy", m.username)
	}
	s, err := c.login(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	return s.setPair(ctx, v.Username, cur.Password, v.Password)
}

// setPair makes name's passwords exactly {current, next} (just {next} when
// the current value has none), after checking the user exists: ACL
// SETUSER would create a missing one.
func (s *session) setPair(ctx context.Context, name, current, next string) error {
	if err := s.checkTarget(ctx, name); err != nil {
		return err
	}
	rules := []string{"resetpass"}
	if current != "" {
		rules = append(rules, "#"+hash(current))
	}
	rules = append(rules, "#"+hash(next))
	return s.setPasswords(ctx, name, rules...)
}

func (c config) applySelf(ctx context.Context, req *provider.ApplyRequest) error {
	cur, err := loginOf("current value", req.Current)
	if err != nil {
		return err
	}
	secrets(ctx, cur.password)
	next, err := loginOf("new value", req.Value)
	if err != nil {
		return err
	}
	secrets(ctx, next.password)
	if next.username != cur.username {
		return invalid("the new value names user %q and the current value %q; a rotation keeps the user", next.username, cur.username)
	}
	s, err := c.loginEither(ctx, cur, next)
	if err != nil {
		return err
	}
	defer s.close()
	return s.setPair(ctx, cur.username, cur.password, next.password)
}

// loginEither logs in as first, or as second when the server refuses
// first's password, and checks the login with a first command (ACL
// GETUSER of the user, which every self step needs).
func (c config) loginEither(ctx context.Context, first, second master) (*session, error) {
	s, err := c.login(ctx, first.at, first.username, first.password, asMaster)
	if err != nil {
		return nil, err
	}
	_, _, err = s.getUser(ctx, first.username)
	if err == nil {
		return s, nil
	}
	s.close()
	if !isRefused(err) {
		return nil, err
	}
	s2, err2 := c.login(ctx, second.at, second.username, second.password, asMaster)
	if err2 != nil {
		return nil, err2
	}
	if _, _, err2 = s2.getUser(ctx, second.username); err2 != nil {
		s2.close()
		if isRefused(err2) {
			return nil, rotorerr.Wrap(rotorerr.InvalidInput, refused(fmt.Sprintf("provider redis: %s refused both the current and the new password of user %q", first.at.address(), first.username)))
		}
		return nil, err2
	}
	return s2, nil
}

func isRefused(err error) bool {
	return errors.Is(err, errRefused)
}

// Verify implements provider.Provider: a fresh connection logs in with the
// new password alone and is the user the value names.
func (p *Provider) Verify(ctx context.Context, req *provider.VerifyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	var at endpoint
	var username, pass string
	if c.strategy == Self {
		m, err := loginOf("value", req.Value)
		if err != nil {
			return err
		}
		at, username, pass = m.at, m.username, m.password
	} else {
		v, err := decode("value", req.Value)
		if err != nil {
			return err
		}
		if err := v.requireCredential("value"); err != nil {
			return err
		}
		at, username, pass = v.endpoint(), v.Username, v.Password
	}
	secrets(ctx, pass)
	s, err := c.login(ctx, at, username, pass, asCredential)
	if err != nil {
		return err
	}
	defer s.close()
	name, ok, err := s.whoami(ctx)
	if err != nil {
		return err
	}
	if ok && name != username {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider redis: %s: logged in as %q, the value names %q", at.address(), name, username))
	}
	return nil
}

// Revoke implements provider.Provider: the revoked value's password stops
// working, the current value's works (it is put back if missing), and
// every connection of the user ends (for self, every other one). A user
// that no longer exists, or a password already gone, is success.
func (p *Provider) Revoke(ctx context.Context, req *provider.RevokeRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	what := "version " + req.VersionID
	v, err := decode(what, req.Value)
	if err != nil {
		return err
	}
	if err := v.requireTarget(what); err != nil {
		return err
	}
	secrets(ctx, v.Password)
	if len(req.Current) == 0 {
		return unsafe("refusing to revoke with no current value: the password might be the one consumers use")
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		return unsafe("refusing to revoke: the current value cannot be read to check it is not the same credential (%v)", err)
	}
	secrets(ctx, cur.Password)
	if v.Username == cur.Username && v.Password == cur.Password {
		return unsafe("refusing to revoke %s: it holds the current password", what)
	}
	if v.Password == "" {
		return nil // no password, no credential
	}
	// What stays: the current password, when it is the same user's.
	keep := ""
	if cur.Username == v.Username {
		keep = cur.Password
	}
	if c.strategy == Self {
		return c.revokeSelf(ctx, req, v, keep)
	}
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	secrets(ctx, m.password)
	if v.Username == m.username {
		return unsafe("refusing to revoke a password of user %q: it is the master secret's", v.Username)
	}
	s, err := c.login(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	return s.revoke(ctx, v.Username, v.Password, keep)
}

// revoke removes gone's hash from name's passwords and adds keep's when
// missing, in one ACL SETUSER, then ends name's connections. It runs even
// when the passwords are already right: an earlier attempt may have
// stopped before the kill.
func (s *session) revoke(ctx context.Context, name, gone, keep string) error {
	u, found, err := s.getUser(ctx, name)
	if err != nil || !found {
		return err // a user that is gone holds no credential
	}
	var rules []string
	if h := hash(gone); u.passwords[h] {
		rules = append(rules, "!"+h)
	}
	if h := hash(keep); keep != "" && !u.passwords[h] {
		rules = append(rules, "#"+h)
	}
	if len(rules) > 0 {
		if err := s.setPasswords(ctx, name, rules...); err != nil {
			return err
		}
	}
	return s.killClients(ctx, name)
}

func (c config) revokeSelf(ctx context.Context, req *provider.RevokeRequest, v value, keep string) error {
	cur, err := loginOf("current value", req.Current)
	if err != nil {
		return err
	}
	gone, err := loginOf("version "+req.VersionID, req.Value)
	if err != nil {
		return err
	}
	s, err := c.loginEither(ctx, cur, gone)
	if isRefused(err) {
		return nil // neither logs in: the revoked password is already gone
	}
	if err != nil {
		return err
	}
	defer s.close()
	return s.revoke(ctx, v.Username, v.Password, keep)
}

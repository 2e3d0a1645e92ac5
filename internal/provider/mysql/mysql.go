// Package mysql rotates the passwords of MySQL and MariaDB accounts.
//
// It is registered as "mysql". The managed secret's value follows the
// layout AWS uses for database secrets, so secrets made for AWS's own
// rotation templates work unchanged:
//
//	{"engine": "mysql", "host": "db.example.com", "port": 3306,
//	 "username": "app", "password": "...", "dbname": "shop",
//	 "tls": "verify-full", "tlsrootcert": "/var/task/global-bundle.pem"}
//
// host and username are required; engine is "mysql", "mariadb" or
// "aurora-mysql" when present (the server itself tells which it is: by
// VERSION()); port defaults to 3306; dbname is the default database
// Verify logs in to, as consumers would. host is one DNS name or IP
// address. Other fields are kept as they are.
//
// TLS (the field "tls", MySQL's --ssl-mode in brackets):
//
//	verify-full  TLS; the certificate and the host name checked (VERIFY_IDENTITY)
//	verify-ca    TLS; the certificate checked, not the name (VERIFY_CA)
//	require      TLS; the server not checked (REQUIRED)
//	preferred    TLS when the server offers it, unchecked (PREFERRED)
//	disable      no TLS (DISABLED)
//
// Certificates are checked against the PEM file "tlsrootcert" names (for
// Amazon RDS, AWS's global-bundle.pem shipped with the function), else the
// system's roots. A managed value defaults to preferred, MySQL clients'
// own default.
//
// The master secret (tag rotor:master-secret; every strategy but self) is
// in the same layout. Where the master credential goes comes from the
// master secret only, never from the managed secret, which anyone allowed
// to write it could point at a server of their own: its host is required,
// its port defaults to 3306, its tls to verify-full; it may say verify-ca,
// require or, explicitly, disable; preferred is refused, as it falls back
// to cleartext without saying so. A master connects without a default
// database (its dbname is not used). Other fields, such as the consent list
// "rotor" that the rotation core reads, are ignored.
//
// The managed secret contributes the user: its username names a user on
// the master's server. Its host, port, tls and tlsrootcert are its
// consumers' (a proxy or another DNS name for the same server is fine) and
// are used by Verify only, which logs in with the new credential itself.
//
// Over any connection that does not verify the server (require, preferred,
// disable), rotor lets the driver answer only mysql_native_password (a
// challenge-response), client_ed25519 (a signature) and
// caching_sha2_password's fast path (a challenge-response), none of which
// gives the password to the server; a server asking for cleartext,
// sha256_password or caching_sha2_password's full authentication (the
// password in cleartext inside TLS, or encrypted to an RSA key the server
// supplies) gets nothing and the step fails naming what it asked (see
// guard). That keeps a password from a server that is not the real one; it
// does not make that server real: MySQL's logins do not authenticate the
// server, so a server at an unverified address can accept a login it
// cannot check and then read the statements (hashes) it is sent. Masters
// should use verify-full. Over a verified connection the server is the
// one the secret names and rotor answers it as any client would (MySQL 8's
// caching_sha2_password full authentication sends the password inside
// that TLS). mysql_clear_password and mysql_old_password are never
// answered.
//
// Passwords are drawn by the core (provider.PasswordUser) and never reach
// the server in cleartext: rotor reads each account's authentication
// plugin (MariaDB: mysql.global_priv; MySQL: mysql.user), computes the
// stored form here and sets that: mysql_native_password's
// "*"+HEX(SHA1(SHA1(password))) with ALTER USER ... IDENTIFIED VIA
// mysql_native_password USING (MariaDB) or IDENTIFIED WITH
// mysql_native_password AS (MySQL); MariaDB's ed25519 public key (its
// auth_ed25519's digest) with IDENTIFIED VIA ed25519 USING. A general
// query log shows only hashes. Accounts on caching_sha2_password or
// sha256_password (MySQL 8's defaults), on several methods at once, or on
// a plugin without a password (unix_socket, pam) are refused with
// rotorerr.InvalidInput naming the plugin: rotor cannot compute their
// stored form here without a server to prove it against, and will not send
// the cleartext.
//
// A user name may have several accounts ('app'@'%' and 'app'@'10.%'):
// rotor sets the password of every account of the user name, in one ALTER
// USER, and refuses (InvalidInput) a user name with none. Account names are
// quoted as `identifiers`, user names compared as bind parameters, so
// quotes, backticks, '@' and '%' in a user name are just characters.
//
// Strategies (tag rotor:strategy):
//
//   - single (default): one user, whose password Apply changes as the
//     master. The old password stops working at once, while consumers still
//     read it as AWSCURRENT until switchover moves the label: new logins in
//     that window fail and should be retried by the consumer (reconnect on
//     error 1045 after reading the secret again). There is no old password
//     left for a grace period to honour: set rotor:grace-period to 0s.
//     Expire and rollback set the current value's password again, so a
//     rolled-back rotation restores the old password.
//   - alternating: two users, <user> and <user>_clone, used in turn, as in
//     AWS's multi-user template. Create picks the user the current value
//     does not use; Apply sets its password and ACCOUNT UNLOCK. For the
//     clone, Apply first makes it match <user>, on every host <user> has an
//     account at: created when missing (CREATE USER with <user>'s account
//     settings: REQUIRE, resource limits, password expiry), then given
//     exactly <user>'s grants: each line of SHOW GRANTS FOR <user>
//     replayed for the clone without its IDENTIFIED clause (the clone never
//     gets <user>'s hash, only its own), grants the clone has and <user>
//     has not revoked from it, and the result compared (a difference left
//     is rotorerr.Unsafe, naming the lines). Grant privileges to
//     <user>: the clone follows at each rotation to it. The previous user
//     keeps working through the grace period; expire then shuts it out:
//     ACCOUNT LOCK, its password replaced by the hash of a random one
//     nobody holds, and KILL CONNECTION of each of its sessions. Consumers
//     must reconnect with the current secret within the grace period (a
//     pool's maximum connection lifetime below it does that).
//   - self: the managed secret is a master's own (provider.SelfRotator):
//     no master secret; the value's host, port and tls are where it logs
//     in, under the master's rules (verify-full by default, preferred
//     refused). Create logs in with the current value and checks the
//     account may alter itself; Apply logs in with the current value, or,
//     when that login is refused, with the new one (an earlier attempt
//     applied it), and sets the new password on every account of the user
//     name; Verify logs in with the new value; Revoke logs in with the
//     current value, else with the revoked one, and sets the current
//     password again.
//
// What a master needs (Create checks it before the core stores anything):
//
//	single       CREATE USER ON *.*; SELECT ON mysql.global_priv (MariaDB)
//	             or mysql.user (MySQL)
//	alternating  the same, SELECT ON mysql.* (SHOW GRANTS and SHOW CREATE
//	             USER of another account), PROCESS and CONNECTION ADMIN
//	             (MySQL: CONNECTION_ADMIN; or SUPER) ON *.*, every privilege
//	             <user> holds WITH GRANT OPTION at its level or above, every
//	             role it holds WITH ADMIN OPTION, and on MariaDB, when
//	             <user> has a default role, UPDATE ON mysql.*
//	self         the account itself: CREATE USER ON *.* and SELECT ON
//	             mysql.global_priv or mysql.user
//
// Options (tags rotor:mysql:<option>):
//
//	password-length     characters of a new password (default 32)
//	password-alphabet   characters to draw from (default A-Z a-z 0-9 -_.~;
//	                    characters that break connection strings are refused)
//	connect-timeout     Go duration for connecting and logging in (default 5s)
//	statement-timeout   Go duration for each statement (default 10s): lock
//	                    waits, and on MariaDB max_statement_time
//
// Errors: a malformed value, a master without host or with a tls it may not
// use, a refused master login, a server that is not trusted (certificate,
// no TLS, an authentication method that would give the password away), a
// missing user, an account rotor cannot set the password of, or a master
// without a privilege it needs are rotorerr.InvalidInput, naming the field,
// account or privilege; an unreachable or overloaded server, lock waits and
// timeouts are rotorerr.Transient; a new credential the server refuses, or
// that Verify cannot present safely, is rotorerr.VerificationFailed. No
// error carries a password or a hash.
package mysql

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Name is the provider's registered name.
const Name = "mysql"

// Strategies.
const (
	Single      = "single"
	Alternating = "alternating"
	Self        = "self"
)

// CloneSuffix names the second user of the alternating strategy.
const CloneSuffix = "_clone"

// It connects to the database the master secret (or, for self, the value)
// names, which a deployment may keep in private subnets.
func init() {
	provider.Register(Name, provider.Registration{
		New:   provider.Fixed(&Provider{}),
		Needs: provider.Needs{Network: []provider.Network{provider.NetPrivate}},
	})
}

// Provider rotates MySQL and MariaDB account passwords. The zero value is
// ready.
type Provider struct{}

// config is the decoded form of the options.
type config struct {
	strategy         string
	policy           password.Policy
	connectTimeout   time.Duration
	statementTimeout time.Duration
}

func parse(o provider.Options) (config, error) {
	d, err := provider.ParseDBOptions(provider.DBSpec{Provider: Name, Strategies: []string{Single, Alternating, Self}, Operation: "statement-timeout"}, o)
	return config{strategy: d.Strategy, policy: d.Policy, connectTimeout: d.ConnectTimeout, statementTimeout: d.OperationTimeout}, err
}

func invalid(format string, args ...any) error {
	return rotorerr.New(rotorerr.InvalidInput, "provider mysql: "+fmt.Sprintf(format, args...))
}

func unsafe(format string, args ...any) error {
	return rotorerr.New(rotorerr.Unsafe, "provider mysql: "+fmt.Sprintf(format, args...))
}

// CheckOptions implements provider.OptionsChecker.
func (*Provider) CheckOptions(o provider.Options) error {
	_, err := parse(o)
	return err
}

// NeedsMaster implements provider.MasterUser: every strategy but self
// alters accounts as the master.
func (*Provider) NeedsMaster(o provider.Options) bool {
	c, err := parse(o)
	return err != nil || c.strategy != Self
}

// RotatesSelf implements provider.SelfRotator.
func (*Provider) RotatesSelf(o provider.Options) bool {
	c, err := parse(o)
	return err == nil && c.strategy == Self
}

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

// target names the users of a strategy for a current username: the user a
// new password goes to, and the base user that must exist (the same user
// for single and self).
func (c config) target(current string) (target, base string, err error) {
	if c.strategy != Alternating {
		return current, current, nil
	}
	base = strings.TrimSuffix(current, CloneSuffix)
	if base == "" {
		return "", "", invalid("username %q is only the clone suffix", current)
	}
	if current == base {
		return base + CloneSuffix, base, nil
	}
	return base, base, nil
}

// Create implements provider.Provider. It changes nothing at the server:
// it checks that the master (or, for self, the account itself) may do what
// Apply and Revoke will, that the user exists and that its accounts hold
// passwords rotor can set, and returns the new value (the core's password,
// the strategy's user) for the core to store as AWSPENDING before Apply
// sets it.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	c, err := parse(req.Options)
	if err != nil {
		return nil, err
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		return nil, err
	}
	if err := cur.requireTarget("current value"); err != nil {
		return nil, err
	}
	redact.Add(ctx, cur.Password)
	if req.Password == "" {
		return nil, invalid("no password to set: the rotation core draws one for this provider (provider.NewPassword)")
	}
	redact.Add(ctx, req.Password)
	if c.strategy == Self {
		if err := c.checkSelf(ctx, cur); err != nil {
			return nil, err
		}
		value, err := provider.SetFields(req.Current, map[string]any{"password": req.Password})
		if err != nil {
			return nil, err
		}
		return &provider.CreateResponse{Value: value}, nil
	}
	m, err := masterOf(req.Master)
	if err != nil {
		return nil, err
	}
	redact.Add(ctx, m.password)
	target, base, err := c.target(cur.Username)
	if err != nil {
		return nil, err
	}
	// The managed secret names a user on the master's server (its own host
	// is for its consumers and may name a proxy), so names compare there.
	if target == m.username || base == m.username {
		return nil, invalid("the master secret's user %q is the user being rotated; use another account as master, or the self strategy", m.username)
	}
	s, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := c.checkMaster(ctx, s, m.username, base); err != nil {
		return nil, err
	}
	value, err := provider.SetFields(req.Current, map[string]any{"username": target, "password": req.Password})
	if err != nil {
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

// checkMaster checks, without changing anything, that the master may do
// what the strategy will do to user base (and its clone).
func (c config) checkMaster(ctx context.Context, s *session, masterUser, base string) error {
	h, err := s.holdings(ctx)
	if err != nil {
		return err
	}
	if !h.global("CREATE USER") {
		return invalid("the master %q lacks the CREATE USER privilege, which setting another account's password needs (GRANT CREATE USER ON *.* TO it)", masterUser)
	}
	accts, err := s.accounts(ctx, base)
	if err != nil {
		return err
	}
	if len(accts) == 0 {
		return invalid("user %q has no account on %s (the master secret's server)", base, s.at.address())
	}
	if err := s.checkPlugins(accts); err != nil {
		return err
	}
	if c.strategy != Alternating {
		return nil
	}
	clone := base + CloneSuffix
	if err := s.checkName(ctx, clone, " (the alternating strategy's second user: use a shorter user name)"); err != nil {
		return err
	}
	if !h.global("PROCESS") {
		return invalid("the master %q lacks the PROCESS privilege, which the alternating strategy needs to find the sessions of the user it shuts out (GRANT PROCESS ON *.* TO it)", masterUser)
	}
	if !h.global("CONNECTION ADMIN", "CONNECTION_ADMIN", "SUPER") {
		return invalid("the master %q lacks CONNECTION ADMIN (MySQL: CONNECTION_ADMIN; or SUPER), which the alternating strategy needs to end the sessions of the user it shuts out", masterUser)
	}
	clones, err := s.accounts(ctx, clone)
	if err != nil {
		return err
	}
	if err := s.checkPlugins(clones); err != nil {
		return err
	}
	for _, a := range accts {
		lines, err := s.grantsOf(ctx, a.account)
		if err != nil {
			return err
		}
		for _, g := range lines {
			if lack := h.missing(g); lack != "" {
				return invalid("the master %q cannot give the grants of %s to %s: it lacks %s", masterUser, a.account, clone, lack)
			}
		}
		if _, err := s.settingsOf(ctx, a.account); err != nil {
			return err
		}
	}
	return nil
}

// checkSelf checks that the self strategy's account logs in and may alter
// every account of its user name.
func (c config) checkSelf(ctx context.Context, cur value) error {
	at, err := cur.masterEndpoint("current value")
	if err != nil {
		return err
	}
	s, err := c.connect(ctx, at, cur.Username, cur.Password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	who, err := s.currentUser(ctx)
	if err != nil {
		return err
	}
	if who != cur.Username {
		return invalid("the current value logs in as user %q, not %q (an anonymous or proxied account?)", who, cur.Username)
	}
	h, err := s.holdings(ctx)
	if err != nil {
		return err
	}
	if !h.global("CREATE USER") {
		return invalid("user %q lacks the CREATE USER privilege, which the self strategy needs to set its own password from a hash on every account of its name (GRANT CREATE USER ON *.* TO it)", cur.Username)
	}
	accts, err := s.accounts(ctx, cur.Username)
	if err != nil {
		return err
	}
	return s.checkPlugins(accts)
}

// Apply implements provider.Applier: it sets the stored password on every
// account of the value's user, making the alternating strategy's clone
// match its base user first. Applying again sets the same hash.
func (p *Provider) Apply(ctx context.Context, req *provider.ApplyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	v, err := decode("new value", req.Value)
	if err != nil {
		return err
	}
	if err := v.requireCredential("new value"); err != nil {
		return err
	}
	redact.Add(ctx, v.Password)
	if c.strategy == Self {
		return c.applySelf(ctx, v, req.Current)
	}
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	redact.Add(ctx, m.password)
	_, base, err := c.target(v.Username)
	if err != nil {
		return err
	}
	if v.Username == m.username || base == m.username {
		return invalid("the master secret's user %q is the user being rotated; use another account as master, or the self strategy", m.username)
	}
	s, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	redactHashes(ctx, s.flavor, v.Password)
	if c.strategy == Alternating && v.Username != base {
		if err := s.matchClone(ctx, base, v.Username, v.Password); err != nil {
			return err
		}
	}
	accts, err := s.accounts(ctx, v.Username)
	if err != nil {
		return err
	}
	if len(accts) == 0 {
		return invalid("user %q has no account on %s (the master secret's server)", v.Username, s.at.address())
	}
	lock := ""
	if c.strategy == Alternating {
		// An earlier expire locked it.
		lock = "ACCOUNT UNLOCK"
	}
	return s.setPassword(ctx, "set the password of user "+v.Username, accts, v.Password, lock, false)
}

// redactHashes records the stored forms of password, which are as good as
// the password to whoever also watches a login.
func redactHashes(ctx context.Context, f flavor, password string) {
	for _, plugin := range []string{pluginNative, pluginEd25519} {
		if _, hash, err := authClause(f, plugin, password); err == nil {
			redact.Add(ctx, hash)
		}
	}
}

// matchClone makes clone match base on every host base has an account at:
// created when missing, with base's account settings and exactly base's
// grants. The clone's password is the one being applied, never base's.
func (s *session) matchClone(ctx context.Context, base, clone, password string) error {
	bases, err := s.accounts(ctx, base)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		return invalid("user %q, which %q clones, has no account on %s (the master secret's server)", base, clone, s.at.address())
	}
	if err := s.checkPlugins(bases); err != nil {
		return err
	}
	clones, err := s.accounts(ctx, clone)
	if err != nil {
		return err
	}
	for _, b := range bases {
		settings, err := s.settingsOf(ctx, b.account)
		if err != nil {
			return err
		}
		cl := account{user: clone, host: b.host}
		if !slices.ContainsFunc(clones, func(a userAccount) bool { return a.host == b.host }) {
			clause, hash, err := authClause(s.flavor, b.plugin, password)
			if err != nil {
				return err
			}
			stmt := strings.TrimSpace("CREATE USER " + cl.quoted() + " " + clause + " " + settings)
			if err := s.exec(ctx, "create "+cl.String(), stmt, hash); err != nil {
				return err
			}
		} else if err := s.matchSettings(ctx, cl, settings); err != nil {
			return err
		}
		if err := s.matchGrants(ctx, b.account, cl); err != nil {
			return err
		}
	}
	return nil
}

// matchSettings gives an existing clone account the base's settings.
func (s *session) matchSettings(ctx context.Context, cl account, want string) error {
	have, err := s.settingsOf(ctx, cl)
	if err != nil || have == want {
		return err
	}
	if err := s.exec(ctx, "reset the account settings of "+cl.String(), "ALTER USER "+cl.quoted()+" "+resetSettings); err != nil {
		return err
	}
	if want != "" {
		if err := s.exec(ctx, "copy the account settings to "+cl.String(), "ALTER USER "+cl.quoted()+" "+want); err != nil {
			return err
		}
	}
	if have, err = s.settingsOf(ctx, cl); err != nil {
		return err
	}
	if have != want {
		return unsafe("the account settings of %s still differ from its base's after copying them (%q, want %q); align them by hand", cl, have, want)
	}
	return nil
}

// matchGrants gives cl exactly base's grants: base's lines it lacks are
// granted, lines base has not are revoked, and the result is compared.
func (s *session) matchGrants(ctx context.Context, base, cl account) error {
	want, err := s.grantsOf(ctx, base)
	if err != nil {
		return err
	}
	wantSet := normals(want)
	grantMissing := func() ([]grantLine, error) {
		have, err := s.grantsOf(ctx, cl)
		if err != nil {
			return nil, err
		}
		haveSet := normals(have)
		added := false
		for _, g := range want {
			if !slices.Contains(haveSet, g.normal()) {
				if err := s.exec(ctx, "copy a grant of "+base.String()+" to "+cl.String(), g.forAccount(cl)); err != nil {
					return nil, err
				}
				added = true
			}
		}
		if !added {
			return have, nil
		}
		return s.grantsOf(ctx, cl)
	}
	have, err := grantMissing()
	if err != nil {
		return err
	}
	revoked := false
	for _, g := range have {
		if slices.Contains(wantSet, g.normal()) {
			continue
		}
		for _, stmt := range g.undo(cl) {
			if err := s.exec(ctx, "revoke from "+cl.String()+" a grant "+base.String()+" does not have", stmt); err != nil {
				return err
			}
			revoked = true
		}
	}
	if revoked {
		// A revoked line may have held privileges base has too.
		if have, err = grantMissing(); err != nil {
			return err
		}
	}
	if got := normals(have); !slices.Equal(got, wantSet) {
		return unsafe("the grants of %s still differ from %s's after copying them (has %q, want %q); align them by hand", cl, base, got, wantSet)
	}
	return nil
}

// applySelf logs in as the account itself, with the current value or,
// when the server refuses it, with the new one, and sets the new password.
func (c config) applySelf(ctx context.Context, v value, current []byte) error {
	cur, err := decode("current value", current)
	if err != nil {
		return err
	}
	if err := cur.requireCredential("current value"); err != nil {
		return err
	}
	redact.Add(ctx, cur.Password)
	if cur.Username != v.Username {
		return invalid("the self strategy keeps the user: the new value names %q, the current one %q", v.Username, cur.Username)
	}
	s, err := c.loginSelf(ctx, cur, v)
	if err != nil {
		return err
	}
	defer s.close()
	redactHashes(ctx, s.flavor, v.Password)
	accts, err := s.accounts(ctx, v.Username)
	if err != nil {
		return err
	}
	if len(accts) == 0 {
		return invalid("user %q has no account on %s", v.Username, s.at.address())
	}
	return s.setPassword(ctx, "set the password of user "+v.Username, accts, v.Password, "", false)
}

// loginSelf logs in with first, or, when the server refuses first, with
// second; each at its own value's host under the master's rules.
func (c config) loginSelf(ctx context.Context, first, second value) (*session, error) {
	at, err := first.masterEndpoint("current value")
	if err != nil {
		return nil, err
	}
	s, err := c.connect(ctx, at, first.Username, first.Password, asMaster)
	if err == nil || !isRefused(err) {
		return s, err
	}
	at2, err2 := second.masterEndpoint("value")
	if err2 != nil {
		return nil, err2
	}
	s, err2 = c.connect(ctx, at2, second.Username, second.Password, asMaster)
	if err2 != nil {
		if isRefused(err2) {
			return nil, err // the first refusal says more
		}
		return nil, err2
	}
	return s, nil
}

// Verify implements provider.Provider: the new credential logs in, alone,
// and is the user the value names.
func (p *Provider) Verify(ctx context.Context, req *provider.VerifyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	v, err := decode("value", req.Value)
	if err != nil {
		return err
	}
	if err := v.requireCredential("value"); err != nil {
		return err
	}
	redact.Add(ctx, v.Password)
	at := v.credentialEndpoint()
	if c.strategy == Self {
		if at, err = v.masterEndpoint("value"); err != nil {
			return err
		}
	}
	s, err := c.connect(ctx, at, v.Username, v.Password, asCredential)
	if err != nil {
		return err
	}
	defer s.close()
	user, err := s.currentUser(ctx)
	if err != nil {
		return err
	}
	if user != v.Username {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider mysql: logged in as user %q, the value names %q", user, v.Username))
	}
	return nil
}

// Revoke implements provider.Provider. When the revoked value's user is
// the current value's (single and self; a rolled-back or abandoned
// password), every account of it gets the current value's password again,
// which ends the revoked password and keeps the current one working. When
// it is another user (alternating), that user is shut out: ACCOUNT LOCK,
// its password replaced by a random one's hash, its sessions killed. A
// user that no longer exists is success.
func (p *Provider) Revoke(ctx context.Context, req *provider.RevokeRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	v, err := decode("version "+req.VersionID, req.Value)
	if err != nil {
		return err
	}
	if err := v.requireTarget("version " + req.VersionID); err != nil {
		return err
	}
	redact.Add(ctx, v.Password)
	if len(req.Current) == 0 {
		return unsafe("refusing to revoke with no current value: its user might be the one consumers use")
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		return unsafe("refusing to revoke: the current value cannot be read to check it is not the same credential (%v)", err)
	}
	redact.Add(ctx, cur.Password)
	if v.Username == cur.Username && v.Password == cur.Password {
		return unsafe("refusing to revoke version %s: it holds the current credential", req.VersionID)
	}
	if c.strategy == Self {
		return c.revokeSelf(ctx, v, cur)
	}
	// The versions' hosts are not compared: the user is shut out or reset
	// on the master's server whatever host a version names (its consumers'
	// name for the server, a proxy perhaps), and a refusal when the owner
	// renames it would leave the old credential live.
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	redact.Add(ctx, m.password)
	if v.Username == m.username {
		return unsafe("refusing to shut out user %q: it is the master secret's", v.Username)
	}
	s, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer s.close()
	accts, err := s.accounts(ctx, v.Username)
	if err != nil || len(accts) == 0 {
		return err // a user that is gone holds no credential
	}
	if v.Username == cur.Username {
		if cur.Password == "" {
			return unsafe("refusing to revoke version %s: the current value has no password to restore", req.VersionID)
		}
		redactHashes(ctx, s.flavor, cur.Password)
		return s.setPassword(ctx, "restore the current password of user "+v.Username, accts, cur.Password, "", false)
	}
	h, err := s.holdings(ctx)
	if err != nil {
		return err
	}
	if !h.global("PROCESS") || !h.global("CONNECTION ADMIN", "CONNECTION_ADMIN", "SUPER") {
		return invalid("the master %q needs PROCESS and CONNECTION ADMIN (MySQL: CONNECTION_ADMIN; or SUPER) to end the sessions of user %q, which it shuts out", m.username, v.Username)
	}
	nobody := rand.Text() // a password nobody holds
	if err := s.setPassword(ctx, "shut out user "+v.Username, accts, nobody, "ACCOUNT LOCK", true); err != nil {
		return err
	}
	return s.kill(ctx, v.Username)
}

// revokeSelf logs in as the account itself, with the current value or else
// the revoked one, and sets the current password again. When neither logs
// in, the revoked credential is already gone.
func (c config) revokeSelf(ctx context.Context, v, cur value) error {
	if err := cur.requireCredential("current value"); err != nil {
		return err
	}
	if v.Username != cur.Username {
		return unsafe("refusing to revoke: the self strategy's versions name one user, but the revoked one names %q and the current one %q", v.Username, cur.Username)
	}
	s, err := c.loginSelf(ctx, cur, v)
	if isRefused(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.close()
	redactHashes(ctx, s.flavor, cur.Password)
	accts, err := s.accounts(ctx, cur.Username)
	if err != nil || len(accts) == 0 {
		return err
	}
	return s.setPassword(ctx, "restore the current password of user "+cur.Username, accts, cur.Password, "", false)
}

// Package postgres rotates the passwords of PostgreSQL roles.
//
// It is registered as "postgres". The managed secret's value follows the
// layout AWS uses for database secrets, so secrets made for AWS's own
// rotation templates work unchanged:
//
//	{"engine": "postgres", "host": "db.example.com", "port": 5432,
//	 "username": "app", "password": "...", "dbname": "app",
//	 "masterarn": "...", "sslmode": "verify-full"}
//
// host and username are required; port defaults to 5432, dbname to
// "postgres" and sslmode to "prefer" (libpq's default: TLS when the server
// offers it, unverified; say "verify-full" to have the certificate checked
// against the system's roots, or against the CA file the optional field
// sslrootcert names). Other fields are kept as they are. host is one DNS
// name or IP address (no host lists, no socket directories).
//
// The master secret (tag rotor:master-secret, required) holds a role with
// CREATEROLE (or a superuser), for the alternating strategy also a member
// of pg_signal_backend, and the server it is for, in the same layout:
//
//	{"host": "db.example.com", "port": 5432, "username": "rotor_admin",
//	 "password": "...", "dbname": "postgres", "sslmode": "verify-full",
//	 "sslrootcert": "/var/task/global-bundle.pem"}
//
// Where the master credential goes comes from the master secret only, never
// from the managed secret, which anyone allowed to write it could point at
// a server of their own: host is required; port defaults to 5432, dbname to
// "postgres" and sslmode to "verify-full". A master may say verify-ca,
// require (then channel binding, SCRAM-SHA-256-PLUS, is required, since the
// certificate is not checked) or, explicitly, disable; allow and prefer are
// refused, as they fall back to cleartext without saying so. As the master
// rotor authenticates only with SCRAM-SHA-256 (pgx's require_auth): a
// server that asks for a cleartext password or an MD5 hash, or lets the
// master in without one, gets nothing and the step fails with
// rotorerr.InvalidInput. Other fields, such as the consent list "rotor"
// that the rotation core reads, are ignored.
//
// The managed secret contributes the role: its username names a role on
// the master's server. Its host, port, sslmode and sslrootcert are its
// consumers' (a proxy or another DNS name for the same server is fine) and
// are used by Verify only, which logs in with the new credential itself as
// consumers would; unless that connection verifies the server (verify-full
// or verify-ca), Verify too authenticates only with SCRAM-SHA-256, so a
// server at the managed secret's host learns nothing of the new password
// and cannot pass a login it does not hold the verifier for.
// masterarn is AWS's field and is kept but not read: rotor takes the master
// from the tag, which the rotation core needs before it reads any value.
//
// Passwords are drawn by the core (provider.PasswordUser) and never reach
// the server in plaintext: ALTER ROLE and CREATE ROLE carry a SCRAM-SHA-256
// verifier computed here (RFC 7677, PostgreSQL's
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>), so the
// server stores SCRAM-SHA-256, never md5, and a statement log at
// log_statement=all shows only the verifier. Role names are quoted with
// pgx.Identifier; values in queries are bind parameters.
//
// Strategies (tag rotor:strategy):
//
//   - single (default): one role, whose password Apply changes with ALTER
//     ROLE as the master. A role has one password, so the old one stops
//     working the moment Apply runs, while consumers still read it as
//     AWSCURRENT until switchover moves the label, milliseconds later in a
//     healthy rotation (longer when a step between them is retried).
//     Connections opened before keep working; new logins in that window
//     fail and should be retried by the consumer. For the same reason the
//     grace period does not apply: there is no old password left to honour,
//     so set rotor:grace-period to 0s for these secrets. Expire and
//     rollback set the role's password to the current value's password
//     (which after a normal rotation it already is), so a rolled-back
//     rotation restores the old password.
//   - alternating: two roles, <user> and <user>_clone, used in turn, as in
//     AWS's multi-user template. Create picks the role the current value
//     does not use; Apply sets its password and LOGIN, first creating the
//     clone when it is missing, as a member of <user> (so it holds the same
//     grants, present and future) and of every role <user> is a member of,
//     with <user>'s CREATEDB and connection limit. The secret's username
//     switches to it. The previous role keeps working through the grace
//     period; expire then shuts it out with NOLOGIN, PASSWORD NULL and
//     pg_terminate_backend of its sessions. NOLOGIN rather than an unknown
//     random password: it refuses every authentication method (trust,
//     certificates, peer), not only passwords, it shows in pg_roles as
//     what it is, and terminating the sessions makes a leaked old
//     credential useless at once instead of for the next login only.
//     Consumers must reconnect with the current secret within the grace
//     period (a pool's maximum connection lifetime below it does that).
//   - self: the secret is a master secret (tag rotor:role master) whose own
//     role is rotated: no other master is involved, and the value is read
//     as a master's (its host, sslmode verify-full by default, SCRAM-SHA-256
//     only). Create logs in with the current password; Apply logs in with
//     it (or, when the server refuses it because an earlier attempt applied
//     the new one, with the new password) and sets the new verifier on the
//     same role; Verify logs in with the new password as a master;
//     Revoke sets the current value's verifier again, which ends the
//     revoked password and restores the current one after a rollback. A
//     role has one password, so as with single the old master password
//     stops working at Apply: rotor holds the rotation lock of every secret
//     the master serves until the switchover (package rotation), and the
//     grace period does not apply.
//
// Options (tags rotor:postgres:<option>):
//
//	password-length     characters of a new password (default 32)
//	password-alphabet   characters to draw from (default A-Z a-z 0-9 -_.~;
//	                    characters that break connection strings are refused)
//	connect-timeout     Go duration for connecting (default 5s)
//	statement-timeout   Go duration for each statement (default 10s)
//
// Errors: a malformed value, a master without host or with an sslmode it
// may not use, a wrong master password, a master server that is not
// trusted (certificate, no TLS, an authentication method other than
// SCRAM-SHA-256), a missing role or database, or a master without
// CREATEROLE are rotorerr.InvalidInput; an unreachable or overloaded server
// and timeouts are rotorerr.Transient; a new credential the server refuses,
// or that Verify cannot present safely, is rotorerr.VerificationFailed.
// Create checks everything it can (the master logs in and may alter the
// role, the role exists) before the core stores anything.
package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Name is the provider's registered name.
const Name = "postgres"

// Strategies.
const (
	Single      = "single"
	Alternating = "alternating"
	Self        = "self"
)

// CloneSuffix names the second role of the alternating strategy.
const CloneSuffix = "_clone"

// maxIdentifier is PostgreSQL's NAMEDATALEN - 1.
const maxIdentifier = 63

// It connects to the database the master secret names, which a deployment
// may keep in private subnets.
func init() {
	provider.Register(Name, provider.Registration{
		New:   provider.Fixed(&Provider{}),
		Needs: provider.Needs{Network: []provider.Network{provider.NetPrivate}},
	})
}

// Provider rotates PostgreSQL role passwords. The zero value is ready.
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
	return rotorerr.New(rotorerr.InvalidInput, "provider postgres: "+fmt.Sprintf(format, args...))
}

// CheckOptions implements provider.OptionsChecker.
func (*Provider) CheckOptions(o provider.Options) error {
	_, err := parse(o)
	return err
}

// NeedsMaster implements provider.MasterUser: every strategy but self
// alters roles as the master (bad options need one too: the error then
// comes from the options).
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

// target names the roles of a strategy for a current username: the role a
// new password goes to, and the base role that must exist (the same role
// for single).
func (c config) target(current string) (target, base string, err error) {
	if c.strategy == Single {
		return current, current, nil
	}
	base = strings.TrimSuffix(current, CloneSuffix)
	if base == "" {
		return "", "", invalid("username %q is only the clone suffix", current)
	}
	clone := base + CloneSuffix
	if len(clone) > maxIdentifier {
		return "", "", invalid("username %q is too long for the alternating strategy: %q exceeds PostgreSQL's %d bytes", base, clone, maxIdentifier)
	}
	if current == base {
		return clone, base, nil
	}
	return base, base, nil
}

// Create implements provider.Provider. It changes nothing at the server:
// it checks, as the master, that the role can be altered, and returns the
// new value (the core's password, the strategy's role) for the core to
// store as AWSPENDING before Apply sets it.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	c, err := parse(req.Options)
	if err != nil {
		return nil, err
	}
	if c.strategy == Self {
		return p.createSelf(ctx, c, req)
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
	m, err := masterOf(req.Master)
	if err != nil {
		return nil, err
	}
	redact.Add(ctx, m.password)
	target, base, err := c.target(cur.Username)
	if err != nil {
		return nil, err
	}
	// The managed secret names a role on the master's server (its own host
	// is for its consumers and may name a proxy), so names compare there.
	if target == m.username || base == m.username {
		return nil, invalid("the master secret's role %q is the role being rotated; use a different role as master", m.username)
	}
	conn, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return nil, err
	}
	defer closeConn(conn)
	if err := checkMaster(ctx, conn, m.username, c.strategy == Alternating); err != nil {
		return nil, err
	}
	if _, found, err := lookupRole(ctx, conn, base); err != nil {
		return nil, err
	} else if !found {
		return nil, invalid("role %q does not exist on %s (the master secret's server)", base, m.at.address())
	}
	value, err := provider.SetFields(req.Current, map[string]any{"username": target, "password": req.Password})
	if err != nil {
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

// Apply implements provider.Applier: it sets the stored password on the
// value's role, creating the clone of the alternating strategy when it is
// missing. Applying again sets the same password (under a new salt).
func (p *Provider) Apply(ctx context.Context, req *provider.ApplyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	if c.strategy == Self {
		return p.applySelf(ctx, c, req)
	}
	v, err := decode("new value", req.Value)
	if err != nil {
		return err
	}
	if err := v.requireCredential("new value"); err != nil {
		return err
	}
	redact.Add(ctx, v.Password)
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	redact.Add(ctx, m.password)
	if v.Username == m.username {
		return invalid("the master secret's role %q is the role being rotated; use a different role as master", m.username)
	}
	verifier, err := scramVerifier(v.Password)
	if err != nil {
		return err
	}
	conn, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	role := pgx.Identifier{v.Username}.Sanitize()
	if c.strategy == Single {
		return exec(ctx, conn, "set the password of role "+v.Username, "ALTER ROLE "+role+" WITH PASSWORD "+literal(verifier))
	}
	_, base, err := c.target(v.Username)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, found, err := lookupRole(ctx, tx, v.Username)
		if err != nil {
			return err
		}
		if found {
			return exec(ctx, tx, "set the password of role "+v.Username, "ALTER ROLE "+role+" WITH LOGIN PASSWORD "+literal(verifier))
		}
		if v.Username == base {
			return invalid("role %q does not exist on %s (the master secret's server)", base, m.at.address())
		}
		return createClone(ctx, tx, base, v.Username, verifier)
	})
}

// createClone creates clone as a member of base and of every role base is a
// member of, with base's CREATEDB and connection limit.
func createClone(ctx context.Context, tx pgx.Tx, base, clone, verifier string) error {
	b, found, err := lookupRole(ctx, tx, base)
	if err != nil {
		return err
	}
	if !found {
		return invalid("role %q, which %q clones, does not exist", base, clone)
	}
	attrs := " WITH LOGIN NOSUPERUSER NOCREATEROLE"
	if b.createDB {
		attrs += " CREATEDB"
	}
	attrs += fmt.Sprintf(" CONNECTION LIMIT %d", b.connLimit)
	stmt := "CREATE ROLE " + pgx.Identifier{clone}.Sanitize() + attrs + " PASSWORD " + literal(verifier) + " IN ROLE " + pgx.Identifier{base}.Sanitize()
	if err := exec(ctx, tx, "create role "+clone, stmt); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY r.rolname`, base)
	if err != nil {
		return classify(err, "list the memberships of role "+base)
	}
	groups, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return classify(err, "list the memberships of role "+base)
	}
	for _, g := range groups {
		if err := exec(ctx, tx, "grant "+g+" to "+clone, "GRANT "+pgx.Identifier{g}.Sanitize()+" TO "+pgx.Identifier{clone}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

// Verify implements provider.Provider: the new credential logs in, alone,
// and is the role the value names.
func (p *Provider) Verify(ctx context.Context, req *provider.VerifyRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	if c.strategy == Self {
		return p.verifySelf(ctx, c, req)
	}
	v, err := decode("value", req.Value)
	if err != nil {
		return err
	}
	if err := v.requireCredential("value"); err != nil {
		return err
	}
	redact.Add(ctx, v.Password)
	conn, err := c.connect(ctx, v.credentialEndpoint(), v.Username, v.Password, asCredential)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return classify(err, "query as the new credential")
	}
	if user != v.Username {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider postgres: logged in as %q, the value names %q", user, v.Username))
	}
	return nil
}

// Revoke implements provider.Provider. When the revoked value's role is
// the current value's (single strategy; a rolled-back or abandoned
// password), the role's password becomes the current value's again, which
// ends the revoked password and keeps the current one working. When it is
// another role (alternating), that role is shut out: NOLOGIN, PASSWORD
// NULL, its sessions terminated. A role that no longer exists is success.
func (p *Provider) Revoke(ctx context.Context, req *provider.RevokeRequest) error {
	c, err := parse(req.Options)
	if err != nil {
		return err
	}
	if c.strategy == Self {
		return p.revokeSelf(ctx, c, req)
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
		return rotorerr.New(rotorerr.Unsafe, "provider postgres: refusing to revoke with no current value: its role might be the one consumers use")
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider postgres: refusing to revoke: the current value cannot be read to check it is not the same credential (%v)", err))
	}
	redact.Add(ctx, cur.Password)
	// The versions' hosts are not compared: the role is shut out or reset
	// on the master's server whatever host a version names (its consumers'
	// name for the server, a proxy perhaps), and a refusal when the owner
	// renames it would leave the old credential live.
	m, err := masterOf(req.Master)
	if err != nil {
		return err
	}
	redact.Add(ctx, m.password)
	if v.Username == m.username {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider postgres: refusing to shut out role %q: it is the master secret's", v.Username))
	}
	if v.Username == cur.Username && v.Password == cur.Password {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider postgres: refusing to revoke version %s: it holds the current credential", req.VersionID))
	}
	conn, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, found, err := lookupRole(ctx, conn, v.Username); err != nil || !found {
		return err // a role that is gone holds no credential
	}
	role := pgx.Identifier{v.Username}.Sanitize()
	if v.Username == cur.Username {
		verifier, err := scramVerifier(cur.Password)
		if err != nil {
			return err
		}
		return exec(ctx, conn, "restore the current password of role "+v.Username, "ALTER ROLE "+role+" WITH PASSWORD "+literal(verifier))
	}
	if err := exec(ctx, conn, "shut out role "+v.Username, "ALTER ROLE "+role+" WITH NOLOGIN PASSWORD NULL"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()", v.Username); err != nil {
		return classify(err, "terminate the sessions of role "+v.Username)
	}
	return nil
}

// literal quotes s as an SQL string literal. Only SCRAM verifiers (base64,
// digits, '$' and ':') go through it; doubling quotes keeps it safe anyway.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

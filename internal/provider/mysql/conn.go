package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// who logs in: the master (a refused login is bad configuration) or the
// credential under test (a refused login is a failed verification).
type who int

const (
	asMaster who = iota
	asCredential
)

// flavor is the kind of server, told by its VERSION().
type flavor string

const (
	mariaDB flavor = "MariaDB"
	mySQL   flavor = "MySQL"
)

// session is one connection to a server.
type session struct {
	db     *sql.DB
	conn   *sql.Conn
	flavor flavor
	at     endpoint
}

// connect opens one connection to e as user, with the configured timeouts.
// The driver gets a configuration, never a DSN string, so the password is
// in no string an error could quote; cleartext and old-password
// authentication stay off, and, unless TLS verifies the server, a guard
// lets the driver answer only the authentication methods that keep the
// password to itself (see guard). Over a verified connection the server
// is the one the secret names, and the driver answers it as any client
// would.
func (c config) connect(ctx context.Context, e endpoint, user, pass string, as who) (*session, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, pass
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", e.address(), e.dbname
	cfg.Timeout = c.connectTimeout
	// A statement's own limits (lock_wait_timeout, max_statement_time) come
	// first; the I/O deadline catches a server that stops answering.
	cfg.ReadTimeout = c.statementTimeout + 5*time.Second
	cfg.WriteTimeout = c.statementTimeout + 5*time.Second
	cfg.AllowCleartextPasswords = false
	cfg.AllowNativePasswords = true
	cfg.AllowOldPasswords = false
	cfg.AllowAllFiles = false
	cfg.MultiStatements = false
	cfg.InterpolateParams = false
	cfg.Logger = &mysql.NopLogger{}
	cfg.ConnectionAttributes = "program_name:rotor"
	var g *guard
	if e.verified() {
		t, err := verifiedTLS(e)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	} else {
		g = &guard{timeout: c.connectTimeout}
		if e.tls != tlsDisable {
			g.upstream = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // the mode's choice: not verified
			t, err := driverTLS()
			if err != nil {
				return nil, rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider mysql: %w", err))
			}
			cfg.TLS = t
			cfg.AllowFallbackToPlaintext = e.tls == tlsPreferred
		}
		cfg.DialFunc = g.dial
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, invalid("connection settings for %s: %v", e.address(), err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	// The driver bounds the dial by cfg.Timeout and each read by
	// ReadTimeout; this bounds the whole login (the context only watches
	// the connection until it is made).
	cctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if errors.Is(err, mysql.ErrMalformPkt) {
		// go-sql-driver v1.10.2 drops a trailing zero byte from the data of
		// an authentication switch (its fix for issue 1666), which breaks
		// client_ed25519 whenever MariaDB's random 32-byte nonce ends in
		// zero: one login in 256. Another login draws another nonce.
		conn, err = db.Conn(cctx)
	}
	if err != nil {
		db.Close()
		return nil, classifyConnect(err, e, user, as, g)
	}
	s := &session{db: db, conn: conn, at: e}
	if err := s.setup(ctx, c.statementTimeout); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// setup learns what the server is and bounds every statement by the
// statement timeout: lock waits (a locked grant table) and, on MariaDB,
// each statement's run time.
func (s *session) setup(ctx context.Context, timeout time.Duration) error {
	var version string
	if err := s.conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return classify(err, "ask the server's version")
	}
	s.flavor = mySQL
	if strings.Contains(version, "MariaDB") {
		s.flavor = mariaDB
	}
	secs := int(math.Ceil(timeout.Seconds()))
	set := fmt.Sprintf("SET SESSION lock_wait_timeout = %d, innodb_lock_wait_timeout = %d", secs, secs)
	if s.flavor == mariaDB {
		set += fmt.Sprintf(", max_statement_time = %.3f", timeout.Seconds())
	}
	return s.exec(ctx, "set the session's timeouts", set)
}

func (s *session) close() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.db.Close()
}

// verifiedTLS is the driver's TLS for verify-full (certificate and host
// name) and verify-ca (certificate only), against the CA file the value
// names or the system's roots.
func verifiedTLS(e endpoint) (*tls.Config, error) {
	var roots *x509.CertPool
	if e.rootCert != "" {
		pem, err := os.ReadFile(e.rootCert)
		if err != nil {
			return nil, invalid("connection settings for %s: tlsrootcert %q cannot be read (%v)", e.address(), e.rootCert, errors.Unwrap(err))
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, invalid("connection settings for %s: tlsrootcert %q holds no PEM certificate", e.address(), e.rootCert)
		}
	}
	t := &tls.Config{RootCAs: roots, ServerName: e.host, MinVersion: tls.VersionTLS12}
	if e.tls == tlsVerifyCA {
		// The chain is checked, not the name: what verify-ca means.
		t.InsecureSkipVerify = true
		t.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return t, nil
}

// refusedLogin marks a connection the server refused to log in, so that
// the self strategy can try the other credential.
type refusedLogin struct{ err error }

func (r *refusedLogin) Error() string { return r.err.Error() }
func (r *refusedLogin) Unwrap() error { return r.err }

func isRefused(err error) bool {
	var r *refusedLogin
	return errors.As(err, &r)
}

// loginRefused are the errors of a server that refused a login: access
// denied, the account locked, its host not allowed, its password expired,
// its database not its own.
var loginRefused = map[uint16]bool{1044: true, 1045: true, 1049: true, 1130: true, 1698: true, 1820: true, 1862: true, 4151: true}

func classifyConnect(err error, e endpoint, user string, as who, g *guard) error {
	kind, whose, fix := rotorerr.VerificationFailed, "the new credential", "check the managed secret's host, tls and tlsrootcert"
	if as == asMaster {
		kind, whose, fix = rotorerr.InvalidInput, "the master password", "check the master secret's host, tls and tlsrootcert"
	}
	if g != nil {
		switch why, failed := g.refusal(); {
		case why != "" && failed:
			return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider mysql: connect to %s as %q: %s; rotor sent no password", e.address(), user, why))
		case why != "":
			return rotorerr.New(kind, fmt.Sprintf("provider mysql: %s: %s; over a connection that does not verify the server (tls %s) rotor sends %s only by mysql_native_password, ed25519 or caching_sha2_password's fast path, which keep the password to the client (use tls verify-full with the server's CA in tlsrootcert)", e.address(), why, e.tls, whose))
		}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && loginRefused[me.Number] {
		msg := fmt.Sprintf("provider mysql: %s refused the login of user %q: %s (error %d)", e.address(), user, me.Message, me.Number)
		if as == asMaster {
			msg += "; check the master secret"
		}
		return &refusedLogin{err: rotorerr.New(kind, msg)}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostErr) || errors.As(err, &invalidCert) {
		return rotorerr.New(kind, fmt.Sprintf("provider mysql: connect to %s as %q: the server's TLS certificate is not trusted (%v) under tls %s; rotor sent no password (%s)", e.address(), user, err, e.tls, fix))
	}
	switch {
	case errors.Is(err, mysql.ErrNoTLS):
		return rotorerr.New(kind, fmt.Sprintf("provider mysql: %s does not offer TLS, which tls %s requires; rotor sent no password (%s)", e.address(), e.tls, fix))
	case errors.Is(err, mysql.ErrCleartextPassword), errors.Is(err, mysql.ErrOldPassword), errors.Is(err, mysql.ErrUnknownPlugin), errors.Is(err, mysql.ErrNativePassword):
		return rotorerr.New(kind, fmt.Sprintf("provider mysql: %s asked user %q for an authentication method rotor does not use (%v)", e.address(), user, err))
	}
	return classify(err, fmt.Sprintf("connect to %s as %q", e.address(), user))
}

// Server errors by number. Messages name accounts and objects, never
// passwords; the only secret a statement carries is a hash, which classify
// cuts out of a message that quotes it (a syntax error would).
var (
	invalidErrors = map[uint16]string{
		1044: "access denied to a database", 1045: "access denied", 1049: "unknown database",
		1133: "no such account", 1141: "no such grant", 1142: "a table privilege is missing",
		1143: "a column privilege is missing", 1211: "not allowed to create a user",
		1227: "a privilege is missing", 1372: "the hash was refused", 1396: "the account operation failed",
		1410: "not allowed to create a user with GRANT", 1470: "a name is too long",
		1524: "the authentication plugin is not loaded", 1698: "access denied",
		1959: "a role is missing", 1960: "a role is missing", 1962: "a role cannot be revoked",
	}
	transientErrors = map[uint16]bool{
		1040: true, 1053: true, 1158: true, 1159: true, 1160: true, 1161: true, 1203: true, 1205: true,
		1213: true, 1226: true, 1290: true, 1317: true, 1836: true, 1927: true, 1969: true, 2006: true,
		2013: true, 3024: true,
	}
)

// classify maps a driver error to a rotor kind, with hide (hashes) cut out
// of the server's message.
func classify(err error, what string, hide ...string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider mysql: %s: %w", what, err))
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		text := me.Message
		for _, h := range hide {
			if h != "" {
				text = strings.ReplaceAll(text, h, "<hash>")
			}
		}
		msg := fmt.Sprintf("provider mysql: %s: %s (error %d)", what, text, me.Number)
		switch {
		case invalidErrors[me.Number] != "":
			return rotorerr.New(rotorerr.InvalidInput, msg)
		case transientErrors[me.Number]:
			// Lock waits, deadlocks, timeouts, a busy or read-only (failing
			// over) server: another attempt may succeed.
			return rotorerr.New(rotorerr.Transient, msg)
		}
		return rotorerr.New(rotorerr.Unsafe, msg)
	}
	// Refused or unreachable servers, timeouts, resets, a connection the
	// driver found broken.
	return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider mysql: %s: %w", what, err))
}

// exec runs a statement without arguments; hide are the secrets it
// carries (hashes), kept out of the error.
func (s *session) exec(ctx context.Context, what, stmt string, hide ...string) error {
	if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
		return classify(err, what, hide...)
	}
	return nil
}

// list runs a query whose rows are one string each.
func (s *session) list(ctx context.Context, what, query string, args ...any) ([]string, error) {
	out, err := s.rawList(ctx, query, args...)
	if err != nil {
		return nil, classify(err, what)
	}
	return out, nil
}

// rawList is list with the driver's error, for callers that explain some.
func (s *session) rawList(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// userAccount is one account of a user name and how it authenticates.
type userAccount struct {
	account
	plugin string
	// several is MariaDB's IDENTIFIED VIA a OR b: more than one method,
	// of which rotor would set only one.
	several bool
}

// accounts lists every account named user (never roles), with its plugin.
func (s *session) accounts(ctx context.Context, user string) ([]userAccount, error) {
	var query, table string
	if s.flavor == mariaDB {
		query, table = "SELECT Host, Priv FROM mysql.global_priv WHERE User = ? ORDER BY Host", "mysql.global_priv"
	} else {
		query, table = "SELECT Host, plugin FROM mysql.user WHERE User = ? ORDER BY Host", "mysql.user"
	}
	rows, err := s.conn.QueryContext(ctx, query, user)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1142 || me.Number == 1044) {
			return nil, invalid("the connected account may not read %s, which lists the accounts of user %q and their authentication plugins (GRANT SELECT ON %s TO it)", table, user, table)
		}
		return nil, classify(err, "list the accounts of user "+user)
	}
	defer rows.Close()
	var out []userAccount
	for rows.Next() {
		var host, col string
		if err := rows.Scan(&host, &col); err != nil {
			return nil, classify(err, "list the accounts of user "+user)
		}
		a := userAccount{account: account{user: user, host: host}, plugin: col}
		if s.flavor == mariaDB {
			var priv struct {
				Plugin string          `json:"plugin"`
				IsRole bool            `json:"is_role"`
				AuthOr json.RawMessage `json:"auth_or"`
			}
			if err := json.Unmarshal([]byte(col), &priv); err != nil {
				return nil, invalid("mysql.global_priv of %s cannot be read as JSON", a.account)
			}
			if priv.IsRole {
				continue
			}
			a.plugin, a.several = priv.Plugin, len(priv.AuthOr) > 0
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list the accounts of user "+user)
	}
	return out, nil
}

// checkPlugins refuses accounts whose password rotor cannot set.
func (s *session) checkPlugins(accts []userAccount) error {
	for _, a := range accts {
		if a.several {
			return invalid("account %s authenticates in more than one way (IDENTIFIED VIA ... OR ...); rotor sets one password per account: make it one method", a.account)
		}
		if problem := pluginProblem(s.flavor, a.plugin); problem != "" {
			return invalid("account %s: %s", a.account, problem)
		}
	}
	return nil
}

// setPassword gives every account the password, as hashes, in one ALTER
// USER (a server applies it to all of them or reports each it could not);
// lock is "", "ACCOUNT LOCK" or "ACCOUNT UNLOCK". Accounts whose plugin
// holds no password are only locked or unlocked.
func (s *session) setPassword(ctx context.Context, what string, accts []userAccount, password, lock string, skipUnhashable bool) error {
	var specs, hashes []string
	for _, a := range accts {
		if problem := pluginProblem(s.flavor, a.plugin); problem != "" {
			if !skipUnhashable {
				return invalid("account %s: %s", a.account, problem)
			}
			specs = append(specs, a.quoted())
			continue
		}
		clause, hash, err := authClause(s.flavor, a.plugin, password)
		if err != nil {
			return err
		}
		specs = append(specs, a.quoted()+" "+clause)
		hashes = append(hashes, hash)
	}
	stmt := "ALTER USER " + strings.Join(specs, ", ")
	if lock != "" {
		stmt += " " + lock
	}
	return s.exec(ctx, what, stmt, hashes...)
}

// currentUser is the user name the session logged in as (CURRENT_USER(),
// the account the server matched, without its host).
func (s *session) currentUser(ctx context.Context) (string, error) {
	var cu string
	if err := s.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cu); err != nil {
		return "", classify(err, "ask the current user")
	}
	// Host names hold no '@'; user names may.
	if i := strings.LastIndexByte(cu, '@'); i >= 0 {
		cu = cu[:i]
	}
	return cu, nil
}

// holdings is the session's own SHOW GRANTS. Lines rotor cannot read are
// left out: they could only grant more, so the checks stay on the safe
// side.
func (s *session) holdings(ctx context.Context) (holdings, error) {
	lines, err := s.list(ctx, "read the connected account's own grants", "SHOW GRANTS")
	if err != nil {
		return nil, err
	}
	var h holdings
	for _, l := range lines {
		if g, err := parseGrant(l); err == nil {
			h = append(h, g)
		}
	}
	return h, nil
}

// grantsOf is SHOW GRANTS FOR a, parsed.
func (s *session) grantsOf(ctx context.Context, a account) ([]grantLine, error) {
	lines, err := s.rawList(ctx, "SHOW GRANTS FOR "+a.quoted())
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142) {
			return nil, invalid("the master may not read the grants of %s (SHOW GRANTS FOR another account needs GRANT SELECT ON mysql.* TO the master)", a)
		}
		return nil, classify(err, "read the grants of "+a.String())
	}
	return parseGrants(a, lines)
}

// settingsOf is a's account settings (accountSettings of SHOW CREATE
// USER).
func (s *session) settingsOf(ctx context.Context, a account) (string, error) {
	lines, err := s.list(ctx, "read the account settings of "+a.String(), "SHOW CREATE USER "+a.quoted())
	if err != nil {
		return "", err
	}
	if len(lines) != 1 {
		return "", invalid("SHOW CREATE USER %s returned %d rows", a, len(lines))
	}
	settings, err := accountSettings(lines[0])
	if err != nil {
		return "", invalid("SHOW CREATE USER %s: rotor cannot read it (%v)", a, err)
	}
	return settings, nil
}

// maxUserName is the server's limit on user names, in characters: the
// width of the User column of its account table (128 on MariaDB 10.6+, 80
// before; 32 on MySQL 5.7+).
func (s *session) maxUserName(ctx context.Context) (int, error) {
	table, fallback := "global_priv", 80
	if s.flavor == mySQL {
		table, fallback = "user", 32
	}
	var n sql.NullInt64
	err := s.conn.QueryRowContext(ctx, "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = ? AND COLUMN_NAME = 'User'", table).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && !n.Valid:
		// Not visible to this account: the oldest limit still in use.
		return fallback, nil
	case err != nil:
		return 0, classify(err, "read the server's limit on user names")
	}
	return int(n.Int64), nil
}

// checkName refuses a user name longer than the server takes.
func (s *session) checkName(ctx context.Context, name, why string) error {
	max, err := s.maxUserName(ctx)
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(name); n > max {
		return invalid("user name %q has %d characters, more than %s's limit of %d%s", name, n, s.flavor, max, why)
	}
	return nil
}

// kill ends every connection of user but this session's.
func (s *session) kill(ctx context.Context, user string) error {
	// PROCESSLIST.USER compares case-insensitively; user names do not.
	ids, err := s.list(ctx, "list the connections of user "+user,
		"SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST WHERE CAST(USER AS BINARY) = CAST(? AS BINARY) AND ID <> CONNECTION_ID()", user)
	if err != nil {
		return err
	}
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return invalid("the server listed a connection id that is not a number")
		}
		if _, err := s.conn.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatUint(n, 10)); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1094 { // gone meanwhile
				continue
			}
			return classify(err, "end a connection of user "+user)
		}
	}
	return nil
}

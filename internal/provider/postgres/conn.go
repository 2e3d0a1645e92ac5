package postgres

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/xdg-go/scram"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// who logs in: the master (a refused login is bad configuration) or the
// credential under test (a refused login is a failed verification).
type who int

const (
	asMaster who = iota
	asCredential
)

// connect opens one connection to e as user, with the configured
// timeouts. The connection string carries no credential: user and password
// are set on the parsed configuration, so they cannot end up in an error
// that quotes it. The settings that guard the password (require_auth,
// channel_binding) are set after parsing too, so that no PG* environment
// variable can loosen them.
//
// As the master, only SCRAM-SHA-256 is accepted: a server (or whoever
// answers at its address) that asks for the password in cleartext or as MD5
// gets nothing, and one that lets the master in without a password is not
// trusted to be the server either. With sslmode require, which does not
// check the certificate, channel binding is required, so that a machine in
// the middle cannot relay the SCRAM exchange into a session of its own.
//
// As the managed credential (Verify), the endpoint is that secret's own
// business and consumers connect the same way; yet rotor has just made the
// password live, and may not be talking to the real server: unless TLS
// verifies the server (verify-full, verify-ca), only SCRAM-SHA-256 is
// accepted there too, which never reveals the password and which no server
// passes without knowing its verifier.
func (c config) connect(ctx context.Context, e endpoint, user, pass string, as who) (*pgx.Conn, error) {
	q := url.Values{"sslmode": {e.sslmode}}
	if e.sslrootcert != "" {
		q.Set("sslrootcert", e.sslrootcert)
	}
	u := url.URL{Scheme: "postgres", Host: e.address(), Path: "/" + e.dbname, RawQuery: q.Encode()}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, invalid("connection settings for %s: %v", e.address(), err)
	}
	cfg.User, cfg.Password = user, pass
	cfg.RequireAuth, cfg.ChannelBinding = authPolicy(e, as)
	cfg.ConnectTimeout = c.connectTimeout
	ms := strconv.FormatInt(c.statementTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["statement_timeout"] = ms
	cfg.RuntimeParams["lock_timeout"] = ms
	cfg.RuntimeParams["application_name"] = "rotor"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classifyConnect(err, e, user, as)
	}
	return conn, nil
}

// authPolicy is the require_auth and channel_binding of a connection (see
// connect).
func authPolicy(e endpoint, as who) (requireAuth, channelBinding string) {
	switch {
	case as == asMaster && e.sslmode == "require":
		return "scram-sha-256", "require"
	case as == asMaster, !e.verified():
		return "scram-sha-256", "prefer"
	}
	return "", "prefer"
}

// What pgx v5.12 says when require_auth, channel_binding or TLS refuse a
// server. It has no typed errors for these, so the messages are matched;
// the tests against a fake server fail if they change.
const (
	pgxRequireAuthFailed     = "require_auth check failed"
	pgxChannelBindingRefused = "channel binding check failed"
	pgxChannelBindingFailed  = "channel binding"
	pgxTLSRefused            = "server refused TLS connection"
)

var askedFor = []struct{ pgx, says string }{
	{"server requested password authentication", "the password in cleartext"},
	{"server requested md5 authentication", "an MD5 password hash"},
	{"server did not complete authentication", "no password at all (it did not authenticate the client)"},
	{"server requested gss authentication", "GSSAPI authentication"},
	{"server requested sspi authentication", "SSPI authentication"},
	{"server requested oauth authentication", "OAuth authentication"},
}

// loginRefused marks a connection the server refused for its password
// (SQLSTATE 28P01, 28000), which the self strategy answers by trying the
// other password it holds.
type loginRefused struct{ error }

func (e loginRefused) Unwrap() error { return e.error }

func isLoginRefused(err error) bool {
	var r loginRefused
	return errors.As(err, &r)
}

func classifyConnect(err error, e endpoint, user string, as who) error {
	kind, whose, fix := rotorerr.VerificationFailed, "the new credential", "check the managed secret's host, sslmode and sslrootcert"
	if as == asMaster {
		kind, whose, fix = rotorerr.InvalidInput, "the master password", "check the master secret's host, sslmode and sslrootcert"
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
		msg := fmt.Sprintf("provider postgres: %s refused the login of role %q: %s (SQLSTATE %s)", e.address(), user, pgErr.Message, pgErr.Code)
		if as == asMaster {
			msg += "; check the master secret"
		}
		return loginRefused{rotorerr.New(kind, msg)}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostErr) {
		return rotorerr.New(kind, fmt.Sprintf("provider postgres: connect to %s as %q: the server's TLS certificate is not trusted (%v) under sslmode %s; %s", e.address(), user, err, e.sslmode, fix))
	}
	text := err.Error()
	switch {
	case strings.Contains(text, pgxRequireAuthFailed):
		asked := "an authentication method other than SCRAM-SHA-256"
		for _, a := range askedFor {
			if strings.Contains(text, a.pgx) {
				asked = a.says
				break
			}
		}
		if as == asMaster {
			return rotorerr.New(kind, fmt.Sprintf("provider postgres: %s asked for %s; rotor refuses to send the master password that way and logs in as a master only with SCRAM-SHA-256 (check the server's pg_hba.conf and password_encryption, and that the master secret's host is the real server)", e.address(), asked))
		}
		return rotorerr.New(kind, fmt.Sprintf("provider postgres: %s asked for %s; over a connection that does not verify the server (sslmode %s), rotor logs in with %s only by SCRAM-SHA-256 (use sslmode verify-full with the server's CA, or SCRAM-SHA-256 authentication)", e.address(), asked, e.sslmode, whose))
	case strings.Contains(text, pgxChannelBindingRefused):
		// pgx checks channel binding before require_auth, so a server asking
		// for cleartext or MD5 under sslmode require lands here.
		return rotorerr.New(kind, fmt.Sprintf("provider postgres: %s asked for the password in cleartext, an MD5 password hash or no authentication; rotor refuses to send the master password that way: under sslmode require, which does not check the server's certificate, a master logs in only with SCRAM-SHA-256-PLUS (channel binding); use sslmode verify-full with the server's CA in sslrootcert", e.address()))
	case strings.Contains(text, pgxChannelBindingFailed):
		return rotorerr.New(kind, fmt.Sprintf("provider postgres: %s did not authenticate with channel binding (SCRAM-SHA-256-PLUS), which sslmode require needs for a master because it does not check the server's certificate; rotor sent no master password (use sslmode verify-full with the server's CA in sslrootcert)", e.address()))
	case strings.Contains(text, pgxTLSRefused):
		return rotorerr.New(kind, fmt.Sprintf("provider postgres: %s does not offer TLS, which sslmode %s requires; rotor sent no password (%s)", e.address(), e.sslmode, fix))
	}
	return classify(err, fmt.Sprintf("connect to %s as %q", e.address(), user))
}

// classify maps a pgx error to a rotor kind, keeping PostgreSQL's message
// (which quotes names, never passwords: only verifiers reach the server).
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider postgres: %s: %w", what, err))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		msg := fmt.Sprintf("provider postgres: %s: %s (SQLSTATE %s)", what, pgErr.Message, pgErr.Code)
		switch {
		case pgErr.Code == "3D000", pgErr.Code == "42704", pgErr.Code == "42501", pgErr.Code == "28P01", pgErr.Code == "28000":
			// No such database or role, no permission, refused login.
			return rotorerr.New(rotorerr.InvalidInput, msg)
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"), strings.HasPrefix(pgErr.Code, "57"),
			pgErr.Code == "40001", pgErr.Code == "40P01", pgErr.Code == "55P03", pgErr.Code == "42710":
			// Connection trouble, resources, shutdown or cancel (timeouts),
			// serialization, deadlock, lock timeout, a role created
			// concurrently: another attempt may succeed.
			return rotorerr.New(rotorerr.Transient, msg)
		}
		return rotorerr.New(rotorerr.Unsafe, msg)
	}
	// Refused or unreachable servers, timeouts, resets.
	return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider postgres: %s: %w", what, err))
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// querier is what a connection and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func exec(ctx context.Context, q querier, what, sql string) error {
	if _, err := q.Exec(ctx, sql); err != nil {
		return classify(err, what)
	}
	return nil
}

type roleInfo struct {
	createDB  bool
	connLimit int
}

func lookupRole(ctx context.Context, q querier, name string) (roleInfo, bool, error) {
	var r roleInfo
	err := q.QueryRow(ctx, "SELECT rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = $1", name).Scan(&r.createDB, &r.connLimit)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, classify(err, "look up role "+name)
	}
	return r, true, nil
}

// checkMaster checks that the master may alter roles and, for the
// alternating strategy, end the sessions of the role it shuts out.
func checkMaster(ctx context.Context, q querier, user string, terminates bool) error {
	var alter, signal bool
	if err := q.QueryRow(ctx, `SELECT rolsuper OR rolcreaterole, rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE')
		FROM pg_roles WHERE rolname = current_user`).Scan(&alter, &signal); err != nil {
		return classify(err, "check the master's privileges")
	}
	switch {
	case !alter:
		return invalid("the master secret's role %q has neither CREATEROLE nor SUPERUSER, so it cannot set passwords", user)
	case terminates && !signal:
		return invalid("the master secret's role %q is not a member of pg_signal_backend, so it cannot end the sessions of the role the alternating strategy shuts out (GRANT pg_signal_backend TO %s)", user, user)
	}
	return nil
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for a
// password (its scram_build_secret): the password SASLprep-normalized (raw
// when SASLprep refuses it, as PostgreSQL does), a random 16-byte salt,
// 4096 iterations.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("read random: %w", err))
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		client, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return "", rotorerr.New(rotorerr.InvalidInput, "provider postgres: the password cannot be hashed for SCRAM")
		}
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	if err != nil {
		return "", rotorerr.New(rotorerr.InvalidInput, "provider postgres: the password cannot be hashed for SCRAM")
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(creds.StoredKey), b64(creds.ServerKey)), nil
}

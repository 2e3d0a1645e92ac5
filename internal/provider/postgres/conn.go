package postgres

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
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

// connect opens one connection to the server of v as user, with the
// configured timeouts. The connection string carries no credential: user
// and password are set on the parsed configuration, so they cannot end up
// in an error that quotes it.
func (c config) connect(ctx context.Context, v value, user, pass, dbname string, as who) (*pgx.Conn, error) {
	if dbname == "" {
		dbname = v.DBName
	}
	if dbname == "" {
		dbname = "postgres"
	}
	sslmode := v.SSLMode
	if sslmode == "" {
		sslmode = "prefer"
	}
	q := url.Values{"sslmode": {sslmode}}
	if v.SSLRootCert != "" {
		q.Set("sslrootcert", v.SSLRootCert)
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(v.Host, v.port()), Path: "/" + dbname, RawQuery: q.Encode()}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, invalid("connection settings for %s: %v", v.address(), err)
	}
	cfg.User, cfg.Password = user, pass
	cfg.ConnectTimeout = c.connectTimeout
	ms := strconv.FormatInt(c.statementTimeout.Milliseconds(), 10)
	cfg.RuntimeParams["statement_timeout"] = ms
	cfg.RuntimeParams["lock_timeout"] = ms
	cfg.RuntimeParams["application_name"] = "rotor"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classifyConnect(err, v, user, as)
	}
	return conn, nil
}

func classifyConnect(err error, v value, user string, as who) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
		msg := fmt.Sprintf("provider postgres: %s refused the login of role %q: %s (SQLSTATE %s)", v.address(), user, pgErr.Message, pgErr.Code)
		if as == asMaster {
			return rotorerr.New(rotorerr.InvalidInput, msg+"; check the master secret")
		}
		return rotorerr.New(rotorerr.VerificationFailed, msg)
	}
	return classify(err, fmt.Sprintf("connect to %s as %q", v.address(), user))
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
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostErr) {
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider postgres: %s: the server's TLS certificate is not trusted (%v); check sslmode", what, err))
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

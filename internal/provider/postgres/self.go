package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// The self strategy (package doc): the value is a master's own, read by
// the master's rules, and every change is made by the role itself.

// selfValue decodes a version of a master that rotates itself.
func selfValue(ctx context.Context, what string, b []byte) (value, master, error) {
	if len(b) == 0 {
		return value{}, master{}, invalid("%s is missing: the self strategy logs in with the master's own password", what)
	}
	v, err := decode(what, b)
	if err != nil {
		return v, master{}, err
	}
	redact.Add(ctx, v.Password)
	m, err := masterFrom(what, v)
	return v, m, err
}

// connectFirst logs in to e as user with the first of passwords the server
// accepts: a password it refuses is tried no further, any other failure
// ends the attempt.
func (c config) connectFirst(ctx context.Context, e endpoint, user string, passwords ...string) (*pgx.Conn, error) {
	var err error
	for _, pw := range passwords {
		var conn *pgx.Conn
		if conn, err = c.connect(ctx, e, user, pw, asMaster); err == nil || !isLoginRefused(err) {
			return conn, err
		}
	}
	return nil, err
}

func (p *Provider) createSelf(ctx context.Context, c config, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	_, m, err := selfValue(ctx, "current value", req.Current)
	if err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, invalid("no password to set: the rotation core draws one for this provider (provider.NewPassword)")
	}
	redact.Add(ctx, req.Password)
	// Logging in is the check: a role may always set its own password.
	conn, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if err != nil {
		return nil, err
	}
	closeConn(conn)
	value, err := provider.SetFields(req.Current, map[string]any{"password": req.Password})
	if err != nil {
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

// sameAccount refuses versions of a self-rotating master that name
// different roles or servers: the strategy changes a password only.
func sameAccount(a, b master) error {
	if a.username != b.username || a.at != b.at {
		return rotorerr.New(rotorerr.Unsafe, "provider postgres: self strategy: the versions name different roles or servers; the strategy changes only the password of one role")
	}
	return nil
}

func (p *Provider) applySelf(ctx context.Context, c config, req *provider.ApplyRequest) error {
	v, nm, err := selfValue(ctx, "new value", req.Value)
	if err != nil {
		return err
	}
	_, cm, err := selfValue(ctx, "current value", req.Current)
	if err != nil {
		return err
	}
	if err := sameAccount(cm, nm); err != nil {
		return err
	}
	verifier, err := scramVerifier(v.Password)
	if err != nil {
		return err
	}
	// The new password logs in when an earlier attempt applied it.
	conn, err := c.connectFirst(ctx, nm.at, nm.username, cm.password, nm.password)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return exec(ctx, conn, "set the password of role "+v.Username, "ALTER ROLE "+pgx.Identifier{v.Username}.Sanitize()+" WITH PASSWORD "+literal(verifier))
}

func (p *Provider) verifySelf(ctx context.Context, c config, req *provider.VerifyRequest) error {
	v, m, err := selfValue(ctx, "value", req.Value)
	if err != nil {
		return err
	}
	conn, err := c.connect(ctx, m.at, m.username, m.password, asMaster)
	if isLoginRefused(err) {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider postgres: %s refused the login of role %q with the new master password", m.at.address(), v.Username))
	}
	if err != nil {
		return err
	}
	defer closeConn(conn)
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return classify(err, "query as the new master credential")
	}
	if user != v.Username {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider postgres: logged in as %q, the value names %q", user, v.Username))
	}
	return nil
}

func (p *Provider) revokeSelf(ctx context.Context, c config, req *provider.RevokeRequest) error {
	if len(req.Current) == 0 {
		return rotorerr.New(rotorerr.Unsafe, "provider postgres: refusing to revoke with no current value: the master's role would be left with no password rotor knows")
	}
	v, vm, err := selfValue(ctx, "version "+req.VersionID, req.Value)
	if err != nil {
		return err
	}
	cur, cm, err := selfValue(ctx, "current value", req.Current)
	if err != nil {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider postgres: refusing to revoke: the current value cannot be read as the master's (%v)", err))
	}
	if v.Password == cur.Password {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider postgres: refusing to revoke version %s: it holds the current credential", req.VersionID))
	}
	if err := sameAccount(cm, vm); err != nil {
		return err
	}
	verifier, err := scramVerifier(cur.Password)
	if err != nil {
		return err
	}
	// After a rollback the server still holds the revoked password.
	conn, err := c.connectFirst(ctx, cm.at, cm.username, cm.password, vm.password)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return exec(ctx, conn, "restore the current password of role "+cur.Username, "ALTER ROLE "+pgx.Identifier{cur.Username}.Sanitize()+" WITH PASSWORD "+literal(verifier))
}

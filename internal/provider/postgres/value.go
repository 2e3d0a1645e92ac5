package postgres

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
)

// value is the part of a secret value (AWS's database secret layout) the
// provider reads. Unknown fields are allowed and kept by Create, since AWS's
// own secrets carry more (dbInstanceIdentifier, dbClusterIdentifier), and a
// master secret may carry rotor's consent list ("rotor"), which the rotation
// core reads.
type value struct {
	Engine   string      `json:"engine"`
	Host     string      `json:"host"`
	Port     json.Number `json:"port"`
	Username string      `json:"username"`
	Password string      `json:"password"`
	DBName   string      `json:"dbname"`
	SSLMode  string      `json:"sslmode"`
	// SSLRootCert is a file of CA certificates that verify-ca and
	// verify-full check the server against instead of the system's roots
	// (for Amazon RDS, AWS's global-bundle.pem shipped with the function).
	SSLRootCert string `json:"sslrootcert"`
}

var sslModes = map[string]bool{"disable": true, "allow": true, "prefer": true, "require": true, "verify-ca": true, "verify-full": true}

// decode reads a value, naming what it is in errors, which never quote it.
func decode(what string, b []byte) (value, error) {
	var v value
	if len(bytes.TrimSpace(b)) == 0 {
		return v, invalid("%s is empty; want AWS's database secret layout {\"engine\":\"postgres\",\"host\",\"port\",\"username\",\"password\",\"dbname\"}", what)
	}
	// The port is a number in AWS's layout; some tools write a string.
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return v, invalid("%s is not a JSON object", what)
	}
	str := func(name string) (string, error) {
		switch x := raw[name].(type) {
		case nil:
			return "", nil
		case string:
			return x, nil
		default:
			return "", invalid("%s: field %q is not a string", what, name)
		}
	}
	var err error
	for name, dst := range map[string]*string{"engine": &v.Engine, "host": &v.Host, "username": &v.Username,
		"password": &v.Password, "dbname": &v.DBName, "sslmode": &v.SSLMode, "sslrootcert": &v.SSLRootCert} {
		if *dst, err = str(name); err != nil {
			return v, err
		}
	}
	switch p := raw["port"].(type) {
	case nil:
	case json.Number:
		v.Port = p
	case string:
		v.Port = json.Number(p)
	default:
		return v, invalid("%s: field \"port\" is not a number", what)
	}
	if v.Port != "" {
		if n, err := strconv.Atoi(string(v.Port)); err != nil || n < 1 || n > 65535 {
			return v, invalid("%s: field \"port\" is not a port number", what)
		}
	}
	if v.Host != "" && !validHost(v.Host) {
		return v, invalid("%s: field \"host\" is not one DNS name or IP address", what)
	}
	if v.Engine != "" && v.Engine != "postgres" && v.Engine != "aurora-postgresql" {
		return v, invalid("%s: engine is %q; this provider rotates postgres", what, v.Engine)
	}
	if v.SSLMode != "" && !sslModes[v.SSLMode] {
		return v, invalid("%s: sslmode %q is not one of disable, allow, prefer, require, verify-ca, verify-full", what, v.SSLMode)
	}
	if len(v.Username) > maxIdentifier {
		return v, invalid("%s: username is longer than PostgreSQL's %d bytes", what, maxIdentifier)
	}
	return v, nil
}

// validHost accepts one host name or IP address: the connection string
// would read a comma as a list of servers to try and a slash as a Unix
// socket directory, neither of which a secret should be able to ask for.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// requireTarget checks the fields that say where and who.
func (v value) requireTarget(what string) error {
	switch {
	case v.Host == "":
		return invalid("%s has no host", what)
	case v.Username == "":
		return invalid("%s has no username", what)
	}
	return nil
}

// requireCredential checks a value that must log in.
func (v value) requireCredential(what string) error {
	if err := v.requireTarget(what); err != nil {
		return err
	}
	if v.Password == "" {
		return invalid("%s has no password", what)
	}
	return nil
}

func (v value) port() string {
	if v.Port == "" {
		return "5432"
	}
	return string(v.Port)
}

// endpoint is where a connection goes and how it protects itself.
type endpoint struct {
	host, port, dbname, sslmode, sslrootcert string
}

func (e endpoint) address() string { return net.JoinHostPort(e.host, e.port) }

// verified reports whether TLS checks the server's certificate, so that the
// server is the one the secret names and not whoever answers at its address.
func (e endpoint) verified() bool { return e.sslmode == "verify-full" || e.sslmode == "verify-ca" }

// credentialEndpoint is where the managed secret's own consumers connect,
// which is where Verify logs in with that secret's credential: libpq's
// defaults, as consumers would have them.
func (v value) credentialEndpoint() endpoint {
	e := endpoint{host: v.Host, port: v.port(), dbname: v.DBName, sslmode: v.SSLMode, sslrootcert: v.SSLRootCert}
	if e.dbname == "" {
		e.dbname = "postgres"
	}
	if e.sslmode == "" {
		e.sslmode = "prefer"
	}
	return e
}

// master is the decoded master secret: the credential and the one server
// it may be sent to.
type master struct {
	username, password string
	at                 endpoint
}

// masterSSLModes are the sslmodes a master may name. allow and prefer are
// missing on purpose: they fall back to an unencrypted connection without
// saying so, which is how a master password ends up in cleartext.
var masterSSLModes = map[string]bool{"verify-full": true, "verify-ca": true, "require": true, "disable": true}

// masterOf decodes the master secret. Where the master credential goes
// comes from it alone: the managed secret only names the role, since
// anyone who may write a managed secret could otherwise send the master
// password to a server of their choosing.
func masterOf(b []byte) (master, error) {
	if len(b) == 0 {
		return master{}, invalid("a master secret is required (tag rotor:master-secret): a role with CREATEROLE, and the host it is for")
	}
	v, err := decode("master secret", b)
	if err != nil {
		return master{}, err
	}
	return masterFrom("master secret", v)
}

// masterFrom reads a decoded value as a master credential (what names it in
// errors): the master secret, or the value of a master that rotates itself.
func masterFrom(what string, v value) (master, error) {
	m := master{username: v.Username, password: v.Password,
		at: endpoint{host: v.Host, port: v.port(), dbname: v.DBName, sslmode: v.SSLMode, sslrootcert: v.SSLRootCert}}
	switch {
	case v.Username == "" || v.Password == "":
		return m, invalid("%s needs username and password", what)
	case v.Host == "":
		return m, invalid("%s has no \"host\": the master credential is sent only to the server its own secret names (add \"host\", and \"port\", \"dbname\", \"sslmode\", \"sslrootcert\" as needed)", what)
	}
	if m.at.dbname == "" {
		m.at.dbname = "postgres"
	}
	switch {
	case m.at.sslmode == "":
		m.at.sslmode = "verify-full"
	case !masterSSLModes[m.at.sslmode]:
		return m, invalid("%s: sslmode %q may fall back to an unencrypted connection; a master takes verify-full (the default), verify-ca, require, or disable said explicitly", what, m.at.sslmode)
	}
	return m, nil
}

package mysql

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// value is the part of a secret value (AWS's database secret layout) the
// provider reads. Unknown fields are allowed and kept by Create, since AWS's
// own secrets carry more (dbInstanceIdentifier, dbClusterIdentifier), and a
// master secret may carry rotor's consent list ("rotor"), which the rotation
// core reads.
type value struct {
	Engine   string
	Host     string
	Port     string
	Username string
	Password string
	DBName   string
	// TLS is how a connection protects itself (see tlsModes).
	TLS string
	// TLSRootCert is a PEM file of CA certificates that verify-full and
	// verify-ca check the server against instead of the system's roots
	// (for Amazon RDS, AWS's global-bundle.pem shipped with the function).
	TLSRootCert string
}

// The TLS modes, named as PostgreSQL's sslmode is; MySQL's --ssl-mode
// names follow each.
const (
	tlsVerifyFull = "verify-full" // VERIFY_IDENTITY: TLS, certificate and host name checked
	tlsVerifyCA   = "verify-ca"   // VERIFY_CA: TLS, certificate checked, not the name
	tlsRequire    = "require"     // REQUIRED: TLS, the server not checked
	tlsPreferred  = "preferred"   // PREFERRED: TLS when the server offers it, unchecked
	tlsDisable    = "disable"     // DISABLED: no TLS
)

var tlsModes = map[string]bool{tlsVerifyFull: true, tlsVerifyCA: true, tlsRequire: true, tlsPreferred: true, tlsDisable: true}

var engines = map[string]bool{"mysql": true, "mariadb": true, "aurora-mysql": true}

// decode reads a value, naming what it is in errors, which never quote it.
func decode(what string, b []byte) (value, error) {
	var v value
	if len(bytes.TrimSpace(b)) == 0 {
		return v, invalid("%s is empty; want AWS's database secret layout {\"engine\":\"mysql\",\"host\",\"port\",\"username\",\"password\",\"dbname\"}", what)
	}
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
		"password": &v.Password, "dbname": &v.DBName, "tls": &v.TLS, "tlsrootcert": &v.TLSRootCert} {
		if *dst, err = str(name); err != nil {
			return v, err
		}
	}
	// The port is a number in AWS's layout; some tools write a string.
	switch p := raw["port"].(type) {
	case nil:
	case json.Number:
		v.Port = string(p)
	case string:
		v.Port = p
	default:
		return v, invalid("%s: field \"port\" is not a number", what)
	}
	if v.Port != "" {
		if n, err := strconv.Atoi(v.Port); err != nil || n < 1 || n > 65535 {
			return v, invalid("%s: field \"port\" is not a port number", what)
		}
	}
	if v.Host != "" && !validHost(v.Host) {
		return v, invalid("%s: field \"host\" is not one DNS name or IP address", what)
	}
	if v.Engine != "" && !engines[v.Engine] {
		return v, invalid("%s: engine is %q; this provider rotates mysql, mariadb and aurora-mysql", what, v.Engine)
	}
	if v.TLS != "" && !tlsModes[v.TLS] {
		return v, invalid("%s: tls %q is not one of verify-full, verify-ca, require, preferred, disable", what, v.TLS)
	}
	if v.Username != "" && !validUsername(v.Username) {
		return v, invalid("%s: field \"username\" holds a control character or is not UTF-8", what)
	}
	return v, nil
}

// validHost accepts one host name or IP address: no lists, no socket paths,
// nothing a driver could read as another address.
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

// validUsername refuses what cannot travel in the handshake (a NUL ends
// the name there) or be read back from an error. Quotes, backticks, '@',
// '%' and '_' are fine: account names are always quoted as identifiers
// and compared as bind parameters, and MySQL matches user names literally
// (only hosts have wildcards).
func validUsername(u string) bool {
	if !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if unicode.IsControl(r) {
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
		return "3306"
	}
	return v.Port
}

// endpoint is where a connection goes and how it protects itself.
type endpoint struct {
	host, port, dbname, tls, rootCert string
}

func (e endpoint) address() string { return net.JoinHostPort(e.host, e.port) }

// verified reports whether TLS checks the server's certificate, so that the
// server is the one the secret names and not whoever answers at its address.
func (e endpoint) verified() bool { return e.tls == tlsVerifyFull || e.tls == tlsVerifyCA }

// credentialEndpoint is where the managed secret's own consumers connect,
// which is where Verify logs in with that secret's credential: MySQL
// clients' default (preferred) unless the value says otherwise.
func (v value) credentialEndpoint() endpoint {
	e := endpoint{host: v.Host, port: v.port(), dbname: v.DBName, tls: v.TLS, rootCert: v.TLSRootCert}
	if e.tls == "" {
		e.tls = tlsPreferred
	}
	return e
}

// masterEndpoint is where a master credential goes: the value's own
// settings, TLS verify-full unless it says otherwise, and never a mode that
// falls back to plaintext without saying so. A master needs no default
// database (it names accounts, not tables), so dbname is not used: a stale
// one could only fail the login.
func (v value) masterEndpoint(what string) (endpoint, error) {
	e := endpoint{host: v.Host, port: v.port(), tls: v.TLS, rootCert: v.TLSRootCert}
	switch {
	case e.tls == "":
		e.tls = tlsVerifyFull
	case e.tls == tlsPreferred:
		return e, invalid("%s: tls %q falls back to an unencrypted connection without saying so; a master takes verify-full (the default), verify-ca, require, or disable said explicitly", what, e.tls)
	}
	return e, nil
}

// master is the decoded master secret: the credential and the one server
// it may be sent to.
type master struct {
	username, password string
	at                 endpoint
}

// masterOf decodes the master secret. Where the master credential goes
// comes from it alone: the managed secret only names the user, since
// anyone who may write a managed secret could otherwise send the master
// password to a server of their choosing.
func masterOf(b []byte) (master, error) {
	if len(b) == 0 {
		return master{}, invalid("a master secret is required (tag rotor:master-secret): an account with CREATE USER, and the host it is for")
	}
	v, err := decode("master secret", b)
	if err != nil {
		return master{}, err
	}
	m := master{username: v.Username, password: v.Password}
	switch {
	case v.Username == "" || v.Password == "":
		return m, invalid("master secret needs username and password")
	case v.Host == "":
		return m, invalid("master secret has no \"host\": the master credential is sent only to the server its own secret names (add \"host\", and \"port\", \"tls\", \"tlsrootcert\" as needed)")
	}
	if m.at, err = v.masterEndpoint("master secret"); err != nil {
		return m, err
	}
	return m, nil
}

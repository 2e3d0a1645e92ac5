package redis

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// value is the part of a secret value the provider reads. Unknown fields
// are allowed and kept by Create (provider.SetFields): a consumer's own
// settings, and rotor's consent list ("rotor") on a master.
type value struct {
	Host     string
	Port     string
	Username string
	Password string
	TLS      string
	CACert   string
}

// TLS modes (field "tls").
const (
	// VerifyFull: TLS, with the server's certificate checked against the
	// system's roots (or the CA file in "cacert") and the host name. The
	// default.
	VerifyFull = "verify-full"
	// Require: TLS without checking the certificate. Redis authenticates
	// by sending the password itself (AUTH), so whoever answers at the
	// address gets it: a master may not use it.
	Require = "require"
	// Disable: no TLS, the password in cleartext on the network.
	Disable = "disable"
)

const (
	defaultPort = "6379"
	// maxUsername bounds a username; Redis sets no limit of its own.
	maxUsername = 256
)

// decode reads a value, naming what it is in errors, which never quote it.
func decode(what string, b []byte) (value, error) {
	var v value
	if len(bytes.TrimSpace(b)) == 0 {
		return v, invalid("%s is empty; want {\"host\",\"port\",\"username\",\"password\",\"tls\"}", what)
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return v, invalid("%s is not a JSON object", what)
	}
	for name, dst := range map[string]*string{"host": &v.Host, "username": &v.Username, "password": &v.Password,
		"tls": &v.TLS, "cacert": &v.CACert} {
		switch x := raw[name].(type) {
		case nil:
		case string:
			*dst = x
		default:
			return v, invalid("%s: field %q is not a string", what, name)
		}
	}
	switch p := raw["port"].(type) {
	case nil:
	case json.Number:
		v.Port = p.String()
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
	switch v.TLS {
	case "", VerifyFull, Require, Disable:
	default:
		return v, invalid("%s: field \"tls\" is %q; want %q (the default), %q or %q", what, v.TLS, VerifyFull, Require, Disable)
	}
	if v.CACert != "" && v.tlsMode() != VerifyFull {
		return v, invalid("%s: field \"cacert\" is only read with tls %q, and tls is %q", what, VerifyFull, v.TLS)
	}
	if v.Username != "" {
		if err := checkUsername(v.Username); err != nil {
			return v, invalid("%s: field \"username\" %v", what, err)
		}
	}
	return v, nil
}

type usernameError string

func (e usernameError) Error() string { return string(e) }

// checkUsername refuses what Redis refuses in a username (spaces, NUL)
// and what a log or an error message would garble (other control
// characters, invalid UTF-8). Every command sends the username as an
// argument of its own, so no username can add ACL rules; this keeps names
// readable.
func checkUsername(u string) error {
	if len(u) > maxUsername {
		return usernameError("is longer than " + strconv.Itoa(maxUsername) + " bytes")
	}
	if !utf8.ValidString(u) {
		return usernameError("is not valid UTF-8")
	}
	for _, r := range u {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return usernameError("holds a space or a control character, which Redis usernames may not")
		}
	}
	return nil
}

// validHost accepts one host name or IP address.
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

func (v value) tlsMode() string {
	if v.TLS == "" {
		return VerifyFull
	}
	return v.TLS
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

// requireCredential also checks there is a password to log in with.
func (v value) requireCredential(what string) error {
	if err := v.requireTarget(what); err != nil {
		return err
	}
	if v.Password == "" {
		return invalid("%s has no password", what)
	}
	return nil
}

func (v value) endpoint() endpoint {
	e := endpoint{host: v.Host, port: v.Port, tls: v.tlsMode(), cacert: v.CACert}
	if e.port == "" {
		e.port = defaultPort
	}
	return e
}

// endpoint is where a connection goes and how it protects itself.
type endpoint struct {
	host, port, tls, cacert string
}

func (e endpoint) address() string { return net.JoinHostPort(e.host, e.port) }

// tlsConfig is the connection's TLS configuration; nil without TLS. The
// CA file is read at each connection, as a function's bundle may change
// with a deployment.
func (e endpoint) tlsConfig() (*tls.Config, error) {
	switch e.tls {
	case Disable:
		return nil, nil
	case Require:
		// The point of require: encryption without a certificate to check
		// (the consumers' choice; loginOf refuses it for a master).
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, nil
	}
	c := &tls.Config{ServerName: e.host, MinVersion: tls.VersionTLS12}
	if e.cacert != "" {
		pem, err := os.ReadFile(e.cacert)
		if err != nil {
			return nil, invalid("the CA file %s (field \"cacert\") cannot be read: %v", e.cacert, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, invalid("the CA file %s (field \"cacert\") holds no PEM certificate", e.cacert)
		}
	}
	return c, nil
}

// master is a credential that changes ACL users (the master secret, or the
// self strategy's own value) and the one server it may be sent to.
type master struct {
	username, password string
	at                 endpoint
}

// masterOf decodes a master secret. Where the master credential goes comes
// from it alone: the managed secret only names the user, since anyone who
// may write a managed secret could otherwise send the master password to a
// server of their choosing.
func masterOf(b []byte) (master, error) {
	if len(b) == 0 {
		return master{}, invalid("a master secret is required (tag rotor:master-secret): an ACL user that may run ACL GETUSER, ACL SETUSER, ACL DRYRUN and CLIENT KILL, and the host it is for")
	}
	return loginOf("master secret", b)
}

// loginOf decodes what, a value a master logs in with, under the master's
// rules: host required, verified TLS unless "disable" is said.
func loginOf(what string, b []byte) (master, error) {
	v, err := decode(what, b)
	if err != nil {
		return master{}, err
	}
	m := master{username: v.Username, password: v.Password, at: v.endpoint()}
	switch {
	case v.Username == "" || v.Password == "":
		return m, invalid("%s needs username and password", what)
	case v.Host == "":
		return m, invalid("%s has no \"host\": a master credential is sent only to the server its own secret names (add \"host\", and \"port\", \"tls\", \"cacert\" as needed)", what)
	case v.TLS == Require:
		return m, invalid("%s: tls %q does not check the server's certificate, and Redis authenticates by sending the password itself, so whoever answered would receive the master password; a master takes %q (the default, with \"cacert\" for a private CA) or %q said explicitly", what, Require, VerifyFull, Disable)
	}
	return m, nil
}

// hash is the SHA-256 of a password in lower-case hex, as ACL SETUSER's
// #<hash> rule and ACL GETUSER's passwords spell it.
func hash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// value is the part of a secret value (AWS's database secret layout) the
// provider reads. Unknown fields are allowed and kept by Create, since AWS's
// own secrets carry more (dbInstanceIdentifier, dbClusterIdentifier).
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

func (v value) address() string { return net.JoinHostPort(v.Host, v.port()) }

// masterOf decodes the master secret for the server of v.
func masterOf(b []byte, v value) (value, error) {
	if len(b) == 0 {
		return value{}, invalid("a master secret is required (tag rotor:master-secret): a role with CREATEROLE on %s", v.address())
	}
	m, err := decode("master secret", b)
	if err != nil {
		return m, err
	}
	if m.Username == "" || m.Password == "" {
		return m, invalid("master secret needs username and password")
	}
	if m.Host != "" && (m.Host != v.Host || m.port() != v.port()) {
		// Never send the master password to a server it is not for.
		return m, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"provider postgres: the master secret is for %s, the managed secret for %s", m.address(), v.address()))
	}
	return m, nil
}

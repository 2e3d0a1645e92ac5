package mysql

import (
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"regexp"

	"filippo.io/edwards25519"
)

// The authentication plugins whose stored form rotor computes, as the
// server names them.
const (
	pluginNative  = "mysql_native_password"
	pluginEd25519 = "ed25519" // MariaDB's auth_ed25519
)

// nativeHash is mysql_native_password's stored form of password: "*" and
// the upper-case hex of SHA1(SHA1(password)), what the server's PASSWORD()
// computes.
func nativeHash(password string) string {
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	return fmt.Sprintf("*%X", h2[:])
}

// ed25519Hash is MariaDB's ed25519 stored form of password (its
// plugin/auth_ed25519: compute_password_digest and ref10 keypair.c): the
// Ed25519 public key whose secret scalar is the clamped first 32 bytes of
// SHA-512(password), in base64 without the padding '=' (43 characters).
// The client (go-sql-driver's client_ed25519) signs with the same scalar.
func ed25519Hash(password string) (string, error) {
	h := sha512.Sum512([]byte(password))
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return "", err
	}
	a := (&edwards25519.Point{}).ScalarBaseMult(s)
	return base64.RawStdEncoding.EncodeToString(a.Bytes()), nil
}

// hashForms are what a computed hash may look like; anything else never
// reaches a statement (it is spliced in as a string literal).
var hashForms = map[string]*regexp.Regexp{
	pluginNative:  regexp.MustCompile(`^\*[0-9A-F]{40}$`),
	pluginEd25519: regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`),
}

// authClause is the IDENTIFIED clause that gives an account on plugin the
// password, carrying its hash only, in the server's dialect.
func authClause(f flavor, plugin, password string) (clause, hash string, err error) {
	if problem := pluginProblem(f, plugin); problem != "" {
		return "", "", invalid("%s", problem)
	}
	if plugin == pluginNative {
		hash = nativeHash(password)
	} else if hash, err = ed25519Hash(password); err != nil {
		return "", "", invalid("the password cannot be hashed for ed25519")
	}
	if !hashForms[plugin].MatchString(hash) {
		return "", "", invalid("internal error: the %s hash has an unexpected form", plugin)
	}
	if f == mariaDB {
		return "IDENTIFIED VIA " + plugin + " USING '" + hash + "'", hash, nil
	}
	return "IDENTIFIED WITH " + plugin + " AS '" + hash + "'", hash, nil
}

// pluginProblem says why rotor cannot set the password of an account on
// plugin, or "" when it can.
func pluginProblem(f flavor, plugin string) string {
	switch {
	case plugin == pluginNative, plugin == pluginEd25519 && f == mariaDB:
		return ""
	case plugin == "caching_sha2_password", plugin == "sha256_password":
		return fmt.Sprintf("the account uses %s, whose stored form (a salted SHA-256 crypt) rotor does not compute: setting it from the server's side would send the cleartext password in the statement, and a hash computed here could not be tested against a MySQL 8 server; use mysql_native_password for accounts rotor rotates (ALTER USER ... IDENTIFIED WITH mysql_native_password; MySQL 8.4 needs mysql_native_password=ON), or rotate it another way", plugin)
	case plugin == pluginEd25519:
		return fmt.Sprintf("the account uses ed25519, which only MariaDB has, but the server is %s", f)
	case plugin == "":
		return "the account names no authentication plugin"
	}
	return fmt.Sprintf("the account uses authentication plugin %q, which holds no password rotor can set; rotor sets passwords of mysql_native_password accounts, and of ed25519 ones on MariaDB", plugin)
}

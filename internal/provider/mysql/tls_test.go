package mysql_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/mysqltest"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/provider/mysql"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// TestTLS: against a server that takes TCP over TLS only, the master
// connects as its own secret says (verify-full by default) and verify as
// the managed secret says; a master that cannot verify the server, or does
// not use TLS, is refused with a named error, and so is the self
// strategy's own login.
func TestTLS(t *testing.T) {
	ctx := context.Background()
	s := mysqltest.Start(t, mysqltest.Options{TLS: true})
	const appPw = "tls-App-pw_0c9d8e7f6a5b"
	s.Exec(t, "CREATE USER '"+masterUser+"'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(masterPassword)+"'")
	s.Exec(t, "GRANT CREATE USER ON *.* TO '"+masterUser+"'@'%'")
	s.Exec(t, "GRANT SELECT ON mysql.* TO '"+masterUser+"'@'%'")
	s.Exec(t, "CREATE USER 'tls_app'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(appPw)+"'")
	with := func(base, fields map[string]any) map[string]any {
		doc := maps.Clone(base)
		for k, v := range fields {
			if v == nil {
				delete(doc, k)
			} else {
				doc[k] = v
			}
		}
		return doc
	}
	value := func(fields map[string]any) []byte {
		b, _ := json.Marshal(with(map[string]any{"engine": "mariadb", "host": s.Host, "port": s.Port, "username": "tls_app",
			"password": appPw, "tls": "verify-full", "tlsrootcert": s.CAFile}, fields))
		return b
	}
	// The TLS server's master: masterSecret's fields, this server, no tls.
	master := func(fields map[string]any) []byte {
		return masterSecret(with(map[string]any{"host": s.Host, "port": s.Port, "tls": nil, "tlsrootcert": s.CAFile}, fields))
	}
	rotate := func(cur, m []byte, o provider.Options) ([]byte, error) {
		pw, _ := provider.NewPassword(p, o)
		resp, err := p.Create(ctx, &provider.CreateRequest{SecretID: "s", Token: "t", Current: cur, Master: m, Password: pw, Options: o})
		if err != nil {
			return nil, err
		}
		if err := p.Apply(ctx, &provider.ApplyRequest{SecretID: "s", Token: "t", Value: resp.Value, Current: cur, Master: m, Options: o}); err != nil {
			return nil, err
		}
		return resp.Value, p.Verify(ctx, &provider.VerifyRequest{SecretID: "s", Token: "t", Value: resp.Value, Options: o})
	}
	for _, tc := range []struct {
		name          string
		master, value map[string]any
		self          bool // rotate tls_app as its own master, with CREATE USER
		want          rotorerr.Kind
		says          string
	}{
		{"master verify-full (the default) against the server's CA", nil, nil, false, "", ""},
		{"master verify-full said explicitly", map[string]any{"tls": "verify-full"}, nil, false, "", ""},
		{"master verify-ca", map[string]any{"tls": "verify-ca"}, nil, false, "", ""},
		{"master require (unverified, guarded)", map[string]any{"tls": "require", "tlsrootcert": nil}, nil, false, "", ""},
		{"value require", nil, map[string]any{"tls": "require", "tlsrootcert": nil}, false, "", ""},
		{"value preferred (its default)", nil, map[string]any{"tls": nil, "tlsrootcert": nil}, false, "", ""},
		{"self over verify-full", nil, nil, true, "", ""},
		{"master verify-full against the system's roots", map[string]any{"tlsrootcert": nil}, nil, false, rotorerr.InvalidInput, "TLS certificate is not trusted"},
		{"master verify-full by the certificate's DNS name", map[string]any{"host": "localhost"}, nil, false, "", ""},
		{"master disable, which the server refuses", map[string]any{"tls": "disable"}, nil, false, rotorerr.InvalidInput, "refused the login"},
		{"master preferred", map[string]any{"tls": "preferred"}, nil, false, rotorerr.InvalidInput, `tls "preferred" falls back`},
		{"master CA file missing", map[string]any{"tlsrootcert": "/nonexistent/ca.pem"}, nil, false, rotorerr.InvalidInput, `tlsrootcert "/nonexistent/ca.pem" cannot be read`},
		{"value verify-full against the system's roots", nil, map[string]any{"tlsrootcert": nil}, false, rotorerr.VerificationFailed, "TLS certificate is not trusted"},
		{"value disable, which the server refuses", nil, map[string]any{"tls": "disable"}, false, rotorerr.VerificationFailed, "refused the login"},
		{"self against the system's roots", nil, map[string]any{"tlsrootcert": nil}, true, rotorerr.InvalidInput, "TLS certificate is not trusted"},
		{"self preferred", nil, map[string]any{"tls": "preferred"}, true, rotorerr.InvalidInput, `tls "preferred" falls back`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts from the same password.
			defer s.Exec(t, "ALTER USER 'tls_app'@'%' IDENTIFIED BY PASSWORD '"+nativeHash(appPw)+"'")
			m, o := master(tc.master), provider.Options(nil)
			if tc.self {
				s.Exec(t, "GRANT CREATE USER ON *.* TO 'tls_app'@'%'")
				s.Exec(t, "GRANT SELECT ON mysql.global_priv TO 'tls_app'@'%'")
				defer s.Exec(t, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'tls_app'@'%'")
				m, o = nil, provider.Options{"strategy": mysql.Self}
			}
			v, err := rotate(value(tc.value), m, o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rotation over TLS: %v", err)
				}
				var doc map[string]any
				_ = json.Unmarshal(v, &doc)
				if diff := cmp.Diff(with(map[string]any{"tls": "verify-full"}, tc.value)["tls"], doc["tls"]); diff != "" {
					t.Errorf("the value's tls was not kept (-want +got):\n%s", diff)
				}
				return
			}
			if k := rotorerr.Classify(err); k != tc.want || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("rotation = %v (%s), want %s saying %q", err, k, tc.want, tc.says)
			}
		})
	}
}

package pgtest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// setupTLS gives the cluster a certificate for 127.0.0.1 and localhost,
// signed by a CA of its own (CAFile), and makes pg_hba.conf accept TCP
// connections over TLS only (hostssl), so that a client that does not use
// TLS is refused rather than silently served.
func (c *Cluster) setupTLS(cred *syscall.Credential) (map[string]string, error) {
	caDER, der, key, err := srvtest.ServerCert()
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(c.dir, "server.crt"), filepath.Join(c.dir, "server.key")
	c.CAFile = filepath.Join(c.dir, "ca.crt")
	// The server refuses a key readable by others; the CA is for clients.
	if err := srvtest.WriteOwned(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), cred); err != nil {
		return nil, err
	}
	if err := srvtest.WriteOwned(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cred); err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, err
	}
	hba := filepath.Join(c.dir, "data", "pg_hba.conf")
	b, err := os.ReadFile(hba)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "host ") || strings.HasPrefix(l, "host\t") {
			l = "hostssl" + l[len("host"):]
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(hba, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(hba, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	return map[string]string{"ssl": "on", "ssl_cert_file": certFile, "ssl_key_file": keyFile}, nil
}

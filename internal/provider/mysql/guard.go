package mysql

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"
)

// A guard stands between the driver and a server that the connection does
// not verify (tls require, preferred or disable), and cuts the connection
// before the driver sends anything that gives the password away.
//
// go-sql-driver/mysql answers whatever authentication method the server
// asks for. Three of them are safe against a server that is not the real
// one, since the password never leaves the client: mysql_native_password
// (a SHA-1 challenge-response), client_ed25519 (a signature of the
// server's nonce) and caching_sha2_password's fast path (a SHA-256
// challenge-response). The others are not: mysql_clear_password sends the
// password itself (the driver refuses it unless AllowCleartextPasswords,
// which rotor never sets); sha256_password and caching_sha2_password's
// "full authentication" send the password in cleartext inside TLS, which
// an unverified server terminates, or without TLS encrypted to an RSA key
// the server itself supplies; mysql_old_password's hash is weak. The
// driver has no setting that limits it to the safe ones, and inside TLS
// nothing outside the driver can read what it sends; so the guard
// terminates the driver's TLS itself (with a certificate of its own that
// only the driver trusts), opens the TLS to the server as the mode says,
// reads the authentication exchange in between, and passes on only the
// safe methods. After authentication it copies bytes both ways untouched.
//
// What a guard cannot do is prove the server real: a server that accepts
// the login without checking it looks the same as the real one. Only a
// verified connection (verify-full, verify-ca) does that.
type guard struct {
	upstream *tls.Config // the TLS towards the server; nil without TLS
	timeout  time.Duration

	mu      sync.Mutex
	refused string // why the guard cut the connection; "" when it did not
	// failed says the cut was not about authentication (TLS with the
	// server, an internal error).
	failed bool
}

// safePlugins are the methods the guard lets the driver answer (see guard).
var safePlugins = map[string]bool{"mysql_native_password": true, "client_ed25519": true, "caching_sha2_password": true}

// Protocol constants (MySQL's client/server protocol, connection phase).
const (
	capConnectWithDB = 0x00000008
	capSSL           = 0x00000800
	capSecureConn    = 0x00008000
	capPluginAuth    = 0x00080000
	capLenencAuth    = 0x00200000

	pktOK         = 0x00
	pktMoreData   = 0x01
	pktAuthSwitch = 0xfe
	pktErr        = 0xff

	cachingFastAuthOK = 3
	cachingFullAuth   = 4

	// maxAuthPacket bounds what the guard reads before authentication
	// ends: handshake packets are a few hundred bytes.
	maxAuthPacket = 64 << 10
)

// refuse cuts the connection for what the server asked.
func (g *guard) refuse(format string, args ...any) error { return g.cut(false, format, args...) }

// fail cuts the connection for another reason.
func (g *guard) fail(format string, args ...any) error { return g.cut(true, format, args...) }

func (g *guard) cut(failed bool, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	g.mu.Lock()
	if g.refused == "" {
		g.refused, g.failed = msg, failed
	}
	g.mu.Unlock()
	return errors.New(msg)
}

// refusal is why the guard cut the connection, or ""; failed when the
// reason was not what the server asked for.
func (g *guard) refusal() (why string, failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused, g.failed
}

// dial is the driver's DialFunc: it connects to the server and hands the
// driver one end of a pipe, the guard holding the other.
func (g *guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	server, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(g.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	driverEnd, guardEnd := net.Pipe()
	go g.run(server, guardEnd, deadline)
	return driverEnd, nil
}

// run relays one connection; it closes both ends when either ends.
func (g *guard) run(server, client net.Conn, deadline time.Time) {
	defer server.Close()
	defer client.Close()
	// Authentication must finish by the deadline; after it, the driver's
	// own timeouts apply.
	_ = server.SetDeadline(deadline)
	_ = client.SetDeadline(deadline)
	s, c, err := g.authenticate(server, client)
	if err != nil {
		return
	}
	_ = server.SetDeadline(time.Time{})
	_ = client.SetDeadline(time.Time{})
	go func() {
		_, _ = io.Copy(s, c)
		server.Close()
		client.Close()
	}()
	_, _ = io.Copy(c, s)
}

// authenticate relays the connection phase, refusing what is not safe, and
// returns the two sides to relay afterwards (TLS connections when TLS was
// negotiated). An error ends the connection.
func (g *guard) authenticate(server, client net.Conn) (s, c io.ReadWriter, err error) {
	s, c = server, client
	greeting, err := readPacket(s)
	if err != nil {
		return nil, nil, err
	}
	if err := writeAll(c, greeting); err != nil {
		return nil, nil, err
	}
	if len(greeting) > 4 && greeting[4] == pktErr {
		return nil, nil, errors.New("the server refused the connection")
	}
	first, err := readPacket(c)
	if err != nil {
		return nil, nil, err
	}
	if p := first[4:]; len(p) == 32 && binary.LittleEndian.Uint32(p)&capSSL != 0 {
		if g.upstream == nil {
			return nil, nil, g.fail("internal error: the driver asked for TLS on a connection without TLS")
		}
		if err := writeAll(s, first); err != nil {
			return nil, nil, err
		}
		up := tls.Client(server, g.upstream)
		if err := up.Handshake(); err != nil {
			return nil, nil, g.fail("TLS with the server failed (%v)", err)
		}
		cert, err := guardCertificate()
		if err != nil {
			return nil, nil, g.fail("internal error: %v", err)
		}
		down := tls.Server(client, &tls.Config{Certificates: []tls.Certificate{cert.cert}, MinVersion: tls.VersionTLS13})
		if err := down.Handshake(); err != nil {
			return nil, nil, err
		}
		s, c = up, down
		if first, err = readPacket(c); err != nil {
			return nil, nil, err
		}
	}
	plugin, ok := responsePlugin(first[4:])
	if !ok {
		return nil, nil, g.fail("internal error: the driver's handshake response could not be read")
	}
	if !safePlugins[plugin] {
		return nil, nil, g.refuse("the server announced %s", describePlugin(plugin))
	}
	if err := writeAll(s, first); err != nil {
		return nil, nil, err
	}
	for {
		pkt, err := readPacket(s)
		if err != nil {
			return nil, nil, err
		}
		p := pkt[4:]
		if len(p) == 0 {
			return nil, nil, g.refuse("the server sent an empty packet during authentication")
		}
		switch p[0] {
		case pktOK:
			if err := writeAll(c, pkt); err != nil {
				return nil, nil, err
			}
			return s, c, nil
		case pktErr:
			_ = writeAll(c, pkt)
			return nil, nil, errors.New("authentication failed")
		case pktAuthSwitch:
			if len(p) == 1 {
				return nil, nil, g.refuse("the server asked for %s", describePlugin("mysql_old_password"))
			}
			name := p[1:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			plugin = string(name)
			if !safePlugins[plugin] {
				return nil, nil, g.refuse("the server asked for %s", describePlugin(plugin))
			}
			if err := writeAll(c, pkt); err != nil {
				return nil, nil, err
			}
			answer, err := readPacket(c)
			if err != nil {
				return nil, nil, err
			}
			if err := writeAll(s, answer); err != nil {
				return nil, nil, err
			}
		case pktMoreData:
			switch {
			case plugin == "caching_sha2_password" && len(p) == 2 && p[1] == cachingFastAuthOK:
				if err := writeAll(c, pkt); err != nil {
					return nil, nil, err
				}
			case plugin == "caching_sha2_password" && len(p) == 2 && p[1] == cachingFullAuth:
				return nil, nil, g.refuse("the server asked for caching_sha2_password's full authentication, which sends the password itself (in cleartext over TLS, or encrypted to an RSA key the server supplies)")
			default:
				return nil, nil, g.refuse("the server sent unexpected authentication data for %s", plugin)
			}
		default:
			return nil, nil, g.refuse("the server sent an unexpected packet during authentication")
		}
	}
}

func describePlugin(p string) string {
	switch p {
	case "mysql_clear_password":
		return "mysql_clear_password, which sends the password in cleartext"
	case "sha256_password":
		return "sha256_password, which sends the password itself (in cleartext over TLS, or encrypted to an RSA key the server supplies)"
	case "mysql_old_password":
		return "mysql_old_password, whose hash is weak"
	}
	return fmt.Sprintf("authentication method %q, which rotor does not use over a connection that does not verify the server", p)
}

// responsePlugin reads the plugin name at the end of a HandshakeResponse41
// payload: what the driver answered with.
func responsePlugin(p []byte) (string, bool) {
	if len(p) < 32 {
		return "", false
	}
	caps := binary.LittleEndian.Uint32(p)
	pos := 32
	skipNul := func() bool {
		i := bytes.IndexByte(p[pos:], 0)
		if i < 0 {
			return false
		}
		pos += i + 1
		return true
	}
	if !skipNul() { // user
		return "", false
	}
	switch {
	case caps&capLenencAuth != 0:
		n, w, ok := lenenc(p[pos:])
		if !ok || n > uint64(len(p)) {
			return "", false
		}
		pos += w + int(n)
	case caps&capSecureConn != 0:
		if pos >= len(p) {
			return "", false
		}
		pos += 1 + int(p[pos])
	default:
		if !skipNul() {
			return "", false
		}
	}
	if pos > len(p) {
		return "", false
	}
	if caps&capConnectWithDB != 0 && !skipNul() {
		return "", false
	}
	if caps&capPluginAuth == 0 || pos >= len(p) {
		return "", false
	}
	i := bytes.IndexByte(p[pos:], 0)
	if i < 0 {
		return "", false
	}
	return string(p[pos : pos+i]), true
}

// lenenc reads a length-encoded integer: its value and width.
func lenenc(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3, true
	case 0xfd:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case 0xfe:
		if len(b) < 9 {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, true
	case 0xfb, 0xff:
		return 0, 0, false
	}
	return uint64(b[0]), 1, true
}

// readPacket reads one protocol packet: its 4-byte header and payload.
func readPacket(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > maxAuthPacket {
		return nil, errors.New("packet too large for the connection phase")
	}
	pkt := make([]byte, 4+n)
	copy(pkt, hdr)
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		return nil, err
	}
	return pkt, nil
}

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// guardServerName is the name the driver checks the guard's certificate
// for; .invalid never resolves, so the certificate is good for nothing
// else.
const guardServerName = "rotor-auth-guard.invalid"

type guardCert struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// guardCertificate is the guard's own certificate, made once per process;
// its key never leaves memory.
var guardCertificate = sync.OnceValues(func() (guardCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return guardCert{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: guardServerName},
		DNSNames: []string{guardServerName}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(100 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return guardCert{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return guardCert{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return guardCert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool}, nil
})

// driverTLS is the TLS configuration the driver uses towards the guard.
func driverTLS() (*tls.Config, error) {
	c, err := guardCertificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: c.pool, ServerName: guardServerName, MinVersion: tls.VersionTLS13}, nil
}

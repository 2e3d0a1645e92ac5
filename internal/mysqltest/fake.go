package mysqltest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Fake is a server that speaks MySQL's connection phase and nothing more:
// it asks every client for its password by one authentication method,
// records everything the client sends (decrypted, when over TLS or RSA),
// and then refuses the login with error 1045. It is what a client meets
// when a secret names a host that is not the real server, so that tests
// can prove what a client gives such a host.
type Fake struct {
	Host string
	Port int

	ln       net.Listener
	opts     FakeOptions
	tlsCfg   *tls.Config
	rsaKey   *rsa.PrivateKey
	mu       sync.Mutex
	conns    []FakeConn
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// FakeOptions choose how the fake asks.
type FakeOptions struct {
	// Ask is the authentication method the fake wants:
	// mysql_native_password, client_ed25519, mysql_clear_password,
	// sha256_password, caching_sha2_password (which then asks for full
	// authentication: the password itself) or mysql_old_password.
	Ask string
	// Greeting is the method the greeting names, "" for Ask; when the
	// client answers by another, the fake switches it to Ask.
	Greeting string
	// TLS offers TLS with a certificate for 127.0.0.1 from a CA of the
	// fake's own, which no client is meant to trust.
	TLS bool
}

// FakeConn is what one client sent.
type FakeConn struct {
	// User is the user name of the handshake response; "" when the client
	// sent none.
	User string
	// Plugin is the method the client's handshake response answered with.
	Plugin string
	// TLS is whether the client went on after the fake's TLS handshake.
	TLS bool
	// Raw is every byte the client sent, decrypted when over TLS.
	Raw []byte
	// Passwords are the passwords the fake learned: sent in cleartext, or
	// encrypted to the fake's RSA key.
	Passwords []string
}

// StartFake starts a fake on 127.0.0.1 and stops it at the test's end.
func StartFake(t testing.TB, opts FakeOptions) *Fake {
	t.Helper()
	if opts.Ask == "" {
		t.Fatal("mysqltest: FakeOptions.Ask is required")
	}
	f := &Fake{opts: opts}
	if opts.TLS {
		_, der, key, err := newServerCert("rotor mysqltest fake CA")
		if err != nil {
			t.Fatal(err)
		}
		f.tlsCfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	}
	if opts.Ask == "sha256_password" || opts.Ask == "caching_sha2_password" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		f.rsaKey = k
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	f.ln, f.Host, f.Port = ln, Host, ln.Addr().(*net.TCPAddr).Port
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

// Close stops the fake and waits for its connections to end.
func (f *Fake) Close() {
	f.stopOnce.Do(func() { f.ln.Close() })
	f.wg.Wait()
}

// Conns is what each connection so far sent, in order of arrival.
func (f *Fake) Conns() []FakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeConn(nil), f.conns...)
}

func (f *Fake) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		i := len(f.conns)
		f.conns = append(f.conns, FakeConn{})
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			rec := &FakeConn{}
			f.serve(c, rec)
			f.mu.Lock()
			f.conns[i] = *rec
			f.mu.Unlock()
		}()
	}
}

// recorder keeps what the client sent.
type recorder struct {
	r   io.Reader
	rec *FakeConn
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.rec.Raw = append(r.rec.Raw, p[:n]...)
	return n, err
}

// fakeConn is one client's connection phase.
type fakeConn struct {
	rw  io.ReadWriter
	in  io.Reader
	seq byte
}

func (c *fakeConn) read() ([]byte, error) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c.in, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n > 1<<16 {
		return nil, errors.New("packet too large")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.in, p); err != nil {
		return nil, err
	}
	c.seq = hdr[3] + 1
	return p, nil
}

func (c *fakeConn) write(p []byte) error {
	hdr := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), c.seq}
	c.seq++
	_, err := c.rw.Write(append(hdr, p...))
	return err
}

const (
	fakeCapLongPassword = 0x00000001
	fakeCapConnectDB    = 0x00000008
	fakeCapProtocol41   = 0x00000200
	fakeCapSSL          = 0x00000800
	fakeCapSecureConn   = 0x00008000
	fakeCapPluginAuth   = 0x00080000
	fakeCapConnectAttrs = 0x00100000
	fakeCapLenencAuth   = 0x00200000
)

// scramble is 20 random bytes without zeros (a zero would end the string
// it travels in).
func scramble(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = b[i]%127 + 1
	}
	return b
}

func (f *Fake) serve(raw net.Conn, rec *FakeConn) {
	c := &fakeConn{rw: raw, in: recorder{r: raw, rec: rec}}
	greetingPlugin := f.opts.Greeting
	if greetingPlugin == "" {
		greetingPlugin = f.opts.Ask
	}
	salt := scramble(20)
	caps := uint32(fakeCapLongPassword | fakeCapConnectDB | fakeCapProtocol41 | fakeCapSecureConn | fakeCapPluginAuth | fakeCapConnectAttrs | fakeCapLenencAuth)
	if f.tlsCfg != nil {
		caps |= fakeCapSSL
	}
	var g bytes.Buffer
	g.WriteByte(10)
	g.WriteString("8.0.99-fake\x00")
	g.Write([]byte{1, 0, 0, 0})
	g.Write(salt[:8])
	g.WriteByte(0)
	g.Write([]byte{byte(caps), byte(caps >> 8)})
	g.WriteByte(0x21)
	g.Write([]byte{2, 0})
	g.Write([]byte{byte(caps >> 16), byte(caps >> 24)})
	g.WriteByte(21)
	g.Write(make([]byte, 10))
	g.Write(salt[8:])
	g.WriteByte(0)
	g.WriteString(greetingPlugin + "\x00")
	if c.write(g.Bytes()) != nil {
		return
	}
	resp, err := c.read()
	if err != nil {
		return
	}
	if len(resp) == 32 && binary.LittleEndian.Uint32(resp)&fakeCapSSL != 0 && f.tlsCfg != nil {
		tc := tls.Server(raw, f.tlsCfg)
		if tc.Handshake() != nil {
			return
		}
		rec.TLS = true
		c.rw, c.in = tc, recorder{r: tc, rec: rec}
		if resp, err = c.read(); err != nil {
			return
		}
	}
	user, answer, plugin, ok := parseResponse(resp)
	if !ok {
		return
	}
	rec.User, rec.Plugin = user, plugin
	if plugin != f.opts.Ask {
		var sw []byte
		switch f.opts.Ask {
		case "mysql_old_password":
			sw = []byte{0xfe}
		case "client_ed25519":
			nonce := scramble(32)
			sw = append([]byte("\xfe"+f.opts.Ask+"\x00"), nonce...)
		case "mysql_clear_password":
			sw = []byte("\xfe" + f.opts.Ask + "\x00")
		default:
			salt = scramble(20)
			sw = append(append([]byte("\xfe"+f.opts.Ask+"\x00"), salt...), 0)
		}
		if c.write(sw) != nil {
			return
		}
		if answer, err = c.read(); err != nil {
			return
		}
	}
	learn := func(pw []byte) { rec.Passwords = append(rec.Passwords, string(bytes.TrimSuffix(pw, []byte{0}))) }
	switch f.opts.Ask {
	case "mysql_clear_password":
		learn(answer)
	case "sha256_password", "caching_sha2_password":
		if f.opts.Ask == "caching_sha2_password" {
			// Not cached: the password itself, please.
			if c.write([]byte{0x01, 4}) != nil {
				return
			}
			if answer, err = c.read(); err != nil {
				return
			}
		}
		if len(answer) == 1 && (answer[0] == 1 || answer[0] == 2) { // the server's public key, please
			der, err := x509.MarshalPKIXPublicKey(&f.rsaKey.PublicKey)
			if err != nil {
				return
			}
			if c.write(append([]byte{0x01}, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)) != nil {
				return
			}
			enc, err := c.read()
			if err != nil {
				return
			}
			plain, err := rsa.DecryptOAEP(sha1.New(), nil, f.rsaKey, enc, nil)
			if err != nil {
				return
			}
			for i := range plain {
				plain[i] ^= salt[i%len(salt)]
			}
			learn(plain)
		} else if len(answer) > 0 && answer[len(answer)-1] == 0 {
			learn(answer) // in cleartext (over TLS)
		}
	}
	msg := fmt.Sprintf("Access denied for user '%s'@'%s' (using password: YES)", user, Host)
	_ = c.write(append([]byte{0xff, 0x15, 0x04, '#', '2', '8', '0', '0', '0'}, msg...))
}

// parseResponse reads a HandshakeResponse41: the user, the auth answer and
// the method it answers by.
func parseResponse(p []byte) (user string, answer []byte, plugin string, ok bool) {
	if len(p) < 33 {
		return "", nil, "", false
	}
	caps := binary.LittleEndian.Uint32(p)
	pos := 32
	i := bytes.IndexByte(p[pos:], 0)
	if i < 0 {
		return "", nil, "", false
	}
	user = string(p[pos : pos+i])
	pos += i + 1
	if pos >= len(p) {
		return "", nil, "", false
	}
	n := int(p[pos]) // the driver's answers are shorter than 251 bytes
	if caps&fakeCapLenencAuth == 0 || n >= 0xfb || pos+1+n > len(p) {
		return "", nil, "", false
	}
	answer = p[pos+1 : pos+1+n]
	pos += 1 + n
	if caps&fakeCapConnectDB != 0 {
		if i = bytes.IndexByte(p[pos:], 0); i < 0 {
			return "", nil, "", false
		}
		pos += i + 1
	}
	if i = bytes.IndexByte(p[pos:], 0); i < 0 {
		return "", nil, "", false
	}
	return user, answer, string(p[pos : pos+i]), true
}

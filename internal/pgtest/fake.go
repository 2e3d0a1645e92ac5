package pgtest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/rotorhq/rotor/internal/srvtest"
)

// Ask is the authentication a Fake asks every client for.
type Ask string

// What a Fake may ask for.
const (
	// AskCleartext asks for the password in a PasswordMessage as it is.
	AskCleartext Ask = "password"
	// AskMD5 asks for md5(md5(password + user) + salt) in hex.
	AskMD5 Ask = "md5"
	// AskSCRAM starts a SCRAM-SHA-256 exchange (no channel binding offered)
	// and fails it after the client's proof, as a server that does not know
	// the password's verifier must.
	AskSCRAM Ask = "scram-sha-256"
	// AskNothing lets the client in at once (AuthenticationOk), as a trust
	// line of pg_hba.conf would, and takes whatever it sends next.
	AskNothing Ask = "none"
)

// FakeOptions adjust a Fake.
type FakeOptions struct {
	// Ask is required.
	Ask Ask
	// TLS answers an SSLRequest with a certificate for 127.0.0.1 from a CA
	// of the fake's own (Fake.CAFile is not written: no client is meant to
	// trust it). Without it the fake answers 'N', as a server with ssl=off.
	TLS bool
}

// Fake is an impostor of a PostgreSQL server on loopback, for attack tests:
// it speaks the protocol (jackc/pgx/v5/pgproto3) up to authentication, asks
// for what FakeOptions.Ask says, records everything every client sends
// (after TLS), and then refuses the login with SQLSTATE 28P01. It is what a
// host name pointed at an attacker's machine would answer.
type Fake struct {
	Host string
	Port int

	ask       Ask
	tlsConfig *tls.Config
	ln        net.Listener
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu    sync.Mutex
	conns []*FakeConn
}

// FakeConn is what one client connection sent a Fake.
type FakeConn struct {
	// User and Database are the startup message's.
	User, Database string
	// TLS is whether the client went on after the fake's TLS handshake.
	TLS bool
	// Passwords are the PasswordMessages received: cleartext passwords or
	// "md5"-prefixed digests.
	Passwords []string
	// SASL are the SCRAM messages received (client-first, client-final).
	SASL []string
	// Raw is every byte the client sent, decrypted when over TLS: the
	// startup message, any password or SCRAM message, any query.
	Raw []byte
}

// fakeTimeout bounds one connection, so that Close never waits longer.
const fakeTimeout = 10 * time.Second

// StartFake starts a Fake for the test and closes it in t.Cleanup.
func StartFake(t testing.TB, opts FakeOptions) *Fake {
	t.Helper()
	f, err := NewFake(opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// NewFake starts a Fake; the caller must Close it.
func NewFake(opts FakeOptions) (*Fake, error) {
	switch opts.Ask {
	case AskCleartext, AskMD5, AskSCRAM, AskNothing:
	default:
		return nil, fmt.Errorf("fake server: Ask %q is not one of %q, %q, %q, %q", opts.Ask, AskCleartext, AskMD5, AskSCRAM, AskNothing)
	}
	f := &Fake{Host: Host, ask: opts.Ask}
	if opts.TLS {
		_, der, key, err := srvtest.ServerCert()
		if err != nil {
			return nil, fmt.Errorf("fake server: TLS: %w", err)
		}
		f.tlsConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		return nil, fmt.Errorf("fake server: %w", err)
	}
	f.ln, f.Port = ln, ln.Addr().(*net.TCPAddr).Port
	f.wg.Go(f.accept)
	return f, nil
}

// Address is host:port.
func (f *Fake) Address() string { return net.JoinHostPort(f.Host, fmt.Sprint(f.Port)) }

// Close stops accepting and waits for every connection to end (each is cut
// after 10 s). It is safe to call more than once.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		f.ln.Close()
		f.wg.Wait()
	})
}

// Conns is a copy of what every connection so far sent. Close first to be
// sure a connection has finished.
func (f *Fake) Conns() []FakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FakeConn, len(f.conns))
	for i, c := range f.conns {
		out[i] = *c
		out[i].Passwords = append([]string(nil), c.Passwords...)
		out[i].SASL = append([]string(nil), c.SASL...)
		out[i].Raw = append([]byte(nil), c.Raw...)
	}
	return out
}

func (f *Fake) accept() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		f.wg.Go(func() { f.serve(nc) })
	}
}

// recorder appends what the client sends to its FakeConn as it is read.
type recorder struct {
	f    *Fake
	conn *FakeConn
	r    io.Reader
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.f.mu.Lock()
	r.conn.Raw = append(r.conn.Raw, p[:n]...)
	r.f.mu.Unlock()
	return n, err
}

func (f *Fake) record(c *FakeConn, update func(*FakeConn)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	update(c)
}

func (f *Fake) serve(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(fakeTimeout))
	rec := &FakeConn{}
	f.mu.Lock()
	f.conns = append(f.conns, rec)
	f.mu.Unlock()

	var conn net.Conn = nc
	be := pgproto3.NewBackend(&recorder{f: f, conn: rec, r: conn}, conn)
	for started := false; !started; {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if f.tlsConfig == nil {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(nc, f.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return // the client did not trust the certificate
			}
			conn = tc
			f.record(rec, func(c *FakeConn) { c.TLS = true })
			be = pgproto3.NewBackend(&recorder{f: f, conn: rec, r: conn}, conn)
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.StartupMessage:
			f.record(rec, func(c *FakeConn) { c.User, c.Database = m.Parameters["user"], m.Parameters["database"] })
			started = true
		default:
			return
		}
	}
	if err := f.authenticate(be, rec); err == nil {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: fmt.Sprintf("password authentication failed for user %q", rec.User)})
		_ = be.Flush()
	}
	// Whatever else the client sends is recorded until it hangs up.
	_, _ = io.Copy(io.Discard, &recorder{f: f, conn: rec, r: conn})
}

// authenticate asks for f.ask and records the answer.
func (f *Fake) authenticate(be *pgproto3.Backend, rec *FakeConn) error {
	switch f.ask {
	case AskNothing:
		be.Send(&pgproto3.AuthenticationOk{})
		be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
		be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		if err := be.Flush(); err != nil {
			return err
		}
		// A client that goes on sends a query next; it is in Raw.
		_, err := be.Receive()
		return err
	case AskCleartext, AskMD5:
		if f.ask == AskCleartext {
			be.Send(&pgproto3.AuthenticationCleartextPassword{})
			_ = be.SetAuthType(pgproto3.AuthTypeCleartextPassword)
		} else {
			var salt [4]byte
			_, _ = rand.Read(salt[:])
			be.Send(&pgproto3.AuthenticationMD5Password{Salt: salt})
			_ = be.SetAuthType(pgproto3.AuthTypeMD5Password)
		}
		if err := be.Flush(); err != nil {
			return err
		}
		msg, err := be.Receive()
		if err != nil {
			return err
		}
		pm, ok := msg.(*pgproto3.PasswordMessage)
		if !ok {
			return fmt.Errorf("want a PasswordMessage, got %T", msg)
		}
		f.record(rec, func(c *FakeConn) { c.Passwords = append(c.Passwords, pm.Password) })
		return nil
	}
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	_ = be.SetAuthType(pgproto3.AuthTypeSASL)
	if err := be.Flush(); err != nil {
		return err
	}
	msg, err := be.Receive()
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return fmt.Errorf("want a SASLInitialResponse, got %T", msg)
	}
	f.record(rec, func(c *FakeConn) { c.SASL = append(c.SASL, string(first.Data)) })
	// client-first-message: gs2 header, then n=<user>,r=<client nonce>.
	_, nonce, found := strings.Cut(string(first.Data), ",r=")
	if !found {
		return errors.New("no client nonce in the SCRAM client-first-message")
	}
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte("r=" + nonce + rand.Text() + ",s=" + base64.StdEncoding.EncodeToString(salt[:]) + ",i=4096")})
	_ = be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	if err := be.Flush(); err != nil {
		return err
	}
	msg, err = be.Receive()
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fmt.Errorf("want a SASLResponse, got %T", msg)
	}
	f.record(rec, func(c *FakeConn) { c.SASL = append(c.SASL, string(final.Data)) })
	return nil
}

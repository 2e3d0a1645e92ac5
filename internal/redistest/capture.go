package redistest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// captureTimeout bounds how long Stop and Close wait for what they drain.
const captureTimeout = 5 * time.Second

// Monitor is a MONITOR connection as AdminUser, recording what the server
// shows of every other client's commands. Redis 7 leaves administrative
// commands (ACL ..., CLIENT KILL, CONFIG ...) out of MONITOR altogether
// and shows the arguments of AUTH and HELLO ... AUTH as "(redacted)"; a
// Proxy records what MONITOR does not show.
type Monitor struct {
	server *Server
	conn   net.Conn
	done   chan struct{}

	mu    sync.Mutex
	lines []string
	err   error
}

// Monitor starts recording; Stop ends it. The test fails if MONITOR cannot
// start.
func (s *Server) Monitor(t testing.TB) *Monitor {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("redistest: monitor: %v", err)
	}
	m := &Monitor{server: s, conn: conn, done: make(chan struct{})}
	t.Cleanup(func() { m.conn.Close(); <-m.done })
	r := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(captureTimeout))
	for _, cmd := range [][]string{{"AUTH", s.AdminUser, s.AdminPassword}, {"MONITOR"}} {
		if _, err := conn.Write(encode(cmd)); err != nil {
			t.Fatalf("redistest: monitor: %v", err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != "+OK\r\n" {
			// The reply to AUTH is a fixed text, never the password.
			t.Fatalf("redistest: monitor: %s: %q, %v", cmd[0], line, err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	go m.read(r)
	return m
}

func (m *Monitor) read(r *bufio.Reader) {
	defer close(m.done)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			m.mu.Lock()
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				m.err = err
			}
			m.mu.Unlock()
			return
		}
		line = strings.TrimSuffix(strings.TrimPrefix(line, "+"), "\r\n")
		m.mu.Lock()
		m.lines = append(m.lines, line)
		m.mu.Unlock()
	}
}

// Stop ends the recording once the server has shown it everything sent
// before the call (a marker command sent after them has come through), and
// returns the lines: `<time> [<db> <client address>] "COMMAND" "arg" ...`.
func (m *Monitor) Stop(t testing.TB) []string {
	t.Helper()
	marker := "rotor-monitor-marker-" + rand.Text()
	m.server.Do(t, "ECHO", marker)
	deadline := time.Now().Add(captureTimeout)
	for !m.shown(marker) {
		select {
		case <-m.done:
			t.Fatalf("redistest: monitor: the connection ended: %v", m.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("redistest: monitor: the marker command did not come through")
		}
	}
	m.conn.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.lines {
		if !strings.Contains(l, marker) {
			out = append(out, l)
		}
	}
	return out
}

func (m *Monitor) shown(marker string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.lines) - 1; i >= 0; i-- {
		if strings.Contains(m.lines[i], marker) {
			return true
		}
	}
	return false
}

// Proxy forwards TCP connections to a server's plaintext port and records
// every byte each client sends: what crossed the wire, including what
// MONITOR leaves out and SLOWLOG redacts. Point a client at Host:Port
// instead of the server.
type Proxy struct {
	Host string
	Port int

	target    string
	ln        net.Listener
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu    sync.Mutex
	conns []*proxyConn
}

type proxyConn struct {
	client, server net.Conn
	sent           bytes.Buffer
}

// Proxy starts a Proxy to s, closed in the test's cleanup.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		t.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{Host: Host, Port: ln.Addr().(*net.TCPAddr).Port, target: s.Addr(), ln: ln}
	p.wg.Go(p.accept)
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		srv, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: srv}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		p.wg.Go(func() {
			// Client to server, recorded; the server's side closes when the
			// client does.
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.mu.Lock()
					pc.sent.Write(buf[:n])
					p.mu.Unlock()
					if _, werr := srv.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			srv.Close()
		})
		p.wg.Go(func() {
			_, _ = io.Copy(c, srv)
			c.Close()
		})
	}
}

// Close stops accepting, waits a while for the clients to close their
// connections, then closes what is left, and returns what each connection
// sent, in the order they were accepted. It may be called more than once.
func (p *Proxy) Close() [][]byte {
	p.closeOnce.Do(func() {
		p.ln.Close()
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(captureTimeout):
			p.mu.Lock()
			for _, pc := range p.conns {
				pc.client.Close()
				pc.server.Close()
			}
			p.mu.Unlock()
			<-done
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][]byte, len(p.conns))
	for i, pc := range p.conns {
		out[i] = bytes.Clone(pc.sent.Bytes())
	}
	return out
}

// Commands parses what a client sent (RESP arrays of bulk strings, as
// every client library sends commands) into its commands.
func Commands(raw []byte) ([][]string, error) {
	r := bufio.NewReader(bytes.NewReader(raw))
	var out [][]string
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return out, nil
		}
		if err != nil || !strings.HasPrefix(line, "*") {
			return out, fmt.Errorf("command %d: not a RESP array", len(out)+1)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
		if err != nil || n < 0 {
			return out, fmt.Errorf("command %d: bad array length", len(out)+1)
		}
		cmd := make([]string, 0, n)
		for range n {
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "$") {
				return out, fmt.Errorf("command %d: not a bulk string", len(out)+1)
			}
			size, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
			if err != nil || size < 0 {
				return out, fmt.Errorf("command %d: bad bulk length", len(out)+1)
			}
			b := make([]byte, size+2)
			if _, err := io.ReadFull(r, b); err != nil || !bytes.HasSuffix(b, []byte("\r\n")) {
				return out, fmt.Errorf("command %d: short bulk string", len(out)+1)
			}
			cmd = append(cmd, string(b[:size]))
		}
		out = append(out, cmd)
	}
}

// encode is cmd as a RESP array of bulk strings.
func encode(cmd []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(cmd))
	for _, a := range cmd {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

package redact

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestNewRequestError sends real requests whose path and query hold a
// secret to servers on loopback that fail in each way net/http reports, and
// checks the error names method and host, says what went wrong, and quotes
// no part of the path or query, even when the server echoes the request.
func TestNewRequestError(t *testing.T) {
	const key = "mk/se+cr=t?&#"
	target := "/v1/" + url.PathEscape(key) + "/keys?k=" + url.QueryEscape(key)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the client refuses
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(plain.Close)
	echo := echoServer(t) // answers with the request line
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	t.Cleanup(hangup.Close)

	for _, tc := range []struct {
		name, base string
		timeout    time.Duration
		want       string
	}{
		{"a closed port", "http://" + closedAddr, 0, "connection refused"},
		{"an untrusted certificate", untrusted.URL, 0, "certificate is not trusted: x509: certificate signed by unknown authority"},
		{"a timeout", slow.URL, 100 * time.Millisecond, "timed out"},
		{"https to a plain server", "https://" + strings.TrimPrefix(plain.URL, "http://"), 0, "server gave HTTP response to HTTPS client"},
		{"a server that echoes the request line", echo, 0, "malformed HTTP status code"},
		{"a server that hangs up", hangup.URL, 0, "closed the connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodDelete, tc.base+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = http.DefaultClient.Do(req)
			if err == nil {
				t.Fatal("the request succeeded")
			}
			re := NewRequestError(req.Method, req.URL, err)
			msg := re.Error()
			if !strings.HasPrefix(msg, "DELETE "+req.URL.Host+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want DELETE %s: ...%s...", msg, req.URL.Host, tc.want)
			}
			for _, part := range []string{"/v1", "keys", "k=", "se+cr", "se%2Bcr", "mk"} {
				if strings.Contains(msg, part) {
					t.Errorf("error %q quotes %q of the path or query", msg, part)
				}
			}
			if tc.timeout > 0 && !errors.Is(re, context.DeadlineExceeded) {
				t.Errorf("a timeout does not unwrap to context.DeadlineExceeded: %v", re)
			}
		})
	}
}

// echoServer answers every connection with its request line, which no HTTP
// client can parse: net/http quotes it in its error.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte(line + "\r\n"))
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestReasonCutsQuotedData(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`malformed HTTP response "GET /v1/secret"`, "malformed HTTP response"},
		{"unsupported protocol scheme `ftp`", "unsupported protocol scheme"},
		{`"all quoted"`, "the request failed"},
		{"net/http: request canceled", "net/http: request canceled"},
	} {
		if got := reason(errors.New(tc.in)); got != tc.want {
			t.Errorf("reason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	u, _ := url.Parse("https://api.example.com/v1/abc/keys?x=1")
	if got := NewRequestError("GET", u, errors.New("echo /v1/abc/keys")).Error(); got != "GET api.example.com: the request failed" {
		t.Errorf("an error quoting the path unquoted: %q", got)
	}
}

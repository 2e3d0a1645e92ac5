package redact

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
)

// RequestError is a failed HTTP exchange described by method and host only.
// A URL's path and query may carry secrets (a key substituted into a path
// template, a token in a query), and net/http quotes the whole URL in its
// *url.Error, so clients report transport failures with NewRequestError
// instead.
//
// Error never prints the path or query; Unwrap keeps the cause, so that
// errors.Is(err, context.DeadlineExceeded) and errors.As(err, *net.Error)
// still classify it.
type RequestError struct {
	Method string
	Host   string // host[:port], never userinfo
	Reason string // from a fixed vocabulary, or the cause's text cut before any quoted part
	Err    error
}

func (e *RequestError) Error() string { return e.Method + " " + e.Host + ": " + e.Reason }

func (e *RequestError) Unwrap() error { return e.Err }

// NewRequestError describes err, returned by a request with method to u.
// A *url.Error is unwrapped: its text quotes the URL.
func NewRequestError(method string, u *url.URL, err error) *RequestError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &RequestError{Method: method, Err: err, Reason: reason(err)}
	if u != nil {
		e.Host = u.Host
		if leaksURL(e.Reason, u) {
			e.Reason = "the request failed"
		}
	}
	return e
}

// reason names what went wrong. Only texts known to carry no request data
// are kept whole: a net.OpError names the operation, the address (host and
// port) and the system's reason; certificate errors name the certificate.
// Other errors (a malformed answer, say) may quote what the server sent,
// which may echo the request line: their text is cut before the first
// quote, where Go's errors put the data they quote.
func reason(err error) string {
	var ne net.Error
	var op *net.OpError
	var cert *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidCert x509.CertificateInvalidError
	switch {
	case err == nil:
		return "the request failed"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &cert):
		return "the server's TLS certificate is not trusted: " + cert.Err.Error()
	case errors.As(err, &hostErr):
		return "the server's TLS certificate is not trusted: " + hostErr.Error()
	case errors.As(err, &authErr):
		return "the server's TLS certificate is not trusted: " + authErr.Error()
	case errors.As(err, &invalidCert):
		return "the server's TLS certificate is not trusted: " + invalidCert.Error()
	case errors.As(err, &op):
		return op.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection before answering"
	}
	msg := err.Error()
	if i := strings.IndexAny(msg, "\"`'"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimRight(strings.TrimSpace(msg), ":")
	if msg == "" {
		return "the request failed"
	}
	return msg
}

// leaksURL reports whether text quotes u's path or query in any usual form.
func leaksURL(text string, u *url.URL) bool {
	for _, s := range []string{u.String(), u.EscapedPath(), u.Path, u.RawQuery, u.Query().Encode()} {
		if len(s) > 1 && strings.Contains(text, s) {
			return true
		}
	}
	return false
}

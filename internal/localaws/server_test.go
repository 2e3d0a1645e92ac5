package localaws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

const rebindSecret = "s3cr3t-rebind-value-7f3a"

// hostRewriter sends every request with another Host, as a browser does
// for a page whose name DNS rebinding pointed at 127.0.0.1.
type hostRewriter struct {
	host string
	rt   http.RoundTripper
}

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.host
	return h.rt.RoundTrip(r)
}

// rawRequest sends one request to the endpoint with the given Host (""
// keeps the URL's) and headers, and returns the status and body.
func rawRequest(t *testing.T, hc *http.Client, method, endpoint, host, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLoopbackHostsOnly: a request naming a host that is not loopback (nor
// allowed) is refused before anything is done, admin endpoints and
// function URLs included, and its answer holds no secret; the SDK, which
// names the endpoint it was given, still works.
func TestLoopbackHostsOnly(t *testing.T) {
	srv, endpoint := smStart(t, Options{AllowedHosts: []string{"Tunnel.Example.NET"}})
	srv.Lambda.Register("fn", func(context.Context, []byte) ([]byte, error) { return []byte(`"ran"`), nil })
	u, _ := url.Parse(endpoint)
	port := u.Port()
	hc := sdkTestHTTPClient(t)
	sm := smNewClient(t, endpoint)
	if _, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(rebindSecret)}); err != nil {
		t.Fatal(err)
	}
	get := map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
	for _, tc := range []struct {
		name, host, origin string
		refused            bool
	}{
		{"127.0.0.1 with port", "127.0.0.1:" + port, "", false},
		{"localhost with port", "localhost:" + port, "", false},
		{"localhost in capitals, no port", "LOCALHOST", "", false},
		{"elsewhere in 127/8", "127.8.9.10:" + port, "", false},
		{"IPv6 loopback", "[::1]:" + port, "", false},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:" + port, "", false},
		{"an allowed host, any case", "tunnel.example.net:443", "", false},
		{"a rebound name", "rebind.evil.example:" + port, "", true},
		{"a name starting like loopback", "127.0.0.1.evil.example", "", true},
		{"a name under localhost's name", "localhost.evil.example:" + port, "", true},
		{"another IPv6 address", "[::2]:" + port, "", true},
		{"a private address", "10.0.0.1:" + port, "", true},
		{"a browser's Origin", "127.0.0.1:" + port, "http://evil.example", true},
		{"an opaque Origin", "localhost:" + port, "null", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{}
			for k, v := range get {
				headers[k] = v
			}
			if tc.origin != "" {
				headers["Origin"] = tc.origin
			}
			status, body := rawRequest(t, hc, http.MethodPost, endpoint, tc.host, `{"SecretId":"app/db"}`, headers)
			if !tc.refused {
				if status != http.StatusOK || !strings.Contains(body, rebindSecret) {
					t.Fatalf("status %d, want the secret served", status)
				}
				return
			}
			if status != http.StatusForbidden {
				t.Errorf("status %d, want 403", status)
			}
			if strings.Contains(body, rebindSecret) {
				t.Errorf("a refused answer holds the secret value")
			}
			rule := "loopback host"
			if tc.origin != "" {
				rule = "browser requests are refused"
			}
			if !strings.Contains(body, rule) || !strings.Contains(body, "AccessDeniedException") {
				t.Errorf("answer %s does not name the rule (%q)", body, rule)
			}
			for _, path := range []string{"/_rotor/health", "/_rotor/sns/messages", locallambda.FunctionURLPrefix + "fn/"} {
				if status, body := rawRequest(t, hc, http.MethodGet, endpoint+path, tc.host, "", map[string]string{"Origin": tc.origin}); status != http.StatusForbidden || strings.Contains(body, "ran") {
					t.Errorf("GET %s: status %d (%s), want 403", path, status, body)
				}
			}
		})
	}

	t.Run("the SDK behind a rebound name is refused", func(t *testing.T) {
		rebound := smNewClient(t, endpoint, func(o *secretsmanager.Options) {
			o.HTTPClient = &http.Client{Transport: hostRewriter{host: "rebind.evil.example:" + port, rt: hc.Transport}}
			o.RetryMaxAttempts = 1
		})
		out, err := rebound.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Fatalf("GetSecretValue = %v, want AccessDeniedException", err)
		}
		if out != nil || strings.Contains(err.Error(), rebindSecret) {
			t.Errorf("the refusal carries the secret")
		}
	})
	t.Run("the SDK on localhost works", func(t *testing.T) {
		c := smNewClient(t, "http://localhost:"+port)
		out, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
		if err != nil || aws.ToString(out.SecretString) != rebindSecret {
			t.Fatalf("GetSecretValue through localhost: %v", err)
		}
	})
}

// TestBrowserOriginRefused: a cross-site form POST (what a web page can
// send to a loopback port without any permission) to IAM CreateAccessKey
// mints nothing; without the Origin header the same request would.
func TestBrowserOriginRefused(t *testing.T) {
	e := newIAMEnv(t, Options{})
	e.user(t, "victim")
	form := "Action=CreateAccessKey&Version=2010-05-08&UserName=victim"
	keys := func() int {
		t.Helper()
		out, err := e.c.ListAccessKeys(t.Context(), &iam.ListAccessKeysInput{UserName: aws.String("victim")})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AccessKeyMetadata)
	}
	status, body := rawRequest(t, e.hc, http.MethodPost, e.url, "", form, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"})
	if status != http.StatusForbidden || !strings.Contains(body, "browser requests are refused") {
		t.Errorf("cross-site POST: status %d, body %s; want 403 naming the rule", status, body)
	}
	if strings.Contains(body, "SecretAccessKey") {
		t.Errorf("the refusal holds a key")
	}
	if n := keys(); n != 0 {
		t.Fatalf("victim has %d access keys after a refused request, want 0", n)
	}
	// The same request without Origin is what the rule stops.
	if status, _ := rawRequest(t, e.hc, http.MethodPost, e.url, "", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); status != http.StatusOK {
		t.Fatalf("the same POST without Origin: status %d", status)
	}
	if n := keys(); n != 1 {
		t.Errorf("victim has %d access keys, want 1", n)
	}
}

func TestAllowedHostsValidation(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"tunnel.example.net", true},
		{"my_host", true},
		{"192.0.2.10", true},
		{"2001:db8::1", true},
		{"https://tunnel.example.net", false},
		{"tunnel.example.net:443", false},
		{"tunnel.example.net/hook", false},
		{"*.example.net", false},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			srv, err := New(Options{AllowedHosts: []string{tc.host}})
			if srv != nil {
				srv.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("New(AllowedHosts %q) = %v, want ok %v", tc.host, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), `allowed host "`+tc.host+`"`) {
				t.Errorf("error %q does not name the entry", err)
			}
		})
	}
}

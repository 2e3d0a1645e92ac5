package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

func TestFunctionURL(t *testing.T) {
	srv, _ := lambdaTestServer(t)
	var got events.LambdaFunctionURLRequest
	srv.Lambda.Register("hook", func(_ context.Context, payload []byte) ([]byte, error) {
		if err := json.Unmarshal(payload, &got); err != nil {
			return nil, err
		}
		return json.Marshal(events.LambdaFunctionURLResponse{StatusCode: 202, Headers: map[string]string{"X-Answer": "yes"}, Body: `{"ok":true}`})
	})
	srv.Lambda.Register("plain", func(context.Context, []byte) ([]byte, error) { return []byte(`{"hello":"world"}`), nil })
	srv.Lambda.Register("broken", func(context.Context, []byte) ([]byte, error) {
		return nil, &locallambda.FunctionError{Type: "Boom", Message: "secret-ish detail"}
	})

	req, _ := http.NewRequest("POST", srv.FunctionURL("hook")+"github?x=1", bytes.NewReader([]byte(`{"a":1}`)))
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || string(body) != `{"ok":true}` || resp.Header.Get("X-Answer") != "yes" {
		t.Errorf("answer %d %q %v", resp.StatusCode, body, resp.Header)
	}
	want := map[string]any{"method": "POST", "rawPath": "/github", "query": "x=1", "body": `{"a":1}`, "sig": "sha256=00", "b64": false}
	gotFields := map[string]any{"method": got.RequestContext.HTTP.Method, "rawPath": got.RawPath, "query": got.RawQueryString,
		"body": got.Body, "sig": got.Headers["x-hub-signature-256"], "b64": got.IsBase64Encoded}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		fn     string
		status int
		body   string
	}{
		{"plain", 200, `{"hello":"world"}`},
		{"broken", 502, "Internal Server Error\n"},
		{"missing", 403, "{\"Message\":\"Forbidden\"}\n"},
	} {
		resp, err := http.Post(srv.FunctionURL(c.fn), "application/json", bytes.NewReader([]byte("{}")))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(b) != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.fn, resp.StatusCode, b, c.status, c.body)
		}
	}
}

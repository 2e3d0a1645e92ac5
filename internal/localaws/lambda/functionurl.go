package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// FunctionURLPrefix is where the local endpoint serves Lambda function URLs:
// a request to <endpoint>/lambda-url/<function>/<path> reaches the function
// as AWS's https://<id>.lambda-url.<region>.on.aws/<path> would, as a
// payload-format 2.0 event, and its response (a LambdaFunctionURLResponse,
// or any other JSON, which AWS returns as the body with status 200) becomes
// the HTTP answer. Function URLs here have AuthType NONE: the function
// authenticates its callers itself.
const FunctionURLPrefix = "/lambda-url/"

// ServeFunctionURL answers a request under FunctionURLPrefix.
func (l *Service) ServeFunctionURL(w http.ResponseWriter, r *http.Request, body []byte) {
	rest := strings.TrimPrefix(r.URL.Path, FunctionURLPrefix)
	name, path, _ := strings.Cut(rest, "/")
	fn, ok := l.lookup(name)
	if !ok {
		http.Error(w, `{"Message":"Forbidden"}`, http.StatusForbidden) // as AWS answers an unknown URL id
		return
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	now := l.env.Now()
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/" + path, RawQueryString: r.URL.RawQuery, Headers: headers,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID: "anonymous", RequestID: uuid.NewString(), DomainName: r.Host, APIID: name,
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: r.Method, Path: "/" + path, Protocol: r.Proto, SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent(),
			},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	payload, _ := json.Marshal(ev)
	out, err := l.invoke(r.Context(), fn, payload)
	if err != nil {
		var fe *FunctionError
		if errors.As(err, &fe) {
			// AWS answers a function error through a URL as a bare 502.
			http.Error(w, "Internal Server Error", http.StatusBadGateway)
			return
		}
		http.Error(w, fmt.Sprintf("function URL: %v", err), http.StatusBadGateway)
		return
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		// Not the response shape: AWS sends the JSON itself, status 200.
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			respBody = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

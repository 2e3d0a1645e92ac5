package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/smstore"
)

const slowToken = "8f0e1d2c-3b4a-4596-8786-95a4b3c2d1e0"

// slowSetup makes a store whose secret's current version is slowToken, with
// a verify recipe pointing at a key API that answers after 3 s while the
// recipe allows 1 s.
func slowSetup(slowURL string) (*rotation.Service, error) {
	store := smstore.New(smstore.Options{})
	value, _ := json.Marshal(map[string]any{
		"apiKey": "sk_live_slow_0123456789abcdef", "keyId": "key_1",
		"rotor": map[string]any{"keyField": "apiKey", "idField": "keyId", "baseUrl": slowURL, "timeoutSeconds": 1,
			"verify": map[string]any{"method": "GET", "path": "/v1/whoami", "headers": map[string]string{"Authorization": "Bearer {{.Key}}"},
				"expectStatus": []int{200}, "rejectStatus": []int{401}}},
	})
	_, err := store.CreateSecret(context.Background(), &sm.CreateSecretInput{
		Name: aws.String("svc/slow"), SecretString: aws.String(string(value)), ClientRequestToken: aws.String(slowToken),
		Tags: []types.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String("rotor/masters/slow")}}})
	return &rotation.Service{SM: store}, err
}

func slowServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProviderTimeoutIsTransient: a provider timeout, wrapped with %w on its
// way up, must leave the handler as Rotor.Transient. Without the boundary's
// mapping aws-lambda-go would name it after the Go type: wrapError.
func TestProviderTimeoutIsTransient(t *testing.T) {
	svc, err := slowSetup(slowServer(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"secretId":"svc/slow","token":"` + slowToken + `"}`

	_, raw := svc.Verify(context.Background(), rotation.StepInput{SecretID: "svc/slow", Token: slowToken})
	if !errors.Is(raw, context.DeadlineExceeded) {
		t.Fatalf("the step's own error is %v; want it to wrap context.DeadlineExceeded", raw)
	}
	if name := reflect.TypeOf(raw).Elem().Name(); name != "wrapError" {
		t.Fatalf("the unmapped error's type is %s; the test assumes a fmt %%w wrapper", name)
	}

	h, _ := svc.Handler(rotation.FuncVerify)
	_, err = lambda.NewHandler(h).Invoke(context.Background(), []byte(payload))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != string(rotorerr.Transient) {
		t.Fatalf("the handler returned %T %+v, want an InvokeResponse_Error of type Rotor.Transient", err, err)
	}
}

// TestRuntimeAPIReportsRotorErrorType runs a real Lambda runtime loop
// (aws-lambda-go's lambda.Start in a child process) against a fake Runtime
// API and reads the errorType it reports for the same timeout.
func TestRuntimeAPIReportsRotorErrorType(t *testing.T) {
	reported := make(chan [2]string, 1)
	served := false
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/runtime/invocation/next"):
			if served {
				<-r.Context().Done() // hold the runtime until the test ends
				return
			}
			served = true
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:rotor-verify")
			_, _ = io.WriteString(w, `{"secretId":"svc/slow","token":"`+slowToken+`"}`)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/runtime/invocation/req-1/error"):
			b, _ := io.ReadAll(r.Body)
			reported <- [2]string{r.Header.Get("Lambda-Runtime-Function-Error-Type"), string(b)}
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/runtime/invocation/req-1/response"):
			reported <- [2]string{"", "success"}
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()
	slow := slowServer(t)

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ROTOR_RUNTIME_CHILD=1", "ROTOR_SLOW_URL="+slow.URL,
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	select {
	case got := <-reported:
		var doc struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal([]byte(got[1]), &doc)
		if doc.ErrorType != string(rotorerr.Transient) {
			t.Fatalf("the runtime reported errorType %q (header %q), want Rotor.Transient; body %s", doc.ErrorType, got[0], got[1])
		}
		if !strings.Contains(doc.ErrorMessage, "GET 127.0.0.1:") || !strings.Contains(doc.ErrorMessage, "timed out") {
			t.Errorf("errorMessage %q does not say what happened", doc.ErrorMessage)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the child runtime reported nothing within 30 s")
	}
}

// TestMain runs the child of TestRuntimeAPIReportsRotorErrorType when asked
// to, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("ROTOR_RUNTIME_CHILD") == "1" {
		svc, err := slowSetup(os.Getenv("ROTOR_SLOW_URL"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		h, _ := svc.Handler(rotation.FuncVerify)
		lambda.Start(h) // never returns
	}
	os.Exit(m.Run())
}

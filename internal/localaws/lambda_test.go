package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/localaws/wire"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

// lambdaTestServer starts a server and returns it with an SDK Lambda
// client pointed at it; both close with the test.
func lambdaTestServer(t *testing.T) (*Server, *lambda.Client) {
	t.Helper()
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, lambdaClient(sdkTestHTTPClient(t), endpoint)
}

func lambdaClient(hc *http.Client, endpoint string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		HTTPClient:  hc,
	}, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

func echoHandler(_ context.Context, payload []byte) ([]byte, error) {
	return payload, nil
}

func TestLambdaInvoke(t *testing.T) {
	ctx := t.Context()
	srv, c := lambdaTestServer(t)
	srv.Lambda.Register("echo", echoHandler)
	for _, name := range []string{
		"echo",
		"echo:$LATEST",
		"echo:prod",
		"000000000000:function:echo",
		"arn:aws:lambda:us-east-1:000000000000:function:echo",
		"arn:aws:lambda:eu-west-1:123456789012:function:echo:7",
	} {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"a":1}`)})
		if err != nil {
			t.Fatalf("Invoke(%s): %v", name, err)
		}
		if out.StatusCode != 200 || string(out.Payload) != `{"a":1}` || aws.ToString(out.ExecutedVersion) != "$LATEST" || out.FunctionError != nil {
			t.Fatalf("Invoke(%s) = status %d payload %s version %v function error %v", name, out.StatusCode, out.Payload, aws.ToString(out.ExecutedVersion), aws.ToString(out.FunctionError))
		}
	}
	// The direct call.
	got, err := srv.Lambda.Invoke(ctx, "arn:aws:lambda:us-east-1:000000000000:function:echo", []byte(`"x"`))
	if err != nil || string(got) != `"x"` {
		t.Fatalf("Lambda.Invoke = %s, %v", got, err)
	}
}

func TestLambdaFunctionError(t *testing.T) {
	ctx := t.Context()
	srv, c := lambdaTestServer(t)
	srv.Lambda.Register("fails", func(context.Context, []byte) ([]byte, error) {
		return nil, &locallambda.FunctionError{Type: "Rotor.Transient", Message: "database unreachable"}
	})
	srv.Lambda.Register("panics", func(context.Context, []byte) ([]byte, error) {
		panic("boom")
	})

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fails")})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("status %d, locallambda.FunctionError %q", out.StatusCode, aws.ToString(out.FunctionError))
	}
	var body map[string]string
	if err := json.Unmarshal(out.Payload, &body); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"errorType": "Rotor.Transient", "errorMessage": "database unreachable"}, body); diff != "" {
		t.Fatalf("error payload (-want +got):\n%s", diff)
	}

	_, err = srv.Lambda.Invoke(ctx, "fails", nil)
	var fe *locallambda.FunctionError
	if !errors.As(err, &fe) || *fe != (locallambda.FunctionError{Type: "Rotor.Transient", Message: "database unreachable"}) {
		t.Fatalf("Lambda.Invoke error = %#v", err)
	}

	// A panic is a function error named as aws-lambda-go names it.
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("panics")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != `{"errorMessage":"boom","errorType":"string"}` {
		t.Fatalf("panic: locallambda.FunctionError %q payload %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

func TestLambdaErrors(t *testing.T) {
	ctx := t.Context()
	srv, c := lambdaTestServer(t)
	srv.Lambda.Register("broken", func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("cannot reach the backend")
	})
	srv.Lambda.Register("echo", echoHandler)

	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("missing")})
	var rnf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(rnf.ErrorMessage(), "function:missing") {
		t.Fatalf("Invoke(missing) = %v, want ResourceNotFoundException", err)
	}
	_, err = srv.Lambda.Invoke(ctx, "missing", nil)
	var ae *wire.Error
	if !errors.As(err, &rnf) || !errors.As(err, &ae) || ae.Code != "ResourceNotFoundException" {
		t.Fatalf("Lambda.Invoke(missing) = %v, want ResourceNotFoundException", err)
	}
	// The raw answer: 404, {"Type":"User","message":...}, X-Amzn-ErrorType.
	resp, err := http.Post(srv.URL()+"/2015-03-31/functions/missing/invocations", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]string
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" ||
		body["Type"] != "User" || body["message"] != "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing" {
		t.Fatalf("raw answer: %d %v %s", resp.StatusCode, resp.Header, raw)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("broken")})
	var se *lambdatypes.ServiceException
	if !errors.As(err, &se) {
		t.Fatalf("Invoke(broken) = %v, want ServiceException", err)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte("not json")})
	var irc *lambdatypes.InvalidRequestContentException
	if !errors.As(err, &irc) {
		t.Fatalf("Invoke(not json) = %v, want InvalidRequestContentException", err)
	}
}

func TestLambdaDryRunAndEvent(t *testing.T) {
	ctx := t.Context()
	srv, c := lambdaTestServer(t)
	calls := make(chan string, 10)
	srv.Lambda.Register("rec", func(_ context.Context, p []byte) ([]byte, error) {
		calls <- string(p)
		return nil, nil
	})

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rec"), InvocationType: lambdatypes.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v, %v", out, err)
	}
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope"), InvocationType: lambdatypes.InvocationTypeDryRun}); err == nil {
		t.Fatal("DryRun of a missing function succeeded")
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rec"), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{"e":1}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v, %v", out, err)
	}
	select {
	case p := <-calls:
		if p != `{"e":1}` {
			t.Fatalf("Event invocation got %s", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Event invocation did not run")
	}
	select {
	case p := <-calls:
		t.Fatalf("unexpected call %s (DryRun must not run the function)", p)
	default:
	}
}

// closedAfter returns a channel closed after d, which every waiter sees.
func closedAfter(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// TestLambdaConcurrency checks that calls to one in-process function run
// concurrently up to its concurrency and wait beyond it (none refused),
// and that calls to different functions run concurrently.
func TestLambdaConcurrency(t *testing.T) {
	// meet returns a handler that finishes only once n calls have entered
	// it together (or fails after 5 s).
	meet := func(n int) locallambda.Handler {
		var mu sync.Mutex
		arrived, all := 0, make(chan struct{})
		expired := closedAfter(5 * time.Second) // for all calls, so that a failure takes 5 s, not 5 s a call
		return func(ctx context.Context, _ []byte) ([]byte, error) {
			mu.Lock()
			if arrived++; arrived == n {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
				return []byte(`"ok"`), nil
			case <-expired:
				return nil, &locallambda.FunctionError{Type: "Timeout", Message: "the other calls did not run concurrently"}
			}
		}
	}
	// counting returns a handler that records how many calls run at once;
	// the first calls wait until bound of them run together, so that the
	// bound is reached whatever the machine's speed.
	counting := func(bound int32) func(maxRunning *atomic.Int32) locallambda.Handler {
		return func(maxRunning *atomic.Int32) locallambda.Handler {
			var running atomic.Int32
			full := make(chan struct{})
			var once sync.Once
			expired := closedAfter(5 * time.Second)
			return func(context.Context, []byte) ([]byte, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
				}
				if n >= bound {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-expired:
					return nil, &locallambda.FunctionError{Type: "Timeout", Message: "the bound was never reached"}
				}
				time.Sleep(5 * time.Millisecond)
				return []byte(`"ok"`), nil
			}
		}
	}
	cases := []struct {
		name        string
		opts        Options
		fnOpts      locallambda.FunctionOptions
		calls       int
		handler     func(max *atomic.Int32) locallambda.Handler
		wantRunning int32 // 0: not measured
	}{
		{"two calls of one function overlap (each waits for the other)", Options{}, locallambda.FunctionOptions{}, 2,
			func(*atomic.Int32) locallambda.Handler { return meet(2) }, 0},
		{"64 calls of one function run at once by default", Options{}, locallambda.FunctionOptions{}, 64,
			func(*atomic.Int32) locallambda.Handler { return meet(64) }, 0},
		{"Options.FunctionConcurrency bounds calls; the rest wait", Options{FunctionConcurrency: 3}, locallambda.FunctionOptions{}, 12,
			counting(3), 3},
		{"FunctionOptions.Concurrency bounds one function", Options{}, locallambda.FunctionOptions{Concurrency: 1}, 6,
			counting(1), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			endpoint, err := srv.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := lambdaClient(sdkTestHTTPClient(t), endpoint)
			var maxRunning atomic.Int32
			if err := srv.Lambda.RegisterWith("one", tc.handler(&maxRunning), tc.fnOpts); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, tc.calls)
			for range tc.calls {
				wg.Go(func() {
					out, err := c.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("one")})
					if err == nil && (out.FunctionError != nil || string(out.Payload) != `"ok"`) {
						err = fmt.Errorf("function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if m := maxRunning.Load(); tc.wantRunning != 0 && m != tc.wantRunning {
				t.Errorf("%d calls ran at once, want %d", m, tc.wantRunning)
			}
		})
	}

	t.Run("two functions that each wait for the other run concurrently", func(t *testing.T) {
		srv, _ := lambdaTestServer(t)
		a, b := make(chan struct{}), make(chan struct{})
		meetOther := func(mine, theirs chan struct{}) locallambda.Handler {
			return func(ctx context.Context, _ []byte) ([]byte, error) {
				close(mine)
				select {
				case <-theirs:
					return []byte("{}"), nil
				case <-time.After(5 * time.Second):
					return nil, &locallambda.FunctionError{Type: "Timeout", Message: "the other function did not run concurrently"}
				}
			}
		}
		srv.Lambda.Register("a", meetOther(a, b))
		srv.Lambda.Register("b", meetOther(b, a))
		errA := make(chan error, 1)
		go func() { _, err := srv.Lambda.Invoke(t.Context(), "a", nil); errA <- err }()
		_, errB := srv.Lambda.Invoke(t.Context(), "b", nil)
		if err := errors.Join(<-errA, errB); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a call beyond the bound waits for its context", func(t *testing.T) {
		srv, _ := lambdaTestServer(t)
		entered, release := make(chan struct{}, 1), make(chan struct{})
		if err := srv.Lambda.RegisterWith("busy", func(context.Context, []byte) ([]byte, error) {
			entered <- struct{}{}
			<-release
			return []byte("{}"), nil
		}, locallambda.FunctionOptions{Concurrency: 1}); err != nil {
			t.Fatal(err)
		}
		first := make(chan error, 1)
		go func() { _, err := srv.Lambda.Invoke(t.Context(), "busy", nil); first <- err }()
		<-entered // the first call holds the only slot
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := srv.Lambda.Invoke(ctx, "busy", nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a second call while the first held the only slot: %v, want it to wait until its context ended", err)
		}
		if len(entered) != 0 {
			t.Error("the second call ran")
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a negative concurrency is an error", func(t *testing.T) {
		if srv, err := New(Options{FunctionConcurrency: -1}); err == nil || !strings.Contains(err.Error(), "function concurrency -1") {
			if srv != nil {
				srv.Close()
			}
			t.Errorf("New with FunctionConcurrency -1: %v, want an error naming it", err)
		}
		srv, _ := lambdaTestServer(t)
		err := srv.Lambda.RegisterWith("f", echoHandler, locallambda.FunctionOptions{Concurrency: -2})
		if err == nil || !strings.Contains(err.Error(), "concurrency -2") {
			t.Errorf("RegisterWith with Concurrency -2: %v, want an error naming it", err)
		}
		if _, err := srv.Lambda.Invoke(t.Context(), "f", nil); err == nil {
			t.Error("the refused function was registered")
		}
	})
}

// fakeEmulator answers invocations as the Runtime Interface Emulator does,
// by what the payload asks, and counts concurrent requests.
type fakeEmulator struct {
	running, maxRunning atomic.Int32
	release             chan struct{} // "block" waits for it
}

func (f *fakeEmulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for m := f.maxRunning.Load(); n > m && !f.maxRunning.CompareAndSwap(m, n); m = f.maxRunning.Load() {
	}
	body, _ := io.ReadAll(r.Body)
	switch string(body) {
	case `"error"`:
		io.WriteString(w, `{"errorMessage":"boom","errorType":"Rotor.Transient"}`)
	case `"error-stack"`:
		io.WriteString(w, `{"errorMessage":"boom","errorType":"errorString","stackTrace":[]}`)
	case `"lookalike"`:
		io.WriteString(w, `{"errorMessage":"boom","errorType":"x","requestId":"1"}`)
	case `"panic"`:
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"errorMessage":"runtime error: index out of range","errorType":"boundsError","stackTrace":[{"path":"x"}]}`)
	case `"exit"`:
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: exit status 3"}`)
	case `"bare502"`:
		w.WriteHeader(http.StatusBadGateway)
	case `"timeout"`:
		io.WriteString(w, "Task timed out after 1.00 seconds")
	case `"500"`:
		w.WriteHeader(http.StatusInternalServerError)
	case `"block"`:
		<-f.release
		io.WriteString(w, `"unblocked"`)
	default:
		w.Write(body)
	}
}

func TestLambdaEmulatorAnswers(t *testing.T) {
	ctx := t.Context()
	srv, c := lambdaTestServer(t)
	fake := &fakeEmulator{}
	emu := httptest.NewServer(fake)
	defer emu.Close()
	srv.Lambda.RegisterURL("fn", emu.URL+"/2015-03-31/functions/function/invocations")

	for _, tc := range []struct {
		payload string
		want    string
		fe      *locallambda.FunctionError
	}{
		{payload: `{"ok":true}`, want: `{"ok":true}`},
		{payload: `"lookalike"`, want: `{"errorMessage":"boom","errorType":"x","requestId":"1"}`},
		{payload: `"error"`, fe: &locallambda.FunctionError{Type: "Rotor.Transient", Message: "boom"}},
		{payload: `"error-stack"`, fe: &locallambda.FunctionError{Type: "errorString", Message: "boom"}},
		{payload: `"panic"`, fe: &locallambda.FunctionError{Type: "boundsError", Message: "runtime error: index out of range"}},
		{payload: `"exit"`, fe: &locallambda.FunctionError{Type: "Runtime.ExitError", Message: "RequestId: 1 Error: Runtime exited with error: exit status 3"}},
		{payload: `"bare502"`, fe: &locallambda.FunctionError{Type: "Runtime.ExitError", Message: "Runtime exited without providing a reason"}},
		{payload: `"timeout"`, fe: &locallambda.FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 1.00 seconds"}},
	} {
		got, err := srv.Lambda.Invoke(ctx, "fn", []byte(tc.payload))
		var fe *locallambda.FunctionError
		switch {
		case tc.fe != nil && (!errors.As(err, &fe) || *fe != *tc.fe):
			t.Errorf("%s: got %s, %#v; want function error %#v", tc.payload, got, err, tc.fe)
		case tc.fe == nil && (err != nil || string(got) != tc.want):
			t.Errorf("%s: got %s, %v; want %s", tc.payload, got, err, tc.want)
		}
		// Through the SDK.
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(tc.payload)})
		if err != nil {
			t.Fatalf("%s: SDK Invoke: %v", tc.payload, err)
		}
		if tc.fe != nil {
			want, _ := json.Marshal(map[string]string{"errorMessage": tc.fe.Message, "errorType": tc.fe.Type})
			if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != string(want) {
				t.Errorf("%s: SDK got locallambda.FunctionError %q payload %s; want Unhandled %s", tc.payload, aws.ToString(out.FunctionError), out.Payload, want)
			}
		} else if out.FunctionError != nil || string(out.Payload) != tc.want {
			t.Errorf("%s: SDK got locallambda.FunctionError %q payload %s", tc.payload, aws.ToString(out.FunctionError), out.Payload)
		}
	}

	// An emulator failure is a service error, not a function error.
	_, err := srv.Lambda.Invoke(ctx, "fn", []byte(`"500"`))
	var fe *locallambda.FunctionError
	if err == nil || errors.As(err, &fe) {
		t.Errorf("HTTP 500 from the emulator: %v, want a service error", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	srv.Lambda.RegisterURL("dead", "http://"+dead+"/2015-03-31/functions/function/invocations")
	if _, err := srv.Lambda.Invoke(ctx, "dead", []byte(`{}`)); err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("unreachable emulator: %v, want a service error", err)
	}
	var se *lambdatypes.ServiceException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("dead")}); !errors.As(err, &se) {
		t.Errorf("SDK Invoke of an unreachable emulator: %v, want ServiceException", err)
	}
}

// TestLambdaEmulatorCancel checks that a caller giving up does not let the
// next call reach the emulator while the first is still running there.
func TestLambdaEmulatorCancel(t *testing.T) {
	srv, _ := lambdaTestServer(t)
	fake := &fakeEmulator{release: make(chan struct{})}
	emu := httptest.NewServer(fake)
	defer emu.Close()
	srv.Lambda.RegisterURL("fn", emu.URL+"/2015-03-31/functions/function/invocations")
	srv.Lambda.RegisterURL("alias", emu.URL+"/2015-03-31/functions/function/invocations") // same emulator

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := srv.Lambda.Invoke(ctx, "fn", []byte(`"block"`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke with an expiring context: %v", err)
	}
	second := make(chan error, 1)
	go func() {
		out, err := srv.Lambda.Invoke(t.Context(), "alias", []byte(`"next"`))
		if err == nil && string(out) != `"next"` {
			err = fmt.Errorf("payload %s", out)
		}
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second call finished (%v) while the first still ran in the emulator", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(fake.release)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if m := fake.maxRunning.Load(); m != 1 {
		t.Fatalf("the emulator saw %d concurrent invocations", m)
	}
}

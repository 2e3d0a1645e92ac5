package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
)

// rieEmulator returns the emulator the tests run: $ROTOR_RIE, else
// <repo>/.tools/bin/aws-lambda-rie. Its absence fails the test: the
// emulator is part of the test tools (make tools), not optional.
func rieEmulator(t *testing.T) string {
	t.Helper()
	path := os.Getenv("ROTOR_RIE")
	if path == "" {
		root, err := filepath.Abs("../..")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("cannot find the repository root from %s: %v", root, err)
		}
		path = filepath.Join(root, ".tools", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the Lambda Runtime Interface Emulator is missing (%v): run make tools", err)
	}
	return path
}

// buildEchoFn builds testdata/echofn for this machine and returns the
// binary's path.
func buildEchoFn(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/echofn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/echofn: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer safe for the emulator's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startEchoFn(t *testing.T, env ...string) *locallambda.RIEFunction {
	t.Helper()
	emulator, bin := rieEmulator(t), buildEchoFn(t)
	var logs syncBuffer
	start := time.Now()
	f, err := locallambda.StartRIE(t.Context(), locallambda.RIEOptions{Emulator: emulator, Bootstrap: bin, Env: env, Stdout: &logs, Stderr: &logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("StartRIE: listening after %v", time.Since(start).Round(10*time.Microsecond))
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	})
	return f
}

func TestRIE(t *testing.T) {
	f := startEchoFn(t, "ROTOR_TEST_VAR=from-env")
	srv, c := lambdaTestServer(t)
	srv.Lambda.RegisterURL("echo", f.URL())
	ctx := t.Context()

	invoke := func(t *testing.T, payload string) *lambda.InvokeOutput {
		t.Helper()
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:echo"), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("Invoke(%s): %v", payload, err)
		}
		return out
	}

	t.Run("success", func(t *testing.T) {
		start := time.Now()
		out := invoke(t, `{"echo":{"n":1},"env":"ROTOR_TEST_VAR"}`)
		t.Logf("first (cold) invoke: %v", time.Since(start).Round(10*time.Microsecond))
		if out.StatusCode != 200 || out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Fatalf("status %d, locallambda.FunctionError %q, version %q", out.StatusCode, aws.ToString(out.FunctionError), aws.ToString(out.ExecutedVersion))
		}
		if string(out.Payload) != `{"echo":{"n":1},"env":"from-env"}` {
			t.Fatalf("payload %s", out.Payload)
		}
	})

	t.Run("warm latency", func(t *testing.T) {
		const n = 50
		var viaSDK, direct []time.Duration
		for range n {
			start := time.Now()
			invoke(t, `{"echo":1}`)
			viaSDK = append(viaSDK, time.Since(start))
			start = time.Now()
			if _, err := srv.Lambda.Invoke(ctx, "echo", []byte(`{"echo":1}`)); err != nil {
				t.Fatal(err)
			}
			direct = append(direct, time.Since(start))
		}
		slices.Sort(viaSDK)
		slices.Sort(direct)
		t.Logf("warm invoke over %d calls: through the SDK p50 %v p90 %v; Lambda.Invoke p50 %v p90 %v", n,
			viaSDK[n/2].Round(time.Microsecond), viaSDK[n*9/10].Round(time.Microsecond),
			direct[n/2].Round(time.Microsecond), direct[n*9/10].Round(time.Microsecond))
	})

	t.Run("function error", func(t *testing.T) {
		out := invoke(t, `{"fail":"database unreachable","errorType":"Rotor.Transient"}`)
		if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
			t.Fatalf("status %d, locallambda.FunctionError %q", out.StatusCode, aws.ToString(out.FunctionError))
		}
		var body map[string]string
		if err := json.Unmarshal(out.Payload, &body); err != nil || body["errorType"] != "Rotor.Transient" || body["errorMessage"] != "database unreachable" {
			t.Fatalf("payload %s (%v)", out.Payload, err)
		}
		_, err := srv.Lambda.Invoke(ctx, "echo", []byte(`{"fail":"x","errorType":"Rotor.Permanent"}`))
		var fe *locallambda.FunctionError
		if !errors.As(err, &fe) || fe.Type != "Rotor.Permanent" {
			t.Fatalf("Lambda.Invoke error %v", err)
		}
	})

	t.Run("panic and exit", func(t *testing.T) {
		// A panic: the runtime reports it (named after the panic value's
		// type) and exits; the emulator answers 502.
		_, err := srv.Lambda.Invoke(ctx, "echo", []byte(`{"panic":"boom"}`))
		var fe *locallambda.FunctionError
		if !errors.As(err, &fe) || fe.Type != "string" || fe.Message != "boom" {
			t.Fatalf("panic: %#v", err)
		}
		// An exit without a report is Runtime.ExitError.
		_, err = srv.Lambda.Invoke(ctx, "echo", []byte(`{"exit":true}`))
		if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" {
			t.Fatalf("exit: %#v", err)
		}
		// The emulator starts the function again.
		if out := invoke(t, `{"echo":"again"}`); string(out.Payload) != `{"echo":"again"}` {
			t.Fatalf("after a crash: %s", out.Payload)
		}
	})

	t.Run("concurrent invokes are serialized", func(t *testing.T) {
		const n = 10
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: fmt.Appendf(nil, `{"echo":%d,"sleepMs":20}`, i)})
				if err == nil && (out.FunctionError != nil || string(out.Payload) != fmt.Sprintf(`{"echo":%d}`, i)) {
					err = fmt.Errorf("invoke %d: locallambda.FunctionError %q payload %s", i, aws.ToString(out.FunctionError), out.Payload)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if d := time.Since(start); d < n*20*time.Millisecond {
			t.Errorf("%d invocations of 20 ms took %v: they overlapped", n, d)
		}
		// Still alive.
		invoke(t, `{"echo":"alive"}`)
	})
}

// TestRIETimeout runs a function past its timeout: Sandbox.Timedout.
func TestRIETimeout(t *testing.T) {
	f := startEchoFn(t, "AWS_LAMBDA_FUNCTION_TIMEOUT=1")
	srv, _ := lambdaTestServer(t)
	srv.Lambda.RegisterURL("slow", f.URL())
	_, err := srv.Lambda.Invoke(t.Context(), "slow", []byte(`{"sleepMs":1300}`))
	var fe *locallambda.FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
		t.Fatalf("Invoke past the timeout: %#v", err)
	}
	out, err := srv.Lambda.Invoke(t.Context(), "slow", []byte(`{"echo":"next"}`))
	if err != nil || string(out) != `{"echo":"next"}` {
		t.Fatalf("after a timeout: %s, %v", out, err)
	}
}

// TestRIEClose checks Close stops the emulator and the function.
func TestRIEClose(t *testing.T) {
	emulator, bin := rieEmulator(t), buildEchoFn(t)
	f, err := locallambda.StartRIE(t.Context(), locallambda.RIEOptions{Emulator: emulator, Bootstrap: bin})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := lambdaTestServer(t)
	l := srv.Lambda
	l.RegisterURL("fn", f.URL())
	if _, err := l.Invoke(t.Context(), "fn", []byte(`{}`)); err != nil { // starts the function
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Invoke(t.Context(), "fn", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("Invoke after Close: %v", err)
	}
	// The function process is gone too (it is the emulator's child).
	deadline := time.Now().Add(3 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", bin).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("function process still running after Close: pid %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRIEStartErrors(t *testing.T) {
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("missing emulator", func(t *testing.T) {
		t.Setenv("ROTOR_RIE", filepath.Join(t.TempDir(), "aws-lambda-rie"))
		_, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Bootstrap: bin})
		if !errors.Is(err, locallambda.ErrNoEmulator) || !strings.Contains(err.Error(), "make tools") {
			t.Fatalf("err = %v, want locallambda.ErrNoEmulator saying to run make tools", err)
		}
		_, err = locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: "/nonexistent/aws-lambda-rie", Bootstrap: bin})
		if !errors.Is(err, locallambda.ErrNoEmulator) {
			t.Fatalf("err = %v, want locallambda.ErrNoEmulator", err)
		}
	})

	t.Run("missing bootstrap", func(t *testing.T) {
		_, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: rieEmulator(t), Bootstrap: filepath.Join(t.TempDir(), "nope")})
		if err == nil || !strings.Contains(err.Error(), "function binary") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("emulator exits at once", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'fatal: cannot start' >&2\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: fake, Bootstrap: bin})
		if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "fatal: cannot start") {
			t.Fatalf("err = %v, want the exit and the stderr tail", err)
		}
	})

	t.Run("emulator never listens", func(t *testing.T) {
		fake := filepath.Join(t.TempDir(), "aws-lambda-rie")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\necho waiting >&2\nexec sleep 30\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: fake, Bootstrap: bin, StartTimeout: 200 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "did not listen") || !strings.Contains(err.Error(), "waiting") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("gave up after %v", d)
		}
	})
}

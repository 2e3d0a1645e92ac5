package rotation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// panicKey is the master key the panicking provider quotes.
const panicKey = `pk/+= %&?#"\'é-0a1b2c3d`

// panicky is a buggy provider: its Create panics with a message quoting
// the master key raw, path-escaped, base64- and hex-encoded.
type panicky struct{}

func init() { provider.Register("test-panic", provider.Registration{New: provider.Fixed(panicky{})}) }

func (panicky) NeedsMaster(provider.Options) bool { return true }

func (panicky) Create(_ context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	var m struct {
		MasterKey string `json:"masterKey"`
	}
	_ = json.Unmarshal(req.Master, &m)
	panic(fmt.Sprintf("index out of range while calling /v1/%s/keys (%s, %s, %x)",
		url.PathEscape(m.MasterKey), m.MasterKey, base64.StdEncoding.EncodeToString([]byte(m.MasterKey)), m.MasterKey))
}

func (panicky) Verify(context.Context, *provider.VerifyRequest) error { return nil }
func (panicky) Revoke(context.Context, *provider.RevokeRequest) error { return nil }

func addPanicky(e *env) {
	master, _ := json.Marshal(map[string]any{"masterKey": panicKey, "rotor": map[string]any{"serves": []string{"app/panicky"}}})
	e.createSecret("rotor/masters/panicky", string(master), map[string]string{"rotor:role": "master"})
	e.createSecret("app/panicky", `{"apiKey":"initial-key-0123456789"}`, map[string]string{
		"rotor:provider": "test-panic", "rotor:master-secret": "rotor/masters/panicky"})
}

// checkNoPanicKey fails when any encoding of panicKey is in what the env
// recorded (payloads, errors, logs) or in extra texts.
func checkNoPanicKey(t *testing.T, e *env, extra ...string) {
	t.Helper()
	e.mu.Lock()
	texts := append(append(append([]string{}, e.transcript...), e.logs.String()), extra...)
	e.mu.Unlock()
	for _, enc := range redact.Encodings(panicKey) {
		for _, txt := range texts {
			if strings.Contains(txt, enc) {
				t.Errorf("an encoding of the master key (%d bytes) left the function", len(enc))
			}
		}
	}
}

// TestPanicIsAScrubbedError: a panic in a step leaves the handler as a
// Rotor.Unsafe error whose message says what happened without the secret,
// and is logged, scrubbed, with its stack.
func TestPanicIsAScrubbedError(t *testing.T) {
	e := newEnv(t)
	addPanicky(e)
	_, ierr := e.invoke(rotation.FuncCreate, map[string]any{"secretId": "app/panicky", "token": "0f1e2d3c-4b5a-4697-8887-a6b5c4d3e2f1", "provider": "test-panic"})
	if ierr == nil || ierr.Type != string(rotorerr.Unsafe) {
		t.Fatalf("create = %+v, want a Rotor.Unsafe error", ierr)
	}
	if !strings.Contains(ierr.Message, "create: panic (a bug in rotor): index out of range") || !strings.Contains(ierr.Message, redact.Mask) {
		t.Errorf("message %q does not say a panic happened, masked", ierr.Message)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "step panicked") || !strings.Contains(logs, "goroutine ") || !strings.Contains(logs, "panicky.Create") {
		t.Errorf("the panic is not logged with its stack: %s", logs)
	}
	checkNoPanicKey(t, e)
	if e.holder("app/panicky", rotation.LabelPending) != "" {
		t.Error("a panicking create left an AWSPENDING version")
	}
}

// TestStateMachineCleansUpAfterAPanic: the state machine catches the
// panic's Rotor.Unsafe like any refused create: clean-up, a failure notice
// naming the error, a failed execution; nothing secret in the history or
// the notice.
func TestStateMachineCleansUpAfterAPanic(t *testing.T) {
	s := newSFN(t)
	addPanicky(s.e)
	res, hist := s.run(`{"secretId": "app/panicky", "trigger": "manual"}`)
	if res.Status != asl.StatusFailed || res.Error != "Rotor.RotationFailed" {
		t.Fatalf("execution %s %s, want FAILED Rotor.RotationFailed", res.Status, res.Error)
	}
	want := []string{"Route", "Resolve", "IsDryRun", "HasUnmatchedLeak", "HasItems", "RotateOne", "IsRevokeOnly", "Create", "Cleanup", "EmitFailure", "NotifyFailure", "ItemFailed"}
	if got := asl.EnteredStates(hist); !slices.Equal(got, want) {
		t.Errorf("states entered:\n got %v\nwant %v", got, want)
	}
	b, _ := json.Marshal(hist)
	if n := strings.Count(string(b), `"LambdaFunctionFailed"`); n != 1 {
		t.Errorf("create failed %d times, want once (a panic is not retried)", n)
	}
	if len(s.published) != 1 || !strings.Contains(s.published[0], `"error":"Rotor.Unsafe"`) || !strings.Contains(s.published[0], "panic") {
		t.Errorf("SNS messages: %v", s.published)
	}
	checkNoPanicKey(t, s.e, append([]string{string(b)}, s.published...)...)
}

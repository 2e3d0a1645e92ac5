package rotorlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/webhook"
)

// The functions: in process or under the emulator, each as its role.

func (h *Host) function(name string) (cfn.Function, bool) {
	for _, f := range h.Deployment.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return cfn.Function{}, false
}

func (h *Host) functionNames() []string {
	var out []string
	for _, f := range h.Deployment.Functions {
		out = append(out, f.Name)
	}
	return out
}

// deployFunctions registers each function under its role's credentials:
// in process, under the emulator, or (Options.Routes) not at all.
func (h *Host) deployFunctions(ctx context.Context, o Options, d *cfn.Deployment) error {
	h.extraEnv, h.functionLog, h.now = o.FunctionEnv, o.FunctionLog, o.Now
	for _, f := range d.Functions {
		h.Functions[f.Rotor] = f.Name
		if _, routed := o.Routes[f.Name]; routed {
			continue
		}
		env := map[string]string{}
		for k, v := range f.Env {
			env[k] = v
		}
		for k, v := range o.FunctionEnv {
			env[k] = v
		}
		if o.Bootstraps != "" {
			if err := h.startRIE(ctx, o, f, env); err != nil {
				return err
			}
			continue
		}
		if err := h.registerInProcess(f, env, o.FunctionLog); err != nil {
			return err
		}
	}
	return nil
}

// functionEnv is what Lambda adds to a function's own environment.
func (h *Host) functionEnv(f cfn.Function, env map[string]string, creds *iam.Credentials) []string {
	all := map[string]string{"AWS_ENDPOINT_URL": h.URL, "AWS_REGION": Region, "AWS_DEFAULT_REGION": Region,
		"AWS_LAMBDA_FUNCTION_NAME": f.Name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(f.TimeoutSeconds)}
	if creds != nil {
		all["AWS_ACCESS_KEY_ID"], all["AWS_SECRET_ACCESS_KEY"], all["AWS_SESSION_TOKEN"] = creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken
	}
	for k, v := range env {
		all[k] = v
	}
	out := make([]string, 0, len(all))
	for k, v := range all {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (h *Host) startRIE(ctx context.Context, o Options, f cfn.Function, env map[string]string) error {
	bin := filepath.Join(o.Bootstraps, f.Rotor, "bootstrap")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("function %s: %w (build the bootstraps for this machine first)", f.Rotor, err)
	}
	creds, err := h.Server.STS.Issue(f.RoleARN, f.Name, credentialLifetime)
	if err != nil {
		return fmt.Errorf("function %s: role %s: %w", f.Rotor, f.RoleARN, err)
	}
	rf, err := locallambda.StartRIE(ctx, locallambda.RIEOptions{Emulator: o.Emulator, Bootstrap: bin, Env: h.functionEnv(f, env, &creds),
		Stdout: h.metrics.writer(o.FunctionLog), Stderr: h.metrics.writer(o.FunctionLog)})
	if err != nil {
		return fmt.Errorf("function %s: %w", f.Rotor, err)
	}
	h.rie = append(h.rie, rf)
	h.Server.Lambda.RegisterURL(f.Name, rf.URL())
	return nil
}

// registerInProcess runs a function's handler in this process, built by
// the constructor its main package calls, from its environment and with
// its role's credentials.
func (h *Host) registerInProcess(f cfn.Function, env map[string]string, logs io.Writer) error {
	logs = h.metrics.writer(logs)
	cfg := h.roleConfig(f.RoleARN, f.Name)
	getenv := func(k string) string { return env[k] }
	timeout := time.Duration(f.TimeoutSeconds) * time.Second
	var invoke func(ctx context.Context, payload []byte) ([]byte, error)
	if f.Rotor == WebhookFunction {
		handler, err := webhook.FromConfig(cfg, getenv, logs)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		invoke = func(ctx context.Context, payload []byte) ([]byte, error) {
			var req events.LambdaFunctionURLRequest
			if err := json.Unmarshal(payload, &req); err != nil {
				return nil, &locallambda.FunctionError{Type: "Runtime.UnmarshalError", Message: err.Error()}
			}
			resp, err := handler.FunctionURL(ctx, req)
			if err != nil {
				return nil, err
			}
			return json.Marshal(resp)
		}
	} else {
		svc, err := rotation.FromConfig(cfg, getenv, logs)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		if h.now != nil {
			svc.Now = h.now
			if svc.Ledger != nil {
				svc.Ledger.Now = h.now
			}
		}
		handler, err := svc.Handler(f.Rotor)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Rotor, err)
		}
		invoke = handler.Invoke
	}
	h.Server.Lambda.Register(f.Name, func(ctx context.Context, payload []byte) ([]byte, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		out, err := invoke(ctx, payload)
		var ie messages.InvokeResponse_Error
		if errors.As(err, &ie) {
			return nil, &locallambda.FunctionError{Type: ie.Type, Message: ie.Message}
		}
		return out, err
	})
	return nil
}

// ColdStart builds an in-process function (by rotor's name: create,
// webhook, ...) again, as Lambda starts a new execution environment:
// whatever it cached (the webhook's keys) is read again.
func (h *Host) ColdStart(fn string) error {
	name, ok := h.Functions[fn]
	if !ok {
		return fmt.Errorf("no function %q", fn)
	}
	f, _ := h.function(name)
	env := map[string]string{}
	for k, v := range f.Env {
		env[k] = v
	}
	for k, v := range h.extraEnv {
		env[k] = v
	}
	return h.registerInProcess(f, env, h.functionLog)
}

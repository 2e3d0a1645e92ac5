// Package template runs rotor's end-to-end cases against the template `make
// synth` writes (cdk.out/Rotor.template.json, or $ROTOR_TEMPLATE) deployed
// on the local endpoint with IAM enforced: every function, the state
// machine, the rules' and the schedule's targets act as the roles the
// template declares. It also checks that the template rotor local embeds
// is the synthesized one (TestEmbeddedTemplateIsCurrent), that every
// permission of every role is needed (TestLeastPrivilege) and that the
// denials the trust model promises hold (TestDeny*).
//
// `make template-test` runs it after `make synth`; `make unit` does not.
package template

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/localaws/events"
	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/rotorlocal"
	"github.com/rotorhq/rotor/internal/webhook"
)

// templatePath is the template under test.
func templatePath() string {
	if p := os.Getenv("ROTOR_TEMPLATE"); p != "" {
		return p
	}
	return "../../cdk.out/Rotor.template.json"
}

func readTemplate(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(templatePath())
	if err != nil {
		t.Fatalf("%v: run `make synth` first (or set ROTOR_TEMPLATE to a synthesized template)", err)
	}
	return b
}

const (
	pgMaster         = "rotor_master"
	pgMasterPassword = "master-Pw_template_7f3a9c"
	ksMasterKey      = "mk_template_test_4b2d8e1f0a"
	githubToken      = "github_pat_templatetest0123456789"
)

// env is one local deployment of the template with what the cases need:
// a PostgreSQL cluster, the keyservice API behind the httpapi provider, a
// stand-in for GitHub's API.
type env struct {
	h    *rotorlocal.Host
	root aws.Config
	sm   *secretsmanager.Client
	logs *syncBuffer

	mu      sync.Mutex
	denials []localaws.Denial

	pg    *pgtest.Cluster
	ks    *keyservice.Server
	ksURL string
	// ghSecret is the secret GitHub's API answers for an alert.
	ghSecret atomic.Value
	keys     webhook.Keys
	n        atomic.Int64
}

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

func start(t *testing.T, template []byte, functionEnv map[string]string) *env {
	t.Helper()
	e := &env{logs: &syncBuffer{}}
	e.pg = pgtest.Start(t, pgtest.Options{})
	e.pg.Exec(t, "CREATE ROLE "+pgMaster+" WITH LOGIN CREATEROLE PASSWORD '"+pgMasterPassword+"' IN ROLE pg_signal_backend")

	e.ks = keyservice.New(ksMasterKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ksSrv := &http.Server{Handler: e.ks.Handler()}
	go ksSrv.Serve(ln)
	t.Cleanup(func() { ksSrv.Close() })
	e.ksURL = "http://" + ln.Addr().String()

	e.ghSecret.Store("")
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+githubToken {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"number":191,"state":"open","secret_type":"custom_pattern","secret":%q}`, e.ghSecret.Load().(string))
	}))
	t.Cleanup(gh.Close)

	fenv := map[string]string{webhook.EnvGitHubAPI: gh.URL}
	for k, v := range functionEnv {
		fenv[k] = v
	}
	h, err := rotorlocal.Start(context.Background(), rotorlocal.Options{Template: template, FunctionEnv: fenv,
		FunctionLog: e.logs, WaitScale: 0.01, OnDenied: func(d localaws.Denial) {
			e.mu.Lock()
			e.denials = append(e.denials, d)
			e.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	e.root = aws.Config{Region: rotorlocal.Region, BaseEndpoint: aws.String(h.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEMPLATETEST", "template-test-secret", "")}
	e.sm = secretsmanager.NewFromConfig(e.root)

	// What a consumer of rotor's events deploys: a rule on the default bus
	// matching successful rotations, delivering to a function.
	h.Server.Lambda.Register(outcomesSink, func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })
	eb := eventbridge.NewFromConfig(e.root)
	if _, err := eb.PutRule(context.Background(), &eventbridge.PutRuleInput{Name: aws.String(outcomesRule),
		EventPattern: aws.String(`{"source":["rotor"],"detail-type":["Rotation Succeeded"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(context.Background(), &eventbridge.PutTargetsInput{Rule: aws.String(outcomesRule), Targets: []ebtypes.Target{{
		Id: aws.String("sink"), Arn: aws.String("arn:aws:lambda:" + rotorlocal.Region + ":" + rotorlocal.Account + ":function:" + outcomesSink)}}}); err != nil {
		t.Fatal(err)
	}

	// The first-deploy step a person does on AWS: GitHub's token.
	v, err := e.value(context.Background(), h.WebhookKeys, "AWSCURRENT")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v), &e.keys); err != nil {
		t.Fatal(err)
	}
	e.keys.GitHubToken = githubToken
	b, _ := json.Marshal(e.keys)
	if _, err := e.sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(h.WebhookKeys),
		SecretString: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
	return e
}

// mark and deniedSince bracket a case's denials.
func (e *env) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.denials)
}

func (e *env) deniedSince(i int) []localaws.Denial {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]localaws.Denial(nil), e.denials[i:]...)
}

func (e *env) name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.n.Add(1))
}

func (e *env) create(ctx context.Context, name, value string, tags map[string]string, token string) (string, error) {
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.sm.CreateSecret(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	return aws.ToString(out.ARN), nil
}

func (e *env) value(ctx context.Context, id, stage string) (string, error) {
	out, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)})
	if err != nil {
		return "", fmt.Errorf("read %s %s: %w", id, stage, err)
	}
	return aws.ToString(out.SecretString), nil
}

// rotate runs a manual rotation and waits for it to succeed.
func (e *env) rotate(ctx context.Context, id string, grace int) error {
	out, err := sfn.NewFromConfig(e.root).StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
		Input: aws.String(fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":%d}`, id, grace))})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return e.succeeded(ctx, aws.ToString(out.ExecutionArn))
}

// succeeded waits for an execution and reports how it ended unless it
// succeeded.
func (e *env) succeeded(ctx context.Context, arn string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	status, err := e.h.Server.SFN.Wait(ctx, arn)
	if err != nil {
		return fmt.Errorf("execution %s: %w", arn, err)
	}
	if status == "SUCCEEDED" {
		return nil
	}
	d, err := sfn.NewFromConfig(e.root).DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("execution %s: %s", arn, status)
	}
	return fmt.Errorf("execution %s: %s: %s: %s", arn, status, aws.ToString(d.Error), aws.ToString(d.Cause))
}

// leakExecution waits for the event deliveries after mark and returns the
// one execution they started.
func (e *env) leakExecution(ctx context.Context, mark int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.h.Server.Events.Wait(ctx); err != nil {
		return "", err
	}
	var ds []events.Delivery
	for _, d := range e.h.Server.Events.Deliveries()[mark:] {
		if d.Rule != outcomesRule { // the leak's own rotation succeeding
			ds = append(ds, d)
		}
	}
	if len(ds) != 1 || ds[0].Failed() {
		return "", fmt.Errorf("deliveries: %+v, want one execution started", ds)
	}
	return ds[0].Result, nil
}

// The rule (and its function) that receives rotor's Rotation Succeeded
// events.
const (
	outcomesRule = "rotor-rotation-succeeded"
	outcomesSink = "rotation-succeeded-sink"
)

// succeededEvent waits for the event deliveries in flight and tells
// whether the rule of Rotation Succeeded events delivered one about the
// secret secretARN.
func (e *env) succeededEvent(ctx context.Context, secretARN string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.h.Server.Events.Wait(ctx); err != nil {
		return err
	}
	for _, d := range e.h.Server.Events.Deliveries() {
		var ev struct {
			Detail struct{ SecretID string }
		}
		if d.Rule == outcomesRule && !d.Failed() && json.Unmarshal([]byte(d.Input), &ev) == nil && ev.Detail.SecretID == secretARN {
			return nil
		}
	}
	return fmt.Errorf("%s: no Rotation Succeeded event reached the rule", secretARN)
}

func (e *env) post(ctx context.Context, path string, body []byte, headers map[string]string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.h.WebhookURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// roleOf is the role ARN of one of rotor's functions.
func (e *env) roleOf(fn string) (cfn.Role, error) {
	for _, f := range e.h.Deployment.Functions {
		if f.Rotor != fn {
			continue
		}
		for _, r := range e.h.Deployment.Roles {
			if r.ARN == f.RoleARN {
				return r, nil
			}
		}
	}
	return cfn.Role{}, fmt.Errorf("no role for function %s", fn)
}

// as is a configuration acting as role (credentials from the local STS).
func (e *env) as(t *testing.T, role cfn.Role) aws.Config {
	t.Helper()
	c, err := e.h.Server.STS.Issue(role.ARN, "template-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.root.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	return cfg
}

// accessDenied tells whether err is an AccessDenied answer.
func accessDenied(err error) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") || err != nil && strings.Contains(err.Error(), "AuthorizationError")
}

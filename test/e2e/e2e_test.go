// Package e2e runs rotor the way a user does, offline: the five Lambda
// functions built as bootstrap binaries and run under the Lambda Runtime
// Interface Emulator, `rotor local serve` as a separate process, and the
// rotor CLI and the AWS SDK talking to it over the wire.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rotorhq/rotor/internal/keyservice"
)

var functions = []string{"resolve", "create", "switchover", "verify", "expire", "webhook"}

// build compiles the five bootstraps for this machine and the rotor CLI,
// once per test binary.
var built struct {
	dir string
	err error
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Dir(filepath.Dir(wd))
}

func buildAll(t *testing.T) string {
	t.Helper()
	if built.dir != "" || built.err != nil {
		if built.err != nil {
			t.Fatal(built.err)
		}
		return built.dir
	}
	dir, err := os.MkdirTemp("", "rotor-e2e-bin-")
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	for _, fn := range functions {
		if err := goBuild(root, filepath.Join(dir, "functions", fn, "bootstrap"), "./functions/"+fn); err != nil {
			built.err = err
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "rotor"), "./cmd/rotor")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		built.err = fmt.Errorf("build rotor: %v\n%s", err, out)
		t.Fatal(built.err)
	}
	built.dir = dir
	return dir
}

// goBuild builds a function as the Makefile does, for this machine.
func goBuild(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func emulator(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ROTOR_RIE"); p != "" {
		return p
	}
	p := filepath.Join(repoRoot(t), ".tools", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the Lambda Runtime Interface Emulator is not installed at %s: run make tools", p)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a `rotor local serve` process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer the process's output copier and the test
// can use at once.
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

func startServer(t *testing.T, bin, data, addr string) *server {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(filepath.Join(bin, "rotor"), "local", "serve", "--addr", addr, "--data", data,
		"--bootstraps", filepath.Join(bin, "functions"), "--emulator", emulator(t), "--env", "ROTOR_LOCK_TTL=5m")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so SIGKILL reaches the emulators too
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/_rotor/health")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(logs.String(), "state machine") {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotor local serve did not come up:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the server and its emulators with SIGKILL: no clean shutdown.
func (s *server) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

func (s *server) awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDE2E", "e2e-secret", "")}
}

// fixture is a key API on loopback and the secrets that use it.
type fixture struct {
	ks      *keyservice.Server
	url     string
	initial keyservice.Key

	mu   sync.Mutex
	hold *heldCall
}

// heldCall is a key API call to hold (see holdOnce).
type heldCall struct {
	method, prefix string
	arrived        chan struct{}
}

const masterKey = "mk_e2e_5f1c9a7d3b2e4f60"

func newFixture(t *testing.T) *fixture {
	ks := keyservice.New(masterKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ks: ks, url: "http://" + ln.Addr().String(), initial: ks.Mint("initial")}
	next := ks.Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := f.hold
		if h != nil && r.Method == h.method && strings.HasPrefix(r.URL.Path, h.prefix) {
			f.hold = nil
			close(h.arrived)
		} else {
			h = nil
		}
		f.mu.Unlock()
		if h != nil {
			// Unanswered and never applied: its caller dies first.
			<-r.Context().Done()
			http.Error(w, "the caller went away", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

// holdOnce makes the next key API call with this method and path prefix
// wait, unanswered, until its caller goes away; the channel is closed when
// it arrives.
func (f *fixture) holdOnce(method, prefix string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = &heldCall{method: method, prefix: prefix, arrived: make(chan struct{})}
	return f.hold.arrived
}

func (f *fixture) createSecrets(t *testing.T, s *server, grace string) {
	t.Helper()
	sm := secretsmanager.NewFromConfig(s.awsConfig())
	value, _ := json.Marshal(map[string]string{"apiKey": f.initial.Secret, "keyId": f.initial.ID})
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String("e2e/master"), SecretString: aws.String(f.ks.HTTPAPIConfig(f.url, keyservice.Serves("e2e/api-key"), keyservice.RevokeUnminted())), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String("e2e/api-key"), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String("e2e/master")},
			{Key: aws.String("rotor:grace-period"), Value: aws.String(grace)}}},
	} {
		if _, err := sm.CreateSecret(context.Background(), in); err != nil {
			t.Fatalf("CreateSecret %s: %v", aws.ToString(in.Name), err)
		}
	}
}

// secrets returns every secret value in play: the keys the API minted and
// the master key.
func (f *fixture) secrets() []string { return append([]string{masterKey}, f.ks.Minted()...) }

func scan(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains a secret value (%d bytes)", what, len(s))
		}
	}
}

func (s *server) snsMessages(t *testing.T) []map[string]any {
	t.Helper()
	resp, err := http.Get(s.url + "/_rotor/sns/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &msgs); err != nil {
		t.Fatalf("SNS messages: %v: %s", err, body)
	}
	return msgs
}

func history(t *testing.T, s *server, arn string) string {
	t.Helper()
	client := sfn.NewFromConfig(s.awsConfig())
	var all bytes.Buffer
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(page.Events)
		all.Write(b)
	}
	return all.String()
}

// TestRotateWithBootstrapsUnderTheEmulator: `rotor rotate --wait` against
// `rotor local serve` running the real function binaries.
func TestRotateWithBootstrapsUnderTheEmulator(t *testing.T) {
	bin := buildAll(t)
	f := newFixture(t)
	s := startServer(t, bin, filepath.Join(t.TempDir(), "local.db"), freePort(t))
	f.createSecrets(t, s, "1s")

	cmd := exec.Command(filepath.Join(bin, "rotor"), "rotate", "--secret", "e2e/api-key", "--wait", "--output", "json", "--endpoint", s.url)
	cmd.Env = append(os.Environ(), "AWS_REGION=us-east-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rotor rotate --wait: %v\n%s%s\nserver:\n%s", err, out, stderr.Bytes(), s.logs)
	}
	if stderr.Len() > 0 {
		t.Errorf("rotor rotate wrote to stderr: %s", stderr.Bytes())
	}
	var res struct {
		ExecutionArn string
		Status       string
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Status != "SUCCEEDED" {
		t.Fatalf("rotate output %s (%v)", out, err)
	}

	sm := secretsmanager.NewFromConfig(s.awsConfig())
	cur, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("e2e/api-key")})
	if err != nil {
		t.Fatal(err)
	}
	var now struct{ APIKey string }
	_ = json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &now)
	if now.APIKey == f.initial.Secret || !f.ks.Accepts(now.APIKey) {
		t.Error("the current value is not a new, working key")
	}
	if f.ks.Accepts(f.initial.Secret) {
		t.Error("the old key was not revoked at the provider")
	}
	msgs := s.snsMessages(t)
	if len(msgs) != 1 || !strings.Contains(fmt.Sprint(msgs[0]), "rotation.succeeded") {
		t.Errorf("SNS recorded %d messages, want one success: %v", len(msgs), msgs)
	}
	b, _ := json.Marshal(msgs)
	scan(t, "the SNS messages", string(b), f.secrets())
	scan(t, "the execution history", history(t, s, res.ExecutionArn), f.secrets())
	scan(t, "rotor rotate's output", string(out), f.secrets())
	scan(t, "the server's and functions' output", s.logs.String(), f.secrets())

	// The bootstraps' EMF lines, read from the emulators' output, add up
	// at /_rotor/metrics as the in-process functions' do.
	want := map[string]float64{}
	for _, outcome := range []string{"created", "switched", "verified", "revoked"} {
		want[`rotor_rotations_total{error="",outcome="`+outcome+`",provider="httpapi"}`] = 1
	}
	if diff := cmp.Diff(want, s.rotations(t)); diff != "" {
		t.Errorf("rotor_rotations_total at /_rotor/metrics (-want +got):\n%s\nserver:\n%s", diff, s.logs)
	}
}

// rotations reads rotor_rotations_total at /_rotor/metrics with
// Prometheus' own text parser.
func (s *server) rotations(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/_rotor/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/_rotor/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for _, m := range fams["rotor_rotations_total"].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		sort.Strings(ls)
		out["rotor_rotations_total{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
	}
	return out
}

// TestExecutionSurvivesSIGKILL: the server is killed while a rotation waits
// out its grace period; restarted on the same data file, it finishes the
// rotation and revokes the old key.
func TestExecutionSurvivesSIGKILL(t *testing.T) {
	bin := buildAll(t)
	f := newFixture(t)
	data, addr := filepath.Join(t.TempDir(), "local.db"), freePort(t)
	s := startServer(t, bin, data, addr)
	f.createSecrets(t, s, "6s")

	client := sfn.NewFromConfig(s.awsConfig())
	list, err := client.ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 {
		t.Fatalf("state machines: %v %v", list, err)
	}
	start, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: list.StateMachines[0].StateMachineArn, Input: aws.String(`{"secretId":"e2e/api-key","trigger":"manual"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(history(t, s, arn), "WaitStateEntered"); {
		if time.Now().After(deadline) {
			t.Fatalf("the execution never reached its grace period:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	killedAt := time.Now()
	s.kill()
	if !f.ks.Accepts(f.initial.Secret) {
		t.Fatal("the old key was revoked before the grace period ended")
	}

	s2 := startServer(t, bin, data, addr)
	client = sfn.NewFromConfig(s2.awsConfig())
	var d *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if d, err = client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			break
		}
	}
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("after the restart the execution is %s (%s: %s)\nserver:\n%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), s2.logs)
	}
	if f.ks.Accepts(f.initial.Secret) {
		t.Error("the old key survived the restart")
	}
	if gap := aws.ToTime(d.StopDate).Sub(killedAt); gap > 20*time.Second {
		t.Errorf("the rotation ended %s after the kill; its grace period was 6 s", gap)
	}
	h := history(t, s2, arn)
	if strings.Count(h, `"WaitStateEntered"`) != 1 || strings.Count(h, `"ExecutionStarted"`) != 1 {
		t.Errorf("the resumed history repeats events: %d WaitStateEntered, %d ExecutionStarted",
			strings.Count(h, `"WaitStateEntered"`), strings.Count(h, `"ExecutionStarted"`))
	}
	scan(t, "the execution history", h, f.secrets())
}

// TestExecutionSurvivesSIGKILLInATask: the server is killed while a
// rotation's Create task is in flight (the function's call to the key API
// unanswered). Restarted on the same data file, the server resumes the
// rotation before the functions under the emulator are up; the task waits
// for them and the rotation finishes, and the history recorded before the
// kill reads back with every state's input. Before, the resumed task failed
// at once with Lambda.ResourceNotFoundException, and so did the cleanup.
func TestExecutionSurvivesSIGKILLInATask(t *testing.T) {
	bin := buildAll(t)
	f := newFixture(t)
	data, addr := filepath.Join(t.TempDir(), "local.db"), freePort(t)
	s := startServer(t, bin, data, addr)
	f.createSecrets(t, s, "1s")

	client := sfn.NewFromConfig(s.awsConfig())
	list, err := client.ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 {
		t.Fatalf("state machines: %v %v", list, err)
	}
	arrived := f.holdOnce(http.MethodPost, "/v1/keys")
	start, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: list.StateMachines[0].StateMachineArn, Input: aws.String(`{"secretId":"e2e/api-key","trigger":"manual"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("the rotation never asked the key API for a key:\n%s", s.logs)
	}
	before := history(t, s, arn)
	s.kill()

	s2 := startServer(t, bin, data, addr)
	client = sfn.NewFromConfig(s2.awsConfig())
	var d *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if d, err = client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			break
		}
	}
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("after the restart the execution is %s (%s: %s)\nserver:\n%s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), s2.logs)
	}
	sm := secretsmanager.NewFromConfig(s2.awsConfig())
	cur, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("e2e/api-key")})
	if err != nil {
		t.Fatal(err)
	}
	var now struct{ APIKey, KeyID string }
	_ = json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &now)
	if now.APIKey == f.initial.Secret || !f.ks.Accepts(now.APIKey) {
		t.Error("the current value is not a new, working key")
	}
	if live := f.ks.Live(); len(live) != 1 || live[0].ID != now.KeyID {
		t.Errorf("%d keys live at the API, want only the current one", len(live))
	}
	if _, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("e2e/api-key"), VersionStage: aws.String("AWSPENDING")}); err == nil {
		t.Error("AWSPENDING is left on a version")
	}
	after := history(t, s2, arn)
	if strings.Contains(after, `"Input":"null"`) {
		t.Error("a state's input reads back as null after the restart")
	}
	// The events recorded before the kill come back as they were: compare
	// the first of them (the history is JSON arrays of pages).
	var b, a []json.RawMessage
	if err := json.Unmarshal([]byte(before), &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(after), &a); err != nil {
		t.Fatal(err)
	}
	if len(a) < len(b) {
		t.Fatalf("%d events after the restart, %d before", len(a), len(b))
	}
	for i := range b {
		if string(a[i]) != string(b[i]) {
			t.Errorf("event %d reads back differently after the restart", i+1)
		}
	}
	scan(t, "the execution history", after, f.secrets())
	scan(t, "the server's and functions' output", s2.logs.String(), f.secrets())
}

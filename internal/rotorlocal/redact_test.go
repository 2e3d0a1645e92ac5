package rotorlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/redact"
)

// Character classes of the random secrets.
var secretClasses = []string{
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"0123456789",
	`/+=%&?#"\'`,
	"!$()*,-.:;<>@[]^_`{|}~",
	" ",
	"éüßñøЖж中文字🙂€",
}

// randomSecret returns a secret of n runes holding every class of
// secretClasses at least once, and each of the characters that broke
// redaction before: / + = % & ? # " \ '.
func randomSecret(r *rand.Rand, n int) string {
	var runes []rune
	for _, c := range secretClasses {
		runes = append(runes, []rune(c)[r.IntN(len([]rune(c)))])
	}
	runes = append(runes, []rune(`/+=%&?#"\'`)...)
	for len(runes) < n {
		c := []rune(secretClasses[r.IntN(len(secretClasses))])
		runes = append(runes, c[r.IntN(len(c))])
	}
	r.Shuffle(len(runes), func(i, j int) { runes[i], runes[j] = runes[j], runes[i] })
	// HTTP trims a header value's trailing spaces, and the master key goes in
	// the Authorization header: keep spaces inside.
	for _, end := range []int{0, len(runes) - 1} {
		for runes[end] == ' ' {
			k := r.IntN(len(runes))
			runes[end], runes[k] = runes[k], runes[end]
		}
	}
	return string(runes)
}

// reporter fails a test with messages scrubbed of the test's own secrets.
// It is a second guard (it relies on the code under test): the test never
// formats what rotor emitted, only lengths and names.
type reporter struct {
	t   *testing.T
	set *redact.Set
}

func (r reporter) Fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatal(r.set.Scrub(fmt.Sprintf(format, args...)))
}

func (r reporter) Errorf(format string, args ...any) {
	r.t.Helper()
	r.t.Error(r.set.Scrub(fmt.Sprintf(format, args...)))
}

// TestRedactionEndToEnd: an httpapi master key with every character class,
// used in path templates, makes rotations fail at a transport error and at
// HTTP errors (before and after a key is minted). No encoding of the master
// key, of the managed value's key or of a minted key appears in the
// execution history, the SNS messages, the functions' logs or the local
// endpoint's log. Runs for fixed seeds and two random ones; a failure names
// its seed (add it to the list to replay it).
func TestRedactionEndToEnd(t *testing.T) {
	seeds := []uint64{1, 2, 20261207}
	for range 2 {
		seeds = append(seeds, rand.Uint64())
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			masterKey := randomSecret(r, 16+r.IntN(85))
			initialKey := randomSecret(r, 16+r.IntN(85))
			runRedactionScenarios(t, masterKey, initialKey)
		})
	}
}

// redactEnv is a local host whose state machine retries without waiting
// (jitter 0), with the functions' and the endpoint's logs kept.
type redactEnv struct {
	h        *Host
	funcLog  *syncBuffer
	localLog *syncBuffer
}

func startRedactEnv(t *testing.T) *redactEnv {
	t.Helper()
	e := &redactEnv{funcLog: &syncBuffer{}, localLog: &syncBuffer{}}
	h, err := Start(t.Context(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.funcLog,
		Log:    slog.New(slog.NewJSONHandler(e.localLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Jitter: func() float64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	return e
}

func runRedactionScenarios(t *testing.T, masterKey, initialKey string) {
	rep := reporter{t: t, set: &redact.Set{}}
	rep.set.Add(masterKey)
	rep.set.Add(initialKey)
	e := startRedactEnv(t)
	ctx := t.Context()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()

	// An API that answers 500 to everything, echoing what it was sent (an
	// echo rotor must never quote).
	failing := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":"cannot serve %s with %s"}`, r.URL.String(), r.Header.Get("Authorization"))
	}))

	// The key service behind paths that hold the master key: keys are
	// minted, then verify and revoke answer 500.
	ks := keyservice.New(masterKey)
	prefix := "/v1/" + url.PathEscape(masterKey) + "/keys"
	mintThenFail := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
		if !ok || r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":"no %s"}`, r.URL.String())
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/v1/keys"+rest, ""
		ks.Handler().ServeHTTP(w, r2)
	}))

	for _, sc := range []struct {
		name, baseURL string
		wantCause     string // what the failure notice's cause says
	}{
		{"a transport error", closedURL, "GET " + strings.TrimPrefix(closedURL, "http://") + ": dial tcp"},
		{"HTTP 500 at once", failing, "list: HTTP 500"},
		{"HTTP 500 after a key is minted", mintThenFail, "verify: HTTP 500"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			rep := reporter{t: t, set: rep.set}
			id := "prod/" + strings.ReplaceAll(sc.name, " ", "-")
			createRedactSecrets(rep, e, id, masterConfig(masterKey, sc.baseURL, id), initialKey)
			x, err := e.h.StepFunctions().StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
				Input: aws.String(fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":0}`, id))})
			if err != nil {
				rep.Fatalf("start: %v", err)
			}
			arn := aws.ToString(x.ExecutionArn)
			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if status, err := e.h.Server.SFN.Wait(wctx, arn); status != "FAILED" || err != nil {
				rep.Fatalf("execution: %s (%v), want FAILED", status, err)
			}
			hist, err := e.h.StepFunctions().GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
			if err != nil {
				rep.Fatalf("history: %v", err)
			}
			failed := 0
			for _, ev := range hist.Events {
				if ev.Type == "LambdaFunctionFailed" {
					failed++
				}
			}
			if failed < 12 { // a step tried 6 times, then its clean-up or rollback 6 times
				rep.Errorf("%d failed invocations, want the retries of two steps exhausted", failed)
			}
			notice := failureNotice(e, id)
			// The notice itself is not printed: were redaction broken, it
			// would carry the key into the test's output.
			if !strings.Contains(notice, sc.wantCause) {
				rep.Errorf("the failure notice (%d bytes) does not say %q", len(notice), sc.wantCause)
			}
		})
	}
	if len(ks.Minted()) == 0 {
		t.Fatal("no key was minted: the scenario after a mint did not run")
	}
	for _, m := range ks.Minted() {
		rep.set.Add(m)
	}

	// Everything rotor emitted, JSON unwrapped to its string leaves so that
	// a value escaped twice (JSON in a JSON string) is seen once-escaped.
	emitted := map[string][]string{}
	for _, arn := range executions(t, e) {
		out, err := e.h.StepFunctions().GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		if err != nil {
			rep.Fatalf("history: %v", err)
		}
		for _, ev := range out.Events {
			b, _ := json.Marshal(ev)
			emitted["the execution history"] = append(emitted["the execution history"], leaves(string(b))...)
		}
		d, err := e.h.StepFunctions().DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			rep.Fatalf("describe: %v", err)
		}
		b, _ := json.Marshal(d)
		emitted["the execution's description"] = append(emitted["the execution's description"], leaves(string(b))...)
	}
	resp, err := http.Get(e.h.URL + "/_rotor/sns/messages")
	if err != nil {
		rep.Fatalf("SNS messages: %v", err)
	}
	sns, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	emitted["the SNS messages"] = leaves(string(sns))
	for _, line := range strings.Split(e.funcLog.String(), "\n") {
		emitted["the functions' logs"] = append(emitted["the functions' logs"], leaves(line)...)
	}
	for _, line := range strings.Split(e.localLog.String(), "\n") {
		emitted["the local endpoint's log"] = append(emitted["the local endpoint's log"], leaves(line)...)
	}
	if n := strings.Count(string(sns), "rotation.failed") + strings.Count(string(sns), "rotation.undo-failed"); n != 3 {
		rep.Errorf("%d failure notices, want 3", n)
	}
	if !strings.Contains(e.funcLog.String(), "step failed") {
		rep.Errorf("the functions logged no failure: nothing was scanned")
	}

	secrets := map[string]string{"the master key": masterKey, "the managed value's key": initialKey}
	for i, m := range ks.Minted() {
		secrets[fmt.Sprintf("minted key %d", i+1)] = m
	}
	for what, texts := range emitted {
		for which, s := range secrets {
			for _, enc := range redact.Encodings(s) {
				for _, text := range texts {
					if strings.Contains(text, enc) {
						rep.Errorf("%s contains an encoding (%d bytes) of %s (%d bytes)", what, len(enc), which, len(s))
						break
					}
				}
			}
		}
	}
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// masterConfig is the keyservice configuration with the master key in
// every management path, consenting to serve the secret id (and to revoke
// the first key, which rotor did not mint).
func masterConfig(masterKey, baseURL, id string) string {
	var c map[string]any
	_ = json.Unmarshal([]byte(keyservice.New(masterKey).HTTPAPIConfig(baseURL, keyservice.Serves(id), keyservice.RevokeUnminted())), &c)
	c["timeoutSeconds"] = 2
	c["create"].(map[string]any)["path"] = "/v1/{{.MasterKey}}/keys"
	c["list"].(map[string]any)["path"] = "/v1/{{.MasterKey}}/keys?name={{.KeyName}}"
	c["revoke"].(map[string]any)["path"] = "/v1/{{.MasterKey}}/keys/{{.KeyID}}"
	b, _ := json.Marshal(c)
	return string(b)
}

func createRedactSecrets(rep reporter, e *redactEnv, id, master, initialKey string) {
	rep.t.Helper()
	value, _ := json.Marshal(map[string]string{"apiKey": initialKey, "keyId": "key_0"})
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String(id + "-master"), SecretString: aws.String(master), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:role"), Value: aws.String("master")}}},
		{Name: aws.String(id), SecretString: aws.String(string(value)), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("httpapi")},
			{Key: aws.String("rotor:master-secret"), Value: aws.String(id + "-master")}}},
	} {
		if _, err := e.h.SecretsManager().CreateSecret(rep.t.Context(), in); err != nil {
			rep.Fatalf("create secret %s: %v", aws.ToString(in.Name), err)
		}
	}
}

// failureNotice returns the message of the rotation.failed notice about id.
func failureNotice(e *redactEnv, id string) string {
	for _, m := range e.h.Server.SNS.Messages() {
		// The rotation fails, and its clean-up or rollback too when the API
		// stays broken: either notice names the cause.
		if (strings.Contains(m.Message, `"rotation.failed"`) || strings.Contains(m.Message, `"rotation.undo-failed"`)) && strings.Contains(m.Message, id) {
			return m.Message
		}
	}
	return ""
}

func executions(t *testing.T, e *redactEnv) []string {
	t.Helper()
	out, err := e.h.StepFunctions().ListExecutions(t.Context(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(e.h.StateMachineARN)})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, x := range out.Executions {
		arns = append(arns, aws.ToString(x.ExecutionArn))
	}
	if len(arns) != 3 {
		t.Fatalf("%d executions, want 3", len(arns))
	}
	return arns
}

// leaves returns text and, when it is JSON, every string leaf in it,
// recursively through strings that are JSON themselves.
func leaves(text string) []string {
	out := []string{text}
	var doc any
	if json.Unmarshal([]byte(text), &doc) != nil {
		return out
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			out = append(out, leaves(x)...)
		}
	}
	walk(doc)
	return out
}

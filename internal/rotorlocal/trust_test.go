package rotorlocal

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
)

// The tests in this file play an attacker who may create and tag secrets
// in the account (secretsmanager:CreateSecret, TagResource) and nothing
// else, against rotor on the local endpoint: each attack goes through the
// real path (StartExecution or the daily sweep, the state machine, the
// functions over the SDK) and must be refused with a named error while
// nothing changes for the victim (SECURITY.md, trust boundaries).

// secretState is what an attack must not change about a secret: its
// versions, their labels and its tags.
func (e *leakEnv) secretState(t *testing.T, id string) string {
	t.Helper()
	out, err := e.h.SecretsManager().DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	e.must(t, err)
	b, _ := json.Marshal(struct {
		Stages map[string][]string
		Tags   []smtypes.Tag
	}{out.VersionIdsToStages, out.Tags})
	return string(b)
}

// createSecret creates a secret and returns its ARN.
func (e *leakEnv) createSecret(t *testing.T, name, value string, tags map[string]string) string {
	t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	if value != "" {
		in.SecretString = aws.String(value)
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := e.h.SecretsManager().CreateSecret(t.Context(), in)
	e.must(t, err)
	return aws.ToString(out.ARN)
}

// startInput starts an execution with a raw input.
func (e *leakEnv) startInput(t *testing.T, input string) string {
	t.Helper()
	x, err := e.h.StepFunctions().StartExecution(t.Context(), &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN),
		Input: aws.String(input)})
	e.must(t, err)
	return aws.ToString(x.ExecutionArn)
}

// failures returns the error name and cause of every failed task of an
// execution and of the executions it started (a sweep's pages and their
// rotations), once each has ended.
func (e *leakEnv) failures(t *testing.T, arn string) []string {
	t.Helper()
	out, err := e.h.StepFunctions().GetExecutionHistory(t.Context(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	e.must(t, err)
	var fs []string
	for _, child := range e.stats(t, arn).children {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, err := e.h.Server.SFN.Wait(ctx, child)
		cancel()
		e.must(t, err)
		fs = append(fs, e.failures(t, child)...)
	}
	for _, ev := range out.Events {
		var name, cause string
		if d := ev.TaskFailedEventDetails; d != nil {
			name, cause = aws.ToString(d.Error), aws.ToString(d.Cause)
		}
		if d := ev.LambdaFunctionFailedEventDetails; d != nil {
			name, cause = aws.ToString(d.Error), aws.ToString(d.Cause)
		}
		if name == "" {
			continue
		}
		// A function's error arrives as {"errorMessage", "errorType"}.
		var fe struct{ ErrorMessage string }
		if json.Unmarshal([]byte(cause), &fe) == nil && fe.ErrorMessage != "" {
			cause = fe.ErrorMessage
		}
		fs = append(fs, name+": "+cause)
	}
	return fs
}

// failedWith checks that a task of the execution failed with name and a
// cause containing text.
func (e *leakEnv) failedWith(t *testing.T, arn, name, text string) {
	t.Helper()
	for _, f := range e.failures(t, arn) {
		if strings.HasPrefix(f, name+":") && strings.Contains(f, text) {
			return
		}
	}
	t.Errorf("no task of %s failed with %s %q; failures: %q", arn, name, text, e.failures(t, arn))
}

// TestAttackBorrowedIAMUser: a secret that names another team's IAM user
// (rotor:awsiam:user) gets no key of that user, twice over, and the
// victim's current key keeps working and stays current.
func TestAttackBorrowedIAMUser(t *testing.T) {
	e := startLeakEnv(t)
	ctx := t.Context()
	ic := iam.NewFromConfig(e.h.awsConfig())

	victim := e.createSecret(t, "team-a/deploy-bot", `{"userName":"deploy-bot"}`,
		map[string]string{"rotor:provider": "awsiam", "rotor:awsiam:user": "deploy-bot"})
	_, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("deploy-bot"),
		Tags: []iamtypes.Tag{{Key: aws.String(awsiam.TagSecret), Value: aws.String(victim)}}})
	e.must(t, err)
	e.rotate(t, "team-a/deploy-bot", 0)
	var key struct{ AccessKeyID, SecretAccessKey string }
	e.must(t, json.Unmarshal([]byte(e.value(t, victim, "AWSCURRENT")), &key))

	victimBefore := e.secretState(t, victim)
	tagsBefore, err := ic.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("deploy-bot")})
	e.must(t, err)
	keysBefore := e.h.Server.IAM.AccessKeys("deploy-bot")

	e.createSecret(t, "team-b/borrowed", "",
		map[string]string{"rotor:provider": "awsiam", "rotor:awsiam:user": "deploy-bot"})
	attackerBefore := e.secretState(t, "team-b/borrowed")
	for i := 0; i < 2; i++ { // the second time would have deleted the victim's key
		arn := e.start(t, "team-b/borrowed", 0)
		e.wait(t, arn, "FAILED")
		e.failedWith(t, arn, "Rotor.InvalidInput", "IAM user deploy-bot backs another secret")
		if strings.Contains(e.history(t, arn), victim) {
			t.Error("the attacker's execution history names the secret the user backs")
		}
	}
	// The sweep plans the attacker's empty secret without any StartExecution.
	sweep := e.startInput(t, `{"trigger":"sweep"}`)
	e.wait(t, sweep, "SUCCEEDED") // it started the children; the attacker's fails
	e.failedWith(t, sweep, "Rotor.InvalidInput", "IAM user deploy-bot backs another secret")

	if diff := cmp.Diff(keysBefore, e.h.Server.IAM.AccessKeys("deploy-bot")); diff != "" {
		t.Errorf("the victim's IAM keys changed (-before +after):\n%s", diff)
	}
	tagsAfter, err := ic.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("deploy-bot")})
	e.must(t, err)
	if diff := cmp.Diff(tagsBefore.Tags, tagsAfter.Tags, cmp.Comparer(func(a, b iamtypes.Tag) bool {
		return aws.ToString(a.Key) == aws.ToString(b.Key) && aws.ToString(a.Value) == aws.ToString(b.Value)
	})); diff != "" {
		t.Errorf("the victim user's tags changed (-before +after):\n%s", diff)
	}
	if got := e.secretState(t, victim); got != victimBefore {
		t.Errorf("the victim's secret changed:\n%s\n%s", victimBefore, got)
	}
	if got := e.secretState(t, "team-b/borrowed"); got != attackerBefore {
		t.Errorf("the attacker's secret changed (a key was stored):\n%s\n%s", attackerBefore, got)
	}
	cfg := e.h.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/deploy-bot") {
		t.Errorf("the victim's key no longer works: %v %v", who, err)
	}
}

// TestAttackBorrowedMaster: a secret that names another team's master
// secret gets no key minted with it, neither by a rotation nor by the
// sweep, and the victim's key keeps working.
func TestAttackBorrowedMaster(t *testing.T) {
	e := startLeakEnv(t)
	ks := keyservice.New("mk_victim_team_4f1e2d3c")
	calls := &callLog{next: ks.Handler()}
	srv := startHTTP(t, calls)
	e.createSecret(t, "team-a/master", ks.HTTPAPIConfig(srv, keyservice.Serves("team-a/*")), map[string]string{"rotor:role": "master"})
	victim := e.createSecret(t, "team-a/payments", "", map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "team-a/master"})
	e.rotate(t, victim, 0) // rotor mints the victim's first key
	victimKey := e.apiKey(t, victim, "AWSCURRENT")
	minted := len(ks.Minted())
	victimBefore := e.secretState(t, victim)

	e.createSecret(t, "team-b/payments", "", map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "team-a/master"})
	attackerBefore := e.secretState(t, "team-b/payments")
	calls.reset()
	arn := e.start(t, "team-b/payments", 0)
	e.wait(t, arn, "FAILED")
	e.failedWith(t, arn, "Rotor.InvalidInput", `master secret "team-a/master" (tag rotor:master-secret) does not consent to serve it`)
	sweep := e.startInput(t, `{"trigger":"sweep"}`)
	e.wait(t, sweep, "SUCCEEDED") // it started the children; the attacker's fails
	e.failedWith(t, sweep, "Rotor.InvalidInput", "does not consent to serve it")

	if n := len(ks.Minted()); n != minted {
		t.Errorf("%d keys were minted with the victim's master", n-minted)
	}
	if c := calls.lines(); len(c) != 0 {
		t.Errorf("the victim's API was called with its master key: %q", c)
	}
	if !ks.Accepts(victimKey.APIKey) {
		t.Error("the victim's key no longer works")
	}
	if got := e.secretState(t, victim); got != victimBefore {
		t.Errorf("the victim's secret changed:\n%s\n%s", victimBefore, got)
	}
	if got := e.secretState(t, "team-b/payments"); got != attackerBefore {
		t.Errorf("the attacker's secret changed:\n%s\n%s", attackerBefore, got)
	}
	scan(t, "the attacker's execution history", e.history(t, arn), append(ks.Minted(), "mk_victim_team_4f1e2d3c"))
}

// TestAttackKeyIDTraversal: a value whose keyId climbs out of the revoke
// path (".."), even with a master that lets rotor revoke keys it did not
// mint, sends no such request and does not mark the version revoked; the
// real old key is reported as NOT revoked.
func TestAttackKeyIDTraversal(t *testing.T) {
	e := startLeakEnv(t)
	ks := keyservice.New("mk_traversal_test_9a8b7c6d")
	calls := &callLog{next: ks.Handler()}
	srv := startHTTP(t, calls)
	e.createSecret(t, "svc/master", ks.HTTPAPIConfig(srv, keyservice.Serves("svc/*"), keyservice.RevokeUnminted()), map[string]string{"rotor:role": "master"})
	initial := ks.Mint("initial")
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": ".."})
	id := e.createSecret(t, "svc/api", string(value), map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "svc/master"})
	old := e.holderOf(t, id, "AWSCURRENT")

	arn := e.start(t, id, 0)
	e.wait(t, arn, "FAILED")
	e.failedWith(t, arn, "Rotor.InvalidInput", `field "keyId" is not a key id`)
	for _, l := range calls.lines() {
		if strings.HasPrefix(l, "DELETE") {
			t.Errorf("a revoke request was sent: %s", l)
		}
	}
	if labels := e.labels(t, id)[old]; strings.Contains(strings.Join(labels, ","), "ROTOR_REVOKED") {
		t.Errorf("the old version is labelled %v: rotor claims to have revoked a key it did not", labels)
	}
	var notNotified = true
	for _, m := range e.h.Server.SNS.Messages() {
		if strings.Contains(m.Message, `"rotation.expire-failed"`) && strings.Contains(m.Subject, "NOT revoked") {
			notNotified = false
		}
	}
	if notNotified {
		t.Error("no \"old credential NOT revoked\" notification")
	}
	if !ks.Accepts(initial.Secret) {
		t.Error("the old key was revoked after all (the test expects it live, reported)")
	}
}

// TestAttackBadTagsAreNamed: a tag that does not parse never silently
// takes a default; the day's first sweep plans the secret and its
// rotation fails naming the tag, and the notification says so.
func TestAttackBadTagsAreNamed(t *testing.T) {
	e := startLeakEnvAt(t, func() time.Time { return time.Now().UTC().Truncate(24 * time.Hour).Add(5 * time.Minute) })
	e.createSecret(t, "svc/zero", "initial-value-0123456789abcdefABCDEF", map[string]string{"rotor:provider": "random", "rotor:max-age": "0s"})
	arn := e.startInput(t, `{"trigger":"sweep"}`)
	e.wait(t, arn, "SUCCEEDED") // it started the children; the bad one fails
	e.failedWith(t, arn, "Rotor.InvalidInput", `tag rotor:max-age: "0s" is not a duration from 1h0m0s to 3650d`)
	found := false
	for _, m := range e.h.Server.SNS.Messages() {
		found = found || strings.Contains(m.Message, "rotor:max-age")
	}
	if !found {
		t.Error("no notification names the bad tag")
	}
}

func (e *leakEnv) labels(t *testing.T, id string) map[string][]string {
	t.Helper()
	out, err := e.h.SecretsManager().DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	e.must(t, err)
	return out.VersionIdsToStages
}

func (e *leakEnv) holderOf(t *testing.T, id, label string) string {
	t.Helper()
	for v, ls := range e.labels(t, id) {
		for _, l := range ls {
			if l == label {
				return v
			}
		}
	}
	return ""
}

// callLog records the request lines an HTTP API received.
type callLog struct {
	mu   sync.Mutex
	seen []string
	next http.Handler
}

func (c *callLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.seen = append(c.seen, r.Method+" "+r.URL.EscapedPath())
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

func (c *callLog) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

func (c *callLog) reset() {
	c.mu.Lock()
	c.seen = nil
	c.mu.Unlock()
}

// startHTTP serves h on loopback until the test ends and returns its URL.
func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

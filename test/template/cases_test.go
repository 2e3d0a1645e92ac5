package template

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/rotation"
)

// A case is one end-to-end path through the deployment: it returns an
// error when the path did not end as it must.
type kase struct {
	name string
	run  func(ctx context.Context, e *env) error
}

var cases = []kase{
	{"random", caseRandom},
	{"httpapi", caseHTTPAPI},
	{"awsiam", caseAWSIAM},
	{"postgres-single", func(ctx context.Context, e *env) error { return casePostgres(ctx, e, "single") }},
	{"postgres-alternating", func(ctx context.Context, e *env) error { return casePostgres(ctx, e, "alternating") }},
	{"postgres-master-self", casePostgresMasterSelf},
	{"sweep", caseSweep},
	{"leak-guardduty", func(ctx context.Context, e *env) error { return caseAWSLeak(ctx, e, "guardduty") }},
	{"leak-health", func(ctx context.Context, e *env) error { return caseAWSLeak(ctx, e, "health") }},
	{"leak-bus", caseLeakBus},
	{"webhook-generic", func(ctx context.Context, e *env) error { return caseWebhook(ctx, e, "generic") }},
	{"webhook-gitguardian", func(ctx context.Context, e *env) error { return caseWebhook(ctx, e, "gitguardian") }},
	{"webhook-github", func(ctx context.Context, e *env) error { return caseWebhook(ctx, e, "github") }},
}

func caseRandom(ctx context.Context, e *env) error {
	name := e.name("case/random")
	const initial = "initial-value-0123456789abcdefABCDEF"
	arn, err := e.create(ctx, name, initial, map[string]string{"rotor:provider": "random"}, "")
	if err != nil {
		return err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return err
	}
	now, err := e.value(ctx, name, "AWSCURRENT")
	if err != nil {
		return err
	}
	if now == initial {
		return fmt.Errorf("%s: the value did not change", name)
	}
	// The outcome was put on the default bus, where a rule matched it.
	if err := e.succeededEvent(ctx, arn); err != nil {
		return err
	}
	// The outcome was published to the topic.
	for _, m := range e.h.Server.SNS.Messages() {
		if strings.Contains(m.Message, name) && strings.Contains(m.Message, "succeeded") {
			return nil
		}
	}
	return fmt.Errorf("%s: no notification of its rotation on the topic", name)
}

// httpapiSecret creates a managed httpapi secret and its master, and
// rotates it once, so that its key is one rotor minted.
func httpapiSecret(ctx context.Context, e *env) (string, error) {
	name := e.name("case/api")
	initial := e.ks.Mint(name)
	value, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	if _, err := e.create(ctx, name+"-master", e.ks.HTTPAPIConfig(e.ksURL, keyservice.Serves(name), keyservice.RevokeUnminted()),
		map[string]string{"rotor:role": "master"}, ""); err != nil {
		return "", err
	}
	if _, err := e.create(ctx, name, string(value), map[string]string{"rotor:provider": "httpapi",
		"rotor:master-secret": name + "-master", "rotor:grace-period": "0s"}, ""); err != nil {
		return "", err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return "", err
	}
	return name, nil
}

type apiKey struct {
	APIKey string `json:"apiKey"`
	KeyID  string `json:"keyId"`
}

func (e *env) apiKey(ctx context.Context, name string) (apiKey, error) {
	var k apiKey
	v, err := e.value(ctx, name, "AWSCURRENT")
	if err != nil {
		return k, err
	}
	return k, json.Unmarshal([]byte(v), &k)
}

func caseHTTPAPI(ctx context.Context, e *env) error {
	name, err := httpapiSecret(ctx, e)
	if err != nil {
		return err
	}
	first, err := e.apiKey(ctx, name)
	if err != nil {
		return err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return err
	}
	now, err := e.apiKey(ctx, name)
	if err != nil {
		return err
	}
	if now.APIKey == first.APIKey || !e.ks.Accepts(now.APIKey) {
		return fmt.Errorf("%s: the current key is not a new, working key", name)
	}
	if e.ks.Accepts(first.APIKey) {
		return fmt.Errorf("%s: the old key still works after expire", name)
	}
	return nil
}

// iamSecret creates an awsiam secret whose user consents to it, and
// rotates it once (rotor mints the user's first key).
func iamSecret(ctx context.Context, e *env) (string, awsiam.Value, error) {
	name := e.name("case/iam")
	user := strings.ReplaceAll(name, "/", "-")
	arn, err := e.create(ctx, name, fmt.Sprintf(`{"userName":%q}`, user), map[string]string{"rotor:provider": "awsiam", "rotor:awsiam:user": user}, "")
	if err != nil {
		return "", awsiam.Value{}, err
	}
	if _, err := iam.NewFromConfig(e.root).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user),
		Tags: []iamtypes.Tag{{Key: aws.String(awsiam.TagSecret), Value: aws.String(arn)}}}); err != nil {
		return "", awsiam.Value{}, err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return "", awsiam.Value{}, err
	}
	v, err := e.iamValue(ctx, name)
	return name, v, err
}

func (e *env) iamValue(ctx context.Context, name string) (awsiam.Value, error) {
	var v awsiam.Value
	s, err := e.value(ctx, name, "AWSCURRENT")
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal([]byte(s), &v)
}

func caseAWSIAM(ctx context.Context, e *env) error {
	name, first, err := iamSecret(ctx, e)
	if err != nil {
		return err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return err
	}
	now, err := e.iamValue(ctx, name)
	if err != nil {
		return err
	}
	if now.AccessKeyID == first.AccessKeyID {
		return fmt.Errorf("%s: the key did not change", name)
	}
	if _, ok := e.h.Server.IAM.AccessKey(first.AccessKeyID); ok {
		return fmt.Errorf("%s: the old key still exists after expire", name)
	}
	return nil
}

func casePostgres(ctx context.Context, e *env, strategy string) error {
	name := e.name("case/db")
	role := strings.NewReplacer("/", "_", "-", "_").Replace(name)
	const initial = "initial-App-pw_5e1a7c3d9b"
	conn, err := e.pg.Connect(ctx)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE ROLE "+role+" WITH LOGIN PASSWORD '"+initial+"'")
	conn.Close(ctx)
	if err != nil {
		return err
	}
	master, _ := json.Marshal(map[string]any{"engine": "postgres", "host": e.pg.Host, "port": e.pg.Port, "username": pgMaster,
		"password": pgMasterPassword, "dbname": "postgres", "sslmode": "disable", "rotor": map[string]any{"serves": []string{name}}})
	value, _ := json.Marshal(map[string]any{"engine": "postgres", "host": e.pg.Host, "port": e.pg.Port, "username": role,
		"password": initial, "dbname": "postgres", "sslmode": "disable"})
	if _, err := e.create(ctx, name+"-master", string(master), map[string]string{"rotor:role": "master"}, ""); err != nil {
		return err
	}
	if _, err := e.create(ctx, name, string(value), map[string]string{"rotor:provider": "postgres", "rotor:strategy": strategy,
		"rotor:master-secret": name + "-master", "rotor:grace-period": "0s"}, ""); err != nil {
		return err
	}
	if err := e.rotate(ctx, name, 0); err != nil {
		return err
	}
	now, err := e.value(ctx, name, "AWSCURRENT")
	if err != nil {
		return err
	}
	if strings.Contains(now, initial) {
		return fmt.Errorf("%s: the password did not change", name)
	}
	return nil
}

// casePostgresMasterSelf: a master secret rotates itself (verified by the
// expire function, which alone of the two may read it), then serves a
// managed secret with its new password.
func casePostgresMasterSelf(ctx context.Context, e *env) error {
	name := e.name("case/dbm")
	role := strings.NewReplacer("/", "_", "-", "_").Replace(name)
	const masterInitial, appInitial = "initial-Master-pw_0d4b8e2f6a", "initial-App-pw_9c3e7a1f5b"
	conn, err := e.pg.Connect(ctx)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE ROLE "+role+"_m WITH LOGIN CREATEROLE PASSWORD '"+masterInitial+"'; CREATE ROLE "+role+" WITH LOGIN PASSWORD '"+appInitial+"'")
	conn.Close(ctx)
	if err != nil {
		return err
	}
	master, _ := json.Marshal(map[string]any{"engine": "postgres", "host": e.pg.Host, "port": e.pg.Port, "username": role + "_m",
		"password": masterInitial, "dbname": "postgres", "sslmode": "disable", "rotor": map[string]any{"serves": []string{name, name + "-master"}}})
	value, _ := json.Marshal(map[string]any{"engine": "postgres", "host": e.pg.Host, "port": e.pg.Port, "username": role,
		"password": appInitial, "dbname": "postgres", "sslmode": "disable"})
	if _, err := e.create(ctx, name+"-master", string(master), map[string]string{"rotor:role": "master",
		"rotor:provider": "postgres", "rotor:strategy": "self", "rotor:grace-period": "0s"}, ""); err != nil {
		return err
	}
	if _, err := e.create(ctx, name, string(value), map[string]string{"rotor:provider": "postgres",
		"rotor:master-secret": name + "-master", "rotor:grace-period": "0s"}, ""); err != nil {
		return err
	}
	for _, id := range []string{name + "-master", name} {
		if err := e.rotate(ctx, id, 0); err != nil {
			return err
		}
	}
	for id, initial := range map[string]string{name + "-master": masterInitial, name: appInitial} {
		now, err := e.value(ctx, id, "AWSCURRENT")
		if err != nil {
			return err
		}
		if strings.Contains(now, initial) {
			return fmt.Errorf("%s: the password did not change", id)
		}
	}
	return nil
}

// caseSweep: a secret past its max-age is rotated by the sweeper schedule,
// fired as EventBridge Scheduler fires it.
func caseSweep(ctx context.Context, e *env) error {
	name := e.name("case/sweep")
	const initial = "initial-value-0123456789abcdefABCDEF"
	tok, err := rotation.NewToken(time.Now().Add(-2 * time.Hour))
	if err != nil {
		return err
	}
	if _, err := e.create(ctx, name, initial, map[string]string{"rotor:provider": "random", "rotor:max-age": "1h"}, tok); err != nil {
		return err
	}
	var sweeper string
	for _, s := range e.h.Deployment.Schedules {
		if strings.Contains(s.Target.Input, `"sweep"`) {
			sweeper = s.Name
		}
	}
	if sweeper == "" {
		return fmt.Errorf("the template has no sweeper schedule")
	}
	arn, err := e.h.FireSchedule(ctx, sweeper)
	if err != nil {
		return err
	}
	if err := e.succeeded(ctx, arn); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		now, err := e.value(ctx, name, "AWSCURRENT")
		if err != nil {
			return err
		}
		if now != initial {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: the sweep did not rotate it", name)
}

// caseAWSLeak: a GuardDuty finding or an AWS Health event about an access
// key rotor minted revokes it.
func caseAWSLeak(ctx context.Context, e *env, source string) error {
	name, v, err := iamSecret(ctx, e)
	if err != nil {
		return err
	}
	var ev map[string]any
	switch source {
	case "guardduty":
		b, err := os.ReadFile("../testdata/events/guardduty-credential-exfiltration.json")
		if err != nil {
			return err
		}
		_ = json.Unmarshal(b, &ev)
		details := ev["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)
		details["accessKeyId"], details["userName"] = v.AccessKeyID, v.UserName
	case "health":
		b, err := os.ReadFile("../testdata/events/health-credentials-exposed.json")
		if err != nil {
			return err
		}
		_ = json.Unmarshal(b, &ev)
		ev["detail"].(map[string]any)["affectedEntities"].([]any)[0].(map[string]any)["entityValue"] = v.AccessKeyID
	}
	body, _ := json.Marshal(ev)
	mark := len(e.h.Server.Events.Deliveries())
	resp, err := http.Post(e.h.URL+"/_rotor/events/emit", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emit: %s", resp.Status)
	}
	arn, err := e.leakExecution(ctx, mark)
	if err != nil {
		return err
	}
	if err := e.succeeded(ctx, arn); err != nil {
		return err
	}
	if _, ok := e.h.Server.IAM.AccessKey(v.AccessKeyID); ok {
		return fmt.Errorf("%s: the leaked key still exists", name)
	}
	return nil
}

// caseLeakBus: a leak put on the rotor-leaks bus by a tool of the user's
// own rotates the secret it names.
func caseLeakBus(ctx context.Context, e *env) error {
	name := e.name("case/bus")
	const initial = "initial-value-0123456789abcdefABCDEF"
	if _, err := e.create(ctx, name, initial, map[string]string{"rotor:provider": "random"}, ""); err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]any{"trigger": "leak", "reason": "template test",
		"leak": map[string]any{"source": "generic", "secretId": name, "reference": "https://example.com/incidents/1"}})
	mark := len(e.h.Server.Events.Deliveries())
	out, err := eventbridge.NewFromConfig(e.root).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(leak.LeakBus), Source: aws.String("example.scanner"), DetailType: aws.String("rotor.leak"),
		Detail: aws.String(string(detail))}}})
	if err != nil {
		return err
	}
	if out.FailedEntryCount != 0 {
		return fmt.Errorf("put events: %d failed", out.FailedEntryCount)
	}
	arn, err := e.leakExecution(ctx, mark)
	if err != nil {
		return err
	}
	if err := e.succeeded(ctx, arn); err != nil {
		return err
	}
	now, err := e.value(ctx, name, "AWSCURRENT")
	if err != nil {
		return err
	}
	if now == initial {
		return fmt.Errorf("%s: the leak did not rotate it", name)
	}
	return nil
}

func hmacHex(key, data []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// caseWebhook: an alert about a key rotor minted, signed as its source
// signs, reaches the webhook's function URL; the key is revoked.
func caseWebhook(ctx context.Context, e *env, source string) error {
	name, err := httpapiSecret(ctx, e)
	if err != nil {
		return err
	}
	leaked, err := e.apiKey(ctx, name)
	if err != nil {
		return err
	}
	var body []byte
	headers := map[string]string{}
	switch source {
	case "generic":
		body, _ = json.Marshal(map[string]string{"fingerprint": leak.SHA256([]byte(leaked.APIKey)), "reference": "https://example.com/incidents/" + name, "reason": "template test"})
		ts, sig := leak.SignGeneric([]byte(e.keys.Generic), body, time.Now())
		headers[leak.GenericTimestampHeader], headers[leak.GenericSignatureHeader] = ts, sig
	case "gitguardian":
		b, err := os.ReadFile("../testdata/leak/gitguardian-incident-triggered.json")
		if err != nil {
			return err
		}
		var inc map[string]any
		_ = json.Unmarshal(b, &inc)
		inc["incident"].(map[string]any)["hmsl_hash"] = leak.HMSLHash([]byte(leaked.APIKey))
		inc["incident"].(map[string]any)["id"] = e.n.Add(1) + 1000
		body, _ = json.Marshal(inc)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		headers["Timestamp"], headers["Gitguardian-Signature"] = ts, "sha256="+hmacHex([]byte(ts+e.keys.GitGuardian), body)
	case "github":
		b, err := os.ReadFile("../testdata/leak/github-secret-scanning-reopened.json")
		if err != nil {
			return err
		}
		var alert map[string]any
		_ = json.Unmarshal(b, &alert)
		alert["alert"].(map[string]any)["number"] = e.n.Add(1) + 1000
		body, _ = json.Marshal(alert)
		e.ghSecret.Store(leaked.APIKey)
		headers["X-Hub-Signature-256"] = "sha256=" + hmacHex([]byte(e.keys.GitHub), body)
		headers["X-GitHub-Event"] = "secret_scanning_alert"
		headers["X-GitHub-Delivery"] = fmt.Sprintf("template-%d", e.n.Add(1))
	}
	mark := len(e.h.Server.Events.Deliveries())
	code, resp, err := e.post(ctx, source, body, headers)
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("webhook %s: %d %s", source, code, resp)
	}
	arn, err := e.leakExecution(ctx, mark)
	if err != nil {
		return err
	}
	if err := e.succeeded(ctx, arn); err != nil {
		return err
	}
	if e.ks.Accepts(leaked.APIKey) {
		return fmt.Errorf("%s: the leaked key still works at the API", name)
	}
	return nil
}

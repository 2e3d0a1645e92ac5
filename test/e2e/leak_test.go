package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestGuardDutyFindingUnderTheEmulator: `rotor local serve` with the
// function binaries under the emulator; a GuardDuty finding naming an IAM
// key rotor minted, put on the default bus as GuardDuty would, ends with
// that key deleted and a new key current that STS accepts.
func TestGuardDutyFindingUnderTheEmulator(t *testing.T) {
	bin := buildAll(t)
	s := startServer(t, bin, filepath.Join(t.TempDir(), "local.db"), freePort(t))
	if !strings.Contains(s.logs.String(), "leak webhook  "+s.url+"/lambda-url/rotor-webhook/") {
		t.Errorf("rotor local serve does not show the webhook's URL:\n%s", s.logs)
	}
	ctx := context.Background()
	cfg := s.awsConfig()
	ic := iam.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("ci/aws"),
		SecretString: aws.String(`{"userName":"ci-bot"}`), Tags: []smtypes.Tag{
			{Key: aws.String("rotor:provider"), Value: aws.String("awsiam")},
			{Key: aws.String("rotor:awsiam:user"), Value: aws.String("ci-bot")}}})
	if err != nil {
		t.Fatal(err)
	}
	// The user consents to back that one secret.
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-bot"),
		Tags: []iamtypes.Tag{{Key: aws.String("rotor:secret"), Value: sec.ARN}}}); err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cfg)
	list, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 {
		t.Fatalf("state machines: %v %v", list, err)
	}
	machine := list.StateMachines[0].StateMachineArn
	first, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: machine,
		Input: aws.String(`{"secretId":"ci/aws","trigger":"manual","gracePeriodSeconds":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitExecution(t, s, aws.ToString(first.ExecutionArn))
	type iamValue struct{ UserName, AccessKeyID, SecretAccessKey string }
	current := func() (v iamValue) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("ci/aws")})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	leaked := current()

	sample, err := os.ReadFile("../testdata/events/guardduty-credential-exfiltration.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	details := ev["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)
	details["accessKeyId"], details["userName"] = leaked.AccessKeyID, "ci-bot"
	body, _ := json.Marshal(ev)
	resp, err := http.Post(s.url+"/_rotor/events/emit", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emit: %s", resp.Status)
	}
	// The leak's execution is the one started after the first.
	var leakARN string
	for deadline := time.Now().Add(20 * time.Second); leakARN == ""; time.Sleep(50 * time.Millisecond) {
		out, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: machine})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range out.Executions {
			if aws.ToString(x.ExecutionArn) != aws.ToString(first.ExecutionArn) {
				leakARN = aws.ToString(x.ExecutionArn)
			}
		}
		if leakARN == "" && time.Now().After(deadline) {
			t.Fatalf("the finding started no execution:\n%s", s.logs)
		}
	}
	waitExecution(t, s, leakARN)

	now := current()
	keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ci-bot")})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != now.AccessKeyID || now.AccessKeyID == leaked.AccessKeyID {
		t.Errorf("ci-bot's keys after the leak: %d, want only the new current one", len(keys.AccessKeyMetadata))
	}
	keyCfg := cfg.Copy()
	keyCfg.Credentials = credentials.NewStaticCredentialsProvider(now.AccessKeyID, now.SecretAccessKey, "")
	if who, err := sts.NewFromConfig(keyCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/ci-bot") {
		t.Errorf("STS with the new key: %v", err)
	}
	leakedCfg := cfg.Copy()
	leakedCfg.Credentials = credentials.NewStaticCredentialsProvider(leaked.AccessKeyID, leaked.SecretAccessKey, "")
	if _, err := sts.NewFromConfig(leakedCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Error("STS still accepts the leaked key")
	}
	secrets := []string{leaked.SecretAccessKey, now.SecretAccessKey}
	scan(t, "the leak execution's history", history(t, s, leakARN), secrets)
	scan(t, "the server's and functions' output", s.logs.String(), secrets)
}

func waitExecution(t *testing.T, s *server, arn string) {
	t.Helper()
	client := sfn.NewFromConfig(s.awsConfig())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d, err := client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == types.ExecutionStatusSucceeded {
			return
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			t.Fatalf("execution %s: %s (%s: %s)\nserver:\n%s", arn, d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), s.logs)
		}
	}
}

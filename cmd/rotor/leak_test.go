package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// TestLeakByFingerprintOfFile: the leaked value is given in a file; only its
// fingerprint leaves the CLI, and the secret holding it is rotated at once.
func TestLeakByFingerprintOfFile(t *testing.T) {
	h := localHost(t)
	// A first rotation makes a value rotor generated, and fingerprinted.
	if code, out, errOut := cli(t, "rotate", "--secret", "app/token", "--wait", "--endpoint", h.URL); code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errOut)
	}
	current := func() string {
		out, err := h.SecretsManager().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/token")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecretString)
	}
	leaked := current()
	file := filepath.Join(t.TempDir(), "leaked.txt")
	if err := os.WriteFile(file, []byte(leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "leak", "--fingerprint-of-file", file, "--reference", "INC-42", "--endpoint", h.URL, "--output", "json")
	if code != 0 {
		t.Fatalf("leak: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, leaked) {
		t.Fatal("the output contains the leaked value")
	}
	var res struct {
		Status string
		States []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != "SUCCEEDED" {
		t.Fatalf("leak --output json: %v\n%s", err, out)
	}
	var names []string
	for _, s := range res.States {
		names = append(names, s.Name)
	}
	if !slices.Contains(names, "Create") || slices.Contains(names, "GracePeriod") {
		t.Errorf("states %v: want an emergency rotation (Create, no grace period)", names)
	}
	if current() == leaked {
		t.Error("the leaked value is still current")
	}
}

func TestLeakOfUnmanagedKeyIsReported(t *testing.T) {
	h := localHost(t)
	code, out, errOut := cli(t, "leak", "--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--endpoint", h.URL)
	if code != 0 || !strings.Contains(out, "NotifyUnmanagedLeak") {
		t.Fatalf("leak: exit %d\n%s\n%s", code, out, errOut)
	}
	msgs := h.Server.SNS.Messages()
	if len(msgs) != 1 || msgs[0].Subject != "rotor: unmanaged credential leaked" || !strings.Contains(msgs[0].Message, "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("SNS messages %+v, want one unmanaged-leak report naming the key", msgs)
	}
}

func TestLeakUsage(t *testing.T) {
	h := localHost(t)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "at least one of the flags in the group [access-key-id fingerprint-of-file secret] is required"},
		{[]string{"--access-key-id", "AKIAIOSFODNN7EXAMPLE", "--secret", "x"}, "none of the others can be"},
		{[]string{"--access-key-id", "akia123"}, "--access-key-id: not an AWS access key id"},
		{[]string{"--fingerprint-of-file", empty}, "--fingerprint-of-file: the file is empty"},
		{[]string{"--fingerprint-of-file", filepath.Join(t.TempDir(), "missing")}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			code, _, errOut := cli(t, append([]string{"leak", "--endpoint", h.URL}, c.args...)...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, exitUsage, c.want)
			}
		})
	}
	out, err := h.StepFunctions().ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.StateMachineARN)})
	if err != nil || len(out.Executions) != 0 {
		t.Errorf("executions started by rejected commands: %v, %v", out, err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

const machine = `{"StartAt":"Work","States":{
  "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:work","Retry":[{"ErrorEquals":["Lambda.ServiceException"],"MaxAttempts":2}],"Next":"Sleep"},
  "Sleep":{"Type":"Wait","Seconds":86400,"Next":"Check"},
  "Check":{"Type":"Choice","Choices":[{"Variable":"$.ok","BooleanEquals":true,"Next":"Done"}],"Default":"Broken"},
  "Done":{"Type":"Succeed"},
  "Broken":{"Type":"Fail","Error":"Work.Broken","Cause":"work reported not ok"}}}`

const mocks = `{"StateMachines":{"machine":{"TestCases":{
  "Happy":{"Work":"RetryThenOK"},
  "Sad":{"Work":"NotOK"}}}},
 "MockedResponses":{
  "RetryThenOK":{"0":{"Throw":{"Error":"Lambda.ServiceException","Cause":"flaky"}},"1":{"Return":{"ok":true}}},
  "NotOK":{"0":{"Return":{"ok":false}}}}}`

func TestASLRun(t *testing.T) {
	def := write(t, "machine.json", machine)
	mc := write(t, "MockConfigFile.json", mocks)
	input := write(t, "input.json", `{"n":1}`)
	for _, tc := range []struct {
		rule     string
		args     []string
		code     int
		want     map[string]any
		errWants string
	}{
		{"a mocked success exits 0 and prints the output", []string{"asl", "run", def, "--mock-config", mc, "--test-case", "Happy", "--input", "@" + input},
			0, map[string]any{"status": "SUCCEEDED", "output": map[string]any{"ok": true}}, ""},
		{"a failed execution exits 1 and prints error and cause", []string{"asl", "run", def, "--mock-config", mc, "--test-case", "Sad"},
			1, map[string]any{"status": "FAILED", "error": "Work.Broken", "cause": "work reported not ok"}, ""},
		{"an unmocked task fails the execution", []string{"asl", "run", def},
			1, map[string]any{"status": "FAILED", "error": "Lambda.ResourceNotFoundException", "cause": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:work"}, ""},
		{"an unknown test case is bad usage", []string{"asl", "run", def, "--mock-config", mc, "--test-case", "Nope"}, 2, nil, `has no test case "Nope" (it has Happy, Sad)`},
		{"--mock-config without --test-case is bad usage", []string{"asl", "run", def, "--mock-config", mc}, 2, nil, "go together"},
		{"invalid input JSON", []string{"asl", "run", def, "--input", "{nope"}, 3, nil, "--input is not valid JSON"},
		{"a missing file is bad usage", []string{"asl", "run", "/nonexistent.json"}, 2, nil, "no such file"},
		{"an unknown flag is bad usage", []string{"asl", "run", def, "--inptu", "{}"}, 2, nil, "unknown flag"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := cli(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			if tc.errWants != "" && !strings.Contains(errOut, tc.errWants) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.errWants)
			}
			if tc.want != nil {
				var got map[string]any
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("stdout is not JSON: %q", out)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("stdout (-want +got):\n%s", diff)
				}
			}
			if time.Since(start) > 20*time.Second {
				t.Error("the day-long Wait did not run on the virtual clock")
			}
		})
	}
}

func TestASLRunHistory(t *testing.T) {
	def := write(t, "machine.json", machine)
	mc := write(t, "MockConfigFile.json", mocks)
	code, out, _ := cli(t, "asl", "run", def, "--mock-config", mc, "--test-case", "Happy", "--history")
	var got struct {
		History []struct {
			Type string `json:"type"`
		} `json:"history"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || len(got.History) == 0 {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if got.History[0].Type != "ExecutionStarted" || got.History[len(got.History)-1].Type != "ExecutionSucceeded" {
		t.Errorf("history runs from %s to %s", got.History[0].Type, got.History[len(got.History)-1].Type)
	}
}

func TestASLValidate(t *testing.T) {
	good := write(t, "good.json", machine)
	bad := write(t, "bad.json", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Gone"},"Orphan":{"Type":"Pass","End":true},
	  "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Catch":[{"ErrorEquals":["States.ALL"],"Next":"A"},{"ErrorEquals":["E"],"Next":"A"}],"End":true}}}`)
	if code, out, _ := cli(t, "asl", "validate", good); code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("good definition: exit %d, %q", code, out)
	}
	code, out, _ := cli(t, "asl", "validate", bad)
	if code != 3 {
		t.Fatalf("bad definition: exit %d", code)
	}
	for _, want := range []string{`state "A": transition to "Gone"`, `state "Orphan": state is not reachable`, `state "T": Catch[0]: States.ALL must appear alone`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := cli(t, "asl", "validate"); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

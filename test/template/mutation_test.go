package template

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws"
)

// mutation is one role's policy with one statement, or one action of a
// multi-action statement, removed.
type mutation struct {
	role     cfn.Role
	policy   string
	empty    bool // the policy has no statement left: deleted
	stmt     int
	sid      string
	removed  []string // the actions no longer granted
	document string
}

func (m mutation) what() string {
	s := fmt.Sprintf("#%d", m.stmt)
	if m.sid != "" {
		s = m.sid
	}
	return s
}

func statements(doc string) ([]map[string]any, map[string]any, error) {
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, nil, err
	}
	var out []map[string]any
	switch s := d["Statement"].(type) {
	case []any:
		for _, x := range s {
			out = append(out, x.(map[string]any))
		}
	case map[string]any:
		out = append(out, s)
	}
	return out, d, nil
}

func actionsOf(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

// mutations lists every removal of every role's policies.
func mutations(t *testing.T, roles []cfn.Role) []mutation {
	t.Helper()
	var out []mutation
	for _, r := range roles {
		names := make([]string, 0, len(r.Policies))
		for n := range r.Policies {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, p := range names {
			sts, doc, err := statements(r.Policies[p])
			if err != nil {
				t.Fatalf("role %s policy %s: %v", r.Name, p, err)
			}
			for i, st := range sts {
				if st["Effect"] != "Allow" {
					continue // a Deny is shown needed by TestDeny*
				}
				sid, _ := st["Sid"].(string)
				acts := actionsOf(st)
				without := slices.Delete(slices.Clone(sts), i, i+1)
				out = append(out, mutation{role: r, policy: p, stmt: i, sid: sid, removed: acts, document: encode(doc, without), empty: len(without) == 0})
				if len(acts) < 2 {
					continue
				}
				for j, a := range acts {
					cp := clone(st)
					cp["Action"] = slices.Delete(slices.Clone(acts), j, j+1)
					mutated := slices.Clone(sts)
					mutated[i] = cp
					out = append(out, mutation{role: r, policy: p, stmt: i, sid: sid, removed: []string{a}, document: encode(doc, mutated)})
				}
			}
		}
	}
	return out
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func encode(doc map[string]any, sts []map[string]any) string {
	d := clone(doc)
	d["Statement"] = sts
	b, _ := json.Marshal(d)
	return string(b)
}

// explained tells why every removed action is granted though no local run
// needs it (the role's rotor:needs metadata), or "".
func explained(m mutation) string {
	var why []string
	for _, a := range m.removed {
		w, ok := m.role.Explain[a]
		if !ok {
			return ""
		}
		why = append(why, w)
	}
	return strings.Join(slices.Compact(why), " ")
}

// preferred orders the cases most likely to need a removed permission
// first, so that most mutations break on the first case they run.
func preferred(m mutation) []kase {
	want := map[string]bool{}
	role := strings.ToLower(m.role.Name)
	for _, a := range m.removed {
		a = strings.ToLower(a)
		switch {
		case strings.Contains(role, "webhook"):
			want["webhook-generic"] = true
		case strings.Contains(role, "scheduler"):
			want["sweep"] = true
		case strings.Contains(role, "events"):
			want["leak-bus"] = true
		case strings.HasPrefix(a, "iam:"):
			want["awsiam"] = true
		case strings.HasPrefix(a, "secretsmanager:tagresource"), strings.HasPrefix(a, "secretsmanager:untagresource"):
			want["httpapi"] = true
		case strings.HasPrefix(a, "states:"), strings.Contains(a, "listsecrets"):
			want["sweep"] = true
		case strings.HasPrefix(a, "dynamodb:getitem") && strings.Contains(role, "resolve"):
			want["webhook-generic"] = true
		case strings.HasPrefix(a, "dynamodb:") && strings.Contains(role, "resolve"):
			want["sweep"] = true
		}
	}
	var first, rest []kase
	for _, c := range cases {
		if want[c.name] {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	return append(first, rest...)
}

// deniedOne tells whether a denial is of one of the removed actions, to
// the mutated role.
func deniedOne(m mutation, ds []localaws.Denial) (localaws.Denial, bool) {
	for _, d := range ds {
		if !strings.Contains(d.Principal, "/"+m.role.Name+"/") && !strings.HasSuffix(d.Principal, "/"+m.role.Name) {
			continue
		}
		for _, a := range m.removed {
			if iampolicy.Glob(strings.ToLower(a), strings.ToLower(d.Action)) {
				return d, true
			}
		}
	}
	return localaws.Denial{}, false
}

// TestLeastPrivilege removes each statement of each role, and each action
// of each multi-action statement, in turn, and reruns the end-to-end cases
// until one breaks with AccessDenied for what was removed. A removal that
// breaks nothing must be explained in the role's rotor:needs metadata.
func TestLeastPrivilege(t *testing.T) {
	e := start(t, readTemplate(t), nil)
	ms := mutations(t, e.h.Deployment.Roles)
	var table strings.Builder
	fmt.Fprintf(&table, "| role | statement | removed | needed by |\n|---|---|---|---|\n")
	needed, explainedN := 0, 0
	for _, m := range ms {
		row := func(by string) {
			fmt.Fprintf(&table, "| %s | %s | %s | %s |\n", m.role.Name, m.what(), strings.Join(m.removed, " "), by)
		}
		if why := explained(m); why != "" {
			explainedN++
			row("explained: " + why)
			continue
		}
		if err := apply(e, m); err != nil {
			t.Fatalf("mutate %s %s: %v", m.role.Name, m.what(), err)
		}
		found := ""
		if strings.Contains(m.role.Name, "Webhook") {
			// The webhook caches its keys: start it cold, as Lambda does.
			if err := e.h.ColdStart("webhook"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range preferred(m) {
			mark := e.mark()
			err := c.run(context.Background(), e)
			if err == nil {
				continue
			}
			if d, ok := deniedOne(m, e.deniedSince(mark)); ok {
				found = fmt.Sprintf("%s (%s denied on %s)", c.name, d.Action, d.Resource)
				break
			}
		}
		if err := e.h.Server.IAM.PutRolePolicy(m.role.Name, m.policy, m.role.Policies[m.policy]); err != nil {
			t.Fatalf("restore %s: %v", m.role.Name, err)
		}
		if found == "" {
			row("NOTHING")
			t.Errorf("role %s, statement %s without %v: no case breaks; remove it from the construct or explain its need in %s metadata",
				m.role.Name, m.what(), m.removed, "rotor:needs")
			continue
		}
		needed++
		row(found)
	}
	t.Logf("least privilege: %d removals, %d needed by a case, %d explained\n%s", len(ms), needed, explainedN, table.String())
}

// apply puts the mutated policy in place of the role's.
func apply(e *env, m mutation) error {
	if m.empty {
		return e.h.Server.IAM.DeleteRolePolicy(m.role.Name, m.policy)
	}
	return e.h.Server.IAM.PutRolePolicy(m.role.Name, m.policy, m.document)
}

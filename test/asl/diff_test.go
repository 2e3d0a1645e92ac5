package asl_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// minCases is the least the corpus may hold.
const minCases = 65

// TestDifferential runs every case of cases/ in internal/asl and, once for
// the whole corpus, in aws-local-stepfunctions (runner.mjs); each must give
// what the case expects. A case listed in KNOWN_DIFFERENCES.md is one where
// aws-local-stepfunctions departs from the specification: its Node result
// must still differ from the expectation, so that an upstream fix is noticed
// (then remove the row).
func TestDifferential(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < minCases {
		t.Fatalf("corpus has %d cases, want at least %d", len(cases), minCases)
	}
	known := knownDifferences(t, cases)

	nodeResults := map[string]outcome{}
	for _, line := range runNode(t) {
		var o outcome
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("runner.mjs printed %q: %v", line, err)
		}
		nodeResults[o.Name] = o
	}

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Run("go", func(t *testing.T) {
				def, err := parseDefinition(c)
				if err != nil {
					t.Fatalf("%v\nrule: %s", err, c.Rule)
				}
				got, err := runGo(c, def)
				if err != nil {
					t.Fatalf("%v\nrule: %s", err, c.Rule)
				}
				if diffs := compare(c.Expect, got); len(diffs) > 0 {
					t.Errorf("internal/asl departs from the expectation\nrule: %s\n%s", c.Rule, strings.Join(diffs, "\n"))
				}
			})
			t.Run("node", func(t *testing.T) {
				got, ok := nodeResults[c.Name]
				if !ok {
					t.Fatal("runner.mjs printed no result for this case")
				}
				diffs := compare(c.Expect, got)
				switch {
				case known[c.Name] && len(diffs) == 0:
					t.Errorf("aws-local-stepfunctions now gives the expected result: remove %s from KNOWN_DIFFERENCES.md", c.Name)
				case !known[c.Name] && len(diffs) > 0:
					t.Errorf("aws-local-stepfunctions departs from the expectation (check the expectation against the spec; "+
						"if it is right, list the case in KNOWN_DIFFERENCES.md)\nrule: %s\ncause: %s\n%s",
						c.Rule, got.Cause, strings.Join(diffs, "\n"))
				}
			})
		})
	}
}

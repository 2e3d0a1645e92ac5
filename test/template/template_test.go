package template

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/cfn"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

var update = flag.Bool("update", false, "write the synthesized template, normalized, to internal/rotorlocal/Rotor.template.json")

// TestEmbeddedTemplateIsCurrent: what rotor local deploys without
// --template is what `make synth` wrote, normalized.
func TestEmbeddedTemplateIsCurrent(t *testing.T) {
	got, err := cfn.Normalize(readTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("../../internal/rotorlocal/Rotor.template.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, rotorlocal.DefaultTemplate) {
		t.Errorf("internal/rotorlocal/Rotor.template.json is not the synthesized template: run `make template` and commit it (-embedded +synthesized):\n%s",
			cmp.Diff(string(rotorlocal.DefaultTemplate), string(got)))
	}
}

// TestEndToEnd runs every case against the synthesized template, IAM
// enforced: none may be denied anything.
func TestEndToEnd(t *testing.T) {
	e := start(t, readTemplate(t), nil)
	if got := e.h.Unmodelled(); got == "" {
		t.Error("no unmodelled resources reported: the template has log groups and alarms")
	} else {
		t.Logf("not deployed locally: %s", got)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mark := e.mark()
			if err := c.run(context.Background(), e); err != nil {
				t.Errorf("%v\ndenied: %+v", err, e.deniedSince(mark))
			}
			if d := e.deniedSince(mark); len(d) > 0 {
				t.Errorf("denied during the case: %+v", d)
			}
		})
	}
	scanSecrets(t, e)
}

// scanSecrets fails when a secret value the cases used appears in the
// functions' output.
func scanSecrets(t *testing.T, e *env) {
	t.Helper()
	out := e.logs.String()
	for _, s := range append(e.ks.Minted(), ksMasterKey, pgMasterPassword, githubToken, e.keys.Generic, e.keys.GitHub, e.keys.GitGuardian) {
		if s != "" && bytes.Contains([]byte(out), []byte(s)) {
			t.Errorf("a secret value appears in the functions' output")
		}
	}
}

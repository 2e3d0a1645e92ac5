package main

import (
	"strings"
	"testing"
)

// TestRotateRefusesANegativeGrace: --grace -5s was once taken for "the
// secret's tag" (the flag's unset value was -1ns); it is a usage error.
func TestRotateRefusesANegativeGrace(t *testing.T) {
	code, out, errOut := cli(t, "rotate", "--secret", "app/x", "--grace", "-5s", "--endpoint", "http://127.0.0.1:1")
	if code != exitUsage || !strings.Contains(errOut, "--grace -5s: a grace period is not negative") || out != "" {
		t.Errorf("exit %d, stderr %q, stdout %q", code, errOut, out)
	}
}

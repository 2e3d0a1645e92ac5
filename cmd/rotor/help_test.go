package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// flagLine is one line of a help's flag list.
type flagLine struct {
	name        string // without dashes
	placeholder string // the value's name ("" for a bool); several words when the usage string back-quotes a phrase
	usage       string
}

// helpFlags reads the flag lines of a command's help (the sections Flags
// and Global Flags, each up to a blank line). pflag writes "  -o, --name
// PLACEHOLDER" and pads it with at least two spaces before the usage; a
// placeholder is whatever stands between the name and that gap.
func helpFlags(help string) []flagLine {
	var out []flagLine
	in := false
	for _, line := range strings.Split(help, "\n") {
		switch {
		case line == "Flags:" || line == "Global Flags:":
			in = true
			continue
		case strings.TrimSpace(line) == "":
			in = false
		}
		trimmed := strings.TrimLeft(line, " ")
		if !in || !strings.HasPrefix(trimmed, "-") {
			continue
		}
		left, usage, _ := strings.Cut(trimmed, "  ")
		words := strings.Fields(left)
		if strings.HasSuffix(words[0], ",") { // -o,
			words = words[1:]
		}
		out = append(out, flagLine{name: strings.TrimPrefix(words[0], "--"), placeholder: strings.Join(words[1:], " "), usage: strings.TrimSpace(usage)})
	}
	return out
}

// placeholderRE is a value's name: pflag's type names (string, duration,
// stringArray...) or a capitalised name (URL, FORMAT, TIME).
var placeholderRE = regexp.MustCompile(`^([a-z][a-zA-Z0-9]*|[A-Z][A-Z0-9_]*)$`)

// helpProblems lists what reads wrong in a help's flag lines.
func helpProblems(help string) []string {
	var problems []string
	for _, f := range helpFlags(help) {
		if f.placeholder != "" && !placeholderRE.MatchString(f.placeholder) {
			problems = append(problems, "--"+f.name+": the value's name is "+strings.Join(strings.Fields(f.placeholder), " ")+" (a back-quoted phrase in the usage string?)")
		}
		if strings.Contains(f.usage, "`") {
			problems = append(problems, "--"+f.name+": a back quote is left in the usage")
		}
		if strings.Contains(f.usage, "(default -") {
			problems = append(problems, "--"+f.name+": a negative default (an internal 'unset' value?) is shown")
		}
	}
	return problems
}

// TestHelpProblemsFindsThem: the check sees the defect it is for.
func TestHelpProblemsFindsThem(t *testing.T) {
	cases := []struct {
		name, help string
		want       []string
	}{
		{"fine", "Flags:\n  -o, --output FORMAT   output FORMAT\n      --wait            follow it\n      --grace duration  how long\n", nil},
		{"outside the flag sections", "Name it:\n  --secret ID a secret, named here by the long text\n\nFlags:\n      --secret ID   secret ID\n", nil},
		{"phrase", "Global Flags:\n      --endpoint rotor local serve   AWS endpoint URL, e.g. the one rotor local serve prints\n",
			[]string{"--endpoint: the value's name is rotor local serve (a back-quoted phrase in the usage string?)"}},
		{"sentinel", "Flags:\n      --grace duration   grace period (default -1ns)\n",
			[]string{"--grace: a negative default (an internal 'unset' value?) is shown"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, helpProblems(c.help)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEveryHelpReadsRight renders every command's --help and checks each
// flag line: a one-word value name, no back quote left, no sentinel default;
// and the value names chosen for the flags that have one.
func TestEveryHelpReadsRight(t *testing.T) {
	want := map[string]map[string]string{ // command path -> flag -> "PLACEHOLDER usage"
		"rotor": {
			"endpoint": `URL AWS endpoint URL, e.g. the one "rotor local serve" prints (default: AWS, or $AWS_ENDPOINT_URL)`,
			"output":   `FORMAT output FORMAT: text or json (default "text")`,
		},
		"rotor audit": {
			"output":   `FORMAT output FORMAT: text (a table and a summary), json (an array of rows) or csv (a header and rows) (default "text")`,
			"now":      `TIME audit as at this TIME, RFC 3339 (what-if; default: the clock)`,
			"endpoint": `URL AWS endpoint URL, e.g. the one "rotor local serve" prints (default: AWS, or $AWS_ENDPOINT_URL)`,
		},
		"rotor rotate": {
			"grace":  `duration grace period before the old credential is revoked (default: the secret's rotor:grace-period tag)`,
			"secret": `ID secret ID: name or ARN (required)`,
		},
		"rotor status": {
			"secret": `ID secret ID: name or ARN (required)`,
		},
		"rotor leak": {
			"access-key-id":       `ID leaked AWS access key ID`,
			"fingerprint-of-file": `FILE FILE holding the leaked value, "-" for standard input`,
			"secret":              `ID secret ID (name or ARN) whose credential leaked`,
		},
	}
	var paths []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		paths = append(paths, c.CommandPath())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}))
	if len(paths) < 12 {
		t.Fatalf("only %d commands found: %v", len(paths), paths)
	}
	seen := map[string]bool{}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			args := append(strings.Fields(path)[1:], "--help")
			code, out, errOut := cli(t, args...)
			if code != exitOK || !strings.Contains(out, "Usage:") {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			for _, p := range helpProblems(out) {
				t.Error(p)
			}
			lines := helpFlags(out)
			if len(lines) == 0 {
				t.Errorf("no flags read from\n%s", out)
			}
			for _, f := range lines {
				if w, ok := want[path][f.name]; ok {
					seen[path+" --"+f.name] = true
					if got := strings.TrimSpace(f.placeholder + " " + f.usage); got != w {
						t.Errorf("--%s:\n got %s\nwant %s", f.name, got, w)
					}
				}
			}
		})
	}
	for path, flags := range want {
		for name := range flags {
			if !seen[path+" --"+name] {
				t.Errorf("%s --help has no --%s", path, name)
			}
		}
	}
}

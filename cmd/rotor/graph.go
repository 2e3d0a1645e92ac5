package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/statemachine"
)

func newGraphCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "graph",
		Short: "Print the rotation state machine as a Mermaid flowchart",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			out, err := mermaid(statemachine.Definition())
			if err != nil {
				return withCode(exitInternal, err)
			}
			if g.json() {
				return printJSON(io, map[string]string{"mermaid": out})
			}
			fmt.Fprint(io.Out, out)
			return nil
		},
	}
}

type graphState struct {
	Type          string
	Next, Default string
	End           bool
	Choices       []struct{ Next string }
	Catch         []struct {
		ErrorEquals []string
		Next        string
	}
	ItemProcessor *graphMachine
	Iterator      *graphMachine
	Branches      []*graphMachine
}

type graphMachine struct {
	StartAt string
	States  map[string]*graphState
}

// mermaid renders a definition: solid arrows for Next and Default, labelled
// ones for Choice rules, dotted ones for Catch; Map and Parallel contents as
// subgraphs.
func mermaid(def string) (string, error) {
	var m graphMachine
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	b.WriteString("  start((start)) --> " + id(m.StartAt) + "\n")
	writeMachine(&b, &m, "  ")
	return b.String(), nil
}

func id(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

func writeMachine(b *strings.Builder, m *graphMachine, indent string) {
	names := make([]string, 0, len(m.States))
	for n := range m.States {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := m.States[n]
		shape := fmt.Sprintf("%s[%s]", id(n), n)
		switch s.Type {
		case "Choice":
			shape = fmt.Sprintf("%s{%s}", id(n), n)
		case "Succeed", "Fail":
			shape = fmt.Sprintf("%s([%s])", id(n), n)
		case "Wait":
			shape = fmt.Sprintf("%s[/%s/]", id(n), n)
		}
		if sub := s.ItemProcessor; sub != nil || s.Iterator != nil || len(s.Branches) > 0 {
			if sub == nil {
				sub = s.Iterator
			}
			fmt.Fprintf(b, "%ssubgraph %s [%s: %s]\n", indent, id(n), n, s.Type)
			if sub != nil {
				fmt.Fprintf(b, "%s  %s_in(( )) --> %s\n", indent, id(n), id(sub.StartAt))
				writeMachine(b, sub, indent+"  ")
			}
			for i, br := range s.Branches {
				fmt.Fprintf(b, "%s  %s_b%d(( )) --> %s\n", indent, id(n), i, id(br.StartAt))
				writeMachine(b, br, indent+"  ")
			}
			fmt.Fprintf(b, "%send\n", indent)
		} else {
			fmt.Fprintf(b, "%s%s\n", indent, shape)
		}
		if s.Next != "" {
			fmt.Fprintf(b, "%s%s --> %s\n", indent, id(n), id(s.Next))
		}
		for _, c := range s.Choices {
			fmt.Fprintf(b, "%s%s -->|rule| %s\n", indent, id(n), id(c.Next))
		}
		if s.Default != "" {
			fmt.Fprintf(b, "%s%s -->|default| %s\n", indent, id(n), id(s.Default))
		}
		for _, c := range s.Catch {
			label := strings.Join(c.ErrorEquals, ",")
			if len(c.ErrorEquals) > 2 {
				label = "errors"
			}
			fmt.Fprintf(b, "%s%s -.->|%s| %s\n", indent, id(n), label, id(c.Next))
		}
	}
}

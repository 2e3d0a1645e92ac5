package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type historyOptions struct {
	io  *IOStreams
	g   *globalOptions
	arn string
}

func newHistoryCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &historyOptions{io: io, g: g}
	return &cobra.Command{
		Use:   "history EXECUTION_ARN",
		Short: "Show an execution as a timeline of states with durations",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.check(); err != nil {
				return err
			}
			opts.arn = args[0]
			client, _, err := g.clients(cmd.Context())
			if err != nil {
				return err
			}
			t := newTimeline(opts.arn)
			if _, err := t.fetch(cmd.Context(), client); err != nil {
				return withCode(exitFailed, err)
			}
			if g.json() {
				return printJSON(io, t.summary())
			}
			fmt.Fprintf(io.Out, "execution %s\n", opts.arn)
			for _, s := range t.steps {
				if s.Status != "running" {
					fmt.Fprintln(io.Out, t.line(s))
				} else {
					fmt.Fprintf(io.Out, "  %9s  %-28s %9s\n", offset(s.Start.Sub(t.start)), s.Name, "running")
				}
			}
			if t.done() {
				fmt.Fprintf(io.Out, "  %s in %s\n", t.status, human(t.stopped.Sub(t.start)))
			} else {
				fmt.Fprintf(io.Out, "  %s\n", t.status)
			}
			if t.err != "" {
				fmt.Fprintf(io.Out, "  error %s: %s\n", t.err, t.cause)
			}
			return nil
		},
	}
}

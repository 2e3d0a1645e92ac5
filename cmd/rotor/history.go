package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type historyOptions struct {
	io       *IOStreams
	g        *globalOptions
	arn      string
	children bool // list every rotation a fan-out started, not only counts and failures
}

func newHistoryCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &historyOptions{io: io, g: g}
	cmd := &cobra.Command{
		Use:   "history EXECUTION_ARN",
		Short: "Show an execution as a timeline of states with durations, and what a sweep started",
		Long: `Show an execution as a timeline of states with durations.

A sweep, or a leak matching several secrets, rotates each secret in its own
child execution, started by page executions: history then counts those
rotations by outcome (succeeded, skipped, running, failed) and lists the
ones that did not succeed; --children lists every one.`,
		Args: cobra.ExactArgs(1),
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
			var fan *fanOut
			if len(t.children) > 0 {
				progress := func(done, total int) {
					if done%500 == 0 || done == total {
						fmt.Fprintf(io.ErrOut, "reading child executions: %d of %d\n", done, total)
					}
				}
				if fan, err = walkFanOut(cmd.Context(), client, t, opts.children, progress); err != nil {
					return withCode(exitFailed, err)
				}
			}
			if g.json() {
				m := t.summary()
				if fan != nil {
					m["fanOut"] = fan
				}
				return printJSON(io, m)
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
			if fan != nil {
				fan.print(io.Out)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.children, "children", false, "list every rotation a sweep started, not only counts and failures")
	return cmd
}

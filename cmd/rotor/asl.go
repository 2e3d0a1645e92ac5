package main

import "github.com/spf13/cobra"

func newASLCmd(io *IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "asl",
		Short: "Run and validate Amazon States Language definitions offline",
		Long: `Run and validate Amazon States Language (JSONPath) state machines with rotor's
offline engine: every state type, intrinsic functions, Retry and Catch, inline
Map and Parallel, and AWS Step Functions Local mock configuration files.`,
	}
	cmd.AddCommand(newASLRunCmd(io), newASLValidateCmd(io))
	return cmd
}

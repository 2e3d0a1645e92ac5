package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFailed   = 1 // the thing ran and failed (an execution FAILED)
	exitUsage    = 2 // bad flags or arguments
	exitInvalid  = 3 // an input file is invalid (definition, mock config, input JSON)
	exitInternal = 4
)

// IOStreams are a command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// exitError carries an exit code through cobra's RunE.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

func newRootCmd(io *IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "rotor",
		Short:         "Rotate secrets with AWS Step Functions, and run it all offline",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	g := &globalOptions{}
	g.register(root)
	root.AddCommand(newASLCmd(io), newLocalCmd(io, g), newRotateCmd(io, g), newLeakCmd(io, g), newStatusCmd(io, g), newHistoryCmd(io, g), newGraphCmd(io, g), newAuditCmd(io, g))
	return root
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, io *IOStreams) int {
	root := newRootCmd(io)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(io.ErrOut, "rotor:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors: unknown command or flag, wrong argument count.
	fmt.Fprintln(io.ErrOut, "rotor:", err)
	return exitUsage
}

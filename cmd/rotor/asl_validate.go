package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/asl"
)

type aslValidateOptions struct {
	io         *IOStreams
	definition string
}

func newASLValidateCmd(io *IOStreams) *cobra.Command {
	opts := &aslValidateOptions{io: io}
	return &cobra.Command{
		Use:   "validate DEFINITION.json",
		Short: "Report a definition's structural errors, each naming its state",
		Long: `Checks a definition the way Step Functions does before creating a state machine:
missing transition targets, unreachable states, bad paths and templates,
States.ALL not last, fields that do not belong to a state type. Exits 0 when
the definition is valid and 3 when it is not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.definition = args[0]
			return aslValidate(opts)
		},
	}
}

func aslValidate(opts *aslValidateOptions) error {
	data, err := os.ReadFile(opts.definition)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if _, err := asl.Parse(data); err != nil {
		var ve *asl.ValidationError
		if !errors.As(err, &ve) {
			return withCode(exitInternal, err)
		}
		for _, p := range ve.Problems {
			fmt.Fprintf(opts.io.Out, "%s: %s\n", opts.definition, p)
		}
		return withCode(exitInvalid, fmt.Errorf("%s: %d problem(s)", opts.definition, len(ve.Problems)))
	}
	fmt.Fprintf(opts.io.Out, "%s: valid\n", opts.definition)
	return nil
}

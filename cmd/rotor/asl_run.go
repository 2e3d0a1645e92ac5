package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/asl"
)

type aslRunOptions struct {
	io           *IOStreams
	definition   string
	input        string
	mockConfig   string
	testCase     string
	stateMachine string
	history      bool
	realTime     bool
	now          func() time.Time
}

func newASLRunCmd(io *IOStreams) *cobra.Command {
	opts := &aslRunOptions{io: io, now: time.Now}
	cmd := &cobra.Command{
		Use:   "run DEFINITION.json",
		Short: "Run a state machine and print its result as JSON",
		Long: `Runs a definition in rotor's offline engine and prints
{"status": "SUCCEEDED", "output": ...} or {"status": "FAILED", "error": ..., "cause": ...}.

Task states are answered from an AWS Step Functions Local mock configuration
(--mock-config with --test-case); a Task the test case does not mock fails
with States.TaskFailed. Waits and retry back-off run on a virtual clock, so a
day-long Wait ends at once, unless --real-time is given.

Exit status: 0 succeeded, 1 the execution failed, timed out or was aborted,
2 bad usage, 3 an invalid definition, mock configuration or input.`,
		Example: `  rotor asl run machine.json --input '{"n": 1}'
  rotor asl run machine.json --input @input.json --mock-config MockConfigFile.json --test-case HappyPath --history`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.definition = args[0]
			return aslRun(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.input, "input", "{}", "execution input: JSON, or @FILE to read it from a file")
	f.StringVar(&opts.mockConfig, "mock-config", "", "Step Functions Local mock configuration file (MockConfigFile.json)")
	f.StringVar(&opts.testCase, "test-case", "", "test case of the mock configuration to run")
	f.StringVar(&opts.stateMachine, "state-machine", "", "state machine name in the mock configuration (default: its only one, or the definition's file name)")
	f.BoolVar(&opts.history, "history", false, "include the execution history in the output")
	f.BoolVar(&opts.realTime, "real-time", false, "wait in real time instead of on the virtual clock")
	return cmd
}

type runOutput struct {
	Status  string          `json:"status"`
	Output  json.RawMessage `json:"output,omitempty"`
	Error   string          `json:"error,omitempty"`
	Cause   string          `json:"cause,omitempty"`
	History []asl.Event     `json:"history,omitempty"`
}

func aslRun(cmd *cobra.Command, opts *aslRunOptions) error {
	if (opts.mockConfig == "") != (opts.testCase == "") {
		return withCode(exitUsage, errors.New("--mock-config and --test-case go together"))
	}
	data, err := os.ReadFile(opts.definition)
	if err != nil {
		return withCode(exitUsage, err)
	}
	def, err := asl.Parse(data)
	if err != nil {
		return withCode(exitInvalid, fmt.Errorf("%s: %w", opts.definition, err))
	}
	input := []byte(opts.input)
	if name, ok := strings.CutPrefix(opts.input, "@"); ok {
		if input, err = os.ReadFile(name); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if !json.Valid(input) {
		return withCode(exitInvalid, errors.New("--input is not valid JSON"))
	}
	smName := opts.stateMachine
	var tasks asl.TaskRunner = asl.NewRegistry()
	if opts.mockConfig != "" {
		mdata, err := os.ReadFile(opts.mockConfig)
		if err != nil {
			return withCode(exitUsage, err)
		}
		mc, err := asl.ParseMockConfig(mdata)
		if err != nil {
			return withCode(exitInvalid, fmt.Errorf("%s: %w", opts.mockConfig, err))
		}
		if smName == "" {
			smName = strings.TrimSuffix(filepath.Base(opts.definition), filepath.Ext(opts.definition))
			if len(mc.StateMachines) == 1 {
				for n := range mc.StateMachines {
					smName = n
				}
			}
		}
		if tasks, err = mc.Runner(smName, opts.testCase, nil); err != nil {
			return withCode(exitUsage, err)
		}
	}
	if smName == "" {
		smName = strings.TrimSuffix(filepath.Base(opts.definition), filepath.Ext(opts.definition))
	}
	var clock asl.Clock = asl.NewVirtualClock(opts.now())
	if opts.realTime {
		clock = asl.RealClock{}
	}
	eng := asl.New(asl.Options{Tasks: tasks, Clock: clock})
	x := eng.Start(cmd.Context(), def, input, asl.ExecutionOptions{StateMachineName: smName})
	go func() {
		select {
		case <-cmd.Context().Done(): // Ctrl-C: abort, and still print what happened
			x.Stop("Rotor.Interrupted", "interrupted by the user")
		case <-x.Done():
		}
	}()
	res, hist := x.Wait(context.Background()), x.History()
	out := runOutput{Status: res.Status, Output: res.Output, Error: res.Error, Cause: res.Cause}
	if opts.history {
		out.History = hist
	}
	enc := json.NewEncoder(opts.io.Out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return withCode(exitInternal, err)
	}
	if res.Status != asl.StatusSucceeded {
		return withCode(exitFailed, errors.New(""))
	}
	return nil
}

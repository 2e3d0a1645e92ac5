package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

type rotateOptions struct {
	io     *IOStreams
	g      *globalOptions
	secret string
	grace  time.Duration
	// graceSet: --grace was given (0s is a rotation without a grace period).
	graceSet bool
	reason   string
	wait     bool
	dryRun   bool
	poll     time.Duration
}

func newRotateCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &rotateOptions{io: io, g: g}
	cmd := &cobra.Command{
		Use:   "rotate --secret ID",
		Short: "Start a rotation of one secret (on AWS or the local endpoint)",
		Long: `Starts an execution of the rotation state machine with
{"secretId": ID, "trigger": "manual"} and prints its ARN. With --wait it follows
the execution, printing each state as it finishes, and exits 1 if the rotation
failed. --grace overrides the secret's rotor:grace-period tag.`,
		Example: `  rotor rotate --secret prod/stripe --wait
  rotor rotate --secret prod/stripe --grace 0s --reason "key shown in a screenshot" --wait --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			opts.graceSet = cmd.Flags().Changed("grace")
			if opts.graceSet && opts.grace < 0 {
				return withCode(exitUsage, fmt.Errorf("--grace %s: a grace period is not negative", opts.grace))
			}
			return rotate(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.secret, "secret", "", "secret `ID`: name or ARN (required)")
	f.DurationVar(&opts.grace, "grace", 0, "grace period before the old credential is revoked (default: the secret's rotor:grace-period tag)")
	f.StringVar(&opts.reason, "reason", "", "why, carried into notifications")
	f.BoolVar(&opts.wait, "wait", false, "follow the execution until it ends")
	f.BoolVar(&opts.dryRun, "dry-run", false, "only plan: resolve the secret and stop")
	f.DurationVar(&opts.poll, "poll", 250*time.Millisecond, "how often --wait polls")
	_ = cmd.MarkFlagRequired("secret")
	return cmd
}

func rotate(cmd *cobra.Command, o *rotateOptions) error {
	ctx := cmd.Context()
	client, _, err := o.g.clients(ctx)
	if err != nil {
		return err
	}
	smARN, err := o.g.stateMachineARN(ctx, client)
	if err != nil {
		return err
	}
	input := map[string]any{"secretId": o.secret, "trigger": "manual"}
	if o.graceSet {
		input["gracePeriodSeconds"] = int64(o.grace / time.Second)
	}
	if o.reason != "" {
		input["reason"] = o.reason
	}
	if o.dryRun {
		input["dryRun"] = true
	}
	b, _ := json.Marshal(input)
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Input: aws.String(string(b))})
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("start execution: %w", err))
	}
	arn := aws.ToString(out.ExecutionArn)
	if !o.wait {
		if o.g.json() {
			return printJSON(o.io, map[string]any{"executionArn": arn, "startDate": out.StartDate})
		}
		fmt.Fprintln(o.io.Out, arn)
		return nil
	}
	return followExecution(cmd, o.io, o.g, client, arn, fmt.Sprintf("rotating %s", o.secret), o.poll)
}

// followExecution follows an execution to its end and reports it.
func followExecution(cmd *cobra.Command, io *IOStreams, g *globalOptions, client *sfn.Client, arn, title string, poll time.Duration) error {
	t := newTimeline(arn)
	if g.json() {
		for !t.done() {
			if _, err := t.fetch(cmd.Context(), client); err != nil {
				return withCode(exitFailed, err)
			}
			if !t.done() {
				time.Sleep(poll)
			}
		}
		if err := printJSON(io, t.summary()); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(io.Out, "%s\n  execution %s\n", title, arn)
		if err := t.follow(cmd.Context(), client, io.Out, isTerminal(io.Out), poll); err != nil {
			return withCode(exitFailed, err)
		}
		fmt.Fprintf(io.Out, "  %s in %s\n", t.status, human(t.stopped.Sub(t.start)))
		if t.err != "" {
			fmt.Fprintf(io.Out, "  error %s: %s\n", t.err, t.cause)
		}
	}
	if t.status != types.ExecutionStatusSucceeded {
		return withCode(exitFailed, fmt.Errorf("execution %s", t.status))
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"
)

// globalOptions are the flags every AWS-facing command shares.
type globalOptions struct {
	output       string // text or json
	endpoint     string // AWS endpoint URL ("" = the SDK's own resolution, AWS_ENDPOINT_URL included)
	region       string
	stateMachine string // ARN or name of the rotation state machine
}

func (g *globalOptions) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	// pflag shows the first back-quoted word of a usage string as the
	// flag's value (--endpoint URL): quote commands with "" instead.
	f.StringVarP(&g.output, "output", "o", "text", "output `FORMAT`: text or json")
	f.StringVar(&g.endpoint, "endpoint", "", `AWS endpoint `+"`URL`"+`, e.g. the one "rotor local serve" prints (default: AWS, or $AWS_ENDPOINT_URL)`)
	f.StringVar(&g.region, "region", "", "AWS region (default: the SDK's configuration)")
	f.StringVar(&g.stateMachine, "state-machine", "", "rotation state machine, ARN or name (default $ROTOR_STATE_MACHINE, else rotor-rotation)")
}

func (g *globalOptions) check() error {
	if g.output != "text" && g.output != "json" {
		return withCode(exitUsage, fmt.Errorf("--output %q: want text or json", g.output))
	}
	return nil
}

func (g *globalOptions) json() bool { return g.output == "json" }

// awsConfig loads the SDK configuration. Against an explicit local
// endpoint without credentials configured, dummy credentials are used: the
// local endpoint does not check signatures.
func (g *globalOptions) awsConfig(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if g.region != "" {
		opts = append(opts, config.WithRegion(g.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, withCode(exitUsage, fmt.Errorf("AWS configuration: %w", err))
	}
	local := g.endpoint != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	if g.endpoint != "" {
		cfg.BaseEndpoint = aws.String(g.endpoint)
	}
	if cfg.Region == "" {
		if !local {
			return aws.Config{}, withCode(exitUsage, fmt.Errorf("no AWS region: set --region or AWS_REGION"))
		}
		cfg.Region = "us-east-1"
	}
	if local && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		// The local endpoint does not check signatures; probing the default
		// chain would only wait for the EC2 metadata service.
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDLOCALROTOR", "local-secret-key", "")
	}
	return cfg, nil
}

// stateMachineARN resolves --state-machine (an ARN, a name, or the default
// name) to an ARN.
func (g *globalOptions) stateMachineARN(ctx context.Context, client *sfn.Client) (string, error) {
	name := g.stateMachine
	if name == "" {
		name = os.Getenv("ROTOR_STATE_MACHINE")
	}
	if name == "" {
		name = "rotor-rotation"
	}
	if strings.HasPrefix(name, "arn:") {
		return name, nil
	}
	p := sfn.NewListStateMachinesPaginator(client, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list state machines: %w", err)
		}
		for _, sm := range page.StateMachines {
			if aws.ToString(sm.Name) == name {
				return aws.ToString(sm.StateMachineArn), nil
			}
		}
	}
	return "", withCode(exitUsage, fmt.Errorf("no state machine named %q: deploy rotor, or pass --state-machine ARN", name))
}

func (g *globalOptions) clients(ctx context.Context) (*sfn.Client, *secretsmanager.Client, error) {
	cfg, err := g.awsConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sfn.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), nil
}

// printJSON writes v as indented JSON.
func printJSON(io *IOStreams, v any) error {
	enc := json.NewEncoder(io.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal (progress lines are drawn
// only there).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

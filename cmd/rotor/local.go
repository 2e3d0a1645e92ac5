package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/localaws"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

func newLocalCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run rotor offline: an AWS-compatible endpoint with the rotation deployed on it",
	}
	cmd.AddCommand(newLocalServeCmd(io, g), newLocalDemoCmd(io, g))
	return cmd
}

type localServeOptions struct {
	io         *IOStreams
	addr       string
	data       string
	bootstraps string
	emulator   string
	quotas     bool
	faults     []string
	env        []string
	routes     []string
	allowHosts []string
	verbose    bool
	template   string
	iam        string
}

func newLocalServeCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &localServeOptions{io: io}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve Secrets Manager, Step Functions, SNS and Lambda locally, with rotor deployed",
		Long: `Starts the local endpoint, deploys on it what a synthesized CloudFormation
template declares (--template, e.g. cdk.out/Rotor.template.json after "make
synth"; by default the template of rotor's own stack, built in): the roles and
their policies, the six functions with their environment, the state machine
rotor-rotation, the topic rotor-notifications, the leak bus and rules, the
sweeper schedule, the ledger table and the webhook. It lists the resources it
does not deploy (log groups, alarms, queues, ...) and serves until interrupted.

IAM is enforced (--iam off turns it off): each function, the state machine,
the rules and the schedules call AWS as their own role, with credentials the
local STS issued, and every request is checked against that role's policies
from the template; a refusal is AccessDeniedException, as on AWS. Credentials
local IAM did not issue (yours) act as the account's root.

The functions run in this process, or, with --bootstraps, as the real binaries
under the Lambda Runtime Interface Emulator (build them for this machine with
"make build-local"). State persists in --data: a rotation still running when
the server stopped or was killed continues after a restart, its function calls
held until every function is registered again.

Fire a schedule now: curl -X POST <endpoint>/_rotor/schedules/<name>.
The functions' metrics (the EMF lines CloudWatch would read), in Prometheus'
text format: curl <endpoint>/_rotor/metrics.

Point the AWS CLI, the SDKs or rotor itself at it:
  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1

It answers only requests for localhost, 127.0.0.0/8 or ::1 that carry no
Origin header, so that a web page cannot read secrets or mint keys through
DNS rebinding or a cross-site form; --allow-host adds a name, such as a
tunnel's that delivers webhooks.`,
		Example: `  rotor local serve
  make synth && rotor local serve --template cdk.out/Rotor.template.json
  rotor local serve --bootstraps dist/local --quotas --fault secretsmanager:PutSecretValue:lost:0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return localServe(cmd, opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:4566", "address to listen on (loopback)")
	f.StringVar(&opts.data, "data", "rotor-local.db", `data file ("" keeps state in memory)`)
	f.StringVar(&opts.bootstraps, "bootstraps", "", "directory of <function>/bootstrap binaries to run under the Lambda Runtime Interface Emulator")
	f.StringVar(&opts.emulator, "emulator", "", "aws-lambda-rie path (default $ROTOR_RIE, .tools/bin, then PATH)")
	f.BoolVar(&opts.quotas, "quotas", false, "enforce AWS quotas in AWS's buckets (Secrets Manager: 50 writes/s, tags 50/s apart, ListSecrets 100/s, GetSecretValue 10,000/s); counts at GET /_rotor/quotas")
	f.StringArrayVar(&opts.faults, "fault", nil, "inject faults: SERVICE:OPERATION:error|lost[:RATE] (repeatable)")
	f.StringArrayVar(&opts.env, "env", nil, "KEY=VALUE for the functions' environment, e.g. ROTOR_LOCK_TTL=5m (repeatable)")
	f.StringArrayVar(&opts.routes, "lambda", nil, "NAME=URL: send a function's invokes to an emulator already running at URL (repeatable)")
	f.StringArrayVar(&opts.allowHosts, "allow-host", nil, "also answer requests for this host name, e.g. a tunnel's for webhooks (repeatable; by default only localhost, 127.0.0.0/8 and ::1)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "log every request and the functions' output")
	f.StringVar(&opts.template, "template", "", "synthesized CloudFormation template to deploy (JSON; default: rotor's own stack, built in)")
	f.StringVar(&opts.iam, "iam", "on", "on: check every request against its role's IAM policies; off: allow everything (experiments only)")
	return cmd
}

func hostOptions(addr, data, bootstraps, emulator string, quotas bool, faults, env, allowHosts []string) (rotorlocal.Options, error) {
	o := rotorlocal.Options{Addr: addr, DataFile: data, Quotas: quotas, Bootstraps: bootstraps, Emulator: emulator, FunctionEnv: map[string]string{},
		AllowedHosts: allowHosts, Routes: map[string]string{}}
	for _, f := range faults {
		fault, err := localaws.ParseFault(f)
		if err != nil {
			return o, withCode(exitUsage, err)
		}
		o.Faults = append(o.Faults, fault)
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return o, withCode(exitUsage, fmt.Errorf("--env %q: want KEY=VALUE", kv))
		}
		o.FunctionEnv[k] = v
	}
	return o, nil
}

func localServe(cmd *cobra.Command, o *localServeOptions) error {
	hopts, err := hostOptions(o.addr, o.data, o.bootstraps, o.emulator, o.quotas, o.faults, o.env, o.allowHosts)
	if err != nil {
		return err
	}
	// Routes are registered by Start with the other functions, before a
	// resumed execution may call one.
	for _, r := range o.routes {
		name, url, ok := strings.Cut(r, "=")
		if !ok || name == "" || !strings.HasPrefix(url, "http") {
			return withCode(exitUsage, fmt.Errorf("--lambda %q: want NAME=URL", r))
		}
		if _, dup := hopts.Routes[name]; dup {
			return withCode(exitUsage, fmt.Errorf("--lambda %q: function %s is routed twice", r, name))
		}
		hopts.Routes[name] = url
	}
	switch o.iam {
	case "on":
	case "off":
		hopts.IAMOff = true
	default:
		return withCode(exitUsage, fmt.Errorf("--iam %q: want on or off", o.iam))
	}
	if o.template != "" {
		b, err := os.ReadFile(o.template)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--template: %w", err))
		}
		hopts.Template = b
	}
	if o.verbose {
		hopts.FunctionLog = o.io.ErrOut
		hopts.Log = newLogger(o.io.ErrOut)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	host, err := rotorlocal.Start(ctx, hopts)
	if err != nil {
		return withCode(exitFailed, err)
	}
	mode := "in-process functions"
	if o.bootstraps != "" {
		mode = "functions under the Lambda Runtime Interface Emulator"
	}
	fmt.Fprintf(o.io.Out, "rotor local endpoint on %s (%s)\n", host.URL, mode)
	fmt.Fprintf(o.io.Out, "  state machine %s\n  topic         %s\n", host.StateMachineARN, host.TopicARN)
	template := "rotor's own stack (built in)"
	if o.template != "" {
		template = o.template
	}
	iamMode := "enforced"
	if hopts.IAMOff {
		iamMode = "OFF: every caller may do everything"
	}
	fmt.Fprintf(o.io.Out, "  template      %s; IAM %s\n", template, iamMode)
	fmt.Fprintf(o.io.Out, "  not deployed  %s\n", host.Unmodelled())
	fmt.Fprintf(o.io.Out, "  leak webhook  %s{github,gitguardian,generic} (keys in secret %s)\n", host.WebhookURL, host.WebhookKeys)
	for _, s := range host.Deployment.Schedules {
		fmt.Fprintf(o.io.Out, "  schedule      %s (%s): fire now with curl -X POST %s/_rotor/schedules/%s\n", s.Name, s.Expression, host.URL, s.Name)
	}
	fmt.Fprintf(o.io.Out, "  leak bus      %s; AWS services' events: POST %s/_rotor/events/emit\n", leak.LeakBus, host.URL)
	fmt.Fprintf(o.io.Out, "  metrics       GET %s%s (Prometheus text format)\n", host.URL, rotorlocal.MetricsPath)
	if o.data != "" {
		fmt.Fprintf(o.io.Out, "  data file     %s\n", o.data)
	}
	fmt.Fprintf(o.io.Out, "  export AWS_ENDPOINT_URL=%s AWS_REGION=%s\n", host.URL, rotorlocal.Region)
	fmt.Fprintln(o.io.Out, "Ctrl-C stops; running executions resume on the next start.")
	<-ctx.Done()
	fmt.Fprintln(o.io.Out, "stopping")
	if err := host.Close(); err != nil {
		return withCode(exitFailed, err)
	}
	return nil
}

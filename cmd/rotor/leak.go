package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/leak"
)

type leakOptions struct {
	io          *IOStreams
	g           *globalOptions
	accessKeyID string
	file        string
	secret      string
	reason      string
	reference   string
	noWait      bool
	poll        time.Duration
	stdin       io.Reader
}

// maxLeakedValue bounds what --fingerprint-of-file reads: credentials are
// short; a large file is the wrong file.
const maxLeakedValue = 64 << 10

var accessKeyIDRE = regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{16}$`)

func newLeakCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &leakOptions{io: io, g: g}
	cmd := &cobra.Command{
		Use:   "leak (--access-key-id ID | --fingerprint-of-file FILE | --secret ID)",
		Short: "Report a leaked credential: revoke it now (on AWS or the local endpoint)",
		Long: `Starts an emergency rotation for a leaked credential and follows it to the end.

Name the credential in one of three ways:
  --access-key-id ID         an AWS access key id, matched to the managed secret that holds it
  --fingerprint-of-file FILE a file holding the leaked value ("-" reads standard input); only its
                             SHA-256 fingerprint leaves this machine, never the value (one trailing
                             newline is ignored)
  --secret ID                the secret itself: every live version of it counts as leaked

A leaked current credential is replaced at once (no grace period) and every leaked version
revoked; a leaked older version is revoked without rotating anything. A credential that no
managed secret holds is reported to the notification topic as an unmanaged leak.`,
		Example: `  rotor leak --access-key-id AKIAIOSFODNN7EXAMPLE --reference https://tracker/INC-42
  pbpaste | rotor leak --fingerprint-of-file - --reason "pasted in #general"
  rotor leak --secret prod/stripe --no-wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			if opts.stdin == nil {
				opts.stdin = cmd.InOrStdin()
			}
			return reportLeak(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.accessKeyID, "access-key-id", "", "leaked AWS access key `ID`")
	f.StringVar(&opts.file, "fingerprint-of-file", "", "`FILE` holding the leaked value, \"-\" for standard input")
	f.StringVar(&opts.secret, "secret", "", "secret `ID` (name or ARN) whose credential leaked")
	f.StringVar(&opts.reason, "reason", "", "why, carried into notifications")
	f.StringVar(&opts.reference, "reference", "", "where the leak was found: URL, ticket, finding id")
	f.BoolVar(&opts.noWait, "no-wait", false, "print the execution ARN and return instead of following it")
	f.DurationVar(&opts.poll, "poll", 250*time.Millisecond, "how often to poll the execution")
	cmd.MarkFlagsOneRequired("access-key-id", "fingerprint-of-file", "secret")
	cmd.MarkFlagsMutuallyExclusive("access-key-id", "fingerprint-of-file", "secret")
	return cmd
}

// leakInput builds the state machine input; the leaked value, if read, is
// reduced to its fingerprint here and goes no further.
func (o *leakOptions) leakInput() (map[string]any, error) {
	l := map[string]any{"source": "generic"}
	switch {
	case o.accessKeyID != "":
		if !accessKeyIDRE.MatchString(o.accessKeyID) {
			return nil, withCode(exitUsage, errors.New("--access-key-id: not an AWS access key id (AKIA or ASIA and 16 capitals or digits)"))
		}
		l["accessKeyId"] = o.accessKeyID
	case o.file != "":
		var r io.Reader = o.stdin
		if o.file != "-" {
			f, err := os.Open(o.file)
			if err != nil {
				return nil, withCode(exitUsage, fmt.Errorf("--fingerprint-of-file: %w", err))
			}
			defer f.Close()
			r = f
		}
		value, err := io.ReadAll(io.LimitReader(r, maxLeakedValue+1))
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("--fingerprint-of-file: %w", err))
		}
		if len(value) > maxLeakedValue {
			return nil, withCode(exitUsage, fmt.Errorf("--fingerprint-of-file: more than %d bytes; a credential is shorter: is it the right file?", maxLeakedValue))
		}
		value = bytes.TrimSuffix(bytes.TrimSuffix(value, []byte("\n")), []byte("\r"))
		if len(value) == 0 {
			return nil, withCode(exitUsage, errors.New("--fingerprint-of-file: the file is empty"))
		}
		l["fingerprint"] = leak.SHA256(value)
	default:
		l["secretId"] = o.secret
	}
	if o.reference != "" {
		l["reference"] = o.reference
	}
	in := map[string]any{"trigger": "leak", "leak": l}
	if o.reason != "" {
		in["reason"] = o.reason
	}
	return in, nil
}

func reportLeak(cmd *cobra.Command, o *leakOptions) error {
	input, err := o.leakInput()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	client, _, err := o.g.clients(ctx)
	if err != nil {
		return err
	}
	smARN, err := o.g.stateMachineARN(ctx, client)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(input)
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Input: aws.String(string(b))})
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("start execution: %w", err))
	}
	arn := aws.ToString(out.ExecutionArn)
	if o.noWait {
		if o.g.json() {
			return printJSON(o.io, map[string]any{"executionArn": arn, "startDate": out.StartDate})
		}
		fmt.Fprintln(o.io.Out, arn)
		return nil
	}
	return followExecution(cmd, o.io, o.g, client, arn, "responding to a leak", o.poll)
}

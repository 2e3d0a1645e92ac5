package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	io     *IOStreams
	g      *globalOptions
	secret string
}

func newStatusCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &statusOptions{io: io, g: g}
	cmd := &cobra.Command{
		Use:   "status --secret ID",
		Short: "Show a secret's rotor policy and its versions with their labels (no values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			_, sm, err := g.clients(cmd.Context())
			if err != nil {
				return err
			}
			st, err := secretStatus(cmd, sm, opts.secret)
			if err != nil {
				return withCode(exitFailed, err)
			}
			if g.json() {
				return printJSON(io, st)
			}
			printStatus(io, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.secret, "secret", "", "secret `ID`: name or ARN (required)")
	_ = cmd.MarkFlagRequired("secret")
	return cmd
}

type versionStatus struct {
	ID      string   `json:"versionId"`
	Labels  []string `json:"labels"`
	Created string   `json:"created,omitempty"`
}

type secretState struct {
	ARN      string            `json:"arn"`
	Name     string            `json:"name"`
	Policy   map[string]string `json:"policy"`
	Versions []versionStatus   `json:"versions"`
}

// secretStatus reads metadata only: tags and version labels, never values.
func secretStatus(cmd *cobra.Command, sm *secretsmanager.Client, id string) (*secretState, error) {
	ctx := cmd.Context()
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, err
	}
	st := &secretState{ARN: aws.ToString(d.ARN), Name: aws.ToString(d.Name), Policy: map[string]string{}}
	for _, t := range d.Tags {
		if k := aws.ToString(t.Key); strings.HasPrefix(k, "rotor:") {
			st.Policy[k] = aws.ToString(t.Value)
		}
	}
	p := secretsmanager.NewListSecretVersionIdsPaginator(sm, &secretsmanager.ListSecretVersionIdsInput{SecretId: d.ARN, IncludeDeprecated: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			labels := append([]string{}, v.VersionStages...)
			sort.Strings(labels)
			st.Versions = append(st.Versions, versionStatus{ID: aws.ToString(v.VersionId), Labels: labels,
				Created: aws.ToTime(v.CreatedDate).UTC().Format("2006-01-02 15:04:05")})
		}
	}
	return st, nil
}

func printStatus(io *IOStreams, st *secretState) {
	fmt.Fprintf(io.Out, "%s\n  %s\n", st.Name, st.ARN)
	keys := make([]string, 0, len(st.Policy))
	for k := range st.Policy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(io.Out, "  %-22s %s\n", k, st.Policy[k])
	}
	fmt.Fprintln(io.Out, "  versions (newest first):")
	for _, v := range st.Versions {
		labels := strings.Join(v.Labels, ", ")
		if labels == "" {
			labels = "(deprecated)"
		}
		fmt.Fprintf(io.Out, "    %s  %s  %s\n", v.ID, v.Created, labels)
	}
}

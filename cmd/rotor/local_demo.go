package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

type localDemoOptions struct {
	io         *IOStreams
	g          *globalOptions
	grace      time.Duration
	bootstraps string
	emulator   string
	keep       bool
}

func newLocalDemoCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &localDemoOptions{io: io, g: g}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rotate two secrets end to end on a throwaway local endpoint",
		Long: `Starts the local endpoint on a free port with a temporary data file, a small key
management API on loopback, and two secrets: one under the random provider and
one under httpapi against that API. Rotates both through StartExecution with a
short grace period, shows each state as it finishes, then the versions and
labels before and after, and checks at the key API that the old key is
refused and the new one accepted. Exits non-zero if anything failed. Secret
values are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.check(); err != nil {
				return err
			}
			return localDemo(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.grace, "grace", 2*time.Second, "grace period of the demo rotations")
	f.StringVar(&opts.bootstraps, "bootstraps", "", "run the functions as binaries under the Lambda Runtime Interface Emulator from this directory")
	f.StringVar(&opts.emulator, "emulator", "", "aws-lambda-rie path")
	f.BoolVar(&opts.keep, "keep", false, "keep the temporary data directory")
	return cmd
}

type demoSecret struct {
	name, provider string
	execARN        string
	timeline       *timeline
	before, after  *secretState
}

func localDemo(cmd *cobra.Command, o *localDemoOptions) (err error) {
	ctx := cmd.Context()
	out := o.io.Out
	say := func(format string, args ...any) {
		if !o.g.json() {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	dir, err := os.MkdirTemp("", "rotor-demo-")
	if err != nil {
		return withCode(exitFailed, err)
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	started := time.Now()
	host, err := rotorlocal.Start(ctx, rotorlocal.Options{DataFile: filepath.Join(dir, "local.db"), Bootstraps: o.bootstraps, Emulator: o.emulator})
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("start the local endpoint: %w", err))
	}
	defer host.Close()
	say("rotor local demo")
	say("  endpoint      %s (data in %s)", host.URL, dir)

	masterKey := randomHex("mk_demo_", 16)
	ks := keyservice.New(masterKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return withCode(exitFailed, err)
	}
	ksSrv := &http.Server{Handler: ks.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go ksSrv.Serve(ln)
	defer ksSrv.Close()
	ksURL := "http://" + ln.Addr().String()
	say("  key API       %s", ksURL)

	sm := host.SecretsManager()
	initial := ks.Mint("initial")
	apiValue, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
	for _, s := range []struct {
		name, value string
		tags        map[string]string
	}{
		// The master consents to serve the demo's secret, and to revoke the
		// key it starts with, which rotor did not mint.
		{"demo/keyservice-master", ks.HTTPAPIConfig(ksURL, keyservice.Serves("demo/billing-api-key"), keyservice.RevokeUnminted()),
			map[string]string{"rotor:role": "master"}},
		{"demo/session-key", randomHex("", 20), map[string]string{"rotor:provider": "random", "rotor:random:length": "48"}},
		{"demo/billing-api-key", string(apiValue), map[string]string{"rotor:provider": "httpapi", "rotor:master-secret": "demo/keyservice-master"}},
	} {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String(s.value)}
		for k, v := range s.tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if _, err := sm.CreateSecret(ctx, in); err != nil {
			return withCode(exitFailed, fmt.Errorf("create %s: %w", s.name, err))
		}
	}
	demos := []*demoSecret{{name: "demo/session-key", provider: "random"}, {name: "demo/billing-api-key", provider: "httpapi"}}
	for _, d := range demos {
		if d.before, err = secretStatus(cmd, sm, d.name); err != nil {
			return withCode(exitFailed, err)
		}
	}

	sfc := host.StepFunctions()
	input := func(secret string) string {
		b, _ := json.Marshal(map[string]any{"secretId": secret, "trigger": "manual",
			"gracePeriodSeconds": int64(o.grace / time.Second), "reason": "rotor local demo"})
		return string(b)
	}
	say("\nrotating %d secrets (grace period %s)", len(demos), o.grace)
	for _, d := range demos {
		x, err := sfc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(host.StateMachineARN), Input: aws.String(input(d.name))})
		if err != nil {
			return withCode(exitFailed, fmt.Errorf("start rotation of %s: %w", d.name, err))
		}
		d.execARN = aws.ToString(x.ExecutionArn)
		d.timeline = newTimeline(d.execARN)
		say("  %-22s %s", d.name, d.execARN)
	}
	say("")
	if err := followAll(ctx, sfc, demos, o, say); err != nil {
		return withCode(exitFailed, err)
	}

	failed := 0
	for _, d := range demos {
		if d.after, err = secretStatus(cmd, sm, d.name); err != nil {
			return withCode(exitFailed, err)
		}
		if d.timeline.status != types.ExecutionStatusSucceeded {
			failed++
		}
	}
	// What the key API says about the keys, judged without printing them.
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("demo/billing-api-key")})
	if err != nil {
		return withCode(exitFailed, err)
	}
	var now struct{ APIKey, KeyID string }
	_ = json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &now)
	oldRefused, newAccepted := !ks.Accepts(initial.Secret), ks.Accepts(now.APIKey)
	if !oldRefused || !newAccepted {
		failed++
	}
	messages := host.Server.SNS.Messages()

	if o.g.json() {
		var list []map[string]any
		for _, d := range demos {
			list = append(list, map[string]any{"secret": d.name, "provider": d.provider, "execution": d.timeline.summary(),
				"before": d.before.Versions, "after": d.after.Versions})
		}
		return finishDemo(printJSON(o.io, map[string]any{"rotations": list, "keyApi": map[string]any{
			"oldKeyRefused": oldRefused, "newKeyAccepted": newAccepted, "newKeyId": now.KeyID},
			"notifications": len(messages), "seconds": time.Since(started).Seconds()}), failed)
	}
	for _, d := range demos {
		say("\n%s (%s): versions and labels", d.name, d.provider)
		say("  before:")
		printVersions(out, d.before)
		say("  after:")
		printVersions(out, d.after)
	}
	say("\nkey API: old key %s, new key %s (id %s)", yesNo(oldRefused, "refused", "STILL ACCEPTED"), yesNo(newAccepted, "accepted", "REFUSED"), now.KeyID)
	say("notifications published: %d", len(messages))
	for _, m := range messages {
		say("  %s", m.Subject)
	}
	if failed > 0 {
		return withCode(exitFailed, fmt.Errorf("demo failed: %d problem(s)", failed))
	}
	say("\ndemo succeeded in %s", human(time.Since(started)))
	return nil
}

func finishDemo(err error, failed int) error {
	if err != nil {
		return err
	}
	if failed > 0 {
		return withCode(exitFailed, fmt.Errorf("demo failed: %d problem(s)", failed))
	}
	return nil
}

// followAll polls every rotation, printing states as they finish.
func followAll(ctx context.Context, client *sfn.Client, demos []*demoSecret, o *localDemoOptions, say func(string, ...any)) error {
	deadline := time.Now().Add(2*time.Minute + o.grace)
	for {
		done := true
		for _, d := range demos {
			if d.timeline.done() {
				continue
			}
			finished, err := d.timeline.fetch(ctx, client)
			if err != nil {
				return err
			}
			for _, s := range finished {
				if s.Name == "StartPages" || s.Name == "StartChildren" {
					continue
				}
				say("  %-20s%s", shortName(d.name), d.timeline.line(s))
			}
			if d.timeline.done() {
				say("  %-20s  %s in %s", shortName(d.name), d.timeline.status, human(d.timeline.stopped.Sub(d.timeline.start)))
				if d.timeline.err != "" {
					say("  %-20s  error %s: %s", shortName(d.name), d.timeline.err, d.timeline.cause)
				}
			} else {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the rotations did not finish in time")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func shortName(n string) string { return strings.TrimPrefix(n, "demo/") }

func printVersions(w io.Writer, st *secretState) {
	for _, v := range st.Versions {
		labels := strings.Join(v.Labels, ", ")
		if labels == "" {
			labels = "(deprecated)"
		}
		fmt.Fprintf(w, "    %s  %s\n", v.ID, labels)
	}
}

func yesNo(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func randomHex(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

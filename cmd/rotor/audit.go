package main

import (
	"encoding/csv"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/internal/audit"
)

type auditOptions struct {
	io     *IOStreams
	g      *globalOptions
	output string // text, json or csv: audit's own --output, which adds csv
	at     string // --now, RFC 3339
	// clock is the time the audit judges at without --now.
	clock func() time.Time
}

func newAuditCmd(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &auditOptions{io: io, g: g, clock: time.Now}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List every secret with its rotor policy, age, next due time and last rotation; exit 1 if a managed secret is overdue or failing",
		Long: `List every secret of the account and Region (ListSecrets; secrets scheduled
for deletion are left out), one row each: for a secret rotor manages (tag
rotor:provider) its policy as tagged, maximum age, current version's age,
when it is next due (schedule, window and pause considered), whether it is
overdue (older than its maximum age by more than an hour, whatever holds
it; a secret with no value yet is due, not overdue) and the last
rotation's outcome; for the others their age, flagged when older than 60
days, and masters (rotor:role master) marked as such.

The last outcome is read from the version labels: a version labelled
ROTOR_FAILED newer than AWSCURRENT means the last rotation failed, at that
version's time; otherwise a current version rotor made is the last success;
a current version rotor did not make was set outside rotor. A rotor: tag
that does not validate is reported as an invalid policy, with the error.

The audit reads metadata only, never a value: ListSecrets, and at most one
ListSecretVersionIds per secret whose current (or failed) version's time its
id does not carry. It exits 1 when a managed secret is overdue, its last
rotation failed or its policy is invalid, and 0 otherwise.`,
		Example: `  rotor audit
  rotor audit --output csv > audit.csv
  rotor audit --output json | jq '.[] | select(.overdue)'
  rotor audit --endpoint http://127.0.0.1:4566 --now 2026-06-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.output, "output", "o", "text", "output `FORMAT`: text (a table and a summary), json (an array of rows) or csv (a header and rows)")
	f.StringVar(&opts.at, "now", "", "audit as at this `TIME`, RFC 3339 (what-if; default: the clock)")
	return cmd
}

func runAudit(cmd *cobra.Command, o *auditOptions) error {
	if o.output != "text" && o.output != "json" && o.output != "csv" {
		return withCode(exitUsage, fmt.Errorf("--output %q: want text, json or csv", o.output))
	}
	now := o.clock()
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--now %q: not an RFC 3339 time like 2026-06-01T00:00:00Z", o.at))
		}
		now = t
	}
	_, sm, err := o.g.clients(cmd.Context())
	if err != nil {
		return err
	}
	rep, err := audit.Run(cmd.Context(), sm, audit.Request{Now: now})
	if err != nil {
		return withCode(exitFailed, err)
	}
	switch o.output {
	case "json":
		rows := rep.Rows
		if rows == nil {
			rows = []audit.Row{} // an empty account is [], not null
		}
		err = printJSON(o.io, rows)
	case "csv":
		err = writeAuditCSV(o.io, rep.Rows)
	default:
		err = writeAuditText(o.io, rep)
	}
	if err != nil {
		return withCode(exitInternal, err)
	}
	if n := rep.Summary().Failing; n > 0 {
		return withCode(exitFailed, fmt.Errorf("audit failed: %d managed secret(s) overdue, with a failed last rotation or an invalid policy", n))
	}
	return nil
}

// auditFields are the JSON names of audit.Row's fields, in order: the csv
// header, so that csv and json carry the same documented fields.
func auditFields() []string {
	t := reflect.TypeOf(audit.Row{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return names
}

func writeAuditCSV(io *IOStreams, rows []audit.Row) error {
	w := csv.NewWriter(io.Out)
	if err := w.Write(auditFields()); err != nil {
		return err
	}
	for _, r := range rows {
		v := reflect.ValueOf(r)
		rec := make([]string, v.NumField())
		for i := range rec {
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				rec[i] = f.String()
			case reflect.Bool:
				rec[i] = strconv.FormatBool(f.Bool())
			case reflect.Int64:
				rec[i] = strconv.FormatInt(f.Int(), 10)
			default:
				return fmt.Errorf("audit csv: field %s has kind %s", v.Type().Field(i).Name, f.Kind())
			}
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func writeAuditText(io *IOStreams, rep *audit.Report) error {
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPROVIDER\tSTRATEGY\tSCHEDULE\tWINDOW\tPAUSED\tMAX-AGE\tAGE\tNEXT DUE\tOVERDUE\tLAST ROTATION")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, auditKind(r), dash(r.Provider), dash(r.Strategy),
			dash(r.Schedule), dash(r.Window), auditPaused(r), dash(r.MaxAge), auditAge(r), auditNextDue(r), auditOverdue(r), auditOutcome(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := rep.Summary()
	_, err := fmt.Fprintf(io.Out, "\n%d secrets at %s: %d managed (%d overdue, %d failed, %d invalid policy, %d paused), %d unmanaged (%d older than %s), %d master(s); %d failing\n",
		s.Secrets, rep.Now.Format(time.RFC3339), s.Managed, s.Overdue, s.Failed, s.InvalidPolicy, s.Paused,
		s.Unmanaged, s.UnmanagedOld, audit.Human(audit.UnmanagedMaxAge), s.Masters, s.Failing)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditKind(r audit.Row) string {
	switch {
	case r.Managed && r.Master:
		return "managed master"
	case r.Managed:
		return "managed"
	case r.Master:
		return "master"
	}
	return "unmanaged"
}

func auditPaused(r audit.Row) string {
	var s string
	switch r.Paused {
	case "", "false":
		return "-"
	case "true":
		s = "yes"
	default:
		s = "until " + r.Paused
	}
	if r.PausedReason != "" {
		s += ": " + r.PausedReason
	}
	return s
}

func auditAge(r audit.Row) string {
	switch {
	case r.CurrentVersion == "":
		return "- (no value)"
	case r.AgeSource == audit.AgeFromLastChanged:
		return ">=" + r.Age // LastChangedDate bounds it
	}
	return r.Age
}

func auditNextDue(r audit.Row) string {
	switch {
	case !r.Managed || r.LastOutcome == audit.OutcomeInvalidPolicy:
		return "-"
	case r.Due:
		return "now"
	case r.NextDue == "":
		return "paused, no end"
	}
	return r.NextDue
}

func auditOverdue(r audit.Row) string {
	switch {
	case r.Managed && r.LastOutcome == audit.OutcomeInvalidPolicy:
		return "?"
	case r.Managed && r.Overdue:
		return "yes"
	case r.Managed:
		return "no"
	case r.UnmanagedOld:
		return "unmanaged, >" + audit.Human(audit.UnmanagedMaxAge)
	}
	return "-"
}

func auditOutcome(r audit.Row) string {
	switch r.LastOutcome {
	case "":
		return "-"
	case audit.OutcomeInvalidPolicy:
		return "invalid policy: " + r.PolicyError
	case audit.OutcomeNone:
		return "none (no value yet)"
	case audit.OutcomeExternal:
		return "set outside rotor " + r.LastOutcomeAt
	}
	return r.LastOutcome + " " + r.LastOutcomeAt
}

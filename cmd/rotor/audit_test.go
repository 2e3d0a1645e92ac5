package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/audit"
	"github.com/rotorhq/rotor/internal/audit/audittest"
)

// auditAccount seeds an account on a local endpoint and points the CLI at
// it without credentials.
func auditAccount(t *testing.T, secrets []audittest.Secret) *audittest.Account {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	return audittest.Start(t, secrets)
}

const auditNow = "2026-03-01T12:00:00Z" // audittest.Now

// wantCSVHeader is the documented field list, in order: csv's header and
// json's names.
var wantCSVHeader = []string{"name", "arn", "managed", "master", "provider", "strategy", "schedule", "timezone", "window",
	"paused", "pausedReason", "maxAgeSeconds", "maxAge", "currentVersion", "versionCreated", "ageSource", "ageSeconds", "age",
	"due", "dueBy", "nextDue", "held", "overdue", "unmanagedOld", "lastOutcome", "lastOutcomeAt", "policyError"}

// TestAuditFormats: the seeded account's rows, read back from json and
// csv, are the expected ones; the text table is as written here; every
// format exits 1 (the account has overdue, failed and invalid secrets),
// and no output holds a secret value.
func TestAuditFormats(t *testing.T) {
	a := auditAccount(t, audittest.Mixed())
	for _, format := range []string{"json", "csv", "text"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := cli(t, "audit", "--endpoint", a.URL, "--now", auditNow, "--output", format)
			if code != exitFailed || !strings.Contains(errOut, "audit failed: 4 managed secret(s) overdue, with a failed last rotation or an invalid policy") {
				t.Errorf("exit %d, stderr %q; want 1 and the count of failing secrets", code, errOut)
			}
			if strings.Contains(out+errOut, audittest.Value) {
				t.Error("the output holds a secret value")
			}
			switch format {
			case "json":
				var rows []audit.Row
				if err := json.Unmarshal([]byte(out), &rows); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if diff := cmp.Diff(a.Want, rows); diff != "" {
					t.Errorf("json rows (-want +got):\n%s", diff)
				}
				var objects []map[string]any
				if err := json.Unmarshal([]byte(out), &objects); err != nil || len(objects) == 0 {
					t.Fatalf("%v", err)
				}
				var keys []string
				for k := range objects[0] {
					keys = append(keys, k)
				}
				if diff := cmp.Diff(sorted(wantCSVHeader), sorted(keys)); diff != "" {
					t.Errorf("json field names (-want +got):\n%s", diff)
				}
			case "csv":
				recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil || len(recs) == 0 {
					t.Fatalf("%v\n%s", err, out)
				}
				if diff := cmp.Diff(wantCSVHeader, recs[0]); diff != "" {
					t.Errorf("csv header (-want +got):\n%s", diff)
				}
				rows, err := decodeCSVRows(recs)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(a.Want, rows); diff != "" {
					t.Errorf("csv rows (-want +got):\n%s", diff)
				}
			case "text":
				invalid := ""
				for _, r := range a.Want {
					if r.Name == "app/invalid" {
						invalid = r.PolicyError
					}
				}
				want := strings.ReplaceAll(wantAuditText, "<POLICY ERROR>", invalid)
				if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(out, "\n")); diff != "" {
					t.Errorf("text (-want +got):\n%s", diff)
				}
			}
		})
	}
}

const wantAuditText = `NAME              KIND       PROVIDER  STRATEGY  SCHEDULE             WINDOW                  PAUSED                                    MAX-AGE  AGE           NEXT DUE              OVERDUE          LAST ROTATION
app/due           managed    random    -         rate(7 days)         -                       -                                         60d      8d            now                   no               succeeded 2026-02-21T12:00:00Z
app/empty         managed    random    -         -                    -                       -                                         60d      - (no value)  now                   no               none (no value yet)
app/external      managed    random    -         -                    -                       -                                         60d      3d            2026-04-27T12:00:00Z  no               set outside rotor 2026-02-26T12:00:00Z
app/failed        managed    random    -         -                    -                       -                                         60d      20d           2026-04-10T12:00:00Z  no               failed 2026-02-28T12:00:00Z
app/healthy       managed    random    -         -                    -                       -                                         60d      5d            2026-04-25T12:00:00Z  no               succeeded 2026-02-24T12:00:00Z
app/invalid       managed    random    -         cron(nonsense)       -                       -                                         -        2d            -                     ?                invalid policy: <POLICY ERROR>
app/just-due      managed    random    -         -                    -                       -                                         60d      60d           now                   no               succeeded 2025-12-31T11:30:00Z
app/overdue       managed    random    -         -                    -                       -                                         30d      45d 3h        now                   yes              succeeded 2026-01-15T09:00:00Z
app/paused        managed    random    -         -                    -                       yes: change freeze                        60d      10d           paused, no end        no               succeeded 2026-02-19T12:00:00Z
app/paused-until  managed    random    -         -                    -                       until 2026-03-04T00:00:00Z: release week  60d      59d 12h       2026-03-04T00:00:00Z  no               succeeded 2026-01-01T00:00:00Z
app/put-by-hand   managed    random    -         -                    -                       -                                         60d      70d           now                   yes              set outside rotor 2025-12-21T12:00:00Z
app/windowed      managed    random    -         cron(0 3 ? * SUN *)  cron(0 2 ? * SUN *) 4h  -                                         60d      10d           2026-03-08T02:00:00Z  no               succeeded 2026-02-19T12:00:00Z
db/master         master     -         -         -                    -                       -                                         -        30d           -                     -                -
legacy/new        unmanaged  -         -         -                    -                       -                                         -        10d           -                     -                -
legacy/old        unmanaged  -         -         -                    -                       -                                         -        >=100d        -                     unmanaged, >60d  -

15 secrets at 2026-03-01T12:00:00Z: 12 managed (2 overdue, 1 failed, 1 invalid policy, 2 paused), 3 unmanaged (1 older than 60d), 1 master(s); 4 failing
`

// decodeCSVRows reads csv records back into rows by their header names,
// parsing each field by its Go type.
func decodeCSVRows(recs [][]string) ([]audit.Row, error) {
	var rows []audit.Row
	typ := reflect.TypeOf(audit.Row{})
	byName := map[string]int{}
	for i := 0; i < typ.NumField(); i++ {
		byName[strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]] = i
	}
	for _, rec := range recs[1:] {
		var r audit.Row
		v := reflect.ValueOf(&r).Elem()
		for i, name := range recs[0] {
			f := v.Field(byName[name])
			switch f.Kind() {
			case reflect.String:
				f.SetString(rec[i])
			case reflect.Bool:
				b, err := strconv.ParseBool(rec[i])
				if err != nil {
					return nil, err
				}
				f.SetBool(b)
			case reflect.Int64:
				n, err := strconv.ParseInt(rec[i], 10, 64)
				if err != nil {
					return nil, err
				}
				f.SetInt(n)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// TestAuditHealthyExitsZero: managed secrets within policy, paused or set
// by hand, and unmanaged ones however old, pass.
func TestAuditHealthyExitsZero(t *testing.T) {
	a := auditAccount(t, audittest.Healthy())
	for _, format := range []string{"text", "json", "csv"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := cli(t, "audit", "--endpoint", a.URL, "--now", auditNow, "-o", format)
			if code != exitOK || errOut != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing\n%s", code, errOut, out)
			}
		})
	}
	_, out, _ := cli(t, "audit", "--endpoint", a.URL, "--now", auditNow)
	if !strings.Contains(out, "6 secrets at 2026-03-01T12:00:00Z: 3 managed (0 overdue, 0 failed, 0 invalid policy, 1 paused), 3 unmanaged (1 older than 60d), 1 master(s); 0 failing") {
		t.Errorf("summary:\n%s", out)
	}
}

// TestAuditNowDecides: the same account audited later has more overdue
// secrets; --now is what the verdict is judged at.
func TestAuditNowDecides(t *testing.T) {
	a := auditAccount(t, audittest.Healthy())
	code, out, errOut := cli(t, "audit", "--endpoint", a.URL, "--now", "2026-06-01T00:00:00Z", "-o", "json")
	var rows []audit.Row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var overdue []string
	for _, r := range rows {
		if r.Overdue {
			overdue = append(overdue, r.Name)
		}
	}
	if diff := cmp.Diff([]string{"app/external", "app/healthy", "app/paused"}, overdue); diff != "" || code != exitFailed {
		t.Errorf("exit %d (%s); overdue (-want +got):\n%s", code, errOut, diff)
	}
}

func TestAuditBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--output", "yaml"}, `--output "yaml": want text, json or csv`},
		{[]string{"--now", "yesterday"}, `--now "yesterday": not an RFC 3339 time`},
		{[]string{"extra"}, `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := cli(t, append([]string{"audit", "--endpoint", "http://127.0.0.1:1"}, c.args...)...)
			if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2 and %q", code, errOut, out, c.want)
			}
		})
	}
}

// TestAuditEmptyAccountJSON: no secrets is an empty array, not null.
func TestAuditEmptyAccountJSON(t *testing.T) {
	a := auditAccount(t, nil)
	code, out, _ := cli(t, "audit", "--endpoint", a.URL, "-o", "json")
	if code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Errorf("exit %d, %q", code, out)
	}
	var buf bytes.Buffer
	if err := writeAuditCSV(&IOStreams{Out: &buf}, nil); err != nil || strings.TrimSpace(buf.String()) != strings.Join(wantCSVHeader, ",") {
		t.Errorf("csv of no rows: %v %q", err, buf.String())
	}
}

// TestAuditAfterARotation: on rotor local, a secret set by hand is
// "external"; after a rotation through the state machine its current
// version is rotor's, dated by its id, and the audit passes.
func TestAuditAfterARotation(t *testing.T) {
	h := localHost(t)
	row := func() audit.Row {
		t.Helper()
		code, out, errOut := cli(t, "audit", "--endpoint", h.URL, "-o", "json")
		var rows []audit.Row
		if err := json.Unmarshal([]byte(out), &rows); err != nil || code != exitOK {
			t.Fatalf("exit %d, %v\n%s\n%s", code, err, out, errOut)
		}
		for _, r := range rows { // rotor local keeps its own secrets beside it
			if r.Name == "app/token" {
				return r
			}
		}
		t.Fatalf("no row for app/token:\n%s", out)
		return audit.Row{}
	}
	if r := row(); r.LastOutcome != audit.OutcomeExternal || r.AgeSource != audit.AgeFromVersionList {
		t.Errorf("before: outcome %q from %q, want external from the version list", r.LastOutcome, r.AgeSource)
	}
	if code, out, errOut := cli(t, "rotate", "--secret", "app/token", "--wait", "--endpoint", h.URL); code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errOut)
	}
	r := row()
	if r.LastOutcome != audit.OutcomeSucceeded || r.AgeSource != audit.AgeFromVersionID || r.AgeSeconds > 60 || r.Overdue || r.LastOutcomeAt != r.VersionCreated {
		t.Errorf("after: %+v", r)
	}
}

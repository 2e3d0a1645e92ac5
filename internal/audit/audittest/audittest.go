// Package audittest seeds an account on the local endpoint (localaws, over
// the wire) for the audit's tests, with each secret's expected Row written
// beside it: the package's tests and rotor audit's check the same rows.
// Secrets are dated as a rotation would have left them (rotor version ids
// minted by rotation.NewToken at a past time), or through the endpoint's
// clock for values a person put.
package audittest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/audit"
	"github.com/rotorhq/rotor/internal/localaws"
	_ "github.com/rotorhq/rotor/internal/provider/random" // the seeded secrets' provider
	"github.com/rotorhq/rotor/internal/rotation"
)

// Now is the time the seeded accounts are audited at: a Sunday, noon UTC.
var Now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// Secret is one secret to seed and the row the audit must report for it.
type Secret struct {
	Name string
	Tags map[string]string
	// Current dates a current version with a rotor version id made
	// Current ago; zero: the value is put with the SDK's own id (a
	// person's), Created ago by the endpoint's clock.
	Current time.Duration
	Created time.Duration
	// Failed, when not zero, adds a version labelled ROTOR_FAILED made
	// Failed ago.
	Failed time.Duration
	// NoValue creates the secret without a value; Deleted schedules its
	// deletion (the audit leaves it out).
	NoValue, Deleted bool
	// Want is the expected row without ARN and CurrentVersion, which the
	// seed fills in.
	Want audit.Row
}

// Value is the value every seeded version holds: the audit's output must
// never contain it.
const Value = "seeded-secret-value-d0n0tl3ak"

func at(ago time.Duration) string { return Now.Add(-ago).UTC().Format(time.RFC3339) }

func in(d time.Duration) string { return Now.Add(d).UTC().Format(time.RFC3339) }

func managed(tags map[string]string) map[string]string {
	out := map[string]string{"rotor:provider": "random"}
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// Mixed is an account with every kind of row: due, overdue, paused, held
// by a window, failed, set outside rotor, without a value, an invalid
// policy, unmanaged old and new, a master, and one scheduled for deletion.
func Mixed() []Secret {
	const maxAge = 60 * day
	ok := func(r audit.Row) audit.Row { // the fields every valid managed row shares
		r.Managed, r.Provider = true, "random"
		if r.MaxAgeSeconds == 0 {
			r.MaxAgeSeconds, r.MaxAge = int64(maxAge/time.Second), "60d"
		}
		return r
	}
	return []Secret{
		{Name: "app/due", Tags: managed(map[string]string{"rotor:schedule": "rate(7 days)"}), Current: 8 * day,
			Want: ok(audit.Row{Schedule: "rate(7 days)", VersionCreated: at(8 * day), AgeSource: audit.AgeFromVersionID,
				AgeSeconds: 8 * 86400, Age: "8d", Due: true, DueBy: "schedule rate(7 days)", NextDue: at(0),
				LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(8 * day)})},
		{Name: "app/overdue", Tags: managed(map[string]string{"rotor:max-age": "30d"}), Current: 45*day + 3*time.Hour,
			Want: ok(audit.Row{MaxAgeSeconds: 30 * 86400, MaxAge: "30d", VersionCreated: at(45*day + 3*time.Hour), AgeSource: audit.AgeFromVersionID,
				AgeSeconds: 45*86400 + 3*3600, Age: "45d 3h", Due: true, DueBy: "max-age 30d", NextDue: at(0), Overdue: true,
				LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(45*day + 3*time.Hour)})},
		{Name: "app/just-due", Tags: managed(nil), Current: maxAge + 30*time.Minute, // within schedule.OverdueSlack
			Want: ok(audit.Row{VersionCreated: at(maxAge + 30*time.Minute), AgeSource: audit.AgeFromVersionID, AgeSeconds: 60*86400 + 1800, Age: "60d",
				Due: true, DueBy: "max-age 60d", NextDue: at(0), LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(maxAge + 30*time.Minute)})},
		{Name: "app/healthy", Tags: managed(nil), Current: 5 * day,
			Want: ok(audit.Row{VersionCreated: at(5 * day), AgeSource: audit.AgeFromVersionID, AgeSeconds: 5 * 86400, Age: "5d",
				DueBy: "max-age 60d", NextDue: in(55 * day), LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(5 * day)})},
		{Name: "app/paused", Tags: managed(map[string]string{"rotor:paused": "true", "rotor:paused-reason": "change freeze"}), Current: 10 * day,
			Want: ok(audit.Row{Paused: "true", PausedReason: "change freeze", VersionCreated: at(10 * day), AgeSource: audit.AgeFromVersionID,
				AgeSeconds: 10 * 86400, Age: "10d", DueBy: "max-age 60d", Held: "paused: change freeze",
				LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(10 * day)})},
		{Name: "app/paused-until", Tags: managed(map[string]string{"rotor:paused": "2026-03-04T00:00:00Z", "rotor:paused-reason": "release week"}),
			Current: 59*day + 12*time.Hour,
			Want: ok(audit.Row{Paused: "2026-03-04T00:00:00Z", PausedReason: "release week", VersionCreated: at(59*day + 12*time.Hour),
				AgeSource: audit.AgeFromVersionID, AgeSeconds: 59*86400 + 12*3600, Age: "59d 12h", DueBy: "max-age 60d",
				NextDue: "2026-03-04T00:00:00Z", Held: "paused until 2026-03-04T00:00:00Z: release week",
				LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(59*day + 12*time.Hour)})},
		{Name: "app/windowed", Tags: managed(map[string]string{"rotor:schedule": "cron(0 3 ? * SUN *)", "rotor:window": "cron(0 2 ? * SUN *) 4h"}),
			Current: 10 * day,
			Want: ok(audit.Row{Schedule: "cron(0 3 ? * SUN *)", Window: "cron(0 2 ? * SUN *) 4h", VersionCreated: at(10 * day),
				AgeSource: audit.AgeFromVersionID, AgeSeconds: 10 * 86400, Age: "10d", DueBy: "schedule cron(0 3 ? * SUN *)",
				NextDue: "2026-03-08T02:00:00Z", Held: "outside its window (cron(0 2 ? * SUN *) for 4h); it opens 2026-03-08T02:00:00Z",
				LastOutcome: audit.OutcomeSucceeded, LastOutcomeAt: at(10 * day)})},
		{Name: "app/failed", Tags: managed(nil), Current: 20 * day, Failed: day,
			Want: ok(audit.Row{VersionCreated: at(20 * day), AgeSource: audit.AgeFromVersionID, AgeSeconds: 20 * 86400, Age: "20d",
				DueBy: "max-age 60d", NextDue: in(40 * day), LastOutcome: audit.OutcomeFailed, LastOutcomeAt: at(day)})},
		{Name: "app/external", Tags: managed(nil), Created: 3 * day,
			Want: ok(audit.Row{VersionCreated: at(3 * day), AgeSource: audit.AgeFromVersionList, AgeSeconds: 3 * 86400, Age: "3d",
				DueBy: "max-age 60d", NextDue: in(57 * day), LastOutcome: audit.OutcomeExternal, LastOutcomeAt: at(3 * day)})},
		{Name: "app/put-by-hand", Tags: managed(nil), Created: 70 * day,
			Want: ok(audit.Row{VersionCreated: at(70 * day), AgeSource: audit.AgeFromVersionList, AgeSeconds: 70 * 86400, Age: "70d",
				Due: true, DueBy: "max-age 60d", NextDue: at(0), Overdue: true, LastOutcome: audit.OutcomeExternal, LastOutcomeAt: at(70 * day)})},
		{Name: "app/empty", Tags: managed(nil), NoValue: true, Created: day,
			Want: ok(audit.Row{Due: true, DueBy: "it has no current value", NextDue: at(0), LastOutcome: audit.OutcomeNone})},
		{Name: "app/invalid", Tags: managed(map[string]string{"rotor:schedule": "cron(nonsense)"}), Current: 2 * day,
			Want: audit.Row{Managed: true, Provider: "random", Schedule: "cron(nonsense)", VersionCreated: at(2 * day),
				AgeSource: audit.AgeFromVersionID, AgeSeconds: 2 * 86400, Age: "2d", LastOutcome: audit.OutcomeInvalidPolicy,
				PolicyError: policyError("app/invalid", managed(map[string]string{"rotor:schedule": "cron(nonsense)"}))}},
		{Name: "legacy/old", Tags: map[string]string{"team": "billing"}, Created: 100 * day,
			Want: audit.Row{VersionCreated: at(100 * day), AgeSource: audit.AgeFromLastChanged, AgeSeconds: 100 * 86400, Age: "100d", UnmanagedOld: true}},
		{Name: "legacy/new", Created: 10 * day,
			Want: audit.Row{VersionCreated: at(10 * day), AgeSource: audit.AgeFromVersionList, AgeSeconds: 10 * 86400, Age: "10d"}},
		{Name: "db/master", Tags: map[string]string{"rotor:role": "master"}, Created: 30 * day,
			Want: audit.Row{Master: true, VersionCreated: at(30 * day), AgeSource: audit.AgeFromVersionList, AgeSeconds: 30 * 86400, Age: "30d"}},
		{Name: "legacy/deleted", Created: 200 * day, Deleted: true},
	}
}

// Healthy is an account the audit passes: managed secrets within policy,
// and unmanaged ones, old or not (which never fail it).
func Healthy() []Secret {
	var out []Secret
	for _, s := range Mixed() {
		switch s.Name {
		case "app/healthy", "app/paused", "app/external", "legacy/old", "legacy/new", "db/master", "legacy/deleted":
			out = append(out, s)
		}
	}
	return out
}

// policyError is the error the audit reports for an invalid policy: what
// rotation.Timing says, which these tests do not restate.
func policyError(name string, tags map[string]string) string {
	_, err := rotation.Timing(name, tags)
	if err == nil {
		panic("audittest: the invalid policy of " + name + " validates")
	}
	return err.Error()
}

// Account is a seeded local endpoint.
type Account struct {
	URL string
	// SM is a client of the endpoint.
	SM *secretsmanager.Client
	// Want is the rows the audit must report at Now, sorted by name.
	Want []audit.Row
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Start serves a local endpoint on loopback holding secrets, its clock at
// Now once they are seeded; it is closed when the test ends.
func Start(t testing.TB, secrets []Secret) *Account {
	t.Helper()
	clk := &clock{now: Now}
	srv, err := localaws.New(localaws.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	a := &Account{URL: url, SM: Client(url)}
	for _, s := range secrets {
		row, err := seed(context.Background(), a.SM, clk, s)
		if err != nil {
			t.Fatalf("seed %s: %v", s.Name, err)
		}
		if !s.Deleted {
			a.Want = append(a.Want, row)
		}
	}
	clk.set(Now)
	sortRows(a.Want)
	return a
}

// Client is a Secrets Manager client of a local endpoint.
func Client(url string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDAUDITTEST", "audit-test-key", ""),
	})
}

func seed(ctx context.Context, c *secretsmanager.Client, clk *clock, s Secret) (audit.Row, error) {
	clk.set(Now.Add(-s.Created))
	in := &secretsmanager.CreateSecretInput{Name: aws.String(s.Name)}
	for k, v := range s.Tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if !s.NoValue {
		in.SecretString = aws.String(Value)
	}
	if s.Current != 0 {
		tok, err := rotation.NewToken(Now.Add(-s.Current))
		if err != nil {
			return audit.Row{}, err
		}
		in.ClientRequestToken = aws.String(tok)
	}
	out, err := c.CreateSecret(ctx, in)
	if err != nil {
		return audit.Row{}, err
	}
	row := s.Want
	row.Name, row.ARN, row.CurrentVersion = s.Name, aws.ToString(out.ARN), aws.ToString(out.VersionId)
	if s.Failed != 0 {
		tok, err := rotation.NewToken(Now.Add(-s.Failed))
		if err != nil {
			return audit.Row{}, err
		}
		if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: out.ARN, ClientRequestToken: aws.String(tok),
			SecretString: aws.String(Value + "-failed"), VersionStages: []string{rotation.LabelFailed}}); err != nil {
			return audit.Row{}, err
		}
	}
	if s.Deleted {
		if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: out.ARN, RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			return audit.Row{}, err
		}
	}
	if s.NoValue && row.CurrentVersion != "" {
		return audit.Row{}, fmt.Errorf("a secret created without a value has version %s", row.CurrentVersion)
	}
	return row, nil
}

func sortRows(rows []audit.Row) {
	slices.SortFunc(rows, func(a, b audit.Row) int { return strings.Compare(a.Name, b.Name) })
}

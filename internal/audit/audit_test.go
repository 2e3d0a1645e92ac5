package audit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/audit"
	"github.com/rotorhq/rotor/internal/audit/audittest"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// counting counts the version listings per secret.
type counting struct {
	audit.SecretsManager
	mu       sync.Mutex
	listings map[string]int // secret ARN -> ListSecretVersionIds calls
}

func (c *counting) ListSecretVersionIds(ctx context.Context, in *sm.ListSecretVersionIdsInput, o ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error) {
	c.mu.Lock()
	c.listings[aws.ToString(in.SecretId)]++
	c.mu.Unlock()
	return c.SecretsManager.ListSecretVersionIds(ctx, in, o...)
}

// TestRun: every row of a seeded account, over the wire, and a version
// listing only for the secrets whose current version's id carries no time
// (at most one each).
func TestRun(t *testing.T) {
	a := audittest.Start(t, audittest.Mixed())
	api := &counting{SecretsManager: a.SM, listings: map[string]int{}}
	rep, err := audit.Run(context.Background(), api, audit.Request{Now: audittest.Now})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.Want, rep.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	listed := map[string]int{}
	for _, r := range rep.Rows {
		if n := api.listings[r.ARN]; n > 0 {
			listed[r.Name] = n
		}
	}
	if diff := cmp.Diff(map[string]int{"app/external": 1, "app/put-by-hand": 1, "legacy/new": 1, "db/master": 1}, listed); diff != "" {
		t.Errorf("ListSecretVersionIds calls per secret (-want +got):\n%s", diff)
	}
	if !strings.Contains(a.Want[indexOf(a.Want, "app/invalid")].PolicyError, "tag rotor:schedule") {
		t.Errorf("the invalid policy's error does not name the tag: %q", a.Want[indexOf(a.Want, "app/invalid")].PolicyError)
	}
	want := audit.Summary{Secrets: 15, Managed: 12, Overdue: 2, Failed: 1, InvalidPolicy: 1, Paused: 2, Unmanaged: 3, UnmanagedOld: 1, Masters: 1, Failing: 4}
	if diff := cmp.Diff(want, rep.Summary()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func indexOf(rows []audit.Row, name string) int {
	for i, r := range rows {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// TestRowFails: only managed secrets fail the audit.
func TestRowFails(t *testing.T) {
	cases := []struct {
		name string
		row  audit.Row
		want bool
	}{
		{"healthy", audit.Row{Managed: true, LastOutcome: audit.OutcomeSucceeded}, false},
		{"overdue", audit.Row{Managed: true, Overdue: true, LastOutcome: audit.OutcomeSucceeded}, true},
		{"failed", audit.Row{Managed: true, LastOutcome: audit.OutcomeFailed}, true},
		{"invalid policy", audit.Row{Managed: true, LastOutcome: audit.OutcomeInvalidPolicy}, true},
		{"set outside rotor", audit.Row{Managed: true, LastOutcome: audit.OutcomeExternal}, false},
		{"unmanaged and old", audit.Row{UnmanagedOld: true}, false},
		{"a master", audit.Row{Master: true, UnmanagedOld: true}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.row.Fails(); got != c.want {
				t.Errorf("Fails() = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRunNeedsNow(t *testing.T) {
	_, err := audit.Run(context.Background(), nil, audit.Request{})
	if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), "Now is required") {
		t.Errorf("err = %v, want InvalidInput naming Now", err)
	}
}

// TestRunReportsListErrors: a refused ListSecrets fails the audit with
// context, rather than reporting an empty account.
func TestRunReportsListErrors(t *testing.T) {
	_, err := audit.Run(context.Background(), audittest.Client("http://127.0.0.1:1"), audit.Request{Now: audittest.Now})
	if err == nil || !strings.Contains(err.Error(), "audit: list secrets") {
		t.Errorf("err = %v, want the list error", err)
	}
}

func TestHuman(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{12*time.Minute + 30*time.Second, "12m"},
		{3*time.Hour + 12*time.Minute, "3h 12m"},
		{3 * time.Hour, "3h"},
		{60 * 24 * time.Hour, "60d"},
		{75*24*time.Hour + 4*time.Hour + 59*time.Minute, "75d 4h"},
		{-2 * time.Hour, "-2h"},
	}
	for _, c := range cases {
		if got := audit.Human(c.d); got != c.want {
			t.Errorf("Human(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

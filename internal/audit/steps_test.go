package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/audit"
	_ "github.com/rotorhq/rotor/internal/provider/random"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/smstore"
)

// TestLastOutcomeFollowsTheSteps: the outcome the audit reads from the
// labels is the one the rotation steps leave, through a success, a
// cleanup before switchover, a rollback after it, and a success again (the
// steps run on the in-memory store; the wire is TestRun's).
func TestLastOutcomeFollowsTheSteps(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := smstore.New(smstore.Options{Now: clock})
	svc := &rotation.Service{SM: store, Now: clock}
	first, err := rotation.NewToken(now.Add(-30 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/a"), SecretString: aws.String("initial-value-0000000000"),
		ClientRequestToken: aws.String(first), Tags: []types.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("random")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)

	type step func(context.Context, rotation.StepInput) (*rotation.StepOutput, error)
	cases := []struct {
		name  string
		steps []step
		want  string // the outcome, at the new token's time
	}{
		{"succeeded", []step{svc.Create, svc.SwitchOver}, audit.OutcomeSucceeded},
		{"cleaned up before switchover", []step{svc.Create, svc.Cleanup}, audit.OutcomeFailed},
		{"rolled back after switchover", []step{svc.Create, svc.SwitchOver, svc.Rollback}, audit.OutcomeFailed},
		{"succeeded again", []step{svc.Create, svc.SwitchOver}, audit.OutcomeSucceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now = now.Add(time.Hour)
			tok, err := rotation.NewToken(now)
			if err != nil {
				t.Fatal(err)
			}
			in := rotation.StepInput{SecretID: arn, Token: tok, Provider: "random"}
			for _, s := range c.steps {
				o, err := s(ctx, in)
				if err != nil {
					t.Fatal(err)
				}
				in.PreviousVersionID = o.PreviousVersionID
			}
			rep, err := audit.Run(ctx, store, audit.Request{Now: now.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Rows[0]
			if r.LastOutcome != c.want || r.LastOutcomeAt != now.Format(time.RFC3339) {
				t.Errorf("last outcome %s at %s, want %s at %s", r.LastOutcome, r.LastOutcomeAt, c.want, now.Format(time.RFC3339))
			}
			if got, want := r.Fails(), c.want == audit.OutcomeFailed; got != want {
				t.Errorf("Fails() = %v, want %v", got, want)
			}
		})
	}
}

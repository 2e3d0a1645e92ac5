package template

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/rotation"
	"github.com/rotorhq/rotor/internal/rotorlocal"
)

// check is one call made with a role's own credentials and whether the
// endpoint must allow it.
type check struct {
	name  string
	allow bool
	call  func(ctx context.Context, cfg aws.Config) error
}

func runChecks(t *testing.T, e *env, fn string, checks []check) {
	t.Helper()
	role, err := e.roleOf(fn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.as(t, role)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(context.Background(), cfg)
			switch {
			case c.allow && err != nil:
				t.Errorf("%s, acting as %s: %v, want it allowed", c.name, role.Name, err)
			case !c.allow && !accessDenied(err):
				t.Errorf("%s, acting as %s: %v, want AccessDenied", c.name, role.Name, err)
			}
		})
	}
}

func getValue(id string) func(context.Context, aws.Config) error {
	return func(ctx context.Context, cfg aws.Config) error {
		_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		return err
	}
}

func putEvent(bus string) func(context.Context, aws.Config) error {
	return func(ctx context.Context, cfg aws.Config) error {
		out, err := eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(bus), Source: aws.String("example.deny"), DetailType: aws.String("deny test"), Detail: aws.String(`{"n":1}`)}}})
		if err == nil && out.FailedEntryCount > 0 {
			return &denied{code: aws.ToString(out.Entries[0].ErrorCode)}
		}
		return err
	}
}

type denied struct{ code string }

func (d *denied) Error() string     { return d.code }
func (d *denied) ErrorCode() string { return d.code }

// TestDenyVerifyNeverReadsMasters: the verify function's role is refused
// every master secret, even one that is also tagged as managed (the
// explicit Deny), while it reads managed secrets.
func TestDenyVerifyNeverReadsMasters(t *testing.T) {
	e := start(t, readTemplate(t), nil)
	ctx := context.Background()
	api, err := httpapiSecret(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	// An attacker who may tag tags a master as managed too.
	if _, err := e.create(ctx, "deny/both", `{"password":"both-master-value-1f2e3d"}`, map[string]string{"rotor:role": "master", "rotor:provider": "random"}, ""); err != nil {
		t.Fatal(err)
	}
	before, _ := e.value(ctx, "deny/both", "AWSCURRENT")
	runChecks(t, e, "verify", []check{
		{"a managed secret", true, getValue(api)},
		{"its master", false, getValue(api + "-master")},
		{"a master tagged managed", false, getValue("deny/both")},
	})
	// Through the real path: rotating the secret tagged both fails at the
	// latest in verify, and leaves its value.
	if err := e.rotate(ctx, "deny/both", 0); err == nil {
		t.Error("a rotation of a secret tagged both master and managed succeeded")
	}
	if after, _ := e.value(ctx, "deny/both", "AWSCURRENT"); after != before {
		t.Error("the refused rotation changed the secret")
	}
}

// TestDenyWebhookOnlyKeysAndBus: the webhook's role reads its keys secret
// and puts events on the leak bus, and nothing else.
func TestDenyWebhookOnlyKeysAndBus(t *testing.T) {
	e := start(t, readTemplate(t), nil)
	ctx := context.Background()
	api, err := httpapiSecret(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	runChecks(t, e, "webhook", []check{
		{"its keys secret", true, getValue(e.h.WebhookKeys)},
		{"the leak bus", true, putEvent(leak.LeakBus)},
		{"a managed secret", false, getValue(api)},
		{"a master secret", false, getValue(api + "-master")},
		{"the default bus", false, putEvent("default")},
		{"list secrets", false, func(ctx context.Context, cfg aws.Config) error {
			_, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		}},
		{"write its keys", false, func(ctx context.Context, cfg aws.Config) error {
			_, err := secretsmanager.NewFromConfig(cfg).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(e.h.WebhookKeys), SecretString: aws.String(`{"generic":"x"}`)})
			return err
		}},
		{"start a rotation", false, func(ctx context.Context, cfg aws.Config) error {
			_, err := sfn.NewFromConfig(cfg).StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.h.StateMachineARN), Input: aws.String(`{"secretId":"` + api + `","trigger":"manual"}`)})
			return err
		}},
		{"mint an IAM key", false, func(ctx context.Context, cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("anyone")})
			return err
		}},
		{"a ledger record not a delivery", false, func(ctx context.Context, cfg aws.Config) error {
			_, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(rotorlocal.LedgerTable),
				Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "revoked#forged"}}})
			return err
		}},
	})
}

// TestDenyOutsideScope: a deployment scoped to the prefix team-a/ (the
// same stack synthesized with secretNamePrefixes) rotates team-a/ secrets
// and refuses a team-b/ secret, tagged rotor:provider by whoever may tag
// it, twice over: the functions refuse it by name, and with that check
// switched off their roles are denied it. Neither refusal changes it.
func TestDenyOutsideScope(t *testing.T) {
	path := os.Getenv("ROTOR_TEMPLATE_SCOPED")
	if path == "" {
		path = "../../cdk.out.scoped/Rotor.template.json"
	}
	template, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: `make template-test` synthesizes it (cdk synth -c rotor='{\"secretNamePrefixes\":[\"team-a/\"],...}' --output cdk.out.scoped)", err)
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // in the failed execution's cause
	}{
		{"by the functions", nil, "team-a/"},
		{"by IAM", map[string]string{rotation.EnvSecretPrefixes: ""}, "AccessDenied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := start(t, template, c.env)
			ctx := context.Background()
			const initial = "initial-value-0123456789abcdefABCDEF"
			for _, name := range []string{"team-a/app", "team-b/app"} {
				if _, err := e.create(ctx, name, initial, map[string]string{"rotor:provider": "random"}, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.rotate(ctx, "team-a/app", 0); err != nil {
				t.Errorf("team-a/app, in scope: %v", err)
			}
			mark := e.mark()
			err := e.rotate(ctx, "team-b/app", 0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("team-b/app, out of scope: %v, want a failure naming %q", err, c.want)
			}
			if v, _ := e.value(ctx, "team-b/app", "AWSCURRENT"); v != initial {
				t.Error("the refused rotation changed team-b/app")
			}
			denied := e.deniedSince(mark)
			if c.env != nil && len(denied) == 0 {
				t.Error("no request was denied: IAM did not refuse the out-of-scope secret")
			}
			for _, d := range denied {
				if !strings.Contains(d.Resource, ":secret:team-b/") && d.Resource != "*" {
					t.Errorf("denied %s on %s: only team-b/ may be refused", d.Action, d.Resource)
				}
			}
		})
	}
}

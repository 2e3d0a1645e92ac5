package rotorcdk_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/provider"
)

// parameters is a provider as a new package adds one: it reads SSM
// parameters of the secrets it serves in verify and expire, and says so
// in its registration. Nothing in the construct names it.
type parameters struct{}

func (parameters) Create(context.Context, *provider.CreateRequest) (*provider.CreateResponse, error) {
	return &provider.CreateResponse{Value: []byte("x")}, nil
}
func (parameters) Verify(context.Context, *provider.VerifyRequest) error { return nil }
func (parameters) Revoke(context.Context, *provider.RevokeRequest) error { return nil }

func init() {
	provider.Register("test-parameters", provider.Registration{
		New: provider.Fixed(parameters{}),
		Needs: provider.Needs{
			AWS: []string{"ssm"},
			IAM: []provider.Statement{{
				Sid: "TestParameters", Functions: []string{provider.FuncVerify, provider.FuncExpire},
				Actions:   []string{"ssm:GetParameter"},
				Resources: []string{"arn:${Partition}:ssm:${Region}:${Account}:parameter/rotor-test/*"},
				Conditions: []provider.Condition{
					{Operator: "StringLike", Key: "aws:ResourceTag/rotor:secret", Values: []string{"${SecretArns}"}},
				},
			}},
		},
	})
}

// TestProviderNeeds: a registered provider's statements reach the roles
// of the functions they name, and only those, with the stack's partition,
// Region and account in the resources and the deployment's secret scope
// in the conditions.
func TestProviderNeeds(t *testing.T) {
	param := func(account, path, secretName string) request {
		return request{action: "ssm:GetParameter", resource: "arn:aws:ssm:us-east-1:" + account + ":parameter/" + path,
			resourceTags: map[string]string{"rotor:secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + secretName + "-AbCdEf"}}
	}
	cases := []struct {
		name string
		req  request
		// Allowed for verify and expire without and with
		// secretNamePrefixes; never for the others.
		unscoped, scoped bool
	}{
		{"a parameter of a prod/ secret", param(testAccount, "rotor-test/a", "prod/a"), true, true},
		{"a parameter of an other/ secret", param(testAccount, "rotor-test/a", "other/a"), true, false},
		{"a parameter outside the provider's path", param(testAccount, "team/a", "prod/a"), false, false},
		{"a parameter in another account", param("210987654321", "rotor-test/a", "prod/a"), false, false},
		{"a parameter of no secret", request{action: "ssm:GetParameter", resource: "arn:aws:ssm:us-east-1:123456789012:parameter/rotor-test/a"}, false, false},
	}
	for _, fn := range allFunctions {
		for _, c := range cases {
			t.Run(fn+" "+c.name, func(t *testing.T) {
				type access struct{ Unscoped, Scoped bool }
				want := access{c.unscoped, c.scoped}
				if fn != "verify" && fn != "expire" {
					want = access{}
				}
				got := access{
					Unscoped: decide(t, synth(t, testConfig).policies(t, synth(t, testConfig).functionRole(t, fn)), c.req),
					Scoped:   decide(t, synth(t, prefixConfig).policies(t, synth(t, prefixConfig).functionRole(t, fn)), c.req),
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.req, diff)
				}
			})
		}
	}
	d := synth(t, testConfig)
	for _, st := range d.policies(t, d.functionRole(t, "verify")) {
		if st.Sid != "TestParameters" {
			continue
		}
		got := map[string]any{"Resource": resolveAll(t, st.Resource), "Action": st.Action}
		want := map[string]any{"Resource": []string{"arn:aws:ssm:us-east-1:123456789012:parameter/rotor-test/*"}, "Action": "ssm:GetParameter"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statement TestParameters (-want +got):\n%s", diff)
		}
		return
	}
	t.Error("verify's role has no statement TestParameters")
}

// TestSidsUnique: the statements on each role, the construct's own and
// every provider's, have Sids of their own.
func TestSidsUnique(t *testing.T) {
	for _, config := range []string{testConfig, prefixConfig, `{"vpc": {"subnetIds": ["subnet-0a1b2c3d"], "securityGroupIds": ["sg-0a1b2c3d"]}}`} {
		d := synth(t, config)
		for _, fn := range allFunctions {
			seen := map[string]int{}
			for _, st := range d.policies(t, d.functionRole(t, fn)) {
				if st.Sid != "" {
					seen[st.Sid]++
				}
			}
			for sid, n := range seen {
				if n > 1 {
					t.Errorf("config %s, %s: Sid %q on %d statements", config, fn, sid, n)
				}
			}
			if fn == "create" && seen["ConsentingUserKeys"] != 1 {
				t.Errorf("config %s: create has no ConsentingUserKeys statement: the test looks in the wrong place (%v)", config, fmt.Sprint(seen))
			}
		}
	}
}

package smstore

import (
	"regexp"
	"testing"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The rules of Secrets Manager are tested once, for the store and the local
// endpoint alike, by the conformance suite (smtest, run by TestConformance).
// What follows is about the store alone.

func TestARNSuffixComesFromRand(t *testing.T) {
	mk := func(seed byte) string {
		s := New(Options{Rand: seeded(seed)})
		out, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("db/main")})
		if err != nil {
			t.Fatal(err)
		}
		return *out.ARN
	}
	if a, b := mk(7), mk(7); a != b {
		t.Errorf("same Rand gave different ARNs %s and %s", a, b)
	}
	if a, b := mk(7), mk(8); a == b {
		t.Errorf("different Rand gave the same ARN %s", a)
	}
	s := New(Options{Region: "eu-central-1", Account: "123456789012", Rand: seeded(1)})
	out, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:eu-central-1:123456789012:secret:x-[A-Za-z0-9]{6}$`).MatchString(*out.ARN) {
		t.Errorf("ARN %s does not use Options.Region and Options.Account", *out.ARN)
	}
	out, err = New(Options{}).CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:x-[A-Za-z0-9]{6}$`).MatchString(*out.ARN) {
		t.Errorf("ARN %s does not use the default region and account", *out.ARN)
	}
}

// TestMissingRequiredMembers covers requests that the SDK client refuses
// before sending (a nil input, a required member left nil), so that only a
// caller of the store itself can make them.
func TestMissingRequiredMembers(t *testing.T) {
	cases := []struct {
		name string
		call func(s *Store) error
	}{
		{
			name: "nil input is InvalidParameterException, not a panic",
			call: func(s *Store) error { _, err := s.GetSecretValue(ctx, nil); return err },
		},
		{
			name: "CreateSecret without Name is InvalidParameterException",
			call: func(s *Store) error { _, err := s.CreateSecret(ctx, &sm.CreateSecretInput{}); return err },
		},
		{
			name: "UpdateSecretVersionStage without VersionStage is InvalidParameterException",
			call: func(s *Store) error {
				_, err := s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: ptr("s"), MoveToVersionId: ptr(tok(1))})
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.create("s", 1)
			checkErr(t, tc.call(e.s), errInvalidParam, "")
			diff(t, "secrets after the refused call", []string{"s"}, e.names())
		})
	}
}

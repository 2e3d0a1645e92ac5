package localaws

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestSecretsManagerStoreHelper is about the service's Store accessor, an
// inner part of the server, and so kept apart from the SDK-only tests of
// secretsmanager_conformance_test.go.
func TestSecretsManagerStoreHelper(t *testing.T) {
	srv, url := smStart(t, Options{Account: smAccount})
	if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("seeded"), SecretString: aws.String(smVal(1))}); err != nil {
		t.Fatal(err)
	}
	g, err := smNewClient(t, url).GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("seeded")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "value of a secret seeded through Store()", smVal(1), *g.SecretString)
}

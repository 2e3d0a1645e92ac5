package secretsmanager

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// TestFailedSaveIsWrittenByTheNext: a save that cannot write answers
// InternalServiceError and keeps what it could not write; the next save
// writes it, with its own changes, so the data file misses nothing the
// store holds. (The endpoint's tests cannot make a write fail; this one
// closes the file under the service.)
func TestFailedSaveIsWrittenByTheNext(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	open := func() *bbolt.DB {
		db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	svc, err := New(wire.Env{Region: "us-east-1", Account: "123456789012", DB: wire.NewDB(db, file)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, n := range []string{"a", "b"} {
		if _, err := svc.store.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(n), SecretString: aws.String("s3cr3t-" + n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Save(); err != nil {
		t.Fatal(err)
	}

	db.Close() // every write fails from here
	if _, err := svc.store.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("a"), Tags: []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	err = svc.save()
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != "InternalServiceError" {
		t.Fatalf("save on a closed file: %v, want InternalServiceError", err)
	}

	db = open()
	defer db.Close()
	svc.db = wire.NewDB(db, file)
	if _, err := svc.store.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("b"), Tags: []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("w")}}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.save(); err != nil {
		t.Fatal(err)
	}
	reloaded, err := New(wire.Env{Region: "us-east-1", Account: "123456789012", DB: wire.NewDB(db, file)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range []string{"a", "b"} {
		d, err := reloaded.store.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(n)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range d.Tags {
			got[n] = aws.ToString(tag.Key) + "=" + aws.ToString(tag.Value)
		}
	}
	if diff := cmp.Diff(map[string]string{"a": "k=v", "b": "k=w"}, got); diff != "" {
		t.Errorf("tags in the data file (-want +got):\n%s", diff)
	}
}

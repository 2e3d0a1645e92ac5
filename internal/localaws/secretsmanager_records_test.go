package localaws

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/smstore"
)

// The data file keeps one record per secret: these tests read the file
// itself (bbolt's buckets and transaction counters), which the SDK-only
// tests of secretsmanager_durability_test.go cannot see.

// fileRecords reads the records the data file holds, by secret name.
func fileRecords(t *testing.T, srv *Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := srv.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("secretsmanager"))
		if b == nil {
			return nil
		}
		if rb := b.Bucket([]byte("secrets")); rb != nil {
			return rb.ForEach(func(k, v []byte) error { out[string(k)] = string(v); return nil })
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fileCost is what the data file's write transactions cost: commits and
// bytes allocated (and so written).
type fileCost struct{ commits, bytes int64 }

func costOf(t *testing.T, srv *Server) fileCost {
	t.Helper()
	var c fileCost
	if err := srv.db.View(func(tx *bbolt.Tx) error { c.commits = int64(tx.ID()); return nil }); err != nil {
		t.Fatal(err)
	}
	st := srv.db.Stats()
	c.bytes = st.TxStats.GetPageAlloc()
	return c
}

// changedRecords names the records that differ between two readings
// (added, removed or rewritten), never their values.
func changedRecords(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+" (removed)")
		}
	}
	slices.Sort(out)
	return out
}

// TestSecretsManagerWriteCostsOneSecret: with 1,000 secrets (over 1 MB of
// records) in the data file, an answered write commits one transaction
// that rewrites the record of the secret it changed and no other, and
// allocates a few pages, not the store; a read that changes nothing
// commits nothing.
func TestSecretsManagerWriteCostsOneSecret(t *testing.T) {
	const fleet = 1000
	big := strings.Repeat("x", 1024) // so that the whole store is over 1 MB
	name := func(i int) string { return fmt.Sprintf("fleet/app-%04d", i) }
	cases := []struct {
		name    string
		write   func(e *smEnv) error
		commits int64
		want    []string // records rewritten
	}{
		{"PutSecretValue", func(e *smEnv) error {
			_, err := e.c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name(500)),
				SecretString: aws.String(smVal(2) + big), ClientRequestToken: aws.String(smTok(2))})
			return err
		}, 1, []string{name(500)}},
		{"UpdateSecretVersionStage", func(e *smEnv) error {
			_, err := e.c.UpdateSecretVersionStage(smCtx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name(7)),
				VersionStage: aws.String("blue"), MoveToVersionId: aws.String(smTok(1))})
			return err
		}, 1, []string{name(7)}},
		{"TagResource", func(e *smEnv) error {
			_, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String(name(999)), Tags: smTags("k", "v")})
			return err
		}, 1, []string{name(999)}},
		{"UntagResource", func(e *smEnv) error {
			_, err := e.c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String(name(0)), TagKeys: []string{"team"}})
			return err
		}, 1, []string{name(0)}},
		{"CreateSecret", func(e *smEnv) error {
			_, err := e.c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("fleet/new"), SecretString: aws.String(smVal(3))})
			return err
		}, 1, []string{"fleet/new"}},
		{"DeleteSecret", func(e *smEnv) error {
			_, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name(1)), RecoveryWindowInDays: aws.Int64(7)})
			return err
		}, 1, []string{name(1)}},
		{"DeleteSecret with ForceDeleteWithoutRecovery", func(e *smEnv) error {
			_, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(name(2)), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, 1, []string{name(2) + " (removed)"}},
		{"GetSecretValue, the first of the day", func(e *smEnv) error {
			_, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String(name(3))})
			return err
		}, 1, []string{name(3)}},
		{"DescribeSecret and ListSecrets", func(e *smEnv) error {
			if _, err := e.c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name(4))}); err != nil {
				return err
			}
			_, err := e.c.ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
			return err
		}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &smClock{t: smT0}
			srv, url := smStart(t, Options{Account: smAccount, DataFile: filepath.Join(t.TempDir(), "rotor.db"), Now: clk.Now})
			for i := range fleet {
				if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name(i)),
					SecretString: aws.String(smVal(1) + big), ClientRequestToken: aws.String(smTok(1)), Tags: smTags("team", "core")}); err != nil {
					t.Fatal(err)
				}
			}
			if err := srv.SM.Save(); err != nil {
				t.Fatal(err)
			}
			before, cost0 := fileRecords(t, srv), costOf(t, srv)
			size := 0
			for _, v := range before {
				size += len(v)
			}
			if len(before) != fleet || size < 1<<20 {
				t.Fatalf("the data file holds %d records, %d bytes; want %d records over 1 MiB", len(before), size, fleet)
			}
			if err := tc.write(&smEnv{t: t, c: smNewClient(t, url)}); err != nil {
				t.Fatal(err)
			}
			after, cost := fileRecords(t, srv), costOf(t, srv)
			smDiff(t, "records rewritten", tc.want, changedRecords(before, after))
			smDiff(t, "transactions committed", tc.commits, cost.commits-cost0.commits)
			if b := cost.bytes - cost0.bytes; b > 64<<10 {
				t.Errorf("the write allocated %d bytes in the data file, want at most 64 KiB (the store is %d)", b, size)
			}
		})
	}
}

// writeSnapshotFile writes a data file as rotor did before it kept one
// record per secret: the whole store as one snapshot under key "store".
func writeSnapshotFile(t *testing.T, file string, st *smstore.Store) {
	t.Helper()
	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("secretsmanager"))
		if err != nil {
			return err
		}
		return b.Put([]byte("store"), snap)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestSecretsManagerConvertsSnapshotFile: a data file holding the whole
// store as one snapshot opens with every secret, and is rewritten as a
// header and one record per secret, which the next start reads.
func TestSecretsManagerConvertsSnapshotFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	old := smstore.New(smstore.Options{Account: smAccount, Now: (&smClock{t: smT0}).Now})
	for i, n := range []string{"app/a", "app/b"} {
		if _, err := old.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(n), SecretString: aws.String(smVal(i)),
			ClientRequestToken: aws.String(smTok(i))}); err != nil {
			t.Fatal(err)
		}
	}
	writeSnapshotFile(t, file, old)

	values := func(url string) []string {
		c := smNewClient(t, url)
		var out []string
		for _, n := range []string{"app/a", "app/b"} {
			g, err := c.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(n)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, aws.ToString(g.VersionId))
		}
		return out
	}
	opts := Options{Account: smAccount, DataFile: file, Now: (&smClock{t: smT0}).Now}
	srv, url := smStart(t, opts)
	smDiff(t, "versions read after the conversion", []string{smTok(0), smTok(1)}, values(url))
	var header []byte
	if err := srv.db.View(func(tx *bbolt.Tx) error {
		header = append(header, tx.Bucket([]byte("secretsmanager")).Get([]byte("store"))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	format, err := smstore.Format(header)
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "format of key store after the conversion", smstore.RecordsFormat, format)
	smDiff(t, "records after the conversion", []string{"app/a", "app/b"}, slices.Sorted(func(yield func(string) bool) {
		for k := range fileRecords(t, srv) {
			if !yield(k) {
				return
			}
		}
	}))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	_, url = smStart(t, opts)
	smDiff(t, "versions read after a restart", []string{smTok(0), smTok(1)}, values(url))
}

// TestSecretsManagerBadRecordsAreErrors: what New refuses in a data file
// kept as records, each error naming the file and where in it.
func TestSecretsManagerBadRecordsAreErrors(t *testing.T) {
	put := func(header string, records map[string]string) func(t *testing.T, file string) {
		return func(t *testing.T, file string) {
			db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("secretsmanager"))
				if err != nil {
					return err
				}
				if header != "" {
					if err := b.Put([]byte("store"), []byte(header)); err != nil {
						return err
					}
				}
				rb, err := b.CreateBucketIfNotExists([]byte("secrets"))
				if err != nil {
					return err
				}
				for k, v := range records {
					if err := rb.Put([]byte(k), []byte(v)); err != nil {
						return err
					}
				}
				return nil
			})
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	header := `{"account":"` + smAccount + `","format":2,"region":"us-east-1"}`
	cases := []struct {
		name  string
		setup func(t *testing.T, file string)
		want  string
	}{
		{"records without a header", put("", map[string]string{"a": `{}`}), "records without a header"},
		{"a header of an unknown format", put(`{"format":3}`, nil), "format 3 is not one this rotor reads"},
		{"a record that is not a secret", put(header, map[string]string{"app/db": `{"name":"app/db","secretString":"s3cr3t`}), `record "app/db"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "rotor.db")
			tc.setup(t, file)
			srv, err := New(Options{Account: smAccount, DataFile: file})
			if err == nil {
				srv.Close()
				t.Fatal("New succeeded")
			}
			for _, want := range []string{file, `"secretsmanager"`, `"store"`, tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
}

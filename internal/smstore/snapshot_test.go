package smstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// richState fills a store with every kind of state: string and binary
// values, deprecated versions, custom labels, tags, description, KMS key,
// access dates, and a secret scheduled for deletion.
func richState(e *env) {
	_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{
		Name: ptr("app/db"), Description: ptr("main <db> & co"), KmsKeyId: ptr("alias/rotor"),
		Tags: tags("team", "core", "env", "prod"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1)),
	})
	e.must(err)
	e.clk.Advance(time.Hour)
	e.put("app/db", 2)
	e.put("app/db", 3)
	e.put("app/db", 4, "AWSPENDING", "blue")
	_, err = e.get(&sm.GetSecretValueInput{SecretId: ptr("app/db"), VersionStage: ptr("AWSPREVIOUS")})
	e.must(err)
	_, err = e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("bin"), SecretBinary: []byte{0, 1, 2, 0xff}})
	e.must(err)
	e.createEmpty("empty")
	e.create("doomed", 9)
	e.delete("doomed", 7)
	e.clk.Advance(time.Minute)
}

func TestSnapshot(t *testing.T) {
	t.Run("Snapshot then Load then Snapshot gives the same bytes", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		snap1, err := e.s.Snapshot()
		e.must(err)
		loaded, err := Load(Options{Now: e.clk.Now, Rand: seeded(2)}, snap1)
		e.must(err)
		snap2, err := loaded.Snapshot()
		e.must(err)
		if !bytes.Equal(snap1, snap2) {
			t.Errorf("round trip changed the snapshot:\n%s\n---\n%s", snap1, snap2)
		}
		for _, name := range []string{"app/db", "bin", "empty", "doomed"} {
			a, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr(name)})
			e.must(err)
			b, err := loaded.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr(name)})
			e.must(err)
			diff(t, "DescribeSecret "+name, a, b)
		}
		for _, in := range []*sm.GetSecretValueInput{
			{SecretId: ptr("app/db")}, {SecretId: ptr("app/db"), VersionId: ptr(tok(1))}, {SecretId: ptr("bin")},
		} {
			a, err := e.s.GetSecretValue(ctx, in)
			e.must(err)
			b, err := loaded.GetSecretValue(ctx, in)
			e.must(err)
			diff(t, "GetSecretValue", a, b)
		}
		checkInvariants(t, loaded)
	})

	t.Run("Snapshot includes secret values, string and binary", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		snap, err := e.s.Snapshot()
		e.must(err)
		var got snapshotJSON
		e.must(json.Unmarshal(snap, &got))
		var strs []string
		var bins [][]byte
		for _, s := range got.Secrets {
			for _, v := range s.Versions {
				if v.SecretString != nil {
					strs = append(strs, *v.SecretString)
				}
				if v.SecretBinary != nil {
					bins = append(bins, v.SecretBinary)
				}
			}
		}
		diff(t, "strings", []string{val(1), val(2), val(3), val(4), val(9)}, strs)
		diff(t, "binaries", [][]byte{{0, 1, 2, 0xff}}, bins)
	})

	t.Run("Snapshot is the same on every call", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		first, err := e.s.Snapshot()
		e.must(err)
		for range 20 {
			again, err := e.s.Snapshot()
			e.must(err)
			if !bytes.Equal(first, again) {
				t.Fatalf("two snapshots of one state differ")
			}
		}
	})

	t.Run("Snapshot of equal states built in different orders gives equal bytes", func(t *testing.T) {
		build := func(order []string) []byte {
			clk := &fakeClock{t: t0}
			s := New(Options{Now: clk.Now, Rand: zeroReader{}})
			for _, n := range order {
				_, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr(n), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1))})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range order {
					_, err := s.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr(n), Tags: tags(k, "v")})
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			b, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		a, b := build([]string{"x", "y", "z"}), build([]string{"z", "x", "y"})
		if !bytes.Equal(a, b) {
			t.Errorf("snapshots differ:\n%s\n---\n%s", a, b)
		}
	})

	t.Run("Snapshot JSON keys are sorted", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		snap, err := e.s.Snapshot()
		e.must(err)
		// Re-encoding through a map sorts keys; with the same indentation the
		// bytes must not change.
		var generic any
		e.must(json.Unmarshal(snap, &generic))
		again, err := json.MarshalIndent(generic, "", "  ")
		e.must(err)
		if !bytes.Equal(snap, append(again, '\n')) {
			t.Errorf("snapshot keys are not in sorted order:\n%s\n---\n%s", snap, again)
		}
	})

	t.Run("Snapshot leaves out secrets whose deletion date has passed", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		e.clk.Advance(8 * 24 * time.Hour)
		snap, err := e.s.Snapshot()
		e.must(err)
		if bytes.Contains(snap, []byte("doomed")) {
			t.Errorf("purged secret in snapshot")
		}
	})

	t.Run("Load store keeps working: labels move, ARNs keep their suffix, new ARNs use the snapshot's region", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		snap, err := e.s.Snapshot()
		e.must(err)
		l := &env{t: t, clk: e.clk}
		l.s, err = Load(Options{Now: e.clk.Now, Rand: seeded(3)}, snap)
		e.must(err)
		l.put("app/db", 5)
		diff(t, "stages", map[string][]string{"v4": {"AWSPENDING", "blue"}, "v3": {"AWSPREVIOUS"}, "v5": {"AWSCURRENT"}}, l.stages("app/db"))
		diff(t, "ARN", e.arn("app/db"), l.arn("app/db"))
		out := l.create("new", 1)
		if !strings.HasPrefix(*out.ARN, "arn:aws:secretsmanager:us-east-1:000000000000:secret:new-") {
			t.Errorf("ARN %s", *out.ARN)
		}
	})

	t.Run("Load takes region and account from the snapshot", func(t *testing.T) {
		s := New(Options{Region: "eu-west-3", Account: "123456789012", Rand: seeded(1)})
		_, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("x")})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		l, err := Load(Options{}, snap)
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("y")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(*out.ARN, "arn:aws:secretsmanager:eu-west-3:123456789012:secret:y-") {
			t.Errorf("ARN %s", *out.ARN)
		}
		if _, err := Load(Options{Region: "us-east-1"}, snap); err == nil {
			t.Errorf("Load accepted a snapshot of another region")
		}
		if _, err := Load(Options{Account: "000000000000"}, snap); err == nil {
			t.Errorf("Load accepted a snapshot of another account")
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLoadRefusesBrokenSnapshots(t *testing.T) {
	e := newEnv(t)
	richState(e)
	good, err := e.s.Snapshot()
	e.must(err)
	edit := func(f func(s *snapshotJSON)) []byte {
		var s snapshotJSON
		if err := json.Unmarshal(good, &s); err != nil {
			t.Fatal(err)
		}
		f(&s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	db := func(s *snapshotJSON) *secretJSON {
		for i := range s.Secrets {
			if s.Secrets[i].Name == "app/db" {
				return &s.Secrets[i]
			}
		}
		t.Fatal("no app/db")
		return nil
	}
	cases := []struct {
		name string
		snap []byte
	}{
		{"Load refuses bytes that are not JSON", []byte("{not json")},
		{"Load refuses unknown fields", bytes.Replace(good, []byte(`"format"`), []byte(`"colour": 1, "format"`), 1)},
		{"Load refuses trailing data", append(slicesClone(good), []byte("{}")...)},
		{"Load refuses another format version", edit(func(s *snapshotJSON) { s.Format = 2 })},
		{"Load refuses a snapshot without region", edit(func(s *snapshotJSON) { s.Region = "" })},
		{"Load refuses a label on two versions", edit(func(s *snapshotJSON) {
			v := db(s).Versions
			v[0].VersionStages = append(v[0].VersionStages, "AWSCURRENT")
		})},
		{"Load refuses a secret with versions but no AWSCURRENT", edit(func(s *snapshotJSON) {
			for i := range db(s).Versions {
				db(s).Versions[i].VersionStages = nil
			}
		})},
		{"Load refuses a version with both string and binary", edit(func(s *snapshotJSON) { db(s).Versions[0].SecretBinary = []byte("s3cr3t") })},
		{"Load refuses a version without a value", edit(func(s *snapshotJSON) { db(s).Versions[0].SecretString = nil })},
		{"Load refuses a version with 21 labels", edit(func(s *snapshotJSON) { db(s).Versions[0].VersionStages = labels(21) })},
		{"Load refuses duplicate version ids", edit(func(s *snapshotJSON) { db(s).Versions[1].VersionID = db(s).Versions[0].VersionID })},
		{"Load refuses an ARN that does not fit the name", edit(func(s *snapshotJSON) { db(s).ARN = strings.Replace(db(s).ARN, "app/db", "app/dc", 1) })},
		{"Load refuses an ARN with a bad suffix", edit(func(s *snapshotJSON) { db(s).ARN = db(s).ARN[:len(db(s).ARN)-1] + "#" })},
		{"Load refuses an invalid name", edit(func(s *snapshotJSON) { db(s).Name = "a b" })},
		{"Load refuses duplicate secret names", edit(func(s *snapshotJSON) { s.Secrets = append(s.Secrets, *db(s)) })},
		{"Load refuses duplicate tag keys", edit(func(s *snapshotJSON) { db(s).Tags = append(db(s).Tags, db(s).Tags[0]) })},
		{"Load refuses a secret without a creation date", edit(func(s *snapshotJSON) { db(s).CreatedDate = time.Time{} })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{}, tc.snap)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a secret value: %v", err)
			}
		})
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestOutputsDoNotAliasState(t *testing.T) {
	e := newEnv(t)
	richState(e)
	// Collect one output of every operation, then snapshot, scribble over
	// every output, and snapshot again.
	id := ptr("app/db")
	create, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("c"), SecretString: ptr(val(1)), Tags: tags("k", "v")})
	e.must(err)
	put := e.put("app/db", 5, "x", "y")
	get, err := e.get(&sm.GetSecretValueInput{SecretId: id})
	e.must(err)
	getBin, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("bin")})
	e.must(err)
	desc := e.describe("app/db")
	versions, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: ptr(true)})
	e.must(err)
	list, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
	e.must(err)
	stage, err := e.s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: id, VersionStage: ptr("z"), MoveToVersionId: ptr(tok(1))})
	e.must(err)
	restore, err := e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("c")})
	e.must(err)
	before, err := e.s.Snapshot()
	e.must(err)

	scribbleStr := func(p *string) {
		if p != nil {
			*p = "scribbled"
		}
	}
	scribbleTime := func(p *time.Time) {
		if p != nil {
			*p = time.Time{}
		}
	}
	scribbleStages := func(st []string) {
		for i := range st {
			st[i] = "scribbled"
		}
	}
	scribbleTags := func(ts []types.Tag) {
		for _, t := range ts {
			scribbleStr(t.Key)
			scribbleStr(t.Value)
		}
	}
	scribbleMap := func(m map[string][]string) {
		for _, st := range m {
			scribbleStages(st)
		}
	}
	scribbleStr(create.ARN)
	scribbleStr(create.Name)
	scribbleStr(create.VersionId)
	scribbleStr(put.ARN)
	scribbleStr(put.VersionId)
	scribbleStages(put.VersionStages)
	scribbleStr(get.SecretString)
	scribbleStr(get.VersionId)
	scribbleStr(get.ARN)
	scribbleStages(get.VersionStages)
	scribbleTime(get.CreatedDate)
	getBin.SecretBinary[0] = 'X'
	scribbleStr(desc.ARN)
	scribbleStr(desc.Description)
	scribbleStr(desc.KmsKeyId)
	scribbleTags(desc.Tags)
	scribbleMap(desc.VersionIdsToStages)
	scribbleTime(desc.CreatedDate)
	scribbleTime(desc.LastChangedDate)
	scribbleTime(desc.LastAccessedDate)
	for _, v := range versions.Versions {
		scribbleStr(v.VersionId)
		scribbleStages(v.VersionStages)
		scribbleTime(v.CreatedDate)
		scribbleTime(v.LastAccessedDate)
	}
	for _, s := range list.SecretList {
		scribbleStr(s.ARN)
		scribbleStr(s.Name)
		scribbleStr(s.Description)
		scribbleTags(s.Tags)
		scribbleMap(s.SecretVersionsToStages)
		scribbleTime(s.DeletedDate)
		scribbleTime(s.CreatedDate)
	}
	scribbleStr(stage.ARN)
	scribbleStr(restore.Name)

	after, err := e.s.Snapshot()
	e.must(err)
	if !bytes.Equal(before, after) {
		t.Errorf("changing outputs changed the store:\n%s\n---\n%s", before, after)
	}
}

func TestInputsAreNotRetained(t *testing.T) {
	e := newEnv(t)
	bin := []byte("s3cr3t-bin")
	desc := "description"
	ts := tags("k", "v")
	_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretBinary: bin, Description: &desc, Tags: ts, ClientRequestToken: ptr(tok(1))})
	e.must(err)
	stages := []string{"AWSCURRENT", "b"}
	str := val(2)
	_, err = e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), SecretString: &str, VersionStages: stages, ClientRequestToken: ptr(tok(2))})
	e.must(err)
	before, err := e.s.Snapshot()
	e.must(err)
	bin[0] = 'X'
	desc = "changed"
	*ts[0].Value = "changed"
	stages[1] = "changed"
	str = "changed"
	after, err := e.s.Snapshot()
	e.must(err)
	if !bytes.Equal(before, after) {
		t.Errorf("changing inputs changed the store")
	}
}

func TestRandFailureIsInternalServiceError(t *testing.T) {
	s := New(Options{Rand: failingReader{}})
	_, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s")})
	var ise *types.InternalServiceError
	if !errors.As(err, &ise) {
		t.Fatalf("err = %v, want InternalServiceError", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestConcurrentUseKeepsInvariants(t *testing.T) {
	e := newEnv(t)
	e.create("s", 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				n := 1000 + g*100 + i
				switch i % 5 {
				case 0:
					_, _ = e.putErr("s", n)
				case 1:
					_, _ = e.putErr("s", n, "AWSPENDING")
				case 2:
					_, _ = e.s.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: ptr("s")})
				case 3:
					d, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")})
					if err != nil {
						continue
					}
					var cur, pend string
					for id, st := range d.VersionIdsToStages {
						for _, l := range st {
							switch l {
							case "AWSCURRENT":
								cur = id
							case "AWSPENDING":
								pend = id
							}
						}
					}
					if pend != "" && pend != cur {
						_, _ = e.s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
							SecretId: ptr("s"), VersionStage: ptr("AWSCURRENT"), MoveToVersionId: &pend, RemoveFromVersionId: &cur,
						})
					}
				case 4:
					_, _ = e.s.ListSecrets(ctx, &sm.ListSecretsInput{})
					_, _ = e.s.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, e.s)
	n := len(e.versionIDs("s", true))
	if n == 0 || n > maxVersions {
		t.Errorf("%d versions", n)
	}
}

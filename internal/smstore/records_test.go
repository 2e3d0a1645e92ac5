package smstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// changed summarizes Changes: each name, and whether it still exists.
func changed(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	recs, err := s.Changes()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, r := range recs {
		out[r.Name] = r.Data != nil
	}
	return out
}

func TestChanges(t *testing.T) {
	cases := []struct {
		name string
		op   func(e *env) error
		want map[string]bool // name: exists
	}{
		{"CreateSecret is a change of the new secret", func(e *env) error { e.create("c", 9); return nil }, map[string]bool{"c": true}},
		{"PutSecretValue", func(e *env) error { _, err := e.putErr("a", 3); return err }, map[string]bool{"a": true}},
		{"PutSecretValue repeated with its token and value changes nothing", func(e *env) error {
			_, err := e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("a"), SecretString: ptr(val(2)), ClientRequestToken: ptr(tok(2))})
			return err
		}, map[string]bool{}},
		{"a refused PutSecretValue changes nothing", func(e *env) error {
			_, err := e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("a"), SecretString: ptr(val(3)), ClientRequestToken: ptr(tok(2))})
			if err == nil {
				t.Error("PutSecretValue with a used token and another value succeeded")
			}
			return nil
		}, map[string]bool{}},
		{"UpdateSecretVersionStage", func(e *env) error {
			_, err := e.s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: ptr("a"), VersionStage: ptr("AWSCURRENT"),
				MoveToVersionId: ptr(tok(1)), RemoveFromVersionId: ptr(tok(2))})
			return err
		}, map[string]bool{"a": true}},
		{"UpdateSecretVersionStage removing a label", func(e *env) error {
			_, err := e.s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: ptr("a"), VersionStage: ptr("AWSPREVIOUS"),
				RemoveFromVersionId: ptr(tok(1))})
			return err
		}, map[string]bool{"a": true}},
		{"TagResource", func(e *env) error {
			_, err := e.s.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr("b"), Tags: tags("k", "v")})
			return err
		}, map[string]bool{"b": true}},
		{"UntagResource", func(e *env) error {
			_, err := e.s.UntagResource(ctx, &sm.UntagResourceInput{SecretId: ptr("b"), TagKeys: []string{"k"}})
			return err
		}, map[string]bool{"b": true}},
		{"DeleteSecret with a recovery window", func(e *env) error { e.delete("b", 7); return nil }, map[string]bool{"b": true}},
		{"DeleteSecret without recovery removes the record", func(e *env) error {
			_, err := e.s.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: ptr("b"), ForceDeleteWithoutRecovery: ptr(true)})
			return err
		}, map[string]bool{"b": false}},
		{"RestoreSecret", func(e *env) error {
			e.delete("b", 7)
			_, _ = e.s.Changes()
			_, err := e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("b")})
			return err
		}, map[string]bool{"b": true}},
		{"RestoreSecret of a secret not deleted changes nothing", func(e *env) error {
			_, err := e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("b")})
			return err
		}, map[string]bool{}},
		{"the purge of a secret whose deletion date passed removes its record", func(e *env) error {
			e.delete("b", 7)
			_, _ = e.s.Changes()
			e.clk.Advance(8 * 24 * time.Hour)
			_, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{})
			return err
		}, map[string]bool{"b": false}},
		{"the first GetSecretValue of a version on a day", func(e *env) error {
			_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("a"), VersionStage: ptr("AWSPREVIOUS")})
			return err
		}, map[string]bool{"a": true}},
		{"a second GetSecretValue of a version on a day changes nothing", func(e *env) error {
			_, _ = e.get(&sm.GetSecretValueInput{SecretId: ptr("a")})
			_, _ = e.s.Changes()
			e.clk.Advance(time.Hour)
			_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("a")})
			return err
		}, map[string]bool{}},
		{"reads change nothing", func(e *env) error {
			if _, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("a")}); err != nil {
				return err
			}
			_, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("a")})
			return err
		}, map[string]bool{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("a"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1))})
			e.must(err)
			e.put("a", 2)
			e.create("b", 5)
			diff(t, "changes of the setup", map[string]bool{"a": true, "b": true}, changed(t, e.s))
			e.must(tc.op(e))
			diff(t, "changes", tc.want, changed(t, e.s))
			diff(t, "changes after Changes", map[string]bool{}, changed(t, e.s))
		})
	}
}

// pairs gives records as LoadRecords takes them.
func pairs(recs []Record) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, r := range recs {
			if !yield([]byte(r.Name), r.Data) {
				return
			}
		}
	}
}

func TestRecords(t *testing.T) {
	t.Run("Header and Records load back to the same state", func(t *testing.T) {
		e := newEnv(t)
		richState(e)
		recs, err := e.s.Records()
		e.must(err)
		loaded, err := LoadRecords(Options{Now: e.clk.Now, Rand: seeded(2)}, e.s.Header(), pairs(recs))
		e.must(err)
		a, err := e.s.Snapshot()
		e.must(err)
		b, err := loaded.Snapshot()
		e.must(err)
		if !bytes.Equal(a, b) {
			t.Errorf("loading the records changed the state:\n%s\n---\n%s", a, b)
		}
		diff(t, "changes right after LoadRecords", map[string]bool{}, changed(t, loaded))
		checkInvariants(t, loaded)
	})

	t.Run("the changes, applied to the records, give the state", func(t *testing.T) {
		e := newEnv(t)
		kept := map[string][]byte{}
		apply := func() {
			recs, err := e.s.Changes()
			e.must(err)
			for _, r := range recs {
				if r.Data == nil {
					delete(kept, r.Name)
				} else {
					kept[r.Name] = r.Data
				}
			}
		}
		richState(e)
		apply()
		e.put("app/db", 5)
		_, err := e.s.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: ptr("bin"), ForceDeleteWithoutRecovery: ptr(true)})
		e.must(err)
		e.clk.Advance(8 * 24 * time.Hour) // "doomed" is purged
		apply()
		var recs []Record
		for n, d := range kept {
			recs = append(recs, Record{Name: n, Data: d})
		}
		loaded, err := LoadRecords(Options{Now: e.clk.Now}, e.s.Header(), pairs(recs))
		e.must(err)
		a, err := e.s.Snapshot()
		e.must(err)
		b, err := loaded.Snapshot()
		e.must(err)
		if !bytes.Equal(a, b) {
			t.Errorf("the records kept from Changes differ from the store:\n%s\n---\n%s", a, b)
		}
		diff(t, "names", []string{"app/db", "empty"}, (&env{t: t, s: loaded}).names())
	})

	t.Run("Format tells a snapshot from a header", func(t *testing.T) {
		e := newEnv(t)
		snap, err := e.s.Snapshot()
		e.must(err)
		for _, tc := range []struct {
			data []byte
			want int
		}{{snap, SnapshotFormat}, {e.s.Header(), RecordsFormat}} {
			got, err := Format(tc.data)
			e.must(err)
			diff(t, "format", tc.want, got)
		}
		for _, bad := range []string{`{"format":`, `{"region":"x"}`, `[]`} {
			if _, err := Format([]byte(bad)); err == nil {
				t.Errorf("Format(%s) succeeded", bad)
			}
		}
	})
}

func TestLoadRecordsErrors(t *testing.T) {
	e := newEnv(t)
	e.create("a", 1)
	recs, err := e.s.Records()
	e.must(err)
	good := recs[0].Data
	header := string(e.s.Header())
	withSecret := func(f func(m map[string]any)) []byte {
		var m map[string]any
		e.must(json.Unmarshal(good, &m))
		f(m)
		b, err := json.Marshal(m)
		e.must(err)
		return b
	}
	cases := []struct {
		name    string
		opts    Options
		header  string
		key     string
		data    []byte
		wantErr string
	}{
		{"a header that is not JSON", Options{}, `{"format":2,`, "a", good, "not a header"},
		{"a header of the snapshot format", Options{}, strings.Replace(header, `"format":2`, `"format":1`, 1), "a", good, "header format 1, want 2"},
		{"a header of another account", Options{Account: "111111111111"}, header, "a", good, `header is of account "000000000000"`},
		{"a header of another region", Options{Region: "eu-west-1"}, header, "a", good, `header is of region "us-east-1"`},
		{"a record that is not JSON", Options{}, header, "a", []byte(`{"name":`), `record "a": not a secret`},
		{"a record under another name", Options{}, header, "b", good, `record "b" holds the secret "a"`},
		{"a record with an unknown member", Options{}, header, "a", withSecret(func(m map[string]any) { m["extra"] = 1 }), `record "a": not a secret`},
		{"a record whose ARN names another secret", Options{}, header, "a",
			withSecret(func(m map[string]any) { m["arn"] = strings.Replace(m["arn"].(string), ":a-", ":z-", 1) }), `record "a": ARN`},
		{"a record without AWSCURRENT", Options{}, header, "a", withSecret(func(m map[string]any) {
			m["versions"].([]any)[0].(map[string]any)["versionStages"] = []string{}
		}), `record "a": AWSCURRENT`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRecords(tc.opts, []byte(tc.header), pairs([]Record{{Name: tc.key, Data: tc.data}}))
			if err == nil {
				t.Fatal("LoadRecords succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
}

// TestPurgeOrder: the purge skips its scan until the earliest deletion
// date passes; whatever order secrets are scheduled, restored and
// scheduled again in, each is purged once its own date has passed, and no
// sooner.
func TestPurgeOrder(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name  string
		setup func(e *env)
		// after each advance (from t0), the names left
		steps []time.Duration
		want  [][]string
	}{
		{"a later date scheduled first", func(e *env) { e.delete("a", 30); e.delete("b", 7) },
			[]time.Duration{7 * day, 8 * day, 31 * day}, [][]string{{"a", "b", "c"}, {"a", "c"}, {"c"}}},
		{"restored and scheduled again later", func(e *env) {
			e.delete("a", 7)
			_, err := e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("a")})
			e.must(err)
			e.delete("a", 30)
		}, []time.Duration{8 * day, 30 * day, 31 * day}, [][]string{{"a", "b", "c"}, {"a", "b", "c"}, {"b", "c"}}},
		{"loaded from a snapshot", func(e *env) {
			e.delete("b", 7)
			snap, err := e.s.Snapshot()
			e.must(err)
			e.s, err = Load(Options{Now: e.clk.Now, Rand: seeded(3)}, snap)
			e.must(err)
		}, []time.Duration{7 * day, 8 * day}, [][]string{{"a", "b", "c"}, {"a", "c"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for i, n := range []string{"a", "b", "c"} {
				e.create(n, i)
			}
			tc.setup(e)
			start := e.clk.Now()
			for i, d := range tc.steps {
				e.clk.Advance(start.Add(d).Sub(e.clk.Now()))
				diff(t, fmt.Sprintf("secrets after %v", d), tc.want[i], e.names())
			}
		})
	}
}

// TestListSecretsPagesAtScale: over 300 secrets created, changed and read
// at random times, every sort and page size lists each matching secret
// exactly once, in the order asked for (date, then name, then ARN), the
// pages cut where the requested size says.
func TestListSecretsPagesAtScale(t *testing.T) {
	e := newEnv(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	const n = 300
	tagged := map[string]bool{}
	for i := range n {
		name := fmt.Sprintf("fleet/s-%03d", rnd.IntN(1000)*1000+i)
		var tg []types.Tag
		if rnd.IntN(2) == 0 {
			tg = tags("rotor:provider", "random")
			tagged[name] = true
		}
		_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr(name), SecretString: ptr(val(i)), Tags: tg})
		e.must(err)
		e.clk.Advance(time.Duration(rnd.IntN(3)) * time.Hour) // ties too
		if rnd.IntN(3) == 0 {
			e.put(name, i+n)
		}
		if rnd.IntN(3) == 0 {
			_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr(name)})
			e.must(err)
		}
	}
	for _, by := range types.SortByType("").Values() {
		for _, order := range []types.SortOrderType{types.SortOrderTypeAsc, types.SortOrderTypeDesc} {
			for _, size := range []int32{1, 7, 100} {
				for _, filtered := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s %s by %d filtered %v", by, order, size, filtered), func(t *testing.T) {
						in := &sm.ListSecretsInput{SortBy: by, SortOrder: order, MaxResults: ptr(size)}
						if filtered {
							in.Filters = []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{"rotor:provider"}}}
						}
						var all []types.SecretListEntry
						for pages := 0; ; pages++ {
							out, err := e.s.ListSecrets(ctx, in)
							e.must(err)
							if out.NextToken != nil && len(out.SecretList) != int(size) {
								t.Fatalf("page %d: %d secrets and a NextToken, want %d", pages, len(out.SecretList), size)
							}
							all = append(all, out.SecretList...)
							if out.NextToken == nil {
								break
							}
							if pages > n {
								t.Fatalf("more than %d pages of %d", n, size)
							}
							in.NextToken = out.NextToken
						}
						want := n
						if filtered {
							want = len(tagged)
						}
						seen := map[string]bool{}
						for i, s := range all {
							if seen[*s.Name] || filtered && !tagged[*s.Name] {
								t.Fatalf("%s listed twice or not matching", *s.Name)
							}
							seen[*s.Name] = true
							if i == 0 {
								continue
							}
							date := func(x types.SecretListEntry) time.Time {
								switch by {
								case types.SortByTypeLastChangedDate:
									return *x.LastChangedDate
								case types.SortByTypeLastAccessedDate:
									return timeOrZero(x.LastAccessedDate)
								case types.SortByTypeCreatedDate:
									return *x.CreatedDate
								}
								return time.Time{} // by name
							}
							p := all[i-1]
							c := cmp.Or(date(p).Compare(date(s)), strings.Compare(*p.Name, *s.Name), strings.Compare(*p.ARN, *s.ARN))
							if order == types.SortOrderTypeDesc {
								c = -c
							}
							if c >= 0 {
								t.Fatalf("%s listed after %s", *s.Name, *p.Name)
							}
						}
						if len(all) != want {
							t.Errorf("%d secrets listed, want %d", len(all), want)
						}
					})
				}
			}
		}
	}
}

package smtest

import (
	"fmt"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func tagCases() []testCase {
	tagged := func(e *env) {
		_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), Tags: tags("a", "1", "b", "2")})
		e.must(err)
		e.clk.Advance(time.Hour)
	}
	tagID := func(id func(e *env) string, ts []types.Tag) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if _, err := e.api.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr(id(e)), Tags: ts}); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	byName := func(*env) string { return "s" }
	// tag sends Tags even when empty, so that the rule is checked by the
	// service rather than by the SDK's required-member check.
	tag := func(ts ...types.Tag) func(e *env) (any, error) { return tagID(byName, append([]types.Tag{}, ts...)) }
	untag := func(keys ...string) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if _, err := e.api.UntagResource(ctx, &sm.UntagResourceInput{SecretId: ptr("s"), TagKeys: append([]string{}, keys...)}); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	changedAt := func(d time.Time) func(e *env) {
		return func(e *env) { diff(e.t, "LastChangedDate", d, *e.describe("s").LastChangedDate) }
	}
	fifty := func(e *env) {
		var kv []string
		for i := range 50 {
			kv = append(kv, fmt.Sprintf("k%02d", i), "v")
		}
		_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), Tags: tags(kv...)})
		e.must(err)
	}
	scheduled := func(e *env) { tagged(e); e.del("s", 0) }
	return []testCase{
		{
			name: "TagResource adds tags and overwrites the value of an existing key, and changes LastChangedDate", setup: tagged,
			do: tag(tags("b", "two", "c", "3")...), want: want(tags("a", "1", "b", "two", "c", "3")),
			after: changedAt(T0.Add(time.Hour)),
		},
		{
			name: "TagResource accepts the secret's ARN", setup: tagged,
			do: tagID(func(e *env) string { return e.arn("s") }, tags("c", "3")), want: want(tags("a", "1", "b", "2", "c", "3")),
		},
		{
			name: "TagResource accepts a tag without a value as an empty value", setup: tagged,
			do: tag(types.Tag{Key: ptr("c")}), want: want(tags("a", "1", "b", "2", "c", "")),
		},
		{
			name: "TagResource up to 50 tags is accepted", setup: fifty,
			do: func(e *env) (any, error) {
				out, err := tag(tags("k00", "new")...)(e)
				if err != nil {
					return nil, err
				}
				return len(out.([]types.Tag)), nil
			},
			want: want(50),
		},
		{
			name: "TagResource beyond 50 tags is LimitExceededException and changes nothing", setup: fifty,
			do: tag(tags("k00", "changed", "k50", "v")...), wantErr: errLimit,
			after: func(e *env) {
				ts := e.describe("s").Tags
				diff(e.t, "tag count and first tag", []any{50, types.Tag{Key: ptr("k00"), Value: ptr("v")}}, []any{len(ts), ts[0]})
			},
		},
		{name: "TagResource with an empty key is InvalidParameterException", setup: tagged, do: tag(types.Tag{Key: ptr(""), Value: ptr("x")}), wantErr: errInvalidParam},
		{
			name: "TagResource with a key starting with aws: is InvalidParameterException", setup: tagged,
			do: tag(tags("aws:x", "y")...), wantErr: errInvalidParam, after: changedAt(T0),
		},
		{name: "TagResource without tags is InvalidParameterException", setup: tagged, do: tag(), wantErr: errInvalidParam},
		{
			name: "TagResource on a secret scheduled for deletion is InvalidRequestException", setup: scheduled,
			do: tag(tags("c", "3")...), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "TagResource on an unknown secret is ResourceNotFoundException", do: tag(tags("c", "3")...), wantErr: errNotFound},
		{
			name: "UntagResource removes tags by key and ignores keys the secret does not have, and changes LastChangedDate", setup: tagged,
			do: untag("a", "zzz"), want: want(tags("b", "2")), after: changedAt(T0.Add(time.Hour)),
		},
		{name: "UntagResource removing every tag leaves none", setup: tagged, do: untag("a", "b"), want: want([]types.Tag(nil))},
		{name: "UntagResource without keys is InvalidParameterException", setup: tagged, do: untag(), wantErr: errInvalidParam},
		{name: "UntagResource on a secret scheduled for deletion is InvalidRequestException", setup: scheduled, do: untag("a"), wantErr: errInvalidRequest},
	}
}

func deleteCases() []testCase {
	one := func(e *env) { e.create("s", 1); e.clk.Advance(time.Hour) }
	scheduled := func(e *env) { one(e); e.del("s", 7) }
	del := func(in *sm.DeleteSecretInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if in.SecretId == nil {
				in.SecretId = ptr("s")
			}
			return errOnly(e.api.DeleteSecret(ctx, in))
		}
	}
	deleted := func(days int) func(e *env) any {
		return func(e *env) any {
			return &sm.DeleteSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), DeletionDate: ptr(T0.Add(time.Hour + time.Duration(days)*24*time.Hour))}
		}
	}
	gone := func(e *env) {
		_, err := e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")})
		checkErr(e.t, err, errNotFound, "")
	}
	refused := func(call func(e *env) error) func(e *env) (any, error) {
		return func(e *env) (any, error) { return nil, call(e) }
	}
	return []testCase{
		{
			name: "DeleteSecret uses a 30-day recovery window by default", setup: one, do: del(&sm.DeleteSecretInput{}), want: deleted(30),
			after: func(e *env) {
				d := e.describe("s")
				diff(e.t, "DeletedDate, LastChangedDate", []*time.Time{ptr(T0.Add(time.Hour + 30*24*time.Hour)), ptr(T0.Add(time.Hour))}, []*time.Time{d.DeletedDate, d.LastChangedDate})
			},
		},
		{name: "DeleteSecret accepts a 7-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7))}), want: deleted(7)},
		{name: "DeleteSecret accepts a 30-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(30))}), want: deleted(30)},
		{name: "DeleteSecret refuses a 6-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(6))}), wantErr: errInvalidParam},
		{name: "DeleteSecret refuses a 31-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(31))}), wantErr: errInvalidParam},
		{
			name: "DeleteSecret with both RecoveryWindowInDays and ForceDeleteWithoutRecovery is InvalidParameterException", setup: one,
			do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7)), ForceDeleteWithoutRecovery: ptr(true)}), wantErr: errInvalidParam,
			after: func(e *env) { diff(e.t, "DeletedDate", (*time.Time)(nil), e.describe("s").DeletedDate) },
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery false uses the recovery window", setup: one,
			do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7)), ForceDeleteWithoutRecovery: ptr(false)}), want: deleted(7),
		},
		{
			name: "DeleteSecret schedules deletion: DescribeSecret shows DeletedDate and LastChangedDate", setup: one,
			do: func(e *env) (any, error) {
				e.del("s", 7)
				d := e.describe("s")
				return []*time.Time{d.DeletedDate, d.LastChangedDate}, nil
			},
			want: want([]*time.Time{ptr(T0.Add(time.Hour + 7*24*time.Hour)), ptr(T0.Add(time.Hour))}),
		},
		{
			name: "DeleteSecret ForceDeleteWithoutRecovery removes the secret at once and frees the name", setup: one,
			do: func(e *env) (any, error) {
				arn := e.arn("s")
				out, err := e.api.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: ptr("s"), ForceDeleteWithoutRecovery: ptr(true)})
				if err != nil {
					return nil, err
				}
				return []any{*out.ARN == arn, *out.Name, *out.DeletionDate}, nil
			},
			want:  want([]any{true, "s", T0.Add(time.Hour)}),
			after: func(e *env) { gone(e); e.create("s", 2) },
		},
		{
			name: "DeleteSecret of a secret already scheduled for deletion is InvalidRequestException", setup: scheduled,
			do: del(&sm.DeleteSecretInput{}), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{
			name: "DeleteSecret ForceDeleteWithoutRecovery of a secret scheduled for deletion removes it", setup: scheduled,
			do: del(&sm.DeleteSecretInput{ForceDeleteWithoutRecovery: ptr(true)}), after: gone,
		},
		{
			name: "DeleteSecret ForceDeleteWithoutRecovery of an unknown secret succeeds",
			do:   del(&sm.DeleteSecretInput{SecretId: ptr("nope"), ForceDeleteWithoutRecovery: ptr(true)}),
			want: want(&sm.DeleteSecretOutput{Name: ptr("nope"), DeletionDate: ptr(T0)}),
		},
		{name: "DeleteSecret of an unknown secret is ResourceNotFoundException", do: del(&sm.DeleteSecretInput{}), wantErr: errNotFound},
		{
			name: "DeleteSecret scheduled secret refuses GetSecretValue", setup: scheduled,
			do: refused(func(e *env) error {
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				return err
			}),
			wantErr: errInvalidRequest, wantMsg: "because it was marked for deletion",
		},
		{
			name: "DeleteSecret scheduled secret refuses PutSecretValue", setup: scheduled,
			do: refused(func(e *env) error { _, err := e.putErr("s", 2); return err }), wantErr: errInvalidRequest,
		},
		{
			name: "DeleteSecret scheduled secret refuses UpdateSecretVersionStage", setup: scheduled,
			do: refused(func(e *env) error { _, err := e.stage("s", "x", 1, 0); return err }), wantErr: errInvalidRequest,
		},
		{
			name: "DeleteSecret scheduled secret still exists when the clock reaches DeletedDate", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(7 * 24 * time.Hour)
				return *e.describe("s").Name, nil
			},
			want: want("s"),
		},
		{
			name: "DeleteSecret scheduled secret is gone once the clock passes DeletedDate, and its name is free", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(7*24*time.Hour + time.Millisecond)
				return errOnly(e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")}))
			},
			wantErr: errNotFound,
			after: func(e *env) {
				out, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
				e.must(err)
				diff(e.t, "listed", 0, len(out.SecretList))
				e.create("s", 2)
			},
		},
		{
			name: "RestoreSecret cancels the deletion and the value is readable again", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(time.Hour)
				return errOnly(e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")}))
			},
			want: func(e *env) any { return &sm.RestoreSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s")} },
			after: func(e *env) {
				d := e.describe("s")
				diff(e.t, "DeletedDate, LastChangedDate", []*time.Time{nil, ptr(T0.Add(2 * time.Hour))}, []*time.Time{d.DeletedDate, d.LastChangedDate})
				out, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				e.must(err)
				diff(e.t, "value", val(1), *out.SecretString)
				e.clk.Advance(30 * 24 * time.Hour)
				e.describe("s") // no longer purged
			},
		},
		{
			name: "RestoreSecret on a secret not scheduled for deletion is a no-op success", setup: one,
			do: func(e *env) (any, error) {
				if _, err := e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")}); err != nil {
					return nil, err
				}
				return e.describe("s").LastChangedDate, nil
			},
			want: want(ptr(T0)),
		},
		{
			name: "RestoreSecret after the secret was purged is ResourceNotFoundException", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(8 * 24 * time.Hour)
				return errOnly(e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")}))
			},
			wantErr: errNotFound,
		},
		{
			name: "RestoreSecret of an unknown secret is ResourceNotFoundException",
			do: func(e *env) (any, error) {
				return errOnly(e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")}))
			},
			wantErr: errNotFound,
		},
	}
}

func timestampCases() []testCase {
	return []testCase{
		{
			name: "every date field of every output is the clock's at millisecond precision",
			do: func(e *env) (any, error) {
				e.create("s", 1) // T0
				e.clk.Advance(90*time.Minute + 123*time.Millisecond + 456*time.Microsecond)
				e.put("s", 2) // t1
				e.clk.Advance(26 * time.Hour)
				g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s"), VersionStage: ptr("AWSPREVIOUS")})
				if err != nil {
					return nil, err
				}
				vs := e.versionEntries("s", false)
				ls, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{})
				if err != nil {
					return nil, err
				}
				del := e.del("s", 7)
				d := e.describe("s")
				return map[string]any{
					"GetSecretValue.CreatedDate":           *g.CreatedDate,
					"ListSecretVersionIds.CreatedDate":     []time.Time{*vs[0].CreatedDate, *vs[1].CreatedDate},
					"ListSecretVersionIds.LastAccessed":    []*time.Time{vs[0].LastAccessedDate, vs[1].LastAccessedDate},
					"ListSecrets.CreatedDate":              *ls.SecretList[0].CreatedDate,
					"ListSecrets.LastChangedDate":          *ls.SecretList[0].LastChangedDate,
					"ListSecrets.LastAccessedDate":         *ls.SecretList[0].LastAccessedDate,
					"DeleteSecret.DeletionDate":            *del.DeletionDate,
					"DescribeSecret.DeletedDate":           *d.DeletedDate,
					"DescribeSecret.LastChangedDate (del)": *d.LastChangedDate,
				}, nil
			},
			want: func(*env) any {
				t1 := T0.Add(90*time.Minute + 123*time.Millisecond)
				t2 := T0.Add(90*time.Minute + 123*time.Millisecond + 456*time.Microsecond + 26*time.Hour).Truncate(time.Millisecond)
				day := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
				return map[string]any{
					"GetSecretValue.CreatedDate":           T0,
					"ListSecretVersionIds.CreatedDate":     []time.Time{t1, T0},
					"ListSecretVersionIds.LastAccessed":    []*time.Time{nil, &day},
					"ListSecrets.CreatedDate":              T0,
					"ListSecrets.LastChangedDate":          t1,
					"ListSecrets.LastAccessedDate":         day,
					"DeleteSecret.DeletionDate":            t2.Add(7 * 24 * time.Hour),
					"DescribeSecret.DeletedDate":           t2.Add(7 * 24 * time.Hour),
					"DescribeSecret.LastChangedDate (del)": t2,
				}
			},
		},
	}
}

// world reads everything a client can see, values first (GetSecretValue
// changes LastAccessedDate) and then metadata.
func world(e *env) any {
	e.t.Helper()
	secrets := func() []types.SecretListEntry {
		var all []types.SecretListEntry
		p := sm.NewListSecretsPaginator(e.api, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			e.must(err)
			all = append(all, out.SecretList...)
		}
		return all
	}
	values := map[string]any{}
	for _, s := range secrets() {
		for _, v := range e.versionEntries(*s.ARN, true) {
			g, err := e.get(&sm.GetSecretValueInput{SecretId: s.ARN, VersionId: v.VersionId})
			if s.DeletedDate != nil {
				checkErr(e.t, err, errInvalidRequest, "")
				continue
			}
			e.must(err)
			values[*s.Name+" "+*v.VersionId] = []any{g.SecretString, g.SecretBinary}
		}
	}
	list := secrets()
	versions := map[string]any{}
	for _, s := range list {
		versions[*s.Name] = e.versionEntries(*s.ARN, true)
	}
	return []any{list, versions, values}
}

func restartCases() []testCase {
	return []testCase{
		{
			name: "a restart keeps everything a client can see, and the restarted implementation keeps serving and keeping data", restart: true,
			setup: func(e *env) {
				_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{
					Name: ptr("app/db"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1)),
					Description: ptr("main <db> & co"), KmsKeyId: ptr("alias/k"), Tags: tags("a", "1", "b", "2"),
				})
				e.must(err)
				e.clk.Advance(time.Hour)
				e.put("app/db", 2)
				e.put("app/db", 3, "AWSPENDING")
				_, err = e.stage("app/db", "AWSCURRENT", 3, 2)
				e.must(err)
				_, err = e.api.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr("app/db"), Tags: tags("c", "3")})
				e.must(err)
				_, err = e.api.UntagResource(ctx, &sm.UntagResourceInput{SecretId: ptr("app/db"), TagKeys: []string{"a"}})
				e.must(err)
				_, err = e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("bin"), SecretBinary: []byte{0, 1, 2, 0xff}})
				e.must(err)
				e.create("doomed", 1)
				e.del("doomed", 7)
				e.create("gone", 1)
				_, err = e.api.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: ptr("gone"), ForceDeleteWithoutRecovery: ptr(true)})
				e.must(err)
				e.create("saved", 1)
				e.del("saved", 7)
				_, err = e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("saved")})
				e.must(err)
				e.createEmpty("empty")
				e.clk.Advance(24 * time.Hour)
				_, err = e.get(&sm.GetSecretValueInput{SecretId: ptr("app/db")})
				e.must(err)
			},
			do: func(e *env) (any, error) {
				before := world(e)
				e.restart()
				diff(e.t, "what clients see after the restart", before, world(e))

				_, err := e.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("app/db"), SecretString: ptr(val(4)), ClientRequestToken: ptr(tok(4))})
				e.must(err)
				e.restart()
				g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("app/db")})
				e.must(err)
				// The value of a secret scheduled for deletion was kept too.
				_, err = e.api.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("doomed")})
				e.must(err)
				doomed, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("doomed")})
				e.must(err)
				return []string{*g.VersionId, *g.SecretString, *doomed.SecretString}, nil
			},
			want: want([]string{tok(4), val(4), val(1)}),
		},
	}
}

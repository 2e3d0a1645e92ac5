package smstore

import (
	"fmt"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func tags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i < len(kv); i += 2 {
		out = append(out, types.Tag{Key: ptr(kv[i]), Value: ptr(kv[i+1])})
	}
	return out
}

func TestTags(t *testing.T) {
	tagged := func(e *env) {
		_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), Tags: tags("a", "1", "b", "2")})
		e.must(err)
		e.clk.Advance(time.Hour)
	}
	tag := func(ts ...types.Tag) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if _, err := e.s.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr("s"), Tags: ts}); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	untag := func(keys ...string) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if _, err := e.s.UntagResource(ctx, &sm.UntagResourceInput{SecretId: ptr("s"), TagKeys: keys}); err != nil {
				return nil, err
			}
			return e.describe("s").Tags, nil
		}
	}
	want := func(kv ...string) func(*env) any { return func(*env) any { return tags(kv...) } }
	changedAt := func(d time.Time) func(e *env) {
		return func(e *env) { diff(e.t, "LastChangedDate", d, *e.describe("s").LastChangedDate) }
	}
	fifty := func(e *env) {
		var ts []types.Tag
		for i := range 50 {
			ts = append(ts, types.Tag{Key: ptr(fmt.Sprintf("k%02d", i)), Value: ptr("v")})
		}
		_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), Tags: ts})
		e.must(err)
	}
	runCases(t, []opCase{
		{
			name: "TagResource adds tags and overwrites the value of an existing key", setup: tagged,
			do: tag(tags("b", "two", "c", "3")...), want: want("a", "1", "b", "two", "c", "3"),
			after: changedAt(t0.Add(time.Hour)),
		},
		{
			name: "TagResource accepts a tag without a value as an empty value", setup: tagged,
			do: tag(types.Tag{Key: ptr("c")}), want: want("a", "1", "b", "2", "c", ""),
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
			want: func(*env) any { return 50 },
		},
		{
			name: "TagResource beyond 50 tags is LimitExceededException and changes nothing", setup: fifty,
			do: tag(tags("k00", "changed", "k50", "v")...), wantErr: errLimit,
			after: func(e *env) {
				ts := e.describe("s").Tags
				diff(e.t, "tag count", 50, len(ts))
				diff(e.t, "first tag", types.Tag{Key: ptr("k00"), Value: ptr("v")}, ts[0])
			},
		},
		{name: "TagResource with an empty key is InvalidParameterException", setup: tagged, do: tag(types.Tag{Key: ptr(""), Value: ptr("x")}), wantErr: errInvalidParam},
		{name: "TagResource with a key starting with aws: is InvalidParameterException", setup: tagged, do: tag(tags("aws:x", "y")...), wantErr: errInvalidParam},
		{name: "TagResource without tags is InvalidParameterException", setup: tagged, do: tag(), wantErr: errInvalidParam},
		{
			name:  "TagResource on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { tagged(e); e.delete("s", 0) },
			do:    tag(tags("c", "3")...), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "TagResource on an unknown secret is ResourceNotFoundException", do: tag(tags("c", "3")...), wantErr: errNotFound},
		{
			name: "UntagResource removes tags by key and ignores keys the secret does not have", setup: tagged,
			do: untag("a", "zzz"), want: want("b", "2"), after: changedAt(t0.Add(time.Hour)),
		},
		{
			name: "UntagResource removing every tag leaves none", setup: tagged,
			do: untag("a", "b"), want: func(*env) any { return []types.Tag(nil) },
		},
		{name: "UntagResource without keys is InvalidParameterException", setup: tagged, do: untag(), wantErr: errInvalidParam},
		{
			name:  "UntagResource on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { tagged(e); e.delete("s", 0) },
			do:    untag("a"), wantErr: errInvalidRequest,
		},
	})
}

func TestDeleteAndRestore(t *testing.T) {
	one := func(e *env) { e.create("s", 1); e.clk.Advance(time.Hour) }
	del := func(in *sm.DeleteSecretInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if in.SecretId == nil {
				in.SecretId = ptr("s")
			}
			return e.s.DeleteSecret(ctx, in)
		}
	}
	deleted := func(days int) func(e *env) any {
		return func(e *env) any {
			return &sm.DeleteSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), DeletionDate: ptr(t0.Add(time.Hour + time.Duration(days)*24*time.Hour))}
		}
	}
	gone := func(e *env) {
		_, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")})
		checkErr(e.t, err, errNotFound, "")
	}
	scheduled := func(e *env) { one(e); e.delete("s", 7) }
	refused := func(call func(e *env) error) func(e *env) (any, error) {
		return func(e *env) (any, error) { return nil, call(e) }
	}
	runCases(t, []opCase{
		{name: "DeleteSecret uses a 30-day recovery window by default", setup: one, do: del(&sm.DeleteSecretInput{}), want: deleted(30)},
		{name: "DeleteSecret accepts a 7-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7))}), want: deleted(7)},
		{name: "DeleteSecret accepts a 30-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(30))}), want: deleted(30)},
		{name: "DeleteSecret refuses a 6-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(6))}), wantErr: errInvalidParam},
		{name: "DeleteSecret refuses a 31-day recovery window", setup: one, do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(31))}), wantErr: errInvalidParam},
		{
			name: "DeleteSecret with both RecoveryWindowInDays and ForceDeleteWithoutRecovery is InvalidParameterException", setup: one,
			do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7)), ForceDeleteWithoutRecovery: ptr(true)}), wantErr: errInvalidParam,
			after: func(e *env) { e.describe("s") },
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery false uses the recovery window", setup: one,
			do: del(&sm.DeleteSecretInput{RecoveryWindowInDays: ptr(int64(7)), ForceDeleteWithoutRecovery: ptr(false)}), want: deleted(7),
		},
		{
			name: "DeleteSecret schedules deletion: DescribeSecret shows DeletedDate and LastChangedDate", setup: one,
			do: func(e *env) (any, error) {
				e.delete("s", 7)
				d := e.describe("s")
				return []*time.Time{d.DeletedDate, d.LastChangedDate}, nil
			},
			want: func(*env) any { return []*time.Time{ptr(t0.Add(time.Hour + 7*24*time.Hour)), ptr(t0.Add(time.Hour))} },
		},
		{
			name: "DeleteSecret ForceDeleteWithoutRecovery removes the secret at once and frees the name", setup: one,
			do: func(e *env) (any, error) {
				arn := e.arn("s")
				out, err := e.s.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: ptr("s"), ForceDeleteWithoutRecovery: ptr(true)})
				if err != nil {
					return nil, err
				}
				return []any{*out.ARN == arn, *out.Name, *out.DeletionDate}, nil
			},
			want: func(e *env) any { return []any{true, "s", t0.Add(time.Hour)} },
			after: func(e *env) {
				gone(e)
				e.create("s", 2)
			},
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
			want: func(*env) any { return &sm.DeleteSecretOutput{Name: ptr("nope"), DeletionDate: ptr(t0)} },
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
			do: refused(func(e *env) error { return e.stage("s", "x", 1, 0) }), wantErr: errInvalidRequest,
		},
		{
			name: "DeleteSecret scheduled secret still exists when the clock reaches DeletedDate", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(7 * 24 * time.Hour)
				return *e.describe("s").Name, nil
			},
			want: func(*env) any { return "s" },
		},
		{
			name: "DeleteSecret scheduled secret is gone once the clock passes DeletedDate", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(7*24*time.Hour + time.Millisecond)
				return e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")})
			},
			wantErr: errNotFound,
			after: func(e *env) {
				out, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
				e.must(err)
				diff(e.t, "listed", 0, len(out.SecretList))
				e.create("s", 2) // the name is free again
			},
		},
		{
			name: "RestoreSecret cancels the deletion and the value is readable again", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(time.Hour)
				return e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")})
			},
			want: func(e *env) any { return &sm.RestoreSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s")} },
			after: func(e *env) {
				d := e.describe("s")
				if d.DeletedDate != nil {
					e.t.Errorf("DeletedDate = %v after restore", d.DeletedDate)
				}
				diff(e.t, "LastChangedDate", t0.Add(2*time.Hour), *d.LastChangedDate)
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
				if _, err := e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")}); err != nil {
					return nil, err
				}
				return e.describe("s").LastChangedDate, nil
			},
			want: func(*env) any { return ptr(t0) },
		},
		{
			name: "RestoreSecret after the secret was purged is ResourceNotFoundException", setup: scheduled,
			do: func(e *env) (any, error) {
				e.clk.Advance(8 * 24 * time.Hour)
				return e.s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr("s")})
			},
			wantErr: errNotFound,
		},
	})
}

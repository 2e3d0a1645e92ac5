package smtest

import (
	"slices"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"
)

func putCases() []testCase {
	putOut := func(n int, stages ...string) func(e *env) any {
		return func(e *env) any {
			return &sm.PutSecretValueOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(n)), VersionStages: stages}
		}
	}
	do := func(n int, stages ...string) func(e *env) (any, error) {
		return func(e *env) (any, error) { return errOnly(e.putErr("s", n, stages...)) }
	}
	putIn := func(in *sm.PutSecretValueInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			in.SecretId = ptr("s")
			return errOnly(e.api.PutSecretValue(ctx, in))
		}
	}
	one := func(e *env) { e.create("s", 1) }
	two := func(e *env) { e.create("s", 1); e.put("s", 2) }
	return []testCase{
		{
			name:  "PutSecretValue without VersionStages moves AWSCURRENT to the new version and AWSPREVIOUS to the old one",
			setup: one, do: do(2), want: putOut(2, "AWSCURRENT"),
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name:  "PutSecretValue without VersionStages takes AWSPREVIOUS from the version that had it, which is left deprecated",
			setup: two, do: do(3), want: putOut(3, "AWSCURRENT"),
			after: func(e *env) {
				stagesAre(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}})(e)
				diff(e.t, "versions with deprecated", [][]string{{"v3", "AWSCURRENT"}, {"v2", "AWSPREVIOUS"}, {"v1"}}, e.versions("s", true))
			},
		},
		{
			name:  "PutSecretValue with VersionStages attaches exactly those labels and leaves AWSCURRENT alone",
			setup: two, do: do(3, "AWSPENDING"), want: putOut(3, "AWSPENDING"),
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}}),
		},
		{
			name:  "PutSecretValue with VersionStages removes those labels from other versions",
			setup: func(e *env) { two(e); e.put("s", 3, "AWSPENDING", "mine") },
			do:    do(4, "AWSPENDING"), want: putOut(4, "AWSPENDING"),
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"mine"}, "v4": {"AWSPENDING"}}),
		},
		{
			name:  "PutSecretValue with VersionStages including AWSCURRENT also moves AWSPREVIOUS",
			setup: two, do: do(3, "AWSCURRENT", "blue"), want: putOut(3, "AWSCURRENT", "blue"),
			after: stagesAre(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT", "blue"}}),
		},
		{
			name:  "PutSecretValue with VersionStages naming AWSPREVIOUS keeps it on the new version",
			setup: two, do: do(3, "AWSPREVIOUS"), want: putOut(3, "AWSPREVIOUS"),
			after: stagesAre(map[string][]string{"v2": {"AWSCURRENT"}, "v3": {"AWSPREVIOUS"}}),
		},
		{name: "PutSecretValue merges duplicate VersionStages", setup: one, do: do(2, "B", "A", "B"), want: putOut(2, "A", "B")},
		{
			name:  "PutSecretValue same token same value is ignored",
			setup: func(e *env) { two(e); e.put("s", 3, "AWSPENDING"); e.clk.Advance(time.Hour) },
			do:    do(3, "AWSCURRENT"), want: putOut(3, "AWSPENDING"),
			after: func(e *env) {
				stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}})(e)
				diff(e.t, "versions with deprecated", []string{tok(3), tok(2), tok(1)}, e.versionIDs("s", true))
				diff(e.t, "LastChangedDate", T0, *e.describe("s").LastChangedDate)
			},
		},
		{
			name:  "PutSecretValue same token same value returns the version's current labels after they moved",
			setup: func(e *env) { two(e); e.put("s", 3) },
			do:    do(2), want: putOut(2, "AWSPREVIOUS"),
			after: stagesAre(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name:    "PutSecretValue same token different value is ResourceExistsException",
			setup:   two,
			do:      putIn(&sm.PutSecretValueInput{ClientRequestToken: ptr(tok(2)), SecretString: ptr(val(99))}),
			wantErr: errExists, wantMsg: "can't modify an existing version",
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name:    "PutSecretValue same token with the value as binary instead of string is ResourceExistsException",
			setup:   two,
			do:      putIn(&sm.PutSecretValueInput{ClientRequestToken: ptr(tok(2)), SecretBinary: []byte(val(2))}),
			wantErr: errExists,
		},
		{
			name:    "PutSecretValue without SecretString or SecretBinary is InvalidParameterException",
			setup:   one,
			do:      putIn(&sm.PutSecretValueInput{ClientRequestToken: ptr(tok(2))}),
			wantErr: errInvalidParam,
		},
		{
			name:  "PutSecretValue accepts an empty SecretString as a value",
			setup: one,
			do:    putIn(&sm.PutSecretValueInput{ClientRequestToken: ptr(tok(2)), SecretString: ptr("")}),
			want:  putOut(2, "AWSCURRENT"),
			after: func(e *env) {
				g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				e.must(err)
				diff(e.t, "value", []any{ptr(""), []byte(nil)}, []any{g.SecretString, g.SecretBinary})
			},
		},
		{name: "PutSecretValue with 20 labels is accepted", setup: one, do: do(2, labels(20)...), want: putOut(2, labels(20)...)},
		{
			name: "PutSecretValue with 21 labels is LimitExceededException", setup: one,
			do: do(2, labels(21)...), wantErr: errLimit,
			after: stagesAre(map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name: "PutSecretValue with an empty VersionStages list is InvalidParameterException", setup: one,
			do:      putIn(&sm.PutSecretValueInput{SecretString: ptr(val(2)), VersionStages: []string{}}),
			wantErr: errInvalidParam,
		},
		{name: "PutSecretValue with an empty label is InvalidParameterException", setup: one, do: do(2, "AWSPENDING", ""), wantErr: errInvalidParam},
		{
			name:  "PutSecretValue creating the first version always attaches AWSCURRENT",
			setup: func(e *env) { e.createEmpty("s") },
			do:    do(1, "AWSPENDING"), want: putOut(1, "AWSCURRENT", "AWSPENDING"),
		},
		{
			name:  "PutSecretValue creating the first version without VersionStages attaches AWSCURRENT only",
			setup: func(e *env) { e.createEmpty("s") },
			do:    do(1), want: putOut(1, "AWSCURRENT"),
		},
		{
			// Through the SDK the client fills in a fresh token each call;
			// the store generates the id itself.
			name: "PutSecretValue without a token gets a fresh UUIDv4 version id each call, so each call is a new version", setup: one,
			do: func(e *env) (any, error) {
				var ids []string
				var ok []bool
				for range 2 {
					out, err := e.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), SecretString: ptr(val(2))})
					if err != nil {
						return nil, err
					}
					u, err := uuid.Parse(*out.VersionId)
					ok = append(ok, err == nil && u.Version() == 4)
					ids = append(ids, *out.VersionId)
				}
				return []any{ok, ids[0] != ids[1], e.versions("s", true)}, nil
			},
			want: func(e *env) any {
				ids := e.versionIDs("s", true)
				return []any{[]bool{true, true}, true, [][]string{{ids[0], "AWSCURRENT"}, {ids[1], "AWSPREVIOUS"}, {"v1"}}}
			},
		},
		{
			name:  "PutSecretValue on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { one(e); e.del("s", 0) },
			do:    do(2), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "PutSecretValue on an unknown secret is ResourceNotFoundException", do: do(1), wantErr: errNotFound},
		{
			name:  "PutSecretValue updates LastChangedDate",
			setup: func(e *env) { one(e); e.clk.Advance(time.Hour) },
			do: func(e *env) (any, error) {
				e.put("s", 2)
				d := e.describe("s")
				return []*time.Time{d.CreatedDate, d.LastChangedDate, d.LastAccessedDate, d.DeletedDate}, nil
			},
			want: want([]*time.Time{ptr(T0), ptr(T0.Add(time.Hour)), nil, nil}),
		},
		{
			name:  "PutSecretValue keeps at most 100 versions by deleting the oldest deprecated ones",
			setup: one,
			do: func(e *env) (any, error) {
				for n := 2; n <= 105; n++ {
					e.put("s", n)
				}
				return e.versionIDs("s", true), nil
			},
			want: func(*env) any {
				var ids []string
				for n := 105; n >= 6; n-- {
					ids = append(ids, tok(n))
				}
				return ids
			},
		},
		{
			name:  "PutSecretValue never deletes a labelled version to stay under 100",
			setup: one,
			do: func(e *env) (any, error) {
				e.put("s", 2, "keep-2")
				for n := 3; n <= 102; n++ {
					e.put("s", n)
				}
				ids := e.versionIDs("s", true)
				return []any{len(ids), slices.Contains(ids, tok(2)), slices.Contains(ids, tok(1))}, nil
			},
			want: want([]any{100, true, false}),
		},
		{
			name:  "PutSecretValue lets labelled versions exceed 100 when none is deprecated",
			setup: one,
			do: func(e *env) (any, error) {
				for n := 2; n <= 101; n++ {
					e.put("s", n, "L"+tok(n))
				}
				return len(e.versionIDs("s", true)), nil
			},
			want: want(101),
		},
	}
}

func stageCases() []testCase {
	// rot: v1 AWSPREVIOUS, v2 AWSCURRENT, v3 AWSPENDING.
	rot := func(e *env) {
		e.create("s", 1)
		e.put("s", 2)
		e.put("s", 3, "AWSPENDING")
	}
	stage := func(label string, moveTo, removeFrom int) func(e *env) (any, error) {
		return func(e *env) (any, error) { return errOnly(e.stage("s", label, moveTo, removeFrom)) }
	}
	unchanged := stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}})
	changedAt := func(d time.Time) func(e *env) {
		return func(e *env) { diff(e.t, "LastChangedDate", d, *e.describe("s").LastChangedDate) }
	}
	return []testCase{
		{
			name: "UpdateSecretVersionStage returns the secret's ARN and Name", setup: rot,
			do:   stage("blue", 1, 0),
			want: func(e *env) any { return &sm.UpdateSecretVersionStageOutput{ARN: ptr(e.arn("s")), Name: ptr("s")} },
		},
		{
			name: "UpdateSecretVersionStage attaches a label no version has without RemoveFromVersionId", setup: rot,
			do:    stage("blue", 1, 0),
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS", "blue"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage requires RemoveFromVersionId when label is elsewhere", setup: rot,
			do: stage("AWSPENDING", 1, 0), wantErr: errInvalidParam,
			wantMsg: "Staging label AWSPENDING is currently attached to version " + tok(3),
			after:   unchanged,
		},
		{
			name: "UpdateSecretVersionStage requires RemoveFromVersionId to name the version that has the label", setup: rot,
			do: stage("AWSPENDING", 1, 2), wantErr: errInvalidParam, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage moves a label from RemoveFromVersionId to MoveToVersionId", setup: rot,
			do:    stage("AWSPENDING", 1, 3),
			after: stagesAre(map[string][]string{"v1": {"AWSPENDING", "AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left", setup: rot,
			do: stage("AWSCURRENT", 3, 2),
			after: func(e *env) {
				stagesAre(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT", "AWSPENDING"}})(e)
				g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				e.must(err)
				diff(e.t, "AWSCURRENT value", val(3), *g.SecretString)
			},
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT back onto AWSPREVIOUS swaps the two labels", setup: rot,
			do:    stage("AWSCURRENT", 1, 2),
			after: stagesAre(map[string][]string{"v1": {"AWSCURRENT"}, "v2": {"AWSPREVIOUS"}, "v3": {"AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage moving AWSPREVIOUS does not move AWSCURRENT", setup: rot,
			do:    stage("AWSPREVIOUS", 3, 1),
			after: stagesAre(map[string][]string{"v2": {"AWSCURRENT"}, "v3": {"AWSPENDING", "AWSPREVIOUS"}}),
		},
		{
			name: "UpdateSecretVersionStage moving a label onto the version that already has it is a no-op", setup: rot,
			do: stage("AWSCURRENT", 2, 0), after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage no-op move accepts RemoveFromVersionId naming that same version", setup: rot,
			do: stage("AWSCURRENT", 2, 2), after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage no-op move still refuses a RemoveFromVersionId without the label", setup: rot,
			do: stage("AWSCURRENT", 2, 1), wantErr: errInvalidParam, wantMsg: "not attached to version " + tok(1),
			after: unchanged,
		},
		{
			name:  "UpdateSecretVersionStage no-op move does not change LastChangedDate",
			setup: func(e *env) { rot(e); e.clk.Advance(time.Hour) },
			do:    stage("AWSCURRENT", 2, 0),
			after: func(e *env) { unchanged(e); changedAt(T0)(e) },
		},
		{
			name: "UpdateSecretVersionStage removes a label without MoveToVersionId", setup: rot,
			do:    stage("AWSPENDING", 0, 3),
			after: stagesAre(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name: "UpdateSecretVersionStage removing the last label deprecates the version, which stays readable by VersionId", setup: rot,
			do: stage("AWSPENDING", 0, 3),
			after: func(e *env) {
				diff(e.t, "listed", []string{tok(2), tok(1)}, e.versionIDs("s", false))
				diff(e.t, "listed with deprecated", []string{tok(3), tok(2), tok(1)}, e.versionIDs("s", true))
				out, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s"), VersionId: ptr(tok(3))})
				e.must(err)
				diff(e.t, "value", val(3), *out.SecretString)
			},
		},
		{
			name:  "UpdateSecretVersionStage labelling a deprecated version makes DescribeSecret show it again",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2); e.put("s", 3) },
			do:    stage("blue", 1, 0),
			after: stagesAre(map[string][]string{"v1": {"blue"}, "v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name: "UpdateSecretVersionStage removing a label RemoveFromVersionId does not have is InvalidParameterException", setup: rot,
			do: stage("AWSPENDING", 0, 1), wantErr: errInvalidParam, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage removing a label no version has is InvalidParameterException", setup: rot,
			do: stage("nobody", 0, 1), wantErr: errInvalidParam, after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage removing AWSCURRENT without moving it is InvalidParameterException", setup: rot,
			do: stage("AWSCURRENT", 0, 2), wantErr: errInvalidParam, wantMsg: "AWSCURRENT", after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage MoveToVersionId naming no version is ResourceNotFoundException", setup: rot,
			do: stage("AWSPENDING", 9, 3), wantErr: errNotFound, wantMsg: "version " + tok(9) + " not found", after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage RemoveFromVersionId naming no version is ResourceNotFoundException", setup: rot,
			do: stage("AWSPENDING", 1, 9), wantErr: errNotFound, wantMsg: "version " + tok(9) + " not found", after: unchanged,
		},
		{
			name: "UpdateSecretVersionStage requires MoveToVersionId or RemoveFromVersionId", setup: rot,
			do: stage("AWSPENDING", 0, 0), wantErr: errInvalidParam, after: unchanged,
		},
		{
			name:  "UpdateSecretVersionStage refuses a 21st label on a version",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2, labels(20)...) },
			do:    stage("one-more", 2, 0), wantErr: errLimit,
		},
		{
			name:  "UpdateSecretVersionStage moving AWSCURRENT onto a version with 20 labels including AWSPREVIOUS is allowed",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2, append(labels(19), "AWSPREVIOUS")...) },
			do:    stage("AWSCURRENT", 2, 1),
			after: func(e *env) {
				m := e.stages("s")
				diff(e.t, "v1", []string{"AWSPREVIOUS"}, m["v1"])
				diff(e.t, "labels on v2", 20, len(m["v2"]))
			},
		},
		{
			name: "UpdateSecretVersionStage by ARN works like by name", setup: rot,
			do: func(e *env) (any, error) {
				return errOnly(e.api.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
					SecretId: ptr(e.arn("s")), VersionStage: ptr("AWSCURRENT"), MoveToVersionId: ptr(tok(3)), RemoveFromVersionId: ptr(tok(2)),
				}))
			},
			after: stagesAre(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT", "AWSPENDING"}}),
		},
		{
			name:  "UpdateSecretVersionStage on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { rot(e); e.del("s", 0) },
			do:    stage("AWSPENDING", 0, 3), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "UpdateSecretVersionStage on an unknown secret is ResourceNotFoundException", do: stage("X", 1, 0), wantErr: errNotFound},
		{
			name:  "UpdateSecretVersionStage updates LastChangedDate",
			setup: func(e *env) { rot(e); e.clk.Advance(time.Hour) },
			do:    stage("AWSPENDING", 0, 3),
			after: changedAt(T0.Add(time.Hour)),
		},
		{
			// The rotation protocol's switchover and rollback, step by step.
			name:  "UpdateSecretVersionStage supports the rotation protocol: switchover, then rollback",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2, "AWSPENDING") },
			do: func(e *env) (any, error) {
				for _, st := range []struct {
					label            string
					moveTo, fromWhom int
				}{{"AWSCURRENT", 2, 1}, {"AWSPENDING", 0, 2}} {
					if _, err := e.stage("s", st.label, st.moveTo, st.fromWhom); err != nil {
						return nil, err
					}
				}
				switched := e.stages("s")
				for _, st := range []struct {
					label            string
					moveTo, fromWhom int
				}{{"AWSCURRENT", 1, 2}, {"ROTOR_FAILED", 2, 0}} {
					if _, err := e.stage("s", st.label, st.moveTo, st.fromWhom); err != nil {
						return nil, err
					}
				}
				return []map[string][]string{switched, e.stages("s")}, nil
			},
			want: want([]map[string][]string{
				{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}},
				{"v1": {"AWSCURRENT"}, "v2": {"AWSPREVIOUS", "ROTOR_FAILED"}},
			}),
		},
	}
}

func listVersionsCases() []testCase {
	// four: v1 deprecated, v2 AWSPREVIOUS, v3 AWSCURRENT, v4 AWSPENDING,
	// created an hour apart.
	four := func(e *env) {
		e.create("s", 1)
		for n := 2; n <= 4; n++ {
			e.clk.Advance(time.Hour)
			if n == 4 {
				e.put("s", n, "AWSPENDING")
			} else {
				e.put("s", n)
			}
		}
	}
	entry := func(n int, stages ...string) types.SecretVersionsListEntry {
		return types.SecretVersionsListEntry{VersionId: ptr(tok(n)), VersionStages: stages, CreatedDate: ptr(T0.Add(time.Duration(n-1) * time.Hour))}
	}
	list := func(in *sm.ListSecretVersionIdsInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if in.SecretId == nil {
				in.SecretId = ptr("s")
			}
			return errOnly(e.api.ListSecretVersionIds(ctx, in))
		}
	}
	listed := func(entries ...types.SecretVersionsListEntry) func(e *env) any {
		return func(e *env) any {
			return &sm.ListSecretVersionIdsOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), Versions: entries}
		}
	}
	firstToken := func(e *env, in *sm.ListSecretVersionIdsInput) *string {
		e.t.Helper()
		out, err := e.api.ListSecretVersionIds(ctx, in)
		e.must(err)
		if out.NextToken == nil {
			e.t.Fatal("no NextToken on a first page")
		}
		return out.NextToken
	}
	return []testCase{
		{
			name: "ListSecretVersionIds lists versions with a label, newest first", setup: four,
			do:   list(&sm.ListSecretVersionIdsInput{}),
			want: listed(entry(4, "AWSPENDING"), entry(3, "AWSCURRENT"), entry(2, "AWSPREVIOUS")),
		},
		{
			name: "ListSecretVersionIds IncludeDeprecated adds versions without a label", setup: four,
			do:   list(&sm.ListSecretVersionIdsInput{IncludeDeprecated: ptr(true)}),
			want: listed(entry(4, "AWSPENDING"), entry(3, "AWSCURRENT"), entry(2, "AWSPREVIOUS"), entry(1)),
		},
		{
			name:  "ListSecretVersionIds orders versions created at the same instant newest first",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2, "a"); e.put("s", 3, "b") },
			do:    func(e *env) (any, error) { return e.versionIDs("s", false), nil },
			want:  want([]string{tok(3), tok(2), tok(1)}),
		},
		{
			name: "ListSecretVersionIds entries have VersionId, VersionStages, CreatedDate and LastAccessedDate",
			setup: func(e *env) {
				four(e)
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s"), VersionId: ptr(tok(1))})
				e.must(err)
			},
			do: func(e *env) (any, error) {
				out, err := e.api.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(2))})
				if err != nil {
					return nil, err
				}
				return []any{out.ARN, out.Name, out.Versions, out.NextToken != nil}, nil
			},
			want: func(e *env) any {
				return []any{ptr(e.arn("s")), ptr("s"), []types.SecretVersionsListEntry{entry(4, "AWSPENDING"), entry(3, "AWSCURRENT")}, true}
			},
			after: func(e *env) {
				in := &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(2))}
				in.NextToken = firstToken(e, in)
				out, err := e.api.ListSecretVersionIds(ctx, in)
				e.must(err)
				v1 := entry(1)
				v1.LastAccessedDate = ptr(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC))
				diff(e.t, "last page", []any{[]types.SecretVersionsListEntry{entry(2, "AWSPREVIOUS"), v1}, (*string)(nil)}, []any{out.Versions, out.NextToken})
			},
		},
		{
			name: "ListSecretVersionIds MaxResults pages with NextToken until the end, also through the SDK paginator", setup: four,
			do: func(e *env) (any, error) {
				var pages [][]string
				in := &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(3))}
				for {
					out, err := e.api.ListSecretVersionIds(ctx, in)
					if err != nil {
						return nil, err
					}
					var p []string
					for _, v := range out.Versions {
						p = append(p, shortID(*v.VersionId))
					}
					pages = append(pages, p)
					if out.NextToken == nil {
						break
					}
					in.NextToken = out.NextToken
				}
				var paginated [][]string
				pg := sm.NewListSecretVersionIdsPaginator(e.api, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(2))})
				for pg.HasMorePages() {
					out, err := pg.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					var p []string
					for _, v := range out.Versions {
						p = append(p, shortID(*v.VersionId))
					}
					paginated = append(paginated, p)
				}
				return [][][]string{pages, paginated}, nil
			},
			want: want([][][]string{{{"v4", "v3", "v2"}, {"v1"}}, {{"v4", "v3"}, {"v2", "v1"}}}),
		},
		{
			// Pages continue after the last version returned, not at an
			// offset: a version put between two pages (listed newest
			// first, so at the front) neither repeats nor hides one.
			name: "ListSecretVersionIds pages over a version put between two pages without repeating one", setup: four,
			do: func(e *env) (any, error) {
				in := &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(2))}
				first, err := e.api.ListSecretVersionIds(ctx, in)
				if err != nil {
					return nil, err
				}
				e.clk.Advance(time.Hour)
				e.put("s", 5, "AWSPENDING")
				in.NextToken = first.NextToken
				second, err := e.api.ListSecretVersionIds(ctx, in)
				if err != nil {
					return nil, err
				}
				var ids []string
				for _, v := range append(first.Versions, second.Versions...) {
					ids = append(ids, shortID(*v.VersionId))
				}
				return ids, nil
			},
			want: want([]string{"v4", "v3", "v2", "v1"}),
		},
		{
			name: "ListSecretVersionIds MaxResults 0 is InvalidParameterException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{MaxResults: ptr(int32(0))}), wantErr: errInvalidParam,
		},
		{
			name: "ListSecretVersionIds MaxResults 101 is InvalidParameterException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{MaxResults: ptr(int32(101))}), wantErr: errInvalidParam,
		},
		{
			name: "ListSecretVersionIds with a malformed NextToken is InvalidNextTokenException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{NextToken: ptr("not-a-token!")}), wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with an empty NextToken is InvalidNextTokenException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{NextToken: ptr("")}), wantErr: errNextToken,
		},
		{
			name:  "ListSecretVersionIds with another secret's NextToken is InvalidNextTokenException",
			setup: func(e *env) { four(e); e.create("t", 1) },
			do: func(e *env) (any, error) {
				next := firstToken(e, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), MaxResults: ptr(int32(1))})
				return list(&sm.ListSecretVersionIdsInput{SecretId: ptr("t"), NextToken: next})(e)
			},
			wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with a NextToken from a call without IncludeDeprecated is InvalidNextTokenException", setup: four,
			do: func(e *env) (any, error) {
				next := firstToken(e, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), MaxResults: ptr(int32(1))})
				return list(&sm.ListSecretVersionIdsInput{IncludeDeprecated: ptr(true), NextToken: next})(e)
			},
			wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with a ListSecrets NextToken is InvalidNextTokenException", setup: four,
			do: func(e *env) (any, error) {
				e.create("t", 1)
				out, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(1))})
				e.must(err)
				return list(&sm.ListSecretVersionIdsInput{NextToken: out.NextToken})(e)
			},
			wantErr: errNextToken,
		},
		{
			name:  "ListSecretVersionIds works on a secret scheduled for deletion",
			setup: func(e *env) { four(e); e.del("s", 0) },
			do:    func(e *env) (any, error) { return e.versions("s", false), nil },
			want:  want([][]string{{"v4", "AWSPENDING"}, {"v3", "AWSCURRENT"}, {"v2", "AWSPREVIOUS"}}),
		},
		{name: "ListSecretVersionIds on an unknown secret is ResourceNotFoundException", do: list(&sm.ListSecretVersionIdsInput{}), wantErr: errNotFound},
	}
}

package smstore

import (
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestUpdateSecretVersionStage(t *testing.T) {
	// rot: v1 AWSPREVIOUS, v2 AWSCURRENT, v3 AWSPENDING.
	rot := func(e *env) {
		e.create("s", 1)
		e.put("s", 2)
		e.put("s", 3, "AWSPENDING")
	}
	stage := func(label string, moveTo, removeFrom int) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			in := &sm.UpdateSecretVersionStageInput{SecretId: ptr("s"), VersionStage: &label}
			if moveTo != 0 {
				in.MoveToVersionId = ptr(tok(moveTo))
			}
			if removeFrom != 0 {
				in.RemoveFromVersionId = ptr(tok(removeFrom))
			}
			return e.s.UpdateSecretVersionStage(ctx, in)
		}
	}
	stagesAfter := func(want map[string][]string) func(e *env) {
		return func(e *env) { diff(e.t, "stages", want, e.stages("s")) }
	}
	unchanged := stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}})
	runCases(t, []opCase{
		{
			name: "UpdateSecretVersionStage returns the secret's ARN and Name", setup: rot,
			do:   stage("blue", 1, 0),
			want: func(e *env) any { return &sm.UpdateSecretVersionStageOutput{ARN: ptr(e.arn("s")), Name: ptr("s")} },
		},
		{
			name: "UpdateSecretVersionStage attaches a label no version has without RemoveFromVersionId", setup: rot,
			do:    stage("blue", 1, 0),
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS", "blue"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}}),
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
			after: stagesAfter(map[string][]string{"v1": {"AWSPENDING", "AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left", setup: rot,
			do:    stage("AWSCURRENT", 3, 2),
			after: stagesAfter(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT", "AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT back onto AWSPREVIOUS swaps the two labels", setup: rot,
			do:    stage("AWSCURRENT", 1, 2),
			after: stagesAfter(map[string][]string{"v1": {"AWSCURRENT"}, "v2": {"AWSPREVIOUS"}, "v3": {"AWSPENDING"}}),
		},
		{
			name: "UpdateSecretVersionStage moving AWSPREVIOUS does not move AWSCURRENT", setup: rot,
			do:    stage("AWSPREVIOUS", 3, 1),
			after: stagesAfter(map[string][]string{"v2": {"AWSCURRENT"}, "v3": {"AWSPENDING", "AWSPREVIOUS"}}),
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
			after: func(e *env) { diff(e.t, "LastChangedDate", t0, *e.describe("s").LastChangedDate) },
		},
		{
			name: "UpdateSecretVersionStage removes a label without MoveToVersionId", setup: rot,
			do:    stage("AWSPENDING", 0, 3),
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
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
			name: "UpdateSecretVersionStage requires VersionStage", setup: rot,
			do: func(e *env) (any, error) {
				return e.s.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: ptr("s"), MoveToVersionId: ptr(tok(1))})
			},
			wantErr: errInvalidParam,
		},
		{
			name: "UpdateSecretVersionStage refuses a 21st label on a version",
			setup: func(e *env) {
				e.create("s", 1)
				e.put("s", 2, labels(20)...)
			},
			do: stage("one-more", 2, 0), wantErr: errLimit,
		},
		{
			name: "UpdateSecretVersionStage moving AWSCURRENT onto a version with 20 labels including AWSPREVIOUS is allowed",
			setup: func(e *env) {
				e.create("s", 1)
				e.put("s", 2, append(labels(19), "AWSPREVIOUS")...)
			},
			do: stage("AWSCURRENT", 2, 1),
			after: func(e *env) {
				m := e.stages("s")
				diff(e.t, "v1", []string{"AWSPREVIOUS"}, m["v1"])
				diff(e.t, "labels on v2", 20, len(m["v2"]))
			},
		},
		{
			name:  "UpdateSecretVersionStage on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { rot(e); e.delete("s", 0) },
			do:    stage("AWSPENDING", 0, 3), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "UpdateSecretVersionStage on an unknown secret is ResourceNotFoundException", do: stage("X", 1, 0), wantErr: errNotFound},
		{
			name:  "UpdateSecretVersionStage updates LastChangedDate",
			setup: func(e *env) { rot(e); e.clk.Advance(time.Hour) },
			do:    stage("AWSPENDING", 0, 3),
			after: func(e *env) { diff(e.t, "LastChangedDate", t0.Add(time.Hour), *e.describe("s").LastChangedDate) },
		},
		{
			// DESIGN.md's switchover and rollback, step by step.
			name: "UpdateSecretVersionStage supports the rotation protocol: switchover, then rollback",
			setup: func(e *env) {
				e.create("s", 1)
				e.put("s", 2, "AWSPENDING")
			},
			do: func(e *env) (any, error) {
				e.must(e.stage("s", "AWSCURRENT", 2, 1))
				e.must(e.stage("s", "AWSPENDING", 0, 2))
				after := e.stages("s")
				e.must(e.stage("s", "AWSCURRENT", 1, 2))
				e.must(e.stage("s", "ROTOR_FAILED", 2, 0))
				return []map[string][]string{after, e.stages("s")}, nil
			},
			want: func(*env) any {
				return []map[string][]string{
					{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}},
					{"v1": {"AWSCURRENT"}, "v2": {"AWSPREVIOUS", "ROTOR_FAILED"}},
				}
			},
		},
	})
}

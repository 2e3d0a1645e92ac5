package rotorlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/pgtest"
	"github.com/rotorhq/rotor/internal/provider/postgres"
)

// TestPostgresAttackManagedPointsAway (issue 10) through the state machine
// on the local endpoint: db/app's value is changed to name the attacker's
// server, and a rotation runs.
//
//   - With a master that names no host (the setup), create refuses
//     with Rotor.InvalidInput before anything is stored, and the fake sees
//     no connection at all.
//   - With a master that names the real server, the master goes there
//     only: create applies a new password at the real server, verify's one
//     connection reaches the fake as app and sends no password in any form
//     (it insists on SCRAM-SHA-256 over a connection that does not verify
//     the server), verify fails, and the rollback restores the old password
//     and AWSCURRENT. The rotation fails; nothing the fake received holds
//     the master password, the old one or the new one.
func TestPostgresAttackManagedPointsAway(t *testing.T) {
	e := startPG(t, postgres.Single, "0s", postgres.Name)
	ctx := context.Background()
	sm := e.h.SecretsManager()
	put := func(id, v string) {
		t.Helper()
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		ask    pgtest.Ask
		master map[string]any // fields changed in the good master
		// what the history must show, and how many connections the
		// fake sees with a startup message (verify's)
		says     string
		verifies int
	}{
		{"master without host, fake asks cleartext", pgtest.AskCleartext, map[string]any{"host": nil, "port": nil}, "master secret has no", 0},
		{"master without host, fake asks MD5", pgtest.AskMD5, map[string]any{"host": nil, "port": nil}, "master secret has no", 0},
		{"master at the real server, fake asks cleartext", pgtest.AskCleartext, nil, "asked for the password in cleartext", 1},
		{"master at the real server, fake asks MD5", pgtest.AskMD5, nil, "asked for an MD5 password hash", 1},
		{"master at the real server, fake asks SCRAM", pgtest.AskSCRAM, nil, "refused the login", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := pgtest.StartFake(t, pgtest.FakeOptions{Ask: tc.ask})
			put("db/master", pgMasterSecret(e.pg, tc.master))
			defer put("db/master", pgMasterSecret(e.pg, nil))
			attacked, _ := json.Marshal(map[string]any{"engine": "postgres", "host": fake.Host, "port": fake.Port, "username": "app",
				"password": e.initialPass, "dbname": "postgres", "sslmode": "disable"})
			put("db/app", string(attacked))
			before := e.creds(t, "AWSCURRENT")
			beforeVersions := e.versions(t)
			knownBefore := map[string]bool{}
			listed, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("db/app"), IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range listed.Versions {
				knownBefore[aws.ToString(v.VersionId)] = true
			}

			arn := e.start(t, "db/app", 0)
			e.wait(t, arn, "FAILED")
			history := e.history(t, arn)
			if !strings.Contains(history, tc.says) {
				t.Errorf("the history does not say %q:\n%s", tc.says, history)
			}
			if tc.verifies > 0 && !strings.Contains(history, `"Error":"Rotor.VerificationFailed"`) {
				t.Error("verify did not fail with Rotor.VerificationFailed")
			}
			if tc.verifies == 0 {
				if !strings.Contains(history, `"Error":"Rotor.InvalidInput"`) {
					t.Error("create did not fail with Rotor.InvalidInput")
				}
				if after := e.versions(t); after != beforeVersions {
					t.Errorf("the store changed:\nbefore %s\nafter  %s", beforeVersions, after)
				}
			}

			// The old credential is current again and works at the real server.
			if diff := cmp.Diff(before, e.creds(t, "AWSCURRENT")); diff != "" {
				t.Errorf("AWSCURRENT after the failed rotation (-before +after):\n%s", diff)
			}
			if !e.login(before) {
				t.Error("the old password no longer works at the real server")
			}
			// Every password involved: the master's, the old one, and the
			// new one of the version this rotation made and rolled back.
			secrets := []string{pgMasterPassword, e.initialPass}
			made := 0
			versions, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("db/app"), IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range versions.Versions {
				if knownBefore[aws.ToString(v.VersionId)] {
					continue
				}
				made++
				out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db/app"), VersionId: v.VersionId})
				if err != nil {
					t.Fatal(err)
				}
				var c dbCreds
				_ = json.Unmarshal([]byte(aws.ToString(out.SecretString)), &c)
				secrets = append(secrets, c.Password)
				if e.login(dbCreds{Username: "app", Password: c.Password}) {
					t.Error("the rolled-back new password still works at the real server")
				}
			}
			if made != tc.verifies {
				t.Errorf("the rotation made %d versions, want %d", made, tc.verifies)
			}

			fake.Close()
			conns := fake.Conns()
			var users []string
			for i, c := range conns {
				users = append(users, c.User)
				if len(c.Passwords) > 0 {
					t.Errorf("connection %d (user %q) sent %d password messages", i, c.User, len(c.Passwords))
				}
				for _, s := range secrets {
					if bytes.Contains(c.Raw, []byte(s)) {
						t.Errorf("connection %d (user %q) carried a password (%d bytes)", i, c.User, len(s))
					}
				}
			}
			want := []string(nil)
			for range tc.verifies {
				want = append(want, "app")
			}
			if diff := cmp.Diff(want, users); diff != "" {
				t.Errorf("connections the fake received, by user (-want +got):\n%s", diff)
			}
			scan(t, "the execution history", history, secrets)
			scan(t, "the functions' output", e.logs.String(), secrets)
		})
	}
}

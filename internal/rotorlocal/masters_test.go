package rotorlocal

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/ledger"
)

// masterEnv is a deployment with a master secret "db/master" that rotates
// itself (strategy self, grace 0s) and serves "db/app", rotated with it.
type masterEnv struct {
	*leakEnv
	kit       dbKit
	masterPw  string
	appPw     string
	secrets   []string // every password a test saw, for the scans
	masterARN string
	appARN    string
}

const (
	masterUser = "rotor_master"
	appUser    = "app"
)

type masterOpts struct {
	provider  string   // the master's provider, by default the kit's
	serves    []string // the master's consent, by default db/app and db/master
	waitScale float64
}

func startMasterEnv(t *testing.T, kit dbKit, o masterOpts) *masterEnv {
	t.Helper()
	e := &masterEnv{kit: kit, masterPw: "m4ster-Self_pw.7d1c3e", appPw: "initial-App-pw_2b8e6f0a4c"}
	kit.newMaster(t, masterUser, e.masterPw)
	kit.newUser(t, appUser, e.appPw)
	e.secrets = []string{e.masterPw, e.appPw}
	if o.provider == "" {
		o.provider = kit.name()
	}
	if o.serves == nil {
		o.serves = []string{"db/app", "db/master"}
	}
	e.leakEnv = &leakEnv{reqs: &requestLog{}, logs: &syncBuffer{}}
	h, err := Start(context.Background(), Options{DataFile: t.TempDir() + "/local.db", FunctionLog: e.logs, WaitScale: o.waitScale})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	tag := func(k, v string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	for _, in := range []*secretsmanager.CreateSecretInput{
		{Name: aws.String("db/master"), SecretString: aws.String(kit.value(masterUser, e.masterPw, map[string]any{"rotor": map[string]any{"serves": o.serves}})),
			Tags: []smtypes.Tag{tag("rotor:role", "master"), tag("rotor:provider", o.provider), tag("rotor:strategy", "self"), tag("rotor:grace-period", "0s")}},
		{Name: aws.String("db/app"), SecretString: aws.String(kit.value(appUser, e.appPw, nil)),
			Tags: []smtypes.Tag{tag("rotor:provider", kit.name()), tag("rotor:master-secret", "db/master"), tag("rotor:grace-period", "0s")}},
	} {
		out, err := h.SecretsManager().CreateSecret(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(in.Name) == "db/master" {
			e.masterARN = aws.ToString(out.ARN)
		} else {
			e.appARN = aws.ToString(out.ARN)
		}
	}
	return e
}

// current returns the user and password of a secret's AWSCURRENT value,
// and its version.
func (e *masterEnv) current(t testing.TB, id string) (dbCreds, string) {
	t.Helper()
	c, version := readCreds(t, e.h, id, "AWSCURRENT")
	e.secrets = append(e.secrets, c.Password)
	return c, version
}

func (e *masterEnv) scanAll(t *testing.T, arns ...string) {
	t.Helper()
	for _, arn := range arns {
		scan(t, "the execution history", e.history(t, arn), e.secrets)
	}
	scan(t, "the functions' output", e.logs.String(), e.secrets)
	// The test set the initial passwords itself; rotor set every other.
	var set []string
	for _, s := range e.secrets {
		if s != e.masterPw && s != e.appPw {
			set = append(set, s)
		}
	}
	if len(set) == 0 {
		t.Error("no password rotor set to look for in the server's log")
	}
	scan(t, "the server's log", e.kit.serverLog(t), set)
}

// entered reports whether an execution entered a state.
func entered(history, state string) bool {
	return strings.Contains(history, `"Name":"`+state+`"`)
}

// TestMasterRotatesItself: a master secret rotates itself through the
// state machine (verified by the expire function, never the verify
// function), the new master password logs in and the old one no longer
// does, the server never saw a password, and a managed secret is rotated
// right after with the new master.
func TestMasterRotatesItself(t *testing.T) {
	for _, kit := range kits {
		t.Run(kit.name, func(t *testing.T) {
			e := startMasterEnv(t, kit.start(t), masterOpts{})
			old, oldVersion := e.current(t, "db/master")
			arn := e.rotate(t, "db/master", 0)
			hist := e.history(t, arn)
			if !entered(hist, "VerifyMaster") || entered(hist, "Verify") {
				t.Errorf("the master was not verified by VerifyMaster alone (VerifyMaster %v, Verify %v)", entered(hist, "VerifyMaster"), entered(hist, "Verify"))
			}
			now, version := e.current(t, "db/master")
			if version == oldVersion || now.Password == old.Password || now.Username != old.Username {
				t.Fatalf("the master did not rotate its own password (same version %v, same password %v, user %q)", version == oldVersion, now.Password == old.Password, now.Username)
			}
			if !e.kit.login(now.Username, now.Password) {
				t.Error("the new master password does not log in")
			}
			if e.kit.login(old.Username, old.Password) {
				t.Error("the old master password still logs in after expire")
			}
			var doc map[string]json.RawMessage
			_ = json.Unmarshal([]byte(e.value(t, "db/master", "AWSCURRENT")), &doc)
			if !strings.Contains(string(doc["rotor"]), "db/app") {
				t.Errorf("the new master value lost its consent list: rotor = %s", doc["rotor"])
			}

			appOld, _ := e.current(t, "db/app")
			arn2 := e.rotate(t, "db/app", 0)
			app, _ := e.current(t, "db/app")
			if app.Password == appOld.Password || !e.kit.login(app.Username, app.Password) {
				t.Error("the managed secret was not rotated with the new master")
			}
			if e.kit.login(appOld.Username, appOld.Password) {
				t.Error("the managed secret's old password still logs in")
			}
			e.scanAll(t, arn, arn2)
		})
	}
}

// TestMasterCrashBetweenApplyAndSwitchover: the master's create dies
// twice after its apply took effect; the retried create logs in with the
// new password (the current one no longer works) and converges; and when
// create never gets through, the clean-up restores the recorded master.
func TestMasterCrashBetweenApplyAndSwitchover(t *testing.T) {
	for _, k := range kits {
		for _, tc := range []struct {
			name    string
			crashes int
			want    string
		}{{"converges", 2, "SUCCEEDED"}, {"cleaned up", 1000, "FAILED"}} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				kit := k.start(t)
				e := startMasterEnv(t, kit, masterOpts{provider: kit.name() + "-crashy", waitScale: 0.01})
				c := crashers[kit.name()]
				c.arm(e.h.SecretsManager(), tc.crashes)
				old, oldVersion := e.current(t, "db/master")
				arn := e.start(t, "db/master", 0)
				e.wait(t, arn, tc.want)
				applied, violations := c.results()
				if len(violations) > 0 {
					t.Errorf("storage order broken: %v", violations)
				}
				if len(applied) < 2 {
					t.Fatalf("%d applies; the crash was not injected", len(applied))
				}
				now, version := e.current(t, "db/master")
				if !e.kit.login(now.Username, now.Password) {
					t.Fatal("the recorded master (AWSCURRENT) does not log in")
				}
				if tc.want == "FAILED" {
					if version != oldVersion || now.Password != old.Password {
						t.Error("a failed master rotation changed AWSCURRENT")
					}
					if !entered(e.history(t, arn), "Cleanup") {
						t.Error("the failed rotation did not clean up")
					}
					if e.kit.login(now.Username, applied[len(applied)-1]) {
						t.Error("the abandoned master password still logs in after the clean-up")
					}
				}
				// The master serves its secret whatever happened.
				e.rotate(t, "db/app", 0)
				app, _ := e.current(t, "db/app")
				if !e.kit.login(app.Username, app.Password) {
					t.Error("the managed secret's new password does not log in")
				}
				e.scanAll(t, arn)
			})
		}
	}
}

// TestMasterLocks: a master is not rotated while a rotation that uses it
// holds its secret's lock, and no secret it serves starts rotating while
// the master holds its own: the refused rotation is skipped, naming the
// other, and changes nothing.
func TestMasterLocks(t *testing.T) {
	e := startMasterEnv(t, newPGKit(t), masterOpts{waitScale: 0.01})
	l := ledger.New(dynamodb.NewFromConfig(e.h.awsConfig()), LedgerTable)
	for _, tc := range []struct {
		name, locked, rotated, says string
	}{
		{"master waits for the secrets it serves", e.appARN, "db/master", `secret "db/app", which this master serves, is being rotated`},
		{"a served secret waits for its master", e.masterARN, "db/app", `master secret "db/master" is being rotated`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const holder = "11111111-2222-4333-8444-555555555555"
			if other, err := l.Lock(t.Context(), ledger.LockPrefix+tc.locked, holder, time.Hour); err != nil || other != "" {
				t.Fatalf("take the lock: %v %q", err, other)
			}
			defer func() {
				if err := l.Unlock(context.Background(), ledger.LockPrefix+tc.locked, holder); err != nil {
					t.Error(err)
				}
			}()
			before, version := e.current(t, tc.rotated)
			// A manual rotation is planned against the version resolve saw,
			// so, as for any rotation lock held, it is skipped and says why.
			arn := e.start(t, tc.rotated, 0)
			e.wait(t, arn, "SUCCEEDED")
			hist := strings.ReplaceAll(e.history(t, arn), `\`, "") // JSON in JSON
			if !strings.Contains(hist, tc.says) || !strings.Contains(hist, `"status":"skipped"`) {
				t.Errorf("the rotation was not skipped saying %q:\n%s", tc.says, hist)
			}
			after, v2 := e.current(t, tc.rotated)
			if v2 != version || after != before || !e.kit.login(before.Username, before.Password) {
				t.Error("the refused rotation changed the secret or its account")
			}
			if st := e.stagesOf(t, tc.rotated); len(st) != 1 {
				t.Errorf("versions after the refusal: %v, want the one current", st)
			}
		})
	}
	// An expire that needs the master while the master is mid-rotation
	// fails Rotor.Transient and is retried until the master is done.
	t.Run("an expire waits for its master", func(t *testing.T) {
		const holder = "22222222-3333-4444-8555-666666666666"
		arn := e.start(t, "db/app", 300) // 3 s of grace at WaitScale 0.01
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(e.history(t, arn), `"Name":"GracePeriod"`) {
			if time.Now().After(deadline) {
				t.Fatalf("the rotation never reached its grace period: %s", e.history(t, arn))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if other, err := l.Lock(t.Context(), ledger.LockPrefix+e.masterARN, holder, time.Hour); err != nil || other != "" {
			t.Fatalf("take the lock: %v %q", err, other)
		}
		for !strings.Contains(strings.ReplaceAll(e.history(t, arn), `\`, ""), `master secret "db/master" is being rotated`) {
			if time.Now().After(deadline.Add(10 * time.Second)) {
				t.Fatalf("expire did not wait for the master: %s", e.history(t, arn))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := l.Unlock(t.Context(), ledger.LockPrefix+e.masterARN, holder); err != nil {
			t.Fatal(err)
		}
		e.wait(t, arn, "SUCCEEDED")
		if !strings.Contains(e.history(t, arn), `"Error":"Rotor.Transient"`) {
			t.Error("the waiting expire did not fail as Rotor.Transient")
		}
	})
	// Both free again: each rotates.
	e.rotate(t, "db/master", 0)
	e.rotate(t, "db/app", 0)
}

// TestMasterSelfRotationNeedsConsent: a master whose value does not list
// itself is not rotated (a tag is a request: whoever may tag a master may
// not rotate it), and nothing changes.
func TestMasterSelfRotationNeedsConsent(t *testing.T) {
	e := startMasterEnv(t, newPGKit(t), masterOpts{serves: []string{"db/app"}})
	before, version := e.current(t, "db/master")
	arn := e.start(t, "db/master", 0)
	e.wait(t, arn, "FAILED")
	hist := e.history(t, arn)
	if !strings.Contains(hist, "does not consent to rotate itself") || !strings.Contains(hist, "Rotor.InvalidInput") {
		t.Errorf("the refusal does not name the missing consent:\n%s", hist)
	}
	after, v2 := e.current(t, "db/master")
	if v2 != version || after != before || !e.kit.login(before.Username, before.Password) {
		t.Error("the refused rotation changed the master")
	}
	// The master still serves db/app.
	e.rotate(t, "db/app", 0)
}

func (e *masterEnv) stagesOf(t testing.TB, id string) map[string][]string {
	t.Helper()
	out, err := e.h.SecretsManager().DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.VersionIdsToStages
}

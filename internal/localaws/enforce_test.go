package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/iampolicy"
	localiam "github.com/rotorhq/rotor/internal/localaws/iam"
)

const (
	enfAccount = "123456789012"
	enfSecret  = "s3cr3t-enforce-value-91c2" // never to appear in an answer that refuses
)

// enfEnv is a server enforcing IAM with the roles of
// testdata/iam_roles.json; its OnDenied records every refusal.
type enfEnv struct {
	srv   *Server
	url   string
	hc    *http.Client
	roles map[string]string // name -> ARN

	mu      sync.Mutex
	denials []Denial
}

func newEnfEnv(t *testing.T, opts Options) *enfEnv {
	t.Helper()
	e := &enfEnv{roles: map[string]string{}}
	opts.Account = enfAccount
	opts.OnDenied = func(d Denial) {
		e.mu.Lock()
		e.denials = append(e.denials, d)
		e.mu.Unlock()
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if e.url, err = srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	e.srv, e.hc = srv, sdkTestHTTPClient(t)
	e.putRoles(t)
	return e
}

// putRoles puts the fixture's roles.
func (e *enfEnv) putRoles(t testing.TB) {
	t.Helper()
	e.roles = putFixtureRoles(t, e.srv)
}

// putFixtureRoles puts the roles of testdata/iam_roles.json and returns
// their ARNs by name.
func putFixtureRoles(t testing.TB, srv *Server) map[string]string {
	t.Helper()
	roles := map[string]string{}
	raw, err := os.ReadFile(filepath.Join("testdata", "iam_roles.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Roles []struct {
			Name, Path       string
			AssumeRolePolicy json.RawMessage
			Policies         map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Roles {
		role := localiam.Role{Name: r.Name, Path: r.Path, AssumeRolePolicy: string(r.AssumeRolePolicy), Policies: map[string]string{}}
		for n, p := range r.Policies {
			role.Policies[n] = string(p)
		}
		arn, err := srv.IAM.PutRole(role)
		if err != nil {
			t.Fatalf("PutRole(%s): %v", r.Name, err)
		}
		roles[r.Name] = arn
	}
	return roles
}

func (e *enfEnv) config(keyID, secret, token, region string) aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, token),
		HTTPClient: e.hc, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1}
}

// root signs with a key this endpoint never issued: the account's root.
func (e *enfEnv) root() aws.Config { return e.config("AKIDLOCAL", "secret", "", "us-east-1") }

// as assumes a role over the wire (as the root) and returns a config
// signed with the session's credentials.
func (e *enfEnv) as(t *testing.T, role string) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(e.root()).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(e.roles[role]), RoleSessionName: aws.String("test-" + role)})
	if err != nil {
		t.Fatalf("AssumeRole(%s): %v", role, err)
	}
	c := out.Credentials
	return e.config(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), "us-east-1")
}

// take returns the refusals recorded since the last take.
func (e *enfEnv) take() []Denial {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.denials
	e.denials = nil
	return d
}

// outcome is what a call's result says about its authorization.
type outcome struct {
	Allowed  bool
	Code     string // the refusal's error code
	Action   string // the refused action
	Resource string
	Explicit bool
}

// judge reads a call's error and the refusal it recorded (if any) as an
// outcome, checking the message is AWS's and holds no secret value.
func (e *enfEnv) judge(t *testing.T, err error) outcome {
	t.Helper()
	d := e.take()
	if err == nil {
		if len(d) > 0 {
			t.Errorf("the call succeeded but recorded refusals %+v", d)
		}
		return outcome{Allowed: true}
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	if len(d) != 1 {
		t.Fatalf("error %v recorded %d refusals, want 1: %+v", err, len(d), d)
	}
	msg := ae.ErrorMessage()
	if strings.Contains(msg, enfSecret) || strings.Contains(err.Error(), enfSecret) {
		t.Errorf("a refusal holds a secret value")
	}
	if !strings.HasPrefix(msg, "User: "+d[0].Principal+" is not authorized to perform: "+d[0].Action) || !strings.Contains(msg, d[0].Reason) {
		t.Errorf("message %q is not AWS's for %+v", msg, d[0])
	}
	return outcome{Code: ae.ErrorCode(), Action: d[0].Action, Resource: d[0].Resource, Explicit: d[0].Explicit}
}

func denied(code, action, resource string) outcome {
	return outcome{Code: code, Action: action, Resource: resource}
}

var allowed = outcome{Allowed: true}

const smPrefix = "arn:aws:secretsmanager:us-east-1:" + enfAccount + ":secret:"

// TestEnforceSecretsManager: each condition key of rotor's Secrets Manager
// statements decides, a refused write changes nothing, and the root may do
// everything.
func TestEnforceSecretsManager(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	root := secretsmanager.NewFromConfig(e.root())
	arns := map[string]string{}
	for name, tags := range map[string]map[string]string{
		"app/db":     {"rotor:provider": "random"},
		"app/plain":  {"owner": "team"},
		"app/master": {"rotor:provider": "random", "rotor:role": "master"},
	} {
		in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(enfSecret)}
		for k, v := range tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out, err := root.CreateSecret(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		arns[name] = aws.ToString(out.ARN)
	}
	create := secretsmanager.NewFromConfig(e.as(t, "create"))
	verify := secretsmanager.NewFromConfig(e.as(t, "verify"))
	elsewhere := e.as(t, "create")
	elsewhere.Region = "eu-west-1"
	createEU := secretsmanager.NewFromConfig(elsewhere)
	get := func(c *secretsmanager.Client, id string) func() error {
		return func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			return err
		}
	}
	tag := func(c *secretsmanager.Client, id string, keys ...string) func() error {
		return func() error {
			in := &secretsmanager.TagResourceInput{SecretId: aws.String(id)}
			for _, k := range keys {
				in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String("v")})
			}
			_, err := c.TagResource(ctx, in)
			return err
		}
	}
	untag := func(c *secretsmanager.Client, id string, keys ...string) func() error {
		return func() error {
			_, err := c.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String(id), TagKeys: keys})
			return err
		}
	}
	list := func(c *secretsmanager.Client) func() error {
		return func() error { _, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); return err }
	}
	const ade = "AccessDeniedException"
	for _, tc := range []struct {
		name string
		call func() error
		want outcome
	}{
		{"ResourceTag: a managed secret by name", get(create, "app/db"), allowed},
		{"ResourceTag: by full ARN", get(create, arns["app/db"]), allowed},
		{"ResourceTag: by partial ARN", get(create, smPrefix+"app/db"), allowed},
		{"ResourceTag: an unmanaged secret", get(create, "app/plain"), denied(ade, "secretsmanager:GetSecretValue", arns["app/plain"])},
		{"a secret that does not exist", get(create, "app/none"), denied(ade, "secretsmanager:GetSecretValue", smPrefix+"app/none")},
		{"an action no statement names", func() error {
			_, err := create.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/db")})
			return err
		}, denied(ade, "secretsmanager:DeleteSecret", "")},
		{"TagKeys: leak identity tags", tag(create, "app/db", "rotor:keyid:AKIA1", "rotor:sha256:ab"), allowed},
		{"TagKeys: one other key", tag(create, "app/db", "rotor:keyid:AKIA2", "rotor:provider"), denied(ade, "secretsmanager:TagResource", "")},
		{"TagKeys: untag leak identity tags", untag(create, "app/db", "rotor:sha256:ab"), allowed},
		{"TagKeys: untag another", untag(create, "app/db", "rotor:provider"), denied(ade, "secretsmanager:UntagResource", "")},
		{"RequestedRegion: in us-east-1", list(create), allowed},
		{"RequestedRegion: elsewhere", list(createEU), denied(ade, "secretsmanager:ListSecrets", "*")},
		{"explicit Deny: a master secret", get(verify, "app/master"), outcome{Code: ade, Action: "secretsmanager:GetSecretValue", Resource: arns["app/master"], Explicit: true}},
		{"the Deny spares others", get(verify, "app/db"), allowed},
		{"the root may do everything", get(root, "app/plain"), allowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.judge(t, tc.call())
			if tc.want.Resource == "" && !tc.want.Allowed {
				tc.want.Resource = arns["app/db"]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a refused write changes nothing", func(t *testing.T) {
		versions := func() []string {
			out, err := root.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("app/plain")})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range out.Versions {
				ids = append(ids, aws.ToString(v.VersionId)+":"+strings.Join(v.VersionStages, ","))
			}
			return ids
		}
		before := versions()
		_, err := create.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/plain"), SecretString: aws.String("new")})
		if got := e.judge(t, err); got.Code != ade {
			t.Fatalf("PutSecretValue: %+v", got)
		}
		if diff := cmp.Diff(before, versions()); diff != "" {
			t.Errorf("versions changed (-before +after):\n%s", diff)
		}
		_, err = create.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("app/db"),
			Tags: []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("other")}}})
		e.judge(t, err)
		d, err := root.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/db")})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range d.Tags {
			if aws.ToString(tg.Key) == "rotor:provider" && aws.ToString(tg.Value) != "random" {
				t.Errorf("a refused TagResource changed rotor:provider to %s", aws.ToString(tg.Value))
			}
		}
	})
}

// TestEnforceCallers: an IAM user's key may do nothing but
// GetCallerIdentity; a role session's GetCallerIdentity names the assumed
// role; a session's credentials are checked as AWS checks them.
func TestEnforceCallers(t *testing.T) {
	clk := newIAMClock()
	e := newEnfEnv(t, Options{EnforceIAM: true, Now: clk.Now})
	ctx := t.Context()
	rootIAM := iam.NewFromConfig(e.root())
	if _, err := rootIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	key, err := rootIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	userCfg := e.config(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "", "us-east-1")
	if _, err := secretsmanager.NewFromConfig(e.root()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"),
		SecretString: aws.String(enfSecret), Tags: []smtypes.Tag{{Key: aws.String("rotor:provider"), Value: aws.String("x")}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("an IAM user is denied everything", func(t *testing.T) {
		_, err := secretsmanager.NewFromConfig(userCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		got := e.judge(t, err)
		if got.Code != "AccessDeniedException" {
			t.Errorf("GetSecretValue: %+v", got)
		}
		_, err = iam.NewFromConfig(userCfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
		if got := e.judge(t, err); got.Code != "AccessDenied" || got.Resource != "arn:aws:iam::"+enfAccount+":user/alice" {
			t.Errorf("ListAccessKeys of its own: %+v", got)
		}
	})
	t.Run("but GetCallerIdentity", func(t *testing.T) {
		out, err := sts.NewFromConfig(userCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if e.judge(t, err); err != nil || aws.ToString(out.Arn) != "arn:aws:iam::"+enfAccount+":user/alice" {
			t.Fatalf("GetCallerIdentity = %v, %v", out, err)
		}
	})

	assumed, err := sts.NewFromConfig(e.root()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(e.roles["verify"]),
		RoleSessionName: aws.String("alice@example"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := assumed.Credentials
	id, secret, token := aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
	t.Run("AssumeRole answers a session", func(t *testing.T) {
		sessionARN := "arn:aws:sts::" + enfAccount + ":assumed-role/verify/alice@example"
		if !strings.HasPrefix(id, "ASIA") || len(id) != 20 || len(secret) != 40 || token == "" ||
			aws.ToString(assumed.AssumedRoleUser.Arn) != sessionARN || !strings.HasSuffix(aws.ToString(assumed.AssumedRoleUser.AssumedRoleId), ":alice@example") {
			t.Errorf("AssumeRole answered %s, %s, %v", id, aws.ToString(assumed.AssumedRoleUser.Arn), assumed.AssumedRoleUser.AssumedRoleId)
		}
		if d := c.Expiration.Sub(clk.Now()); d < 899*time.Second || d > 901*time.Second {
			t.Errorf("the session lasts %s, want 15m", d)
		}
		who, err := sts.NewFromConfig(e.config(id, secret, token, "us-east-1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(who.Arn) != sessionARN || aws.ToString(who.UserId) != aws.ToString(assumed.AssumedRoleUser.AssumedRoleId) {
			t.Fatalf("GetCallerIdentity = %+v, %v", who, err)
		}
	})

	for _, tc := range []struct {
		name                 string
		keyID, secret, token string
		stsCode, smCode      string
	}{
		{"a wrong token", id, secret, token + "x", "InvalidClientTokenId", "UnrecognizedClientException"},
		{"no token", id, secret, "", "InvalidClientTokenId", "UnrecognizedClientException"},
		{"a wrong secret", id, wrongSecret(secret), token, "SignatureDoesNotMatch", "InvalidSignatureException"},
		{"a token of ours whose session is gone", "ASIAAAAAAAAAAAAAAAAA", secret, token, "InvalidClientTokenId", "UnrecognizedClientException"},
		{"a user key with a token", aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), token, "InvalidClientTokenId", "UnrecognizedClientException"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			cfg := e.config(tc.keyID, tc.secret, tc.token, "us-east-1")
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantAPIError(t, "GetCallerIdentity", err, tc.stsCode)
			_, err = secretsmanager.NewFromConfig(cfg).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
			wantAPIError(t, "DescribeSecret", err, tc.smCode)
		})
	}
	t.Run("AssumeRole refuses", func(t *testing.T) {
		for _, tc := range []struct {
			in   sts.AssumeRoleInput
			code string
		}{
			{sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + enfAccount + ":role/none"), RoleSessionName: aws.String("s1")}, "AccessDenied"},
			{sts.AssumeRoleInput{RoleArn: aws.String(e.roles["verify"]), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(899)}, "ValidationError"},
			{sts.AssumeRoleInput{RoleArn: aws.String(e.roles["verify"]), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(43201)}, "ValidationError"},
			{sts.AssumeRoleInput{RoleArn: aws.String(e.roles["verify"]), RoleSessionName: aws.String("a b")}, "ValidationError"},
			{sts.AssumeRoleInput{RoleArn: aws.String(e.roles["verify"]), RoleSessionName: aws.String("s1"), ExternalId: aws.String("x")}, "ValidationError"},
		} {
			_, err := sts.NewFromConfig(e.root()).AssumeRole(ctx, &tc.in)
			wantAPIError(t, "AssumeRole", err, tc.code)
		}
		// A session may not assume a role its policies do not allow.
		_, err := sts.NewFromConfig(e.config(id, secret, token, "us-east-1")).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String(e.roles["create"]), RoleSessionName: aws.String("chained")})
		if got := e.judge(t, err); got.Code != "AccessDenied" || got.Action != "sts:AssumeRole" || got.Resource != e.roles["create"] {
			t.Errorf("a chained AssumeRole: %+v", got)
		}
	})
	t.Run("Issue refuses", func(t *testing.T) {
		for _, tc := range []struct {
			arn, session string
			d            time.Duration
			want         string
		}{
			{e.roles["verify"], "s", time.Hour, "session name"},
			{e.roles["verify"], "s1", time.Minute, "session duration"},
			{e.roles["verify"], "s1", 13 * time.Hour, "session duration"},
			{"arn:aws:iam::" + enfAccount + ":role/none", "s1", time.Hour, "does not exist"},
		} {
			if _, err := e.srv.STS.Issue(tc.arn, tc.session, tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Issue(%s, %s, %s): %v, want an error naming %q", tc.arn, tc.session, tc.d, err, tc.want)
			}
		}
	})
	t.Run("an expired session is ExpiredToken", func(t *testing.T) {
		creds, err := e.srv.STS.Issue(e.roles["verify"], "short", 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if s := creds.String() + creds.GoString(); strings.Contains(s, creds.SecretAccessKey) || strings.Contains(s, creds.SessionToken) {
			t.Errorf("formatted credentials show their secret: %s", s)
		}
		cfg := e.config(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, "us-east-1")
		_, err = secretsmanager.NewFromConfig(cfg).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		if err != nil {
			t.Fatalf("a live session: %v", err)
		}
		clk.Set(clk.Now().Add(16 * time.Minute))
		defer clk.Set(time.Now().UTC())
		_, err = secretsmanager.NewFromConfig(cfg).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		wantAPIError(t, "DescribeSecret", err, "ExpiredTokenException")
		_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantAPIError(t, "GetCallerIdentity", err, "ExpiredToken")
	})
}

// TestEnforceIAMUsers: iam:ResourceTag and aws:TagKeys decide the user
// operations rotor's create and expire roles make.
func TestEnforceIAMUsers(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	root := iam.NewFromConfig(e.root())
	for _, u := range []struct {
		name string
		tags []iamtypes.Tag
	}{
		{"consenting", []iamtypes.Tag{{Key: aws.String("rotor:secret"), Value: aws.String(smPrefix + "app/db-AbCdEf")}}},
		{"other", []iamtypes.Tag{{Key: aws.String("rotor:secret"), Value: aws.String("arn:aws:secretsmanager:eu-west-1:" + enfAccount + ":secret:x")}}},
		{"untagged", nil},
	} {
		if _, err := root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name), Tags: u.tags}); err != nil {
			t.Fatal(err)
		}
	}
	create := iam.NewFromConfig(e.as(t, "create"))
	user := func(n string) string { return "arn:aws:iam::" + enfAccount + ":user/" + n }
	for _, tc := range []struct {
		name string
		call func() error
		want outcome
	}{
		{"a consenting user's keys", func() error {
			_, err := create.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("consenting")})
			return err
		}, allowed},
		{"a new key for a consenting user", func() error {
			_, err := create.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("consenting")})
			return err
		}, allowed},
		{"a user whose tag names another Region's secret", func() error {
			_, err := create.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("other")})
			return err
		}, denied("AccessDenied", "iam:CreateAccessKey", user("other"))},
		{"an untagged user", func() error {
			_, err := create.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("untagged")})
			return err
		}, denied("AccessDenied", "iam:ListUserTags", user("untagged"))},
		{"a token tag", func() error {
			_, err := create.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("consenting"), Tags: []iamtypes.Tag{{Key: aws.String("rotor:token:1"), Value: aws.String("t")}}})
			return err
		}, allowed},
		{"another tag", func() error {
			_, err := create.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("consenting"), Tags: []iamtypes.Tag{{Key: aws.String("rotor:secret"), Value: aws.String("x")}}})
			return err
		}, denied("AccessDenied", "iam:TagUser", user("consenting"))},
		{"untag a token tag", func() error {
			_, err := create.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("consenting"), TagKeys: []string{"rotor:token:1"}})
			return err
		}, allowed},
		{"an action no statement names", func() error {
			_, err := create.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("new")})
			return err
		}, denied("AccessDenied", "iam:CreateUser", user("new"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, e.judge(t, tc.call())); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
	if keys := e.srv.IAM.AccessKeys("other"); len(keys) != 0 {
		t.Errorf("a refused CreateAccessKey made %d keys", len(keys))
	}
	if _, err := root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("new")}); err == nil {
		t.Errorf("a refused CreateUser made the user")
	}
}

// TestEnforceDynamoDB: dynamodb:LeadingKeys with ForAllValues:StringLike
// decides each item operation by its partition key.
func TestEnforceDynamoDB(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	root := dynamodb.NewFromConfig(e.root())
	if _, err := root.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("ledger"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	c := dynamodb.NewFromConfig(e.as(t, "create"))
	key := func(pk string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
	}
	put := func(pk string) func() error {
		return func() error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("ledger"), Item: key(pk)})
			return err
		}
	}
	table := "arn:aws:dynamodb:us-east-1:" + enfAccount + ":table/ledger"
	for _, tc := range []struct {
		name string
		call func() error
		want outcome
	}{
		{"put a revoked# record", put("revoked#AKIA1"), allowed},
		{"put a lock# record", put("lock#app/db"), allowed},
		{"put a plan# record", put("plan#1"), denied("AccessDeniedException", "dynamodb:PutItem", table)},
		{"get a lock# record", func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ledger"), Key: key("lock#app/db")})
			return err
		}, allowed},
		{"get a revoked# record", func() error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ledger"), Key: key("revoked#AKIA1")})
			return err
		}, denied("AccessDeniedException", "dynamodb:GetItem", table)},
		{"delete a revoked# record", func() error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("ledger"), Key: key("revoked#AKIA1")})
			return err
		}, denied("AccessDeniedException", "dynamodb:DeleteItem", table)},
		{"describe the table", func() error {
			_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("ledger")})
			return err
		}, denied("AccessDeniedException", "dynamodb:DescribeTable", table)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, e.judge(t, tc.call())); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
	for pk, want := range map[string]bool{"plan#1": false, "revoked#AKIA1": true} {
		out, err := root.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("ledger"), Key: key(pk)})
		if err != nil || (out.Item != nil) != want {
			t.Errorf("item %s present = %v (%v), want %v", pk, out.Item != nil, err, want)
		}
	}
}

// TestEnforceEventsLambdaStatesSNS: the other services a role calls
// directly: PutEvents on a bus ARN, lambda:InvokeFunction on function
// ARNs (and their qualifiers), states on machines and executions, and
// sns:Publish with the KMS rule on an encrypted topic.
func TestEnforceEventsLambdaStatesSNS(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	for _, fn := range []string{"allowed", "other"} {
		e.srv.Lambda.Register(fn, func(_ context.Context, p []byte) ([]byte, error) { return p, nil })
	}
	rootEB := eventbridge.NewFromConfig(e.root())
	if _, err := rootEB.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("leaks")}); err != nil {
		t.Fatal(err)
	}
	rootSF := sfn.NewFromConfig(e.root())
	for _, m := range []string{"child", "sibling"} {
		if _, err := rootSF.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(m), Definition: aws.String(echoMachine),
			RoleArn: aws.String(e.roles["machine"])}); err != nil {
			t.Fatal(err)
		}
	}
	rootSNS := sns.NewFromConfig(e.root())
	topics := map[string]string{}
	for name, attrs := range map[string]map[string]string{"plain": nil, "secure": {"KmsMasterKeyId": "1111-2222"}} {
		out, err := rootSNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		topics[name] = aws.ToString(out.TopicArn)
	}
	webhook := eventbridge.NewFromConfig(e.as(t, "webhook"))
	caller := e.as(t, "caller")
	fn := lambda.NewFromConfig(caller)
	sf := sfn.NewFromConfig(caller)
	publisher := sns.NewFromConfig(caller)
	entry := func(bus string) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String("rotor.webhook"), DetailType: aws.String("rotor.leak"), Detail: aws.String(`{}`)}
	}
	putEvents := func(entries ...ebtypes.PutEventsRequestEntry) func() error {
		return func() error {
			_, err := webhook.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			return err
		}
	}
	invoke := func(name string) func() error {
		return func() error {
			out, err := fn.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"a":1}`)})
			if err == nil && string(out.Payload) != `{"a":1}` {
				t.Errorf("Invoke(%s) answered %s", name, out.Payload)
			}
			return err
		}
	}
	start := func(machine, name string) func() error {
		return func() error {
			_, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:" + enfAccount + ":stateMachine:" + machine), Name: aws.String(name)})
			return err
		}
	}
	publish := func(topic string) func() error {
		return func() error {
			_, err := publisher.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topics[topic]), Message: aws.String("hello")})
			return err
		}
	}
	bus := "arn:aws:events:us-east-1:" + enfAccount + ":event-bus/"
	fnARN := "arn:aws:lambda:us-east-1:" + enfAccount + ":function:"
	child := "arn:aws:states:us-east-1:" + enfAccount + ":execution:child:one"
	for _, tc := range []struct {
		name string
		call func() error
		want outcome
	}{
		{"PutEvents on its bus, by name", putEvents(entry("leaks")), allowed},
		{"PutEvents on its bus, by ARN", putEvents(entry(bus + "leaks")), allowed},
		{"PutEvents on the default bus", putEvents(entry("default")), denied("AccessDeniedException", "events:PutEvents", bus+"default")},
		{"PutEvents with one entry elsewhere", putEvents(entry("leaks"), entry("default")), denied("AccessDeniedException", "events:PutEvents", bus+"default")},
		{"PutRule", func() error {
			_, err := webhook.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String("leaks"), EventPattern: aws.String(`{"source":["x"]}`)})
			return err
		}, denied("AccessDeniedException", "events:PutRule", "arn:aws:events:us-east-1:"+enfAccount+":rule/leaks/r")},
		{"Invoke by name", invoke("allowed"), allowed},
		{"Invoke by ARN with a qualifier", invoke(fnARN + "allowed:live"), allowed},
		{"Invoke another function", invoke("other"), denied("AccessDeniedException", "lambda:InvokeFunction", fnARN+"other")},
		{"StartExecution", start("child", "one"), allowed},
		{"StartExecution of another machine", start("sibling", "one"), denied("AccessDeniedException", "states:StartExecution", "arn:aws:states:us-east-1:"+enfAccount+":stateMachine:sibling")},
		{"DescribeExecution", func() error {
			_, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(child)})
			return err
		}, allowed},
		{"StopExecution", func() error {
			_, err := sf.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(child)})
			return err
		}, denied("AccessDeniedException", "states:StopExecution", child)},
		{"ListStateMachines", func() error { _, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); return err },
			denied("AccessDeniedException", "states:ListStateMachines", "*")},
		{"Publish to a plain topic", publish("plain"), allowed},
		{"Publish to an encrypted topic without kms:Decrypt", publish("secure"),
			denied("KMSAccessDenied", "kms:Decrypt", "arn:aws:kms:us-east-1:"+enfAccount+":key/1111-2222")},
		{"ListTopics", func() error { _, err := publisher.ListTopics(ctx, &sns.ListTopicsInput{}); return err },
			denied("AuthorizationError", "sns:ListTopics", "*")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, e.judge(t, tc.call())); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
	var onSecure int
	for _, m := range e.srv.SNS.Messages() {
		if m.TopicARN == topics["secure"] {
			onSecure++
		}
	}
	if onSecure != 0 {
		t.Errorf("a refused Publish recorded %d messages", onSecure)
	}
	attrs, err := rootSNS.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(topics["secure"])})
	if err != nil || attrs.Attributes["KmsMasterKeyId"] != "1111-2222" || attrs.Attributes["TopicArn"] != topics["secure"] {
		t.Errorf("GetTopicAttributes = %v, %v", attrs, err)
	}
}

// TestEnforceInternalCalls: a state machine's tasks act as its role, an
// EventBridge target's deliveries as the target's: refused calls fail as
// on AWS (a task error a Catch sees; a failed delivery) and do nothing.
func TestEnforceInternalCalls(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	var calls sync.Map
	e.srv.Lambda.Register("allowed", func(_ context.Context, p []byte) ([]byte, error) {
		calls.Store("allowed", true)
		return []byte(`{"ok":true}`), nil
	})
	sf := sfn.NewFromConfig(e.root())
	topic, err := sns.NewFromConfig(e.root()).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("secure"),
		Attributes: map[string]string{"KmsMasterKeyId": "arn:aws:kms:us-east-1:" + enfAccount + ":key/1111-2222"}})
	if err != nil {
		t.Fatal(err)
	}
	machine := func(name, role, def string) string {
		t.Helper()
		out, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(e.roles[role])})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.StateMachineArn)
	}
	run := func(machine string) *sfn.DescribeExecutionOutput {
		t.Helper()
		x, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return waitDone(t, sf, aws.ToString(x.ExecutionArn))
	}
	machine("child", "machine", echoMachine)
	const fnARN = "arn:aws:lambda:us-east-1:" + enfAccount + ":function:allowed"
	task := map[string]string{
		"lambda": `"Resource": "` + fnARN + `"`,
		"sns":    `"Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": "` + aws.ToString(topic.TopicArn) + `", "Message": "done"}`,
		"child": `"Resource": "arn:aws:states:::states:startExecution.sync:2",
			"Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:` + enfAccount + `:stateMachine:child", "Input": {}}`,
		"events": `"Resource": "arn:aws:states:::events:putEvents", "Parameters": {"Entries": [{"Source": "rotor", "DetailType": "Rotation Succeeded", "Detail": {}}]}`,
	}
	caught := func(kind string) string {
		return `{"StartAt": "Call", "States": {
			"Call": {"Type": "Task", ` + task[kind] + `, "ResultPath": "$.result",
				"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": true},
			"Caught": {"Type": "Pass", "End": true}}}`
	}

	t.Run("allowed tasks run", func(t *testing.T) {
		full := `{"StartAt": "Lambda", "States": {
			"Lambda": {"Type": "Task", ` + task["lambda"] + `, "ResultPath": "$.lambda", "Next": "SNS"},
			"SNS": {"Type": "Task", ` + task["sns"] + `, "ResultPath": "$.sns", "Next": "Events"},
			"Events": {"Type": "Task", ` + task["events"] + `, "ResultPath": "$.events", "Next": "Child"},
			"Child": {"Type": "Task", ` + task["child"] + `, "ResultPath": "$.child", "End": true}}}`
		d := run(machine("full", "machine", full))
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
		}
		if denials := e.take(); len(denials) != 0 {
			t.Errorf("refusals %+v", denials)
		}
	})
	for _, tc := range []struct {
		name, role, kind string
		errName          string
		action, resource string
	}{
		{"a role without lambda:InvokeFunction", "machine-bare", "lambda", "Lambda.AWSLambdaException", "lambda:InvokeFunction", fnARN},
		{"a role without the topic's key", "machine-bare", "sns", "SNS.KMSAccessDeniedException", "kms:GenerateDataKey", "arn:aws:kms:us-east-1:" + enfAccount + ":key/1111-2222"},
		{"a role without sns:Publish", "nothing", "sns", "SNS.AuthorizationErrorException", "sns:Publish", aws.ToString(topic.TopicArn)},
		{"a role without states:StartExecution", "nothing", "child", "StepFunctions.AccessDeniedException", "states:StartExecution", "arn:aws:states:us-east-1:" + enfAccount + ":stateMachine:child"},
		{"a role without events:PutEvents", "nothing", "events", "EventBridge.AccessDeniedException", "events:PutEvents", "arn:aws:events:us-east-1:" + enfAccount + ":event-bus/default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Clear()
			name := strings.ReplaceAll(tc.role+"-"+tc.kind, ":", "-")
			d := run(machine(name, tc.role, caught(tc.kind)))
			if d.Status != sfntypes.ExecutionStatusSucceeded {
				t.Fatalf("execution %s: %s %s (the Catch should have caught the refusal)", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
			}
			var out struct{ Error struct{ Error, Cause string } }
			if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
				t.Fatal(err)
			}
			if out.Error.Error != tc.errName || !strings.Contains(out.Error.Cause, "is not authorized to perform: "+tc.action+" on resource: "+tc.resource) {
				t.Errorf("caught %s: %s; want %s about %s on %s", out.Error.Error, out.Error.Cause, tc.errName, tc.action, tc.resource)
			}
			denials := e.take()
			if len(denials) != 1 || !strings.HasPrefix(denials[0].Principal, "arn:aws:sts::"+enfAccount+":assumed-role/"+tc.role+"/") ||
				denials[0].Action != tc.action {
				t.Errorf("refusals %+v", denials)
			}
			if _, ran := calls.Load("allowed"); ran {
				t.Errorf("the refused function ran")
			}
		})
	}

	t.Run("EventBridge starts executions as the target's role", func(t *testing.T) {
		eb := eventbridge.NewFromConfig(e.root())
		machine("forbidden", "machine", echoMachine)
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leaks"), EventPattern: aws.String(`{"source":["rotor.test"]}`)}); err != nil {
			t.Fatal(err)
		}
		var targets []ebtypes.Target
		for _, m := range []string{"child", "forbidden"} {
			targets = append(targets, ebtypes.Target{Id: aws.String(m), Arn: aws.String("arn:aws:states:us-east-1:" + enfAccount + ":stateMachine:" + m),
				RoleArn: aws.String(e.roles["events-target"])})
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("leaks"), Targets: targets}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("rotor.test"),
			DetailType: aws.String("t"), Detail: aws.String(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.srv.Events.Wait(wctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range e.srv.Events.Deliveries() {
			switch {
			case d.Failed() && d.Attempts == 1 && strings.Contains(d.Error, "is not authorized to perform: states:StartExecution"):
				got[d.TargetID] = "refused"
			case d.Failed():
				got[d.TargetID] = "failed: " + d.Error
			default:
				got[d.TargetID] = "delivered"
			}
		}
		if diff := cmp.Diff(map[string]string{"child": "delivered", "forbidden": "refused"}, got); diff != "" {
			t.Errorf("deliveries (-want +got):\n%s", diff)
		}
		list, err := sf.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:" + enfAccount + ":stateMachine:forbidden")})
		if err != nil || len(list.Executions) != 0 {
			t.Errorf("the refused target has %d executions (%v)", len(list.Executions), err)
		}
		denials := e.take()
		if len(denials) != 1 || !strings.HasPrefix(denials[0].Principal, "arn:aws:sts::"+enfAccount+":assumed-role/events-target/") {
			t.Errorf("refusals %+v", denials)
		}
	})

	t.Run("a host acts as a role", func(t *testing.T) {
		forbidden := iampolicy.Request{Action: "states:StartExecution", Resource: "arn:aws:states:us-east-1:" + enfAccount + ":stateMachine:forbidden"}
		if d := e.srv.AuthorizeRole(e.roles["events-target"], "scheduler", forbidden); d == nil || d.Principal != "arn:aws:sts::"+enfAccount+":assumed-role/events-target/scheduler" {
			t.Errorf("AuthorizeRole = %+v, want a refusal", d)
		}
		forbidden.Resource = strings.Replace(forbidden.Resource, "forbidden", "child", 1)
		if d := e.srv.AuthorizeRole(e.roles["events-target"], "scheduler", forbidden); d != nil {
			t.Errorf("AuthorizeRole = %+v, want nil", d)
		}
		e.take()
	})
}

// TestEnforceNotModelled: an operation whose authorization is not
// modelled is the root's alone.
func TestEnforceNotModelled(t *testing.T) {
	e := newEnfEnv(t, Options{EnforceIAM: true})
	ctx := t.Context()
	_, err := secretsmanager.NewFromConfig(e.as(t, "create")).RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("x")})
	got := e.judge(t, err)
	if got.Code != "AccessDeniedException" || got.Action != "secretsmanager:RotateSecret" || !strings.Contains(err.Error(), "does not model") {
		t.Errorf("RotateSecret as a role: %+v (%v)", got, err)
	}
	_, err = secretsmanager.NewFromConfig(e.root()).RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("x")})
	wantAPIError(t, "RotateSecret as the root", err, "UnknownOperationException")
}

// TestEnforceOff: without EnforceIAM a role session may do everything,
// its tasks too, and AssumeRole still works.
func TestEnforceOff(t *testing.T) {
	e := newEnfEnv(t, Options{})
	ctx := t.Context()
	if _, err := secretsmanager.NewFromConfig(e.root()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("plain"), SecretString: aws.String(enfSecret)}); err != nil {
		t.Fatal(err)
	}
	nothing := e.as(t, "nothing")
	if _, err := secretsmanager.NewFromConfig(nothing).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("plain")}); err != nil {
		t.Errorf("GetSecretValue as a role without policies: %v", err)
	}
	who, err := sts.NewFromConfig(nothing).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::"+enfAccount+":assumed-role/nothing/test-nothing" {
		t.Errorf("GetCallerIdentity = %v, %v", who, err)
	}
	e.srv.Lambda.Register("fn", func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })
	sf := sfn.NewFromConfig(e.root())
	m, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), RoleArn: aws.String(e.roles["nothing"]),
		Definition: aws.String(`{"StartAt":"F","States":{"F":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:` + enfAccount + `:function:fn","End":true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	x, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: m.StateMachineArn})
	if err != nil {
		t.Fatal(err)
	}
	if d := waitDone(t, sf, aws.ToString(x.ExecutionArn)); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("execution %s: %s", d.Status, aws.ToString(d.Cause))
	}
	if d := e.take(); len(d) != 0 {
		t.Errorf("refusals without EnforceIAM: %+v", d)
	}
}

// TestRoles: the Go API and the IAM query API over roles; a bad document
// changes nothing; roles persist in the data file.
func TestRoles(t *testing.T) {
	data := filepath.Join(t.TempDir(), "rotor.db")
	e := newEnfEnv(t, Options{DataFile: data, EnforceIAM: true})
	ctx := t.Context()
	allowAll := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`
	trust := `{"Statement": {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}}`

	t.Run("a bad document is refused, naming role and policy, and changes nothing", func(t *testing.T) {
		for _, tc := range []struct {
			role localiam.Role
			want string
		}{
			{localiam.Role{Name: "verify", AssumeRolePolicy: trust, Policies: map[string]string{"ok": allowAll, "bad": `{"Statement": {"Effect": "Allow", "NotAction": "x", "Resource": "*"}}`}}, "role verify, policy bad: "},
			{localiam.Role{Name: "verify", AssumeRolePolicy: `{"Statement": `}, "role verify: trust policy"},
			{localiam.Role{Name: "verify"}, "role verify: the trust policy (AssumeRolePolicy) is empty"},
			{localiam.Role{Name: "bad name", AssumeRolePolicy: trust}, `role name "bad name"`},
			{localiam.Role{Name: "p", Path: "no-slash", AssumeRolePolicy: trust}, `path "no-slash"`},
		} {
			if _, err := e.srv.IAM.PutRole(tc.role); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PutRole(%s): %v, want an error naming %q", tc.role.Name, err, tc.want)
			}
		}
		if err := e.srv.IAM.PutRolePolicy("verify", "default", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:x": "true"}}}}`); err == nil ||
			!strings.Contains(err.Error(), "role verify, policy default: ") {
			t.Errorf("PutRolePolicy with Bool: %v", err)
		}
		doc, ok := e.srv.IAM.RolePolicy("verify", "default")
		if !ok || !strings.Contains(doc, "NeverMasterSecrets") {
			t.Errorf("the verify role's policy changed: %q", doc)
		}
		if _, ok := e.srv.IAM.RolePolicy("verify", "ok"); ok {
			t.Errorf("a refused PutRole added a policy")
		}
	})

	t.Run("the IAM query API", func(t *testing.T) {
		c := iam.NewFromConfig(e.root())
		created, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cli"), Path: aws.String("/ops/"), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		arn := "arn:aws:iam::" + enfAccount + ":role/ops/cli"
		if aws.ToString(created.Role.Arn) != arn || !strings.HasPrefix(aws.ToString(created.Role.RoleId), "AROA") {
			t.Errorf("CreateRole answered %s %s", aws.ToString(created.Role.Arn), aws.ToString(created.Role.RoleId))
		}
		_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("CLI"), AssumeRolePolicyDocument: aws.String(trust)})
		wantAPIError(t, "CreateRole again", err, "EntityAlreadyExists")
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("cli"), PolicyName: aws.String("p"), PolicyDocument: aws.String(`{"Statement": {"Effect": "Allow"}}`)})
		wantAPIError(t, "PutRolePolicy with a bad document", err, "MalformedPolicyDocument")
		for _, p := range []string{"b", "a"} {
			if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("cli"), PolicyName: aws.String(p), PolicyDocument: aws.String(allowAll)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("cli")})
		if err != nil || aws.ToString(got.Role.Arn) != arn {
			t.Fatalf("GetRole = %v, %v", got, err)
		}
		// IAM answers documents URL-encoded, as the CLI shows them decoded.
		if doc := aws.ToString(got.Role.AssumeRolePolicyDocument); doc != encodeRFC3986(trust) {
			t.Errorf("AssumeRolePolicyDocument %s", doc)
		}
		pol, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("cli"), PolicyName: aws.String("a")})
		if err != nil || aws.ToString(pol.PolicyDocument) != encodeRFC3986(allowAll) {
			t.Errorf("GetRolePolicy = %v, %v", pol, err)
		}
		names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("cli")})
		if err != nil || !slices.Equal(names.PolicyNames, []string{"a", "b"}) {
			t.Errorf("ListRolePolicies = %v, %v", names, err)
		}
		if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("cli"), PolicyName: aws.String("b")}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("cli"), PolicyName: aws.String("b")})
		wantAPIError(t, "GetRolePolicy of a deleted policy", err, "NoSuchEntity")
		_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("none")})
		wantAPIError(t, "GetRole of no role", err, "NoSuchEntity")
		if doc, ok := e.srv.IAM.RolePolicy("cli", "a"); !ok || doc != allowAll {
			t.Errorf("RolePolicy = %q, %v", doc, ok)
		}
		// A role may read itself only where its policies allow.
		_, err = iam.NewFromConfig(e.as(t, "verify")).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("cli")})
		if o := e.judge(t, err); o.Code != "AccessDenied" || o.Resource != arn {
			t.Errorf("GetRole as verify: %+v", o)
		}
	})

	t.Run("roles persist", func(t *testing.T) {
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
		srv, err := New(Options{DataFile: data, Account: enfAccount, EnforceIAM: true})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		doc, ok := srv.IAM.RolePolicy("cli", "a")
		if !ok || doc != allowAll {
			t.Fatalf("after a restart, RolePolicy = %q, %v", doc, ok)
		}
		p := srv.IAM.RolePrincipal("arn:aws:iam::"+enfAccount+":role/ops/cli", "s")
		v := srv.IAM.Decide(p, iampolicy.Request{Action: "secretsmanager:GetSecretValue", Resource: smPrefix + "x"})
		if !v.Allowed {
			t.Errorf("after a restart the role's policy does not allow: %+v", v)
		}
		v = srv.IAM.Decide(srv.IAM.RolePrincipal(e.roles["nothing"], "s"), iampolicy.Request{Action: "secretsmanager:GetSecretValue", Resource: smPrefix + "x"})
		if v.Allowed || !strings.Contains(v.Reason, "no identity-based policy allows the secretsmanager:GetSecretValue action") {
			t.Errorf("the role without policies: %+v", v)
		}
	})
}

// encodeRFC3986 percent-encodes all but the unreserved characters.
func encodeRFC3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

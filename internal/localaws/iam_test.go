package localaws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// iamClock is a settable clock near real time (STS compares it with the
// SDK's signing time).
type iamClock struct {
	mu  sync.Mutex
	now time.Time
}

func newIAMClock() *iamClock { return &iamClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *iamClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *iamClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// iamEnv is a server with an IAM client signed by the server's default
// (non-IAM) credentials.
type iamEnv struct {
	srv *Server
	url string
	hc  *http.Client
	clk *iamClock
	c   *iam.Client
}

func newIAMEnv(t *testing.T, opts Options) *iamEnv {
	t.Helper()
	e := &iamEnv{clk: newIAMClock()}
	if opts.Now == nil {
		opts.Now = e.clk.Now
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.url, err = srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e.srv, e.hc = srv, sdkTestHTTPClient(t)
	e.c = e.iamAs("AKIDLOCAL", "secret")
	return e
}

func (e *iamEnv) config(keyID, secret, token string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, token),
		HTTPClient:       e.hc,
		BaseEndpoint:     aws.String(e.url),
		RetryMaxAttempts: 1,
	}
}

func (e *iamEnv) iamAs(keyID, secret string) *iam.Client {
	return iam.NewFromConfig(e.config(keyID, secret, ""))
}

func (e *iamEnv) user(t *testing.T, name string) *iamtypes.User {
	t.Helper()
	out, err := e.c.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return out.User
}

func (e *iamEnv) key(t *testing.T, user string) *iamtypes.AccessKey {
	t.Helper()
	out, err := e.c.CreateAccessKey(t.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("CreateAccessKey(%s): %v", user, err)
	}
	return out.AccessKey
}

// wantAPIError checks that err is an API error with code (and, if typed is
// not nil, of typed's type).
func wantAPIError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: error = %v, want %s", what, err, code)
	}
}

var (
	userIDRE    = regexp.MustCompile(`^AIDA[A-Z0-9]{17}$`)
	keyIDRE     = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretKeyRE = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func TestIAMUsers(t *testing.T) {
	ctx := t.Context()
	e := newIAMEnv(t, Options{Account: "123456789012"})
	now := e.clk.Now()

	created, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("deploy-bot"), Path: aws.String("/ci/"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !userIDRE.MatchString(aws.ToString(created.User.UserId)) {
		t.Errorf("UserId %q does not look like AIDA + 17 characters", aws.ToString(created.User.UserId))
	}
	want := &iamtypes.User{UserName: aws.String("deploy-bot"), Path: aws.String("/ci/"), UserId: created.User.UserId,
		Arn: aws.String("arn:aws:iam::123456789012:user/ci/deploy-bot"), CreateDate: aws.Time(now),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}
	opts := cmpopts.IgnoreUnexported(iamtypes.User{}, iamtypes.Tag{})
	if diff := cmp.Diff(want, created.User, opts); diff != "" {
		t.Errorf("CreateUser (-want +got):\n%s", diff)
	}
	got, err := e.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("DEPLOY-BOT")}) // names ignore case
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.User, opts); diff != "" {
		t.Errorf("GetUser (-want +got):\n%s", diff)
	}
	e.user(t, "alice")
	e.user(t, "Carol")

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"CreateUser of a name taken in another case", func() error {
			_, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ALICE")})
			return err
		}, "EntityAlreadyExists"},
		{"CreateUser with a bad name", func() error {
			_, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("no spaces")})
			return err
		}, "ValidationError"},
		{"CreateUser with a name over 64 characters", func() error {
			_, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(strings.Repeat("a", 65))})
			return err
		}, "ValidationError"},
		{"CreateUser with a bad path", func() error {
			_, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("p"), Path: aws.String("ci")})
			return err
		}, "ValidationError"},
		{"GetUser of nobody", func() error {
			_, err := e.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"GetUser of the caller with non-user credentials", func() error {
			_, err := e.c.GetUser(ctx, &iam.GetUserInput{})
			return err
		}, "ValidationError"},
		{"DeleteUser of nobody", func() error {
			_, err := e.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"ListUsers with MaxItems 0", func() error {
			_, err := e.c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(0)})
			return err
		}, "ValidationError"},
		{"ListUsers with a marker it never gave", func() error {
			_, err := e.c.ListUsers(ctx, &iam.ListUsersInput{Marker: aws.String("zzz")})
			return err
		}, "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.name, tc.call(), tc.code) })
	}

	// The typed errors the SDK knows come back typed.
	_, err = e.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) || !strings.Contains(nse.ErrorMessage(), "nobody cannot be found") {
		t.Errorf("GetUser(nobody) = %v, want *types.NoSuchEntityException with AWS's message", err)
	}

	// ListUsers: sorted by name ignoring case, without tags, paginated.
	var names []string
	pages := 0
	for p := iam.NewListUsersPaginator(e.c, &iam.ListUsersInput{MaxItems: aws.Int32(2)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range out.Users {
			if u.Tags != nil {
				t.Errorf("ListUsers returned tags for %s", aws.ToString(u.UserName))
			}
			names = append(names, aws.ToString(u.UserName))
		}
	}
	if diff := cmp.Diff([]string{"alice", "Carol", "deploy-bot"}, names); diff != "" || pages != 2 {
		t.Errorf("ListUsers in %d pages (-want +got):\n%s", pages, diff)
	}
	ci, err := e.c.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: aws.String("/ci/")})
	if err != nil || len(ci.Users) != 1 || aws.ToString(ci.Users[0].UserName) != "deploy-bot" || ci.IsTruncated {
		t.Errorf("ListUsers(PathPrefix /ci/) = %+v, %v", ci, err)
	}

	if _, err := e.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("carol")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Carol")}); !errors.As(err, &nse) {
		t.Errorf("GetUser after DeleteUser = %v, want NoSuchEntity", err)
	}
	// The name is free again.
	e.user(t, "carol")
}

func TestIAMAccessKeys(t *testing.T) {
	ctx := t.Context()
	e := newIAMEnv(t, Options{})
	e.user(t, "svc")
	e.user(t, "other")

	k1 := e.key(t, "svc")
	if !keyIDRE.MatchString(aws.ToString(k1.AccessKeyId)) || !secretKeyRE.MatchString(aws.ToString(k1.SecretAccessKey)) {
		t.Fatalf("CreateAccessKey made id %q and a secret of %d characters, want AKIA+16 and 40",
			aws.ToString(k1.AccessKeyId), len(aws.ToString(k1.SecretAccessKey)))
	}
	if k1.Status != iamtypes.StatusTypeActive || aws.ToString(k1.UserName) != "svc" || !aws.ToTime(k1.CreateDate).Equal(e.clk.Now()) {
		t.Errorf("CreateAccessKey = %s %s %v", aws.ToString(k1.UserName), k1.Status, aws.ToTime(k1.CreateDate))
	}
	e.clk.Set(e.clk.Now().Add(time.Second))
	k2 := e.key(t, "svc")
	if aws.ToString(k2.AccessKeyId) == aws.ToString(k1.AccessKeyId) || aws.ToString(k2.SecretAccessKey) == aws.ToString(k1.SecretAccessKey) {
		t.Fatal("two keys share an id or a secret")
	}

	// A third key is over the quota, whatever the others' status.
	if _, err := e.c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: k1.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc")})
	var lim *iamtypes.LimitExceededException
	if !errors.As(err, &lim) || !strings.Contains(lim.ErrorMessage(), "AccessKeysPerUser: 2") {
		t.Fatalf("third CreateAccessKey = %v, want LimitExceeded", err)
	}

	list, err := e.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc")})
	if err != nil {
		t.Fatal(err)
	}
	want := []iamtypes.AccessKeyMetadata{
		{UserName: aws.String("svc"), AccessKeyId: k1.AccessKeyId, Status: iamtypes.StatusTypeInactive, CreateDate: k1.CreateDate},
		{UserName: aws.String("svc"), AccessKeyId: k2.AccessKeyId, Status: iamtypes.StatusTypeActive, CreateDate: k2.CreateDate},
	}
	if diff := cmp.Diff(want, list.AccessKeyMetadata, cmpopts.IgnoreUnexported(iamtypes.AccessKeyMetadata{})); diff != "" || list.IsTruncated {
		t.Errorf("ListAccessKeys (-want +got):\n%s", diff)
	}
	if got, ok := e.srv.IAM.AccessKey(aws.ToString(k1.AccessKeyId)); !ok || got.Status != "Inactive" || got.UserName != "svc" {
		t.Errorf("IAM.AccessKey(k1) = %+v, %v", got, ok)
	}
	one, err := e.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc"), MaxItems: aws.Int32(1)})
	if err != nil || len(one.AccessKeyMetadata) != 1 || !one.IsTruncated || aws.ToString(one.Marker) == "" {
		t.Fatalf("ListAccessKeys(MaxItems 1) = %+v, %v", one, err)
	}
	rest, err := e.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc"), Marker: one.Marker})
	if err != nil || len(rest.AccessKeyMetadata) != 1 || aws.ToString(rest.AccessKeyMetadata[0].AccessKeyId) != aws.ToString(k2.AccessKeyId) {
		t.Fatalf("ListAccessKeys(second page) = %+v, %v", rest, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"UpdateAccessKey to a status that does not exist", func() error {
			_, err := e.c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: k1.AccessKeyId, Status: "Paused"})
			return err
		}, "ValidationError"},
		{"UpdateAccessKey of another user's key", func() error {
			_, err := e.c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("other"), AccessKeyId: k1.AccessKeyId, Status: iamtypes.StatusTypeActive})
			return err
		}, "NoSuchEntity"},
		{"UpdateAccessKey of a malformed key id", func() error {
			_, err := e.c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: aws.String("short"), Status: iamtypes.StatusTypeActive})
			return err
		}, "ValidationError"},
		{"DeleteAccessKey of another user's key", func() error {
			_, err := e.c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("other"), AccessKeyId: k2.AccessKeyId})
			return err
		}, "NoSuchEntity"},
		{"DeleteAccessKey of nobody's key", func() error {
			_, err := e.c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("nobody"), AccessKeyId: k2.AccessKeyId})
			return err
		}, "NoSuchEntity"},
		{"ListAccessKeys of nobody", func() error {
			_, err := e.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"CreateAccessKey for nobody", func() error {
			_, err := e.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"CreateAccessKey for the caller with non-user credentials", func() error {
			_, err := e.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
			return err
		}, "ValidationError"},
		{"DeleteUser while keys exist", func() error {
			_, err := e.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("svc")})
			return err
		}, "DeleteConflict"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.name, tc.call(), tc.code) })
	}

	// Without UserName, IAM acts on the user whose key signed the request.
	asSvc := e.iamAs(aws.ToString(k2.AccessKeyId), aws.ToString(k2.SecretAccessKey))
	me, err := asSvc.GetUser(ctx, &iam.GetUserInput{})
	if err != nil || aws.ToString(me.User.UserName) != "svc" {
		t.Fatalf("GetUser() as svc = %+v, %v", me, err)
	}
	if _, err := asSvc.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: k1.AccessKeyId}); err != nil {
		t.Fatalf("DeleteAccessKey(k1) as svc: %v", err)
	}
	_, err = e.c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: k1.AccessKeyId})
	wantAPIError(t, "deleting a deleted key", err, "NoSuchEntity")
	if _, ok := e.srv.IAM.AccessKey(aws.ToString(k1.AccessKeyId)); ok {
		t.Error("IAM.AccessKey finds a deleted key")
	}
	// A slot is free again.
	k3, err := asSvc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil || aws.ToString(k3.AccessKey.UserName) != "svc" {
		t.Fatalf("CreateAccessKey() as svc = %+v, %v", k3, err)
	}
	if got := e.srv.IAM.AccessKeys("SVC"); len(got) != 2 {
		t.Errorf("IAM.AccessKeys(svc) = %+v, want 2 keys", got)
	}
	for _, k := range []*string{k2.AccessKeyId, k3.AccessKey.AccessKeyId} {
		if _, err := e.c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: k}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("svc")}); err != nil {
		t.Fatalf("DeleteUser once its keys are gone: %v", err)
	}
}

func TestIAMTags(t *testing.T) {
	ctx := t.Context()
	e := newIAMEnv(t, Options{})
	e.user(t, "svc")
	tag := func(k, v string) iamtypes.Tag { return iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)} }
	list := func() []iamtypes.Tag {
		t.Helper()
		out, err := e.c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("svc")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Tags
	}
	opts := cmpopts.IgnoreUnexported(iamtypes.Tag{})

	if got := list(); len(got) != 0 {
		t.Fatalf("a new user has tags %v", got)
	}
	if _, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{
		tag("rotor:token:0b6f1e0a-5c1d-4f5e-9c1a-6d1f0e7a9b01", "AKIAEXAMPLEEXAMPLE12"), tag("Team", "a"), tag("empty", "")}}); err != nil {
		t.Fatal(err)
	}
	// Keys match without regard to case; the new key's case wins.
	if _, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("team", "b")}}); err != nil {
		t.Fatal(err)
	}
	want := []iamtypes.Tag{tag("rotor:token:0b6f1e0a-5c1d-4f5e-9c1a-6d1f0e7a9b01", "AKIAEXAMPLEEXAMPLE12"), tag("team", "b"), tag("empty", "")}
	if diff := cmp.Diff(want, list(), opts); diff != "" {
		t.Fatalf("ListUserTags (-want +got):\n%s", diff)
	}
	u, err := e.c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("svc")})
	if err != nil || len(u.User.Tags) != 3 {
		t.Errorf("GetUser tags = %+v, %v", u, err)
	}
	// Removing a key it lacks is not an error; keys match without case.
	if _, err := e.c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("svc"), TagKeys: []string{"TEAM", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iamtypes.Tag{want[0], want[2]}, list(), opts); diff != "" {
		t.Fatalf("after UntagUser (-want +got):\n%s", diff)
	}

	// Pages.
	first, err := e.c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("svc"), MaxItems: aws.Int32(1)})
	if err != nil || len(first.Tags) != 1 || !first.IsTruncated {
		t.Fatalf("ListUserTags(MaxItems 1) = %+v, %v", first, err)
	}
	second, err := e.c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("svc"), Marker: first.Marker})
	if err != nil || len(second.Tags) != 1 || second.IsTruncated || aws.ToString(second.Tags[0].Key) != "empty" {
		t.Fatalf("ListUserTags(second page) = %+v, %v", second, err)
	}

	// The 50-tag quota counts what the user has.
	var many []iamtypes.Tag
	for i := range 48 {
		many = append(many, tag(fmt.Sprint("k", i), "v"))
	}
	if _, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: many}); err != nil {
		t.Fatalf("tagging up to 50: %v", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"a 51st tag", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("one-more", "x")}})
			return err
		}, "LimitExceeded"},
		{"a key AWS reserves", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("aws:x", "y")}})
			return err
		}, "InvalidInput"},
		{"one key twice in one request", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("k0", "1"), tag("K0", "2")}})
			return err
		}, "InvalidInput"},
		{"a key with characters IAM refuses", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("a*b", "y")}})
			return err
		}, "ValidationError"},
		{"a value over 256 characters", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{tag("k0", strings.Repeat("v", 257))}})
			return err
		}, "ValidationError"},
		{"TagUser on nobody", func() error {
			_, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("nobody"), Tags: []iamtypes.Tag{tag("a", "b")}})
			return err
		}, "NoSuchEntity"},
		{"UntagUser on nobody", func() error {
			_, err := e.c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("nobody"), TagKeys: []string{"a"}})
			return err
		}, "NoSuchEntity"},
		{"ListUserTags on nobody", func() error {
			_, err := e.c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("nobody")})
			return err
		}, "NoSuchEntity"},
		{"CreateUser with 51 tags", func() error {
			_, err := e.c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("many"), Tags: append(many, tag("x", "1"), tag("y", "2"), tag("z", "3"))})
			return err
		}, "LimitExceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.name, tc.call(), tc.code) })
	}
	if n := len(list()); n != 50 {
		t.Errorf("%d tags after refused changes, want 50", n)
	}
}

// TestIAMWire checks the XML the SDK does not show: namespaces, the error
// envelope and statuses, and actions IAM does not have.
func TestIAMWire(t *testing.T) {
	e := newIAMEnv(t, Options{})
	post := func(form string) (int, string) {
		t.Helper()
		resp, err := e.hc.Post(e.url, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, form string
		status     int
		contains   []string
	}{
		{"success", "Action=CreateUser&Version=2010-05-08&UserName=wire", 200, []string{
			`<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User><Path>/</Path><UserName>wire</UserName>`,
			`<ResponseMetadata><RequestId>`}},
		{"no output", "Action=DeleteUser&Version=2010-05-08&UserName=wire", 200, []string{
			`<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>`}},
		{"not found", "Action=GetUser&Version=2010-05-08&UserName=wire", 404, []string{
			`<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name wire cannot be found.</Message></Error><RequestId>`}},
		{"an action IAM lacks", "Action=CreateGroup&Version=2010-05-08&GroupName=g", 400, []string{`<Code>InvalidAction</Code>`}},
		{"another version", "Action=ListUsers&Version=2009-01-01", 400, []string{`<Code>InvalidAction</Code>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.form)
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("answer lacks %s:\n%s", c, body)
				}
			}
		})
	}
}

func TestIAMInjectedFault(t *testing.T) {
	e := newIAMEnv(t, Options{Faults: []Fault{{Service: "iam", Op: "ListUsers", Mode: "error", Rate: 1}}})
	_, err := e.c.ListUsers(t.Context(), &iam.ListUsersInput{})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("ListUsers with an injected fault = %v, want HTTP 500", err)
	}
	wantAPIError(t, "injected fault", err, "InternalFailure")
}

// TestIAMPersistence restarts the server on its data file: users, keys
// (with their secrets, which STS needs), statuses and tags survive, and
// what was deleted stays deleted.
func TestIAMPersistence(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "rotor.db")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	e := newIAMEnv(t, Options{DataFile: file, Log: log})
	e.user(t, "svc")
	e.user(t, "gone")
	live, dead := e.key(t, "svc"), e.key(t, "svc")
	if _, err := e.c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("svc"), AccessKeyId: dead.AccessKeyId, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("svc"), Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	before, err := e.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := newIAMEnv(t, Options{DataFile: file, Log: log})
	users, err := e2.c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 1 || aws.ToString(users.Users[0].UserName) != "svc" {
		t.Fatalf("users after restart: %+v, %v", users, err)
	}
	after, err := e2.c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("svc")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.AccessKeyMetadata, after.AccessKeyMetadata, cmpopts.IgnoreUnexported(iamtypes.AccessKeyMetadata{})); diff != "" {
		t.Errorf("keys after restart (-before +after):\n%s", diff)
	}
	tags, err := e2.c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("svc")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "v" {
		t.Errorf("tags after restart: %+v, %v", tags, err)
	}
	// The secret survived: STS still accepts the live key, still refuses
	// the inactive one, and the two-key quota still holds.
	if _, err := e2.callerIdentity(ctx, aws.ToString(live.AccessKeyId), aws.ToString(live.SecretAccessKey)); err != nil {
		t.Errorf("GetCallerIdentity with the live key after restart: %v", err)
	}
	_, err = e2.callerIdentity(ctx, aws.ToString(dead.AccessKeyId), aws.ToString(dead.SecretAccessKey))
	wantAPIError(t, "inactive key after restart", err, "InvalidClientTokenId")
	_, err = e2.c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc")})
	wantAPIError(t, "a third key after restart", err, "LimitExceeded")

	for _, s := range []string{aws.ToString(live.SecretAccessKey), aws.ToString(dead.SecretAccessKey)} {
		if strings.Contains(logs.String(), s) {
			t.Error("the log holds a secret access key")
		}
	}
}

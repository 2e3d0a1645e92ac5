// Package awsiam rotates the access keys of IAM users.
//
// It is registered as "awsiam". The managed secret's value is a JSON object
// with exactly these fields (others are refused, so a typo is not silently
// kept):
//
//	{"userName": "deploy-bot", "accessKeyId": "AKIA...", "secretAccessKey": "..."}
//
// The IAM user may instead (or also) be named by the option tag
// rotor:awsiam:user on the managed secret; when both are set they must name
// the same user. The tag lets a secret start with no value (or with only
// {"userName": ...}): the first rotation mints the user's first key. It is
// also the only way RevokeToken, which sees no value, can find the user, so
// set it: without it, a key minted by a create whose response was lost,
// and that Create itself could not delete (IAM unreachable after losing
// the answer), stays until the next rotation of the user deletes it (see
// Create). Values that Create returns always carry all three fields.
//
// The provider needs no master secret: it acts with the AWS credentials of
// the function that runs it (its IAM role), never with a key it rotates,
// so it keeps working when AWS quarantines a leaked key's user
// (AWSCompromisedKeyQuarantineV3 denies iam:CreateAccessKey to that user
// itself). What that role needs is registered as data (provider.NeedsOf),
// which the CDK construct grants to the create and expire functions:
// iam:ListAccessKeys, iam:CreateAccessKey, iam:UpdateAccessKey,
// iam:DeleteAccessKey and iam:ListUserTags on the users whose rotor:secret
// tag names a secret the deployment may touch, and iam:TagUser and
// iam:UntagUser on them for rotor:token:* tags only (never rotor:secret,
// the user's consent). Verify needs no permission: GetCallerIdentity is
// allowed to every credential.
//
// Contract (beyond package provider's):
//
//   - Create never lets a user have a third key (IAM allows two, active or
//     not). When the user has two, the one that is not the current value's
//     key is deactivated and deleted first: it is the previous rotation's
//     key still in its grace period, the leaked key of an earlier alert, or
//     an orphan, while the current key is what consumers use until the new
//     one is switched over. When neither is the current value's key,
//     Create refuses (rotorerr.Unsafe) rather than guess.
//   - Create labels what it mints with the rotation token, in a tag on the
//     user: rotor:token:<token> = pending:<ids of the keys that existed,
//     joined by "/"> before CreateAccessKey, and = <access key id> once the
//     key is minted. Under a pending tag, the token's keys are those not in
//     the list that no other token's tag names.
//   - CreateAccessKey is not idempotent and takes no client token, and a
//     key's secret cannot be read back: a resend after a lost answer would
//     mint a second key nobody can use. So the SDK never resends it (its
//     retryer is capped at one attempt for that call, whatever the
//     configuration says), and Create reconciles by listing instead. When
//     the call fails other than by IAM's refusal (a 4xx, which changed
//     nothing), as with a lost answer, a timeout or a server fault, Create
//     lists the user's keys and deletes the token's at once, keeping the
//     pending tag for a key a slow request mints later. When it succeeds,
//     Create lists again and deletes every key of the token's but the new
//     one before the label replaces the pending tag, so the label never
//     hides a key (an earlier attempt's request that reached IAM late, a
//     resend below the SDK); if that fails, the new key is deleted too and
//     Create fails. A key that Holders reports as another secret version's
//     is not the token's and stays. The value Create returns is then the
//     token's only key, and the user never has a live key that no value
//     and no token tag accounts for.
//   - A retried Create for the same token finds the tag. Since no secret
//     access key can be read back from IAM, it cannot reuse the key an
//     earlier attempt minted: it deletes it (the labelled key, or the
//     token's keys under a pending tag) and mints again, so a token never
//     has two keys and the user never more than two.
//   - Verify calls STS GetCallerIdentity signed with the new key alone
//     (static credentials) and checks that the caller is the value's user.
//     A new key takes a few seconds to reach every IAM endpoint, so
//     InvalidClientTokenId is retried with backoff for VerifyWait (15 s by
//     default) before it is rotorerr.VerificationFailed; any other refusal
//     (a wrong secret: SignatureDoesNotMatch) fails at once.
//   - Revoke deactivates and then deletes the key (deactivating first, so
//     that the key stops working even if the delete fails), and removes
//     the token tag that names it. A key or user already gone, or a value
//     that holds no key ({"userName": ...} alone), is success. Revoking
//     the key of Current is rotorerr.Unsafe.
//   - RevokeToken revokes the key the token's tag names (or, under a
//     pending tag, the token's keys as above) and removes the tag last, so
//     that a failed RevokeToken can be repeated.
//   - Identify gives KeyID = accessKeyId and Secret = secretAccessKey.
//
// Consent (SECURITY.md, trust boundaries). A secret's tags and value naming an IAM
// user are only a request: whoever may tag a secret could name any user.
// The user consents by naming the one secret it backs, by ARN, in its own
// tag rotor:secret (TagSecret), which the secret's owner cannot write.
// Create, Revoke and RevokeToken refuse (rotorerr.InvalidInput, nothing
// changed) a user that does not name the request's secret. One IAM user
// backs one managed secret: the two-key rule treats every key of the user
// but the current value's as deletable, and still never deletes a key
// that the request's Holders report as another secret's (or another
// rotation's) current or pending value (rotorerr.Unsafe).
//
// AWS errors are reduced to the operation, the error code and AWS's
// message with any secret access key removed: throttling, server faults,
// concurrent modification, timeouts and a key quota filled by someone else
// between listing and minting are rotorerr.Transient; a denied permission,
// a missing user or a user with 50 tags already is rotorerr.InvalidInput;
// other refusals are rotorerr.Unsafe.
//
// Clients come from the host's AWS configuration (provider.Env.AWS: the
// functions' default one, or rotor local's endpoint), or, when the host
// gives none, from config.LoadDefaultConfig once, so AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_IAM and AWS_ENDPOINT_URL_STS reach a local endpoint with
// no code of its own. IAM is a global service signed for us-east-1 (the
// aws partition); STS uses the configured region's endpoint.
package awsiam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// Name is the provider's registered name.
const Name = "awsiam"

// OptionUser is the option (tag rotor:awsiam:user) naming the IAM user.
const OptionUser = "user"

// TagSecret is the tag on an IAM user that names, by its ARN, the one
// managed secret whose rotations may act on the user's keys: the user's
// consent (SECURITY.md, trust boundaries). A secret that names the user without the
// user naming it back is refused.
const TagSecret = "rotor:secret"

// TokenTagPrefix starts the user tag that labels what a rotation token
// minted: rotor:token:<token>.
const TokenTagPrefix = "rotor:token:"

// pendingPrefix starts a token tag's value while its key is being minted.
const pendingPrefix = "pending:"

// DefaultVerifyWait is how long Verify waits by default for a new key to
// propagate through IAM. AWS documents IAM as eventually consistent; new
// keys are usually accepted everywhere within a few seconds.
const DefaultVerifyWait = 15 * time.Second

// iamRegion signs IAM requests: IAM is a global service whose endpoint in
// the aws partition lives in us-east-1.
const iamRegion = "us-east-1"

func init() {
	provider.Register(Name, provider.Registration{
		New: func(env provider.Env) (provider.Provider, error) {
			if env.AWS == nil {
				return &Provider{}, nil
			}
			return New(*env.AWS), nil
		},
		Needs: needs,
	})
}

// needs is what the provider needs from a deployment: IAM and STS, and
// the create and expire functions' roles may act on the keys of the users
// that consent to a secret the deployment may touch (their rotor:secret
// tag names it; the provider then checks that it names the very secret
// being rotated), and set on them only rotor:token:* tags.
var needs = provider.Needs{
	AWS: []string{"iam", "sts"},
	IAM: []provider.Statement{
		{
			Sid: "ConsentingUserKeys", Functions: []string{provider.FuncCreate},
			Actions:    []string{"iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:ListUserTags"},
			Resources:  []string{usersARN},
			Conditions: []provider.Condition{consenting},
		},
		{
			Sid: "ConsentingUserTokenTags", Functions: []string{provider.FuncCreate},
			Actions:   []string{"iam:TagUser", "iam:UntagUser"},
			Resources: []string{usersARN},
			Conditions: []provider.Condition{consenting,
				{Operator: "ForAllValues:StringLike", Key: "aws:TagKeys", Values: []string{TokenTagPrefix + "*"}}},
		},
		// Expire only revokes: it never lists or mints keys, nor marks one
		// (the least-privilege test in test/template shows each needed).
		{
			Sid: "ConsentingUserKeyRevocation", Functions: []string{provider.FuncExpire},
			Actions:    []string{"iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:ListUserTags"},
			Resources:  []string{usersARN},
			Conditions: []provider.Condition{consenting},
		},
		{
			Sid: "ConsentingUserTokenCleanup", Functions: []string{provider.FuncExpire},
			Actions:   []string{"iam:UntagUser"},
			Resources: []string{usersARN},
			Conditions: []provider.Condition{consenting,
				{Operator: "ForAllValues:StringLike", Key: "aws:TagKeys", Values: []string{TokenTagPrefix + "*"}}},
		},
	},
}

const usersARN = "arn:${Partition}:iam::${Account}:user/*"

// consenting holds for users whose rotor:secret tag names a secret the
// deployment may touch.
var consenting = provider.Condition{Operator: "StringLike", Key: "iam:ResourceTag/" + TagSecret, Values: []string{"${SecretArns}"}}

// Provider rotates IAM user access keys. The zero value loads the default
// AWS configuration on first use; New injects one.
type Provider struct {
	// VerifyWait bounds how long Verify retries InvalidClientTokenId; zero
	// means DefaultVerifyWait.
	VerifyWait time.Duration

	mu  sync.Mutex
	cfg *aws.Config // nil until loaded
	iam iamAPI
}

// New returns a provider using cfg (region, credentials, endpoints, HTTP
// client) instead of config.LoadDefaultConfig: for tests and hosts that
// build their own.
func New(cfg aws.Config) *Provider {
	return &Provider{cfg: &cfg}
}

// iamAPI is the part of IAM the provider calls: exactly the permissions
// its role needs.
type iamAPI interface {
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	CreateAccessKey(context.Context, *iam.CreateAccessKeyInput, ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	ListUserTags(context.Context, *iam.ListUserTagsInput, ...func(*iam.Options)) (*iam.ListUserTagsOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(context.Context, *iam.UntagUserInput, ...func(*iam.Options)) (*iam.UntagUserOutput, error)
}

var _ iamAPI = (*iam.Client)(nil)

// Value is the managed secret's value.
type Value struct {
	UserName        string `json:"userName,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
}

var (
	userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	keyIDRE    = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	// tokenRE is what fits in an IAM tag key after TokenTagPrefix.
	tokenRE = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]{1,116}$`)
)

// NeedsMaster implements provider.MasterUser: the function's own role
// acts; no master secret is read.
func (*Provider) NeedsMaster(provider.Options) bool { return false }

// CheckOptions implements provider.OptionsChecker.
func (*Provider) CheckOptions(o provider.Options) error {
	if err := provider.UnknownOptions(Name, o, OptionUser); err != nil {
		return err
	}
	if u, ok := o[OptionUser]; ok && !userNameRE.MatchString(u) {
		return invalid("tag rotor:awsiam:user: %q is not an IAM user name (1 to 64 of A-Z a-z 0-9 _+=,.@-)", u)
	}
	return nil
}

// decode reads a value (what names it, e.g. "secret value", goes into
// errors). An empty value is an empty Value. Errors never quote it.
func decode(what string, value []byte) (Value, error) {
	var v Value
	if len(strings.TrimSpace(string(value))) == 0 {
		return v, nil
	}
	if err := strictjson.Decode(value, &v); err != nil {
		return Value{}, invalid("%s: %v (want {\"userName\", \"accessKeyId\", \"secretAccessKey\"})", what, err)
	}
	if v.AccessKeyID != "" && !keyIDRE.MatchString(v.AccessKeyID) {
		return Value{}, invalid("%s: field accessKeyId is not an AWS access key id", what)
	}
	if v.UserName != "" && !userNameRE.MatchString(v.UserName) {
		return Value{}, invalid("%s: field userName is not an IAM user name", what)
	}
	return v, nil
}

// userName is the IAM user of v under options o.
func userName(what string, v Value, o provider.Options) (string, error) {
	opt := o[OptionUser]
	switch {
	case opt != "" && v.UserName != "" && !strings.EqualFold(opt, v.UserName):
		return "", invalid("%s: field userName (%q) and tag rotor:awsiam:user (%q) name different IAM users", what, v.UserName, opt)
	case opt != "":
		return opt, nil
	case v.UserName != "":
		return v.UserName, nil
	}
	return "", invalid("%s: no IAM user: set field userName or the tag rotor:awsiam:user", what)
}

// Identify implements provider.Identifier.
func (*Provider) Identify(value []byte, o provider.Options) (*provider.Identity, error) {
	v, err := decode("secret value", value)
	if err != nil {
		return nil, err
	}
	id := &provider.Identity{KeyID: v.AccessKeyID}
	if v.SecretAccessKey != "" {
		id.Secret = []byte(v.SecretAccessKey)
	}
	return id, nil
}

// config returns the AWS configuration, loading the default one on first
// use. A failed load is not kept: the next call tries again.
func (p *Provider) config(ctx context.Context) (aws.Config, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, rotorerr.Wrap(rotorerr.InvalidInput, fmt.Errorf("provider awsiam: loading the AWS configuration: %w", err))
		}
		p.cfg = &cfg
	}
	return *p.cfg, nil
}

func (p *Provider) client(ctx context.Context) (iamAPI, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.iam == nil {
		p.iam = iam.NewFromConfig(cfg, func(o *iam.Options) { o.Region = iamRegion })
	}
	return p.iam, nil
}

// user is what Create and the revokers learn about a user.
type user struct {
	name   string
	keys   []iamtypes.AccessKeyMetadata // oldest first
	tags   map[string]string            // token -> tag value, for rotor:token: tags
	secret string                       // the TagSecret tag: the secret the user consents to back
}

func (u *user) has(id string) bool {
	return slices.ContainsFunc(u.keys, func(k iamtypes.AccessKeyMetadata) bool { return aws.ToString(k.AccessKeyId) == id })
}

func (u *user) drop(id string) {
	u.keys = slices.DeleteFunc(u.keys, func(k iamtypes.AccessKeyMetadata) bool { return aws.ToString(k.AccessKeyId) == id })
	for t, v := range u.tags {
		if v == id {
			delete(u.tags, t)
		}
	}
}

// claimed reports whether a token other than token names key id.
func (u *user) claimed(id, token string) bool {
	for t, v := range u.tags {
		if t != token && v == id {
			return true
		}
	}
	return false
}

// load lists a user's keys and token tags.
func load(ctx context.Context, c iamAPI, name string) (*user, error) {
	u := &user{name: name, tags: map[string]string{}}
	var marker *string
	for {
		out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &name, Marker: marker})
		if err != nil {
			return nil, awsError("ListAccessKeys", name, err)
		}
		u.keys = append(u.keys, out.AccessKeyMetadata...)
		if !out.IsTruncated {
			break
		}
		marker = out.Marker
	}
	slices.SortStableFunc(u.keys, func(a, b iamtypes.AccessKeyMetadata) int {
		return aws.ToTime(a.CreateDate).Compare(aws.ToTime(b.CreateDate))
	})
	tags, err := listTags(ctx, c, name)
	if err != nil {
		return nil, err
	}
	for k, v := range tags {
		if t, ok := strings.CutPrefix(k, TokenTagPrefix); ok {
			u.tags[t] = v
		}
	}
	u.secret = tags[TagSecret]
	return u, nil
}

// consents checks that the user names secret (an ARN) in its TagSecret
// tag: a secret's tag naming a user is only a request; the user's own tag,
// which the secret's owner cannot write, is the consent (SECURITY.md, trust
// model). The message never names the secret the user does back.
func consents(name, tagValue, secret string) error {
	switch {
	case tagValue == secret:
		return nil
	case tagValue == "":
		return invalid("IAM user %s has no tag %s, so it backs no secret rotor may rotate; its owner consents with "+
			"`aws iam tag-user --user-name %s --tags Key=%s,Value=%s`", name, TagSecret, name, TagSecret, secret)
	}
	return invalid("IAM user %s backs another secret (its tag %s names another ARN); one IAM user backs one secret, and "+
		"this one (%s) is not it", name, TagSecret, secret)
}

// checkHolders refuses to delete key id when a managed secret other than
// version self of secret holds it as current or pending.
func checkHolders(ctx context.Context, f provider.HoldersFunc, user, id, secret, self string) error {
	h, err := provider.OtherHolder(ctx, f, id, secret, self)
	if err != nil {
		return err
	}
	if h != nil {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
			"provider awsiam: refusing to delete key %s of IAM user %s: version %s of secret %s holds it as %s", id, user, h.VersionID, h.SecretID, h.Label))
	}
	return nil
}

func listTags(ctx context.Context, c iamAPI, name string) (map[string]string, error) {
	tags := map[string]string{}
	var marker *string
	for {
		out, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: &name, Marker: marker})
		if err != nil {
			return nil, awsError("ListUserTags", name, err)
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !out.IsTruncated {
			return tags, nil
		}
		marker = out.Marker
	}
}

// Create implements provider.Provider.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	if err := p.CheckOptions(req.Options); err != nil {
		return nil, err
	}
	if !tokenRE.MatchString(req.Token) {
		return nil, invalid("rotation token %q does not fit in an IAM tag key", req.Token)
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		return nil, err
	}
	redact.Add(ctx, cur.SecretAccessKey)
	name, err := userName("current value", cur, req.Options)
	if err != nil {
		return nil, err
	}
	c, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	u, err := load(ctx, c, name)
	if err != nil {
		return nil, err
	}
	if err := consents(name, u.secret, req.SecretID); err != nil {
		return nil, err
	}
	if err := reclaim(ctx, c, u, req, cur.AccessKeyID); err != nil {
		return nil, err
	}
	if err := makeRoom(ctx, c, u, req, cur.AccessKeyID); err != nil {
		return nil, err
	}

	// Mark before minting: if CreateAccessKey's answer is lost, the key it
	// made is known by not being in this list.
	var known []string
	for _, k := range u.keys {
		known = append(known, aws.ToString(k.AccessKeyId))
	}
	tag := TokenTagPrefix + req.Token
	if err := setTag(ctx, c, name, tag, pendingPrefix+strings.Join(known, "/")); err != nil {
		return nil, err
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &name}, mintOnce)
	if err != nil {
		err = awsError("CreateAccessKey", name, err)
		if refused(err) {
			return nil, err
		}
		// Perhaps minted all the same, its secret gone with the answer:
		// delete it now rather than leave it to a retry or RevokeToken
		// (which needs the user tag). The pending tag stays, for a key a
		// slow request mints after this listing.
		dctx, cancel := detached(ctx)
		defer cancel()
		if derr := sweep(dctx, c, req, name, known, "", false); derr != nil {
			return nil, fmt.Errorf("%w (and deleting a key it may have minted failed, left to a retry under the pending tag %s: %v)", err, tag, derr)
		}
		return nil, err
	}
	id, secret := aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)
	redact.Add(ctx, secret)
	// Before the label replaces the pending tag, which is the only record
	// of any other key minted for the token (a request of an earlier
	// attempt that reached IAM late, a resend by something below the SDK),
	// make id the token's one key.
	if err := sweep(ctx, c, req, name, known, id, true); err != nil {
		return nil, discard(ctx, c, name, id, err)
	}
	if err := setTag(ctx, c, name, tag, id); err != nil {
		return nil, discard(ctx, c, name, id, err)
	}
	value, err := json.Marshal(Value{UserName: name, AccessKeyID: id, SecretAccessKey: secret})
	if err != nil {
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

// mintOnce keeps the SDK from resending CreateAccessKey: it is not
// idempotent (IAM has no client token for it), so a resend after a lost
// answer mints a second key while the first one's secret is gone with the
// answer. The step's own retry reconciles through the pending tag instead.
func mintOnce(o *iam.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }

// refused reports whether err is IAM's answer refusing a call, which then
// changed nothing (a 4xx: throttled, denied, a full key quota); a server
// fault or no answer at all may hide a call that took effect.
func refused(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500
}

// sweep deletes the keys that token's create may have minted beside keep
// ("" when it has none): every key of the user that is not in known (the
// keys before the pending tag), that no other token's tag names and that
// no other secret version holds (those are left alone: they are not this
// token's). strict makes a failed lookup of holders an error; otherwise
// the key is left to the pending tag.
func sweep(ctx context.Context, c iamAPI, req *provider.CreateRequest, name string, known []string, keep string, strict bool) error {
	u, err := load(ctx, c, name)
	if err != nil {
		return err
	}
	for _, id := range newKeys(u, req.Token, known) {
		if id == keep {
			continue
		}
		h, err := provider.OtherHolder(ctx, req.Holders, id, req.SecretID, req.Token)
		if err != nil && strict {
			return fmt.Errorf("provider awsiam: looking up who holds key %s of IAM user %s: %w", id, name, err)
		}
		if err != nil || h != nil {
			continue
		}
		if err := revokeKey(ctx, c, name, id); err != nil {
			return fmt.Errorf("deleting key %s, minted for token %s with no value to hold it: %w", id, req.Token, err)
		}
	}
	return nil
}

// discard deletes key id, minted but not to be returned because of cause,
// and returns cause. The pending tag still covers the key if the delete
// fails too.
func discard(ctx context.Context, c iamAPI, name, id string, cause error) error {
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := revokeKey(dctx, c, name, id); err != nil {
		return fmt.Errorf("%w (and deleting the unreturned key %s failed: %v)", cause, id, err)
	}
	return cause
}

// reclaim deletes what an earlier attempt for token minted: its secret
// cannot be read back, so the key is of no use and would only take one of
// the user's two slots.
func reclaim(ctx context.Context, c iamAPI, u *user, req *provider.CreateRequest, current string) error {
	token := req.Token
	for _, id := range orphansOf(u, token) {
		if id == current {
			// Recorded and in use: never an orphan. (Unreachable while
			// create runs only before its token's switchover; failing here
			// would make the core revoke the token's keys, this one too.)
			continue
		}
		if err := checkHolders(ctx, req.Holders, u.name, id, req.SecretID, token); err != nil {
			return err
		}
		if err := revokeKey(ctx, c, u.name, id); err != nil {
			return fmt.Errorf("deleting key %s left by an earlier attempt for token %s: %w", id, token, err)
		}
		u.drop(id)
	}
	return nil
}

// orphansOf returns the keys minted for token that still exist: the key
// its tag names or, under a pending tag, every key that is not in the
// tag's list and that no other token names.
func orphansOf(u *user, token string) []string {
	v, ok := u.tags[token]
	if !ok {
		return nil
	}
	known, pending := strings.CutPrefix(v, pendingPrefix)
	if !pending {
		if u.has(v) {
			return []string{v}
		}
		return nil
	}
	return newKeys(u, token, strings.Split(known, "/"))
}

// newKeys returns the user's keys that are not in known and that no token
// other than token names.
func newKeys(u *user, token string, known []string) []string {
	var out []string
	for _, k := range u.keys {
		id := aws.ToString(k.AccessKeyId)
		if !slices.Contains(known, id) && !u.claimed(id, token) {
			out = append(out, id)
		}
	}
	return out
}

// makeRoom deletes keys until a new one fits: IAM allows two per user.
// The current value's key stays: consumers use it until the new one is
// switched over. The other is the previous rotation's key still in its
// grace period, or the leaked key a leak alert is rotating away, or an
// orphan; whichever it is, it must go before a third key could exist.
func makeRoom(ctx context.Context, c iamAPI, u *user, req *provider.CreateRequest, current string) error {
	if len(u.keys) < 2 {
		return nil
	}
	if current == "" || !u.has(current) {
		ids := make([]string, len(u.keys))
		for i, k := range u.keys {
			ids[i] = aws.ToString(k.AccessKeyId)
		}
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
			"provider awsiam: IAM user %s already has two access keys (%s) and neither is the current value's key; "+
				"refusing to guess which one is in use: delete one by hand", u.name, strings.Join(ids, ", ")))
	}
	for _, k := range slices.Clone(u.keys) {
		id := aws.ToString(k.AccessKeyId)
		if id == current {
			continue
		}
		// No version of any secret may still need it: another rotation's
		// pending key, or a key some other secret holds as current.
		if err := checkHolders(ctx, req.Holders, u.name, id, req.SecretID, req.Token); err != nil {
			return err
		}
		if err := revokeKey(ctx, c, u.name, id); err != nil {
			return fmt.Errorf("making room for a new key: %w", err)
		}
		u.drop(id)
	}
	return nil
}

func setTag(ctx context.Context, c iamAPI, name, key, value string) error {
	_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: &name, Tags: []iamtypes.Tag{{Key: &key, Value: &value}}})
	return awsError("TagUser", name, err)
}

// revokeKey deactivates and deletes a key (first deactivating, so that a
// failed delete still leaves the key unusable) and removes the token tags
// naming it. A key or user already gone is success.
func revokeKey(ctx context.Context, c iamAPI, name, id string) error {
	_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &name, AccessKeyId: &id, Status: iamtypes.StatusTypeInactive})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return awsError("UpdateAccessKey", name, err)
	}
	if err == nil {
		_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &name, AccessKeyId: &id})
		if err != nil && !isCode(err, "NoSuchEntity") {
			return awsError("DeleteAccessKey", name, err)
		}
	}
	tags, err := listTags(ctx, c, name)
	if isCode(err, "NoSuchEntity") {
		return nil
	}
	if err != nil {
		return err
	}
	var drop []string
	for k, v := range tags {
		if strings.HasPrefix(k, TokenTagPrefix) && v == id {
			drop = append(drop, k)
		}
	}
	return untag(ctx, c, name, drop)
}

func untag(ctx context.Context, c iamAPI, name string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	_, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: &name, TagKeys: keys})
	if isCode(err, "NoSuchEntity") {
		return nil
	}
	return awsError("UntagUser", name, err)
}

// Verify implements provider.Provider with the new key alone.
func (p *Provider) Verify(ctx context.Context, req *provider.VerifyRequest) error {
	v, err := decode("version "+req.Token, req.Value)
	if err != nil {
		// A value that cannot be read does not work: roll back.
		return rotorerr.Wrap(rotorerr.VerificationFailed, err)
	}
	redact.Add(ctx, v.SecretAccessKey)
	name, err := userName("version "+req.Token, v, req.Options)
	if err != nil {
		return rotorerr.Wrap(rotorerr.VerificationFailed, err)
	}
	if v.AccessKeyID == "" || v.SecretAccessKey == "" {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider awsiam: version %s lacks accessKeyId or secretAccessKey", req.Token))
	}
	cfg, err := p.config(ctx)
	if err != nil {
		return err
	}
	// Only the new key signs: not the function's role, not a session token.
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(v.AccessKeyID, v.SecretAccessKey, "")
		if o.Region == "" {
			o.Region = iamRegion
		}
	})
	wait := p.VerifyWait
	if wait <= 0 {
		wait = DefaultVerifyWait
	}
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			return checkCaller(aws.ToString(out.Arn), name, v.AccessKeyID)
		}
		err = awsErrorScrubbed("sts:GetCallerIdentity", "", err, v.SecretAccessKey)
		if !isCode(err, "InvalidClientTokenId") {
			if rotorerr.Classify(err) == rotorerr.Transient {
				return err
			}
			// The key is known and refused (a wrong secret, a denied
			// call): waiting changes nothing.
			return rotorerr.Wrap(rotorerr.VerificationFailed, fmt.Errorf("provider awsiam: STS refused key %s: %w", v.AccessKeyID, unkind(err)))
		}
		if time.Now().Add(delay).After(deadline) {
			return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf(
				"provider awsiam: STS does not accept key %s (InvalidClientTokenId) after waiting %s for IAM to propagate it", v.AccessKeyID, wait))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider awsiam: verifying key %s: %w", v.AccessKeyID, ctx.Err()))
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// checkCaller checks that arn (arn:PARTITION:iam::ACCOUNT:user/PATH/NAME)
// is IAM user name's.
func checkCaller(arn, name, keyID string) error {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" {
		if res, ok := strings.CutPrefix(parts[5], "user/"); ok {
			if i := strings.LastIndex(res, "/"); strings.EqualFold(res[i+1:], name) {
				return nil
			}
		}
	}
	return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf(
		"provider awsiam: key %s works but belongs to %s, not to IAM user %s", keyID, arn, name))
}

// Revoke implements provider.Provider.
func (p *Provider) Revoke(ctx context.Context, req *provider.RevokeRequest) error {
	if err := p.CheckOptions(req.Options); err != nil {
		return err
	}
	v, err := decode("version "+req.VersionID, req.Value)
	if err != nil {
		return err
	}
	redact.Add(ctx, v.SecretAccessKey)
	name, err := userName("version "+req.VersionID, v, req.Options)
	if err != nil {
		return err
	}
	switch {
	case v.AccessKeyID == "" && v.SecretAccessKey == "":
		// {"userName": ...} alone, the value a secret starts with before
		// its first rotation: it holds no key, so nothing is revoked.
		return nil
	case v.AccessKeyID == "":
		return invalid("version %s has a secretAccessKey but no accessKeyId, so its key cannot be found to revoke; revoke it by hand", req.VersionID)
	}
	cur, err := decode("current value", req.Current)
	if err != nil {
		// Unreadable, it might hold this very key: do not risk it.
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider awsiam: refusing to revoke key %s: the current value cannot be read to check it is not the current key (%v)", v.AccessKeyID, unkind(err)))
	}
	if cur.AccessKeyID == v.AccessKeyID {
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider awsiam: refusing to revoke key %s: it is the current value's key", v.AccessKeyID))
	}
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	tags, err := listTags(ctx, c, name)
	if isCode(err, "NoSuchEntity") {
		return nil // no user, no key
	}
	if err != nil {
		return err
	}
	if err := consents(name, tags[TagSecret], req.SecretID); err != nil {
		return err
	}
	if err := checkHolders(ctx, req.Holders, name, v.AccessKeyID, req.SecretID, req.VersionID); err != nil {
		return err
	}
	return revokeKey(ctx, c, name, v.AccessKeyID)
}

// RevokeToken implements provider.TokenRevoker. The request carries no
// value, so the user comes from the tag rotor:awsiam:user alone.
func (p *Provider) RevokeToken(ctx context.Context, req *provider.RevokeTokenRequest) (int, error) {
	if err := p.CheckOptions(req.Options); err != nil {
		return 0, err
	}
	name := req.Options[OptionUser]
	if name == "" {
		return 0, invalid("revoking what token %s minted needs the tag rotor:awsiam:user naming the IAM user", req.Token)
	}
	if !tokenRE.MatchString(req.Token) {
		return 0, invalid("rotation token %q does not fit in an IAM tag key", req.Token)
	}
	c, err := p.client(ctx)
	if err != nil {
		return 0, err
	}
	u, err := load(ctx, c, name)
	if isCode(err, "NoSuchEntity") {
		return 0, nil // no user, no keys
	}
	if err != nil {
		return 0, err
	}
	if err := consents(name, u.secret, req.SecretID); err != nil {
		return 0, err
	}
	if _, ok := u.tags[req.Token]; !ok {
		return 0, nil
	}
	orphans := orphansOf(u, req.Token)
	for _, id := range orphans {
		if err := checkHolders(ctx, req.Holders, name, id, req.SecretID, req.Token); err != nil {
			return 0, err
		}
	}
	for i, id := range orphans {
		if err := revokeKey(ctx, c, name, id); err != nil {
			return i, err
		}
	}
	// The tag goes last: while it stays, a retry can still find the keys.
	return len(orphans), untag(ctx, c, name, []string{TokenTagPrefix + req.Token})
}

// Errors.

func invalid(format string, args ...any) error {
	return rotorerr.New(rotorerr.InvalidInput, "provider awsiam: "+fmt.Sprintf(format, args...))
}

// apiError is an AWS error reduced to what is safe to show: the call, the
// user, the error code and AWS's message with secrets removed. It unwraps
// to the SDK's error for errors.As.
type apiError struct {
	call, user, code, msg string
	err                   error
}

func (e *apiError) Error() string {
	s := "provider awsiam: " + e.call
	if e.user != "" {
		s += " on IAM user " + e.user
	}
	if e.code != "" {
		s += ": " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *apiError) Unwrap() error { return e.err }

// awsError classifies an error of IAM call op on user (nil stays nil).
func awsError(op, user string, err error) error {
	return awsErrorScrubbed("iam:"+op, user, err)
}

// maxMessage bounds how much of AWS's message an error keeps.
const maxMessage = 240

func awsErrorScrubbed(call, user string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		// No answer: a timeout, a cancellation, a refused connection. The
		// SDK's text names the operation and the endpoint, nothing secret.
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return rotorerr.Wrap(rotorerr.Transient, &apiError{call: call, user: user, msg: "no answer: " + contextErr(err).Error(), err: err})
		}
		var de *smithy.DeserializationError
		if errors.As(err, &de) {
			// Its text may quote the answer, which may hold a new secret.
			return rotorerr.Wrap(rotorerr.Transient, &apiError{call: call, user: user, msg: "the answer could not be read", err: err})
		}
		// The SDK's own text (a refused connection, credentials it could
		// not get) names operations and endpoints, not values.
		return rotorerr.Wrap(rotorerr.Transient, &apiError{call: call, user: user, msg: scrub(err.Error(), secrets), err: err})
	}
	e := &apiError{call: call, user: user, code: ae.ErrorCode(), msg: scrub(ae.ErrorMessage(), secrets), err: err}
	return rotorerr.Wrap(kindOf(ae, err), e)
}

// scrub removes secrets, in every encoding redact knows, from msg and bounds
// its length.
func scrub(msg string, secrets []string) string {
	set := &redact.Set{}
	for _, s := range secrets {
		set.Add(s)
	}
	msg = set.Scrub(msg)
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return msg
}

func kindOf(ae smithy.APIError, err error) rotorerr.Kind {
	code := ae.ErrorCode()
	switch {
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool(),
		code == "ConcurrentModification", code == "ServiceFailure", code == "ServiceUnavailable",
		ae.ErrorFault() == smithy.FaultServer:
		return rotorerr.Transient
	case code == "LimitExceeded" && strings.Contains(ae.ErrorMessage(), "AccessKeysPerUser"):
		// A key was made by someone else between listing and minting: a
		// retry makes room again.
		return rotorerr.Transient
	case code == "NoSuchEntity", code == "LimitExceeded",
		code == "AccessDenied", code == "AccessDeniedException", code == "UnauthorizedOperation":
		// A user that does not exist, 50 tags already, a role without the
		// permission: settings to fix, not to retry.
		return rotorerr.InvalidInput
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return rotorerr.Transient
	}
	return rotorerr.Unsafe
}

func contextErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	return context.DeadlineExceeded
}

// isCode reports whether err is an AWS error with code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// unkind drops the kind of an error being wrapped into another kind, so
// that Classify sees only the outer one.
func unkind(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return errors.New(err.Error())
}

// detached keeps ctx's values (the redaction set) but not its
// cancellation, for clean-up after ctx has ended.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

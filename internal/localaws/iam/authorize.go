package iam

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Authorize tells which permissions an IAM request needs, for the server's
// Options.EnforceIAM: the user actions act on the user's ARN with its tags
// as iam:ResourceTag/KEY and aws:ResourceTag/KEY (CreateUser and TagUser
// add aws:RequestTag/KEY and aws:TagKeys, UntagUser aws:TagKeys); the role
// actions on the role's ARN; ListUsers on "*". A user left unnamed is the
// caller's own; when the caller is no user, nothing is checked, since the
// operation refuses such a caller itself.
func (i *Service) Authorize(r *http.Request, op string, body []byte) ([]wire.Access, error) {
	form, err := wire.ParseQuery(body)
	if err != nil {
		return nil, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"}
	}
	one := func(resource string, ctx map[string][]string) []wire.Access {
		return []wire.Access{{Request: iampolicy.Request{Action: "iam:" + op, Resource: resource, Context: ctx}}}
	}
	switch op {
	case "ListUsers":
		return one("*", nil), nil
	case "CreateUser":
		path := form.Get("Path")
		if path == "" {
			path = "/"
		}
		ctx := map[string][]string{}
		requestTags(ctx, formTags(form))
		return one(i.userARN(path, form.Get("UserName")), ctx), nil
	case "GetUser", "DeleteUser", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "ListAccessKeys",
		"ListUserTags", "TagUser", "UntagUser":
		arn, ctx, ok := i.userResource(r, form.Get("UserName"))
		if !ok {
			return nil, nil
		}
		switch op {
		case "TagUser":
			requestTags(ctx, formTags(form))
		case "UntagUser":
			ctx["aws:TagKeys"] = wire.FormList(form, "TagKeys")
		}
		return one(arn, ctx), nil
	}
	if roleOps[op] {
		name := form.Get("RoleName")
		arn := i.roleARN("/", name)
		i.rmu.RLock()
		if r, ok := i.roles[strings.ToLower(name)]; ok {
			arn = r.arn
		}
		i.rmu.RUnlock()
		return one(arn, nil), nil
	}
	return nil, wire.ErrNotModelled
}

func (i *Service) userARN(path, name string) string {
	return "arn:aws:iam::" + i.env.Account + ":user" + path + name
}

// userResource returns a user's ARN and its tags as condition keys; a user
// that does not exist is arn:aws:iam::ACCOUNT:user/NAME without tags. An
// empty name is the user owning the request's access key; ok is false when
// there is none.
func (i *Service) userResource(r *http.Request, name string) (string, map[string][]string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	var u *iamUser
	if name == "" {
		u = i.users[i.keys[credentialKeyID(r)]]
		if u == nil {
			return "", nil, false
		}
	} else {
		u = i.users[strings.ToLower(name)]
	}
	ctx := map[string][]string{}
	if u == nil {
		return i.userARN("/", name), ctx, true
	}
	for _, t := range u.Tags {
		ctx["iam:ResourceTag/"+t.Key] = []string{t.Value}
		ctx["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return i.arn(u), ctx, true
}

// formTags reads Tags.member.N.Key/Value as sent (the operation validates
// them).
func formTags(form url.Values) []iamTag {
	var tags []iamTag
	for n := 1; ; n++ {
		p := "Tags.member." + strconv.Itoa(n) + "."
		k, ok := form[p+"Key"]
		if !ok {
			return tags
		}
		tags = append(tags, iamTag{Key: k[0], Value: form.Get(p + "Value")})
	}
}

// requestTags sets aws:RequestTag/KEY and aws:TagKeys.
func requestTags(ctx map[string][]string, tags []iamTag) {
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		ctx["aws:RequestTag/"+t.Key] = []string{t.Value}
		keys = append(keys, t.Key)
	}
	if len(keys) > 0 {
		ctx["aws:TagKeys"] = keys
	}
}

// Authorize tells which permissions an STS request needs:
// GetCallerIdentity none (AWS never refuses it), AssumeRole sts:AssumeRole
// on the role with sts:RoleSessionName. The role's trust policy is not
// evaluated.
func (st *STS) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	switch op {
	case "GetCallerIdentity":
		return nil, nil
	case "AssumeRole":
		form, err := wire.ParseQuery(body)
		if err != nil {
			return nil, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"}
		}
		ctx := map[string][]string{}
		if n := form.Get("RoleSessionName"); n != "" {
			ctx["sts:RoleSessionName"] = []string{n}
		}
		return []wire.Access{{Request: iampolicy.Request{Action: "sts:AssumeRole", Resource: form.Get("RoleArn"), Context: ctx}}}, nil
	}
	return nil, wire.ErrNotModelled
}

package secretsmanager

import (
	"net/http"
	"strings"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Authorize tells which permission a Secrets Manager request needs, for
// the server's Options.EnforceIAM: secretsmanager:OP on the secret's ARN,
// resolved from a name, a full or a partial ARN as the operation resolves
// it, with the condition keys secretsmanager:SecretId (that ARN),
// secretsmanager:ResourceTag/KEY and aws:ResourceTag/KEY (the secret's
// tags as they are now), aws:RequestTag/KEY and aws:TagKeys (TagResource,
// CreateSecret), aws:TagKeys (UntagResource), secretsmanager:VersionId and
// secretsmanager:VersionStage where the request names them, and
// secretsmanager:Name (CreateSecret). A secret that does not exist has no
// tags, and the ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (or
// the ARN given); CreateSecret's is that of its name too, the random
// suffix being drawn only once it is allowed. ListSecrets,
// GetRandomPassword and BatchGetSecretValue act on "*".
func (sm *Service) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	var in struct {
		SecretId, Name, VersionId, VersionStage *string
		Tags                                    []struct{ Key, Value *string }
		TagKeys                                 []string
	}
	switch op {
	case "ListSecrets", "GetRandomPassword", "BatchGetSecretValue":
		return access(op, "*", nil), nil
	}
	if _, ok := smOps[op]; !ok {
		return nil, wire.ErrNotModelled
	}
	if err := wire.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	ctx := map[string][]string{}
	var arn string
	if op == "CreateSecret" {
		name := deref(in.Name)
		arn = sm.store.ARNPrefix() + name
		ctx["secretsmanager:Name"] = []string{name}
	} else {
		id := deref(in.SecretId)
		var tags map[string]string
		var found bool
		arn, tags, found = sm.store.Resource(id)
		if !found {
			arn = id
			if !strings.HasPrefix(id, "arn:") {
				arn = sm.store.ARNPrefix() + id
			}
		}
		ctx["secretsmanager:SecretId"] = []string{arn}
		for k, v := range tags {
			ctx["secretsmanager:ResourceTag/"+k] = []string{v}
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
	}
	switch op {
	case "CreateSecret", "TagResource":
		var keys []string
		for _, t := range in.Tags {
			ctx["aws:RequestTag/"+deref(t.Key)] = []string{deref(t.Value)}
			keys = append(keys, deref(t.Key))
		}
		if keys != nil {
			ctx["aws:TagKeys"] = keys
		}
	case "UntagResource":
		if in.TagKeys != nil {
			ctx["aws:TagKeys"] = in.TagKeys
		}
	}
	if in.VersionId != nil {
		ctx["secretsmanager:VersionId"] = []string{*in.VersionId}
	}
	if in.VersionStage != nil {
		ctx["secretsmanager:VersionStage"] = []string{*in.VersionStage}
	}
	return access(op, arn, ctx), nil
}

func access(op, resource string, ctx map[string][]string) []wire.Access {
	return []wire.Access{{Request: iampolicy.Request{Action: "secretsmanager:" + op, Resource: resource, Context: ctx}}}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

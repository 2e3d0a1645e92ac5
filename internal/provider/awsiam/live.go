package awsiam

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rotorhq/rotor/internal/provider"
)

// Live implements provider.LiveChecker with the function's own role: the
// user still has the value's key, and it is active. A value that holds no
// key is live; a user that no longer exists holds none.
func (p *Provider) Live(ctx context.Context, req *provider.LiveRequest) (bool, error) {
	v, err := decode("version "+req.VersionID, req.Value)
	if err != nil {
		return false, err
	}
	if v.AccessKeyID == "" {
		return true, nil
	}
	name, err := userName("version "+req.VersionID, v, req.Options)
	if err != nil {
		return false, err
	}
	c, err := p.client(ctx)
	if err != nil {
		return false, err
	}
	u, err := load(ctx, c, name)
	if isCode(err, "NoSuchEntity") {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, k := range u.keys {
		if aws.ToString(k.AccessKeyId) == v.AccessKeyID {
			return k.Status == iamtypes.StatusTypeActive, nil
		}
	}
	return false, nil
}

package wire

import (
	"context"
	"crypto/sha256"
	"errors"

	"github.com/rotorhq/rotor/internal/iampolicy"
)

// What the services share for IAM authorization (the server's
// Options.EnforceIAM): each says which permissions a request needs
// (Access, from its Authorize method), and marks the role it acts as when
// it calls another service on its own (WithActing).

// Access is one permission a request needs: an IAM action on a resource,
// with the request's condition keys (the server adds the global ones:
// aws:RequestedRegion, aws:PrincipalArn, aws:PrincipalAccount). A request
// is allowed when every Access it needs is.
type Access struct {
	iampolicy.Request
	// DeniedCode and DeniedStatus, when set, are the error a refusal of
	// this Access answers instead of the service's AccessDenied: SNS
	// answers KMSAccessDenied (400) when the caller may publish but not
	// use the topic's key.
	DeniedCode   string
	DeniedStatus int
}

// ErrNotModelled is what a service's Authorize returns for an operation
// whose authorization it does not model: the server then lets the
// account's root call it and refuses everyone else, never guessing.
var ErrNotModelled = errors.New("rotor's local endpoint does not model the authorization of this operation")

// Acting is the role a service acts as when it calls another service on
// its own: a state machine's RoleArn for its tasks, an EventBridge
// target's RoleArn for its deliveries. Session names the role session, as
// the assumed-role ARN shows it.
type Acting struct {
	RoleARN, Session string
}

type actingKey struct{}

// WithActing returns ctx marked as acting as a.
func WithActing(ctx context.Context, a Acting) context.Context {
	return context.WithValue(ctx, actingKey{}, a)
}

// ActingFrom returns the role ctx acts as, if WithActing marked it.
func ActingFrom(ctx context.Context) (Acting, bool) {
	a, ok := ctx.Value(actingKey{}).(Acting)
	return a, ok
}

// SessionName derives a role session name from seed (an execution's ARN,
// an event's id): 32 letters, as Step Functions' own session names look,
// the same for the same seed so that a resumed execution acts as the same
// session.
func SessionName(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 32)
	for i := range out {
		out[i] = letters[int(sum[i])%len(letters)]
	}
	return string(out)
}

package iam

import (
	"fmt"
	"strings"

	"github.com/rotorhq/rotor/internal/iampolicy"
)

// PrincipalKind tells what made a request.
type PrincipalKind int

const (
	// Root is the account itself: a request signed with a key this
	// endpoint did not issue, or not signed at all. It may do everything.
	Root PrincipalKind = iota
	// User is an IAM user, by one of its access keys.
	User
	// AssumedRole is a role session: credentials from AssumeRole or
	// STS.Issue, or a service acting as a role (RolePrincipal).
	AssumedRole
)

func (k PrincipalKind) String() string {
	switch k {
	case User:
		return "User"
	case AssumedRole:
		return "AssumedRole"
	}
	return "Account"
}

// Principal is who makes a request.
type Principal struct {
	Kind PrincipalKind
	// ARN names the principal as GetCallerIdentity and AccessDenied
	// messages do: arn:aws:iam::ACCOUNT:root, arn:aws:iam::ACCOUNT:user/
	// PATH/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN string
	// UserID is GetCallerIdentity's UserId: the account id, the user's id,
	// or ROLEID:SESSION.
	UserID string
	// PrincipalARN is the condition key aws:PrincipalArn: ARN, but for a
	// role session the role's ARN.
	PrincipalARN string
	Account      string
}

func assumedRoleARN(account, role, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + session
}

// RolePrincipal is the principal a service acting as the role roleARN is,
// in a session named session (a state machine's tasks, an EventBridge
// target's deliveries). A role that does not exist still makes a
// principal, whose every request Decide refuses.
func (i *Service) RolePrincipal(roleARN, session string) Principal {
	name := roleARN[strings.LastIndex(roleARN, "/")+1:]
	p := Principal{Kind: AssumedRole, ARN: assumedRoleARN(i.env.Account, name, session), PrincipalARN: roleARN, Account: i.env.Account}
	if r, ok := i.roleByARN(roleARN); ok {
		p.UserID = r.ID + ":" + session
	}
	return p
}

// Verdict is what the identity policies of a principal say about one
// request.
type Verdict struct {
	Allowed bool
	// Explicit tells a refusal by a Deny statement.
	Explicit bool
	// Reason ends AWS's AccessDenied message ("User: P is not authorized
	// to perform: A on resource: R " + Reason) for a refusal.
	Reason string
}

// Decide evaluates a request by p against p's identity policies: the root
// may do everything; a user, whose policies this endpoint does not model,
// nothing; a role session what its role's inline policies allow
// (iampolicy.Decide, over the policies compiled when the role was put). A
// role that no longer exists, or a policy that cannot decide the request,
// refuses it, saying why.
func (i *Service) Decide(p Principal, r iampolicy.Request) Verdict {
	switch p.Kind {
	case Root:
		return Verdict{Allowed: true}
	case User:
		return Verdict{Reason: noPolicyAllows(r.Action)}
	}
	role, ok := i.roleByARN(p.PrincipalARN)
	if !ok {
		if p.PrincipalARN == "" {
			return Verdict{Reason: "because the caller acts as no role (none is set)"}
		}
		return Verdict{Reason: fmt.Sprintf("because the role %s does not exist in rotor's local IAM", p.PrincipalARN)}
	}
	d, err := iampolicy.Decide(role.compiled, r)
	switch {
	case err != nil:
		return Verdict{Reason: "because rotor's local endpoint cannot evaluate an identity-based policy of the role for it: " + err.Error()}
	case d == iampolicy.ExplicitDeny:
		return Verdict{Explicit: true, Reason: "with an explicit deny in an identity-based policy"}
	case d == iampolicy.Allowed:
		return Verdict{Allowed: true}
	}
	return Verdict{Reason: noPolicyAllows(r.Action)}
}

func noPolicyAllows(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

package localaws

import (
	"context"
	"errors"
	"maps"
	"net/http"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/iam"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// IAM enforcement (Options.EnforceIAM). Every request is made by a
// principal, which the access key in its SigV4 Authorization header
// decides (iam.STS.Identify): a role session this endpoint issued, an IAM
// user's key, or anything else, the account's root. The root may do
// everything. For anyone else the service says which permissions the
// request needs (its Authorize method: the IAM action, the resource's ARN
// and the request's condition keys), the server adds the global condition
// keys and IAM decides them against the principal's identity policies
// (iam.Service.Decide). A refusal is answered as the service answers
// AccessDenied, before quotas and faults, and nothing is done. Calls a
// service makes on its own (a state machine's tasks, an EventBridge
// target's deliveries) act as the role the context names (wire.Acting)
// and are decided the same way (wiring.go).

// Denial is a request refused under Options.EnforceIAM.
type Denial struct {
	// Principal is who made it: arn:aws:sts::ACCOUNT:assumed-role/ROLE/
	// SESSION for a role, the user's ARN for a user.
	Principal string
	Action    string // e.g. secretsmanager:GetSecretValue
	Resource  string // the ARN acted on, "*" for actions on none
	// Reason ends AWS's message: "because no identity-based policy allows
	// the ACTION action", "with an explicit deny in an identity-based
	// policy", or why this endpoint cannot allow it.
	Reason string
	// Explicit tells a refusal by a Deny statement.
	Explicit bool
}

// Message is the refusal as AWS words it: "User: PRINCIPAL is not
// authorized to perform: ACTION on resource: RESOURCE REASON" (without
// "on resource" for an action on "*").
func (d Denial) Message() string {
	on := ""
	if d.Resource != "*" && d.Resource != "" {
		on = " on resource: " + d.Resource
	}
	return "User: " + d.Principal + " is not authorized to perform: " + d.Action + on + " " + d.Reason
}

// authorizer is implemented by the services whose requests are authorized
// under Options.EnforceIAM: Authorize says which permissions a request
// needs; wire.ErrNotModelled that it cannot tell (the root alone may then
// call it); any other error is the request's own fault, answered as the
// service would.
type authorizer interface {
	Authorize(r *http.Request, op string, body []byte) ([]wire.Access, error)
}

// deniedAnswers is how each service refuses: its error code and status.
var deniedAnswers = map[string]struct {
	code   string
	status int
}{
	"secretsmanager": {"AccessDeniedException", http.StatusBadRequest},
	"states":         {"AccessDeniedException", http.StatusBadRequest},
	"events":         {"AccessDeniedException", http.StatusBadRequest},
	"dynamodb":       {"AccessDeniedException", http.StatusBadRequest},
	"lambda":         {"AccessDeniedException", http.StatusForbidden},
	"iam":            {"AccessDenied", http.StatusForbidden},
	"sts":            {"AccessDenied", http.StatusForbidden},
	"sns":            {"AuthorizationError", http.StatusForbidden},
}

// credentialErrors name the query protocol's credential errors (what
// iam.STS.Identify answers) in the JSON protocols.
var credentialErrors = map[string]string{
	"InvalidClientTokenId":  "UnrecognizedClientException",
	"SignatureDoesNotMatch": "InvalidSignatureException",
	"ExpiredToken":          "ExpiredTokenException",
	"IncompleteSignature":   "IncompleteSignatureException",
}

// authorize decides a request under Options.EnforceIAM; when it must not
// be served it answers it and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, svcName, op string, svc service, body []byte) bool {
	who, aerr := s.STS.Identify(r, body, svcName)
	if aerr != nil {
		code, status := aerr.Code, aerr.HTTPStatus()
		if svcName != "iam" && svcName != "sts" && svcName != "sns" {
			code, status = aerr.Code, http.StatusBadRequest
			if c, ok := credentialErrors[aerr.Code]; ok {
				code = c
			}
			if svcName == "lambda" {
				status = http.StatusForbidden
			}
		}
		s.opts.Log.Warn("refused credentials", "service", svcName, "operation", op, "code", code)
		answerError(w, svc, code, aerr.Message, status)
		return false
	}
	if who.Kind == iam.Root {
		return true
	}
	var accesses []wire.Access
	err := wire.ErrNotModelled
	if az, ok := svc.(authorizer); ok {
		accesses, err = az.Authorize(r, op, body)
	}
	deny := deniedAnswers[svcName]
	switch {
	case errors.Is(err, wire.ErrNotModelled):
		d := Denial{Principal: who.ARN, Action: svcName + ":" + op, Resource: "*",
			Reason: "because rotor's local endpoint does not model the authorization of this operation (under EnforceIAM only the account's root may call it)"}
		s.denied(d)
		answerError(w, svc, deny.code, d.Message(), deny.status)
		return false
	case err != nil:
		e, _ := wire.AsError(err, "InternalFailure")
		answerError(w, svc, e.Code, e.Message, e.HTTPStatus())
		return false
	}
	region := iam.Region(r)
	if region == "" {
		region = s.opts.Region
	}
	if d, a := s.check(who, region, accesses); d != nil {
		code, status, msg := deny.code, deny.status, d.Message()
		if a.DeniedCode != "" {
			code, status, msg = a.DeniedCode, a.DeniedStatus, msg+kmsSuffix()
		}
		answerError(w, svc, code, msg, status)
		return false
	}
	return true
}

// kmsSuffix ends a message relaying KMS's refusal, as services relay it.
func kmsSuffix() string {
	return " (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: " + uuid.NewString() + "; Proxy: null)"
}

// check decides every access for who, adding the global condition keys;
// it returns the first refused, reported (nil when all are allowed).
func (s *Server) check(who iam.Principal, region string, accesses []wire.Access) (*Denial, wire.Access) {
	for _, a := range accesses {
		req := a.Request
		req.Context = make(map[string][]string, len(a.Context)+4) // the caller's map stays as it was
		maps.Copy(req.Context, a.Context)
		req.Context["aws:RequestedRegion"] = []string{region}
		req.Context["aws:PrincipalArn"] = []string{who.PrincipalARN}
		req.Context["aws:PrincipalAccount"] = []string{who.Account}
		req.Context["aws:PrincipalType"] = []string{who.Kind.String()}
		v := s.IAM.Decide(who, req)
		if v.Allowed {
			continue
		}
		d := Denial{Principal: who.ARN, Action: req.Action, Resource: req.Resource, Reason: v.Reason, Explicit: v.Explicit}
		s.denied(d)
		return &d, a
	}
	return nil, wire.Access{}
}

// denied logs a refusal and reports it to Options.OnDenied. A Denial
// names ARNs and actions, never a request's values.
func (s *Server) denied(d Denial) {
	s.opts.Log.Warn("access denied", "principal", d.Principal, "action", d.Action, "resource", d.Resource,
		"explicit", d.Explicit, "reason", d.Reason)
	if s.opts.OnDenied != nil {
		s.opts.OnDenied(d)
	}
}

// actAs decides, under Options.EnforceIAM, a call a service makes on its
// own, as the role ctx names (wire.ActingFrom); it returns the refusal,
// or nil. A call made as no role at all (an EventBridge target invoking a
// function, which a resource policy governs on AWS) is not checked; one
// whose role is empty (a state machine created without RoleArn) is
// refused.
func (s *Server) actAs(ctx context.Context, accesses ...wire.Access) (*Denial, wire.Access) {
	if !s.opts.EnforceIAM {
		return nil, wire.Access{}
	}
	acting, ok := wire.ActingFrom(ctx)
	if !ok {
		return nil, wire.Access{}
	}
	if acting.RoleARN == "" && len(accesses) > 0 {
		a := accesses[0]
		d := Denial{Principal: "arn:aws:sts::" + s.opts.Account + ":assumed-role/(none)/" + acting.Session, Action: a.Action, Resource: a.Resource,
			Reason: "because the caller acts as no role: its state machine or target has no RoleArn"}
		s.denied(d)
		return &d, a
	}
	return s.check(s.IAM.RolePrincipal(acting.RoleARN, acting.Session), s.opts.Region, accesses)
}

// AuthorizeRole decides, under Options.EnforceIAM, a call a host makes on
// a service's behalf as the role roleARN in session session (EventBridge
// Scheduler starting an execution as its target's role:
// states:StartExecution on the state machine): nil when every request is
// allowed (always, without EnforceIAM), else the refusal, which is logged
// and reported to Options.OnDenied like any other.
func (s *Server) AuthorizeRole(roleARN, session string, reqs ...iampolicy.Request) *Denial {
	accesses := make([]wire.Access, len(reqs))
	for i, r := range reqs {
		accesses[i] = wire.Access{Request: r}
	}
	d, _ := s.actAs(wire.WithActing(context.Background(), wire.Acting{RoleARN: roleARN, Session: session}), accesses...)
	return d
}

// Package provider defines what a credential provider is and keeps the
// registry of providers by name.
//
// A provider knows one kind of credential (an opaque token, an API key of some
// HTTP API, a database password, an IAM access key) and nothing about steps,
// labels or state machines. The rotation core calls it with request structs;
// every method takes a context first and must honour its deadline.
//
// Contract every provider keeps (checked by providertest.Run):
//   - Create returns the complete new secret value to store. Providers that
//     mint at a target label what they mint with the request's Token, so that
//     a retried Create for the same token never leaves two live credentials.
//   - Verify proves the credential works using only the credential (and the
//     non-secret settings stored beside it); it never sees a master secret.
//     A credential that does not work is reported as rotorerr.VerificationFailed.
//   - Revoke makes a credential unusable. Revoking what is already gone is
//     success.
//   - Bad settings are rotorerr.InvalidInput with a message naming the setting;
//     target outages and timeouts are rotorerr.Transient.
//   - No error message, and nothing logged, contains a secret value: errors
//     from targets are reduced to status codes and error codes.
//
// Optional abilities are optional interfaces (Applier, PasswordUser,
// TokenRevoker, Identifier, LiveChecker, MasterUser, SelfRotator,
// OptionsChecker),
// discovered with a type assertion, as database/sql/driver does.
//
// # Registry
//
// Providers register a constructor, not an instance, as database/sql
// drivers do, together with what they need from the deployment, as data:
//
//	func init() {
//		provider.Register("acme", provider.Registration{
//			New: func(env provider.Env) (provider.Provider, error) { return &Provider{aws: env.AWS}, nil },
//			Needs: provider.Needs{
//				AWS: []string{"ssm"},
//				IAM: []provider.Statement{{Sid: "AcmeParameters", Functions: []string{provider.FuncCreate, provider.FuncExpire},
//					Actions:   []string{"ssm:GetParameter"},
//					Resources: []string{"arn:${Partition}:ssm:${Region}:${Account}:parameter/acme/*"}}},
//				Network: []provider.Network{provider.NetHTTPS},
//			},
//		})
//	}
//
// Each host builds the providers from its own Env (a Set): the Lambda
// functions with the SDK's default AWS configuration, rotor local with its
// endpoint's, so that no host names a provider. The CDK construct grants
// every registered provider's IAM statements to the roles of the functions
// they name and places the functions where they reach its Network. A new
// provider is therefore one package plus one registration: add its import
// to package all (which the functions, the CLI and the construct import),
// and run it through providertest.Run.
package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rotorhq/rotor/internal/password"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Provider mints or applies, verifies and revokes one kind of credential.
type Provider interface {
	Create(ctx context.Context, req *CreateRequest) (*CreateResponse, error)
	Verify(ctx context.Context, req *VerifyRequest) error
	Revoke(ctx context.Context, req *RevokeRequest) error
}

// Options are a provider's settings, taken from the managed secret's tags
// named "rotor:<provider>:<option>" and keyed by <option>; the tag
// rotor:strategy arrives as the option "strategy".
type Options map[string]string

// CreateRequest asks for a new credential.
type CreateRequest struct {
	SecretID string  // ARN of the managed secret
	Token    string  // the rotation token; also the id of the version that will hold the result
	Current  []byte  // value of the AWSCURRENT version; nil when the secret has none yet
	Master   []byte  // value of the master secret; nil when the secret names none
	Options  Options // provider settings from tags
	// Password is a fresh password the core drew for a PasswordUser by its
	// policy; "" for other providers.
	Password string
	// Holders finds who else holds a credential (see HoldersFunc); nil
	// means nobody is known to.
	Holders HoldersFunc
}

// CreateResponse carries the complete value to store as the new version.
type CreateResponse struct {
	Value []byte
}

// VerifyRequest asks whether a credential works.
type VerifyRequest struct {
	SecretID string
	Token    string // the version being verified
	Value    []byte
	Options  Options
}

// RevokeRequest asks for a credential to be made unusable.
type RevokeRequest struct {
	SecretID  string
	VersionID string // the version whose credential is revoked
	Value     []byte // that version's value
	Current   []byte // AWSCURRENT's value, which must keep working; nil if none
	Master    []byte
	Options   Options
	Holders   HoldersFunc
}

// Applier is implemented by providers that set a credential at a target (a
// database password) instead of minting one there. For them Create must have
// no side effect: the core stores the value as AWSPENDING first and only then
// calls Apply, so no credential is ever live without being recorded. Apply
// must be idempotent: the core calls it again when a step is retried.
type Applier interface {
	Apply(ctx context.Context, req *ApplyRequest) error
}

// ApplyRequest asks for a created value to take effect at the target.
type ApplyRequest struct {
	SecretID string
	Token    string
	Value    []byte
	Current  []byte
	Master   []byte
	Options  Options
}

// PasswordUser is implemented by providers that set a password at a target
// (a database role). The core draws the password (package password) by the
// policy PasswordPolicy returns for the secret's options and passes it in
// CreateRequest.Password: providers never draw their own, so every password
// rotor sets comes from one generator. Errors are rotorerr.InvalidInput.
type PasswordUser interface {
	PasswordPolicy(Options) (password.Policy, error)
}

// NewPassword draws the password CreateRequest.Password carries for p with
// options o: "" when p is not a PasswordUser.
func NewPassword(p Provider, o Options) (string, error) {
	pu, ok := p.(PasswordUser)
	if !ok {
		return "", nil
	}
	pol, err := pu.PasswordPolicy(o)
	if err != nil {
		return "", err
	}
	pw, err := password.Generate(pol)
	if err != nil {
		return "", rotorerr.New(rotorerr.InvalidInput, "password policy: "+err.Error())
	}
	return pw, nil
}

// TokenRevoker is implemented by providers that label what they mint with
// the rotation token. RevokeToken revokes every credential minted for the
// token, including one whose value was lost with a response and so never
// recorded, and reports how many it revoked.
type TokenRevoker interface {
	RevokeToken(ctx context.Context, req *RevokeTokenRequest) (int, error)
}

// RevokeTokenRequest names the token whose credentials are revoked.
type RevokeTokenRequest struct {
	SecretID string
	Token    string
	Master   []byte
	Options  Options
	Holders  HoldersFunc
}

// Holder is a version of a managed secret whose current or pending value
// holds a credential.
type Holder struct {
	SecretID  string // ARN
	VersionID string
	Label     string // AWSCURRENT or AWSPENDING
}

// HoldersFunc returns the managed secret versions whose current or pending
// value holds the credential with key id keyID, as rotor recorded them
// (the identity tags of package rotation). A provider that may delete a
// credential it did not itself record for this request (awsiam making room
// for a new key) asks first, and refuses when another secret, or another
// rotation of the same secret, still depends on it (SECURITY.md, trust boundaries).
// Credentials rotor never recorded are not known.
type HoldersFunc func(ctx context.Context, keyID string) ([]Holder, error)

// OtherHolder returns the first holder of keyID that is not the version
// self of secret, or nil; f may be nil.
func OtherHolder(ctx context.Context, f HoldersFunc, keyID, secret, self string) (*Holder, error) {
	if f == nil {
		return nil, nil
	}
	hs, err := f(ctx, keyID)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.SecretID != secret || h.VersionID != self {
			return &h, nil
		}
	}
	return nil, nil
}

// Identifier is implemented by providers whose credentials can leak, which
// is all of them but the ones whose values never leave the target. Identify
// reads a stored value (never calling out) and names what identifies the
// credential in a leak alert: its public key id, if it has one, and the
// value a leak would expose. The core records the key id and fingerprints
// of the value (never the value) on the secret, so that resolve can match
// an alert to the version that holds the credential.
type Identifier interface {
	Identify(value []byte, o Options) (*Identity, error)
}

// Identity is what Identify found.
type Identity struct {
	// KeyID is the credential's non-secret id: an AWS access key id
	// ("AKIA..."); "" when the credential has none.
	KeyID string
	// Secret is the leakable part of the value: the API key, the secret
	// access key, the token; nil when the value holds nothing a scanner
	// would find. It must be high-entropy: its fingerprint is stored as
	// non-secret metadata.
	Secret []byte
}

// LiveChecker is implemented by providers whose credentials, once revoked,
// are gone for good (minted keys). Live reports whether the credential a
// version holds still exists and is enabled at the target, asked with the
// master or the function's own role, never with the credential itself.
// Rollback asks it before making an older version current again: a
// version whose credential is gone must never become current. A value
// that holds no credential at all is live (nothing was lost).
type LiveChecker interface {
	Live(ctx context.Context, req *LiveRequest) (bool, error)
}

// LiveRequest names the credential Live checks.
type LiveRequest struct {
	SecretID  string
	VersionID string
	Value     []byte
	Master    []byte
	Options   Options
}

// MasterUser is implemented by providers that need a master secret to create
// or revoke with the given options.
type MasterUser interface {
	NeedsMaster(Options) bool
}

// SelfRotator is implemented by providers whose credential may be its own
// master: a master secret that rotor rotates (DESIGN: database masters may
// rotate themselves). RotatesSelf reports whether options o ask for that
// (the "self" strategy). Then NeedsMaster(o) is false, and the requests
// carry no master: Create and Apply log in with the current value
// (Current) to set the new password on the same account, and Apply, when
// that login is refused because an earlier attempt already applied the
// value, logs in with the value itself (a crash after the change
// converges); Verify logs in with the new value as a master would
// (the master's connection rules: TLS, authentication); Revoke logs in
// with the current value, or else with the revoked one, and leaves only
// the current credential working. Connection settings come from the
// value itself, which is the master's own.
type SelfRotator interface {
	RotatesSelf(Options) bool
}

// RotatesSelf reports whether p rotates its own credential with options o.
func RotatesSelf(p Provider, o Options) bool {
	s, ok := p.(SelfRotator)
	return ok && s.RotatesSelf(o)
}

// OptionsChecker is implemented by providers that validate their options
// before any step changes anything. Errors are rotorerr.InvalidInput.
type OptionsChecker interface {
	CheckOptions(Options) error
}

// CheckOptions runs p's OptionsChecker, if it has one.
func CheckOptions(p Provider, o Options) error {
	if c, ok := p.(OptionsChecker); ok {
		return c.CheckOptions(o)
	}
	if len(o) > 0 {
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider takes no options, got %s", strings.Join(keys, ", ")))
	}
	return nil
}

// NeedsMaster reports whether p needs a master secret with options o.
func NeedsMaster(p Provider, o Options) bool {
	m, ok := p.(MasterUser)
	return ok && m.NeedsMaster(o)
}

// UnknownOptions returns an InvalidInput error naming every option in o that
// is not in known, or nil.
func UnknownOptions(provider string, o Options, known ...string) error {
	var bad []string
	for k := range o {
		if !contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("unknown option tag(s) %s for provider %s; known: %s",
		tagNames(provider, bad), provider, tagNames(provider, known)))
}

func tagNames(provider string, opts []string) string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = "rotor:" + provider + ":" + o
		if o == "strategy" { // the one option with a provider-independent tag
			out[i] = "rotor:strategy"
		}
	}
	return strings.Join(out, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

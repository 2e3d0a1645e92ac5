package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// STS is the local STS (see the package comment).
type STS struct {
	env wire.Env
	iam *Service

	mu       sync.RWMutex
	sessions map[string]*session // by access key id
	purgeAt  time.Time           // when sessions long expired are next dropped
}

// session is a role session AssumeRole or Issue made. It lives in memory
// only: after a restart its credentials are refused.
type session struct {
	secret, token string // never logged
	roleARN       string
	roleName      string
	roleID        string
	name          string
	expires       time.Time
}

const (
	stsXMLNS   = "https://sts.amazonaws.com/doc/2011-06-15/"
	stsVersion = "2011-06-15"
	// sigV4MaxSkew is how far a request's date may be from the server's
	// clock, in either direction.
	sigV4MaxSkew = 15 * time.Minute
	sigV4Algo    = "AWS4-HMAC-SHA256"
	amzDate      = "20060102T150405Z"
	// sessionTokenPrefix starts every session token this endpoint issues,
	// so that a token of its own whose session is gone (a restart) is
	// refused instead of being taken for the account's root.
	sessionTokenPrefix = "RotorLocalSession"
	// MinSessionDuration and MaxSessionDuration bound a role session's
	// duration (AssumeRole's DurationSeconds); DefaultSessionDuration is
	// what AssumeRole gives without one.
	MinSessionDuration     = 15 * time.Minute
	MaxSessionDuration     = 12 * time.Hour
	DefaultSessionDuration = time.Hour
	// sessionKeep is how long an expired session is still known, and
	// answered ExpiredToken, before it is dropped.
	sessionKeep = time.Hour
)

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// NewSTS builds STS over the access keys and roles of iam.
func NewSTS(env wire.Env, iam *Service) *STS {
	return &STS{env: env, iam: iam, sessions: map[string]*session{}}
}

type getCallerIdentityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	UserId  string
	Account string
	Arn     string
}

type assumeRoleResult struct {
	XMLName     xml.Name `xml:"AssumeRoleResult"`
	Credentials struct {
		AccessKeyId, SecretAccessKey, SessionToken, Expiration string
	}
	AssumedRoleUser struct {
		AssumedRoleId, Arn string
	}
}

func (st *STS) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", requestID)
	form, err := wire.ParseQuery(body)
	if err != nil {
		wire.WriteQueryError(w, stsXMLNS, requestID, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"})
		return
	}
	// As AWS does, authenticate before looking at the action: a request
	// whose action was changed in transit fails its signature (it is signed
	// with the action). A key this endpoint did not issue may assume a
	// role, as the account's root, so that the CLI and scripts with any
	// credentials can; GetCallerIdentity, which proves a key works, refuses
	// it.
	who, aerr := st.authenticate(r, body, op == "AssumeRole")
	if aerr != nil {
		wire.WriteQueryError(w, stsXMLNS, requestID, aerr)
		return
	}
	if v := form.Get("Version"); v != "" && v != stsVersion {
		wire.WriteQueryError(w, stsXMLNS, requestID, &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", op, v)})
		return
	}
	switch op {
	case "GetCallerIdentity":
		wire.WriteQueryResult(w, stsXMLNS, op, requestID, getCallerIdentityResult{UserId: who.UserID, Account: st.env.Account, Arn: who.ARN})
	case "AssumeRole":
		res, err := st.assumeRole(who, form)
		if err != nil {
			wire.WriteQueryError(w, stsXMLNS, requestID, err)
			return
		}
		wire.WriteQueryResult(w, stsXMLNS, op, requestID, res)
	default:
		wire.WriteQueryError(w, stsXMLNS, requestID, &wire.Error{Code: "InvalidAction",
			Message: fmt.Sprintf("The action %s is not valid for this web service (rotor local endpoint).", op)})
	}
}

// writeError answers a fault or a throttling refusal in STS's protocol.
func (st *STS) WriteError(w http.ResponseWriter, code, message string, status int) {
	if code == "ThrottlingException" {
		code = "Throttling"
	}
	wire.WriteQueryError(w, stsXMLNS, "", &wire.Error{Code: code, Message: message, Status: status})
}

func stsValidation(format string, args ...any) *wire.Error {
	return &wire.Error{Code: "ValidationError", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// assumeRole answers AssumeRole for who (the server has already checked,
// under Options.EnforceIAM, that who may call sts:AssumeRole on the role).
func (st *STS) assumeRole(who Principal, form url.Values) (any, *wire.Error) {
	roleARN, name := form.Get("RoleArn"), form.Get("RoleSessionName")
	switch {
	case roleARN == "":
		return nil, stsValidation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	case len(roleARN) < 20 || len(roleARN) > 2048:
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048", roleARN)
	case name == "":
		return nil, stsValidation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case !sessionNameRE.MatchString(name):
		return nil, stsValidation(`1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]* and have length between 2 and 64`, name)
	}
	// Session policies, tags and MFA would change what the session may
	// do: refused rather than ignored.
	for _, p := range []string{"Policy", "PolicyArns.member.1.arn", "Tags.member.1.Key", "TransitiveTagKeys.member.1", "ExternalId", "SerialNumber", "TokenCode", "SourceIdentity"} {
		if form.Has(p) {
			return nil, stsValidation("%s: rotor's local endpoint does not support it on AssumeRole", strings.SplitN(p, ".", 2)[0])
		}
	}
	d := DefaultSessionDuration
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return nil, stsValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", v)
		case n < int(MinSessionDuration.Seconds()):
			return nil, stsValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, int(MinSessionDuration.Seconds()))
		case n > int(MaxSessionDuration.Seconds()):
			return nil, stsValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", n, int(MaxSessionDuration.Seconds()))
		}
		d = time.Duration(n) * time.Second
	}
	if _, ok := st.iam.roleByARN(roleARN); !ok {
		// AWS answers a role that does not exist as one the caller may not
		// assume.
		return nil, &wire.Error{Code: "AccessDenied", Status: http.StatusForbidden,
			Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", who.ARN, roleARN)}
	}
	c, p, err := st.issue(roleARN, name, d)
	if err != nil {
		return nil, stsValidation("%s", err.Error())
	}
	var res assumeRoleResult
	res.Credentials.AccessKeyId, res.Credentials.SecretAccessKey, res.Credentials.SessionToken = c.AccessKeyID, c.SecretAccessKey, c.SessionToken
	res.Credentials.Expiration = c.Expiration.UTC().Format(iamTime)
	res.AssumedRoleUser.AssumedRoleId, res.AssumedRoleUser.Arn = p.UserID, p.ARN
	return res, nil
}

// Credentials are a role session's temporary credentials.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// String and GoString keep the secret and the token out of any formatted
// output.
func (c Credentials) String() string {
	return fmt.Sprintf("{%s (expires %s)}", c.AccessKeyID, c.Expiration.UTC().Format(time.RFC3339))
}

func (c Credentials) GoString() string { return "iam.Credentials" + c.String() }

// Issue makes a session of the role roleARN named sessionName lasting d
// (MinSessionDuration to MaxSessionDuration), as AssumeRole does, for a
// host that hands a role's credentials to the functions it runs. Requests
// signed with them act as the role (caller arn:aws:sts::ACCOUNT:
// assumed-role/ROLE/SESSION) until Expiration; sessions live in memory.
func (st *STS) Issue(roleARN, sessionName string, d time.Duration) (Credentials, error) {
	if !sessionNameRE.MatchString(sessionName) {
		return Credentials{}, fmt.Errorf("session name %q: want 2 to 64 of [A-Za-z0-9_+=,.@-]", sessionName)
	}
	if d < MinSessionDuration || d > MaxSessionDuration {
		return Credentials{}, fmt.Errorf("session duration %s: want %s to %s", d, MinSessionDuration, MaxSessionDuration)
	}
	if _, ok := st.iam.roleByARN(roleARN); !ok {
		return Credentials{}, fmt.Errorf("role %s does not exist", roleARN)
	}
	c, _, err := st.issue(roleARN, sessionName, d)
	return c, err
}

func (st *STS) issue(roleARN, name string, d time.Duration) (Credentials, Principal, error) {
	role, ok := st.iam.roleByARN(roleARN)
	if !ok {
		return Credentials{}, Principal{}, fmt.Errorf("role %s does not exist", roleARN)
	}
	now := st.env.Now().UTC().Truncate(time.Second)
	s := &session{secret: iamRandom(iamSecretChars, 40), token: sessionTokenPrefix + iamRandom(iamSecretChars, 140),
		roleARN: role.arn, roleName: role.Name, roleID: role.ID, name: name, expires: now.Add(d)}
	st.mu.Lock()
	if now.After(st.purgeAt) {
		for id, old := range st.sessions {
			if now.Sub(old.expires) > sessionKeep {
				delete(st.sessions, id)
			}
		}
		st.purgeAt = now.Add(time.Minute)
	}
	var id string
	for id == "" || st.sessions[id] != nil {
		id = "ASIA" + iamRandom(iamKeyIDChars, 16)
	}
	st.sessions[id] = s
	st.mu.Unlock()
	return Credentials{AccessKeyID: id, SecretAccessKey: s.secret, SessionToken: s.token, Expiration: s.expires},
		st.sessionPrincipal(s), nil
}

func (st *STS) sessionPrincipal(s *session) Principal {
	return Principal{Kind: AssumedRole, ARN: assumedRoleARN(st.env.Account, s.roleName, s.name),
		UserID: s.roleID + ":" + s.name, PrincipalARN: s.roleARN, Account: st.env.Account}
}

func stsInvalidToken() *wire.Error {
	return &wire.Error{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden}
}

func stsExpiredToken() *wire.Error {
	return &wire.Error{Code: "ExpiredToken", Message: "The security token included in the request is expired", Status: http.StatusBadRequest}
}

func stsMismatch(msg string) *wire.Error {
	return &wire.Error{Code: "SignatureDoesNotMatch", Message: msg, Status: http.StatusForbidden}
}

func stsIncomplete(msg string) *wire.Error {
	return &wire.Error{Code: "IncompleteSignature", Message: msg, Status: http.StatusBadRequest}
}

const stsBadSignature = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// authenticate verifies r's SigV4 signature and returns who signed it. A
// key this endpoint did not issue is refused, unless rootOK: it is then
// the account's root.
func (st *STS) authenticate(r *http.Request, body []byte, rootOK bool) (Principal, *wire.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return Principal{}, stsIncomplete("the rotor local endpoint does not accept presigned requests")
		}
		return Principal{}, &wire.Error{Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Status: http.StatusForbidden}
	}
	auth, perr := parseSigV4(h)
	if perr != nil {
		return Principal{}, perr
	}
	if !slices.Contains(auth.signedHeaders, "host") {
		return Principal{}, stsIncomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	who, known, err := st.resolve(r, body, auth, "sts")
	switch {
	case err != nil:
		return Principal{}, err
	case !known && rootOK:
		return st.Root(), nil
	case !known:
		return Principal{}, stsInvalidToken()
	}
	return who, nil
}

// Identify tells who made a request to service (its SigV4 signing name),
// by the access key in its Authorization header:
//   - a role session this STS issued: the role, once the request's
//     X-Amz-Security-Token matches the session's and its signature is
//     verified with the session's secret; an expired session is
//     ExpiredToken;
//   - an active access key of an IAM user: the user, once the signature is
//     verified (an inactive key is InvalidClientTokenId);
//   - a session token this STS issued whose session is gone (a restart) is
//     InvalidClientTokenId;
//   - any other key, or no signature at all: the account's root, so that
//     the CLI, the SDKs and scripts with any credentials keep working.
//
// Its errors carry the query protocol's codes (InvalidClientTokenId,
// ExpiredToken, SignatureDoesNotMatch, IncompleteSignature); the server
// names them in the other protocols.
func (st *STS) Identify(r *http.Request, body []byte, service string) (Principal, *wire.Error) {
	auth, perr := parseSigV4(r.Header.Get("Authorization"))
	if perr != nil {
		return st.Root(), nil
	}
	who, known, err := st.resolve(r, body, auth, service)
	switch {
	case err != nil:
		return Principal{}, err
	case !known:
		return st.Root(), nil
	}
	return who, nil
}

// Root is the account's root principal.
func (st *STS) Root() Principal {
	arn := "arn:aws:iam::" + st.env.Account + ":root"
	return Principal{Kind: Root, ARN: arn, UserID: st.env.Account, PrincipalARN: arn, Account: st.env.Account}
}

// resolve finds the session or user owning auth's access key and verifies
// r's signature with its secret; known is false for a key this endpoint
// did not issue.
func (st *STS) resolve(r *http.Request, body []byte, auth sigV4Auth, service string) (Principal, bool, *wire.Error) {
	token := r.Header.Get("X-Amz-Security-Token")
	st.mu.RLock()
	s := st.sessions[auth.keyID]
	st.mu.RUnlock()
	if s != nil {
		if token == "" || !hmac.Equal([]byte(token), []byte(s.token)) {
			return Principal{}, true, stsInvalidToken()
		}
		if !st.env.Now().Before(s.expires) {
			return Principal{}, true, stsExpiredToken()
		}
		if err := st.verify(r, body, auth, s.secret, service); err != nil {
			return Principal{}, true, err
		}
		return st.sessionPrincipal(s), true, nil
	}
	if strings.HasPrefix(token, sessionTokenPrefix) {
		return Principal{}, true, stsInvalidToken() // one of ours, gone
	}
	who, secret, status, ok := st.iam.keyOwner(auth.keyID)
	switch {
	case !ok:
		return Principal{}, false, nil
	case token != "", status != "Active":
		// A user's key signs without a token; an inactive key signs
		// nothing.
		return Principal{}, true, stsInvalidToken()
	}
	if err := st.verify(r, body, auth, secret, service); err != nil {
		return Principal{}, true, err
	}
	return who, true, nil
}

// verify checks r's date and credential scope, and its signature made
// with secret.
func (st *STS) verify(r *http.Request, body []byte, auth sigV4Auth, secret, service string) *wire.Error {
	if !slices.Contains(auth.signedHeaders, "host") {
		return stsIncomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	// The date: X-Amz-Date (or Date), signed, within 15 minutes.
	var when time.Time
	var err error
	dateHeader := "x-amz-date"
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		if when, err = time.Parse(amzDate, v); err != nil {
			return stsIncomplete("X-Amz-Date must be in ISO 8601 basic format (yyyyMMdd'T'HHmmss'Z')")
		}
	} else if v := r.Header.Get("Date"); v != "" {
		dateHeader = "date"
		if when, err = http.ParseTime(v); err != nil {
			return stsIncomplete("the Date header is not an HTTP date")
		}
	} else {
		return stsIncomplete("AWS authentication requires a valid Date or x-amz-date header")
	}
	if !slices.Contains(auth.signedHeaders, dateHeader) {
		return stsIncomplete(fmt.Sprintf("'%s' must be a 'SignedHeader' in the AWS Authorization.", dateHeader))
	}
	now := st.env.Now().UTC()
	switch {
	case when.Before(now.Add(-sigV4MaxSkew)):
		return stsMismatch(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			when.UTC().Format(amzDate), now.Add(-sigV4MaxSkew).Format(amzDate), now.Format(amzDate)))
	case when.After(now.Add(sigV4MaxSkew)):
		return stsMismatch(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			when.UTC().Format(amzDate), now.Add(sigV4MaxSkew).Format(amzDate), now.Format(amzDate)))
	}
	if auth.date != when.UTC().Format("20060102") {
		return stsMismatch(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			auth.date, when.UTC().Format("20060102")))
	}
	if auth.service != service {
		return stsMismatch(fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	want := sigV4Signature(secret, auth, r, body, when.UTC().Format(amzDate))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return stsMismatch(stsBadSignature)
	}
	return nil
}

// Region returns the region r's SigV4 credential scope names ("" when r
// is not signed): aws:RequestedRegion.
func Region(r *http.Request) string {
	a, err := parseSigV4(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return a.region
}

// sigV4Auth is a parsed SigV4 Authorization header.
type sigV4Auth struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

func (a sigV4Auth) scope() string {
	return a.date + "/" + a.region + "/" + a.service + "/aws4_request"
}

// parseSigV4 parses "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/
// aws4_request, SignedHeaders=a;b, Signature=HEX". Its errors quote no
// part of the header; they are IncompleteSignature.
func parseSigV4(h string) (sigV4Auth, *wire.Error) {
	algo, rest, _ := strings.Cut(h, " ")
	if algo != sigV4Algo {
		return sigV4Auth{}, stsIncomplete(fmt.Sprintf("Unsupported AWS 'algorithm': the rotor local endpoint verifies %s only", sigV4Algo))
	}
	var a sigV4Auth
	var cred, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(cred, "/")
	switch {
	case cred == "" || signed == "" || a.signature == "":
		return sigV4Auth{}, stsIncomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	case len(scope) != 5 || scope[0] == "" || len(scope[1]) != 8 || scope[2] == "" || scope[3] == "" || scope[4] != "aws4_request":
		return sigV4Auth{}, stsIncomplete("Credential must have the form KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request.")
	}
	a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	return a, nil
}

// credentialKeyID returns the access key id a request was signed with, or
// "" (without verifying anything).
func credentialKeyID(r *http.Request) string {
	a, err := parseSigV4(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return a.keyID
}

// sigV4Signature computes the hex signature of r (as received, with its
// body) by the signing rules of AWS Signature Version 4 for services other
// than S3: the path is URI-encoded a second time, the query is sorted and
// encoded per RFC 3986, header values are trimmed with inner runs of
// spaces collapsed, and the payload hash is that of body.
func sigV4Signature(secret string, a sigV4Auth, r *http.Request, body []byte, date string) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var headers strings.Builder
	for _, name := range a.signedHeaders {
		headers.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	sum := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method,
		uriEncode(path, false),
		canonicalQuery(r.URL.RawQuery),
		headers.String(),
		strings.Join(a.signedHeaders, ";"),
		hex.EncodeToString(sum[:]),
	}, "\n")
	creq := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algo + "\n" + date + "\n" + a.scope() + "\n" + hex.EncodeToString(creq[:])

	key := hmacSHA256([]byte("AWS4"+secret), a.date)
	key = hmacSHA256(key, a.region)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// headerValue is a signed header's canonical value: Go's server moves Host
// out of the header map, and the values of a repeated header are joined
// with commas.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values(name)
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{fmt.Sprint(r.ContentLength)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalQuery sorts the query's parameters by name, then value, each
// encoded per RFC 3986.
func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs [][2]string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

// uriEncode percent-encodes every byte but RFC 3986's unreserved
// characters, and '/' unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

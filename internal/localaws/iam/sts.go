package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// STS is the local STS (see the package comment).
type STS struct {
	env    wire.Env
	lookup KeyLookup
}

// KeyLookup finds the caller owning an active access key and the key's
// secret (Service.Credentials).
type KeyLookup func(accessKeyID string) (Caller, string, bool)

const (
	stsXMLNS   = "https://sts.amazonaws.com/doc/2011-06-15/"
	stsVersion = "2011-06-15"
	// sigV4MaxSkew is how far a request's date may be from the server's
	// clock, in either direction.
	sigV4MaxSkew = 15 * time.Minute
	sigV4Algo    = "AWS4-HMAC-SHA256"
	amzDate      = "20060102T150405Z"
)

// NewSTS builds STS over the access keys lookup finds.
func NewSTS(env wire.Env, lookup KeyLookup) *STS { return &STS{env: env, lookup: lookup} }

type getCallerIdentityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	UserId  string
	Account string
	Arn     string
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
	// whose action was changed in transit fails its signature.
	who, aerr := st.authenticate(r, body)
	if aerr != nil {
		wire.WriteQueryError(w, stsXMLNS, requestID, aerr)
		return
	}
	if v := form.Get("Version"); v != "" && v != stsVersion {
		wire.WriteQueryError(w, stsXMLNS, requestID, &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", op, v)})
		return
	}
	if op != "GetCallerIdentity" {
		wire.WriteQueryError(w, stsXMLNS, requestID, &wire.Error{Code: "InvalidAction",
			Message: fmt.Sprintf("The action %s is not valid for this web service (rotor local endpoint).", op)})
		return
	}
	wire.WriteQueryResult(w, stsXMLNS, op, requestID, getCallerIdentityResult{UserId: who.UserID, Account: st.env.Account, Arn: who.ARN})
}

// writeError answers a fault or a throttling refusal in STS's protocol.
func (st *STS) WriteError(w http.ResponseWriter, code, message string, status int) {
	if code == "ThrottlingException" {
		code = "Throttling"
	}
	wire.WriteQueryError(w, stsXMLNS, "", &wire.Error{Code: code, Message: message, Status: status})
}

func stsInvalidToken() *wire.Error {
	return &wire.Error{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid.", Status: http.StatusForbidden}
}

func stsMismatch(msg string) *wire.Error {
	return &wire.Error{Code: "SignatureDoesNotMatch", Message: msg, Status: http.StatusForbidden}
}

func stsIncomplete(msg string) *wire.Error {
	return &wire.Error{Code: "IncompleteSignature", Message: msg, Status: http.StatusBadRequest}
}

const stsBadSignature = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// authenticate verifies r's SigV4 signature and returns who signed it.
func (st *STS) authenticate(r *http.Request, body []byte) (Caller, *wire.Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return Caller{}, stsIncomplete("the rotor local endpoint does not accept presigned requests")
		}
		return Caller{}, &wire.Error{Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Status: http.StatusForbidden}
	}
	auth, perr := parseSigV4(h)
	if perr != nil {
		return Caller{}, perr
	}
	if !slices.Contains(auth.signedHeaders, "host") {
		return Caller{}, stsIncomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return Caller{}, stsInvalidToken() // no session tokens are issued here
	}
	who, secret, ok := st.lookup(auth.keyID)
	if !ok {
		return Caller{}, stsInvalidToken()
	}

	// The date: X-Amz-Date (or Date), signed, within 15 minutes.
	var when time.Time
	var err error
	dateHeader := "x-amz-date"
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		if when, err = time.Parse(amzDate, v); err != nil {
			return Caller{}, stsIncomplete("X-Amz-Date must be in ISO 8601 basic format (yyyyMMdd'T'HHmmss'Z')")
		}
	} else if v := r.Header.Get("Date"); v != "" {
		dateHeader = "date"
		if when, err = http.ParseTime(v); err != nil {
			return Caller{}, stsIncomplete("the Date header is not an HTTP date")
		}
	} else {
		return Caller{}, stsIncomplete("AWS authentication requires a valid Date or x-amz-date header")
	}
	if !slices.Contains(auth.signedHeaders, dateHeader) {
		return Caller{}, stsIncomplete(fmt.Sprintf("'%s' must be a 'SignedHeader' in the AWS Authorization.", dateHeader))
	}
	now := st.env.Now().UTC()
	switch {
	case when.Before(now.Add(-sigV4MaxSkew)):
		return Caller{}, stsMismatch(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			when.UTC().Format(amzDate), now.Add(-sigV4MaxSkew).Format(amzDate), now.Format(amzDate)))
	case when.After(now.Add(sigV4MaxSkew)):
		return Caller{}, stsMismatch(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			when.UTC().Format(amzDate), now.Add(sigV4MaxSkew).Format(amzDate), now.Format(amzDate)))
	}
	if auth.date != when.UTC().Format("20060102") {
		return Caller{}, stsMismatch(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'",
			auth.date, when.UTC().Format("20060102")))
	}
	if auth.service != "sts" {
		return Caller{}, stsMismatch("Credential should be scoped to correct service: 'sts'.")
	}

	want := sigV4Signature(secret, auth, r, body, when.UTC().Format(amzDate))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return Caller{}, stsMismatch(stsBadSignature)
	}
	return who, nil
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

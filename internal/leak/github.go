package leak

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// GitHub's webhook event names and the secret scanning alert actions that
// start a response: a new alert, one reopened, one found in a public place,
// and one whose validity GitHub has just checked. The rest (resolved,
// assigned, unassigned, and actions GitHub adds later) are ErrNotALeak.
const githubEvent = "secret_scanning_alert"

var githubLeakActions = map[string]bool{
	"created":         true,
	"reopened":        true,
	"publicly_leaked": true,
	"validated":       true,
}

type githubPayload struct {
	Action *string `json:"action"`
	Alert  *struct {
		Number     *int   `json:"number"`
		SecretType string `json:"secret_type"`
		URL        string `json:"url"`
		HTMLURL    string `json:"html_url"`
	} `json:"alert"`
	Repository *struct {
		FullName string `json:"full_name"`
		URL      string `json:"url"`
		HTMLURL  string `json:"html_url"`
	} `json:"repository"`
}

// ParseGitHub reads a GitHub webhook delivery: eventName is its
// X-GitHub-Event header, body its raw body (verify it first with
// VerifyGitHubSignature).
//
// A secret_scanning_alert event with action created, reopened,
// publicly_leaked or validated gives an Alert whose GitHub field names the
// repository, the alert number, the secret type and the alert's REST URL;
// Reason is the secret type and Reference the alert's web page. The payload
// carries no secret: the caller GETs GitHub.APIURL (a token with the
// "Secret scanning alerts" read permission), hashes the "secret" field and
// matches the hash. Other actions (resolved, assigned...) and other events
// (ping, secret_scanning_alert_location...) are ErrNotALeak.
func ParseGitHub(eventName string, body []byte) (*Alert, error) {
	const src = SourceGitHub
	if len(body) > MaxBodyBytes {
		return nil, malformed(src, "body is larger than %d bytes", MaxBodyBytes)
	}
	switch eventName {
	case "":
		return nil, malformed(src, "the X-GitHub-Event header is missing")
	case githubEvent:
	default:
		return nil, notALeak(src, "the event is not %s", githubEvent)
	}
	var p githubPayload
	if err := decode(src, body, &p); err != nil {
		return nil, err
	}
	switch {
	case p.Action == nil || *p.Action == "":
		return nil, malformed(src, `"action" is missing or empty`)
	case !githubLeakActions[*p.Action]:
		return nil, notALeak(src, `"action" is not one of created, reopened, publicly_leaked, validated`)
	case p.Alert == nil:
		return nil, malformed(src, `"alert" is missing`)
	case p.Alert.Number == nil:
		return nil, malformed(src, `"alert.number" is missing`)
	case *p.Alert.Number <= 0:
		return nil, malformed(src, `"alert.number" must be a positive whole number`)
	case !isText(p.Alert.SecretType, 256):
		return nil, malformed(src, `"alert.secret_type" is too long or holds control characters`)
	case p.Repository == nil:
		return nil, malformed(src, `"repository" is missing`)
	case !isRepoName(p.Repository.FullName):
		return nil, malformed(src, `"repository.full_name" must be "owner/name"`)
	}
	repo, number := p.Repository.FullName, *p.Alert.Number

	repoURL, ok := httpsURL(p.Repository.URL)
	if !ok || !strings.EqualFold(strings.TrimSuffix(repoURL.Path, "/"), "/repos/"+repo) {
		return nil, malformed(src, `"repository.url" must be the repository's https REST URL, ending in /repos/<full_name>`)
	}
	suffix := "/secret-scanning/alerts/" + strconv.Itoa(number)
	apiURL := strings.TrimSuffix(p.Repository.URL, "/") + suffix
	if p.Alert.URL != "" {
		u, ok := httpsURL(p.Alert.URL)
		if !ok || !strings.EqualFold(u.Host, repoURL.Host) ||
			!strings.EqualFold(strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(repoURL.Path, "/")+suffix) {
			return nil, malformed(src, `"alert.url" must be an https URL on the host of "repository.url", ending in %s`, "/repos/<full_name>/secret-scanning/alerts/<number>")
		}
		apiURL = p.Alert.URL
	}

	// The alert's web page, for people: alert.html_url, else the page under
	// the repository's, else the REST URL.
	ref := apiURL
	if _, ok := httpsURL(p.Alert.HTMLURL); ok {
		ref = p.Alert.HTMLURL
	} else if _, ok := httpsURL(p.Repository.HTMLURL); ok {
		ref = strings.TrimSuffix(p.Repository.HTMLURL, "/") + "/security/secret-scanning/" + strconv.Itoa(number)
	}
	return &Alert{
		Source:    src,
		Reference: ref,
		Reason:    p.Alert.SecretType,
		GitHub: &GitHubAlert{
			Repository: repo,
			Number:     number,
			SecretType: p.Alert.SecretType,
			Action:     *p.Action,
			APIURL:     apiURL,
		},
	}, nil
}

// isRepoName reports whether s is "owner/name" as GitHub spells them: an
// owner of letters, digits and hyphens, a name of letters, digits, '.', '_'
// and '-'.
func isRepoName(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || len(owner) > 39 || name == "" || len(name) > 100 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(owner); i++ {
		if c := owner[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// VerifyGitHubSignature checks a GitHub webhook delivery's
// X-Hub-Signature-256 header: "sha256=" followed by the hex HMAC-SHA256 of
// the raw body keyed with the webhook's secret
// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
// The comparison is constant-time. An empty secret is refused: it would
// make every signature computable. GitHub's signature covers no timestamp
// and no delivery id (X-GitHub-Delivery is not signed), so a captured
// delivery replays with any delivery id: deduplicate on what the body
// signs, the alert's repository, number and action.
func VerifyGitHubSignature(secret, body []byte, header string) error {
	const src = SourceGitHub
	if len(secret) == 0 {
		return badSignature(src, "no webhook secret is configured")
	}
	if header == "" {
		return badSignature(src, "the X-Hub-Signature-256 header is missing")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return badSignature(src, `the X-Hub-Signature-256 header must be "sha256=" followed by 64 hex digits`)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return badSignature(src, `the X-Hub-Signature-256 header must be "sha256=" followed by 64 hex digits`)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return badSignature(src, "the signature does not match the body")
	}
	return nil
}

package rotation

import (
	"fmt"
	"path"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/rotorhq/rotor/internal/rotorerr"
	"github.com/rotorhq/rotor/internal/strictjson"
)

// A master secret consents to serve a managed secret by listing it in its
// own value (SECURITY.md, trust boundaries). A tag on the managed secret is only a
// request: anyone who may tag a secret could name any master. The value of
// a master is writable only by whoever owns the master, so the list lives
// there:
//
//	{"rotor": {"serves": ["prod/payments/*", "arn:aws:secretsmanager:us-east-1:111122223333:secret:ci/deploy-*"]},
//	 ...the provider's own fields...}
//
// A pattern that starts with "arn:" matches the managed secret's ARN, any
// other its name. '*' matches any run of characters ('/' included), '?'
// one character; nothing else is special. No list, or an empty one,
// serves nothing. The core checks the list and strips the field before a
// provider sees the master, so providers never parse it.
const consentField = "rotor"

// consent is the master's "rotor" field.
type consent struct {
	// Serves lists the managed secrets (names or ARNs, with * and ?) this
	// master may create and revoke credentials for.
	Serves []string `json:"serves"`
}

// maxConsentPatterns bounds the list: a master serving more secrets than
// this should use patterns.
const maxConsentPatterns = 200

// splitConsent reads the consent of a master value and returns the value
// without it. The master must be a JSON object (every provider that uses a
// master keeps settings beside its credential); duplicate members are
// refused, since two readers could disagree on which one counts.
func splitConsent(master string, value []byte) (consent, []byte, error) {
	var doc map[string]jsontext.Value
	if err := json.Unmarshal(value, &doc); err != nil || doc == nil {
		return consent{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"master secret %q: the value is not a JSON object (%s); a master holds its provider's fields and a %q field listing the secrets it serves",
			master, describe(err), consentField))
	}
	var c consent
	raw, ok := doc[consentField]
	if ok {
		if err := strictjson.Decode(raw, &c); err != nil {
			return consent{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
				"master secret %q: field %q: %v (want {\"serves\": [\"<secret name or ARN pattern>\", ...]})", master, consentField, err))
		}
		delete(doc, consentField)
	}
	if len(c.Serves) > maxConsentPatterns {
		return consent{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"master secret %q: %s.serves lists %d patterns; at most %d (use * patterns)", master, consentField, len(c.Serves), maxConsentPatterns))
	}
	for i, p := range c.Serves {
		if err := checkPattern(p); err != nil {
			return consent{}, nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
				"master secret %q: %s.serves[%d]: %v", master, consentField, i, err))
		}
	}
	stripped, err := json.Marshal(doc, json.Deterministic(true))
	if err != nil {
		return consent{}, nil, fmt.Errorf("master secret %q: re-encode without %q: %w", master, consentField, err)
	}
	return c, stripped, nil
}

func describe(err error) string {
	if err == nil {
		return "null"
	}
	return strictjson.Describe(err)
}

// checkPattern refuses patterns that cannot match a secret: empty, too
// long, or with characters no name or ARN holds (path.Match's '[' and '\'
// syntax included, so that only * and ? are special).
func checkPattern(p string) error {
	if p == "" || len(p) > 2048 {
		return fmt.Errorf("a pattern must be 1 to 2048 characters")
	}
	for _, c := range p {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("/_+=.@-:*?", c):
		default:
			return fmt.Errorf("%q: a pattern holds letters, digits, /_+=.@-: and the wildcards * and ?", p)
		}
	}
	return nil
}

// serves reports whether the consent lists the secret.
func (c consent) serves(arn, name string) bool {
	for _, p := range c.Serves {
		target := name
		if strings.HasPrefix(p, "arn:") {
			target = arn
		}
		if globMatch(p, target) {
			return true
		}
	}
	return false
}

// globMatch matches * (any run, '/' included) and ? (one character).
// path.Match stops '*' at '/', which would make "prod/*" miss
// "prod/a/b"; names are not paths.
func globMatch(pattern, s string) bool {
	// Replace '/' by a character no name holds so that path.Match's '*'
	// crosses it; the pattern's characters are checked by checkPattern.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", sep), strings.ReplaceAll(s, "/", sep))
	return err == nil && ok
}

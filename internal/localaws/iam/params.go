package iam

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rotorhq/rotor/internal/localaws/wire"
	"github.com/rotorhq/rotor/internal/paginate"
)

// Errors, with AWS's codes, messages and statuses.

func iamValidation(format string, args ...any) error {
	return &wire.Error{Code: "ValidationError", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func iamInvalidInput(format string, args ...any) error {
	return &wire.Error{Code: "InvalidInput", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func iamNoSuchUser(name string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The user with name %s cannot be found.", name), Status: http.StatusNotFound}
}

func iamNoSuchKey(id string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id), Status: http.StatusNotFound}
}

func iamLimit(msg string) error {
	return &wire.Error{Code: "LimitExceeded", Message: msg, Status: http.StatusConflict}
}

// Parameter rules (the IAM API reference's patterns and lengths).
var (
	iamUserNameRE  = regexp.MustCompile(`^[\w+=,.@-]+$`)
	iamPathRE      = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	iamKeyIDRE     = regexp.MustCompile(`^\w+$`)
	iamTagKeyRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	iamTagValueRE  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	iamNonUserCred = "Must specify userName when calling with non-User credentials"
)

func checkIAMUserName(member, name string) error {
	switch {
	case name == "":
		return iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	case len(name) > 64:
		return iamValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 64", name, member)
	case !iamUserNameRE.MatchString(name):
		return iamValidation(`1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`, name, member)
	}
	return nil
}

func checkIAMKeyID(id string) error {
	switch {
	case id == "":
		return iamValidation("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	case len(id) < 16 || len(id) > 128 || !iamKeyIDRE.MatchString(id):
		return iamValidation(`1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+ and have length between 16 and 128`, id)
	}
	return nil
}

func checkIAMTag(t iamTag) error {
	switch {
	case t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || !iamTagKeyRE.MatchString(t.Key):
		return iamValidation(`1 validation error detected: Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+ and have length between 1 and 128`, t.Key)
	case utf8.RuneCountInString(t.Value) > 256 || !iamTagValueRE.MatchString(t.Value):
		return iamValidation(`1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]* and have length less than or equal to 256`)
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return iamInvalidInput("Tag keys starting with 'aws:' are reserved for AWS use.")
	}
	return nil
}

// iamFormTags reads Tags.member.N.Key/Value, refusing bad and duplicate keys.
func iamFormTags(form url.Values) ([]iamTag, error) {
	var tags []iamTag
	seen := map[string]bool{}
	for n := 1; ; n++ {
		p := "Tags.member." + strconv.Itoa(n) + "."
		k, ok := form[p+"Key"]
		if !ok {
			return tags, nil
		}
		t := iamTag{Key: k[0], Value: form.Get(p + "Value")}
		if err := checkIAMTag(t); err != nil {
			return nil, err
		}
		if seen[strings.ToLower(t.Key)] {
			return nil, iamInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(t.Key)] = true
		tags = append(tags, t)
	}
}

// iamMergeTags sets tags on existing ones; keys match without regard to case,
// and a tag set again takes the new key's case.
func iamMergeTags(existing, tags []iamTag) []iamTag {
	for _, t := range tags {
		i := slices.IndexFunc(existing, func(e iamTag) bool { return strings.EqualFold(e.Key, t.Key) })
		if i >= 0 {
			existing[i] = t
		} else {
			existing = append(existing, t)
		}
	}
	return existing
}

// iamPage returns a page of items (paginate.Page) for MaxItems and Marker,
// the marker being the key of the last item of the previous page.
func iamPage[T any](form url.Values, items []T, key func(T) string) ([]T, string, error) {
	max := iamDefaultPage
	if v := form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", iamValidation("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		max = n
	}
	page, next, ok := paginate.Page(items, key, form.Get("Marker"), max, false)
	if !ok {
		return nil, "", iamValidation("Invalid Marker.")
	}
	return page, next, nil
}

const (
	iamIDChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	iamKeyIDChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // AWS key ids are base32
	iamSecretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// iamRandom draws n characters of alphabet (at most 256 long) from
// crypto/rand, rejecting bytes past the last multiple of its length so
// every character is equally likely.
func iamRandom(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails (crypto/rand documents it)
		for _, x := range buf {
			if int(x) < limit && len(out) < n {
				out = append(out, alphabet[int(x)%len(alphabet)])
			}
		}
	}
	return string(out)
}

package leak_test

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rotorhq/rotor/internal/leak"
)

// Samples live outside the package, with their sources named in
// test/testdata/leak/README.md and test/testdata/README.md.
const (
	leakDir   = "../../test/testdata/leak/"
	eventsDir = "../../test/testdata/events/"
)

// AWS's documentation example secret access key: the secret-looking value
// the malformed samples carry, which no error message may quote.
const exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func sample(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// edit decodes a sample, lets change modify it and encodes it again: the
// variants of a real sample the tests need, without a file for each.
func edit(tb testing.TB, data []byte, change func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// obj walks a decoded JSON document to the object at path.
func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

type parseFunc func([]byte) (*leak.Alert, error)

func gitHub(event string) parseFunc {
	return func(b []byte) (*leak.Alert, error) { return leak.ParseGitHub(event, b) }
}

// checkOutcome is the contract every parser keeps, whatever its input: an
// error wraps exactly one of ErrNotALeak and ErrMalformed (never
// ErrSignature) and comes with no Alert; an Alert names something to match,
// in the documented forms.
func checkOutcome(a *leak.Alert, err error) error {
	if err != nil {
		if a != nil {
			return errors.New("an Alert came with an error")
		}
		notALeak, malformed := errors.Is(err, leak.ErrNotALeak), errors.Is(err, leak.ErrMalformed)
		if notALeak == malformed || errors.Is(err, leak.ErrSignature) {
			return errors.New("the error wraps not exactly one of ErrNotALeak and ErrMalformed: " + err.Error())
		}
		return nil
	}
	if a == nil {
		return errors.New("no Alert and no error")
	}
	switch a.Source {
	case leak.SourceGuardDuty, leak.SourceHealth, leak.SourceGitHub, leak.SourceGitGuardian, leak.SourceGeneric:
	default:
		return errors.New("unknown source " + strconv.Quote(a.Source))
	}
	if len(a.AccessKeyIDs) == 0 && len(a.Fingerprints) == 0 && a.SecretID == "" && a.GitHub == nil {
		return errors.New("the Alert names nothing to match")
	}
	for _, id := range a.AccessKeyIDs {
		if !leak.IsAccessKeyID(id) {
			return errors.New("an access key id is not of the form")
		}
	}
	for _, f := range a.Fingerprints {
		if !leak.IsFingerprint(f) {
			return errors.New("a fingerprint is not of the form")
		}
	}
	if g := a.GitHub; g != nil {
		if g.Number <= 0 || !strings.HasPrefix(g.APIURL, "https://") ||
			!strings.HasSuffix(strings.ToLower(g.APIURL), strings.ToLower("/repos/"+g.Repository+"/secret-scanning/alerts/"+strconv.Itoa(g.Number))) {
			return errors.New("the GitHub alert's REST URL does not name its repository and number")
		}
	}
	return nil
}

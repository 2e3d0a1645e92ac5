package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Character classes of the random secrets: every class appears in a secret
// long enough to hold them all.
var classes = []string{
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"0123456789",
	`/+=%&?#"\'`,
	"!$()*,-.:;<>@[]^_`{|}~",
	" ",
	"éüßñøЖж中文字🙂€",
}

// RandomSecret returns a secret of n runes drawing on every character class
// (each class at least once when n allows).
func randomSecret(r *rand.Rand, n int) string {
	runes := make([]rune, 0, n)
	for _, i := range r.Perm(len(classes)) {
		if len(runes) == n {
			break
		}
		runes = append(runes, pick(r, classes[i]))
	}
	for len(runes) < n {
		runes = append(runes, pick(r, classes[r.IntN(len(classes))]))
	}
	r.Shuffle(len(runes), func(i, j int) { runes[i], runes[j] = runes[j], runes[i] })
	return string(runes)
}

func pick(r *rand.Rand, class string) rune {
	rs := []rune(class)
	return rs[r.IntN(len(rs))]
}

// randomText is surrounding text of n runes from every class.
func randomText(r *rand.Rand, n int) string { return randomSecret(r, n) }

// remaining returns the parts of a scrubbed message that are not masks:
// exactly the text of the original that no occurrence covered.
func remaining(scrubbed string) []string { return strings.Split(scrubbed, Mask) }

// leaked returns the encodings of secret of at least MinLen bytes found in
// the unmasked text of out, and whether the embedded short encoding e (when
// e is shorter than MinLen) survives as a whole token between the
// separators sep.
func leaked(secret, out, e, sep string) []string {
	var found []string
	for _, part := range remaining(out) {
		for _, f := range Encodings(secret) {
			if len(f) >= MinLen && strings.Contains(part, f) {
				found = append(found, f)
			}
		}
		if len(e) < MinLen && strings.Contains(part, sep+e+sep) {
			found = append(found, e)
		}
	}
	return found
}

// TestScrubProperty: for random secrets of 1 to 100 runes with every
// character class, each encoding embedded among random text (glued to it
// when long, as a whole token when short) is masked, and no encoding of at
// least MinLen bytes is left anywhere in the result.
func TestScrubProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(20260107, 10))
	for n := 1; n <= 100; n++ {
		for range 5 {
			secret := randomSecret(r, n)
			s := &Set{}
			s.Add(secret)
			for _, e := range Encodings(secret) {
				sep := ""
				if len(e) < MinLen {
					sep = " "
				}
				msg := randomText(r, r.IntN(40)) + sep + e + sep + randomText(r, r.IntN(40))
				out := s.Scrub(msg)
				if f := leaked(secret, out, e, sep); len(f) > 0 {
					// Name the lengths only: the test's output must not
					// carry the secret either.
					t.Fatalf("a %d-rune secret: %d encodings survived (%d bytes each), embedded encoding of %d bytes",
						n, len(f), len(f[0]), len(e))
				}
				if !strings.Contains(out, Mask) {
					t.Fatalf("a %d-rune secret: the embedded encoding of %d bytes was not masked", n, len(e))
				}
			}
		}
	}
}

// TestScrubLeavesCleanTextAlone: a message holding no encoding of any
// recorded value comes back unchanged.
func TestScrubLeavesCleanTextAlone(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	s := &Set{}
	var secrets []string
	for range 20 {
		v := randomSecret(r, 8+r.IntN(40))
		secrets = append(secrets, v)
		s.Add(v)
	}
	checked := 0
	for range 500 {
		msg := randomText(r, 200)
		clean := true
		for _, v := range secrets {
			for _, f := range Encodings(v) {
				if strings.Contains(msg, f) {
					clean = false
				}
			}
		}
		if !clean {
			continue
		}
		checked++
		if out := s.Scrub(msg); out != msg {
			t.Fatalf("a clean message of %d bytes was changed", len(msg))
		}
	}
	if checked < 400 {
		t.Fatalf("only %d of 500 random messages were clean", checked)
	}
}

// FuzzScrub: whatever the secret and the text around it, no encoding of at
// least MinLen bytes survives, and a short encoding standing as a whole
// token (between newlines) is masked.
func FuzzScrub(f *testing.F) {
	for _, seed := range [][3]string{
		{"p/a+s=s%w&o?r#d\"\\'", "GET /v1/", "/keys"},
		{"a", "x ", " y"},
		{"/+", "", ""},
		{"é", "caf", ""},
		{"🙂 x", "{\"k\":\"", "\"}"},
		{" ", "a", "b"},
		{Mask, "[RED", "ACTED]"},
		{"REDACTED", "[", "]"},
		{`{"keys":["k1",{"token":123456}]}`, "", ""},
		{"aaaaaaa", "aaa", "aaaa"},
		{"\xff\xfe", "\xc3", "\xa9"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		if secret == "" || len(secret) > 200 {
			return
		}
		s := &Set{}
		s.Add(secret)
		for _, e := range Encodings(secret) {
			sep := ""
			if len(e) < MinLen {
				sep = "\n"
			}
			out := s.Scrub(before + sep + e + sep + after)
			if f := leaked(secret, out, e, sep); len(f) > 0 {
				t.Fatalf("%d encodings survived", len(f))
			}
		}
	})
}

// TestWholeTokenBoundaries pins the token rule on runes, not bytes.
func TestWholeTokenBoundaries(t *testing.T) {
	for _, tc := range []struct {
		msg        string
		start, end int
		want       bool
	}{
		{"ab", 0, 2, true},
		{"xab", 1, 3, false},
		{"ж ab", len("ж "), len("ж ab"), true},
		{"жab", len("ж"), len("жab"), false},
		{"ab🙂", 0, 2, true}, // a symbol is not a word character
		{"ab_", 0, 2, false},
	} {
		if got := wholeToken(tc.msg, tc.start, tc.end); got != tc.want {
			t.Errorf("wholeToken(%q, %d, %d) = %v, want %v", tc.msg, tc.start, tc.end, got, tc.want)
		}
	}
	if isWord('🙂') || !isWord('ж') || !unicode.IsLetter('ж') || !utf8.ValidString("ж") {
		t.Error("isWord disagrees with unicode")
	}
}

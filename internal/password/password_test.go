package password

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want string // "" for valid
	}{
		{"default", Policy{}, ""},
		{"long hex", Policy{Length: 40, Alphabet: "0123456789abcdef"}, ""},
		{"too short", Policy{Length: 16}, "below the minimum of 128"},
		{"too long", Policy{Length: 257}, "outside 1..256"},
		{"negative", Policy{Length: -1}, "outside"},
		{"an @", Policy{Alphabet: "abcdefghijklmnopqrstuvwxyz@"}, `holds '@'`},
		{"a quote", Policy{Alphabet: "abcdefghijklmnopqrstuvwxyz'"}, "breaks connection strings"},
		{"a space", Policy{Alphabet: "abcdefghijklmnopqrstuvwxyz "}, "printable ASCII"},
		{"non-ASCII", Policy{Alphabet: "abcdefghijklmnopqrstuvwxyzé"}, "printable ASCII"},
		{"repeats", Policy{Alphabet: "abcabc"}, "repeats"},
		{"one character", Policy{Length: 200, Alphabet: "a"}, "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	p := Policy{Length: 48, Alphabet: "abcdefghijklmnopqrstuvwxyz0123"}
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < 2000; i++ {
		pw, err := Generate(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 48 {
			t.Fatalf("length %d", len(pw))
		}
		if seen[pw] {
			t.Fatal("a password repeated")
		}
		seen[pw] = true
		for _, r := range pw {
			if !strings.ContainsRune(p.Alphabet, r) {
				t.Fatalf("character %q is not in the alphabet", r)
			}
			counts[r]++
		}
	}
	// 96,000 draws over 30 characters: 3,200 each expected. A modulo bias
	// (256 = 8×30 + 16: the first 16 characters get 9 chances in 256, the
	// rest 8) would give about 3,375 to those and 3,000 to the rest; the
	// means of the two groups vary by about 15 without one.
	var first, rest float64
	for i, r := range p.Alphabet {
		if i < 16 {
			first += float64(counts[r]) / 16
		} else {
			rest += float64(counts[r]) / 14
		}
	}
	if d := first - rest; d > 100 || d < -100 {
		t.Errorf("the first 16 characters were drawn %.0f times on average, the rest %.0f: biased", first, rest)
	}
	if len(counts) != 30 {
		t.Errorf("%d distinct characters drawn, want 30", len(counts))
	}
	if _, err := Generate(Policy{Length: 8}); err == nil {
		t.Error("Generate took a policy below the minimum entropy")
	}
	def, _ := Generate(Policy{})
	if len(def) != DefaultLength || strings.ContainsAny(def, Forbidden) {
		t.Errorf("default password has length %d", len(def))
	}
}

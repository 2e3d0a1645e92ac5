package chaos

import (
	"strings"
	"sync"

	"github.com/rotorhq/rotor/internal/redact"
)

// minSecretLen is the shortest value the harness records: every value in
// play is a generated key or password far longer, and a short one would
// match ordinary text.
const minSecretLen = 16

// prefixLen is how much of a form the scanner indexes: every form is at
// least minSecretLen long, so at least this.
const prefixLen = 12

// secrets is every secret value the harness saw, in every encoding
// redact.Encodings lists, indexed for scanning large texts.
type secrets struct {
	mu     sync.Mutex
	values map[string]bool
	byPref map[string][]string // first prefixLen bytes of a form -> forms
}

func newSecrets() *secrets {
	return &secrets{values: map[string]bool{}, byPref: map[string][]string{}}
}

// add records values; those shorter than minSecretLen are ignored.
func (s *secrets) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) < minSecretLen || s.values[v] {
			continue
		}
		s.values[v] = true
		for _, f := range redact.Encodings(v) {
			if len(f) < prefixLen {
				continue
			}
			p := f[:prefixLen]
			s.byPref[p] = append(s.byPref[p], f)
		}
	}
}

func (s *secrets) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

// find returns how many secret forms text contains (each occurrence
// counted), and where the first one starts.
func (s *secrets) find(text string) (n, first int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = -1
	for i := 0; i+prefixLen <= len(text); i++ {
		forms, ok := s.byPref[text[i:i+prefixLen]]
		if !ok {
			continue
		}
		for _, f := range forms {
			if strings.HasPrefix(text[i:], f) {
				n++
				if first < 0 {
					first = i
				}
				break
			}
		}
	}
	return n, first
}

// mask replaces every secret form in text with [SECRET], for evidence the
// report prints.
func (s *secrets) mask(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i := 0; i < len(text); {
		if i+prefixLen <= len(text) {
			if forms, ok := s.byPref[text[i:i+prefixLen]]; ok {
				longest := ""
				for _, f := range forms {
					if strings.HasPrefix(text[i:], f) && len(f) > len(longest) {
						longest = f
					}
				}
				if longest != "" {
					b.WriteString("[SECRET]")
					i += len(longest)
					continue
				}
			}
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

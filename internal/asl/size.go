package asl

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// checkSize fails with States.DataLimitExceeded when v's JSON is larger
// than MaxPayload; what, a format taking the state's name, says which
// payload it is.
func checkSize(v any, what, state string) error {
	if n := jsonSize(v); n > MaxPayload {
		return &stateError{name: ErrDataLimitExceeded, cause: fmt.Sprintf(what+" is %d bytes, over the %d-byte limit", state, n, MaxPayload)}
	}
	return nil
}

// jsonSize returns the length of v's compact JSON encoding (as
// encoding/json writes it) without building it, so payload limits can be
// checked on values that are never encoded.
func jsonSize(v any) int {
	switch x := v.(type) {
	case nil:
		return 4
	case bool:
		if x {
			return 4
		}
		return 5
	case float64:
		// Integers, the common case, by their digits: formatting a float
		// costs more than most of what is measured.
		if x == math.Trunc(x) && math.Abs(x) < 1e18 {
			n := 1
			if math.Signbit(x) {
				n++ // encoding/json writes -0 as "-0"
			}
			for i := int64(math.Abs(x)); i >= 10; i /= 10 {
				n++
			}
			return n
		}
		// encoding/json's float format: 'f', or 'e' with a trimmed
		// exponent for very small and very large magnitudes.
		var buf [32]byte
		f := byte('f')
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			f = 'e'
		}
		b := strconv.AppendFloat(buf[:0], x, f, -1, 64)
		n := len(b)
		if f == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			n--
		}
		return n
	case string:
		return stringSize(x)
	case []any:
		n := 2
		for i, e := range x {
			if i > 0 {
				n++
			}
			n += jsonSize(e)
		}
		return n
	case map[string]any:
		n := 2
		i := 0
		for k, e := range x {
			if i > 0 {
				n++
			}
			n += stringSize(k) + 1 + jsonSize(e)
			i++
		}
		return n
	}
	return 0
}

// stringSize is the quoted, escaped length of s as encoding/json writes it
// (HTML characters escaped as \u00XX).
func stringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

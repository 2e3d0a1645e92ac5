package intrinsic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxExactInt is the largest integer a float64 holds exactly (2^53). Integer
// arguments beyond it are rejected as out of range rather than silently
// losing precision.
const maxExactInt = 1 << 53

// typeName names the JSON type of v for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if _, ok := toNumber(v); ok {
		return "number"
	}
	return "unsupported value"
}

// toNumber accepts every numeric type an engine might hand back from a path,
// although encoding/json's generic decoding yields only float64.
func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// javaRound rounds like java.lang.Math.round(double): to the nearest
// integer, ties towards positive infinity (2.5 -> 3, -2.5 -> -2, -0.5 -> 0).
// AWS's documentation says non-integer arguments are "round[ed] off to the
// nearest integer"; execution histories recorded against AWS for
// States.MathAdd (1.5 -> 2, 2.5 -> 3, -1.5 -> -1, -2.5 -> -2, -0.5 -> 0,
// each argument rounded before adding) match Math.round exactly, not
// half-even and not half-away-from-zero. The same rounding is used wherever
// the documentation promises rounding.
func javaRound(f float64) float64 {
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	return r
}

// integerArg reads argument i as an integer, rounding a non-integer with
// javaRound.
func (c *Call) integerArg(vals []any, i int, what string) (int64, error) {
	f, ok := toNumber(vals[i])
	if !ok {
		return 0, c.errorf("the %s (%s) must be a number, got %s", ordinal(i), what, typeName(vals[i]))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, c.errorf("the %s (%s) must be a finite number", ordinal(i), what)
	}
	r := javaRound(f)
	if math.Abs(r) > maxExactInt {
		return 0, c.errorf("the %s (%s) %s is out of range", ordinal(i), what, formatNumber(f))
	}
	return int64(r), nil
}

// formatNumber renders a number as encoding/json does ("1", "1.1", "1e+21"),
// with negative zero as "0".
func formatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if b, err := json.Marshal(f); err == nil {
		return string(b)
	}
	return strconv.FormatFloat(f, 'g', -1, 64) // NaN, ±Inf
}

// compactJSON serialises v as compact JSON text. HTML characters are not
// escaped (AWS's Jackson serialiser leaves <, > and & alone). Object keys
// come out sorted: Go maps keep no order, whereas AWS keeps the input's.
func compactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// formatValue renders a States.Format argument. Strings insert raw, numbers
// in JSON form, booleans and null as true, false and null.
//
// The specification says an array or object "MUST NOT" be formatted, and the
// brief suggested AWS might reject it, but AWS does not: execution histories
// recorded against AWS show an object {"Arg1": 1, "Arg2": []} rendered as
// "{Arg1=1, Arg2=[]}", which is Java's Map.toString/List.toString form
// (strings inside are raw, separators are ", " and "="). That is what is
// reproduced here, so formatting an object succeeds as on AWS. Object keys
// are sorted, because Go maps keep no order (AWS keeps the input's order).
func formatValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			formatValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteByte('=')
			formatValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		if f, ok := toNumber(x); ok {
			b.WriteString(formatNumber(f))
			return
		}
		if s, err := compactJSON(x); err == nil {
			b.WriteString(s)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonEqual is deep equality of JSON values: numbers compare by value
// whatever their Go type (0 equals -0), objects by key set and values,
// arrays element by element.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	xf, ok1 := toNumber(a)
	yf, ok2 := toNumber(b)
	return ok1 && ok2 && xf == yf
}

// canonicalKey writes a string that is equal for two values exactly when
// jsonEqual holds (for the JSON value types), so States.ArrayUnique runs in
// linear time instead of comparing every pair.
func canonicalKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteByte('n')
	case string:
		b.WriteByte('s')
		b.WriteString(strconv.Quote(x))
	case bool:
		if x {
			b.WriteByte('t')
		} else {
			b.WriteByte('f')
		}
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			canonicalKey(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for _, k := range sortedKeys(x) {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			canonicalKey(b, x[k])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	default:
		if f, ok := toNumber(x); ok {
			b.WriteByte('d')
			b.WriteString(formatNumber(f))
			return
		}
		// Not a JSON value: compare by Go type and printed value.
		fmt.Fprintf(b, "?%T:%#v", x, x)
	}
}

// utf16Len counts a string's length as Java's String.length() does, in UTF-16
// code units: AWS's "10,000 characters" limits are enforced by a Java
// service, so a character outside the Basic Multilingual Plane (an emoji)
// counts as two.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

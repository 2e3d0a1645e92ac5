package dynamodb

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ddbValue and its helpers are DynamoDB's attribute values: parsed,
// validated, compared and sized as DynamoDB does.

// ddbValue is a parsed AttributeValue.
type ddbValue struct {
	t   string         // S, N, B, BOOL, NULL, SS, NS, BS, L or M
	raw jsontext.Value // its wire JSON, compacted
	s   string         // S, and N's text
	n   *big.Rat       // N
	b   []byte         // B
	bl  bool           // BOOL
	set []ddbValue     // SS, NS, BS: the members as S, N and B values
	l   []ddbValue     // L
	m   map[string]ddbValue
}

const ddbMaxDepth = 32

// parseDDBValue parses and validates one AttributeValue; where names it in
// errors (an attribute name or placeholder, never a value).
func parseDDBValue(raw jsontext.Value, where string, depth int) (ddbValue, error) {
	if depth > ddbMaxDepth {
		return ddbValue{}, ddbValidation("Nesting Levels have exceeded supported limits")
	}
	var members map[string]jsontext.Value
	if err := jsonv2.Unmarshal(raw, &members); err != nil || members == nil {
		return ddbValue{}, ddbValidation("Supplied AttributeValue of %s is not an object with one data type", where)
	}
	switch {
	case len(members) == 0:
		return ddbValue{}, ddbValidation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes (at %s)", where)
	case len(members) > 1:
		return ddbValue{}, ddbValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes (at %s)", where)
	}
	var v ddbValue
	var inner jsontext.Value
	for t, in := range members {
		v.t, inner = t, in
	}
	bad := func(want string) error {
		return ddbValidation("One or more parameter values were invalid: the %s member of the AttributeValue of %s must be %s", v.t, where, want)
	}
	var err error
	switch v.t {
	case "S", "N", "B":
		var s string
		if jsonv2.Unmarshal(inner, &s) != nil {
			return ddbValue{}, bad("a string")
		}
		if v, err = scalarDDBValue(v.t, s, where); err != nil {
			return ddbValue{}, err
		}
	case "BOOL", "NULL":
		if jsonv2.Unmarshal(inner, &v.bl) != nil {
			return ddbValue{}, bad("true or false")
		}
		if v.t == "NULL" && !v.bl {
			return ddbValue{}, ddbValidation("One or more parameter values were invalid: Null attribute value types must have the value of true (at %s)", where)
		}
	case "SS", "NS", "BS":
		var members []string
		if jsonv2.Unmarshal(inner, &members) != nil {
			return ddbValue{}, bad("an array of strings")
		}
		if len(members) == 0 {
			return ddbValue{}, ddbValidation("One or more parameter values were invalid: An %s may not be empty (at %s)", map[string]string{"SS": "string set", "NS": "number set", "BS": "binary set"}[v.t], where)
		}
		seen := map[string]bool{}
		for _, s := range members {
			m, err := scalarDDBValue(v.t[:1], s, where)
			if err != nil {
				return ddbValue{}, err
			}
			if seen[m.canonical()] {
				return ddbValue{}, ddbValidation("One or more parameter values were invalid: Input collection of %s contains duplicates", where)
			}
			seen[m.canonical()] = true
			v.set = append(v.set, m)
		}
	case "L":
		var elems []jsontext.Value
		if jsonv2.Unmarshal(inner, &elems) != nil || elems == nil {
			return ddbValue{}, bad("an array")
		}
		v.l = make([]ddbValue, len(elems))
		for i, e := range elems {
			if v.l[i], err = parseDDBValue(e, fmt.Sprintf("%s[%d]", where, i), depth+1); err != nil {
				return ddbValue{}, err
			}
		}
	case "M":
		var elems map[string]jsontext.Value
		if jsonv2.Unmarshal(inner, &elems) != nil || elems == nil {
			return ddbValue{}, bad("an object")
		}
		v.m = make(map[string]ddbValue, len(elems))
		for k, e := range elems {
			if v.m[k], err = parseDDBValue(e, where+"."+k, depth+1); err != nil {
				return ddbValue{}, err
			}
		}
	default:
		return ddbValue{}, ddbValidation("Supplied AttributeValue of %s has the unknown data type %s (want one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)", where, v.t)
	}
	v.raw = append(jsontext.Value(nil), raw...)
	if err := v.raw.Compact(); err != nil {
		return ddbValue{}, bad("valid JSON")
	}
	return v, nil
}

var ddbNumberRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// scalarDDBValue parses an S, N or B from its string.
func scalarDDBValue(t, s, where string) (ddbValue, error) {
	v := ddbValue{t: t}
	switch t {
	case "S":
		v.s = s
	case "B":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return ddbValue{}, ddbValidation("One or more parameter values were invalid: the binary value of %s is not base64", where)
		}
		v.b = b
	case "N":
		n, problem := parseDDBNumber(s)
		if problem != "" {
			return ddbValue{}, ddbValidation("%s (at %s)", problem, where)
		}
		v.n, v.s = n, s
	}
	return v, nil
}

// parseDDBNumber parses a DynamoDB number: at most 38 significant digits,
// magnitude from 1E-130 to below 1E+126. The range is checked before the
// number is built, so that "1e-999999999" costs nothing. problem is
// DynamoDB's words for what is wrong, "" when nothing is.
func parseDDBNumber(s string) (n *big.Rat, problem string) {
	m := ddbNumberRE.FindStringSubmatch(s)
	if m == nil {
		return nil, "A value provided cannot be converted into a number"
	}
	mantissa := m[1]
	intPart, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return new(big.Rat), "" // zero
	}
	// The decimal exponent of the first significant digit.
	lead := len(intPart) - 1 - (len(intPart+frac) - len(digits))
	if m[2] != "" {
		e, err := strconv.Atoi(m[2][1:])
		if err != nil || e > 1000 || e < -1000 { // surely out of range
			if strings.HasPrefix(m[2][1:], "-") {
				return nil, "Number underflow. Attempting to store a number with magnitude smaller than supported range"
			}
			return nil, "Number overflow. Attempting to store a number with magnitude larger than supported range"
		}
		lead += e
	}
	switch {
	case ddbDigits(s) > 38:
		return nil, "Attempting to store more than 38 significant digits in a Number"
	case lead > 125:
		return nil, "Number overflow. Attempting to store a number with magnitude larger than supported range"
	case lead < -130:
		return nil, "Number underflow. Attempting to store a number with magnitude smaller than supported range"
	}
	n, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, "A value provided cannot be converted into a number"
	}
	return n, ""
}

// ddbDigits counts a number's significant digits.
func ddbDigits(s string) int {
	m := ddbNumberRE.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	return len(strings.Trim(strings.Replace(m[1], ".", "", 1), "0"))
}

// canonical is a scalar's identity: numbers by value.
func (v ddbValue) canonical() string {
	switch v.t {
	case "N":
		return v.n.RatString()
	case "B":
		return string(v.b)
	}
	return v.s
}

// equal compares two values as DynamoDB's = does.
func (v ddbValue) equal(o ddbValue) bool {
	if v.t != o.t {
		return false
	}
	switch v.t {
	case "S":
		return v.s == o.s
	case "N":
		return v.n.Cmp(o.n) == 0
	case "B":
		return bytes.Equal(v.b, o.b)
	case "BOOL", "NULL":
		return v.bl == o.bl
	case "SS", "NS", "BS":
		if len(v.set) != len(o.set) {
			return false
		}
		have := map[string]bool{}
		for _, m := range v.set {
			have[m.canonical()] = true
		}
		for _, m := range o.set {
			if !have[m.canonical()] {
				return false
			}
		}
		return true
	case "L":
		return slices.EqualFunc(v.l, o.l, ddbValue.equal)
	case "M":
		if len(v.m) != len(o.m) {
			return false
		}
		for k, a := range v.m {
			if b, ok := o.m[k]; !ok || !a.equal(b) {
				return false
			}
		}
		return true
	}
	return false
}

// compare orders two S, N or B values of one type; ok is false for any
// other pair.
func (v ddbValue) compare(o ddbValue) (c int, ok bool) {
	if v.t != o.t {
		return 0, false
	}
	switch v.t {
	case "S":
		return strings.Compare(v.s, o.s), true
	case "N":
		return v.n.Cmp(o.n), true
	case "B":
		return bytes.Compare(v.b, o.b), true
	}
	return 0, false
}

// itemSize is an item's size as DynamoDB counts it against its 400 KB
// limit: attribute names and values in bytes, numbers about one byte per
// two digits, and a few bytes of overhead per list and map element.
func itemSize(it ddbItem) int {
	n := 0
	for name, raw := range it {
		v, err := parseDDBValue(raw, name, 0)
		if err != nil {
			continue // stored items were validated when written
		}
		n += len(name) + v.size()
	}
	return n
}

func (v ddbValue) size() int {
	switch v.t {
	case "S":
		return len(v.s)
	case "B":
		return len(v.b)
	case "N":
		return (ddbDigits(v.s)+1)/2 + 1
	case "BOOL", "NULL":
		return 1
	case "SS", "NS", "BS":
		n := 0
		for _, m := range v.set {
			n += m.size()
		}
		return n
	case "L":
		n := 3
		for _, e := range v.l {
			n += 1 + e.size()
		}
		return n
	case "M":
		n := 3
		for k, e := range v.m {
			n += 1 + len(k) + e.size()
		}
		return n
	}
	return 0
}

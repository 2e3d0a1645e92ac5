package intrinsic

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// functions maps the name after "States." to its definition. Names are
// case-sensitive, as on AWS.
var functions = map[string]*function{
	"Format":         {1, -1, evalFormat},
	"StringToJson":   {1, 1, evalStringToJSON},
	"JsonToString":   {1, 1, evalJSONToString},
	"Array":          {0, -1, evalArray},
	"ArrayPartition": {2, 2, evalArrayPartition},
	"ArrayContains":  {2, 2, evalArrayContains},
	"ArrayRange":     {3, 3, evalArrayRange},
	"ArrayGetItem":   {2, 2, evalArrayGetItem},
	"ArrayLength":    {1, 1, evalArrayLength},
	"ArrayUnique":    {1, 1, evalArrayUnique},
	"Base64Encode":   {1, 1, evalBase64Encode},
	"Base64Decode":   {1, 1, evalBase64Decode},
	"Hash":           {2, 2, evalHash},
	"JsonMerge":      {3, 3, evalJSONMerge},
	"MathRandom":     {2, 3, evalMathRandom},
	"MathAdd":        {2, 2, evalMathAdd},
	"StringSplit":    {2, 2, evalStringSplit},
	"UUID":           {0, 0, evalUUID},
}

const (
	// maxRangeItems is AWS's documented limit on States.ArrayRange: "The
	// newly generated array can't contain more than 1000 items."
	maxRangeItems = 1000
	// maxInputChars is AWS's documented limit on the input of
	// States.Base64Encode, States.Base64Decode and States.Hash.
	maxInputChars = 10000
)

func (c *Call) stringArg(vals []any, i int, what string) (string, error) {
	s, ok := vals[i].(string)
	if !ok {
		return "", c.errorf("the %s (%s) must be a string, got %s", ordinal(i), what, typeName(vals[i]))
	}
	return s, nil
}

func (c *Call) arrayArg(vals []any, i int) ([]any, error) {
	a, ok := vals[i].([]any)
	if !ok {
		return nil, c.errorf("the %s must be an array, got %s", ordinal(i), typeName(vals[i]))
	}
	return a, nil
}

func (c *Call) objectArg(vals []any, i int) (map[string]any, error) {
	m, ok := vals[i].(map[string]any)
	if !ok {
		return nil, c.errorf("the %s must be a JSON object, got %s", ordinal(i), typeName(vals[i]))
	}
	return m, nil
}

// limitChars enforces the documented 10,000-character input limit, counted
// in UTF-16 code units as AWS's Java service counts them.
func (c *Call) limitChars(s string, what string) error {
	if n := utf16Len(s); n > maxInputChars {
		return c.errorf("the %s is %d characters long; the limit is %d", what, n, maxInputChars)
	}
	return nil
}

// evalFormat: States.Format(template, values...). The number of {}
// placeholders must equal the number of values: AWS documents "There must be
// as many remaining arguments ... as there are occurrences of {}", so both
// too few and too many values fail (AWS's own nine-function example, with
// three placeholders and two values, is therefore an error; the test
// reproduces it).
//
// In a template written as a string literal, escaped braces (\{, \}) are
// literal and only unescaped "{}" pairs are placeholders. A template that
// comes from a path or a nested call has no escapes: every "{}" in it is a
// placeholder (AWS documents escaping only for literals in the invocation).
func evalFormat(c *Call, _ *Env, vals []any) (any, error) {
	var segments []string
	if first := c.args[0]; first.kind == argString {
		segments = first.segments
	} else {
		s, err := c.stringArg(vals, 0, "the template")
		if err != nil {
			return nil, err
		}
		segments = strings.Split(s, "{}")
	}
	values := vals[1:]
	if placeholders := len(segments) - 1; placeholders != len(values) {
		return nil, c.errorf("the template has %s but %s given",
			plural(placeholders, "{} placeholder"), pluralWas(len(values), "value"))
	}
	var b strings.Builder
	b.WriteString(segments[0])
	for i, v := range values {
		formatValue(&b, v)
		b.WriteString(segments[i+1])
	}
	return b.String(), nil
}

func pluralWas(n int, noun string) string {
	if n == 1 {
		return "1 " + noun + " was"
	}
	return plural(n, noun) + " were"
}

// evalStringToJSON: States.StringToJson(string) parses the string as one JSON
// value. An empty or all-whitespace string yields null: execution histories
// recorded against AWS show States.StringToJson of "" and of " " returning
// null rather than failing. Anything else that is not exactly one JSON value
// (trailing text included) fails.
func evalStringToJSON(c *Call, _ *Env, vals []any) (any, error) {
	s, err := c.stringArg(vals, 0, "the JSON text")
	if err != nil {
		return nil, err
	}
	if strings.Trim(s, " \t\r\n") == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, c.errorf("the argument is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, c.errorf("the argument is not valid JSON: unexpected text after the JSON value")
	}
	return v, nil
}

// evalJSONToString: States.JsonToString(value) serialises compactly, as AWS
// does ({"Arg1":1,"Arg2":[]}; the documentation page's rendering with a
// space after the colon is not what AWS returns). The specification says the
// argument must be a path; any argument is accepted here (a nested call's
// result, or a literal) since nothing about the value depends on where it
// came from.
func evalJSONToString(c *Call, _ *Env, vals []any) (any, error) {
	s, err := compactJSON(vals[0])
	if err != nil {
		return nil, c.errorf("cannot serialise the value as JSON: %v", err)
	}
	return s, nil
}

// evalArray: States.Array(values...) returns its arguments as an array; no
// arguments give an empty array.
func evalArray(_ *Call, _ *Env, vals []any) (any, error) {
	out := make([]any, len(vals))
	copy(out, vals)
	return out, nil
}

// evalArrayPartition: States.ArrayPartition(array, size) cuts the array into
// chunks of size items, the last possibly shorter. A non-integer size is
// rounded (documented); after rounding it must be positive. An empty array
// gives no chunks.
func evalArrayPartition(c *Call, _ *Env, vals []any) (any, error) {
	arr, err := c.arrayArg(vals, 0)
	if err != nil {
		return nil, err
	}
	size, err := c.integerArg(vals, 1, "the chunk size")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, c.errorf("the chunk size must be a positive integer, got %d", size)
	}
	out := make([]any, 0, (int64(len(arr))+size-1)/size)
	for start := 0; start < len(arr); {
		end := len(arr)
		if int64(end-start) > size {
			end = start + int(size)
		}
		chunk := make([]any, end-start)
		copy(chunk, arr[start:end])
		out = append(out, chunk)
		start = end
	}
	return out, nil
}

// evalArrayContains: States.ArrayContains(array, value) reports whether any
// element is deeply equal to value (numbers by value, objects regardless of
// key order).
func evalArrayContains(c *Call, _ *Env, vals []any) (any, error) {
	arr, err := c.arrayArg(vals, 0)
	if err != nil {
		return nil, err
	}
	for _, e := range arr {
		if jsonEqual(e, vals[1]) {
			return true, nil
		}
	}
	return false, nil
}

// evalArrayRange: States.ArrayRange(first, last, step) counts from first by
// step while not past last; last is included when the steps land on it.
// Non-integers are rounded (documented); the step must not be zero and the
// result may hold at most 1000 items (documented). A step pointing away from
// last (ArrayRange(9, 1, 1)) gives an empty array rather than an error: AWS
// documents only the zero step as invalid.
func evalArrayRange(c *Call, _ *Env, vals []any) (any, error) {
	first, err := c.integerArg(vals, 0, "the first element")
	if err != nil {
		return nil, err
	}
	last, err := c.integerArg(vals, 1, "the last element")
	if err != nil {
		return nil, err
	}
	step, err := c.integerArg(vals, 2, "the step")
	if err != nil {
		return nil, err
	}
	if step == 0 {
		return nil, c.errorf("the step (third argument) must not be zero")
	}
	var n int64
	if (step > 0 && first <= last) || (step < 0 && first >= last) {
		n = (last-first)/step + 1
	}
	if n > maxRangeItems {
		return nil, c.errorf("the range would contain %d items; the limit is %d", n, maxRangeItems)
	}
	out := make([]any, n)
	for i := range out {
		out[i] = float64(first + int64(i)*step)
	}
	return out, nil
}

// evalArrayGetItem: States.ArrayGetItem(array, index) returns the element at
// a zero-based index. AWS documents no rounding for this index (unlike the
// other integer arguments), so a non-integer index fails, as does one outside
// the array.
func evalArrayGetItem(c *Call, _ *Env, vals []any) (any, error) {
	arr, err := c.arrayArg(vals, 0)
	if err != nil {
		return nil, err
	}
	f, ok := toNumber(vals[1])
	if !ok {
		return nil, c.errorf("the second argument (the index) must be a number, got %s", typeName(vals[1]))
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return nil, c.errorf("the index must be an integer, got %s", formatNumber(f))
	}
	if f < 0 || f >= float64(len(arr)) {
		return nil, c.errorf("the index %s is out of bounds for an array of length %d", formatNumber(f), len(arr))
	}
	return arr[int(f)], nil
}

// evalArrayLength: States.ArrayLength(array).
func evalArrayLength(c *Call, _ *Env, vals []any) (any, error) {
	arr, err := c.arrayArg(vals, 0)
	if err != nil {
		return nil, err
	}
	return float64(len(arr)), nil
}

// evalArrayUnique: States.ArrayUnique(array) removes duplicates (deep
// equality, as States.ArrayContains), keeping the first occurrence of each
// value in its original position.
func evalArrayUnique(c *Call, _ *Env, vals []any) (any, error) {
	arr, err := c.arrayArg(vals, 0)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(arr))
	out := make([]any, 0, len(arr))
	var b strings.Builder
	for _, e := range arr {
		b.Reset()
		canonicalKey(&b, e)
		k := b.String()
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, e)
	}
	return out, nil
}

// evalBase64Encode: States.Base64Encode(string) encodes the string's UTF-8
// bytes in standard Base64 with padding. AWS says "MIME Base64", whose
// encoder breaks lines every 76 characters; no line breaks are inserted here,
// matching every recorded AWS result (all shorter than 76 characters) and
// other emulators. The input is limited to 10,000 characters (documented).
func evalBase64Encode(c *Call, _ *Env, vals []any) (any, error) {
	s, err := c.stringArg(vals, 0, "the data to encode")
	if err != nil {
		return nil, err
	}
	if err := c.limitChars(s, "data to encode"); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// evalBase64Decode: States.Base64Decode(string) decodes "based on MIME Base64
// decoding scheme" (documented), i.e. like Java's MIME decoder: characters
// outside the Base64 alphabet (line breaks, spaces) are ignored, missing
// padding is accepted (observed on AWS by other emulators), but padding that
// is present must be complete and only at the end. The input is limited to
// 10,000 characters (documented). Decoded bytes that are not valid UTF-8 are
// not an error: each invalid run becomes U+FFFD, as Java's new String(bytes,
// UTF_8) does (Java may emit one U+FFFD per bad byte where this emits one per
// run).
func evalBase64Decode(c *Call, _ *Env, vals []any) (any, error) {
	s, err := c.stringArg(vals, 0, "the Base64 data")
	if err != nil {
		return nil, err
	}
	if err := c.limitChars(s, "Base64 data"); err != nil {
		return nil, err
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/', r == '=':
			return r
		}
		return -1
	}, s)
	enc := base64.RawStdEncoding
	if strings.Contains(clean, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(clean)
	if err != nil {
		return nil, c.errorf("the argument is not valid Base64: %v", err)
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

var hashes = map[string]func() hash.Hash{
	"MD5":     md5.New,
	"SHA-1":   sha1.New,
	"SHA-256": sha256.New,
	"SHA-384": sha512.New384,
	"SHA-512": sha512.New,
}

// evalHash: States.Hash(data, algorithm) returns the lowercase hex digest of
// the data's UTF-8 bytes. The algorithm is one of MD5, SHA-1, SHA-256,
// SHA-384, SHA-512, spelled exactly so. AWS documents the data as "an object
// string containing 10,000 characters or less": it is read here as "a
// string", so other values fail instead of being serialised in some guessed
// form (use States.JsonToString first to hash JSON).
func evalHash(c *Call, _ *Env, vals []any) (any, error) {
	data, err := c.stringArg(vals, 0, "the data to hash")
	if err != nil {
		return nil, err
	}
	if err := c.limitChars(data, "data to hash"); err != nil {
		return nil, err
	}
	alg, err := c.stringArg(vals, 1, "the algorithm")
	if err != nil {
		return nil, err
	}
	newHash, ok := hashes[alg]
	if !ok {
		return nil, c.errorf("unsupported algorithm %q: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
	}
	h := newHash()
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// evalJSONMerge: States.JsonMerge(a, b, false) merges two objects shallowly;
// b's keys win. AWS supports only shallow merging, so the third argument
// must be the boolean false; true fails (documented), as does any other
// value.
func evalJSONMerge(c *Call, _ *Env, vals []any) (any, error) {
	a, err := c.objectArg(vals, 0)
	if err != nil {
		return nil, err
	}
	b, err := c.objectArg(vals, 1)
	if err != nil {
		return nil, err
	}
	deep, ok := vals[2].(bool)
	if !ok {
		return nil, c.errorf("the third argument (deep merge) must be the boolean false, got %s", typeName(vals[2]))
	}
	if deep {
		return nil, c.errorf("deep merging is not supported: the third argument must be false")
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

// evalMathRandom: States.MathRandom(start, end[, seed]) returns an integer
// in [start, end): AWS documents the start as inclusive and the end as
// exclusive. Non-integer bounds are rounded (documented); start must be less
// than end, otherwise there is no integer to return.
//
// With a seed the result is deterministic: the same seed, start and end
// always give the same number (documented). The numbers come from a PCG
// generator seeded with the (rounded) seed, so they differ from the ones
// AWS's Java implementation returns for the same seed; only the
// determinism is reproduced. Without a seed, Env.Random is used (nil:
// math/rand/v2).
func evalMathRandom(c *Call, env *Env, vals []any) (any, error) {
	start, err := c.integerArg(vals, 0, "the start")
	if err != nil {
		return nil, err
	}
	end, err := c.integerArg(vals, 1, "the end")
	if err != nil {
		return nil, err
	}
	if start >= end {
		return nil, c.errorf("the start (%d) must be less than the end (%d), which is exclusive", start, end)
	}
	n := end - start
	var off int64
	switch {
	case len(vals) == 3:
		seed, err := c.integerArg(vals, 2, "the seed")
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0x5374617465732e4d)) // "States.M"
		off = rng.Int64N(n)
	case env.Random != nil:
		r := env.Random()
		if !(r >= 0 && r < 1) {
			return nil, c.errorf("Env.Random returned %v, outside [0,1)", r)
		}
		off = min(int64(math.Floor(r*float64(n))), n-1)
	default:
		off = rand.Int64N(n)
	}
	return float64(start + off), nil
}

// int32 range: "You must specify integer values in the range of -2147483648
// and 2147483647" (States.MathAdd, documented).
const minInt32, maxInt32 = -1 << 31, 1<<31 - 1

// evalMathAdd: States.MathAdd(a, b). Each argument is rounded to the nearest
// integer first (documented; Java's Math.round, as observed on AWS: 1.5 +
// 1.51 is 4, not 3) and must then lie in the 32-bit range (documented). The
// sum is returned exactly, even when it leaves the 32-bit range; AWS's
// behaviour on overflow is undocumented.
func evalMathAdd(c *Call, _ *Env, vals []any) (any, error) {
	var sum int64
	for i := range 2 {
		v, err := c.integerArg(vals, i, "a number to add")
		if err != nil {
			return nil, err
		}
		if v < minInt32 || v > maxInt32 {
			return nil, c.errorf("the %s (%d) is outside the range -2147483648 to 2147483647", ordinal(i), v)
		}
		sum += v
	}
	return float64(sum), nil
}

// evalStringSplit: States.StringSplit(string, delimiters) splits at every
// occurrence of any of the delimiter characters and drops empty strings, as
// Java's StringTokenizer does: execution histories recorded against AWS
// show ",,,," split on "," giving [] and " , " giving [" ", " "]. An empty
// delimiter string leaves the string whole; an empty string gives [].
func evalStringSplit(c *Call, _ *Env, vals []any) (any, error) {
	s, err := c.stringArg(vals, 0, "the string to split")
	if err != nil {
		return nil, err
	}
	delims, err := c.stringArg(vals, 1, "the delimiting characters")
	if err != nil {
		return nil, err
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f
	}
	return out, nil
}

// evalUUID: States.UUID() returns a random (version 4) UUID.
func evalUUID(_ *Call, env *Env, _ []any) (any, error) {
	if env.UUID != nil {
		return env.UUID(), nil
	}
	return uuid.NewString(), nil
}

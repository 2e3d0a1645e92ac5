package intrinsic

import (
	"fmt"
	"strconv"
	"strings"
)

// prefix starts every intrinsic invocation. AWS recognises an intrinsic only
// when the value of a ".$" field starts with it, with nothing (not even
// whitespace) in front.
const prefix = "States."

// maxDepth bounds how deeply calls may nest. AWS documents "You can nest up to
// 10 intrinsic functions within a field"; its own example has nine calls in
// total but only five levels. Whether AWS counts calls or levels is not
// documented, so only the depth is enforced: a definition deeper than ten
// levels necessarily has more than ten calls and is rejected by AWS either
// way. The bound also keeps the recursive parser's stack small on hostile
// input.
const maxDepth = 10

// Call is a parsed intrinsic function invocation.
type Call struct {
	name string // "States.Format"
	fn   *function
	args []arg
}

type argKind uint8

const (
	argString argKind = iota
	argNumber
	argBool
	argNull
	argPath
	argCall
)

// arg is one argument of a Call, as written in the expression.
type arg struct {
	kind argKind
	str  string  // argString: the unescaped value; argPath: the path text
	num  float64 // argNumber
	b    bool    // argBool
	call *Call   // argCall
	// segments is a string literal split at its unescaped "{}" pairs, so
	// States.Format can tell placeholders from escaped braces: '\{}' is a
	// literal "{}", '{}' is a placeholder. strings.Join(segments, "{}")
	// equals str.
	segments []string
}

// IsCall reports whether s looks like an intrinsic invocation: AWS requires
// the value to start with "States.", and nothing is trimmed first.
func IsCall(s string) bool { return strings.HasPrefix(s, prefix) }

// Parse parses an expression such as "States.Format('Hello, {}', $.name)".
// Errors name the problem and the byte offset where it was found.
//
// Argument counts and types are not checked here but by Eval, because most
// of them depend on the values the paths resolve to; Parse rejects only what
// can never be evaluated: unknown function names, malformed literals,
// unbalanced parentheses or brackets, unterminated strings, invalid escapes
// and trailing characters.
func Parse(expr string) (*Call, error) {
	p := &parser{src: expr}
	c, err := p.call(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, p.errorf(p.pos, "unexpected %s after the closing parenthesis of %s", p.describe(p.pos), c.name)
	}
	return c, nil
}

// Paths returns every JSONPath argument in the call, nested calls included,
// in the order they appear (duplicates included), so the engine can validate
// them.
func (c *Call) Paths() []string {
	var out []string
	c.collectPaths(&out)
	return out
}

func (c *Call) collectPaths(out *[]string) {
	for _, a := range c.args {
		switch a.kind {
		case argPath:
			*out = append(*out, a.str)
		case argCall:
			a.call.collectPaths(out)
		}
	}
}

type parser struct {
	src string
	pos int
}

func (p *parser) errorf(pos int, format string, a ...any) error {
	return fmt.Errorf("intrinsic function %q: at offset %d: %s", p.src, pos, fmt.Sprintf(format, a...))
}

// describe names the character at pos for an error message.
func (p *parser) describe(pos int) string {
	if pos >= len(p.src) {
		return "end of expression"
	}
	r := []rune(p.src[pos:min(len(p.src), pos+4)])[0]
	return strconv.QuoteRune(r)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// atDelimiter reports whether a token may end at pos: whitespace, a comma, a
// closing parenthesis or the end of the expression.
func (p *parser) atDelimiter() bool {
	if p.pos >= len(p.src) {
		return true
	}
	c := p.src[p.pos]
	return isSpace(c) || c == ',' || c == ')'
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// call parses "States.Name(arg, ...)" at p.pos; depth is the number of calls
// enclosing it.
func (p *parser) call(depth int) (*Call, error) {
	start := p.pos
	if !strings.HasPrefix(p.src[p.pos:], prefix) {
		return nil, p.errorf(p.pos, "expected an intrinsic function call starting with %q", prefix)
	}
	if depth >= maxDepth {
		return nil, p.errorf(p.pos, "intrinsic functions are nested more than %d levels deep", maxDepth)
	}
	p.pos += len(prefix)
	nameStart := p.pos
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
		p.pos++
	}
	short := p.src[nameStart:p.pos]
	if short == "" {
		return nil, p.errorf(nameStart, "expected a function name after %q", prefix)
	}
	fn, ok := functions[short]
	if !ok {
		return nil, p.errorf(start, "unknown intrinsic function %s%s", prefix, short)
	}
	c := &Call{name: prefix + short, fn: fn}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, p.errorf(p.pos, "expected '(' after %s, found %s", c.name, p.describe(p.pos))
	}
	open := p.pos
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return c, nil
	}
	for {
		a, err := p.arg(depth, open, c.name)
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.errorf(open, "unbalanced parentheses: the '(' of %s is never closed", c.name)
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
			p.skipSpace()
		case ')':
			p.pos++
			return c, nil
		default:
			return nil, p.errorf(p.pos, "expected ',' or ')' in the arguments of %s, found %s", c.name, p.describe(p.pos))
		}
	}
}

// arg parses one argument at p.pos (whitespace already skipped).
func (p *parser) arg(depth, open int, name string) (arg, error) {
	if p.pos >= len(p.src) {
		return arg{}, p.errorf(open, "unbalanced parentheses: the '(' of %s is never closed", name)
	}
	switch c := p.src[p.pos]; {
	case c == '\'':
		return p.stringLiteral()
	case c == '$':
		return p.path()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == ',' || c == ')':
		return arg{}, p.errorf(p.pos, "missing argument in the arguments of %s", name)
	case strings.HasPrefix(p.src[p.pos:], prefix):
		inner, err := p.call(depth + 1)
		if err != nil {
			return arg{}, err
		}
		return arg{kind: argCall, call: inner}, nil
	case isIdentByte(c):
		start := p.pos
		for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
			p.pos++
		}
		word := p.src[start:p.pos]
		if !p.atDelimiter() {
			return arg{}, p.errorf(p.pos, "unexpected %s after %q", p.describe(p.pos), word)
		}
		switch word {
		case "true":
			return arg{kind: argBool, b: true}, nil
		case "false":
			return arg{kind: argBool}, nil
		case "null":
			return arg{kind: argNull}, nil
		}
		return arg{}, p.errorf(start, "unexpected %q: an argument is a 'string', a number, true, false, null, a $ path or a States. call", word)
	default:
		return arg{}, p.errorf(p.pos, "unexpected %s: an argument is a 'string', a number, true, false, null, a $ path or a States. call", p.describe(p.pos))
	}
}

// stringLiteral parses a single-quoted string. The reserved characters ', {,
// } and \ are escaped with a backslash; AWS documents that "an open escape
// backslash" (one not followed by a reserved character, or at the end) is an
// error, which is reported here rather than at evaluation because it can
// never succeed. Any other character, control characters included, stands
// for itself.
func (p *parser) stringLiteral() (arg, error) {
	start := p.pos
	p.pos++ // opening quote
	var cur strings.Builder
	var segments []string
	for {
		if p.pos >= len(p.src) {
			return arg{}, p.errorf(start, "unterminated string literal")
		}
		switch c := p.src[p.pos]; c {
		case '\'':
			p.pos++
			segments = append(segments, cur.String())
			if !p.atDelimiter() {
				return arg{}, p.errorf(p.pos, "unexpected %s after a string literal", p.describe(p.pos))
			}
			return arg{kind: argString, str: strings.Join(segments, "{}"), segments: segments}, nil
		case '\\':
			if p.pos+1 >= len(p.src) {
				return arg{}, p.errorf(p.pos, "unterminated string literal (it ends in an open escape backslash)")
			}
			switch n := p.src[p.pos+1]; n {
			case '\'', '{', '}', '\\':
				cur.WriteByte(n)
				p.pos += 2
			default:
				return arg{}, p.errorf(p.pos, `invalid escape \%s in a string literal: only \', \{, \} and \\ are allowed`, string([]rune(p.src[p.pos+1 : min(len(p.src), p.pos+5)])[:1]))
			}
		case '{':
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == '}' {
				segments = append(segments, cur.String())
				cur.Reset()
				p.pos += 2
				continue
			}
			cur.WriteByte(c)
			p.pos++
		default:
			cur.WriteByte(c)
			p.pos++
		}
	}
}

// number parses an integer or decimal literal, negative allowed, with an
// optional exponent (AWS's lexer, as reproduced by LocalStack, accepts JSON
// numbers). Leading '+', leading zeros and a bare '.' are rejected.
func (p *parser) number() (arg, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.src[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	if digits() == 0 {
		return arg{}, p.errorf(start, "invalid number: expected a digit after '-'")
	}
	if p.src[intStart] == '0' && p.pos-intStart > 1 {
		return arg{}, p.errorf(start, "invalid number %q: leading zeros are not allowed", p.src[start:p.pos])
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return arg{}, p.errorf(start, "invalid number %q: expected a digit after '.'", p.src[start:p.pos])
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return arg{}, p.errorf(start, "invalid number %q: expected a digit in the exponent", p.src[start:p.pos])
		}
	}
	if !p.atDelimiter() {
		return arg{}, p.errorf(p.pos, "unexpected %s after the number %q", p.describe(p.pos), p.src[start:p.pos])
	}
	text := p.src[start:p.pos]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return arg{}, p.errorf(start, "number %s is out of range", text)
	}
	if f == 0 {
		f = 0 // -0 is 0, as in AWS's JSON parser (Jackson reads -0 as the integer 0)
	}
	return arg{kind: argNumber, num: f}, nil
}

// path scans a JSONPath argument ("$...", "$$..." or a "$name" variable).
// The path text is passed to Env.Path unchanged; the engine decides what it
// means. It ends at the first comma, closing parenthesis or whitespace that
// is outside brackets, parentheses and quotes, so "$.a['b, c)']",
// "$.a[?(@.b == 1)]" and "$.a.length()" are single paths.
func (p *parser) path() (arg, error) {
	start := p.pos
	brackets, parens := 0, 0
scan:
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '\'' || c == '"':
			q := p.pos
			p.pos++
			for {
				if p.pos >= len(p.src) {
					return arg{}, p.errorf(q, "unterminated quoted name in the path %q", p.src[start:])
				}
				if p.src[p.pos] == '\\' {
					p.pos += 2
					continue
				}
				if p.src[p.pos] == c {
					break
				}
				p.pos++
			}
		case c == '[':
			brackets++
		case c == ']':
			if brackets == 0 {
				return arg{}, p.errorf(p.pos, "unbalanced ']' in the path %q", p.src[start:p.pos+1])
			}
			brackets--
		case c == '(':
			parens++
		case c == ')':
			if parens > 0 {
				parens--
			} else if brackets == 0 {
				break scan
			}
		case c == ',' || isSpace(c):
			if brackets == 0 && parens == 0 {
				break scan
			}
		}
		p.pos++
	}
	if brackets > 0 || parens > 0 {
		return arg{}, p.errorf(start, "unbalanced brackets or parentheses in the path %q", p.src[start:min(p.pos, len(p.src))])
	}
	return arg{kind: argPath, str: p.src[start:p.pos]}, nil
}

package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A schema's pattern is compiled by two engines: Go's regexp in toll and
// the MCP layer, and ECMA-262 with the "u" flag in JavaScript hosts (JSON
// Schema 2020-12 says patterns are ECMA-262 regular expressions, and
// validators such as Ajv compile them with "u"). Specs are written for
// neither in particular, and the two disagree: with "u", JavaScript refuses
// identity escapes of characters that are not syntax ("\:", "\-" outside a
// class, "\_"), a lone "{" or "]", Go's "\x{60}" and octal escapes, POSIX
// classes, inline flags, and a class escape at the end of a range
// ("[\w-.]"), all of which Go reads as literals or otherwise.
//
// portablePattern rewrites a pattern Go compiles into one that both compile
// and that matches the same strings (ASCII semantics of \d, \w and \b are the
// same in both; JavaScript's "." also stops at \r, U+2028 and U+2029, and
// its \s takes a few more spaces): each construct is copied, or written in
// the form both read, and a construct with no common form (inline flags,
// \C, a script name such as \p{Han}, which JavaScript spells
// \p{Script=Han} and Go does not read) makes the pattern unusable, and the
// caller drops it.

// errGoRegexp says a pattern does not compile in Go (an ECMA-262
// lookaround, say).
var errGoRegexp = errors.New("Go's regexp cannot compile it") //lint:ignore ST1005 Go is a name

// portablePattern returns p as Go and ECMA-262 with "u" both compile it,
// or why it cannot be.
func portablePattern(p string) (string, error) {
	if _, err := regexp.Compile(p); err != nil {
		return "", errGoRegexp
	}
	w := patternWriter{src: p}
	if err := w.run(); err != nil {
		return "", err
	}
	out := w.out.String()
	if out != p {
		if _, err := regexp.Compile(out); err != nil {
			return "", fmt.Errorf("no form of it both Go and JavaScript compile")
		}
	}
	return out, nil
}

// patternWriter copies a pattern construct by construct.
type patternWriter struct {
	src string
	i   int
	out strings.Builder
}

// syntaxChars are the characters ECMA-262 lets "u" patterns escape as
// themselves outside a class (SyntaxCharacter and "/").
const syntaxChars = `^$\.*+?()[]{}|/`

func (w *patternWriter) run() error {
	for w.i < len(w.src) {
		c := w.src[w.i]
		switch {
		case c == '\\':
			if err := w.escape(false); err != nil {
				return err
			}
		case c == '[':
			if err := w.class(); err != nil {
				return err
			}
		case c == '(':
			if err := w.group(); err != nil {
				return err
			}
		case c == '{':
			if n := quantifierLen(w.src[w.i:]); n > 0 {
				w.out.WriteString(w.src[w.i : w.i+n])
				w.i += n
			} else {
				w.out.WriteString(`\{`)
				w.i++
			}
		case c == '^' || c == '$':
			w.i++
			w.assertion(string(c))
		case c == '}' || c == ']':
			w.out.WriteByte('\\')
			w.out.WriteByte(c)
			w.i++
		default:
			r, size := utf8.DecodeRuneInString(w.src[w.i:])
			w.out.WriteRune(r)
			w.i += size
		}
	}
	return nil
}

// quantifierLen is the length of the {n}, {n,} or {n,m} at the start of
// s, or 0 when s does not start with one (Go then reads "{" as a literal).
func quantifierLen(s string) int {
	end := strings.IndexByte(s, '}')
	if !strings.HasPrefix(s, "{") || end < 0 {
		return 0
	}
	lo, hi, comma := strings.Cut(s[1:end], ",")
	if !digits(lo) || (comma && hi != "" && !digits(hi)) {
		return 0
	}
	return end + 1
}

func digits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// group copies an opening parenthesis: a plain or non-capturing group, or
// a named one; inline flags have no JavaScript form.
func (w *patternWriter) group() error {
	rest := w.src[w.i:]
	switch {
	case strings.HasPrefix(rest, "(?:"):
		w.out.WriteString("(?:")
		w.i += 3
	case strings.HasPrefix(rest, "(?P<"), strings.HasPrefix(rest, "(?<"):
		// A named group is a group: names are spelled differently (a
		// JavaScript name is an identifier), and a schema never reads them.
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return fmt.Errorf("unterminated group name")
		}
		w.out.WriteByte('(')
		w.i += end + 1
	case strings.HasPrefix(rest, "(?"):
		return fmt.Errorf("inline flags (?…) have no JavaScript form")
	default:
		w.out.WriteByte('(')
		w.i++
	}
	return nil
}

// escape copies the escape at w.i; inClass says it is inside a class. It
// reports whether the escape is a class (\d, \w, \s, \p{…}), which cannot
// end a range in JavaScript.
func (w *patternWriter) escape(inClass bool) error {
	_, err := w.escapeKind(inClass)
	return err
}

func (w *patternWriter) escapeKind(inClass bool) (isClass bool, err error) {
	if w.i+1 >= len(w.src) {
		return false, fmt.Errorf("it ends with a backslash")
	}
	c := w.src[w.i+1]
	switch {
	case strings.IndexByte("dDwWsS", c) >= 0:
		w.copyN(2)
		return true, nil
	case !inClass && (c == 'b' || c == 'B'):
		w.i += 2
		w.assertion(`\` + string(c))
	case strings.IndexByte("fnrtv", c) >= 0:
		w.copyN(2)
	case c == 'a':
		w.out.WriteString(`\x07`)
		w.i += 2
	case c == 'A':
		w.i += 2
		w.assertion("^")
	case c == 'z':
		w.i += 2
		w.assertion("$")
	case c == 'x':
		return false, w.hexEscape(inClass)
	case c >= '0' && c <= '7':
		return false, w.octalEscape(inClass)
	case c == 'p' || c == 'P':
		return true, w.property()
	case c == 'Q':
		return false, w.quoted(inClass)
	case c == '-' && inClass:
		w.copyN(2)
	case strings.IndexByte(syntaxChars, c) >= 0:
		w.copyN(2)
	case c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'):
		return false, fmt.Errorf("the escape \\%c has no JavaScript form", c)
	default:
		// An identity escape of a character that is not syntax: the
		// character itself, in both engines.
		w.i++
		r, size := utf8.DecodeRuneInString(w.src[w.i:])
		w.literal(r, inClass)
		w.i += size
	}
	return false, nil
}

// assertion writes an assertion (^, $, \b, \B), in a group when a
// quantifier follows it: Go repeats an assertion, JavaScript repeats only
// a group holding one.
func (w *patternWriter) assertion(a string) {
	rest := w.src[w.i:]
	if rest != "" && (strings.IndexByte("*+?", rest[0]) >= 0 || quantifierLen(rest) > 0) {
		w.out.WriteString("(?:" + a + ")")
		return
	}
	w.out.WriteString(a)
}

func (w *patternWriter) copyN(n int) {
	w.out.WriteString(w.src[w.i : w.i+n])
	w.i += n
}

// literal writes the character r as both engines read it as itself.
func (w *patternWriter) literal(r rune, inClass bool) {
	special := syntaxChars
	if inClass {
		special = `\]^-[`
	}
	switch {
	case r < 0x20 || r == 0x7f:
		fmt.Fprintf(&w.out, `\x%02X`, r)
	case r < utf8.RuneSelf && strings.ContainsRune(special, r):
		w.out.WriteByte('\\')
		w.out.WriteRune(r)
	default:
		w.out.WriteRune(r)
	}
}

// hexEscape rewrites \xHH and \x{H…} as a character both engines read.
func (w *patternWriter) hexEscape(inClass bool) error {
	rest := w.src[w.i+2:]
	var hex string
	var n int
	if strings.HasPrefix(rest, "{") {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return fmt.Errorf("unterminated \\x{")
		}
		hex, n = rest[1:end], end+1
	} else if len(rest) >= 2 {
		hex, n = rest[:2], 2
	} else {
		return fmt.Errorf("short \\x escape")
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || v > utf8.MaxRune {
		return fmt.Errorf("bad \\x escape")
	}
	w.i += 2 + n
	w.literal(rune(v), inClass)
	return nil
}

// octalEscape rewrites Go's octal escapes (\0, \12, \123: up to three
// digits) as a character both engines read; JavaScript reads \12 as a
// backreference.
func (w *patternWriter) octalEscape(inClass bool) error {
	j := w.i + 1
	for j < len(w.src) && j < w.i+4 && w.src[j] >= '0' && w.src[j] <= '7' {
		j++
	}
	v, err := strconv.ParseUint(w.src[w.i+1:j], 8, 32)
	if err != nil {
		return fmt.Errorf("bad octal escape")
	}
	w.i = j
	w.literal(rune(v), inClass)
	return nil
}

// property copies \pL, \p{L}, \P{Lu}: general categories both engines
// read; a script name has no common spelling.
func (w *patternWriter) property() error {
	kind := w.src[w.i+1]
	rest := w.src[w.i+2:]
	var name string
	var n int
	if strings.HasPrefix(rest, "{") {
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return fmt.Errorf("unterminated \\p{")
		}
		name, n = rest[1:end], end+1
	} else if rest != "" {
		name, n = rest[:1], 1
	}
	name = strings.TrimPrefix(name, "^")
	if !generalCategories[name] {
		return fmt.Errorf("the class \\%c{%s} is spelled differently in Go and JavaScript", kind, name)
	}
	if strings.HasPrefix(rest, "{^") {
		kind ^= 'p' ^ 'P' // \p{^L} is \P{L}
	}
	fmt.Fprintf(&w.out, `\%c{%s}`, kind, name)
	w.i += 2 + n
	return nil
}

// generalCategories are the Unicode general categories (and their groups)
// both engines name the same.
var generalCategories = func() map[string]bool {
	m := make(map[string]bool)
	for _, c := range strings.Fields("L Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co") {
		m[c] = true
	}
	return m
}()

// quoted rewrites Go's \Q…\E as its characters, each as itself.
func (w *patternWriter) quoted(inClass bool) error {
	rest := w.src[w.i+2:]
	text, _, found := strings.Cut(rest, `\E`)
	for _, r := range text {
		w.literal(r, inClass)
	}
	w.i += 2 + len(text)
	if found {
		w.i += 2
	}
	return nil
}

// posixClass matches a POSIX class at the start of a string, as Go reads
// one inside a class.
var posixClass = regexp.MustCompile(`^\[:\^?[a-z]+:\]`)

// posixClasses are the ASCII classes of Go's [[:name:]].
var posixClasses = map[string]string{
	"alnum": `0-9A-Za-z`, "alpha": `A-Za-z`, "ascii": `\x00-\x7F`, "blank": `\t `,
	"cntrl": `\x00-\x1F\x7F`, "digit": `0-9`, "graph": `!-~`, "lower": `a-z`,
	"print": ` -~`, "punct": `!-\/:-@\[-` + "`" + `{-~`, "space": `\t\n\v\f\r `,
	"upper": `A-Z`, "word": `0-9A-Za-z_`, "xdigit": `0-9A-Fa-f`,
}

// class copies a character class. A '-' is a range only between two
// characters; first or last it is itself, and anywhere else (next to a
// class escape) it is written \-, which both engines read as '-'.
func (w *patternWriter) class() error {
	w.out.WriteByte('[')
	w.i++
	if strings.HasPrefix(w.src[w.i:], "^") {
		w.out.WriteByte('^')
		w.i++
	}
	first := true
	prevChar := false // the last item written is one character (a range may start there)
	for w.i < len(w.src) {
		c := w.src[w.i]
		switch {
		case c == ']' && !first:
			w.out.WriteByte(']')
			w.i++
			return nil
		case posixClass.MatchString(w.src[w.i:]):
			end := strings.Index(w.src[w.i+2:], ":]") + 2
			name := w.src[w.i+2 : w.i+end]
			neg := strings.HasPrefix(name, "^")
			expansion, ok := posixClasses[strings.TrimPrefix(name, "^")]
			if !ok || neg {
				return fmt.Errorf("the class [:%s:] has no JavaScript form", name)
			}
			w.out.WriteString(expansion)
			w.i += end + 2
			prevChar = false
		case c == '\\':
			isClass, err := w.escapeKind(true)
			if err != nil {
				return err
			}
			prevChar = !isClass
		case c == '-':
			w.i++
			next := w.i < len(w.src) && w.src[w.i] != ']' && !w.classEscapeNext()
			if prevChar && next {
				w.out.WriteByte('-')
				if err := w.classAtom(); err != nil {
					return err
				}
				prevChar = false
				continue
			}
			if first || w.i < len(w.src) && w.src[w.i] == ']' {
				w.out.WriteByte('-') // first or last: a '-' in both engines
			} else {
				w.out.WriteString(`\-`)
			}
			prevChar = true
		default:
			r, size := utf8.DecodeRuneInString(w.src[w.i:])
			w.literal(r, true)
			w.i += size
			prevChar = true
		}
		first = false
	}
	return fmt.Errorf("unterminated class")
}

// classEscapeNext reports whether a class escape (\d, \w, \s, \p…) or a
// POSIX class starts at w.i.
func (w *patternWriter) classEscapeNext() bool {
	rest := w.src[w.i:]
	return posixClass.MatchString(rest) ||
		len(rest) >= 2 && rest[0] == '\\' && strings.IndexByte("dDwWsSpP", rest[1]) >= 0
}

// classAtom copies the one character that ends a range.
func (w *patternWriter) classAtom() error {
	if w.src[w.i] == '\\' {
		isClass, err := w.escapeKind(true)
		if err == nil && isClass {
			err = fmt.Errorf("a class cannot end a range")
		}
		return err
	}
	r, size := utf8.DecodeRuneInString(w.src[w.i:])
	w.literal(r, true)
	w.i += size
	return nil
}

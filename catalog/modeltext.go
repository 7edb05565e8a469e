package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// What a model reads of a tool is mostly text the spec's author wrote. toll
// keeps two promises about it:
//
//   - A tool's description ends with toll's own price line (Price.Line, on a
//     line of its own after a blank line), and no other line of it is a price
//     line: every line of spec text that states a price the way toll's line
//     does (isPriceLine) is removed, in descriptions and in input schemas, so
//     spec text can neither forge toll's line nor contradict it on a line of
//     its own. ToolDescription writes the description and keeps the promise
//     for any Operation, also one not made by this package.
//   - Text that reads like instructions to the model rather than
//     documentation for a reader (prompt injection: "ignore previous
//     instructions", role markers such as "<|im_start|>"), or that states a
//     price or an amount inside a sentence, is kept, since it may be honest,
//     and reported as a warning on its operation (flagText), which
//     `toll catalog check` shows.
//
// Both look at text through foldText, which undoes the disguises the eye
// does not see.

// foldText returns s in the form toll matches text in, never shows: the
// compatibility forms of NFKC (fullwidth "Ｐｒｉｃｅ", mathematical "𝐏𝐫𝐢𝐜𝐞",
// ligatures, the colon "："), combining marks removed ("P̲r̲i̲c̲e̲"), letters of
// other scripts that pass for Latin ones replaced by them (lookalikes), and
// lower case. ASCII text is only lowered.
func foldText(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		if l, ok := lookalikes[r]; ok {
			return l
		}
		return unicode.ToLower(r)
	}, norm.NFKC.String(s))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lookalikes maps letters of other scripts that look like Latin letters
// (Cyrillic, Greek, Armenian, the small capitals and a few IPA letters) to the
// lower-case Latin letter they pass for, and the characters that look like a
// colon or an equals sign and that NFKC leaves alone to ':' and '='. It is a
// short list of the usual disguises, not Unicode's full table of
// confusables (https://www.unicode.org/reports/tr39/).
var lookalikes = map[rune]rune{
	// Cyrillic.
	'а': 'a', 'А': 'a', 'В': 'b', 'с': 'c', 'С': 'c', 'ԁ': 'd', 'Ԁ': 'd', 'е': 'e', 'Е': 'e', 'ё': 'e', 'Ё': 'e',
	'һ': 'h', 'Һ': 'h', 'Н': 'h', 'і': 'i', 'І': 'i', 'ї': 'i', 'Ї': 'i', 'ј': 'j', 'Ј': 'j', 'к': 'k', 'К': 'k',
	'ӏ': 'l', 'Ӏ': 'l', 'М': 'm', 'о': 'o', 'О': 'o', 'р': 'p', 'Р': 'p', 'ԛ': 'q', 'Ԛ': 'q', 'ѕ': 's', 'Ѕ': 's',
	'Т': 't', 'ԝ': 'w', 'Ԝ': 'w', 'х': 'x', 'Х': 'x', 'у': 'y', 'У': 'y', 'ү': 'y', 'Ү': 'y',
	// Greek.
	'α': 'a', 'Α': 'a', 'Β': 'b', 'ϲ': 'c', 'Ϲ': 'c', 'ε': 'e', 'Ε': 'e', 'Η': 'h', 'ι': 'i', 'Ι': 'i', 'ϳ': 'j',
	'κ': 'k', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'ν': 'v', 'ο': 'o', 'Ο': 'o', 'ρ': 'p', 'Ρ': 'p', 'τ': 't', 'Τ': 't',
	'υ': 'u', 'Υ': 'y', 'χ': 'x', 'Χ': 'x', 'Ζ': 'z',
	// Armenian.
	'հ': 'h', 'ո': 'n', 'օ': 'o', 'ս': 'u', 'ց': 'g',
	// Small capitals and IPA letters.
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ɢ': 'g', 'ɡ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ı': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v',
	'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ɑ': 'a',
	// Colons and equals signs.
	'∶': ':', 'ː': ':', '˸': ':', '꞉': ':', '։': ':', '׃': ':', '᛬': ':', '⁚': ':', '꞊': '=', '᐀': '=',
}

// priceWord reports whether w (folded) is a word a price statement starts
// with.
func priceWord(w string) bool {
	switch w {
	case "price", "prices", "priced", "pricing", "cost", "costs", "fee", "fees":
		return true
	}
	return false
}

// priceReach is how far after a price word a price statement's colon may
// come: "Price (per call, in USDC): …".
const priceReach = 32

// isPriceLine reports whether a line of text states a price the way toll's
// own price line does. After foldText and whatever comes before its first
// letter (Markdown marks, list numbers, symbols), the line starts with a
// price word (price, prices, priced, pricing, cost, costs, fee, fees; letters
// written apart, "P r i c e", count as one word), and a colon or an equals
// sign follows within 32 characters, in the same sentence. "Price: 0 USDC",
// "**Cost (per call):** free", "Ｐｒｉｃｅ： free" and "Рrice = 0" (Cyrillic
// Р) are price lines; "Priceless advice." and "The price: is right" are
// not.
func isPriceLine(line string) bool {
	if isASCII(line) { // the common case, mostly decided without folding
		i := strings.IndexFunc(line, unicode.IsLetter)
		if i < 0 {
			return false
		}
		if c := line[i] | 0x20; c != 'p' && c != 'c' && c != 'f' {
			return false
		}
	}
	return priceStatement(foldText(line))
}

// priceStatement reports whether folded text t starts, after anything that
// is not a letter, with a price word followed by ':' or '=' within
// priceReach characters of the same sentence.
func priceStatement(t string) bool {
	t = strings.TrimLeftFunc(t, func(r rune) bool { return !unicode.IsLetter(r) })
	word, rest := leadWord(t)
	if !priceWord(word) {
		return false
	}
	n := 0
	for i, r := range rest {
		switch {
		case r == ':' || r == '=':
			return true
		case r == '\n' || n >= priceReach:
			return false
		case (r == '.' || r == '!' || r == '?') && sentenceEnds(rest[i+1:]):
			return false
		}
		n++
	}
	return false
}

// sentenceEnds reports whether a full stop followed by rest ends a sentence:
// rest is empty or starts with a blank ("0.5" is a number, not an end).
func sentenceEnds(rest string) bool {
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n'
}

// leadWord splits t into its first word and the rest. Single letters written
// apart by one blank or mark each ("p r i c e", "p.r.i.c.e") are one word.
func leadWord(t string) (word, rest string) {
	end := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		return t, ""
	}
	if utf8.RuneCountInString(t[:end]) != 1 {
		return t[:end], t[end:]
	}
	var b strings.Builder
	b.WriteString(t[:end])
	for {
		sep, n := utf8.DecodeRuneInString(t[end:])
		if !strings.ContainsRune(" .-_*·", sep) {
			break
		}
		l, m := utf8.DecodeRuneInString(t[end+n:])
		if !unicode.IsLetter(l) {
			break
		}
		if next, _ := utf8.DecodeRuneInString(t[end+n+m:]); unicode.IsLetter(next) {
			break // a word of its own follows: "a price"
		}
		b.WriteRune(l)
		end += n + m
	}
	return b.String(), t[end:]
}

// stripPriceLines removes the lines of s that state a price (isPriceLine),
// because the price a model sees must be the one toll advertises, not text
// the spec's author wrote. It returns the lines it removed.
func stripPriceLines(s string) (string, []string) {
	var removed []string
	for line := range strings.Lines(s) {
		if isPriceLine(line) {
			removed = append(removed, strings.TrimRight(line, "\n"))
		}
	}
	if removed == nil {
		return s, nil
	}
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !isPriceLine(line) {
			b.WriteString(line)
		}
	}
	return sanitizeText(b.String()), removed
}

// removedNote is the warning for price lines removed from a text.
func removedNote(where string, removed []string) string {
	return fmt.Sprintf("removed %d line(s) stating a price from %s: the price shown is the one toll advertises (first: %q)", len(removed), where, clip(removed[0]))
}

// ToolDescription is the description of the operation's tool: its
// description (or else its title, or else its method and path) with every
// price line removed, then a blank line and the price line (Price.Line),
// which is the only line of it that states a price, and the last.
func (o *Operation) ToolDescription() string {
	var body string
	for _, s := range []string{o.Description, o.Title, o.Method + " " + o.Path} {
		if body, _ = stripPriceLines(sanitizeText(s)); body != "" {
			break
		}
	}
	if body == "" {
		body = "An HTTP operation."
	}
	return body + "\n\n" + o.Price.Line()
}

// A textPattern is a kind of text flagText reports.
type textPattern struct {
	label string
	// anchors are strings of which the folded text holds one whenever re
	// can match: re runs only then.
	anchors []string
	re      *regexp.Regexp
}

// textPatterns are what flagText looks for in folded text, each with the
// label its warning gives. Ordinary API documentation says "you must
// authenticate", "ignore the cache" or "call GET /token first", so each
// pattern asks for a phrasing aimed at a model: instructions that would
// replace the ones it was given, words a chat template uses to mark roles,
// directives to call tools (toll's own by name) or to keep something from
// the user, and statements of a price or an amount, which toll's own line
// is the only one to make.
var textPatterns = []textPattern{
	{"instructions to ignore", []string{"ignore", "forget", "disregard", "override", "bypass"},
		regexp.MustCompile(`\b(?:ignore|forget|disregard|override|bypass)\s+(?:(?:all|any|of|the|your|these|those|my)\s+)*(?:previous|prior|above|earlier|preceding|former|original|system|other)\s+(?:instructions?|prompts?|messages?|rules?|guidelines|directions?|context)\b|\b(?:ignore|disregard|forget)\s+(?:all|everything)\b`)},
	{"disregard", []string{"disregard"}, regexp.MustCompile(`\bdisregard\b`)},
	{"you must", []string{"you must"},
		regexp.MustCompile(`\byou must\s+(?:(?:always|now|first|immediately|also)\s+)?(?:ignore|forget|disregard|obey|comply|always|never|respond|reply|answer|say|not\s+(?:tell|mention|reveal|inform|show)|tell\s+the\s+user|(?:call|use|invoke|run)\s+(?:this|the|that|another)\s+(?:tool|function))\b`)},
	{"system prompt", []string{"system"}, regexp.MustCompile(`\bsystem\s+(?:prompt|message|instructions?)\b`)},
	{"role marker", []string{"<|", "[inst", "[/inst", "<<sys", "system", "assistant", "<tool_", "</tool_", "<function", "</function", "<instruction", "</instruction"},
		regexp.MustCompile(`<\|[a-z_]{2,32}\|>|\[/?inst\]|<</?sys>>|(?m:^\s*#{1,6}\s*(?:system|assistant)\b|^\s*(?:system|assistant)\s*:)|</?(?:system|assistant|instructions?|tool_call|tool_use|function_calls?)\s*>`)},
	{"tool-calling directive", []string{"toll_", "tool", "function"}, // toll's own tools by name, or any tool
		regexp.MustCompile(`\b(?:` + strings.Join(BuiltinTools(), "|") + `)\b|\b(?:call|invoke|use|run)\s+(?:this|that|another|the\s+(?:next|other))\s+(?:tool|function)\b|\b(?:tools/call|tool_call|function_call)\b`)},
	{"keeping it from the user", []string{"user"},
		regexp.MustCompile(`\b(?:do\s+not|don't|never)\s+(?:tell|inform|show|mention|reveal|disclose)\s+(?:(?:this|it|anything)\s+)?(?:to\s+)?the\s+user\b|\bwithout\s+(?:telling|asking|informing|notifying)\s+the\s+user\b`)},
	{"new role", []string{"you are now", "new instruction", "developer mode", "jailbreak"},
		regexp.MustCompile(`\byou are now\b|\bnew instructions?\b|\bdeveloper mode\b|\bjailbreak`)},
	{"amount", []string{"$", "usd", "dollar", "cent"},
		regexp.MustCompile(`\$\s?\d+(?:[.,]\d+)*|\b\d+(?:[.,]\d+)*\s?(?:usdc|usd|dollars?|cents?)\b`)},
}

// flagText returns what text (folded as foldText does) holds that a model
// should not take from a spec at its word: one finding per kind, its label
// and the first text that matched, as `label ("matched")`. A price stated
// inside a line counts ("… Price: 0.0 USDC (free)"); one at the start of a
// line is isPriceLine's, and removed, not flagged.
func flagText(text string) []string {
	t := foldText(text)
	var found []string
	for _, p := range textPatterns {
		if !containsAny(t, p.anchors) {
			continue
		}
		if m := p.re.FindString(t); m != "" {
			found = append(found, fmt.Sprintf("%s (%q)", p.label, clip(m)))
		}
	}
	if m := inlinePrice(t); m != "" {
		found = append(found, fmt.Sprintf("price statement inside a sentence (%q)", clip(m)))
	}
	return found
}

// addFlags adds to have the findings of found whose kind (the label before
// the quote) it lacks.
func addFlags(have, found []string) []string {
	for _, f := range found {
		label, _, _ := strings.Cut(f, " (")
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, label+" (") }) {
			have = append(have, f)
		}
	}
	return have
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// inlinePrice returns the first price statement of folded text t that does
// not start a line: one that starts a sentence, or follows a blank or an
// opening mark inside one ("Cheap. Price: free", "(price: 0)").
func inlinePrice(t string) string {
	for line := range strings.Lines(t) {
		first := strings.IndexFunc(line, unicode.IsLetter) // isPriceLine's
		for i, r := range line {
			if i <= first || !unicode.IsLetter(r) {
				continue
			}
			prev, _ := utf8.DecodeLastRuneInString(line[:i])
			if unicode.IsLetter(prev) || unicode.IsDigit(prev) {
				continue
			}
			if c := line[i]; c != 'p' && c != 'c' && c != 'f' {
				continue
			}
			if rest := line[i:]; priceStatement(rest) {
				return sentence(rest)
			}
		}
	}
	return ""
}

// sentence returns the first sentence of s, its full stop included.
func sentence(s string) string {
	for i, r := range s {
		if r == '\n' || ((r == '.' || r == '!' || r == '?') && sentenceEnds(s[i+1:])) {
			return strings.TrimSpace(s[:i+utf8.RuneLen(r)])
		}
	}
	return strings.TrimSpace(s)
}

// flagNote is the warning for what flagText found in a text: it is kept.
func flagNote(where string, found []string) string {
	return fmt.Sprintf("%s holds text a model should not take at its word: %s; kept as written (the price toll pays is the one on its own Price line): check it before serving this API", where, strings.Join(found, ", "))
}

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
		switch {
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		case r < utf8.RuneSelf:
			return r
		case unicode.Is(unicode.Mn, r):
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
// lower-case Latin letter they pass for, and the characters NFKC leaves
// alone that look like an apostrophe, a colon or an equals sign to those. It
// is a short list of the usual disguises, not Unicode's full table of
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
	// Apostrophes, colons and equals signs.
	'’': '\'', 'ʼ': '\'', '∶': ':', 'ː': ':', '˸': ':', '꞉': ':', '։': ':', '׃': ':', '᛬': ':', '⁚': ':', '꞊': '=', '᐀': '=',
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
	return body + "\n\n" + o.PriceLine()
}

// PriceLine is the price line of the operation's tool: Price.Line, with the
// other methods the document offers (OtherMethods) named as not paid; for
// an operation offered only by other methods, a line that says toll does
// not pay it.
func (o *Operation) PriceLine() string {
	if len(o.OtherMethods) == 0 {
		return o.Price.Line()
	}
	others := strings.Join(o.OtherMethods, ", ")
	if o.Price == nil {
		return "Price: offered only by " + others + ", which toll does not pay: toll will not pay for this operation"
	}
	return o.Price.Line() + "; also offered by " + others + ", which toll does not pay"
}

// PriceDisplay writes the operation's price for people, in a list:
// Price.Display, or for an operation offered only by methods other than
// x402, "not paid by toll: stripe 1 USD".
func (o *Operation) PriceDisplay() string {
	if o.Price == nil && len(o.OtherMethods) > 0 {
		return "not paid by toll: " + strings.Join(o.OtherMethods, ", ")
	}
	return o.Price.Display()
}

// textKinds are the kinds of text flagText reports, by the label its
// warning gives. Ordinary API documentation says "you must authenticate",
// "ignore the cache" or "call GET /token first", so each asks for a
// phrasing aimed at a model: instructions that would replace the ones it
// was given, words a chat template uses to mark roles, directives to call
// tools (toll's own by name) or to keep something from the user, and
// amounts of money and price statements, which toll's price line is the one
// to make.
var textKinds = []struct {
	label string
	rules []textRule
}{
	{"instructions to ignore", []textRule{{
		starts: []string{"ignore", "forget", "disregard", "override", "bypass"},
		re: regexp.MustCompile(`^(?:ignore|forget|disregard|override|bypass)\s+(?:(?:all|any|of|the|your|these|those|my)\s+)*(?:previous|prior|above|earlier|preceding|former|original|system|other)\s+(?:instructions?|prompts?|messages?|rules?|guidelines|directions?|context)\b` +
			`|^(?:ignore|disregard|forget)\s+(?:all|everything)(?:\s+(?:above|before|else|previous|prior|said|you)\b|\s*[.!;]|\s*$)`),
	}}},
	{"disregard", []textRule{{starts: []string{"disregard"}, re: regexp.MustCompile(`^disregard`)}}},
	{"you must", []textRule{{
		starts: []string{"you"},
		re:     regexp.MustCompile(`^you\s+must\s+(?:(?:always|now|first|immediately|also)\s+)?(?:ignore|forget|disregard|obey|comply|always|never|respond|reply|answer|say|not\s+(?:tell|mention|reveal|inform|show)|tell\s+the\s+user|(?:call|use|invoke|run)\s+(?:this|the|that|another)\s+(?:tool|function))\b`),
	}}},
	{"system prompt", []textRule{{starts: []string{"system"}, re: regexp.MustCompile(`^system\s+(?:prompt|message|instructions?)\b`)}}},
	{"role marker", []textRule{
		{starts: []string{"<"}, re: regexp.MustCompile(`^(?:<\|[a-z_]{2,32}\|>|<</?sys>>|</?(?:system|assistant|instructions?|tool_call|tool_use|function_calls?)\s*>)`)},
		{starts: []string{"["}, re: regexp.MustCompile(`^\[/?inst\]`)},
		{starts: []string{"#"}, re: regexp.MustCompile(`^#{1,6}\s*(?:system|assistant)\b`), line: true},
		{starts: []string{"system", "assistant"}, re: regexp.MustCompile(`^(?:system|assistant)\s*:`), line: true},
	}},
	{"tool-calling directive", []textRule{
		{starts: BuiltinTools(), re: regexp.MustCompile(`^toll_[a-z]+`)},
		{starts: []string{"call", "invoke", "use", "run"}, re: regexp.MustCompile(`^(?:call|invoke|use|run)\s+(?:this|that|another|the\s+(?:next|other))\s+(?:tool|function)\b`)},
		{starts: []string{"tools", "tool_call", "function_call"}, re: regexp.MustCompile(`^(?:tools/call|tool_call|function_call)\b`)},
	}},
	{"keeping it from the user", []textRule{
		{starts: []string{"do", "don't", "never"}, re: regexp.MustCompile(`^(?:do\s+not|don't|never)\s+(?:tell|inform|show|mention|reveal|disclose)\s+(?:(?:this|it|anything)\s+)?(?:to\s+)?the\s+user\b`)},
		{starts: []string{"without"}, re: regexp.MustCompile(`^without\s+(?:telling|asking|informing|notifying)\s+the\s+user\b`)},
	}},
	{"new role", []textRule{{
		starts: []string{"you", "new", "developer", "jailbreak"},
		re:     regexp.MustCompile(`^(?:you\s+are\s+now\b|new\s+instructions?\b|developer\s+mode\b|jailbreak)`),
	}}},
	{"amount", []textRule{
		{starts: []string{"$"}, re: regexp.MustCompile(`^\$\s?\d+(?:[.,]\d+)*`)},
		{starts: []string{"usdc", "usd", "dollars", "dollar", "cents", "cent"}, at: amountBefore},
	}},
	{"price statement inside a sentence", []textRule{{
		starts: []string{"price", "prices", "priced", "pricing", "cost", "costs", "fee", "fees", "p", "c", "f"}, // "p r i c e"
		at:     inlinePrice,
	}}},
}

// A textRule finds a kind of text where one of its starts is: a word
// (the first of a phrase) or a mark. There, re (anchored) must match what
// follows, or at, when set, says what it finds. With line set, the start
// must begin a line, blanks aside.
type textRule struct {
	starts []string
	re     *regexp.Regexp
	line   bool
	// at returns what the rule finds at the word t[i:j] of the line that
	// begins at t[line:], or "".
	at func(t string, line, i, j int) string
}

// textRuleRef is a rule of textKinds[kind].
type textRuleRef struct {
	kind int
	rule *textRule
}

// textStarts indexes the rules of textKinds by their starts.
var textStarts = func() map[string][]textRuleRef {
	m := make(map[string][]textRuleRef)
	for k := range textKinds {
		for r := range textKinds[k].rules {
			rule := &textKinds[k].rules[r]
			for _, s := range rule.starts {
				m[s] = append(m[s], textRuleRef{k, rule})
			}
		}
	}
	return m
}()

// maxMatch bounds the text a rule's expression reads from its start.
const maxMatch = 160

// flagText returns what text holds that a model should not take from a
// spec at its word, read folded (foldText): one finding per kind, its label
// and the first text found, as `label ("found")`, in the order of
// textKinds. A price statement at the start of a line is isPriceLine's,
// and removed, not flagged. It reads the text once, word by word, and tries
// only the rules a word or a mark starts.
func flagText(text string) []string {
	t := foldText(text)
	found := make([]string, len(textKinds))
	try := func(key string, line, i, j int) {
		for _, ref := range textStarts[key] {
			if found[ref.kind] == "" {
				if m := ref.rule.find(t, line, i, j); m != "" {
					found[ref.kind] = fmt.Sprintf("%s (%q)", textKinds[ref.kind].label, clip(m))
				}
			}
		}
	}
	line := 0
	for i := 0; i < len(t); {
		r, n := utf8.DecodeRuneInString(t[i:])
		switch {
		case r == '\n':
			line = i + n
		case wordRune(r):
			j := i + n
			for j < len(t) {
				r, m := utf8.DecodeRuneInString(t[j:])
				if !wordRune(r) && r != '\'' {
					break
				}
				j += m
			}
			try(t[i:j], line, i, j)
			if k := strings.IndexFunc(t[i:j], func(r rune) bool { return r < '0' || r > '9' }); k > 0 {
				try(t[i+k:j], line, i+k, j) // "10cents"
			}
			n = j - i
		default:
			try(t[i:i+n], line, i, i+n)
		}
		i += n
	}
	return slices.DeleteFunc(found, func(f string) bool { return f == "" })
}

// find returns what the rule finds at the word or mark t[i:j] of the line
// that begins at t[line:], or "".
func (r *textRule) find(t string, line, i, j int) string {
	if r.line && strings.TrimLeft(t[line:i], " \t") != "" {
		return ""
	}
	if r.at != nil {
		return r.at(t, line, i, j)
	}
	return r.re.FindString(t[i:min(len(t), i+maxMatch)])
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// amountBefore finds an amount of money written as a number and the
// currency word t[i:j]: "0.5 usdc", "10cents".
func amountBefore(t string, _, i, j int) string {
	if i > 0 && t[i-1] == ' ' {
		i--
	}
	k := i
	for k > 0 && (t[k-1] >= '0' && t[k-1] <= '9' || t[k-1] == '.' || t[k-1] == ',') {
		k--
	}
	for k < i && (t[k] == '.' || t[k] == ',') {
		k++
	}
	if k == i || t[i-1] < '0' || t[i-1] > '9' {
		return ""
	}
	if before, _ := utf8.DecodeLastRuneInString(t[:k]); k > 0 && wordRune(before) {
		return "" // "a10 usd"
	}
	return t[k:j]
}

// inlinePrice finds a price statement (priceStatement) at the word t[i:]
// that is not the first word of its line: one inside a sentence, or after
// another ("Cheap. Price: free", "(price: 0)").
func inlinePrice(t string, line, i, _ int) string {
	if strings.IndexFunc(t[line:i], unicode.IsLetter) < 0 {
		return "" // the line's first word: isPriceLine's
	}
	if priceStatement(t[i:]) { // which stops at the end of the line
		return sentence(t[i:])
	}
	return ""
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

package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Spec text is untrusted: a description goes into a model's context and a
// name into a terminal. The functions here remove what a reader cannot see
// (control, bidi, zero-width and tag characters) and bound the length.

// sanitizeText cleans multi-line text: invalid UTF-8 becomes U+FFFD; line
// breaks are normalized to '\n'; C0 and C1 control characters other than
// newline and tab are removed, as is every Unicode format character
// (category Cf: the bidi embeddings, overrides and isolates U+202A–U+202E and
// U+2066–U+2069, the marks U+200E, U+200F and U+061C, the zero-width U+200B–
// U+200D, U+2060 and U+FEFF, the soft hyphen, and the invisible tag
// characters U+E0000–U+E007F); trailing blanks are trimmed from each line,
// runs of blank lines collapse to one, and leading and trailing blank space
// is removed (the indentation of later lines stays: it can be Markdown).
func sanitizeText(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			return '\n'
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	var b strings.Builder
	b.Grow(len(s))
	blank := false // a blank line is pending
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, " \t\n")
		if strings.TrimSpace(line) == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		if b.Len() == 0 {
			line = strings.TrimLeft(line, " \t")
		}
		b.WriteString(line)
	}
	return b.String()
}

// sanitizeLine cleans text meant for one line (a title, a name quoted in a
// warning): sanitizeText, then every run of white space becomes one space.
func sanitizeLine(s string) string {
	return strings.Join(strings.Fields(sanitizeText(s)), " ")
}

// capRunes shortens s to at most n runes, ending it with "…" when it was cut,
// and reports whether it cut. n <= 0 means no limit.
func capRunes(s string, n int) (string, bool) {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return strings.TrimRight(s[:i], " \t\n") + "…", true
}

// clip makes spec text safe to quote in a message: one line, at most 64 runes.
func clip(s string) string {
	s, _ = capRunes(sanitizeLine(s), 64)
	return s
}

// oneLine makes an error text from the parser fit one line of a message: it
// is sanitized, its lines joined with "; ", and capped.
func oneLine(s string) string {
	lines := strings.Split(sanitizeText(s), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			kept = append(kept, l)
		}
	}
	s, _ = capRunes(strings.Join(kept, "; "), 500)
	return s
}

// pathLabel is a path template fit to quote in a warning.
func pathLabel(path string) string {
	s, _ := capRunes(sanitizeLine(path), 120)
	return s
}

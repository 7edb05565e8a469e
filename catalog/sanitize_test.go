package catalog

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSanitizeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  trimmed  \n", "trimmed"},
		{"a\r\nb\rc", "a\nb\nc"},
		{"a\n\n\n\n\nb", "a\n\nb"},
		{"a\n  \n\t\n \nb", "a\n\nb"},
		{"tab\tkept", "tab\tkept"},
		{"trailing   \nspaces\t\n", "trailing\nspaces"},
		{"  indented\n    code", "indented\n    code"},
		{"bell\a esc\x1b[31m del\x7f nul\x00", "bell esc[31m del nul"},
		{"c1\u0085next \u009bcsi", "c1\nnext csi"},
		{"rtl\u202Eevil\u202C \u2066iso\u2069 \u200E\u200F\u061Cmarks", "rtlevil iso marks"},
		{"zero\u200Bwidth\u200C\u200D\u2060\uFEFF", "zerowidth"},
		{"tags\U000E0049\U000E0067\U000E006E end", "tags end"},
		{"soft\u00ADhyphen", "softhyphen"},
		{"line\u2028sep\u2029para", "line\nsep\npara"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"unicode ünïcødé 天气 ✓", "unicode ünïcødé 天气 ✓"},
		{"\n\n\nlead", "lead"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := sanitizeText(tt.in); got != tt.want {
			t.Errorf("sanitizeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := sanitizeLine(" a\n b\t\tc "); got != "a b c" {
		t.Errorf("sanitizeLine = %q", got)
	}
}

func TestCapRunes(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
		cut  bool
	}{
		{"hello", 5, "hello", false},
		{"hello world", 6, "hello…", true},
		{"ééééé", 3, "éé…", true},
		{"anything", 0, "anything", false},
	}
	for _, tt := range tests {
		got, cut := capRunes(tt.in, tt.n)
		if got != tt.want || cut != tt.cut {
			t.Errorf("capRunes(%q, %d) = %q, %v; want %q, %v", tt.in, tt.n, got, cut, tt.want, tt.cut)
		}
	}
}

// invisible reports a character a reader of a description cannot see.
func invisible(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))
}

func TestInjectionSpec(t *testing.T) {
	api := loadTestdata(t, "injection.yaml", Options{})
	if api.Title != "Evil Spec [31mRed[0m" || api.Version != "1" {
		t.Errorf("title %q, version %q", api.Title, api.Version)
	}
	evil := operation(t, api, "evil_spec_31mred_evilop")
	if want := "Look here[2J second line"; evil.Title != want {
		t.Errorf("title = %q, want %q", evil.Title, want)
	}
	wantDesc := "Look here[2J\nsecond line\n\nNormal text. reversed hidden.\n\nAfter blank lines.\nSmuggled: end\nnext\tTabbed"
	if evil.Description != wantDesc {
		t.Errorf("description =\n%q\nwant\n%q", evil.Description, wantDesc)
	}
	if !hasWarning(api, "evil_spec_31mred_evilop", "removed 2 line(s) stating a price") {
		t.Errorf("no warning about the price lines: %q", api.Warnings)
	}
	if want := `"q":{"description":"Query text]0;title","type":"string"}`; !strings.Contains(string(evil.InputSchema), want) {
		t.Errorf("schema %s lacks %s", evil.InputSchema, want)
	}

	long := operation(t, api, "evil_spec_31mred_long")
	if n := utf8.RuneCountInString(long.Description); n > defaultMaxDescription || n < defaultMaxDescription-8 || !strings.HasSuffix(long.Description, "…") {
		t.Errorf("long description has %d runes, want about %d ending in …", n, defaultMaxDescription)
	}
	if !hasWarning(api, "evil_spec_31mred_long", "description shortened from 2711 to 1024 characters") {
		t.Errorf("no warning about the long description: %q", api.Warnings)
	}

	// Nothing invisible anywhere a model or a terminal will read.
	var texts []string
	texts = append(texts, api.Title, api.Version, api.Name)
	texts = append(texts, api.Warnings...)
	for _, op := range api.Operations {
		texts = append(texts, op.Name, op.Title, op.Description, op.OperationID)
		var schema any
		if err := json.Unmarshal(op.InputSchema, &schema); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, stringsIn(schema)...)
	}
	for i, s := range texts {
		if i := strings.IndexFunc(s, invisible); i >= 0 {
			t.Errorf("invisible character %U in %q", []rune(s[i:])[0], s)
		}
		// The warnings quote what was removed, for the person who reads
		// them; a model reads the rest.
		if strings.Contains(s, "Price:") && (i < 3 || i >= 3+len(api.Warnings)) {
			t.Errorf("price statement left in %q", s)
		}
	}
}

// stringsIn collects the keys and string values of a decoded JSON value.
func stringsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = append(out, stringsIn(e)...)
		}
	}
	return out
}

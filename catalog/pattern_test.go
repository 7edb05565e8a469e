package catalog

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPortablePattern: patterns of real specs that Go compiles and
// JavaScript (with the "u" flag) refuses are rewritten to a form both read
// and that matches the same strings; those with no such form are refused.
// TestEveryRealSpec checks the results with Ajv itself.
func TestPortablePattern(t *testing.T) {
	tests := []struct {
		in, want string
		match    []string // strings the pattern must match, before and after
		noMatch  []string
		wantErr  bool
	}{
		{in: `^[a-z]+$`, want: `^[a-z]+$`, match: []string{"abc"}, noMatch: []string{"aB"}},
		{in: `arn\:aws\-[a-z]+`, want: `arn:aws-[a-z]+`, match: []string{"arn:aws-cn"}},
		{in: `^[a-zA-Z0-9\_\-\.]{1,50}$`, want: `^[a-zA-Z0-9_\-\.]{1,50}$`, match: []string{"a_b-c.d"}, noMatch: []string{"a b"}},
		{in: `\x{60}ab\x41`, want: "`abA", match: []string{"`abA"}},
		{in: `a{`, want: `a\{`, match: []string{"a{"}},
		{in: `a{2,3}b{,4}`, want: `a{2,3}b\{,4\}`, match: []string{"aab{,4}"}},
		{in: `x]y}`, want: `x\]y\}`, match: []string{"x]y}"}},
		{in: `^[\w-.+]+@[\w-.+]+$`, want: `^[\w\-.+]+@[\w\-.+]+$`, match: []string{"a.b-c@d.e"}, noMatch: []string{"a b@c"}},
		{in: `[^/:|\000-\037]+`, want: `[^/:|\x00-\x1F]+`, match: []string{"abc"}, noMatch: []string{"\x01"}},
		{in: `[[:alpha:]][[:digit:]]`, want: `[A-Za-z][0-9]`, match: []string{"a1"}, noMatch: []string{"11"}},
		{in: `(?P<year>\d{4})-\pL\p{^N}`, want: `(\d{4})-\p{L}\P{N}`, match: []string{"2024-éa"}},
		{in: `\Qa.b\E+`, want: `a\.b+`, match: []string{"a.bbb"}, noMatch: []string{"axb"}},
		{in: `\Aab\z`, want: `^ab$`, match: []string{"ab"}, noMatch: []string{"abc"}},
		{in: `(?i)abc`, wantErr: true},
		{in: `^[A-Za-z \p{Han}]*$`, wantErr: true},
		{in: `(?=x)`, wantErr: true}, // Go cannot compile it
	}
	for _, tt := range tests {
		got, err := portablePattern(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("portablePattern(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("portablePattern(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		before, after := regexp.MustCompile(tt.in), regexp.MustCompile(got)
		for _, s := range tt.match {
			if !before.MatchString(s) || !after.MatchString(s) {
				t.Errorf("%q → %q: %q matches %v before, %v after; want both", tt.in, got, s, before.MatchString(s), after.MatchString(s))
			}
		}
		for _, s := range tt.noMatch {
			if before.MatchString(s) || after.MatchString(s) {
				t.Errorf("%q → %q: %q matches %v before, %v after; want neither", tt.in, got, s, before.MatchString(s), after.MatchString(s))
			}
		}
	}
}

// FuzzPortablePattern: whatever portablePattern makes of a pattern Go
// compiles, Go compiles too, and it matches the same strings among probes
// made of the pattern's own characters (and a few others).
func FuzzPortablePattern(f *testing.F) {
	for _, s := range []string{`^[a-z]+$`, `arn\:aws\-[a-z]+`, `\x{60}a`, `a{`, `[\w-.+]+@`, `[^/:|\000-\037]+`, `[[:alpha:]]\d`, `\Qa.b\E`, `(?P<y>\d{4})`, `[0-9-]`, `x]y}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		before, err := regexp.Compile(p)
		if err != nil {
			return
		}
		q, err := portablePattern(p)
		if err != nil {
			return
		}
		after, err := regexp.Compile(q)
		if err != nil {
			t.Fatalf("%q → %q, which Go does not compile: %v", p, q, err)
		}
		for _, s := range probes(p) {
			if before.MatchString(s) != after.MatchString(s) {
				t.Fatalf("%q → %q: %q matches %v before and %v after", p, q, s, before.MatchString(s), after.MatchString(s))
			}
		}
	})
}

// probes are strings to match patterns against: each character of p
// alone and repeated, p itself, and a few others.
func probes(p string) []string {
	out := []string{"", p, "a", "A", "0", "_", "-", " ", "\n", "\x00", "é", "ab12", "{}", "[]"}
	for _, r := range p {
		out = append(out, string(r), string(r)+string(r), "x"+string(r)+"9")
	}
	return out
}

// TestPortablePatternsInJavaScript: every pattern portablePattern writes,
// for the cases above, the fuzz corpus and the patterns of the real specs,
// compiles in JavaScript with the "u" flag, and matches the probe strings
// there exactly as Go's regexp does.
func TestPortablePatternsInJavaScript(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("TOLL_CI") != "" {
			t.Fatalf("node is missing under CI: %v", err)
		}
		t.Skipf("node is not installed (%v)", err)
	}
	inputs := []string{`^[a-z]+$`, `arn\:aws\-[a-z]+`, `^[a-zA-Z0-9\_\-\.]{1,50}$`, `\x{60}ab\x41`, `a{`, `a{2,3}b{,4}`, `x]y}`,
		`^[\w-.+]+@[\w-.+]+$`, `[^/:|\000-\037]+`, `[[:alpha:]][[:digit:]]`, `(?P<year>\d{4})-\pL\p{^N}`, `\Qa.b\E+`, `\Aab\z`,
		`[0-9-]`, `[-a]`, `[a-z-0]`, `[\d-z]`, `\12\0`, `[[:]`, `[\]\\\-^]`, `\/\#\@\%\=\!\~\,\;\'\"\<\>\&\ `}
	entries, _ := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzPortablePattern"))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzPortablePattern", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, lit, ok := strings.Cut(string(data), "string("); ok {
			if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(lit), ")")); err == nil {
				inputs = append(inputs, s)
			}
		}
	}
	type jsCase struct {
		ID      int      `json:"id"`
		Pattern string   `json:"pattern"`
		Probes  []string `json:"probes"`
	}
	var cases []jsCase
	var in bytes.Buffer
	for _, p := range inputs {
		q, err := portablePattern(p)
		if err != nil {
			continue
		}
		c := jsCase{len(cases), q, probes(p)}
		cases = append(cases, c)
		line, _ := json.Marshal(c)
		in.Write(append(line, '\n'))
	}
	cmd := exec.CommandContext(t.Context(), "node", filepath.Join("testdata", "ajv", "regex.mjs"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node regex.mjs: %v", err)
	}
	got := 0
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var r struct {
			ID      int    `json:"id"`
			Matches []bool `json:"matches"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal(line, &r); err != nil || r.ID < 0 || r.ID >= len(cases) {
			t.Fatalf("regex.mjs wrote %q", line)
		}
		got++
		c := cases[r.ID]
		if r.Error != "" {
			t.Errorf("JavaScript does not compile %q: %s", c.Pattern, r.Error)
			continue
		}
		re := regexp.MustCompile(c.Pattern)
		for i, s := range c.Probes {
			if re.MatchString(s) != r.Matches[i] {
				t.Errorf("%q on %q: Go %v, JavaScript %v", c.Pattern, s, re.MatchString(s), r.Matches[i])
			}
		}
	}
	if got != len(cases) || got < 20 {
		t.Errorf("checked %d patterns in JavaScript of %d", got, len(cases))
	}
}

package catalog

import (
	"strings"
	"testing"
)

func TestToolNames(t *testing.T) {
	api := loadTestdata(t, "names.yaml", Options{})
	byKey := make(map[string]string)
	for _, op := range api.Operations {
		byKey[op.Method+" "+op.Path] = op.Name
	}
	const long = "an_extremely_retrieveTheCompleteHistorica_"
	exact := map[string]string{
		"GET /":                 "an_extremely_get",
		"GET /b/{id}/sub-items": "an_extremely_get_b_id_sub-items",
		"DELETE /d":             "an_extremely_delete_d", // operationId "!!!" has no usable character
		"GET /a":                long + shortHash("an_extremely_retrieveTheCompleteHistoricalRecordOfEveryTransactionForAnAccount"),
		"POST /a":               long + shortHash("an_extremely_retrieveTheCompleteHistoricalRecordOfEveryTransactionForAnAccountV2"),
		"GET /c":                "an_extremely_get_item_" + shortHash("GET /c"), // get.item and get_item clash
		"PUT /c":                "an_extremely_get_item_" + shortHash("PUT /c"),
	}
	for key, want := range exact {
		if got := byKey[key]; got != want {
			t.Errorf("%s: name %q, want %q", key, got, want)
		}
	}
	if len(byKey) != len(exact) {
		t.Errorf("%d operations, want %d: %v", len(byKey), len(exact), byKey)
	}
	for _, name := range byKey {
		if len(name) > maxToolName {
			t.Errorf("%q is longer than %d", name, maxToolName)
		}
	}
	if len(byKey["GET /a"]) != maxToolName {
		t.Errorf("shortened name %q has %d characters, want %d", byKey["GET /a"], len(byKey["GET /a"]), maxToolName)
	}
	for _, w := range []string{"tool name shortened from an_extremely_retrieveTheCompleteHistoricalRecordOfEveryTransactionForAnAccount", "tool name suffixed"} {
		if !hasWarning(api, w) {
			t.Errorf("no warning %q in %q", w, api.Warnings)
		}
	}

	// The same operations in another order get the same names.
	reordered := loadTestdata(t, "names_reordered.yaml", Options{})
	for _, op := range reordered.Operations {
		if want := byKey[op.Method+" "+op.Path]; op.Name != want {
			t.Errorf("reordered %s %s: name %q, want %q", op.Method, op.Path, op.Name, want)
		}
	}
}

func TestDeriveNamespace(t *testing.T) {
	tests := []struct{ title, want string }{
		{"Weather Demo", "weather_demo"},
		{"", "api"},
		{"天气", "api"},
		{"An Extremely Long API Title", "an_extremely"},
		{"Supercalifragilisticexpialidocious", "supercalifragili"},
		{"  --Foo__Bar--  ", "foo_bar"},
		{"abc defghijklmnopqrst", "abc_defghijklmno"}, // no word of four letters would remain
		{"Sixteen Chars Ok", "sixteen_chars_ok"},
		{"Petstore v3.1 (beta)", "petstore_v3_1"},
	}
	for _, tt := range tests {
		if got := deriveNamespace(tt.title); got != tt.want {
			t.Errorf("deriveNamespace(%q) = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestToolNameHelpers(t *testing.T) {
	if got := baseToolName("ns", "get-thing.v2", "GET", "/x"); got != "ns_get-thing_v2" {
		t.Errorf("baseToolName = %q", got)
	}
	if got := baseToolName("ns", "", "POST", "/a/{b}/c.json"); got != "ns_post_a_b_c_json" {
		t.Errorf("baseToolName without operationId = %q", got)
	}
	long := "ns_" + strings.Repeat("a", 60)
	got := fitToolName(long)
	if len(got) != maxToolName || !strings.HasSuffix(got, "_"+shortHash(long)) || fitToolName(long) != got {
		t.Errorf("fitToolName = %q (%d), want 48 characters ending in a stable hash", got, len(got))
	}
	if got := fitToolName("ns_short"); got != "ns_short" {
		t.Errorf("fitToolName shortened a short name: %q", got)
	}

	names := []string{"a", "b", "a", "a_" + shortHash("k3")}
	renamed := uniqueToolNames(names, []string{"k1", "k2", "k3", "k4"})
	seen := make(map[string]bool)
	for _, n := range names {
		if seen[n] {
			t.Errorf("names not unique: %q", names)
		}
		seen[n] = true
	}
	if !renamed[0] || renamed[1] || !renamed[2] || names[1] != "b" {
		t.Errorf("renamed = %v, names = %q", renamed, names)
	}

	for in, want := range map[string]string{
		"id":                    "id",
		"X-Request-Id":          "X-Request-Id",
		"page.size":             "page.size",
		"filter[name]":          "filter_name",
		"a b":                   "a_b",
		"ключ":                  "param",
		strings.Repeat("z", 70): strings.Repeat("z", 64),
	} {
		if got := argName(in); got != want {
			t.Errorf("argName(%q) = %q, want %q", in, got, want)
		}
	}
}

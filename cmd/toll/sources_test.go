package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/catalog"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1000", 1000, true},
		{" 67108864 ", 64 << 20, true},
		{"-1", 0, false},
		{"64MiB", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		var b byteSize
		err := b.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && int64(b) != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tt.in, b, err, tt.want, tt.ok)
		}
	}
}

// TestMaxSpecBytesSetting: --max-spec-bytes limits the specs given as arguments and the
// apis of toll.yaml without their own max_spec_bytes; an api's own setting wins.
func TestMaxSpecBytesSetting(t *testing.T) {
	weather := filepath.Join("..", "..", "testdata", "specs", "weather.yaml")
	tooLarge := func(args ...string) {
		t.Helper()
		out, _, err := runTest(t, nil, append([]string{"catalog", "check"}, args...)...)
		if err == nil || !strings.Contains(out, "spec too large") {
			t.Errorf("check %q: %v\n%s\nwant spec too large", args, err, out)
		}
	}
	tooLarge("--max-spec-bytes", "100", weather)
	if out, _, err := runTest(t, nil, "catalog", "list", "--max-spec-bytes", "1048576", weather); err != nil || !strings.Contains(out, "weather_demo_getWeather") {
		t.Errorf("list --max-spec-bytes 1MiB: %v\n%s", err, out)
	}
	abs, err := filepath.Abs(weather)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "toll.yaml")
	write := func(entry map[string]any) {
		b, err := yaml.Marshal(map[string]any{"apis": []any{entry}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"spec": abs, "max_spec_bytes": 100})
	tooLarge("--config", cfg, "--max-spec-bytes", "1048576")
	write(map[string]any{"spec": abs})
	tooLarge("--config", cfg, "--max-spec-bytes", "100")
}

// TestCatalogToolsLazyOnDemand: toll catalog tools --lazy on lists the catalog tools of a
// JSON spec listed on demand, as of the same spec loaded whole.
func TestCatalogToolsLazyOnDemand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "specs", "weather.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if data, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "weather.json")
	if err := os.WriteFile(spec, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runTest(t, nil, "catalog", "tools", "--lazy", "on", spec)
	if err != nil || !strings.Contains(out, `"toll_search"`) || !strings.Contains(out, "catalog of 4 API operations") {
		t.Errorf("catalog tools --lazy on: %v %s\n%s", err, stderr, out)
	}
}

func TestLogWarnings(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	many := &catalog.API{Source: "many.json"}
	for i := range maxLoggedWarnings + 5 {
		many.Warnings = append(many.Warnings, fmt.Sprintf("warning number %d", i))
	}
	few := &catalog.API{Source: "few.json", Warnings: []string{"the only one"}}
	logWarnings(logger, []*catalog.API{many, few})
	out := buf.String()
	if n := strings.Count(out, "\n"); n != maxLoggedWarnings+2 {
		t.Errorf("%d lines logged, want %d:\n%s", n, maxLoggedWarnings+2, out)
	}
	for _, want := range []string{"warning number 0", fmt.Sprintf("warning number %d", maxLoggedWarnings-1), "5 more warnings: toll catalog check lists them all", "the only one"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, fmt.Sprintf("warning number %d", maxLoggedWarnings)) {
		t.Errorf("logged a warning past the first %d:\n%s", maxLoggedWarnings, out)
	}
}

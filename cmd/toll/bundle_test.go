package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/x402test"
)

// mcpbPackage is the folder of the npm package @anthropic-ai/mcpb, the official packer of
// MCP Bundles, with node to run it. .ci/fetch-specs installs it beside the real specs
// (TOLL_REAL_SPECS names another node_modules holding it). Where it or node is missing the
// test fails under CI (TOLL_CI set) and is skipped elsewhere.
func mcpbPackage(t *testing.T) (node, dir string) {
	t.Helper()
	modules := os.Getenv("TOLL_REAL_SPECS")
	if modules == "" {
		modules = filepath.Join("..", "..", "testdata", "realspecs", "node_modules")
	}
	dir, err := filepath.Abs(filepath.Join(modules, "@anthropic-ai", "mcpb"))
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "dist", "cli", "cli.js"))
	}
	if err == nil {
		node, err = exec.LookPath("node")
	}
	if err != nil {
		if os.Getenv("TOLL_CI") != "" {
			t.Fatalf("the MCP Bundle packer is missing under CI (%v): .ci/run runs .ci/fetch-specs first", err)
		}
		t.Skipf("the MCP Bundle packer is not installed (%v); run .ci/fetch-specs (needs npm), or set TOLL_REAL_SPECS to a node_modules folder holding @anthropic-ai/mcpb", err)
	}
	return node, dir
}

// readZip is the entries of the zip file at path, by name, and their headers in order.
func readZip(t *testing.T, path string) (map[string][]byte, []zip.FileHeader) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	var headers []zip.FileHeader
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
		headers = append(headers, f.FileHeader)
	}
	return files, headers
}

// TestBundle runs toll bundle, reads the bundle back, has the official packer validate its
// manifest, and starts the bundled binary with the command line a host makes of the
// manifest and a person's settings.
func TestBundle(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "toll.mcpb")
	if r := runBinary(t, nil, "bundle", "--out", out); r.code != 0 {
		t.Fatalf("toll bundle: exit %d\n%s", r.code, r.stderr)
	}
	files, headers := readZip(t, out)

	var names []string
	for _, h := range headers {
		names = append(names, h.Name)
		if !h.Modified.Equal(bundleEpoch()) {
			t.Errorf("%s: modified %v, want %v", h.Name, h.Modified, bundleEpoch())
		}
	}
	if diff := cmp.Diff([]string{"manifest.json", "server/toll"}, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if mode := headers[len(headers)-1].Mode(); mode&0o111 == 0 {
		t.Errorf("server/toll: mode %v, want executable", mode)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["server/toll"], exe) {
		t.Errorf("server/toll: %d bytes, not the binary that ran (%d bytes)", len(files["server/toll"]), len(exe))
	}
	checkManifest(t, files["manifest.json"])

	again := filepath.Join(dir, "again.mcpb")
	runBinary(t, nil, "bundle", "--out", again)
	first, _ := os.ReadFile(out)
	second, _ := os.ReadFile(again)
	if !bytes.Equal(first, second) {
		t.Errorf("two bundles of the same binary differ (%d and %d bytes)", len(first), len(second))
	}

	node, mcpb := mcpbPackage(t)
	manifestFile := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(manifestFile, files["manifest.json"], 0o644); err != nil {
		t.Fatal(err)
	}
	validate, err := exec.CommandContext(t.Context(), node, filepath.Join(mcpb, "dist", "cli", "cli.js"), "validate", manifestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("mcpb validate: %v\n%s", err, validate)
	}
	t.Run("host starts it", func(t *testing.T) { testBundleStarts(t, node, mcpb, files) })
}

// checkManifest checks what a host reads in toll's manifest.
func checkManifest(t *testing.T, doc []byte) {
	t.Helper()
	var m struct {
		ManifestVersion string `json:"manifest_version"`
		Name, Version   string
		Server          struct {
			Type       string `json:"type"`
			EntryPoint string `json:"entry_point"`
			MCPConfig  struct {
				Command string
				Args    []string
			} `json:"mcp_config"`
		}
		Compatibility struct{ Platforms []string }
		UserConfig    map[string]struct {
			Type     string
			Required bool
			Default  *string
		} `json:"user_config"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("manifest.json: %v\n%s", err, doc)
	}
	platform := map[string]string{"linux": "linux", "darwin": "darwin", "windows": "win32"}[runtime.GOOS]
	got := []string{m.ManifestVersion, m.Name, m.Version, m.Server.Type, m.Server.EntryPoint, m.Server.MCPConfig.Command, strings.Join(m.Compatibility.Platforms, ",")}
	want := []string{"0.3", "toll", "0.0.0-dev", "binary", "server/toll", "${__dirname}/server/toll", platform}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manifest version, name, version, server type, entry point, command, platforms (-want +got):\n%s", diff)
	}
	wantArgs := []string{"serve", "--keystore=${user_config.keystore}", "--passphrase-file=${user_config.passphrase_file}",
		"--network=${user_config.networks}", "--max-per-call=${user_config.max_per_call}", "--max-per-day=${user_config.max_per_day}",
		"--config=${user_config.config}", "${user_config.spec}"}
	if diff := cmp.Diff(wantArgs, m.Server.MCPConfig.Args); diff != "" {
		t.Errorf("mcp_config args (-want +got):\n%s", diff)
	}
	type option struct {
		Type     string
		Required bool
		Default  string // "-": none
	}
	gotOpts := map[string]option{}
	for k, o := range m.UserConfig {
		def := "-"
		if o.Default != nil {
			def = *o.Default
		}
		gotOpts[k] = option{o.Type, o.Required, def}
	}
	wantOpts := map[string]option{
		"keystore":        {"file", true, "-"},
		"passphrase_file": {"file", true, "-"},
		"spec":            {"string", true, "-"},
		"networks":        {"string", false, "eip155:8453"},
		"max_per_call":    {"string", false, "0.1"},
		"max_per_day":     {"string", false, "5"},
		"config":          {"file", false, ""},
	}
	if diff := cmp.Diff(wantOpts, gotOpts); diff != "" {
		t.Errorf("user_config (-want +got):\n%s", diff)
	}
	// A host shows the settings in the order of the object: the wallet first.
	if i, j := bytes.Index(doc, []byte(`"keystore": {`)), bytes.Index(doc, []byte(`"config": {`)); i < 0 || j < i {
		t.Errorf("user_config: keystore at %d, config at %d; want the keystore first", i, j)
	}
}

// testBundleStarts unpacks the bundle as a host does, has the packer's own code make the
// command line of a person's settings (getMcpConfigForManifest), and starts it: toll
// serves the spec's operations. The person leaves the cap per day at its default.
func testBundleStarts(t *testing.T, node, mcpb string, files map[string][]byte) {
	dir := t.TempDir()
	ext := filepath.Join(dir, "extension")
	for name, b := range files {
		path := filepath.Join(ext, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k := newKeyFiles(t, dir, "bundle passphrase")
	world, spec := startWorld(t, x402test.Options{}, k.payer, dir)
	settings, err := json.Marshal(map[string]any{"keystore": k.keystore, "passphrase_file": k.passFile,
		"spec": spec, "networks": world.Chain.NetworkV2(), "max_per_call": "0.01"})
	if err != nil {
		t.Fatal(err)
	}
	script := `import { getMcpConfigForManifest } from ` + strconv.Quote(filepath.Join(mcpb, "dist", "shared", "config.js")) + `;
import { readFileSync } from "node:fs";
const [manifest, ext, settings] = process.argv.slice(1);
const cfg = await getMcpConfigForManifest({ manifest: JSON.parse(readFileSync(manifest, "utf8")), extensionPath: ext,
  systemDirs: {}, userConfig: JSON.parse(settings), pathSeparator: "/" });
console.log(JSON.stringify(cfg));`
	out, err := exec.CommandContext(t.Context(), node, "--input-type=module", "-e", script,
		filepath.Join(ext, "manifest.json"), ext, string(settings)).Output()
	if err != nil {
		t.Fatalf("getMcpConfigForManifest: %v\n%s", err, out)
	}
	var cfg mcpEntry
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("getMcpConfigForManifest: %v\n%s", err, out)
	}
	wantArgs := []string{"serve", "--keystore=" + k.keystore, "--passphrase-file=" + k.passFile, "--network=" + world.Chain.NetworkV2(),
		"--max-per-call=0.01", "--max-per-day=5", "--config=", spec}
	if diff := cmp.Diff(wantArgs, cfg.Args); diff != "" {
		t.Fatalf("the host's command line (-want +got):\n%s", diff)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The ledger goes to the test's folder, not the user's config dir; no toll.yaml of the
	// developer's may add to the settings.
	c, _, stderr := serveMCP(t, ctx, cfg.Command, []string{"TOLL_LEDGER=" + filepath.Join(dir, "ledger.db"), "TOLL_CONFIG="}, cfg.Args)
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v\nstderr:\n%s", err, stderr.String())
	}
	var ops []string
	for _, tool := range list.Tools {
		if tool.Meta != nil {
			if op, ok := tool.Meta.AdditionalFields["toll/operation"].(string); ok {
				ops = append(ops, op)
			}
		}
	}
	if !slices.Contains(ops, "GET /weather/{city}") {
		t.Errorf("the bundled toll serves %q; want GET /weather/{city} among them\nstderr:\n%s", ops, stderr.String())
	}
	if !strings.Contains(stderr.String(), "max_per_call=0.01") {
		t.Errorf("toll serve did not log the cap of the settings (max_per_call=0.01):\n%s", stderr.String())
	}
}

// TestBundleRefuses runs toll bundle where it cannot write a bundle.
func TestBundleRefuses(t *testing.T) {
	dir := t.TempDir()
	notExe := filepath.Join(dir, "toll.yaml")
	if err := os.WriteFile(notExe, []byte("caps: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"binary not an executable", []string{"bundle", "--binary", notExe, "--out", filepath.Join(dir, "a.mcpb")}, 1, "not an executable for Linux, macOS or Windows"},
		{"binary missing", []string{"bundle", "--binary", filepath.Join(dir, "nope"), "--out", filepath.Join(dir, "b.mcpb")}, 1, "read the binary to bundle"},
		{"folder missing", []string{"bundle", "--out", filepath.Join(dir, "no", "c.mcpb")}, 1, "write " + filepath.Join(dir, "no", "c.mcpb")},
		{"argument", []string{"bundle", "extra"}, 2, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.message) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.message)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d files after the refusals, want only %s", len(entries), notExe)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostDoc is a host's config file as the tests read it.
type hostDoc map[string]map[string]mcpEntry

// TestMCPConfigSnippets runs toll mcp-config through the built binary for each host: the
// snippet is JSON under the host's key, naming this binary by its absolute path, serve
// and the config, and the passphrase file when given.
func TestMCPConfigSnippets(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "toll.yaml", "networks: [base]\n")
	pass := writeFile(t, dir, "pass.txt", "x\n")
	bin, err := filepath.EvalSymlinks(tollBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		client, key, typ string
	}{
		{"claude-desktop", "mcpServers", ""},
		{"claude-code", "mcpServers", "stdio"},
		{"cursor", "mcpServers", ""},
		{"vscode", "servers", "stdio"},
	} {
		t.Run(tt.client, func(t *testing.T) {
			r := runBinary(t, nil, "mcp-config", "--client", tt.client, "--config", cfg, "--passphrase-file", pass)
			if r.code != 0 {
				t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
			}
			var doc hostDoc
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("%v in %s", err, r.stdout)
			}
			got := doc[tt.key]["toll"]
			want := mcpEntry{Type: tt.typ, Command: bin, Args: []string{"serve", "--config", cfg, "--passphrase-file", pass}}
			if got.Type != want.Type || got.Command != want.Command || strings.Join(got.Args, " ") != strings.Join(want.Args, " ") {
				t.Errorf("entry = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("no passphrase file", func(t *testing.T) {
		r := runBinary(t, nil, "mcp-config", "--client", "cursor", "--config", cfg)
		if r.code != 0 || !strings.Contains(r.stderr, "passphrase_file") {
			t.Errorf("exit code %d, stderr %q; want a warning that serve cannot unlock the key", r.code, r.stderr)
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		if r := runBinary(t, nil, "mcp-config", "--client", "emacs"); r.code != 2 || !strings.Contains(r.stderr, "claude-desktop") {
			t.Errorf("exit code %d, stderr %q; want a usage error listing the hosts", r.code, r.stderr)
		}
	})
}

// TestMCPConfigInstall installs toll's entry into an existing host config through the
// built binary: other servers and keys stay, the old file is backed up as it was, a second
// install is refused without --force and replaces the entry with it, and a file that is
// not JSON is left alone.
func TestMCPConfigInstall(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "toll.yaml", "networks: [base]\n")
	const before = `{"globalShortcut": "Ctrl+Space", "mcpServers": {"other": {"command": "/bin/other", "args": []}}}`
	host := writeFile(t, dir, "claude_desktop_config.json", before)
	install := func(extra ...string) binRun {
		return runBinary(t, nil, append([]string{"mcp-config", "--client", "claude-desktop", "--config", cfg, "--install", "--file", host}, extra...)...)
	}
	r := install()
	if r.code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	var doc struct {
		GlobalShortcut string              `json:"globalShortcut"`
		MCPServers     map[string]mcpEntry `json:"mcpServers"`
	}
	data, _ := os.ReadFile(host)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.GlobalShortcut != "Ctrl+Space" || doc.MCPServers["other"].Command != "/bin/other" || doc.MCPServers["toll"].Command == "" {
		t.Errorf("merged config = %s; want the other server, the other key and toll", data)
	}
	backups, _ := filepath.Glob(host + ".*.bak")
	if len(backups) != 1 {
		t.Fatalf("backups = %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != before {
		t.Errorf("backup = %s, want the file as it was", b)
	}

	if r := install(); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second install: exit code %d, stderr %q; want a refusal naming --force", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(host); string(now) != string(data) {
		t.Error("a refused install changed the file")
	}
	if r := install("--force", "--passphrase-file", filepath.Join(dir, "pass.txt")); r.code != 0 {
		t.Fatalf("install --force: exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	data, _ = os.ReadFile(host)
	if err := json.Unmarshal(data, &doc); err != nil || !strings.Contains(strings.Join(doc.MCPServers["toll"].Args, " "), "--passphrase-file") {
		t.Errorf("after --force, config = %s (%v); want toll's entry replaced", data, err)
	}

	broken := writeFile(t, dir, "mcp.json", "{ // a comment\n}")
	r = runBinary(t, nil, "mcp-config", "--client", "vscode", "--config", cfg, "--install", "--file", broken)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("install into a file with comments: exit code %d, stderr %q; want a refusal", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(broken); string(b) != "{ // a comment\n}" {
		t.Errorf("the file was changed to %q", b)
	}

	fresh := filepath.Join(dir, "new", ".cursor", "mcp.json")
	if r := runBinary(t, nil, "mcp-config", "--client", "cursor", "--config", cfg, "--install", "--file", fresh); r.code != 0 {
		t.Fatalf("install into a new file: exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	var fdoc hostDoc
	data, _ = os.ReadFile(fresh)
	if err := json.Unmarshal(data, &fdoc); err != nil || fdoc["mcpServers"]["toll"].Command == "" {
		t.Errorf("new file = %s (%v), want toll under mcpServers", data, err)
	}
}

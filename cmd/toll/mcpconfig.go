package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// mcpClient is how one MCP host reads the servers it starts: the file it keeps them in
// and the key of the servers' object there.
type mcpClient struct {
	key     string // "mcpServers", or "servers" for VS Code
	typed   bool   // whether an entry carries "type": "stdio"
	file    func() (string, error)
	doc     string
	restart string // what to do for the host to read the file again
}

// mcpClients are the hosts toll mcp-config knows, with where their formats are described:
//
//	claude-desktop: https://modelcontextprotocol.io/quickstart/user (claude_desktop_config.json,
//	  in Claude's folder of the user config dir: ~/Library/Application Support/Claude on macOS,
//	  %APPDATA%\Claude on Windows)
//	claude-code:    https://code.claude.com/docs/en/mcp (project scope: .mcp.json at the project root)
//	cursor:         https://cursor.com/docs/mcp (~/.cursor/mcp.json, or .cursor/mcp.json in a project)
//	vscode:         https://github.com/microsoft/vscode-docs/blob/main/docs/agents/reference/mcp-configuration.md
//	  (.vscode/mcp.json in the workspace, a top-level "servers" object)
func mcpClients() map[string]mcpClient {
	inConfigDir := func(parts ...string) func() (string, error) {
		return func() (string, error) {
			dir, err := os.UserConfigDir()
			if err != nil {
				return "", err
			}
			return filepath.Join(append([]string{dir}, parts...)...), nil
		}
	}
	inHome := func(parts ...string) func() (string, error) {
		return func() (string, error) {
			dir, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			return filepath.Join(append([]string{dir}, parts...)...), nil
		}
	}
	here := func(parts ...string) func() (string, error) {
		return func() (string, error) { return filepath.Abs(filepath.Join(parts...)) }
	}
	return map[string]mcpClient{
		"claude-desktop": {key: "mcpServers", file: inConfigDir("Claude", "claude_desktop_config.json"),
			doc: "https://modelcontextprotocol.io/quickstart/user", restart: "quit Claude Desktop and open it again"},
		"claude-code": {key: "mcpServers", typed: true, file: here(".mcp.json"),
			doc: "https://code.claude.com/docs/en/mcp", restart: "start claude in this folder and approve the project's server"},
		"cursor": {key: "mcpServers", file: inHome(".cursor", "mcp.json"),
			doc: "https://cursor.com/docs/mcp", restart: "restart Cursor, or turn the server on under MCP in its settings"},
		"vscode": {key: "servers", typed: true, file: here(".vscode", "mcp.json"),
			doc: "https://github.com/microsoft/vscode-docs/blob/main/docs/agents/reference/mcp-configuration.md", restart: "VS Code picks the server up; start it from the MCP: List Servers command"},
	}
}

// mcpConfigCmd is "toll mcp-config".
type mcpConfigCmd struct {
	*app
	client, config, passFile, name, file string
	install, force                       bool
}

func (a *app) mcpConfigCommand() *cobra.Command {
	m := &mcpConfigCmd{app: a}
	c := &cobra.Command{
		Use:   "mcp-config --client claude-desktop|claude-code|cursor|vscode [flags]",
		Short: "print the snippet that makes an MCP host start toll, or --install it into the host's config",
		Long: `Print the JSON that makes an MCP host start toll serve (this toll binary, by its absolute path,
with --config), in that host's format. With --install, merge it into the host's config file (its
usual place, or --file), after a timestamped backup of the file; an entry of the same name is
replaced only with --force. The passphrase never goes into the host's config: name a passphrase
file in toll.yaml (wallet: passphrase_file) or with --passphrase-file.`,
		Example: "  toll mcp-config --client claude-desktop\n  toll mcp-config --client cursor --install",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return m.run() },
	}
	fs := newFlags(c)
	fs.StringVar(&m.client, "client", "", "the MCP host: claude-desktop, claude-code, cursor or vscode")
	fs.StringVar(&m.config, "config", "", "the toll.yaml toll serve reads (default $"+envConfig+", else toll/toll.yaml in the user config dir)")
	fs.StringVar(&m.passFile, "passphrase-file", "", "file holding the keystore passphrase, passed to toll serve (default: wallet.passphrase_file of the config)")
	fs.StringVar(&m.name, "name", "toll", "the server's name in the host's config")
	fs.BoolVar(&m.install, "install", false, "write the entry into the host's config file, after a backup")
	fs.StringVar(&m.file, "file", "", "with --install: the host's config file (default: where the host keeps it)")
	fs.BoolVar(&m.force, "force", false, "with --install: replace an entry of the same name")
	return c
}

func (m *mcpConfigCmd) run() error {
	client, ok := mcpClients()[m.client]
	if !ok {
		return usagef("--client %q: want claude-desktop, claude-code, cursor or vscode", m.client)
	}
	if (m.file != "" || m.force) && !m.install {
		return usagef("--file and --force go with --install")
	}
	entry, err := m.entry(client)
	if err != nil {
		return err
	}
	if !m.install {
		return writeJSON(m.stdout, map[string]any{client.key: map[string]any{m.name: entry}})
	}
	path := m.file
	if path == "" {
		if path, err = client.file(); err != nil {
			return fmt.Errorf("where %s keeps its config: %v; pass --file FILE", m.client, err)
		}
	}
	backup, err := installEntry(path, client.key, m.name, entry, m.force, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%s: server %q added\n", path, m.name)
	if backup != "" {
		fmt.Fprintf(m.stdout, "the file as it was: %s\n", backup)
	}
	fmt.Fprintf(m.stderr, "Then %s. (The format: %s)\n", client.restart, client.doc)
	return nil
}

// mcpEntry is a server of a host's config: a process it starts, speaking MCP on stdio.
type mcpEntry struct {
	Type    string   `json:"type,omitempty"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

// entry is toll's entry for client: this binary, serve, the config and the passphrase file.
func (m *mcpConfigCmd) entry(client mcpClient) (mcpEntry, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return mcpEntry{}, fmt.Errorf("the path of this toll binary: %w", err)
	}
	cfg := first(m.env.configPath(m.config))
	if cfg == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return mcpEntry{}, usagef("no user config dir (%v): pass --config FILE", err)
		}
		cfg = filepath.Join(dir, "toll", "toll.yaml")
	}
	if cfg, err = filepath.Abs(cfg); err != nil {
		return mcpEntry{}, err
	}
	e := mcpEntry{Command: self, Args: []string{"serve", "--config", cfg}}
	if client.typed {
		e.Type = "stdio"
	}
	passFile := m.passFile
	if c, err := loadConfig(cfg); err != nil {
		m.warn(fmt.Sprintf("%v; run toll init to write one, or pass --config FILE", err))
	} else if passFile == "" && c.Wallet.PassphraseFile == "" {
		m.warn("neither --passphrase-file nor wallet.passphrase_file in " + cfg + " names the keystore's passphrase file, and an MCP host starts toll without a terminal to ask on: toll serve will not unlock the key")
	}
	if passFile != "" {
		abs, err := filepath.Abs(passFile)
		if err != nil {
			return mcpEntry{}, err
		}
		e.Args = append(e.Args, "--passphrase-file", abs)
	}
	return e, nil
}

// installEntry merges entry, as servers[name] under key, into the JSON config at path
// (created if missing), keeping everything else there. It first copies the file to a
// timestamped backup, which it returns. An entry of that name is replaced only with force.
func installEntry(path, key, name string, entry mcpEntry, force bool, now time.Time) (backup string, err error) {
	doc := map[string]json.RawMessage{}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return "", err
	case len(bytes.TrimSpace(old)) > 0:
		if err := json.Unmarshal(old, &doc); err != nil {
			return "", fmt.Errorf("%s is not a JSON object (%v); nothing was changed: add the snippet toll mcp-config prints by hand", path, err)
		}
	}
	servers := map[string]json.RawMessage{}
	if raw, ok := doc[key]; ok {
		if err := json.Unmarshal(raw, &servers); err != nil {
			return "", fmt.Errorf("%s: %q is not an object (%v); nothing was changed", path, key, err)
		}
	}
	if _, ok := servers[name]; ok && !force {
		return "", fmt.Errorf("%s already has a server named %q; nothing was changed: pass --force to replace it, or --name to add toll under another name", path, name)
	}
	if servers[name], err = json.Marshal(entry); err != nil {
		return "", err
	}
	if doc[key], err = json.Marshal(servers); err != nil {
		return "", err
	}
	text, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	mode := fs.FileMode(0o600)
	if old != nil {
		fi, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		mode = fi.Mode().Perm()
		backup = fmt.Sprintf("%s.%s.bak", path, now.UTC().Format("20060102T150405.000000000Z"))
		if err := os.WriteFile(backup, old, mode); err != nil {
			return "", fmt.Errorf("back up %s: %w; nothing was changed", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return backup, replaceFile(path, append(text, '\n'), mode)
}

// replaceFile writes data to path whole or not at all: a temporary file in the same
// directory, renamed over path.
func replaceFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

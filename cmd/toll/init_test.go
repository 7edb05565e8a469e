package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// TestInitWithFlags runs toll init --yes through the built binary: it writes a toll.yaml
// that loads with the chosen network, caps and keystore, and a keystore (0600) whose
// address it prints; run again it refuses to overwrite, and with --force keeps the key.
func TestInitWithFlags(t *testing.T) {
	dir := t.TempDir()
	const pass = "init passphrase 42"
	passFile := writeFile(t, dir, "pass.txt", pass+"\n")
	cfg := filepath.Join(dir, "conf", "toll.yaml")
	ks := filepath.Join(dir, "conf", "key.json")
	args := []string{"init", "--yes", "--light", "--config", cfg, "--network", "base-sepolia", "--per-call", "0.05", "--per-day", "2", "--passphrase-file", passFile}

	r := runBinary(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	w, err := keystore.Open(ks, pass, wallet.Options{})
	if err != nil {
		t.Fatalf("the keystore next to toll.yaml: %v", err)
	}
	if got := strings.TrimSpace(r.stdout); got != w.Address().Hex() {
		t.Errorf("stdout = %q, want only the address %s", got, w.Address().Hex())
	}
	for _, want := range []string{"Fund " + w.Address().Hex() + " with USDC on base-sepolia (eip155:84532)", "https://faucet.circle.com", "toll config check --config " + cfg} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatalf("the toll.yaml init wrote does not load: %v", err)
	}
	if c.Wallet.Keystore != ks || c.Wallet.PassphraseFile != passFile || len(c.Networks) != 1 || c.Networks[0] != "base-sepolia" ||
		c.Caps.PerCall.String() != "0.05" || c.Caps.PerDay.String() != "2" {
		t.Errorf("toll.yaml = %+v, want keystore %s, passphrase file %s, network base-sepolia, caps 0.05 and 2", c, ks, passFile)
	}
	text, _ := os.ReadFile(cfg)
	if !strings.Contains(string(text), "# Caps in USDC") {
		t.Errorf("toll.yaml has no comments:\n%s", text)
	}
	// The commented mcp_servers example is a valid entry once uncommented.
	var uncommented []string
	example := false
	for _, l := range strings.Split(string(text), "\n") {
		example = example || strings.HasPrefix(l, "# mcp_servers:")
		if example {
			l = strings.TrimPrefix(l, "# ")
		}
		uncommented = append(uncommented, l)
	}
	withMCP := writeFile(t, t.TempDir(), "toll.yaml", strings.Join(uncommented, "\n"))
	if c, err := loadConfig(withMCP); err != nil || len(c.MCPServers) != 1 || c.MCPServers[0].Namespace != "market" {
		t.Errorf("toll.yaml with its mcp_servers example uncommented: %+v, %v; want one entry, market", c, err)
	}
	for _, p := range []string{cfg, ks} {
		if fi, err := os.Stat(p); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", p, err)
		}
	}

	if check := runBinary(t, nil, "config", "check", "--config", cfg); check.code != 0 || !strings.Contains(check.stdout, "per call 0.05") {
		t.Errorf("toll config check of what init wrote: exit code %d, stdout %q, stderr %q", check.code, check.stdout, check.stderr)
	}

	again := runBinary(t, nil, args...)
	if again.code != 1 || !strings.Contains(again.stderr, "--force") {
		t.Errorf("second init: exit code %d, stderr %q; want a refusal that names --force", again.code, again.stderr)
	}
	if now, _ := os.ReadFile(cfg); string(now) != string(text) {
		t.Error("a refused init changed toll.yaml")
	}
	forced := runBinary(t, nil, append(args, "--force", "--per-call", "0.01")...)
	if forced.code != 0 || strings.TrimSpace(forced.stdout) != w.Address().Hex() || !strings.Contains(forced.stderr, "kept as it was") {
		t.Fatalf("init --force: exit code %d, stdout %q, stderr %q; want the same address, the keystore kept", forced.code, forced.stdout, forced.stderr)
	}
	if c, err := loadConfig(cfg); err != nil || c.Caps.PerCall.String() != "0.01" {
		t.Errorf("after --force, toll.yaml = %+v (%v), want per_call 0.01", c, err)
	}

	t.Run("import a piped key", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "toll.yaml")
		r := runBinaryInput(t, importTestKey+"\n", []string{envPassphrase + "=" + pass}, "init", "--yes", "--light", "--config", cfg, "--key", "import")
		want, _ := wallet.FromHex(importTestKey, wallet.Options{})
		if r.code != 0 || strings.TrimSpace(r.stdout) != want.Address().Hex() {
			t.Fatalf("exit code %d, stdout %q, stderr %q; want the imported key's address %s", r.code, r.stdout, r.stderr, want.Address().Hex())
		}
		if strings.Contains(r.stderr+r.stdout, importTestKey[:16]) {
			t.Error("the key is in the output")
		}
		if !strings.Contains(r.stderr, "passphrase_file") {
			t.Errorf("stderr = %q, want the advice to name a passphrase file for MCP hosts", r.stderr)
		}
	})
	t.Run("bad network", func(t *testing.T) {
		r := runBinary(t, nil, "init", "--yes", "--config", filepath.Join(t.TempDir(), "toll.yaml"), "--network", "solana")
		if r.code != 2 || !strings.Contains(r.stderr, "--network solana") {
			t.Errorf("exit code %d, stderr %q; want a usage error naming --network", r.code, r.stderr)
		}
	})
}

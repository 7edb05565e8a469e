package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigThatCannotWorkFailsAtStart: an --rpc that is not NETWORK=URL, an --asset on a
// network that is not allowed, and an allowed network where nothing could be paid stop the
// built binary at start: exit 2, one line naming the value and the fix (and the pointer to
// --help), before any wallet is unlocked or ledger created. No key is configured, so an
// error about the wallet would mean the check came too late.
func TestConfigThatCannotWorkFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	spec, _ := filepath.Abs(weatherSpec)
	ledgerFile := filepath.Join(dir, "l.db")
	const usdcMainnet = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	configWith := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		args   []string
		want   []string // in the error line
		hidden string   // never in the output
	}{
		{"--rpc without NETWORK=", []string{"--rpc", "notavalue"},
			[]string{"--rpc notavalue: want NETWORK=URL", "eip155:8453=https://"}, ""},
		{"--rpc with a network and no URL", []string{"--rpc", "base"},
			[]string{"--rpc base names no URL: want base=URL"}, ""},
		{"--rpc URL without a network", []string{"--rpc", "https://rpc.example.com/v2/SECRETKEY42"},
			[]string{"--rpc https://rpc.example.com/… names no network"}, "SECRETKEY42"},
		{"--rpc URL with = in its query, without a network", []string{"--rpc", "https://rpc.example.com/v2?key=SECRETKEY42"},
			[]string{"names no network"}, "SECRETKEY42"},
		{"--rpc with a URL that is none", []string{"--rpc", "eip155:8453=mainnet.base.org"},
			[]string{"--rpc eip155:8453=mainnet.base.org: not a JSON-RPC endpoint", "http, https, ws or wss URL"}, ""},
		{"--rpc with an unknown network", []string{"--rpc", "solana=https://rpc.example.com"},
			[]string{"unknown network solana"}, ""},
		{"--asset on a network not allowed", []string{"--network", "eip155:8453", "--asset", "eip155:1=" + usdcMainnet},
			[]string{"--asset eip155:1=" + usdcMainnet + ": network eip155:1 is not allowed (allowed: eip155:8453)", "--network eip155:1", "--asset " + usdcMainnet + " to allow"}, ""},
		{"--asset on a network, none allowed", []string{"--asset", "base=" + usdcMainnet},
			[]string{"network base is not allowed (allowed: none)"}, ""},
		{"a network with no known USDC and no asset", []string{"--network", "eip155:8453,eip155:999999"},
			[]string{"--network eip155:999999: toll knows no USDC contract on eip155:999999", "--asset eip155:999999=TOKEN"}, ""},
		{"the same from toll.yaml", []string{"--config", configWith("unknown.yaml", "networks: [eip155:999999]\n")},
			[]string{"--network eip155:999999: toll knows no USDC contract"}, ""},
		{"an asset on another network does not pay there", []string{"--network", "eip155:999999,base", "--asset", "base=" + usdcMainnet},
			[]string{"--network eip155:999999"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--ledger", ledgerFile, spec}, tt.args...)
			r := runBinary(t, nil, args...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "toll: ") || lines[1] != "Run 'toll serve --help' for usage." {
				t.Fatalf("stderr is not one error line and the pointer to --help:\n%s", r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error lacks %q:\n%s", w, lines[0])
				}
			}
			if tt.hidden != "" && strings.Contains(r.stderr+r.stdout, tt.hidden) {
				t.Errorf("output shows %q:\n%s", tt.hidden, r.stderr)
			}
			if _, err := os.Stat(ledgerFile); !os.IsNotExist(err) {
				t.Fatalf("a ledger was created (stat: %v)", err)
			}
		})
	}

	// What works stays: an asset without a network is allowed on every allowed network,
	// one unknown to toll included, and serve starts (and ends with its empty stdin).
	k := newKeyFiles(t, dir, "a passphrase for the start test")
	r := runBinary(t, nil, "serve", "--keystore", k.keystore, "--passphrase-file", k.passFile, "--ledger", ledgerFile,
		"--network", "eip155:999999", "--asset", usdcMainnet, "--rpc", "eip155:999999=http://127.0.0.1:1", spec)
	if r.code != 0 || !strings.Contains(r.stderr, "toll serving") {
		t.Errorf("serve with an asset on every network: exit code %d; stderr:\n%s", r.code, r.stderr)
	}
}

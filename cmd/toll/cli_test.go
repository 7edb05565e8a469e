package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

func runTest(t *testing.T, getenv env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errb bytes.Buffer
	err = run(t.Context(), args, strings.NewReader(""), &out, &errb, getenv)
	return out.String(), errb.String(), err
}

func TestUsageErrors(t *testing.T) {
	spec := filepath.Join("..", "..", "testdata", "specs", "weather.yaml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "needs a command"},
		{"unknown command", []string{"pay-everything"}, `unknown command "pay-everything"`},
		{"serve without spec", []string{"serve"}, "needs OpenAPI specs"},
		{"bad cap", []string{"serve", "--max-per-call", "1,5", spec}, "--max-per-call"},
		{"cap with too many decimals", []string{"serve", "--max-per-session", "0.0000001", spec}, "--max-per-session"},
		{"negative cap", []string{"serve", "--max-per-day", "-1", spec}, "--max-per-day"},
		{"bad asset", []string{"serve", "--asset", "0x12", spec}, "--asset"},
		{"bad window", []string{"serve", "--max-window", "-1s", spec}, "--max-window"},
		{"bad log level", []string{"serve", "--log-level", "loud", "--private-key-env", "K", spec}, "--log-level"},
		{"unknown flag", []string{"serve", "--pay-anything"}, "unknown flag: --pay-anything"},
		{"single-dash long flag", []string{"ledger", "list", "-ledger", "x.db"}, "two dashes"},
		{"ledger without subcommand", []string{"ledger"}, "list, verify, export, report, reconcile, migrate or copy"},
		{"unknown subcommand", []string{"catalog", "lst"}, `unknown command "lst" for toll catalog; did you mean list?`},
		{"ledger bad format", []string{"ledger", "list", "--format", "xml", "--ledger", filepath.Join(t.TempDir(), "l.db")}, "--format"},
		{"flag of another command", []string{"catalog", "list", "--lazy", "on", spec}, "unknown flag: --lazy"},
		{"light on wallet address", []string{"wallet", "address", "--light", "--keystore", "k.json"}, "unknown flag: --light"},
		{"format on ledger verify", []string{"ledger", "verify", "--format", "json"}, "unknown flag: --format"},
		{"catalog tools as text", []string{"catalog", "tools", "--format", "text", spec}, "want json"},
		{"catalog list as csv", []string{"catalog", "list", "--format", "csv", spec}, "want text or json"},
		{"export as json", []string{"ledger", "export", "--format", "json"}, "want csv, jsonl, hledger or beancount"},
		{"negative terms-ttl", []string{"serve", spec, "--terms-ttl", "-1s"}, "--terms-ttl"},
		{"negative lazy-threshold", []string{"serve", spec, "--lazy-threshold", "-1"}, "--lazy-threshold"},
		{"bad lazy", []string{"catalog", "tools", spec, "--lazy", "sometimes"}, "want auto, on or off"},
		{"argument to verify", []string{"ledger", "verify", "x.db"}, "takes no arguments"},
		{"flag after the spec", []string{"serve", spec, "--private-key-env", "K", "--log-level", "loud"}, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runTest(t, nil, tt.args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestServeStartupErrors(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join("..", "..", "testdata", "specs", "weather.yaml")
	ks := filepath.Join(dir, "key.json")
	createKeystore(t, ks, "right passphrase")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("openapi: 3.0.3\ninfo: [not, a, map\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envWith := func(kv ...string) env {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name   string
		getenv env
		args   []string
		want   []string
		secret string
	}{
		{"missing spec file", nil, []string{"serve", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml"}, ""},
		{"malformed spec", nil, []string{"serve", bad}, []string{"bad.yaml"}, ""},
		{"no key at all", nil, []string{"serve", "--ledger", filepath.Join(dir, "l.db"), spec}, []string{"unlock wallet", "--keystore FILE", "--private-key-env NAME"}, ""},
		{"wrong passphrase", envWith("TOLL_PASSPHRASE", "hunter2-not-it"), []string{"serve", "--keystore", ks, spec}, []string{"passphrase"}, "hunter2-not-it"},
		{"no passphrase", nil, []string{"serve", "--keystore", ks, spec}, []string{"TOLL_PASSPHRASE", "--passphrase-file"}, ""},
		{"not a keystore", envWith("TOLL_PASSPHRASE", "right passphrase"), []string{"serve", "--keystore", spec, spec}, []string{"weather.yaml", "not a keystore file", "--keystore takes"}, ""},
		{"raw key variable empty", nil, []string{"serve", "--private-key-env", "MY_KEY", spec}, []string{"MY_KEY"}, ""},
		{"raw key malformed", envWith("MY_KEY", "0xnot-a-key-at-all"), []string{"serve", "--private-key-env", "MY_KEY", spec}, []string{"MY_KEY"}, "not-a-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runTest(t, tt.getenv, tt.args...)
			if err == nil {
				t.Fatal("err = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to mention %q", err, w)
				}
			}
			if tt.secret != "" && (strings.Contains(err.Error(), tt.secret) || strings.Contains(stderr, tt.secret)) {
				t.Errorf("a secret leaked into the error or logs: %q", err)
			}
		})
	}
}

// TestDemo runs "toll demo" in-process: it checks its own claims (balances, refusal,
// ledger) and fails if any does not hold.
func TestDemo(t *testing.T) {
	out, stderr, err := runTest(t, nil, "demo")
	if err != nil {
		t.Fatalf("toll demo: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	for _, want := range []string{
		"x402 version 1", "x402 version 2", "PRICE", "0.001 USDC", "0.005 USDC",
		"✓ exactly the advertised 0.001 USDC moved", "✓ exactly the advertised 0.005 USDC moved",
		"✓ refused before signing", "per-session cap", "hash chain verified", "settled", "the head signed with the payer's key",
		"A paid MCP tool", "market_get_weather", "✓ exactly the advertised 0.001 USDC moved\n\n7.",
		"3 payments on chain, 3 settled in the ledger as the chain says, 0 not yet reconciled",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := runTest(t, nil, args...)
		if err != nil || !strings.HasPrefix(out, "toll ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
}

// createKeystore writes a fresh key to a light keystore at path and returns
// its wallet.
func createKeystore(t *testing.T, path, passphrase string) *wallet.Wallet {
	t.Helper()
	w, err := keystore.Create(path, passphrase, true, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWalletCommands(t *testing.T) {
	dir := t.TempDir()
	ks := filepath.Join(dir, "key.json")
	getenv := func(k string) string {
		if k == "TOLL_PASSPHRASE" {
			return "a long enough passphrase"
		}
		return ""
	}
	out, _, err := runTest(t, getenv, "wallet", "new", "--keystore", ks, "--light")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(out)
	if _, err := wallet.ParseAddress(addr); err != nil {
		t.Fatalf("wallet new printed %q: %v", out, err)
	}
	out, _, err = runTest(t, getenv, "wallet", "address", "--keystore", ks)
	if err != nil || strings.TrimSpace(out) != addr {
		t.Fatalf("wallet address = %q, %v; want %s", out, err, addr)
	}
	if _, _, err := runTest(t, getenv, "wallet", "new", "--keystore", ks, "--light"); err == nil {
		t.Error("wallet new overwrote an existing keystore")
	}
	wrong := func(k string) string {
		if k == "TOLL_PASSPHRASE" {
			return "not the passphrase"
		}
		return ""
	}
	if _, _, err := runTest(t, wrong, "wallet", "address", "--keystore", ks); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, _, err := runTest(t, nil, "wallet", "new", "--keystore", filepath.Join(dir, "k2.json")); !errors.Is(err, keystore.ErrNoPassphrase) {
		t.Errorf("no passphrase: %v", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// weatherSpec is the spec of testdata, from this package's directory.
var weatherSpec = filepath.Join("..", "..", "testdata", "specs", "weather.yaml")

// TestHelpOnEveryCommand walks the whole command tree: --help (and -h) on any command
// prints its usage on stdout and succeeds, so the process exits 0.
func TestHelpOnEveryCommand(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk((&app{env: func(string) string { return "" }}).root(), nil)
	if len(paths) < 18 {
		t.Fatalf("the tree has %d commands, want every command of toll: %v", len(paths), paths)
	}
	for _, path := range paths {
		for _, flag := range []string{"--help", "-h"} {
			out, stderr, err := runTest(t, nil, append(path, flag)...)
			if err != nil || exitCode(err, io.Discard) != 0 || !strings.Contains(out, "Usage:") {
				t.Errorf("toll %s %s: err %v, stdout:\n%s\nstderr:\n%s", strings.Join(path, " "), flag, err, out, stderr)
			}
		}
	}
}

// TestHelpListsEveryCommand: the help of a group names each of its commands, probe and
// reconcile included.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"serve", "demo", "devnet", "catalog", "wallet", "ledger", "version"}},
		{[]string{"catalog", "--help"}, []string{"list", "tools", "check", "probe"}},
		{[]string{"ledger", "--help"}, []string{"list", "verify", "export", "reconcile"}},
		{[]string{"wallet", "--help"}, []string{"new", "address"}},
		{[]string{"help", "ledger"}, []string{"reconcile"}},
	} {
		out, _, err := runTest(t, nil, tc.args...)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, "\n  "+w+" ") {
				t.Errorf("%v does not list %s:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err      error
		code     int
		stderrIn string
	}{
		{nil, 0, ""},
		{errors.New("ledger busy"), 1, "toll: ledger busy\n"},
		{usageError{msg: "unknown flag: --x", cmd: "toll catalog list"}, 2, "Run 'toll catalog list --help' for usage."},
	} {
		var stderr bytes.Buffer
		if got := exitCode(tc.err, &stderr); got != tc.code || !strings.Contains(stderr.String(), tc.stderrIn) {
			t.Errorf("exitCode(%v) = %d, stderr %q; want %d and %q", tc.err, got, stderr.String(), tc.code, tc.stderrIn)
		}
	}
	// A usage error from the tree knows its command, for the hint.
	_, _, err := runTest(t, nil, "ledger", "list", "--nope")
	var u usageError
	if !errors.As(err, &u) || u.cmd != "toll ledger list" {
		t.Errorf("err = %#v, want a usage error of toll ledger list", err)
	}
}

// TestReadOnlyCommandsCreateNothing: a ledger path with no ledger is an error that names it,
// and no file or directory appears.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo", "x.db")
	for _, args := range [][]string{
		{"ledger", "verify", "--ledger", typo},
		{"ledger", "list", "--ledger", typo},
		{"ledger", "export", "--ledger", typo, "--format", "jsonl"},
		{"ledger", "reconcile", "--ledger", typo, "--rpc", "base=http://127.0.0.1:1"},
		{"wallet", "address", "--keystore", filepath.Join(dir, "key.json")},
		{"catalog", "list", "--probes", filepath.Join(dir, "probes.json"), weatherSpec},
	} {
		_, _, err := runTest(t, nil, args...)
		if args[0] == "ledger" && (err == nil || !strings.Contains(err.Error(), "no ledger at "+typo)) {
			t.Errorf("%v: err = %v, want one saying there is no ledger at %s", args, err, typo)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%v created %v", args, entries)
		}
	}
	// TOLL_LEDGER is the fallback of --ledger, for the same rule.
	getenv := func(k string) string {
		if k == envLedger {
			return typo
		}
		return ""
	}
	if _, _, err := runTest(t, getenv, "ledger", "verify"); err == nil || !strings.Contains(err.Error(), typo) {
		t.Errorf("ledger verify with $TOLL_LEDGER: %v", err)
	}
}

// TestLedgerCommands reads a real ledger with each read command and format.
func TestLedgerCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := led.Reserve(t.Context(), ledger.Intent{CallID: "call_1", Tool: "wx_getWeather", Network: "eip155:84532",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(1000), PayTo: "0x1111111111111111111111111111111111111111",
		Payer: "0x2222222222222222222222222222222222222222", Nonce: "0x" + strings.Repeat("ab", 32), ValidBefore: time.Now().Add(time.Minute)}, ledger.Caps{}); err != nil {
		t.Fatal(err)
	}
	led.Close()
	config := filepath.Join(dir, "toll.yaml")
	if err := os.WriteFile(config, []byte("ledger: "+path+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ledger", "list", "--ledger", path}, "wx_getWeather  0.001"},
		{[]string{"ledger", "list", "--format", "table", "--ledger", path}, "wx_getWeather  0.001"},
		{[]string{"ledger", "list", "--format", "json", "--ledger", path}, `"amount": "1000"`},
		{[]string{"ledger", "list", "--config", config}, "wx_getWeather"},
		{[]string{"ledger", "verify", "--ledger", path}, "1 events, hash chain intact"},
		{[]string{"ledger", "export", "--ledger", path}, "call_1"},
		{[]string{"ledger", "export", "--format", "jsonl", "--ledger", path}, `"call_1"`},
	} {
		out, _, err := runTest(t, nil, tc.args...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %v\n%s\nwant %q", tc.args, err, out, tc.want)
		}
	}
	out, _, err := runTest(t, nil, "ledger", "list", "--format", "json", "--ledger", path)
	var spends []ledger.Spend
	if err != nil || json.Unmarshal([]byte(out), &spends) != nil || len(spends) != 1 || spends[0].CallID != "call_1" {
		t.Errorf("ledger list --format json: %v %+v\n%s", err, spends, out)
	}
}

// TestFlagsAnywhere: flags after the specs are flags, and -- ends them.
func TestFlagsAnywhere(t *testing.T) {
	out, _, err := runTest(t, nil, "catalog", "list", weatherSpec, "--format", "json")
	var rows []listRow
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 4 || rows[0].Tool != "weather_demo_getClimateHistory" {
		t.Fatalf("catalog list SPEC --format json: %v %+v\n%s", err, rows, out)
	}
	if rows[0].Price == nil || rows[0].Price.AtomicString() != "250000" || rows[0].PriceFrom != "x-payment-info" {
		t.Errorf("row %+v, want the spec's price of 0.25", rows[0])
	}
	// serve loads no spec named like a flag: it stops at the key, after the flags were read.
	_, _, err = runTest(t, nil, "serve", weatherSpec, "--network", "eip155:84532", "--ledger", filepath.Join(t.TempDir(), "l.db"))
	if err == nil || strings.Contains(err.Error(), "--network") || !strings.Contains(err.Error(), "unlock wallet") {
		t.Errorf("serve SPEC --network N: %v, want the wallet error that comes after loading the spec", err)
	}
	_, _, err = runTest(t, nil, "catalog", "check", "--", "--format")
	if err == nil || !strings.Contains(err.Error(), "did not load") {
		t.Errorf("catalog check -- --format: %v, want --format loaded as a spec", err)
	}
}

// TestConfigAndFlagsAgree: a value is read by the same type in toll.yaml and on the
// command line, so both refuse the same values and accept the same ones.
func TestConfigAndFlagsAgree(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flag, key, value string
		ok               bool
	}{
		{"--terms-ttl", "terms_ttl", "-1s", false},
		{"--terms-ttl", "terms_ttl", "90s", true},
		{"--max-window", "max_window", "600", false}, // no unit
		{"--max-per-call", "caps: {per_call", "none", true},
		{"--max-per-call", "caps: {per_call", "0.0000001", false},
		{"--lazy", "lazy", "sometimes", false},
		{"--lazy-threshold", "lazy_threshold", "-5", false},
		{"--asset", "assets: [", "0x12", false},
	} {
		_, _, flagErr := runTest(t, nil, "serve", weatherSpec, tc.flag, tc.value)
		body := tc.key + ": " + tc.value + "\n"
		if strings.Contains(tc.key, "{") {
			body = tc.key + ": " + tc.value + "}\n"
		} else if strings.HasSuffix(tc.key, "[") {
			body = tc.key + tc.value + "]\n"
		}
		cfg := filepath.Join(dir, "toll.yaml")
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, fileErr := runTest(t, nil, "catalog", "list", "--config", cfg, weatherSpec)
		var u usageError
		flagRefused := errors.As(flagErr, &u)
		if flagRefused == tc.ok || (fileErr != nil) == tc.ok {
			t.Errorf("%s %q: flag err %v, toll.yaml err %v; want both to accept it: %v", tc.flag, tc.value, flagErr, fileErr, tc.ok)
		}
	}
}

// TestServeStopsOnInterrupt: Ctrl-C (the context ends) while serving stdio is a normal
// stop: run returns nil, so the process exits 0.
func TestServeStopsOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	ks := filepath.Join(dir, "key.json")
	createKeystore(t, ks, "a long enough passphrase")
	getenv := func(k string) string {
		if k == envPassphrase {
			return "a long enough passphrase"
		}
		return ""
	}
	stdin, stdinW := io.Pipe() // a host that stays connected and says nothing
	defer stdinW.Close()
	var stderr safeBuffer
	err := interruptWhen(t, &stderr, "toll serving", func(ctx context.Context) error {
		return run(ctx, []string{"serve", weatherSpec, "--keystore", ks, "--ledger", filepath.Join(dir, "l.db")}, stdin, io.Discard, &stderr, getenv)
	})
	if err != nil || exitCode(err, io.Discard) != 0 {
		t.Errorf("serve after an interrupt: %v (exit %d)\n%s", err, exitCode(err, io.Discard), stderr.String())
	}
}

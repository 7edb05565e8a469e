package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// runBinaryInput is runBinary with stdin holding input.
func runBinaryInput(t *testing.T, input string, env []string, args ...string) binRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tollBinary(t), args...)
	cmd.Env = append(withoutTollEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(input), &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("toll %s: %v", strings.Join(args, " "), err)
	}
	return binRun{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

// importTestKey is a private key the import tests pipe in; it holds no funds anywhere.
const importTestKey = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

// TestWalletImport runs toll wallet import through the built binary: a key piped in, and
// the keystores go-ethereum and Foundry write, become toll keystores (0600) that toll
// wallet address unlocks; bad input and an existing file are refused. No output of any
// run holds the key.
func TestWalletImport(t *testing.T) {
	dir := t.TempDir()
	const pass = "import passphrase 7q"
	passEnv := []string{envPassphrase + "=" + pass}
	raw, _ := wallet.FromHex(importTestKey, wallet.Options{})
	foundry, _ := wallet.FromHex("80d3a6ed7b24dcd652949bc2f3827d2f883b3722e3120b15a93a2e0790f03829", wallet.Options{})
	fromDir := filepath.Join("..", "..", "wallet", "keystore", "testdata")
	fromPass := func(p string) string {
		f := filepath.Join(dir, "from-"+p)
		if err := os.WriteFile(f, []byte(p+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tt := range []struct {
		name     string
		input    string
		env      []string
		args     []string
		wantCode int
		want     string // the address on stdout, or a part of stderr when wantCode != 0
	}{
		{"piped key", importTestKey + "\n", passEnv, nil, 0, raw.Address().Hex()},
		{"piped key with 0x", "0x" + importTestKey, passEnv, nil, 0, raw.Address().Hex()},
		{"go-ethereum keystore", "", passEnv, []string{"--from-keystore", filepath.Join(fromDir, "geth-foobar.json"), "--from-passphrase-file", fromPass("foobar")},
			0, "0x7EF5A6135f1FD6a02593eEdC869c6D41D934aef8"},
		{"Foundry keystore, passphrase in a variable", "", append([]string{envFromPassphrase + "=grOQ8QDnGHvpYJf"}, passEnv...),
			[]string{"--from-keystore", filepath.Join(fromDir, "foundry-scrypt.json")}, 0, foundry.Address().Hex()},
		{"wrong passphrase of the other keystore", "", passEnv, []string{"--from-keystore", filepath.Join(fromDir, "geth-foobar.json"), "--from-passphrase-file", fromPass("nope")},
			1, "wrong passphrase"},
		{"no passphrase for the other keystore", "", passEnv, []string{"--from-keystore", filepath.Join(fromDir, "geth-foobar.json")}, 1, envFromPassphrase},
		{"not a keystore", "", passEnv, []string{"--from-keystore", filepath.Join(fromDir, "README.md"), "--from-passphrase-file", fromPass("x")}, 1, "v3 keystore JSON file, as toll wallet new"},
		{"no key", "", passEnv, nil, 2, "no private key on stdin"},
		{"short key", importTestKey[:60], passEnv, nil, 1, "want 64 hex digits"},
		{"not hex", "g" + importTestKey[1:], passEnv, nil, 1, "not hex"},
		{"no new passphrase", importTestKey, nil, nil, 1, envPassphrase},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ks := filepath.Join(t.TempDir(), "key.json")
			r := runBinaryInput(t, tt.input, tt.env, append([]string{"wallet", "import", "--light", "--keystore", ks}, tt.args...)...)
			for _, out := range []string{r.stdout, r.stderr} {
				if strings.Contains(strings.ToLower(out), importTestKey[:16]) {
					t.Fatalf("the key is in the output:\n%s", out)
				}
			}
			if r.code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantCode != 0 {
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("stderr = %q, want it to mention %q", r.stderr, tt.want)
				}
				if _, err := os.Stat(ks); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a refused import left %s (stat: %v)", ks, err)
				}
				return
			}
			if got := strings.TrimSpace(r.stdout); got != tt.want {
				t.Errorf("stdout = %q, want only the address %s", got, tt.want)
			}
			if fi, err := os.Stat(ks); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("keystore %s: %v, mode %v; want mode 0600", ks, err, fi.Mode().Perm())
			}
			if w, err := keystore.Open(ks, pass, wallet.Options{}); err != nil || w.Address().Hex() != tt.want {
				t.Errorf("the new keystore opens to %v (%v), want %s", w, err, tt.want)
			}
			again := runBinaryInput(t, tt.input, tt.env, append([]string{"wallet", "import", "--light", "--keystore", ks}, tt.args...)...)
			if again.code != 1 || !strings.Contains(again.stderr, "already exists") {
				t.Errorf("importing over %s: exit code %d, stderr %q; want a refusal", ks, again.code, again.stderr)
			}
		})
	}
}

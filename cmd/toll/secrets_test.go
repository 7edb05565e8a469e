package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// hardhatKey is the Hardhat account #0 private key, published in Hardhat's documentation.
const hardhatKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

// assertNoKey fails if text holds any 12-digit window of key, in any letter case.
func assertNoKey(t *testing.T, what, text, key string) {
	t.Helper()
	lower, key := strings.ToLower(text), strings.ToLower(key)
	for i := 0; i+12 <= len(key); i++ {
		if strings.Contains(lower, key[i:i+12]) {
			t.Errorf("%s holds part of the private key:\n%s", what, text)
			return
		}
	}
}

// TestKeyNeverEchoed: a private key pasted where a variable's name or a file's path belongs,
// on the command line, in toll.yaml or in toll's variables, is refused with an error that
// says which setting it is and what belongs there, and never shows the key; the built
// binary's stdout and stderr are checked whole.
func TestKeyNeverEchoed(t *testing.T) {
	dir := t.TempDir()
	spec, _ := filepath.Abs(weatherSpec)
	k := newKeyFiles(t, dir, "a passphrase for the echo test")
	config := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keystoreInConfig := config("keystore.yaml", "wallet:\n  keystore: "+hardhatKey+"\n")
	passFileInConfig := config("passfile.yaml", "wallet:\n  keystore: "+k.keystore+"\n  passphrase_file: 0x"+hardhatKey+"\n")
	ledgerFile := filepath.Join(dir, "l.db")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string // the error names the setting and the fix
	}{
		{"--private-key-env given the key", nil, []string{"serve", "--private-key-env", hardhatKey, "--ledger", ledgerFile, spec},
			2, "the value given to --private-key-env looks like a private key itself; give the NAME of an environment variable"},
		{"--private-key-env given 0x and the key", nil, []string{"serve", "--private-key-env", "0x" + hardhatKey, "--ledger", ledgerFile, spec},
			2, "the NAME of an environment variable"},
		{"--private-key-env=the key", nil, []string{"serve", "--private-key-env=0x" + hardhatKey, "--ledger", ledgerFile, spec},
			2, "the NAME of an environment variable"},
		{"--keystore given the key", []string{"TOLL_PASSPHRASE=x"}, []string{"serve", "--keystore", hardhatKey, "--ledger", ledgerFile, spec},
			2, "path of an encrypted keystore file"},
		{"--keystore path holding the key", []string{"TOLL_PASSPHRASE=x"}, []string{"serve", "--keystore", filepath.Join(dir, "0x"+hardhatKey+".json"), "--ledger", ledgerFile, spec},
			2, "path of an encrypted keystore file"},
		{"$TOLL_KEYSTORE holding the key", []string{"TOLL_KEYSTORE=" + hardhatKey, "TOLL_PASSPHRASE=x"}, []string{"serve", "--ledger", ledgerFile, spec},
			2, "$TOLL_KEYSTORE"},
		{"wallet.keystore in toll.yaml holding the key", []string{"TOLL_PASSPHRASE=x"}, []string{"serve", "--config", keystoreInConfig, "--ledger", ledgerFile, spec},
			2, "wallet.keystore in toll.yaml"},
		{"--passphrase-file given the key", nil, []string{"serve", "--keystore", k.keystore, "--passphrase-file", hardhatKey, "--ledger", ledgerFile, spec},
			2, "--passphrase-file"},
		{"wallet.passphrase_file in toll.yaml holding the key", nil, []string{"serve", "--config", passFileInConfig, "--ledger", ledgerFile, spec},
			2, "wallet.passphrase_file in toll.yaml"},
		{"wallet address --keystore given the key", []string{"TOLL_PASSPHRASE=x"}, []string{"wallet", "address", "--keystore", "0x" + hardhatKey},
			2, "path of an encrypted keystore file"},
		{"wallet address --passphrase-file given the key", nil, []string{"wallet", "address", "--keystore", k.keystore, "--passphrase-file", hardhatKey},
			2, "--passphrase-file"},
		{"wallet new --keystore given the key", []string{"TOLL_PASSPHRASE=x"}, []string{"wallet", "new", "--light", "--keystore", hardhatKey},
			2, "path of an encrypted keystore file"},
		{"the variable holds a malformed key", []string{"MY_KEY=0x" + hardhatKey[:63] + "z"}, []string{"serve", "--private-key-env", "MY_KEY", "--ledger", ledgerFile, spec},
			1, "$MY_KEY"},
		{"the variable holds a key too long", []string{"MY_KEY=" + hardhatKey + "00"}, []string{"serve", "--private-key-env", "MY_KEY", "--ledger", ledgerFile, spec},
			1, "$MY_KEY"},
		{"--rpc given the key", nil, []string{"serve", "--rpc", hardhatKey, spec},
			2, "--rpc (a value that looks like a private key, not shown)"},
		{"--rpc URL given the key", nil, []string{"serve", "--rpc", "base=" + hardhatKey, spec},
			2, "not a JSON-RPC endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.env, tt.args...)
			assertNoKey(t, "stderr", r.stderr, hardhatKey)
			assertNoKey(t, "stdout", r.stdout, hardhatKey)
			if r.code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
		})
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 4 { // key.json, pass.txt and two configs: no ledger, no keystore named by the key
		t.Errorf("the refused commands left %v (%v); want only the test's files", entries, err)
	}
}

// TestExposedKeyFilesWarned: a keystore or passphrase file that group or others may read
// is named on stderr, with chmod 600, by toll wallet address and toll serve; private files
// are not.
func TestExposedKeyFilesWarned(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not say who may read a file on Windows: toll does not warn there")
	}
	dir := t.TempDir()
	spec, _ := filepath.Abs(weatherSpec)
	k := newKeyFiles(t, dir, "a passphrase for the mode test")
	chmod := func(path string, mode os.FileMode) {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	serve := []string{"serve", "--keystore", k.keystore, "--passphrase-file", k.passFile, "--ledger", filepath.Join(dir, "l.db"), "--network", "base", spec}
	address := []string{"wallet", "address", "--keystore", k.keystore, "--passphrase-file", k.passFile}
	tests := []struct {
		name              string
		keyMode, passMode os.FileMode
		warnings          int      // lines with chmod 600
		want              []string // in the warnings
	}{
		{"both private", 0o600, 0o400, 0, nil},
		{"keystore readable by all", 0o644, 0o600, 1, []string{"keystore " + k.keystore + " can be read or written by users other than its owner (mode 0644); restrict it: chmod 600 " + k.keystore}},
		{"passphrase file readable by the group", 0o600, 0o640, 1, []string{"passphrase file " + k.passFile + " can be read or written by users other than its owner (mode 0640); restrict it: chmod 600 " + k.passFile}},
		{"both", 0o604, 0o660, 2, []string{"keystore " + k.keystore + " can", "(mode 0604)", "passphrase file " + k.passFile + " can", "(mode 0660)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chmod(k.keystore, tt.keyMode)
			chmod(k.passFile, tt.passMode)
			for _, args := range [][]string{address, serve} { // serve ends when its stdin (empty) does
				r := runBinary(t, nil, args...)
				if r.code != 0 {
					t.Fatalf("toll %s: exit code %d; stderr:\n%s", args[0], r.code, r.stderr)
				}
				if got := strings.Count(r.stderr, "chmod 600"); got != tt.warnings {
					t.Errorf("toll %s: %d warnings, want %d; stderr:\n%s", args[0], got, tt.warnings, r.stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("toll %s: stderr lacks %q:\n%s", args[0], w, r.stderr)
					}
				}
			}
		})
	}
}

// fakeTerminal is a terminal for passphrasePrompt whose lines come from a list, and which
// records the descriptors it was asked about.
type fakeTerminal struct {
	tty   bool
	lines []string
	asked []int
}

func (f *fakeTerminal) terminal() terminal {
	return terminal{
		isTerminal: func(fd int) bool { f.asked = append(f.asked, fd); return f.tty },
		readPassword: func(_ context.Context, fd int) ([]byte, error) {
			if len(f.lines) == 0 {
				return nil, errors.New("no more input")
			}
			l := f.lines[0]
			f.lines = f.lines[1:]
			return []byte(l), nil
		},
	}
}

// TestPassphrasePrompt drives passphrasePrompt with an injected terminal and a real
// keystore: the prompt is offered only when stdin is a terminal, it asks on stderr, the
// passphrase unlocks the key and is never written, and a new keystore's passphrase must be
// typed the same twice. (TestPassphraseOnATerminal, on Linux, types into a real
// pseudo-terminal.)
func TestPassphrasePrompt(t *testing.T) {
	dir := t.TempDir()
	const pass = "typed at the terminal 7q"
	ks := filepath.Join(dir, "key.json")
	want := createKeystore(t, ks, pass).Address()
	stdin, err := os.Open(os.DevNull) // an *os.File, as os.Stdin is; the fake says whether it is a terminal
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()

	t.Run("not a terminal", func(t *testing.T) {
		f := &fakeTerminal{tty: false, lines: []string{pass}}
		if p := passphrasePrompt(t.Context(), stdin, &bytes.Buffer{}, f.terminal(), ks, false); p != nil {
			t.Error("a prompt for a stdin that is not a terminal")
		}
		if len(f.asked) != 1 || f.asked[0] != int(stdin.Fd()) {
			t.Errorf("asked about descriptors %v, want stdin's %d", f.asked, stdin.Fd())
		}
		if p := passphrasePrompt(t.Context(), strings.NewReader(pass+"\n"), &bytes.Buffer{}, (&fakeTerminal{tty: true}).terminal(), ks, false); p != nil {
			t.Error("a prompt for a stdin that is no file at all")
		}
	})
	t.Run("unlocks", func(t *testing.T) {
		var stderr bytes.Buffer
		f := &fakeTerminal{tty: true, lines: []string{pass}}
		src := keystore.Source{Keystore: ks, Prompt: passphrasePrompt(t.Context(), stdin, &stderr, f.terminal(), ks, false)}
		w, err := keystore.Load(src, func(string) string { return "" }, wallet.Options{})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if w.Address() != want {
			t.Errorf("unlocked %s, want %s", w.Address(), want)
		}
		if got := stderr.String(); got != "Passphrase for "+ks+": \n" || strings.Contains(got, pass) {
			t.Errorf("stderr = %q, want the prompt alone", got)
		}
	})
	t.Run("wrong passphrase", func(t *testing.T) {
		f := &fakeTerminal{tty: true, lines: []string{"not it"}}
		src := keystore.Source{Keystore: ks, Prompt: passphrasePrompt(t.Context(), stdin, &bytes.Buffer{}, f.terminal(), ks, false)}
		_, err := keystore.Load(src, func(string) string { return "" }, wallet.Options{})
		if !errors.Is(err, keystore.ErrWrongPassphrase) || !strings.Contains(err.Error(), "the prompt") {
			t.Errorf("Load = %v, want a wrong passphrase taken from the prompt", err)
		}
	})
	for _, tc := range []struct {
		name    string
		lines   []string
		wantErr string // "" : the passphrase is the first line
	}{
		{"new keystore, typed twice", []string{pass, pass}, ""},
		{"new keystore, typed differently", []string{pass, pass + "x"}, "the two passphrases typed differ"},
		{"new keystore, empty", []string{""}, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			f := &fakeTerminal{tty: true, lines: tc.lines}
			src := keystore.Source{Keystore: filepath.Join(dir, "new.json"), Prompt: passphrasePrompt(t.Context(), stdin, &stderr, f.terminal(), ks, true)}
			got, err := keystore.Passphrase(src, func(string) string { return "" })
			if tc.wantErr == "" {
				if err != nil || got != pass {
					t.Errorf("Passphrase = %q, %v; want the typed one", got, err)
				}
				if stderr.String() != "Passphrase for the new keystore "+ks+": \nThe same passphrase again: \n" {
					t.Errorf("stderr = %q, want the two prompts alone", stderr.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Passphrase = %q, %v; want an error mentioning %q", got, err, tc.wantErr)
			}
			if strings.Contains(stderr.String(), pass) || (err != nil && strings.Contains(err.Error(), pass)) {
				t.Errorf("the passphrase was written: stderr %q, err %v", stderr.String(), err)
			}
		})
	}
}

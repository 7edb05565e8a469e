package keystore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
)

// foundryKey is the private key of testdata/foundry-scrypt.json (see testdata/README.md).
const foundryKey = "80d3a6ed7b24dcd652949bc2f3827d2f883b3722e3120b15a93a2e0790f03829"

func TestImportHex(t *testing.T) {
	want, err := wallet.FromHex(foundryKey, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		key     string
		wantErr error
	}{
		{"bare", foundryKey, nil},
		{"0x and a newline", "0x" + strings.ToUpper(foundryKey) + "\n", nil},
		{"short", foundryKey[:62], ErrInvalidKey},
		{"not hex", "zz" + foundryKey[2:], ErrInvalidKey},
		{"zero", strings.Repeat("0", 64), ErrInvalidKey},
		{"above the curve order", strings.Repeat("f", 64), ErrInvalidKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.json")
			w, err := ImportHex(path, []byte(tt.key), testPassphrase, true, wallet.Options{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimSpace(tt.key))[2:20]) {
					t.Errorf("error %q shows the key", err)
				}
				if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
					t.Errorf("a keystore was written for a refused key (stat: %v)", serr)
				}
				return
			}
			if w.Address() != want.Address() {
				t.Errorf("address = %s, want %s", w.Address().Hex(), want.Address().Hex())
			}
			opened, err := Open(path, testPassphrase, wallet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if opened.Address() != want.Address() {
				t.Errorf("reopened address = %s, want %s", opened.Address().Hex(), want.Address().Hex())
			}
			if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
			}
			data, _ := os.ReadFile(path)
			if strings.Contains(strings.ToLower(string(data)), foundryKey) {
				t.Error("the keystore holds the key in clear")
			}
		})
	}
}

// TestImportForeignKeystores imports keystores written by go-ethereum and by the crate
// Foundry uses, and checks that a wrong passphrase, an existing target or an empty new
// passphrase leave nothing behind.
func TestImportForeignKeystores(t *testing.T) {
	foundry, _ := wallet.FromHex(foundryKey, wallet.Options{})
	for _, tt := range []struct {
		file, passphrase, address string
	}{
		{"geth-foobar.json", "foobar", "0x7EF5A6135f1FD6a02593eEdC869c6D41D934aef8"},
		{"foundry-scrypt.json", "grOQ8QDnGHvpYJf", foundry.Address().Hex()},
	} {
		t.Run(tt.file, func(t *testing.T) {
			from := filepath.Join("testdata", tt.file)
			path := filepath.Join(t.TempDir(), "key.json")
			if _, err := Import(path, from, "wrong", testPassphrase, true, wallet.Options{}); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: err = %v, want ErrWrongPassphrase", err)
			}
			if _, err := Import(path, from, tt.passphrase, "", true, wallet.Options{}); !errors.Is(err, ErrNoPassphrase) {
				t.Fatalf("empty new passphrase: err = %v, want ErrNoPassphrase", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a failed import left a file (stat: %v)", err)
			}
			w, err := Import(path, from, tt.passphrase, testPassphrase, true, wallet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Address().Hex(); got != tt.address {
				t.Errorf("address = %s, want %s", got, tt.address)
			}
			opened, err := Open(path, testPassphrase, wallet.Options{})
			if err != nil || opened.Address().Hex() != tt.address {
				t.Fatalf("reopen with the new passphrase: %v, %v", opened, err)
			}
			h, _ := readHeader(t, path)
			if !strings.EqualFold("0x"+h.Address, tt.address) {
				t.Errorf("the new keystore names address %q, want %s", h.Address, tt.address)
			}
			if _, err := Import(path, from, tt.passphrase, testPassphrase, true, wallet.Options{}); !errors.Is(err, fs.ErrExist) {
				t.Errorf("import over an existing keystore: err = %v, want fs.ErrExist", err)
			}
		})
	}
}

package keystore

import (
	"crypto/ecdsa"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
)

// The Hardhat account #0 key, published in Hardhat's documentation, and the
// passphrases the tests use: none may appear in any text this package
// produces.
const (
	hardhatKey      = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	hardhatAddr     = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
	testPassphrase  = "correct-horse-battery-staple-91k"
	otherPassphrase = "wrong-passphrase-for-tests-55q"
)

func hardhat(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeHardhat writes the Hardhat key to a light keystore at dir/name.
func writeHardhat(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := write(path, hardhat(t), testPassphrase, true); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyOf decrypts the keystore at path with go-ethereum alone and returns its
// key as 64 hex digits.
func keyOf(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gethkeystore.DecryptKey(data, testPassphrase)
	if err != nil {
		t.Fatalf("go-ethereum DecryptKey: %v", err)
	}
	return hex.EncodeToString(crypto.FromECDSA(k.PrivateKey))
}

// assertNoSecret fails if text contains, in any letter case, any 12-digit
// window of the given hex keys or the Hardhat key, or a test passphrase.
func assertNoSecret(t testing.TB, what, text string, keys ...string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, k := range append([]string{hardhatKey}, keys...) {
		k = strings.ToLower(k)
		for i := 0; i+12 <= len(k); i++ {
			if strings.Contains(lower, k[i:i+12]) {
				t.Errorf("%s contains part of a private key (%q…): %q", what, k[i:i+12], text)
				return
			}
		}
	}
	for _, p := range []string{testPassphrase, otherPassphrase} {
		if strings.Contains(text, p) {
			t.Errorf("%s contains a passphrase: %q", what, text)
		}
	}
}

// assertErrNoSecret checks err's text with assertNoSecret (nil is fine) and
// that it names no command-line flag.
func assertErrNoSecret(t testing.TB, err error, keys ...string) {
	t.Helper()
	if err == nil {
		return
	}
	assertNoSecret(t, "error", err.Error(), keys...)
	if strings.Contains(err.Error(), "--") {
		t.Errorf("error names a command-line flag: %q", err)
	}
}

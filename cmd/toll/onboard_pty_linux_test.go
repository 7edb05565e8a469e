package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// TestImportOnATerminal types a private key and the new passphrase into toll wallet
// import on a pseudo-terminal: echo is off for each, the terminal never shows the key,
// and the keystore written holds it.
func TestImportOnATerminal(t *testing.T) {
	const pass = "typed passphrase for import"
	ks := filepath.Join(t.TempDir(), "key.json")
	want, _ := wallet.FromHex(importTestKey, wallet.Options{})
	s := startOnTerminal(t, "wallet", "import", "--light", "--keystore", ks)
	s.typeAtPrompt(t, "Private key ", importTestKey+"\n")
	s.typeAtPrompt(t, "Passphrase for the new keystore ", pass+"\n")
	s.typeAtPrompt(t, "The same passphrase again: ", pass+"\n")
	if err := s.wait(t); err != nil {
		t.Fatalf("toll wallet import: %v\nstderr:\n%s", err, s.stderr.String())
	}
	for what, out := range map[string]string{"terminal": s.shown.String(), "stderr": s.stderr.String(), "stdout": s.stdout.String()} {
		if strings.Contains(out, importTestKey[:16]) || strings.Contains(out, pass) {
			t.Errorf("the %s shows the key or the passphrase: %q", what, out)
		}
	}
	if got := strings.TrimSpace(s.stdout.String()); got != want.Address().Hex() {
		t.Errorf("stdout = %q, want the address %s", got, want.Address().Hex())
	}
	if w, err := keystore.Open(ks, pass, wallet.Options{}); err != nil || w.Address() != want.Address() {
		t.Errorf("keystore opens to %v (%v), want %s", w, err, want.Address().Hex())
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// answerAt waits for question on stderr, then types text (echo on: it is no secret).
func (s *onTerminal) answerAt(t *testing.T, question, text string) {
	t.Helper()
	select {
	case <-s.stderr.seen(question):
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q; stderr:\n%s", question, s.stderr.String())
	}
	if _, err := s.master.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestInitOnATerminal answers toll init's questions on a pseudo-terminal: a refused
// answer is asked again, the defaults are taken on empty lines, the passphrase is typed
// without echo, and the toll.yaml and keystore written hold the answers.
func TestInitOnATerminal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "toll.yaml")
	ks := filepath.Join(dir, "payer.json")
	const pass = "typed init passphrase"
	s := startOnTerminal(t, "init", "--light", "--config", cfg)
	s.answerAt(t, "Network toll may pay on", "solana\n")
	s.answerAt(t, "unknown network", "base-sepolia\n")
	s.answerAt(t, "Most one call may pay", "0.5\n")
	s.answerAt(t, "Most all calls may pay in a day", "\n")
	s.answerAt(t, "Keystore file for the payer key", ks+"\n")
	s.answerAt(t, "Key: new", "\n")
	s.typeAtPrompt(t, "Passphrase for the new keystore ", pass+"\n")
	s.typeAtPrompt(t, "The same passphrase again: ", pass+"\n")
	if err := s.wait(t); err != nil {
		t.Fatalf("toll init: %v\nstderr:\n%s", err, s.stderr.String())
	}
	if strings.Contains(s.shown.String(), pass) {
		t.Errorf("the terminal showed the passphrase: %q", s.shown.String())
	}
	w, err := keystore.Open(ks, pass, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(s.stdout.String()); got != w.Address().Hex() {
		t.Errorf("stdout = %q, want the address %s", got, w.Address().Hex())
	}
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Networks[0] != "base-sepolia" || c.Caps.PerCall.String() != "0.5" || c.Caps.PerDay.String() != "5" || c.Wallet.Keystore != ks {
		t.Errorf("toll.yaml = %+v, want base-sepolia, per_call 0.5, the default per_day, keystore %s", c, ks)
	}
}

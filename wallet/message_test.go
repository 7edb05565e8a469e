package wallet

import (
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestSignLedgerHead(t *testing.T) {
	w, err := Generate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("toll ledger head\nseq: 7\nhash: ab12\ncounted total: 27367 (atomic units, 6 decimals)\n")
	sig, err := w.SignLedgerHead(text)
	if err != nil {
		t.Fatal(err)
	}
	got, err := RecoverMessage(text, sig)
	if err != nil || got != w.Address() {
		t.Fatalf("RecoverMessage = %v, %v; want %v", got, err, w.Address())
	}
	// The hash is go-ethereum's EIP-191 text hash, so any wallet app's check agrees.
	raw := append([]byte(nil), sig...)
	raw[64] -= 27
	pub, err := crypto.SigToPub(accounts.TextHash(text), raw)
	if err != nil || Address(crypto.PubkeyToAddress(*pub)) != w.Address() {
		t.Errorf("go-ethereum's TextHash recovers %v, %v; want %v", pub, err, w.Address())
	}
	changed := append([]byte(nil), text...)
	changed[len("toll ledger head\nseq: ")] = '8'
	if got, err := RecoverMessage(changed, sig); err == nil && got == w.Address() {
		t.Error("a changed head recovered the signer")
	}
	for name, bad := range map[string]string{
		"a login message":           "Sign in to example.com\nnonce: 1",
		"prefix only in the middle": "x toll ledger head\nseq: 1",
		"control characters":        "toll ledger head\nseq: 1\x00",
		"too long":                  "toll ledger head\n" + strings.Repeat("x", 600),
	} {
		if _, err := w.SignLedgerHead([]byte(bad)); !errors.Is(err, ErrNotLedgerHead) {
			t.Errorf("%s: err = %v, want ErrNotLedgerHead", name, err)
		}
	}
}

package wallet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/ethereum/go-ethereum/crypto"
)

// Ledger heads. toll's ledger signs the head of its hash chain with the payer's key so
// that anyone who knows only the payer's address can check the record was not rewritten
// (package ledger, signed.go). The signature is an EIP-191 personal message
// (https://eips.ethereum.org/EIPS/eip-191, version 0x45): the same form a wallet app
// shows as "sign message", so the check needs nothing but the address.
//
// The wallet signs no other text: a personal-message signature can mean anything to
// whoever receives it (a login, a consent), so SignLedgerHead signs only text shaped as
// a ledger head.

// ledgerHeadPrefix starts the text of every ledger head (ledger.HeadText).
const ledgerHeadPrefix = "toll ledger head\n"

// maxLedgerHead bounds the text of a ledger head.
const maxLedgerHead = 512

// ErrNotLedgerHead means SignLedgerHead was given text that is not a ledger head.
// Nothing is signed.
var ErrNotLedgerHead = fmt.Errorf("not a toll ledger head")

// textHash is the EIP-191 personal-message hash of text:
// keccak256("\x19Ethereum Signed Message:\n" ‖ len(text) ‖ text).
func textHash(text []byte) [32]byte {
	prefix := "\x19Ethereum Signed Message:\n" + strconv.Itoa(len(text))
	return crypto.Keccak256Hash([]byte(prefix), text)
}

// SignLedgerHead signs text, a ledger head (it starts "toll ledger head" and is short,
// printable text), as an EIP-191 personal message: r ‖ s ‖ v, 65 bytes, v 27 or 28. Any
// other text is refused with ErrNotLedgerHead.
func (w *Wallet) SignLedgerHead(text []byte) ([]byte, error) {
	s := string(text)
	if !strings.HasPrefix(s, ledgerHeadPrefix) || len(text) > maxLedgerHead ||
		strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }) {
		return nil, fmt.Errorf("sign: %w", ErrNotLedgerHead)
	}
	h := textHash(text)
	sig, err := crypto.Sign(h[:], w.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// RecoverMessage returns the address that signed text as an EIP-191 personal message with
// sig (r ‖ s ‖ v, v 27/28 or 0/1, low s).
func RecoverMessage(text, sig []byte) (Address, error) {
	return recoverDigest(textHash(text), sig)
}

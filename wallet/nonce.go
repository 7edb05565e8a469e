package wallet

import (
	"encoding/hex"
	"fmt"
)

// nonceHexLen is len("0x") + 64.
const nonceHexLen = 66

// ParseNonce parses an EIP-3009 authorization nonce: "0x" followed by 64 hex digits, in
// any letter case, as NonceHex writes it and as the ledger records it.
func ParseNonce(s string) ([32]byte, error) {
	var n [32]byte
	if len(s) != nonceHexLen || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return n, fmt.Errorf("parse nonce %q: want 0x followed by 64 hex digits", s)
	}
	for i := range n {
		hi, ok1 := unhex(s[2+2*i])
		lo, ok2 := unhex(s[3+2*i])
		if !ok1 || !ok2 {
			return [32]byte{}, fmt.Errorf("parse nonce %q: not hex; want 0x followed by 64 hex digits", s)
		}
		n[i] = hi<<4 | lo
	}
	return n, nil
}

// NonceHex writes a nonce as "0x" followed by 64 lower-case hex digits.
func NonceHex(n [32]byte) string { return "0x" + hex.EncodeToString(n[:]) }

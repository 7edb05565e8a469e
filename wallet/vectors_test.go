package wallet

import (
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
)

// Test vectors.
//
// spec*: the example payment payload of the x402 "exact" EVM scheme,
// https://github.com/x402-foundation/x402/blob/main/specs/schemes/exact/scheme_exact_evm.md
// (also in specs/transports-v2/http.md there): its authorization under Base
// Sepolia USDC's domain (name "USDC", version "2", chain 84532), its
// signature, and the struct hash and digest computed from them.
//
// hardhat*: the Hardhat account #0 key, published in Hardhat's
// documentation, signing the spec's message with its own address as from.
// The struct hash, digest and signature were computed with go-ethereum's
// signer/core/apitypes and crypto.Sign, and cross-checked with viem.
const (
	hardhatKey  = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	hardhatAddr = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

	specFrom        = "0x857b06519E91e3A54538791bDbb0E22373e36b66"
	specTo          = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	specNonce       = "f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"
	specStructHash  = "49ad644555c7bdf3ea4fc022a4940ae5589b230b1dde0065c5504fa19bbe39a4"
	specDigest      = "f256992871671abcb27ff92885a7afa46218724e5fc0bac35d050115aa1d22e6"
	specSignature   = "2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c"
	baseSepoliaUSDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
	baseSepoliaSep  = "71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818"

	hardhatStructHash = "b2438b1b8298f6129feb7c6a96cb5bee12d7e8ba27c7c27cde803071ebdc42e8"
	hardhatDigest     = "50708d3bf7216e1aeabe7bf22081b9f36c7c287530f92510318f13a03d89dc86"
	hardhatSignature  = "dc53a4a579de989368a0fae2ef2172ff2f474b4297013f865d171239f17ef4c3157b4b4030f1bebc53d55ace15c2377dff501a60e1e56c291f1000d6e78f082f1b"
)

func mustAddr(t testing.TB, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatalf("ParseAddress(%q): %v", s, err)
	}
	return a
}

func mustHex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 32 {
		t.Fatalf("bad 32-byte hex %q", s)
	}
	return [32]byte(b)
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

// sepoliaDomain is Base Sepolia USDC's EIP-712 domain.
func sepoliaDomain(t testing.TB) Domain {
	return Domain{Name: "USDC", Version: "2", ChainID: big.NewInt(84532), VerifyingContract: mustAddr(t, baseSepoliaUSDC)}
}

// specAuthorization is the x402 spec example's authorization, with the given
// from.
func specAuthorization(t testing.TB, from string) Authorization {
	return Authorization{
		From:        mustAddr(t, from),
		To:          mustAddr(t, specTo),
		Value:       big.NewInt(10000),
		ValidAfter:  big.NewInt(1740672089),
		ValidBefore: big.NewInt(1740672154),
		Nonce:       mustHex32(t, specNonce),
	}
}

// Secrets that must never show up in any text this package produces. The
// passphrases are the ones the tests use.
const (
	testPassphrase  = "correct-horse-battery-staple-91k"
	otherPassphrase = "wrong-passphrase-for-tests-55q"
)

// keyHex returns the private key of w as 64 lower-case hex digits.
func keyHex(w *Wallet) string {
	return hex.EncodeToString(w.key.D.FillBytes(make([]byte, 32)))
}

// assertNoSecret fails if text contains, in any letter case, any 12-digit
// window of the given hex keys or any of the given passphrases, or the
// Hardhat key or the test passphrases.
func assertNoSecret(t testing.TB, what, text string, secrets ...string) {
	t.Helper()
	lower := strings.ToLower(text)
	keys := append([]string{hardhatKey}, secrets...)
	for _, k := range keys {
		k = strings.ToLower(k)
		if len(k) == 64 && isHex(k) {
			for i := 0; i+12 <= len(k); i++ {
				if strings.Contains(lower, k[i:i+12]) {
					t.Errorf("%s contains part of a private key (%q…): %q", what, k[i:i+12], text)
					return
				}
			}
			continue
		}
		if strings.Contains(lower, k) {
			t.Errorf("%s contains a secret: %q", what, text)
		}
	}
	for _, p := range []string{testPassphrase, otherPassphrase} {
		if strings.Contains(text, p) {
			t.Errorf("%s contains a passphrase: %q", what, text)
		}
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// assertErrNoSecret checks err's text with assertNoSecret (nil is fine).
func assertErrNoSecret(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err != nil {
		assertNoSecret(t, "error", err.Error(), secrets...)
	}
}

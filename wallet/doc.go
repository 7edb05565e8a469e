// Package wallet holds toll's signing key and signs x402 "exact" payments:
// EIP-3009 TransferWithAuthorization messages under a token's EIP-712
// domain. It knows Ethereum, not HTTP or x402 JSON: callers pass the fields
// (payee, amount, window, domain name and version from the requirement's
// extra) and get back a 65-byte signature.
//
// It is the only non-test package of toll that imports go-ethereum, and its
// API uses only its own types and the standard library, so other packages
// need not import go-ethereum. It uses go-ethereum's crypto package alone:
// the EIP-712 hash of this one struct is written out here rather than taken
// from signer/core/apitypes, and the keystore format is implemented on
// golang.org/x/crypto/scrypt rather than taken from accounts/keystore,
// because both of those import core/types and with it the KZG and gnark
// libraries. Tests cross-check both against go-ethereum.
//
// # Custody
//
// A key comes from an encrypted go-ethereum v3 keystore (OpenKeystore, or
// Load with Source.Keystore and a passphrase from a file or the
// environment), from a raw hex key only when the user opts in explicitly
// (Source.AllowRawKey), or from Generate for a throwaway demo wallet. Keys,
// keystore salts and IVs always come from crypto/rand; Options.Rand only
// supplies authorization nonces.
//
// # Invariants
//
//   - The private key lives in an unexported pointer field of Wallet and is
//     never formatted: String, GoString, Format (every fmt verb), MarshalJSON
//     and LogValue show the address only. No error of this package contains
//     the key, any part of it, or a passphrase; parse errors describe the
//     input without echoing it.
//   - Sign signs nothing unless a.From is the wallet's address and Validate
//     accepts the domain and message: numbers present, non-negative and
//     within 256 bits, chain id > 0, validBefore > validAfter, no zero
//     address, domain name and version non-empty. It does not judge amounts
//     or payees; spending policy belongs to the caller, which should record
//     its intent before asking for a signature.
//   - Signatures are r ‖ s ‖ v with v 27 or 28 and low s, deterministic
//     (RFC 6979): the same key, domain and message give the same bytes.
//   - WriteKeystore never overwrites a file and creates it with mode 0600.
//   - A Wallet is safe for concurrent use; the clock (Options.Now) and the
//     nonce source (Options.Rand) are injectable for golden tests.
//
// # Example
//
//	w, err := wallet.Load(wallet.Source{Keystore: path}, os.Getenv, wallet.Options{})
//	if err != nil { ... }
//	a, err := w.NewAuthorization(payTo, amount, time.Duration(maxTimeoutSeconds)*time.Second)
//	if err != nil { ... }
//	d := wallet.Domain{Name: extra.Name, Version: extra.Version, ChainID: chainID, VerifyingContract: asset}
//	sig, err := w.Sign(ctx, d, a) // 65 bytes; send as "0x" + hex
package wallet

// Package wallet holds toll's signing key and signs x402 "exact" payments:
// EIP-3009 TransferWithAuthorization messages under a token's EIP-712
// domain. It knows Ethereum, not HTTP or x402 JSON: callers pass the fields
// (payee, amount, window, domain name and version from the requirement's
// extra) and get back a 65-byte signature.
//
// It and its sub-packages wrap go-ethereum for the rest of toll: its API
// uses only its own types and the standard library, so other packages need
// not import go-ethereum. It uses go-ethereum's crypto package alone, so the
// payment flow that imports it links neither core/types nor the KZG
// libraries: the EIP-712 hash of the one struct it signs is written out
// here (eip712.go says why; tests cross-check it against go-ethereum's
// signer/core/apitypes), encrypted key files are the business of
// wallet/keystore (go-ethereum's accounts/keystore), and chain reads that
// of wallet/onchain (go-ethereum's ethclient).
//
// It also recovers who signed what a resource server signs for x402's
// offer-receipt extension (artifacts.go: RecoverOffer, RecoverReceipt); toll never
// signs those.
//
// # Custody
//
// A Wallet is made from a raw hex key (FromHex), from an *ecdsa.PrivateKey
// (FromKey, which package wallet/keystore uses after decrypting a v3
// keystore file or generating a key for a new one), or by Generate for a
// throwaway demo wallet. Nothing returns the key from a Wallet. Keys always
// come from crypto/rand; Options.Rand only supplies authorization nonces.
//
// # Invariants
//
//   - The private key lives in an unexported pointer field of Wallet and is
//     never formatted: String, GoString, Format (every fmt verb), MarshalJSON
//     and LogValue show the address only. No error of this package contains
//     the key or any part of it; parse errors describe the input without
//     echoing it.
//   - Sign signs nothing unless a.From is the wallet's address and Validate
//     accepts the domain and message: numbers present, non-negative and
//     within 256 bits, chain id > 0, validBefore > validAfter, no zero
//     address, domain name and version non-empty. It does not judge amounts
//     or payees; spending policy belongs to the caller, which should record
//     its intent before asking for a signature.
//   - Signatures are r ‖ s ‖ v with v 27 or 28 and low s, deterministic
//     (RFC 6979): the same key, domain and message give the same bytes.
//   - A Wallet is safe for concurrent use; the clock (Options.Now) and the
//     nonce source (Options.Rand) are injectable for golden tests.
//
// # Example
//
//	w, err := keystore.Load(keystore.Source{Keystore: path}, os.Getenv, wallet.Options{})
//	if err != nil { ... }
//	a, err := w.NewAuthorization(payTo, amount, time.Duration(maxTimeoutSeconds)*time.Second)
//	if err != nil { ... }
//	d := wallet.Domain{Name: extra.Name, Version: extra.Version, ChainID: chainID, VerifyingContract: asset}
//	sig, err := w.Sign(ctx, d, a) // 65 bytes; send as "0x" + hex
package wallet

// Package tools is toll's x402 client: it calls one catalog operation with JSON arguments
// and, when the API answers 402 Payment Required, pays for it within the user's policy.
// The protocol is x402 (https://github.com/x402-foundation/x402/tree/main/specs), exact
// scheme on EVM, paid with EIP-3009 authorizations (https://eips.ethereum.org/EIPS/eip-3009).
//
// The life of a paid call (Client.Call, then the named steps of pay.go):
//
//  1. validate the arguments against the operation's input schema and build the request;
//     a priced operation whose request would go over plain http to another machine
//     (catalog.InsecureHTTP), where a payment header travels in clear text, is refused
//     here and the refusal recorded, before anything is sent, unless its API's config
//     allows it (catalog.Operation.AllowInsecureHTTP);
//  2. send it; anything but 402 is returned as is, with nothing paid;
//  3. parse the 402 (x402 version 1 body or version 2 PAYMENT-REQUIRED header);
//  4. authorize: choose a requirement (scheme exact, an allowed network and asset, payTo as
//     pinned, an amount no larger than the catalog's advertised price and the per-call
//     cap) and prepare its authorization. None fits: refuse, record the refusal, sign
//     nothing. When the 402 carries signed offers (x402's offer-receipt extension), the
//     offer of the chosen requirement must recover a signer, sign exactly its terms and be
//     unexpired, or the terms are refused (artifacts.go). When it advertises the
//     payment-identifier extension, the payment gets an id; one it requires and toll
//     cannot send (x402 version 1) refuses the terms (idempotent.go);
//  5. reserve the intent in the ledger, with the payment id, caps checked in the same
//     fsync'd transaction;
//  6. signAndSend: sign the authorization with the wallet and resend the request once
//     with the payment header (X-PAYMENT or PAYMENT-SIGNATURE). With a payment id, a paid
//     request that got no answer (connection cut, timeout) is sent once more, identical,
//     while the authorization is valid: the server answers it with the answer it kept
//     for that id, without a second transfer;
//  7. record the outcome: settled with its transaction hash, or unknown (counts as spent
//     until reconciled against the chain, see package ledger/reconcile) when the server
//     gave no proof of settlement; with the signed offer and receipt, and what toll found
//     about them (ledger.Artifacts).
//
// Invariants: at most one authorization per call, sent at most twice, and twice only
// with a payment id; nothing is signed before the ledger holds
// the intent; nothing is signed that a cap, an allowlist or the advertised price does not
// allow; no payment header travels in clear text to another machine unless the API's
// config says it may; the outcome is recorded even when the call's context is done;
// redirects are never followed, so a payment header never reaches another host.
//
// Client.Quote runs steps 1 to 3 and the checks of steps 4 and 5 without their effects:
// it sends the request unpaid (a priced one whatever its method; an unpriced one only when
// its method is safe), and reports the terms, the requirement toll would choose and the
// rule that would refuse, signing, reserving and recording nothing.
//
// Errors are typed (*RefusedError, *PaymentError, and the sentinels of errors.go) and name
// no command or flag: how to phrase a hint for a person or a model is the caller's choice.
// Config.Checkpoint observes each Step of a paid call; toll's crash tests use it.
package tools

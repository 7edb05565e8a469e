// Package tools is toll's x402 client: it calls one catalog operation with JSON arguments
// and, when the API answers 402 Payment Required, pays for it within the user's policy.
//
// The life of a paid call (Client.Call):
//
//  1. validate the arguments against the operation's input schema and build the request;
//  2. send it; anything but 402 is returned as is, with nothing paid;
//  3. parse the 402 (x402 version 1 body or version 2 PAYMENT-REQUIRED header) and choose a
//     requirement: scheme exact, an allowed network and asset, payTo as pinned, an amount no
//     larger than the catalog's advertised price and the per-call cap. None fits: refuse,
//     record the refusal, sign nothing;
//  4. reserve the intent in the ledger, caps checked in the same fsync'd transaction;
//  5. sign the EIP-3009 authorization with the wallet;
//  6. resend the request once with the payment header (X-PAYMENT or PAYMENT-SIGNATURE);
//  7. record the outcome: settled with its transaction hash, or unknown (counts as spent
//     until reconciled against the chain) when the server gave no proof of settlement.
//
// Invariants: at most one authorization per call; nothing is signed before the ledger holds
// the intent; nothing is signed that a cap, an allowlist or the advertised price does not
// allow; redirects are never followed, so a payment header never reaches another host.
package tools

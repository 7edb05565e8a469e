// Package x402 holds the wire formats of the x402 payment protocol, versions 1 and 2:
// the 402 payment requirements, the payment payload a client sends back, the settlement
// response, the facilitator's verify/settle/supported messages, the base64 header framing,
// and the names of the EVM networks.
//
// It knows JSON and HTTP headers, not keys or chains: signing lives in package wallet and
// the payment flow in package tools. Everything here parses untrusted input, so every
// decoder bounds its input and returns an error instead of panicking.
//
// Version 2 requires a client to echo the chosen requirement exactly as the server sent it
// (same fields, same values, same address case). [RequirementV2] therefore keeps the raw
// bytes it was decoded from and marshals them back unchanged.
package x402

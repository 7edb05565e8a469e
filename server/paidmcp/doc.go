// Package paidmcp is a paid MCP server on the local x402 world, following the x402 MCP
// transport spec (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/mcp.md);
// for tests and toll devnet. Payments are verified and settled by the world's
// facilitator on its simulated chain (package tools/x402test): real EIP-3009 transfers,
// real signatures, no network.
//
// It serves three tools: ping (free), get_weather (0.001 USDC) and get_forecast (0.005
// USDC). In DialectSpec a paid tool advertises its price in tools/list under
// _meta["x402/price"] (MetaPrice), the key and shape toll's own server uses, since the
// spec defines none.
//
// A call of a paid tool without payment is answered with the x402 version 2
// PaymentRequired, the tool not run: in the tool-result binding (isError, the object as
// structuredContent and its JSON as content[0].text), or, when the request is on MCP
// 2026-07-28 and advertises org.x402/payment in its client capabilities, in the
// extension binding (resultType "payment_required", the object as paymentRequired). A
// call with params._meta["x402/payment"] is matched against the tool's requirement,
// verified, run, settled, and answered with the settlement in
// result._meta["x402/payment-response"]. An invalid payment is answered with payment
// required and the reason; a settlement that fails after the tool ran, with payment
// required, the failed settlement in _meta and the tool's content withheld.
//
// DialectX402MCP speaks the dialect of Vercel's npm x402-mcp instead: x402 version 1, the
// payment as base64 X-PAYMENT text in _meta["x402.payment"], the settlement in
// _meta["x402.payment-response"], no price in tools/list, the tool-result binding only.
//
// mcp-go's CallToolResult has no field for the extension binding's paymentRequired: the
// handler returns the PaymentRequired as structured content of a result typed
// payment_required, and both transports rewrite that one kind of message on its way out
// (transport.go).
//
// Options has knobs for hostile or unusual servers: a price that changes once paid for,
// a payment-response naming another payer, a huge PaymentRequired, the payment-identifier
// extension with kept answers, a connection cut after settling, a settlement that fails
// for real after the tool ran.
package paidmcp

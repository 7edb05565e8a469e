// Package server wires toll into MCP with mcp-go; it is the only package that imports it.
//
// Each catalog operation becomes one MCP tool: its name, a description that ends with the
// price line, the operation's JSON input schema as is, annotations (read-only for GET and
// HEAD, destructive for DELETE, never idempotent when paid), and the price in the tool's
// _meta under "x402/price". A built-in tool, toll_budget, tells the model what it may
// still spend.
//
// A call that fails (cap reached, payment refused, invalid arguments, API error) is a tool
// result with isError and a message safe to show a model; Go errors are kept for bugs. In
// stdio mode stdout carries only MCP JSON-RPC; logs go to the slog logger (stderr).
package server

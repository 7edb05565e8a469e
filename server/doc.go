// Package server wires toll into MCP with mcp-go; it is the only package that imports it.
//
// Each catalog operation becomes one MCP tool: its name, a description that ends with the
// price line, the operation's JSON input schema as is, annotations (read-only for GET and
// HEAD, destructive for DELETE, never idempotent when paid), and the price in the tool's
// _meta under "x402/price". Built-in tools tell the model what it may still spend
// (toll_budget), what this session paid (toll_history), and what a call would cost now
// and whether toll would pay it, without paying (toll_quote); the initialize result's
// instructions say in a few lines how prices and caps work and list them.
//
// A call that fails (cap reached, payment refused, invalid arguments, API error) is a tool
// result with isError and a message safe to show a model; Go errors are kept for bugs.
// Package tools returns typed errors (the rule or cap that refused, the amounts, whether a
// payment left toll); this package phrases them for the model, with the hint a user acts
// on ("raise the per-session cap in toll's configuration", "toll ledger reconcile"). A
// failure inside toll shows the model a generic sentence; its detail goes to the log.
//
// Every amount in the JSON toll writes (the price in _meta, a paid call's receipt in
// _meta["toll/receipt"], the built-in tools' structured content) is a decimal string of
// atomic units, with the token's decimals beside it (package tools/money).
//
// # Tool results
//
// What an API answered becomes content the model can use
// (https://modelcontextprotocol.io/specification/2025-06-18/server/tools#tool-result),
// followed by toll's cost line; a paid call's receipt is in _meta. By the response's
// Content-Type (sniffed when there is none): image/* is an image block and audio/* an
// audio block (base64, with the MIME type); text and JSON are text; any other body, or
// text that is not valid UTF-8, is an embedded resource blob. A JSON object shown whole
// is also the result's structuredContent; no tool declares an outputSchema, which
// strict hosts would hold bodies that stray from their spec to.
//
// A body larger than the API's limit (Options.MaxResultBytes, an API's
// max_result_bytes; DefaultMaxResultBytes) is cut: text at a character boundary, with a
// notice saying how much was left out, and a resource_link to the whole body; an image,
// audio or other binary body is only linked. toll keeps such bodies in files of a
// temporary directory of its own (0700), for the session that made the call, and serves
// them through resources/read at toll://result/ID; another session gets the same error as
// for a URI never issued. A session's bodies are removed when it ends, all of them by
// Close. Past Options.MaxKeptBytes no body is kept, and the tool result says what that
// cost: the rest of a text, or a binary body shown whole.
//
// # Initialized sessions
//
// No tool runs, and nothing is signed, outside an initialized session. What that means
// depends on the protocol era of the request (one hook, gate.go, decides for every
// transport):
//   - Protocol versions up to 2025-11-25, with the initialize handshake: the request's
//     session answered an initialize request on this server and has not ended since
//     (stdio's input closed, HTTP DELETE). Both mcp-go's flag (ClientSession.Initialized)
//     and the server's own record must say so: mcp-go's stdio session is one value for
//     the whole process, and a stateless request sets its flag too.
//   - Protocol version 2026-07-28, stateless, with no handshake: the request itself
//     declares in _meta["io.modelcontextprotocol/protocolVersion"] a version mcp-go
//     implements, and its client capabilities; mcp-go refuses any other such request
//     before a handler runs.
//
// A tools/call that is neither is answered with JSON-RPC error -32600 (Invalid Request),
// whose message says what to do; no handler runs.
//
// # Transports
//
// On stdio, stdout carries only MCP JSON-RPC; logs go to the slog logger (stderr). A line
// longer than MaxMessageBytes is dropped while it is read and answered with a JSON-RPC
// error, never decoded.
//
// Over HTTP (HTTPHandler), MCP is served at /mcp. Clients beyond this machine need a
// bearer token (HTTPOptions.Check refuses to serve a non-loopback address without
// tokens, and the handler refuses such connections); tokens are compared in constant
// time and never logged. A browser page from a foreign Origin gets 403, a Host that is
// not loopback on a loopback connection 403, a body over MaxMessageBytes 413, a session
// id that was never issued or was ended by DELETE 404.
//
// # Agents
//
// Budgets belong to agents (tools.Policy.Agents). Over HTTP each agent's bearer token
// (HTTPOptions.Agents) names the agent, in constant time, before any handler runs (an
// unknown token is 401), and the agent reaches the handler through the request context;
// on stdio, Options.Agent. The per-session cap is keyed by agent and session, so neither a
// new session nor a session-less 2026-07-28 request renews an agent's caps; toll_budget,
// toll_history and toll_quote answer for the calling agent.
//
// # Approval
//
// A payment the policy says needs a person's yes (tools.ApprovalRule) is asked through
// the Approver this package gives each call (approval.go): from protocol 2026-07-28 an
// input_required result with an elicitation form (the form held server-side under an
// unguessable state, bound to its terms and agent, expiring with the timeout), before it
// a classic elicitation/create with a deadline; for a client without the elicitation
// capability, or in queue mode, the ledger's approval queue that toll approve decides
// from any process, with progress notifications while the call waits. Nothing is signed
// before the answer; declined, cancelled and timed-out approvals are refusals.
package server

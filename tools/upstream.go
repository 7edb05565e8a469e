package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/tollhq/toll/tools/x402"
)

// Upstream is an MCP server whose tools toll serves as its own and pays for, as the x402
// MCP transport says
// (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/mcp.md).
// server/upstream implements it over mcp-go's client.
type Upstream interface {
	// CallTool sends one tools/call of tool with args (a JSON object) and, when meta is
	// not nil, these entries in params._meta (a payment), and returns the JSON of its
	// result whatever its resultType. It sends the call at most once: no retry, no
	// second round trip, whatever the server answers. When SentHook(ctx) is not nil, it
	// calls it as the call's bytes start to leave the process (a paid call's StepSent).
	CallTool(ctx context.Context, tool string, args json.RawMessage, meta map[string]any) (json.RawMessage, error)
}

// sentKey is the context key of a paid upstream call's SentHook.
type sentKey struct{}

// SentHook is the function an Upstream calls once the bytes of the call made with ctx
// start to leave the process (over HTTP: as the transport reads the request's body to
// write it; on stdio: just before the request is written), or nil for none. It is set
// for a call that carries a payment, and fires Config.Checkpoint's StepSent; calling it
// more than once is harmless.
func SentHook(ctx context.Context) func() {
	f, _ := ctx.Value(sentKey{}).(func())
	return f
}

// UpstreamURL is the URL toll logs and records in the ledger for a call of tool on the
// upstream MCP server of namespace.
func UpstreamURL(namespace, tool string) string { return "mcp://" + namespace + "/" + tool }

// callUpstream forwards call to its upstream MCP server and, when the tool asks for a
// payment in either binding of the x402 MCP transport, pays it once within the policy, as
// Call pays a 402: the same caps, approval, ledger records and refusals.
func (c *Client) callUpstream(ctx context.Context, call Call) (*Result, error) {
	via, err := c.prepareUpstream(call, c.maxBody)
	if err != nil {
		return nil, err
	}
	log := c.log.With("tool", call.Op.Name, "method", "tools/call", "url", via.target)
	return c.callVia(ctx, call, via, call.Op.ServerURL, log)
}

// prepareUpstream checks what a call of an upstream tool (or its quote) needs before
// anything is sent, as prepare does for an HTTP operation: a known agent and arguments
// that are a JSON object; and makes its exchange, which keeps results up to limit bytes.
func (c *Client) prepareUpstream(call Call, limit int64) (mcpExchange, error) {
	op := call.Op
	if _, err := c.policy.agentCaps(call.Agent); err != nil {
		return mcpExchange{}, err
	}
	args, err := objectArguments(op.Name, call.Arguments)
	if err != nil {
		return mcpExchange{}, err
	}
	return mcpExchange{up: call.Upstream, tool: op.OperationID, args: args, target: UpstreamURL(op.API, op.OperationID), limit: limit,
		sent: func() { c.check(StepSent) }}, nil
}

// objectArguments checks that the arguments of an upstream tool are a JSON object (nil
// is {}): toll forwards them as they are, and the upstream checks its own schema.
func objectArguments(tool string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%w: %s takes a JSON object of arguments: %v", ErrInvalidArguments, tool, err)
	}
	return raw, nil
}

// mcpExchange is a tools/call to an upstream MCP server.
type mcpExchange struct {
	up     Upstream
	tool   string // the tool's name on the upstream
	args   json.RawMessage
	target string // UpstreamURL
	limit  int64  // the largest result kept (Config.MaxResponseBytes)
	sent   func() // StepSent, for a paid call's SentHook
}

func (m mcpExchange) url() string      { return m.target }
func (m mcpExchange) describe() string { return "tools/call " + m.tool + " (" + m.target + ")" }
func (m mcpExchange) method() string   { return "tools/call" }

// carrier is the _meta entry of the payment: the PaymentPayload object under
// x402/payment for x402 version 2, the base64 X-PAYMENT text under x402.payment for
// version 1 (the dialect of Vercel's x402-mcp); with the payment identifier id in its
// extensions when id is not "".
func (m mcpExchange) carrier(ch *x402.Challenge, i int, payload x402.ExactEVMPayload, id string) (string, any, error) {
	var key string
	var value any
	var err error
	if id == "" {
		key, value, err = ch.PaymentMeta(i, payload)
	} else {
		key, value, err = ch.PaymentMetaWithID(i, payload, id)
	}
	if err != nil {
		return "", nil, fmt.Errorf("build payment _meta: %w", err)
	}
	return key, value, nil
}

func (m mcpExchange) send(ctx context.Context, key string, value any) (*answer, error) {
	var meta map[string]any
	if key != "" {
		meta = map[string]any{key: value}
		if m.sent != nil {
			ctx = context.WithValue(ctx, sentKey{}, sync.OnceFunc(m.sent))
		}
	}
	raw, err := m.up.CallTool(ctx, m.tool, m.args, meta)
	if err != nil {
		return nil, err
	}
	return readToolAnswer(raw, m.limit)
}

// What an upstream MCP server's tool answered, as Quote.Answer (and messages) name it.
const (
	AnswerPaymentRequired = "payment required"
	AnswerToolResult      = "a tool result"
	AnswerToolError       = "a tool error"
)

// The result types of MCP 2026-07-28 that toll reads; an absent one is complete.
const resultTypeComplete = "complete"

// readToolAnswer reads a tools/call result as x402 does: a payment asked in the
// extension binding (resultType payment_required, the PaymentRequired in
// paymentRequired) or in the tool-result binding (an error result carrying it), and the
// settlement in _meta. A result larger than limit is kept out of the Result (Truncated).
func readToolAnswer(raw json.RawMessage, limit int64) (*answer, error) {
	var r struct {
		ResultType        string                     `json:"resultType"`
		PaymentRequired   json.RawMessage            `json:"paymentRequired"`
		IsError           bool                       `json:"isError"`
		StructuredContent json.RawMessage            `json:"structuredContent"`
		Content           []json.RawMessage          `json:"content"`
		Meta              map[string]json.RawMessage `json:"_meta"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("the tools/call result is not a JSON object: %v", err)
	}
	a := &answer{result: &Result{ContentType: "application/json", ToolResult: raw}, code: AnswerToolResult}
	if int64(len(raw)) > limit {
		a.result.ToolResult, a.result.Truncated = nil, true
	}
	a.settlement, a.settlementErr = x402.ParseSettlementMeta(r.Meta)
	switch r.ResultType {
	case x402.ResultTypePaymentRequired:
		a.code, a.failed, a.required = AnswerPaymentRequired, true, true
		a.challenge, a.challengeErr = x402.ParsePaymentRequired(r.PaymentRequired)
		return a, nil
	case "", resultTypeComplete:
	default:
		return nil, fmt.Errorf("the tools/call result is of type %q, which toll does not read", r.ResultType)
	}
	if r.IsError {
		a.code, a.failed = AnswerToolError, true
		a.detail = firstText(r.Content)
	}
	ch, err := x402.ToolResultChallenge(r.IsError, r.StructuredContent, firstText(r.Content))
	if !errors.Is(err, x402.ErrNotX402) {
		a.code, a.required = AnswerPaymentRequired, true
		a.challenge, a.challengeErr = ch, err
	}
	return a, nil
}

// firstText is the text of the first content block when it is a text block; "" otherwise.
func firstText(content []json.RawMessage) string {
	if len(content) == 0 {
		return ""
	}
	var b struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(content[0], &b) != nil || b.Type != "text" {
		return ""
	}
	return b.Text
}

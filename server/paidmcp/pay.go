package paidmcp

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// call is one call of a paid tool.
type call struct {
	s    *Server
	t    *tool
	args map[string]any
	ext  bool // the extension binding answers payment required
}

// payment is a payment as the call carried it.
type payment struct {
	version int
	raw     json.RawMessage // the PaymentPayload JSON: v2 as sent in _meta, v1 decoded from base64
	id      string          // the payment identifier (v2), "" when none
	auth    x402.Authorization
	v2      *x402.PaymentPayloadV2
	v1      *x402.PaymentPayloadV1
}

func (s *Server) handler(t *tool) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.GetArguments()
		if t.price.IsZero() {
			v, err := t.run(args)
			s.ran(t.name)
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			return answer(v), nil
		}
		c := &call{s: s, t: t, args: args, ext: s.opts.Dialect == DialectSpec && extensionBinding(ctx)}
		return c.pay(ctx, req), nil
	}
}

// extensionBinding reports whether the request is on MCP 2026-07-28 or later and
// advertises the org.x402/payment extension in its client capabilities.
func extensionBinding(ctx context.Context) bool {
	info := mcpserver.RequestProtocolInfoFromContext(ctx)
	if info == nil || !info.Modern || info.ClientCapabilities == nil {
		return false
	}
	_, ok := info.ClientCapabilities.Extensions[x402.ExtensionMCPPayment]
	return ok
}

// pay answers one call of a paid tool: payment required without a payment, else (through
// the payment identifier's kept answers when enabled) verify, run, settle.
func (c *call) pay(ctx context.Context, req mcp.CallToolRequest) *mcp.CallToolResult {
	p, err := c.s.payment(req)
	switch {
	case err != nil:
		return c.required("Invalid payment: "+err.Error(), nil)
	case p == nil:
		return c.required(fmt.Sprintf("Payment required to call %s", c.t.name), nil)
	case c.s.opts.PaymentIdentifier != nil:
		return c.identified(ctx, p)
	}
	return c.settle(ctx, p)
}

// payment reads the call's payment from _meta as the dialect sends it; nil, nil when
// there is none.
func (s *Server) payment(req mcp.CallToolRequest) (*payment, error) {
	var fields map[string]any
	if req.Params.Meta != nil {
		fields = req.Params.Meta.AdditionalFields
	}
	if s.opts.Dialect == DialectX402MCP {
		v, ok := fields[x402.MetaPaymentV1]
		if !ok {
			return nil, nil
		}
		text, isText := v.(string)
		if !isText {
			return nil, fmt.Errorf("_meta[%q] must be the base64 X-PAYMENT text", x402.MetaPaymentV1)
		}
		var p x402.PaymentPayloadV1
		if err := x402.DecodeHeader(text, &p); err != nil {
			return nil, fmt.Errorf("_meta[%q]: %w", x402.MetaPaymentV1, err)
		}
		p.X402Version = 1
		raw, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		return &payment{version: 1, raw: raw, auth: p.Payload.Authorization, v1: &p}, nil
	}
	v, ok := fields[x402.MetaPayment]
	if !ok {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("_meta[%q]: %w", x402.MetaPayment, err)
	}
	var p x402.PaymentPayloadV2
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("_meta[%q] is not a PaymentPayload: %w", x402.MetaPayment, err)
	}
	if p.X402Version != 2 {
		return nil, fmt.Errorf("_meta[%q]: x402Version %d, want 2", x402.MetaPayment, p.X402Version)
	}
	id, err := x402.PaymentIDOf(p.Extensions)
	if err != nil {
		return nil, err
	}
	return &payment{version: 2, raw: raw, id: id, auth: p.Payload.Authorization, v2: &p}, nil
}

// settle verifies p, runs the tool, settles and answers.
func (c *call) settle(ctx context.Context, p *payment) *mcp.CallToolResult {
	s := c.s
	if s.reprice(c.t) {
		s.log.Info("paidmcp: price changed after a payment arrived", "tool", c.t.name, "price", s.opts.PriceAfterPayment)
		return c.required(fmt.Sprintf("The price of %s changed to %s USDC; pay the new price", c.t.name, s.opts.PriceAfterPayment), nil)
	}
	freq, problem := c.facilitatorRequest(p)
	if problem != "" {
		return c.required(problem, nil)
	}
	vr, err := s.world.Facilitator.Verify(ctx, freq)
	if err != nil {
		return statusError(400, "The payment could not be read by the facilitator: "+err.Error())
	}
	if !vr.IsValid {
		s.log.Info("paidmcp: payment invalid", "tool", c.t.name, "payer", vr.Payer, "reason", vr.InvalidReason)
		return c.required(strings.TrimSuffix(vr.InvalidReason+": "+vr.InvalidMessage, ": "), nil)
	}
	v, err := c.t.run(c.args)
	s.ran(c.t.name)
	if err != nil {
		return mcp.NewToolResultError(err.Error() + " (nothing was settled)")
	}
	if s.opts.FailSettlement {
		if err := s.expire(ctx, p.auth); err != nil {
			return statusError(500, "FailSettlement: "+err.Error())
		}
	}
	sr, err := s.world.Facilitator.Settle(ctx, freq)
	if err != nil {
		return statusError(400, "The payment could not be read by the facilitator: "+err.Error())
	}
	if !sr.Success {
		s.log.Info("paidmcp: settlement failed", "tool", c.t.name, "payer", sr.Payer, "reason", sr.ErrorReason)
		return c.required(strings.TrimSuffix("Settlement failed: "+sr.ErrorReason+": "+sr.ErrorMessage, ": "), &sr)
	}
	s.mu.Lock()
	s.settlements++
	cut := s.opts.CutAfterSettle && !s.cut
	s.cut = s.cut || cut
	s.mu.Unlock()
	s.log.Info("paidmcp: settled", "tool", c.t.name, "payer", sr.Payer, "amount", s.price(c.t), "tx", sr.Transaction)
	if cut {
		if f := cutFrom(ctx); f != nil {
			f.set()
		}
	}
	if sg := s.opts.Signer; sg != nil && sg.Receipts {
		if sr.Extensions, err = s.receiptExtensions(c.t, sr); err != nil {
			return statusError(500, err.Error())
		}
	}
	if s.opts.PayerInResponse != "" {
		sr.Payer = s.opts.PayerInResponse
	}
	res := answer(v)
	res.Meta = mcp.NewMetaFromMap(map[string]any{c.responseKey(): sr})
	return res
}

// facilitatorRequest matches p against the tool's current requirement and builds the
// facilitator's request; problem says why p cannot pay it.
func (c *call) facilitatorRequest(p *payment) (x402.FacilitatorRequest, string) {
	price := c.s.price(c.t)
	if p.version == 1 {
		req := c.s.requirementV1(c.t, price)
		if p.v1.Scheme != req.Scheme || p.v1.Network != req.Network {
			return x402.FacilitatorRequest{}, "Unable to find matching payment requirements"
		}
		reqJSON, _ := json.Marshal(req)
		return x402.FacilitatorRequest{X402Version: 1, PaymentPayload: p.raw, PaymentRequirements: reqJSON}, ""
	}
	req := c.s.requirementV2(price)
	acc := p.v2.Accepted
	if acc.Scheme != req.Scheme || acc.Network != req.Network || acc.Amount != req.Amount ||
		!strings.EqualFold(acc.Asset, req.Asset) || !strings.EqualFold(acc.PayTo, req.PayTo) || acc.MaxTimeoutSeconds != req.MaxTimeoutSeconds {
		return x402.FacilitatorRequest{}, fmt.Sprintf("No matching payment requirements: %s costs %s atomic units to %s", c.t.name, req.Amount, req.PayTo)
	}
	reqJSON, _ := json.Marshal(req)
	return x402.FacilitatorRequest{X402Version: 2, PaymentPayload: p.raw, PaymentRequirements: reqJSON}, ""
}

// expire moves the chain's clock past the authorization's validBefore.
func (s *Server) expire(ctx context.Context, a x402.Authorization) error {
	vb, ok := new(big.Int).SetString(a.ValidBefore, 10)
	if !ok || !vb.IsInt64() {
		return fmt.Errorf("validBefore %q is not a unix time", a.ValidBefore)
	}
	return s.world.Chain.AdvancePast(ctx, time.Unix(vb.Int64(), 0))
}

// responseKey is the _meta key of the settlement in the dialect.
func (c *call) responseKey() string {
	if c.s.opts.Dialect == DialectX402MCP {
		return x402.MetaPaymentResponseV1
	}
	return x402.MetaPaymentResponse
}

const maxTimeoutSeconds = 300

func (s *Server) requirementV2(price money.Amount) x402.RequirementV2 {
	return x402.RequirementV2{
		Scheme:            x402.SchemeExact,
		Network:           s.world.Chain.NetworkV2(),
		Amount:            price.AtomicString(),
		Asset:             s.world.Chain.TokenAddress(),
		PayTo:             s.world.PayTo(),
		MaxTimeoutSeconds: maxTimeoutSeconds,
		Extra:             tokenExtra(),
	}
}

func (s *Server) requirementV1(t *tool, price money.Amount) x402.RequirementV1 {
	return x402.RequirementV1{
		Scheme:            x402.SchemeExact,
		Network:           s.world.Chain.NetworkV1(),
		MaxAmountRequired: price.AtomicString(),
		Resource:          resourceURL(t.name),
		Description:       t.description,
		MimeType:          "application/json",
		PayTo:             s.world.PayTo(),
		MaxTimeoutSeconds: maxTimeoutSeconds,
		Asset:             s.world.Chain.TokenAddress(),
		Extra:             tokenExtra(),
	}
}

func tokenExtra() json.RawMessage {
	b, _ := json.Marshal(x402.EIP712Extra{Name: x402test.TokenName, Version: x402test.TokenVersion})
	return b
}

// resourceURL names a tool as the transport spec's examples do.
func resourceURL(tool string) string { return "mcp://tool/" + tool }

// required answers payment required with reason, in the call's binding; settlement is
// the failed settlement's response, when there was one.
func (c *call) required(reason string, settlement *x402.SettlementResponse) *mcp.CallToolResult {
	body, err := c.paymentRequired(reason)
	if err != nil {
		return statusError(500, "encode PaymentRequired: "+err.Error())
	}
	res := &mcp.CallToolResult{IsError: true, RawStructuredContent: body}
	if c.ext {
		res = &mcp.CallToolResult{Result: mcp.Result{ResultType: x402.ResultTypePaymentRequired}, RawStructuredContent: body}
	} else {
		res.Content = []mcp.Content{mcp.NewTextContent(string(body))}
	}
	if settlement != nil {
		res.Meta = mcp.NewMetaFromMap(map[string]any{c.responseKey(): *settlement})
	}
	return res
}

// paymentRequired is the PaymentRequired JSON of the call at the tool's current price,
// padded to Options.HugeRequired.
func (c *call) paymentRequired(reason string) ([]byte, error) {
	s := c.s
	price := s.price(c.t)
	encode := func(reason string) ([]byte, error) {
		if s.opts.Dialect == DialectX402MCP {
			return json.Marshal(x402.PaymentRequiredV1{X402Version: 1, Error: reason, Accepts: []x402.RequirementV1{s.requirementV1(c.t, price)}})
		}
		exts, err := s.extensions(c.t, price)
		if err != nil {
			return nil, err
		}
		return json.Marshal(x402.PaymentRequiredV2{
			X402Version: 2,
			Error:       reason,
			Resource:    &x402.Resource{URL: resourceURL(c.t.name), Description: c.t.description, MimeType: "application/json"},
			Accepts:     []x402.RequirementV2{s.requirementV2(price)},
			Extensions:  exts,
		})
	}
	b, err := encode(reason)
	if err != nil || len(b) >= s.opts.HugeRequired {
		return b, err
	}
	return encode(reason + " " + strings.Repeat("x", s.opts.HugeRequired-len(b)))
}

// extensions are the extensions a PaymentRequired advertises; nil when none.
func (s *Server) extensions(t *tool, price money.Amount) (json.RawMessage, error) {
	exts := map[string]any{}
	if pi := s.opts.PaymentIdentifier; pi != nil {
		exts[x402.ExtensionPaymentIdentifier] = map[string]any{
			"info": map[string]any{"required": pi.Required},
			"schema": json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
				`"properties":{"required":{"type":"boolean"},"id":{"type":"string","minLength":16,"maxLength":128}},"required":["required"]}`),
		}
	}
	if sg := s.opts.Signer; sg != nil && sg.Offers {
		o, err := s.offer(t, price)
		if err != nil {
			return nil, err
		}
		exts[x402.ExtensionOfferReceipt] = map[string]any{"info": map[string]any{"offers": []artifact{o}}}
	}
	if len(exts) == 0 {
		return nil, nil
	}
	return json.Marshal(exts)
}

// statusError is a tool error that is not a payment required, with an HTTP-like status
// in its structured content: 400 for a request the server cannot take, 409 for a payment
// identifier reused with another payment, 500 for a failure of the server.
func statusError(status int, msg string) *mcp.CallToolResult {
	b, _ := json.Marshal(map[string]any{"status": status, "error": msg})
	return &mcp.CallToolResult{
		IsError:              true,
		Content:              []mcp.Content{mcp.NewTextContent(msg)},
		RawStructuredContent: b,
	}
}

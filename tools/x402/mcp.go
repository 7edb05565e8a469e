package x402

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// x402 over MCP (https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/mcp.md):
// a paid tool answers a call without payment with its PaymentRequired, either as a tool
// result (the tool-result binding: isError, the object in structuredContent and its JSON in
// content[0].text) or, on MCP 2026-07-28 when the client advertises ExtensionMCPPayment, as
// a result of type ResultTypePaymentRequired with the object in paymentRequired. The client
// retries with its PaymentPayload in params._meta[MetaPayment]; the server answers with a
// SettlementResponse in result._meta[MetaPaymentResponse].
//
// Servers built with Vercel's npm x402-mcp speak an earlier dialect: x402 version 1, the
// payment as the base64 X-PAYMENT text in _meta[MetaPaymentV1], the settlement in
// _meta[MetaPaymentResponseV1].
const (
	MetaPayment               = "x402/payment"
	MetaPaymentResponse       = "x402/payment-response"
	MetaPaymentV1             = "x402.payment"
	MetaPaymentResponseV1     = "x402.payment-response"
	ExtensionMCPPayment       = "org.x402/payment"
	ResultTypePaymentRequired = "payment_required"
)

// ParsePaymentRequired reads a PaymentRequired object as MCP carries it, version 1 or 2,
// bounded by MaxBodyLen. A JSON value without x402Version and accepts is ErrNotX402.
func ParsePaymentRequired(data []byte) (*Challenge, error) {
	if len(data) > MaxBodyLen {
		return nil, fmt.Errorf("parse PaymentRequired: %d bytes, over the %d byte limit", len(data), MaxBodyLen)
	}
	var probe struct {
		X402Version int             `json:"x402Version"`
		Accepts     json.RawMessage `json:"accepts"`
	}
	if err := json.Unmarshal(data, &probe); err != nil || probe.X402Version == 0 || len(probe.Accepts) == 0 {
		return nil, ErrNotX402
	}
	switch probe.X402Version {
	case 1:
		var pr PaymentRequiredV1
		if err := json.Unmarshal(data, &pr); err != nil {
			return nil, fmt.Errorf("parse PaymentRequired: %w", err)
		}
		return challengeV1(&pr)
	case 2:
		var pr PaymentRequiredV2
		if err := json.Unmarshal(data, &pr); err != nil {
			return nil, fmt.Errorf("parse PaymentRequired: %w", err)
		}
		return challengeV2(&pr)
	}
	return nil, fmt.Errorf("parse PaymentRequired: x402Version %d, want 1 or 2", probe.X402Version)
}

// ToolResultChallenge finds the PaymentRequired of a tool result in the tool-result
// binding: structuredContent when it holds x402Version and accepts, else the JSON text of
// the first content block. A result that is not an error, or that carries no
// PaymentRequired, is ErrNotX402: an ordinary tool error, nothing to pay.
func ToolResultChallenge(isError bool, structured json.RawMessage, firstText string) (*Challenge, error) {
	if !isError {
		return nil, ErrNotX402
	}
	if len(bytes.TrimSpace(structured)) > 0 && string(structured) != "null" {
		c, err := ParsePaymentRequired(structured)
		if !errors.Is(err, ErrNotX402) {
			return c, err
		}
	}
	if firstText == "" {
		return nil, ErrNotX402
	}
	return ParsePaymentRequired([]byte(firstText))
}

// PaymentMeta returns the _meta key and value that pay option i of c with payload p:
// version 2 puts the PaymentPayload object under MetaPayment, echoing the requirement
// exactly as received; version 1 (Vercel's dialect) puts the base64 X-PAYMENT text under
// MetaPaymentV1.
func (c *Challenge) PaymentMeta(i int, p ExactEVMPayload) (key string, value any, err error) {
	if i < 0 || i >= len(c.Options) {
		return "", nil, fmt.Errorf("payment meta: no requirement %d", i)
	}
	switch c.Version {
	case 1:
		_, text, err := c.PaymentHeader(i, p)
		return MetaPaymentV1, text, err
	case 2:
		return MetaPayment, c.payloadV2(i, p, ""), nil
	}
	return "", nil, fmt.Errorf("payment meta: unsupported x402 version %d", c.Version)
}

// ParseSettlementMeta reads the settlement of a paid MCP result from its _meta:
// MetaPaymentResponse (an object), else MetaPaymentResponseV1 (an object, or the base64
// text of one). It returns nil, nil when neither is present.
func ParseSettlementMeta(meta map[string]json.RawMessage) (*SettlementResponse, error) {
	for _, key := range []string{MetaPaymentResponse, MetaPaymentResponseV1} {
		raw, ok := meta[key]
		if !ok {
			continue
		}
		if len(raw) > MaxHeaderLen {
			return nil, fmt.Errorf("parse _meta[%q]: %d bytes, over the %d byte limit", key, len(raw), MaxHeaderLen)
		}
		var sr SettlementResponse
		var text string
		if json.Unmarshal(raw, &text) == nil {
			if err := DecodeHeader(text, &sr); err != nil {
				return nil, fmt.Errorf("parse _meta[%q]: %w", key, err)
			}
			return &sr, nil
		}
		if err := json.Unmarshal(raw, &sr); err != nil {
			return nil, fmt.Errorf("parse _meta[%q]: %w", key, err)
		}
		return &sr, nil
	}
	return nil, nil
}

package paidmcp

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/x402"
)

// keptAnswer is the answer to an identified payment, kept for resends of the same
// payload. done is closed once answer is set.
type keptAnswer struct {
	key    string // the tool and the PaymentPayload JSON the id was first seen with
	done   chan struct{}
	answer []byte // the CallToolResult as JSON, before mcp-go decorates it
}

// paymentID reads extensions["payment-identifier"].info.id of a PaymentPayload: "" when
// there is none, an error when it is not an id the extension allows.
func paymentID(extensions json.RawMessage) (string, error) {
	if len(extensions) == 0 {
		return "", nil
	}
	var exts map[string]json.RawMessage
	if json.Unmarshal(extensions, &exts) != nil {
		return "", fmt.Errorf("extensions is not a JSON object")
	}
	raw, ok := exts[x402.ExtensionPaymentIdentifier]
	if !ok {
		return "", nil
	}
	var ext struct {
		Info struct {
			ID *string `json:"id"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &ext); err != nil {
		return "", fmt.Errorf("extensions[%q]: %w", x402.ExtensionPaymentIdentifier, err)
	}
	if ext.Info.ID == nil {
		return "", nil
	}
	if !x402.ValidPaymentID(*ext.Info.ID) {
		return "", fmt.Errorf("payment identifier %q: want 16 to 128 letters, digits, - and _", *ext.Info.ID)
	}
	return *ext.Info.ID, nil
}

// identified answers a payment under the payment-identifier extension: the id is looked
// up before anything is verified; a new id is processed and its answer kept; the same id
// with the same payload for the same tool gets the kept answer (waiting for it while the
// first is in progress); anything else with that id is a conflict (status 409).
func (c *call) identified(ctx context.Context, p *payment) *mcp.CallToolResult {
	s := c.s
	if p.id == "" {
		if s.opts.PaymentIdentifier.Required {
			return statusError(400, fmt.Sprintf("This server requires a payment identifier: add extensions[%q].info.id (16 to 128 letters, digits, - and _) to the payment", x402.ExtensionPaymentIdentifier))
		}
		return c.settle(ctx, p)
	}
	key := c.t.name + "\x00" + string(p.raw)
	s.mu.Lock()
	k, seen := s.kept[p.id]
	if !seen {
		k = &keptAnswer{key: key, done: make(chan struct{})}
		s.kept[p.id] = k
	}
	s.mu.Unlock()
	if !seen {
		res := c.settle(ctx, p)
		k.answer, _ = json.Marshal(res)
		close(k.done)
		return res
	}
	if k.key != key {
		s.log.Info("paidmcp: payment identifier reused with another payment", "tool", c.t.name, "id", p.id)
		return statusError(409, fmt.Sprintf("Conflict: payment identifier %s was used with another payment or tool; use a new identifier for a new payment", p.id))
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		return statusError(500, "The first request with this payment identifier is still in progress; retry later")
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(k.answer, &res); err != nil {
		return statusError(500, "decode the kept answer: "+err.Error())
	}
	s.log.Info("paidmcp: kept answer returned", "tool", c.t.name, "id", p.id)
	return &res
}

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
	if k.key != key || s.opts.PaymentIdentifier.ConflictOnResend {
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

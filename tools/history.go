package tools

import (
	"context"

	"github.com/tollhq/toll/ledger"
)

// History returns the latest spends that match f, newest first, at most limit of them
// (1 to ledger.MaxRecent), each in its current state (ledger.Ledger.Recent).
func (c *Client) History(ctx context.Context, f ledger.SpendFilter, limit int) ([]ledger.Spend, error) {
	return c.ledger.Recent(ctx, f, limit)
}

package tools

import (
	"context"

	"github.com/tollhq/toll/tools/money"
)

// Budget is one cap: its limit and what counts against it now.
type Budget struct {
	Cap       string        `json:"cap"`             // "per-call", "per-session", "per-day", "total"
	Limit     *money.Amount `json:"limit,omitempty"` // nil: no cap
	Used      *money.Amount `json:"used,omitempty"`  // nil for per-call
	Remaining *money.Amount `json:"remaining,omitempty"`
}

// Budgets reports every cap of the policy for one session, with what the ledger counts
// against it (reserved, unknown and settled spends).
func (c *Client) Budgets(ctx context.Context, session string) ([]Budget, error) {
	t, err := c.ledger.Totals(ctx, session, "")
	if err != nil {
		return nil, err
	}
	caps := c.policy.caps
	out := []Budget{{Cap: "per-call", Limit: caps.PerCall}}
	for _, b := range []struct {
		name  string
		limit *money.Amount
		used  money.Amount
	}{
		{"per-session", caps.PerSession, t.Session},
		{"per-day", caps.PerDay, t.Day},
		{"total", caps.Total, t.Total},
	} {
		bud := Budget{Cap: b.name, Limit: b.limit, Used: &b.used}
		if b.limit != nil {
			rem := b.limit.Sub(b.used)
			if rem.Sign() < 0 {
				rem = money.New(nil, rem.Decimals())
			}
			bud.Remaining = &rem
		}
		out = append(out, bud)
	}
	return out, nil
}

package tools

import (
	"context"
	"math/big"
)

// Budget is one cap: its limit and what counts against it now, in atomic units.
type Budget struct {
	Cap       string   `json:"cap"`             // "per-call", "per-session", "per-day", "total"
	Limit     *big.Int `json:"limit,omitempty"` // nil: no cap
	Used      *big.Int `json:"used,omitempty"`  // nil for per-call
	Remaining *big.Int `json:"remaining,omitempty"`
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
		limit *big.Int
		used  *big.Int
	}{
		{"per-session", caps.PerSession, t.Session},
		{"per-day", caps.PerDay, t.Day},
		{"total", caps.Total, t.Total},
	} {
		bud := Budget{Cap: b.name, Limit: b.limit, Used: b.used}
		if b.limit != nil && b.used != nil {
			rem := new(big.Int).Sub(b.limit, b.used)
			if rem.Sign() < 0 {
				rem.SetInt64(0)
			}
			bud.Remaining = rem
		}
		out = append(out, bud)
	}
	return out, nil
}

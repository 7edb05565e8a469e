package tools

import (
	"context"
	"maps"
	"slices"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// Budget is one cap: its limit and what counts against it now.
type Budget struct {
	// Cap is the cap's name: "per-call", "per-session", "per-day", "total", or for the
	// agent's own caps ledger.CapAgentPerCall, CapAgentPerAPI, CapAgentPerDay,
	// CapAgentTotal.
	Cap   string        `json:"cap"`
	Agent string        `json:"agent,omitempty"` // the agent, for an agent cap
	API   string        `json:"api,omitempty"`   // the API namespace, for a per-API cap
	Limit *money.Amount `json:"limit,omitempty"` // nil: no cap
	// Used is what counts against the cap (reserved, unknown and settled spends); nil for
	// a per-call cap.
	Used *money.Amount `json:"used,omitempty"`
	// Pending is the part of Used that is not settled yet (reserved or unknown); nil
	// where it is not reported (per call, per day, per API).
	Pending   *money.Amount `json:"pending,omitempty"`
	Remaining *money.Amount `json:"remaining,omitempty"` // nil: no cap
}

// Budgets reports every cap of the policy for one session of one agent ("" where the
// Policy names no agents): the Policy's caps, then the agent's own, each with what the
// ledger counts against it (reserved, unknown and settled spends). An agent the Policy
// does not have is ErrUnknownAgent.
func (c *Client) Budgets(ctx context.Context, agent, session string) ([]Budget, error) {
	caps, err := c.policy.agentCaps(agent)
	if err != nil {
		return nil, err
	}
	t, err := c.ledger.Totals(ctx, session, "")
	if err != nil {
		return nil, err
	}
	pendSession, err := c.ledger.Pending(ctx, ledger.SpendFilter{Session: session, Agent: agent})
	if err != nil {
		return nil, err
	}
	pendAll, err := c.ledger.Pending(ctx, ledger.SpendFilter{})
	if err != nil {
		return nil, err
	}
	out := []Budget{{Cap: "per-call", Limit: caps.PerCall},
		budget("per-session", caps.PerSession, t.Session, &pendSession),
		budget("per-day", caps.PerDay, t.Day, nil),
		budget("total", caps.Total, t.Total, &pendAll),
	}
	if agent == "" {
		return out, nil
	}
	return c.agentBudgets(ctx, agent, caps.Agent, out)
}

// agentBudgets appends the budgets of agent's own caps to out.
func (c *Client) agentBudgets(ctx context.Context, agent string, caps ledger.AgentCaps, out []Budget) ([]Budget, error) {
	at, err := c.ledger.AgentTotals(ctx, agent, "")
	if err != nil {
		return nil, err
	}
	pend, err := c.ledger.Pending(ctx, ledger.SpendFilter{Agent: agent})
	if err != nil {
		return nil, err
	}
	own := []Budget{{Cap: ledger.CapAgentPerCall, Limit: caps.PerCall},
		budget(ledger.CapAgentPerDay, caps.PerDay, at.Day, nil),
		budget(ledger.CapAgentTotal, caps.Total, at.Total, &pend)}
	for _, api := range slices.Sorted(maps.Keys(caps.PerAPI)) {
		t, err := c.ledger.AgentTotals(ctx, agent, api)
		if err != nil {
			return nil, err
		}
		limit := caps.PerAPI[api]
		b := budget(ledger.CapAgentPerAPI, &limit, t.API, nil)
		b.API = api
		own = append(own, b)
	}
	for i := range own {
		own[i].Agent = agent
	}
	return append(out, own...), nil
}

// budget is one cumulative cap's Budget.
func budget(name string, limit *money.Amount, used money.Amount, pending *money.Amount) Budget {
	b := Budget{Cap: name, Limit: limit, Used: &used, Pending: pending}
	if limit != nil {
		rem := limit.Sub(used)
		if rem.Sign() < 0 {
			rem = money.New(nil, rem.Decimals())
		}
		b.Remaining = &rem
	}
	return b
}

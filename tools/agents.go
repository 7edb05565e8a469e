package tools

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// AgentPolicy is what one agent may spend, inside the Policy's own caps.
type AgentPolicy struct {
	// Caps are the agent's own caps, checked by the ledger with the Policy's caps in the
	// same transaction. A nil cap is no cap of the agent's own.
	Caps ledger.AgentCaps
}

// agentsOf checks and copies the agents of a Policy.
func agentsOf(p Policy) (map[string]AgentPolicy, error) {
	out := make(map[string]AgentPolicy, len(p.Agents))
	for name, a := range p.Agents {
		if name == "" || strings.TrimSpace(name) != name {
			return nil, fmt.Errorf("policy: agent name %q is empty or has spaces around it", name)
		}
		for _, c := range []struct {
			cap string
			v   *money.Amount
		}{{"per-call", a.Caps.PerCall}, {"per-day", a.Caps.PerDay}, {"total", a.Caps.Total}} {
			if c.v != nil && c.v.Sign() < 0 {
				return nil, fmt.Errorf("policy: agent %q: %s cap %s is negative", name, c.cap, c.v)
			}
		}
		for api, v := range a.Caps.PerAPI {
			if v.Sign() < 0 {
				return nil, fmt.Errorf("policy: agent %q: per-api cap of %q %s is negative", name, api, v)
			}
		}
		out[name] = a
	}
	return out, nil
}

// agentCaps returns the caps a call for agent is checked with: the Policy's, with the
// agent's own. A call must name one of the Policy's agents when it has any, and none
// when it has none; otherwise it is refused before anything is sent (ErrUnknownAgent).
func (cp *compiledPolicy) agentCaps(agent string) (ledger.Caps, error) {
	caps := cp.caps
	if len(cp.agents) == 0 {
		if agent != "" {
			return caps, fmt.Errorf("%w: the call is made for agent %q, but toll's config names no agents; "+
				"add it under agents: in toll.yaml, or serve without an agent", ErrUnknownAgent, agent)
		}
		return caps, nil
	}
	a, ok := cp.agents[agent]
	if !ok {
		names := slices.Sorted(maps.Keys(cp.agents))
		who := "names no agent"
		if agent != "" {
			who = fmt.Sprintf("is made for agent %q", agent)
		}
		return caps, fmt.Errorf("%w: the call %s, and toll's config allows only the agents %s; "+
			"nothing was sent. Check the agent's name (serve --agent, or its token) against agents: in toll.yaml",
			ErrUnknownAgent, who, strings.Join(names, ", "))
	}
	caps.Agent = a.Caps
	return caps, nil
}

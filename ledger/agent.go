package ledger

// Agent caps. Each agent named in toll.yaml has its own budget, checked in Reserve's
// transaction beside every other cap. The counters an agent's caps use:
//
//	sums      "g"+agent                → counted total of the agent
//	          "b"+len(agent)+":"+agent+api → counted total of the agent on one API
//	          (len in decimal)
//	agentwin  len(agent) (2 bytes, big endian) ‖ agent ‖ time key (8) ‖ seq (8) →
//	          decimal amount, one per counting call of the agent, keyed by
//	          reservation time
// The agent's rolling-day sum is read from its agentwin
// entries after now-24h: a seek and a walk over that agent's calls of the last day, with
// no cached sum to keep. A call with no agent ("") has no agent counters, so a ledger
// written before agents existed verifies as it did.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// Agent cap names, as reported in CapError.Cap and in refused events.
const (
	CapAgentPerCall = "agent per-call"
	CapAgentPerAPI  = "agent per-api"
	CapAgentPerDay  = "agent per-day"
	CapAgentTotal   = "agent total"
)

// AgentCaps are the caps of one agent (Intent.Agent), checked with every other cap. A nil
// cap is no cap; a zero cap admits nothing. An Intent with no agent has no agent caps.
type AgentCaps struct {
	PerCall *money.Amount           // largest single amount of the agent
	PerDay  *money.Amount           // counted total of the agent in the 24 h before now
	Total   *money.Amount           // counted total of the agent
	PerAPI  map[string]money.Amount // counted total of the agent on Intent.API; an absent API has no cap
}

// AgentTotals are the counted amounts (reserved + unknown + settled) of one agent.
type AgentTotals struct {
	Day   money.Amount // reserved by the agent in the 24 h before now
	Total money.Amount // the agent's whole spending
	API   money.Amount // the agent's spending on the API asked for
}

var bucketAgentWindow = []byte("agentwin")

func agentPrefix(agent string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(agent))), agent...)
}

func agentTotalKey(agent string) []byte { return append([]byte{'g'}, agent...) }

// agentAPIKey is text (the checkpoint keeps counters in JSON): the agent's length in
// decimal, a colon, the agent, the API.
func agentAPIKey(agent, api string) []byte {
	return fmt.Appendf(nil, "b%d:%s%s", len(agent), agent, api)
}

func agentWindowKey(agent string, t time.Time, seq uint64) []byte {
	return append(agentPrefix(agent), windowKey(t, seq)...)
}

// agentSumKeys are the sums counters of a spend of agent on api; none without an agent.
func agentSumKeys(agent, api string) [][]byte {
	if agent == "" {
		return nil
	}
	return [][]byte{agentTotalKey(agent), agentAPIKey(agent, api)}
}

// countAgent adds delta to the agent counters of s and keeps its agentwin entry.
func (b buckets) countAgent(s *Spend, seq uint64, delta *big.Int) error {
	if s.Agent == "" {
		return nil
	}
	for _, k := range agentSumKeys(s.Agent, s.API) {
		if err := b.addSum(k, delta); err != nil {
			return err
		}
	}
	if b.agentWin == nil {
		return tampered(seq, "the agent rolling-day index is missing")
	}
	wk := agentWindowKey(s.Agent, s.ReservedAt, seq)
	if delta.Sign() > 0 {
		return b.agentWin.Put(wk, []byte(delta.String()))
	}
	return b.agentWin.Delete(wk)
}

// agentDaySum returns the agent's counted amount reserved after now-24h.
func (b buckets) agentDaySum(agent string, now time.Time) (*big.Int, error) {
	s := new(big.Int)
	if b.agentWin == nil { // a ledger no agent has paid from yet, read only
		return s, nil
	}
	prefix := agentPrefix(agent)
	c := b.agentWin.Cursor()
	x := new(big.Int)
	for k, v := c.Seek(append(bytes.Clone(prefix), u64(timeKey(now.Add(-day))+1)...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, ok := x.SetString(string(v), 10)
		if len(k) != len(prefix)+16 || !ok || x.Sign() <= 0 {
			return nil, tampered(0, "agent rolling-day index entry %x is damaged", k)
		}
		s.Add(s, x)
	}
	return s, nil
}

// checkAgentCaps returns the first agent cap that in.Amount would exceed (per call, per
// API, rolling day, total, in that order), or nil.
func checkAgentCaps(b buckets, in *Intent, caps *AgentCaps, now time.Time) (*CapError, error) {
	if in.Agent == "" {
		return nil, nil
	}
	over := func(cap, api string, limit *money.Amount, used *big.Int) *CapError {
		u := fromAtomic(used)
		if limit == nil || u.Add(in.Amount).Cmp(*limit) <= 0 {
			return nil
		}
		return &CapError{Cap: cap, Agent: in.Agent, API: api, Limit: *limit, Used: u, Amount: in.Amount}
	}
	if e := over(CapAgentPerCall, "", caps.PerCall, new(big.Int)); e != nil {
		return e, nil
	}
	for _, c := range []struct {
		cap, api string
		limit    *money.Amount
		used     func() (*big.Int, error)
	}{
		{CapAgentPerAPI, in.API, mapCap(caps.PerAPI, in.API), func() (*big.Int, error) { return b.sum(agentAPIKey(in.Agent, in.API)) }},
		{CapAgentPerDay, "", caps.PerDay, func() (*big.Int, error) { return b.agentDaySum(in.Agent, now) }},
		{CapAgentTotal, "", caps.Total, func() (*big.Int, error) { return b.sum(agentTotalKey(in.Agent)) }},
	} {
		if c.limit == nil {
			continue
		}
		used, err := c.used()
		if err != nil {
			return nil, err
		}
		if e := over(c.cap, c.api, c.limit, used); e != nil {
			return e, nil
		}
	}
	return nil, nil
}

func (c *AgentCaps) validate(check func(name string, v money.Amount) error) error {
	for _, cp := range []struct {
		name string
		v    *money.Amount
	}{{CapAgentPerCall, c.PerCall}, {CapAgentPerDay, c.PerDay}, {CapAgentTotal, c.Total}} {
		if cp.v == nil {
			continue
		}
		if err := check(cp.name, *cp.v); err != nil {
			return err
		}
	}
	for api, v := range c.PerAPI {
		if err := check(fmt.Sprintf("agent per-api %q", api), v); err != nil {
			return err
		}
	}
	return nil
}

// AgentTotals returns the counted amounts of agent: in the rolling 24 h before now, in
// all, and on api.
func (l *Ledger) AgentTotals(ctx context.Context, agent, api string) (AgentTotals, error) {
	var t AgentTotals
	err := l.view(ctx, func(b buckets) error {
		if agent == "" {
			return nil
		}
		for _, c := range []struct {
			key []byte
			dst *money.Amount
		}{{agentTotalKey(agent), &t.Total}, {agentAPIKey(agent, api), &t.API}} {
			x, err := b.sum(c.key)
			if err != nil {
				return err
			}
			*c.dst = fromAtomic(x)
		}
		x, err := b.agentDaySum(agent, l.now())
		t.Day = fromAtomic(x)
		return err
	})
	if err != nil {
		return AgentTotals{}, fmt.Errorf("agent %q totals: %w", clip(agent), err)
	}
	if agent == "" {
		zero := fromAtomic(new(big.Int))
		t = AgentTotals{Day: zero, Total: zero, API: zero}
	}
	return t, nil
}

// countAgent is buckets.countAgent on the replayed state.
func (st *derived) countAgent(s *Spend, seq uint64, delta *big.Int) {
	for _, k := range agentSumKeys(s.Agent, s.API) {
		x, ok := st.sums[string(k)]
		if !ok {
			x = new(big.Int)
			st.sums[string(k)] = x
		}
		x.Add(x, delta)
	}
	if s.Agent == "" {
		return
	}
	wk := string(agentWindowKey(s.Agent, s.ReservedAt, seq))
	if delta.Sign() > 0 {
		st.agentWin[wk] = delta.String()
	} else {
		delete(st.agentWin, wk)
	}
}

// compareAgentWindow checks the stored agent rolling-day index against the replayed one.
func (st *derived) compareAgentWindow(b buckets) error {
	stored := map[string]string{}
	if b.agentWin != nil {
		_ = b.agentWin.ForEach(func(k, v []byte) error { stored[string(k)] = string(v); return nil })
	}
	for _, k := range slices.Sorted(maps.Keys(st.agentWin)) {
		if stored[k] != st.agentWin[k] {
			return tampered(be64([]byte(k[len(k)-8:])), "agent rolling-day index entry missing or changed")
		}
		delete(stored, k)
	}
	if len(stored) > 0 {
		k, seq := slices.Sorted(maps.Keys(stored))[0], uint64(0)
		if len(k) >= 16 {
			seq = be64([]byte(k[len(k)-8:]))
		}
		return tampered(seq, "agent rolling-day index has an entry for a call that does not count")
	}
	return nil
}

// compareAgentEntry checks, for Check, that the agentwin entry of one call it replayed is
// stored exactly while the call counts.
func compareAgentEntry(b buckets, rec *callRecord) error {
	if rec.Spend.Agent == "" {
		return nil
	}
	var v []byte
	if b.agentWin != nil {
		v = b.agentWin.Get(agentWindowKey(rec.Spend.Agent, rec.Spend.ReservedAt, rec.Seq))
	}
	if counts := rec.Spend.Status.Counts(); (counts && string(v) != rec.Spend.Amount.AtomicString()) || (!counts && v != nil) {
		return tampered(rec.Seq, "agent rolling-day index entry missing or changed")
	}
	return nil
}

// Pending returns the amount of the calls that match f and are reserved or unknown: in
// flight, or sent without proof of settlement. It reads the open calls' reservations
// (the open index: openindex.go), not every call.
func (l *Ledger) Pending(ctx context.Context, f SpendFilter) (money.Amount, error) {
	var sum money.Amount
	err := l.view(ctx, func(b buckets) error {
		var err error
		sum, err = b.pendingAmount(f)
		return err
	})
	return sum, err
}

package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// Two agents pay the local x402 world at once, each under its own total cap: each is
// refused at its own cap while the other pays on, the chain moves by exactly what the
// ledger settled, and budgets, quotes and history answer per agent.
func TestAgentsOnLocalWorld(t *testing.T) {
	ctx := t.Context()
	lw := newLocalWorld(t, x402test.Options{}, 1_000_000)
	ops := lw.ops(t, "")
	ns := ops["getWeather"].API
	const price = x402test.PriceWeather
	capCalls := map[string]int{"alice": 3, "bob": 5}
	c, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Policy: Policy{
		Networks: []string{lw.world.Chain.NetworkV1()},
		Assets:   []Asset{{Address: lw.world.Chain.TokenAddress()}},
		Agents: map[string]AgentPolicy{
			"alice": {Caps: ledger.AgentCaps{Total: ptr(money.USDC(price * 3))}},
			"bob":   {Caps: ledger.AgentCaps{Total: ptr(money.USDC(price * 5)), PerAPI: map[string]money.Amount{ns: money.USDC(price * 100)}}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	before := lw.balance(t)
	args, _ := json.Marshal(map[string]any{"city": "Oslo"})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		paid    = map[string]int{}
		refused = map[string]int{}
	)
	for i := range 16 {
		agent := []string{"alice", "bob"}[i%2]
		wg.Go(func() {
			res, err := c.Call(context.WithoutCancel(ctx), Call{Op: ops["getWeather"], Arguments: args, Session: "s", Agent: agent})
			mu.Lock()
			defer mu.Unlock()
			var capErr *ledger.CapError
			switch {
			case err == nil && res.Payment != nil && res.Payment.Status == ledger.StatusSettled:
				paid[agent]++
			case errors.As(err, &capErr) && capErr.Cap == ledger.CapAgentTotal && capErr.Agent == agent:
				refused[agent]++
			default:
				t.Errorf("agent %s: unexpected outcome %v", agent, err)
			}
		})
	}
	wg.Wait()
	for agent, n := range capCalls {
		if paid[agent] != n || refused[agent] != 8-n {
			t.Errorf("agent %s: paid %d, refused %d; want %d and %d", agent, paid[agent], refused[agent], n, 8-n)
		}
	}
	if spent := before.Sub(lw.balance(t)); spent.Cmp(money.USDC(price*8)) != 0 {
		t.Errorf("chain: payer spent %s, want %s", spent, money.USDC(price*8))
	}

	budgets, err := c.Budgets(ctx, "bob", "s")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Budget{}
	for _, b := range budgets {
		got[b.Cap+"/"+b.Agent+"/"+b.API] = b
	}
	for key, want := range map[string]int64{
		"agent total/bob/": price * 5, "agent per-api/bob/" + ns: price * 5, "agent per-day/bob/": price * 5, "total//": price * 8,
	} {
		b, ok := got[key]
		if !ok || b.Used == nil || b.Used.Cmp(money.USDC(want)) != 0 {
			t.Errorf("budget %s = %+v, want used %d", key, b, want)
		}
	}
	if b := got["agent total/bob/"]; b.Remaining == nil || b.Remaining.Sign() != 0 || b.Pending == nil || b.Pending.Sign() != 0 {
		t.Errorf("bob's total budget = %+v, want nothing remaining and nothing pending", b)
	}

	q, err := c.Quote(ctx, Call{Op: ops["getWeather"], Arguments: args, Session: "s2", Agent: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if q.WouldPay() || q.Refused == nil || q.Refused.Cap != ledger.CapAgentTotal {
		t.Errorf("alice's quote: would pay %v, refused %v; want refused by her total cap", q.WouldPay(), q.Refused)
	}
	hist, err := c.History(ctx, ledger.SpendFilter{Agent: "alice"}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Errorf("alice's history has %d spends, want 3", len(hist))
	}
	for _, s := range hist {
		if s.Agent != "alice" {
			t.Errorf("alice's history holds a spend of %q", s.Agent)
		}
	}
}

// A call for an agent the policy does not have, or for none where it has agents, is
// refused before anything is sent.
func TestUnknownAgentSendsNothing(t *testing.T) {
	var requests atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		write402(good())(w)
	})
	f := serveFixture(t, api, Policy{Agents: map[string]AgentPolicy{"alice": {}}})
	for _, agent := range []string{"mallory", ""} {
		_, err := f.client.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`), Agent: agent})
		if !errors.Is(err, ErrUnknownAgent) {
			t.Errorf("Call for agent %q: %v, want ErrUnknownAgent", agent, err)
		}
		if _, err := f.client.Budgets(t.Context(), agent, "s"); !errors.Is(err, ErrUnknownAgent) {
			t.Errorf("Budgets for agent %q: %v, want ErrUnknownAgent", agent, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the API, want none", n)
	}
}

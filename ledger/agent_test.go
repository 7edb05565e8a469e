package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

func agentIntent(id, agent string, amount int64) Intent {
	in := intent(id, amount)
	in.Agent = agent
	return in
}

func agentTotals(t testing.TB, l *Ledger, agent, api string) [3]int64 {
	t.Helper()
	tot, err := l.AgentTotals(t.Context(), agent, api)
	if err != nil {
		t.Fatalf("AgentTotals(%q): %v", agent, err)
	}
	return [3]int64{units(t, tot.Day), units(t, tot.Total), units(t, tot.API)}
}

// Each agent cap counts only its agent's spends: alice reaches hers while bob, and calls
// with no agent, are not counted against it.
func TestAgentCaps(t *testing.T) {
	tests := []struct {
		name    string
		caps    AgentCaps
		cap     string
		api     string // CapError.API
		message string
	}{
		{"per-call", AgentCaps{PerCall: amt(60)}, CapAgentPerCall, "",
			`agent "alice" per-call cap exceeded: used 0 + asked 0.000061 > limit 0.00006`},
		{"per-api", AgentCaps{PerAPI: map[string]money.Amount{"weather": money.USDC(100)}}, CapAgentPerAPI, "weather",
			`agent "alice" per-api "weather" cap exceeded: used 0.00006 + asked 0.000061 > limit 0.0001`},
		{"per-day", AgentCaps{PerDay: amt(100)}, CapAgentPerDay, "",
			`agent "alice" per-day cap exceeded: used 0.00006 + asked 0.000061 > limit 0.0001`},
		{"total", AgentCaps{Total: amt(100)}, CapAgentTotal, "",
			`agent "alice" total cap exceeded: used 0.00006 + asked 0.000061 > limit 0.0001`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			l, _ := newLedger(t)
			caps := Caps{Agent: tt.caps}
			mustReserve(t, l, agentIntent("a1", "alice", 60), caps)
			if err := l.Settle(ctx, "a1", "0x1"); err != nil {
				t.Fatal(err)
			}
			// Bob and calls with no agent are not alice: what they spend is not hers.
			// (Caps.Agent are the caps of the intent's agent: bob's are none here.)
			mustReserve(t, l, agentIntent("b1", "bob", 500), Caps{})
			mustReserve(t, l, agentIntent("n1", "", 500), caps)

			in := agentIntent("a2", "alice", 61)
			_, err := l.Reserve(ctx, in, caps)
			var ce *CapError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCapExceeded) {
				t.Fatalf("Reserve(a2) = %v, want a *CapError", err)
			}
			used := money.USDC(60)
			if tt.cap == CapAgentPerCall {
				used = money.USDC(0)
			}
			want := &CapError{Cap: tt.cap, Agent: "alice", API: tt.api, Limit: ce.Limit, Used: used, Amount: money.USDC(61)}
			if diff := cmp.Diff(want, ce, amountCmp); diff != "" {
				t.Errorf("CapError (-want +got):\n%s", diff)
			}
			if err.Error() != tt.message {
				t.Errorf("message = %q, want %q", err.Error(), tt.message)
			}
			evs := events(t, l)
			if last := evs[len(evs)-1]; last.Kind != KindRefused || last.Agent != "alice" || last.Cap != tt.cap {
				t.Errorf("last event = %+v, want refused for alice by %s", last, tt.cap)
			}
			mustReserve(t, l, agentIntent("a3", "alice", 40), caps) // exactly the limit (or under per-call)
			mustReserve(t, l, agentIntent("b2", "bob", 61), Caps{})
			if got, want := agentTotals(t, l, "alice", "weather"), [3]int64{100, 100, 100}; got != want {
				t.Errorf("alice totals = %v, want %v", got, want)
			}
			if got, want := agentTotals(t, l, "bob", "weather"), [3]int64{561, 561, 561}; got != want {
				t.Errorf("bob totals = %v, want %v", got, want)
			}
			if got, want := agentTotals(t, l, "bob", "maps"), [3]int64{561, 561, 0}; got != want {
				t.Errorf("bob totals on maps = %v, want %v", got, want)
			}
			// Released amounts no longer count for the agent.
			if err := l.Release(ctx, "a3", "signing failed"); err != nil {
				t.Fatal(err)
			}
			if got, want := agentTotals(t, l, "alice", "weather"), [3]int64{60, 60, 60}; got != want {
				t.Errorf("alice totals after a release = %v, want %v", got, want)
			}
			verify(t, l)
			if err := l.Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

// The global caps are checked first; an agent's caps then; WouldExceed agrees.
func TestAgentCapOrder(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	caps := Caps{Total: amt(1000), Agent: AgentCaps{Total: amt(100), PerCall: amt(50)}}
	mustReserve(t, l, agentIntent("a1", "alice", 50), caps)
	for _, tc := range []struct {
		agent  string
		amount int64
		cap    string // "" fits
	}{
		{"alice", 2000, CapTotal},
		{"alice", 51, CapAgentPerCall},
		{"alice", 50, ""},
		{"bob", 50, ""},
		{"", 900, ""},
	} {
		capErr, err := l.WouldExceed(ctx, Check{Agent: tc.agent, Session: "s1", API: "weather", Amount: money.USDC(tc.amount)}, caps)
		if err != nil {
			t.Fatal(err)
		}
		if got := capName(capErr); got != tc.cap {
			t.Errorf("WouldExceed(%s, %d) = %v, want cap %q", tc.agent, tc.amount, capErr, tc.cap)
		}
	}
	mustReserve(t, l, agentIntent("a2", "alice", 50), caps)
	_, err := l.Reserve(ctx, agentIntent("a3", "alice", 1), caps)
	var ce *CapError
	if !errors.As(err, &ce) || ce.Cap != CapAgentTotal {
		t.Errorf("Reserve over alice's total = %v, want the agent total cap", err)
	}
}

func capName(e *CapError) string {
	if e == nil {
		return ""
	}
	return e.Cap
}

// An agent's rolling day moves with the clock, back and forth.
func TestAgentRollingDay(t *testing.T) {
	ctx := t.Context()
	l, c := newLedger(t)
	caps := Caps{Agent: AgentCaps{PerDay: amt(100)}}
	mustReserve(t, l, agentIntent("a", "alice", 60), caps)
	c.Set(t0.Add(day - time.Nanosecond))
	if _, err := l.Reserve(ctx, agentIntent("b", "alice", 41), caps); !errors.Is(err, ErrCapExceeded) {
		t.Fatalf("Reserve inside the day = %v, want a cap error", err)
	}
	c.Set(t0.Add(day))
	if got, want := agentTotals(t, l, "alice", "weather"), [3]int64{0, 60, 60}; got != want {
		t.Errorf("alice totals 24 h later = %v, want %v", got, want)
	}
	mustReserve(t, l, agentIntent("b", "alice", 100), caps)
	c.Set(t0.Add(time.Hour)) // the clock goes back: a and b are both in the window
	if got, want := agentTotals(t, l, "alice", "weather"), [3]int64{160, 160, 160}; got != want {
		t.Errorf("alice totals with the clock back = %v, want %v", got, want)
	}
	verify(t, l)
}

// Many goroutines over several handles reserve for two agents with their own caps and
// no global cap: at no point of the history does an agent's counted amount pass its caps.
func TestConcurrentAgentCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	var handles []*Ledger
	for range 3 {
		handles = append(handles, openLedger(t, path, Options{Timeout: 2 * time.Minute}))
	}
	limits := map[string]money.Amount{"alice": money.USDC(1500), "bob": money.USDC(3000)}
	dayLimits := map[string]money.Amount{"alice": money.USDC(1200), "bob": money.USDC(100000)}
	capsOf := func(agent string) Caps {
		total, perDay := limits[agent], dayLimits[agent]
		return Caps{Agent: AgentCaps{Total: &total, PerDay: &perDay}}
	}
	const goroutines, reservations = 16, 300
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var next, admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := t.Context()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			l := handles[g%len(handles)]
			for {
				i := next.Add(1)
				if i > reservations {
					return
				}
				agent := []string{"alice", "bob"}[rng.IntN(2)]
				id := fmt.Sprintf("call-%d", i)
				_, err := l.Reserve(ctx, agentIntent(id, agent, 1+rng.Int64N(100)), capsOf(agent))
				if errors.Is(err, ErrCapExceeded) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("Reserve(%s): %v", id, err)
					return
				}
				admitted.Add(1)
				o := handles[rng.IntN(len(handles))]
				switch r := rng.IntN(10); {
				case r < 5:
					err = o.Settle(ctx, id, "0x1")
				case r < 7:
					err = o.Release(ctx, id, "signing failed")
				}
				if err != nil {
					t.Errorf("outcome of %s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d admitted, %d refused", admitted.Load(), refused.Load())
	if refused.Load() == 0 {
		t.Fatalf("no reservation refused: the caps were not reached")
	}
	// Replay: the counted amount of each agent never passes its tightest cap (every
	// reservation is within the day here).
	counted := map[string]money.Amount{}
	reserved := map[string]Event{}
	for _, e := range events(t, handles[0]) {
		switch e.Kind {
		case KindReserved:
			reserved[e.CallID] = e
			counted[e.Agent] = counted[e.Agent].Add(*e.Amount)
			lim := limits[e.Agent]
			if dayLimits[e.Agent].Cmp(lim) < 0 {
				lim = dayLimits[e.Agent]
			}
			if counted[e.Agent].Cmp(lim) > 0 {
				t.Fatalf("event %d: agent %s at %v, over its cap %v", e.Seq, e.Agent, counted[e.Agent], lim)
			}
		case KindReleased, KindVoided:
			r := reserved[e.CallID]
			counted[r.Agent] = counted[r.Agent].Sub(*r.Amount)
		}
	}
	for agent, want := range counted {
		if got := agentTotals(t, handles[1], agent, "weather"); got != [3]int64{units(t, want), units(t, want), units(t, want)} {
			t.Errorf("agent %s totals %v, events give %v", agent, got, want)
		}
	}
	verify(t, handles[2])
}

// agentLedger is a ledger of n settled calls of agent alice, one every gap, written in one
// transaction.
func agentLedger(b *testing.B, n int, gap time.Duration) (*Ledger, *clock) {
	b.Helper()
	c := newClock()
	l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{Now: c.Now})
	err := l.update(b.Context(), func(bk buckets) error {
		for i := range n {
			c.Add(gap)
			in := agentIntent(fmt.Sprintf("call-%d", i), "alice", 10_000)
			if _, _, err := reserveTx(bk, in, Caps{}, c.Now()); err != nil {
				return err
			}
			if err := transitionTx(bk, Outcome{CallID: in.CallID, Kind: KindSettled, TxHash: "0xfeed"}, c.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return l, c
}

// BenchmarkAgentDay measures the check of an agent's per-day cap, which walks the
// agent's reservations of the last 24 h (WouldExceed: the same check as Reserve's, in a
// read transaction), against the global per-day cap's cached sum:
//
//   - global-day: 5000 calls in the last day, the global per-day cap only;
//   - agent-day/N: the agent's per-day cap with N of its calls in the last day (of 5000).
func BenchmarkAgentDay(b *testing.B) {
	ctx := b.Context()
	check := Check{Agent: "alice", Session: "s1", API: "weather", Amount: money.USDC(1)}
	for _, bc := range []struct {
		name string
		gap  time.Duration
		caps Caps
	}{
		{"global-day", 2 * time.Second, Caps{PerDay: amt(1 << 60)}},
		{"agent-day/720", 2 * time.Minute, Caps{Agent: AgentCaps{PerDay: amt(1 << 60)}}},
		{"agent-day/5000", 2 * time.Second, Caps{Agent: AgentCaps{PerDay: amt(1 << 60)}}},
	} {
		l, _ := agentLedger(b, 5000, bc.gap)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if capErr, err := l.WouldExceed(ctx, check, bc.caps); err != nil || capErr != nil {
					b.Fatal(capErr, err)
				}
			}
		})
	}
}

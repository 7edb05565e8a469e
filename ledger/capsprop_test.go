package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// The caps property across processes: propProcs processes (this test binary run again,
// see TestMain), each with propGoroutines goroutines on one handle, reserve at random
// prices around every kind of cap (per call, session, API, tool, day, total, and an
// agent's per call, API, day and total), and settle, mark unknown or release at random.
// Replaying the chain afterwards, no cap is ever exceeded at any point of the history,
// every refusal names a cap that the amount would really have passed given what was
// counted at its place in the chain, and no nonce is reserved twice.
const (
	propProcs      = 4
	propGoroutines = 64
	propPerProc    = 120 // reservations each process attempts

	propWorkerEnv = "TOLL_LEDGER_TEST_WORKER" // "caps": the helper runs propWorker
	propCountEnv  = "TOLL_LEDGER_TEST_COUNT"  // the reservations propWorker makes; unset: propPerProc
)

// propCaps are the caps of a call of set "A" or "B" (Intent.Method says which): a day and
// the whole ledger count alike within the test's few seconds, so set A binds the day
// first and set B the total, and the same for the agent.
func propCaps(set string) Caps {
	c := Caps{
		PerCall: amt(95), PerSession: amt(2000), PerDay: amt(7000), Total: amt(7500),
		PerAPI:  map[string]money.Amount{"a0": money.USDC(2000), "a1": money.USDC(3000)},
		PerTool: map[string]money.Amount{"t0": money.USDC(1500)},
		Agent: AgentCaps{PerCall: amt(90), PerDay: amt(1800), Total: amt(2000),
			PerAPI: map[string]money.Amount{"a2": money.USDC(600)}},
	}
	if set == "B" {
		c.PerDay, c.Total = nil, amt(6800)
		c.Agent.PerDay, c.Agent.Total = nil, amt(1700)
	}
	return c
}

// propWorker makes n reservations (ids prefix-1...) on l from propGoroutines goroutines.
func propWorker(l *Ledger, prefix string, n int64) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, propGoroutines)
	seed := uint64(time.Now().UnixNano())
	for g := range propGoroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if err := propCall(l, rng, fmt.Sprintf("%s-%d", prefix, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// propCall reserves one call at random terms and records a random outcome.
func propCall(l *Ledger, rng *rand.Rand, id string) error {
	ctx := context.Background()
	in := intent(id, 1+rng.Int64N(100))
	in.Session, in.API, in.Tool = fmt.Sprintf("s%d", rng.IntN(4)), fmt.Sprintf("a%d", rng.IntN(3)), fmt.Sprintf("t%d", rng.IntN(3))
	if rng.IntN(3) == 0 {
		in.Agent = "alice"
	}
	in.Method = []string{"A", "B"}[rng.IntN(2)]
	caps := propCaps(in.Method)
	if in.Agent == "" {
		caps.Agent = AgentCaps{}
	}
	_, err := l.Reserve(ctx, in, caps)
	if errors.Is(err, ErrCapExceeded) {
		return nil
	}
	if err != nil {
		return err
	}
	switch r := rng.IntN(10); {
	case r < 4:
		err = l.Settle(ctx, id, "0x"+id)
	case r < 7:
		err = l.Release(ctx, id, "signing failed")
	case r < 9:
		err = l.MarkUnknown(ctx, id, "eof")
	}
	return err
}

// TestCapsAcrossProcesses is the property above, on the store the tests run on (bbolt,
// and PostgreSQL in TestPostgresConformance).
func TestCapsAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Timeout: 2 * time.Minute})
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range propProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, helperPrefixEnv+"=p"+strconv.Itoa(i), propWorkerEnv+"=caps")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	if t.Failed() {
		return
	}
	evs := events(t, l)
	reserved, refused := replayCaps(t, evs)
	t.Logf("%d events: %d reserved, %d refused by a cap", len(evs), reserved, refused)
	if reserved+refused != propProcs*propPerProc || reserved == 0 || refused == 0 {
		t.Errorf("%d reserved + %d refused, want %d with both > 0", reserved, refused, propProcs*propPerProc)
	}
	verify(t, l)
}

// replayCaps replays evs, checking the property, and returns how many calls were
// reserved and refused.
func replayCaps(t *testing.T, evs []Event) (reserved, refused int) {
	t.Helper()
	counted := map[string]int64{} // "total", "s:S", "a:A", "t:T", "agent", "agent-a:A"
	keys := func(e Event) map[string]string {
		k := map[string]string{CapTotal: "total", CapPerDay: "total", CapPerSession: "s:" + e.Session,
			CapPerAPI: "a:" + e.API, CapPerTool: "t:" + e.Tool}
		if e.Agent != "" {
			k[CapAgentTotal], k[CapAgentPerDay], k[CapAgentPerAPI] = "agent", "agent", "agent-a:"+e.API
		}
		return k
	}
	limits := func(e Event) map[string]*money.Amount {
		caps := propCaps(e.Method)
		m := map[string]*money.Amount{CapTotal: caps.Total, CapPerDay: caps.PerDay, CapPerSession: caps.PerSession}
		if c, ok := caps.PerAPI[e.API]; ok {
			m[CapPerAPI] = &c
		}
		if c, ok := caps.PerTool[e.Tool]; ok {
			m[CapPerTool] = &c
		}
		if e.Agent != "" {
			m[CapAgentTotal], m[CapAgentPerDay] = caps.Agent.Total, caps.Agent.PerDay
			if c, ok := caps.Agent.PerAPI[e.API]; ok {
				m[CapAgentPerAPI] = &c
			}
		}
		return m
	}
	calls, nonces, byCap := map[string]Event{}, map[string]string{}, map[string]int{}
	for _, e := range evs {
		switch e.Kind {
		case KindReserved:
			reserved++
			if other, dup := nonces[e.Nonce]; dup {
				t.Fatalf("event %d: nonce %s reserved again (first by %s)", e.Seq, e.Nonce, other)
			}
			nonces[e.Nonce], calls[e.CallID] = e.CallID, e
			a := units(t, *e.Amount)
			if caps := propCaps(e.Method); e.Amount.Cmp(*caps.PerCall) > 0 || (e.Agent != "" && e.Amount.Cmp(*caps.Agent.PerCall) > 0) {
				t.Fatalf("event %d: %v reserved over the per-call caps", e.Seq, e.Amount)
			}
			for _, k := range counters(keys(e)) {
				counted[k] += a
			}
			for name, k := range keys(e) {
				if lim := limits(e)[name]; lim != nil && counted[k] > units(t, *lim) {
					t.Fatalf("event %d: %s cap %v exceeded: %d counted", e.Seq, name, lim, counted[k])
				}
			}
		case KindReleased, KindVoided:
			r := calls[e.CallID]
			for _, k := range counters(keys(r)) {
				counted[k] -= units(t, *r.Amount)
			}
		case KindRefused:
			refused++
			byCap[e.Cap]++
			checkRefusal(t, e, counted, keys(e))
		}
	}
	t.Logf("refusals by cap: %v", byCap)
	return reserved, refused
}

// counters are the distinct counters of keys (a day and the total share one here: the
// test runs within a day).
func counters(keys map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = k
	}
	return out
}

// checkRefusal checks that refusal e names a cap that e's amount would have passed, with
// what the replay counted at its place.
func checkRefusal(t *testing.T, e Event, counted map[string]int64, keys map[string]string) {
	t.Helper()
	if e.Cap == CapPerCall || e.Cap == CapAgentPerCall {
		if e.Amount.Cmp(*e.Limit) <= 0 {
			t.Errorf("event %d: refused %v under the %s cap %v", e.Seq, e.Amount, e.Cap, e.Limit)
		}
		return
	}
	k, ok := keys[e.Cap]
	if !ok || e.Used == nil || e.Limit == nil {
		t.Fatalf("event %d: a refusal by cap %q (used %v, limit %v) the test does not know", e.Seq, e.Cap, e.Used, e.Limit)
	}
	if used := units(t, *e.Used); used != counted[k] || used+units(t, *e.Amount) <= units(t, *e.Limit) {
		t.Errorf("event %d: refused by %s with %d used of %v; the chain counts %d there and the amount is %v",
			e.Seq, e.Cap, used, e.Limit, counted[k], e.Amount)
	}
}

// TestKilledWriter kills (SIGKILL) a process that is reserving and settling from 64
// goroutines, in the middle of its writes: what it committed is whole (the chain and
// the state derived from it verify), and the ledger takes writes from others at once
// (a transaction cut with its process holds no lock).
func TestKilledWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Timeout: 2 * time.Minute})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path, helperPrefixEnv+"=killed", propWorkerEnv+"=caps", propCountEnv+"=1000000000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for len(events(t, l)) < 40 {
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the writer ended before it was killed:\n%s", &out)
	}
	verify(t, l)
	mustReserve(t, l, intent("after-the-kill", 10), Caps{})
	verify(t, l)
}

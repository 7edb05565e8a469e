package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
)

// Verify checks the whole ledger: the event chain (every event present, in
// sequence, its hash matching its contents and linking to the previous
// event's hash, the last one matching the stored head), that the chain is a
// valid history (no transition from a final status, no call reserved twice),
// and that the derived state used for the caps (each call's status, the
// counters, the rolling-day index) is exactly what replaying the chain gives.
// A failure is a *TamperError (errors.Is(err, ErrTampered)) naming the
// position.
//
// The chain is not keyed: whoever can write the file can rewrite every hash
// after an edit. Keep a copy of the last hash elsewhere (e.g. an export) to
// detect that too.
//
// It streams (see stream.go): it verifies the chain up to the head it finds at its
// start, reading it in short read transactions so that writers go on meanwhile, and
// compares the state stored at the head with the replayed one in one last short
// transaction. Its memory grows with the calls still open, not with the ledger.
func (l *Ledger) Verify(ctx context.Context) error {
	_, err := l.VerifyHead(ctx)
	return err
}

// replayStored checks and replays the stored events after ch's position, and checks
// that the last one is the stored head.
func (ch *chain) replayStored(b buckets) error {
	c := b.events.Cursor()
	for k, v := c.Seek(u64(ch.n + 1)); k != nil; k, v = c.Next() {
		want := ch.n + 1
		if len(k) != 8 {
			return tampered(want, "malformed event key %x", k)
		}
		if got := be64(k); got != want {
			return tampered(want, "event missing (next stored event is %d)", got)
		}
		e, err := decodeRecord(v)
		if err != nil {
			return tampered(want, "%v", err)
		}
		if err := ch.add(&e); err != nil {
			return err
		}
	}
	seq, head, err := readHead(b.meta)
	if err != nil {
		return err
	}
	if seq != ch.n || head != ch.prev {
		// The first position that the chain and the head disagree on.
		pos := min(seq, ch.n) + 1
		if seq == ch.n {
			pos = seq // same length, different last hash
		}
		return tampered(pos, "chain ends at event %d but the head says %d: events were deleted or added", ch.n, seq)
	}
	return nil
}

// VerifyEvents checks a chain read back from an export (ReadJSONL): sequence
// numbers from 1, every hash against the event's contents and the previous
// hash, and the history's transitions. It cannot tell whether events were cut
// from the end; compare the last hash with one kept elsewhere for that.
func VerifyEvents(events []Event) error {
	ch := newChain()
	for i := range events {
		if err := ch.add(&events[i]); err != nil {
			return err
		}
	}
	return nil
}

// chain checks events one at a time, in order (links), and replays them.
type chain struct {
	links
	st *derived

	recover RecoverFunc // checks signed heads' signatures; nil: only their totals
	report  Report      // signed heads and settlements seen
}

func newChain() *chain {
	return &chain{st: &derived{
		calls: map[string]*callRecord{}, sums: map[string]*big.Int{}, window: map[string]string{}, agentWin: map[string]string{},
	}}
}

func (ch *chain) add(e *Event) error {
	if err := ch.links.add(e); err != nil {
		return err
	}
	return ch.replay(e)
}

// replay applies e, whose place in the chain was checked, to the replayed state; a
// signed head is checked against it (signed.go).
func (ch *chain) replay(e *Event) error {
	switch e.Kind {
	case KindSignedHead:
		ch.report.UnsignedSettled = 0
		return ch.replaySignedHead(e)
	case KindSettled:
		ch.report.UnsignedSettled++
	}
	return ch.st.replay(e)
}

// derived is the state Reserve and the transitions maintain, rebuilt from
// the chain.
type derived struct {
	calls    map[string]*callRecord
	sums     map[string]*big.Int
	window   map[string]string
	agentWin map[string]string // the agents' rolling-day index (agent.go)
}

// replay applies one event to the derived state; an event that is not a
// valid next step of the history is tampering.
func (st *derived) replay(e *Event) error {
	if !validKind(e.Kind) {
		return tampered(e.Seq, "unknown event kind %q", e.Kind)
	}
	if e.Kind == KindRefused || e.Kind.callless() {
		return nil // no spend, no total
	}
	switch e.Kind {
	case KindReserved:
		if e.CallID == "" || e.Amount == nil || e.Amount.Sign() <= 0 {
			return tampered(e.Seq, "reservation without call id or positive amount")
		}
		if _, dup := st.calls[e.CallID]; dup {
			return tampered(e.Seq, "call %q reserved twice", e.CallID)
		}
		sp := reservedSpend(e)
		st.calls[e.CallID] = &callRecord{Spend: sp, Seq: e.Seq, Last: e.Seq}
		st.count(&sp, e.Seq, e.Amount.Atomic()) // decoded at Decimals
	default:
		rec, ok := st.calls[e.CallID]
		if !ok {
			return tampered(e.Seq, "%s event for call %q, which was never reserved", e.Kind, e.CallID)
		}
		from := rec.Spend.Status
		if err := apply(&rec.Spend, e); err != nil {
			return tampered(e.Seq, "call %q: %v", e.CallID, err)
		}
		rec.Last = e.Seq
		if from.Counts() && !rec.Spend.Status.Counts() {
			delta := rec.Spend.Amount.Atomic()
			st.count(&rec.Spend, rec.Seq, delta.Neg(delta))
		}
	}
	return nil
}

func (st *derived) count(s *Spend, seq uint64, delta *big.Int) {
	for _, k := range []string{string(sumTotal), string(sessionKey(s.Session)), string(apiKey(s.API)), string(toolKey(s.Tool)), string(payToKey(s.PayTo))} {
		x, ok := st.sums[k]
		if !ok {
			x = new(big.Int)
			st.sums[k] = x
		}
		x.Add(x, delta)
	}
	st.countAgent(s, seq, delta)
	wk := string(windowKey(s.ReservedAt, seq))
	if delta.Sign() > 0 {
		st.window[wk] = delta.String()
	} else {
		delete(st.window, wk)
	}
}

// compare checks the stored derived state against the replayed one.
func (st *derived) compare(b buckets) error {
	recs, err := b.allCalls()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		want, ok := st.calls[rec.Spend.CallID]
		if !ok {
			return tampered(rec.Seq, "call %q is recorded but has no reservation event", rec.Spend.CallID)
		}
		got, _ := json.Marshal(rec)
		exp, _ := json.Marshal(want)
		if !bytes.Equal(got, exp) {
			return tampered(want.Seq, "recorded state of call %q does not match its events", rec.Spend.CallID)
		}
	}
	if len(recs) != len(st.calls) {
		missing := ""
		for id, rec := range st.calls {
			if b.calls.Get([]byte(id)) == nil {
				missing = fmt.Sprintf("call %q (event %d)", id, rec.Seq)
				break
			}
		}
		return tampered(0, "%d calls recorded, %d reserved by events; missing %s", len(recs), len(st.calls), missing)
	}

	if err := st.compareSums(b); err != nil {
		return err
	}
	storedWin := map[string]string{}
	_ = b.window.ForEach(func(k, v []byte) error { storedWin[string(k)] = string(v); return nil })
	for _, k := range slices.Sorted(maps.Keys(st.window)) {
		if storedWin[k] != st.window[k] {
			return tampered(be64([]byte(k[8:])), "rolling-day index entry missing or changed")
		}
		delete(storedWin, k)
	}
	if len(storedWin) > 0 {
		k, seq := slices.Sorted(maps.Keys(storedWin))[0], uint64(0)
		if len(k) == 16 {
			seq = be64([]byte(k[8:]))
		}
		return tampered(seq, "rolling-day index has an entry for a call that does not count")
	}
	if err := st.compareAgentWindow(b); err != nil {
		return err
	}
	if err := st.compareOpen(b); err != nil {
		return err
	}
	return compareDay(b)
}

// compareSums checks every stored counter against the replayed ones.
func (st *derived) compareSums(b buckets) error {
	stored := map[string]string{}
	_ = b.sums.ForEach(func(k, v []byte) error { stored[string(k)] = string(v); return nil })
	for _, k := range slices.Sorted(maps.Keys(st.sums)) {
		if b.format < 3 && k[0] == 'p' {
			continue // no per-recipient counters before format 3
		}
		if got, want := stored[k], st.sums[k].String(); got != want {
			return tampered(0, "counter %q is %q, events give %s", clip(k), clip(got), want)
		}
		delete(stored, k)
	}
	if len(stored) > 0 {
		return tampered(0, "counter %q has no events behind it", clip(slices.Sorted(maps.Keys(stored))[0]))
	}
	return nil
}

// compareDay checks the cached rolling-day sum against the stored index entries it
// covers (those after its window edge).
func compareDay(b buckets) error {
	w, s, err := b.dayState()
	if err != nil {
		return err
	}
	want := new(big.Int)
	c := b.window.Cursor()
	for k, v := c.Seek(u64(w + 1)); k != nil; k, v = c.Next() {
		x, ok := new(big.Int).SetString(string(v), 10)
		if len(k) != 16 || !ok || x.Sign() <= 0 {
			return tampered(0, "rolling-day index entry %x is damaged", k)
		}
		want.Add(want, x)
	}
	if s.Cmp(want) != 0 {
		return tampered(0, "rolling-day sum is %s, the index gives %s", s, want)
	}
	return nil
}

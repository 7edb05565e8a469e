package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
)

// verifier is Verify, streaming (see stream.go). It replays the events with the chain's
// rules (chain.add) and keeps, of the calls, only those still open (reserved or
// unknown): a call that becomes final can never change again, so its stored record and
// rolling-day entry are compared with the replayed ones soon after (in the next short
// read transaction) and it is forgotten. What it keeps is the open calls, the counters
// (one per session, API, tool: bounded by names, not by calls) and up to readBatch
// final calls waiting to be compared.
//
// The counters, the open calls and the rolling-day sum change with every write, so
// they are compared last, in one read transaction that first replays the events
// written since the scan (when they are few; otherwise it catches up and tries
// again): that transaction sees the stored state and the chain at the same head.
type verifier struct {
	ch       *chain
	done     []*callRecord // final calls replayed, to compare with their stored records
	doneIDs  map[string]*callRecord
	reserved int // reserved events replayed: one stored call record each
	settled  int // settled calls forgotten: one rolling-day entry each
	agented  int // of those, calls of an agent: one agent rolling-day entry each

	// stored reads a call's stored record: in a read transaction of its own during the
	// scan, in finish's at the end.
	stored func(id string) (*callRecord, error)

	// find are hashes (hex) whose positions in the chain VerifyReport reports in found.
	find  map[string]bool
	found map[string]uint64
}

// VerifyHead is Verify, and returns the head of the chain it verified: a copy of it kept
// elsewhere shows later whether events were cut from the end or rewritten.
func (l *Ledger) VerifyHead(ctx context.Context) (Head, error) {
	v := &verifier{ch: newChain(), doneIDs: map[string]*callRecord{}}
	if err := l.verifyStream(ctx, v); err != nil {
		return Head{}, fmt.Errorf("verify %s: %w", l.path, err)
	}
	return Head{Seq: v.ch.n, Hash: hex.EncodeToString(v.ch.prev[:])}, nil
}

// compareBatch is how many final calls one read transaction of Verify compares with
// their stored records. Each lookup faults in a page of the calls at random, and Linux
// maps the cached pages around it too (fault-around, 64 KB): the transaction's mapped
// memory is about compareBatch × 64 KB until it ends and the file is unmapped.
const compareBatch = 512

func (l *Ledger) verifyStream(ctx context.Context, v *verifier) error {
	scanStored := func(id string) (rec *callRecord, err error) {
		err = l.view(ctx, func(b buckets) error {
			rec, err = b.call(id)
			return err
		})
		return rec, err
	}
	add := func(e *Event) error {
		v.stored = scanStored
		if err := v.replay(e); err != nil {
			return err
		}
		if len(v.done) >= compareBatch {
			return l.view(ctx, v.compareDone)
		}
		return nil
	}
	for {
		h, err := l.head(ctx)
		if err != nil {
			return err
		}
		if h.seq > v.ch.n+readBatch {
			if err := l.scanRange(ctx, &v.ch.links, h.seq, add); err != nil {
				return err
			}
			continue
		}
		caught := false
		err = l.view(ctx, func(b buckets) error {
			var err error
			caught, err = v.finish(b)
			return err
		})
		if err != nil || caught {
			return err
		}
	}
}

// replay adds e to the chain and forgets a call that e made final.
func (v *verifier) replay(e *Event) error {
	if err := v.forgotten(e); err != nil {
		return err
	}
	if v.find[e.Hash] {
		v.found[e.Hash] = e.Seq
	}
	if err := v.ch.replay(e); err != nil {
		return err
	}
	switch e.Kind {
	case KindReserved:
		v.reserved++
	case KindSettled, KindReleased, KindVoided:
		rec := v.ch.st.calls[e.CallID]
		if rec == nil || !rec.Spend.Status.Final() {
			return nil
		}
		v.done = append(v.done, rec)
		v.doneIDs[e.CallID] = rec
		delete(v.ch.st.calls, e.CallID)
		if rec.Spend.Status.Counts() {
			delete(v.ch.st.window, string(windowKey(rec.Spend.ReservedAt, rec.Seq)))
			v.settled++
			if rec.Spend.Agent != "" {
				delete(v.ch.st.agentWin, string(agentWindowKey(rec.Spend.Agent, rec.Spend.ReservedAt, rec.Seq)))
				v.agented++
			}
		}
	}
	return nil
}

// forgotten reports a transition event of a call that was final already (and so
// forgotten) as the replay would have. The call is among those still to compare, or its
// stored record was compared with its events and says which final status it had.
func (v *verifier) forgotten(e *Event) error {
	switch e.Kind {
	case KindSettled, KindUnknown, KindReleased, KindVoided:
	default:
		return nil
	}
	if v.ch.st.calls[e.CallID] != nil {
		return nil
	}
	rec, err := v.doneIDs[e.CallID], error(nil)
	if rec == nil {
		rec, err = v.stored(e.CallID)
	}
	if err != nil || rec == nil || rec.Seq >= e.Seq || !rec.Spend.Status.Final() {
		return err // the replay reports a call never reserved
	}
	return tampered(e.Seq, "call %q: %v: %s call cannot become %s", e.CallID, ErrBadTransition, rec.Spend.Status, e.Kind)
}

// compareDone compares the final calls replayed since the last call with their stored
// records and rolling-day entries.
func (v *verifier) compareDone(b buckets) error {
	for _, want := range v.done {
		if err := compareCall(b, want); err != nil {
			return err
		}
	}
	v.done = v.done[:0]
	clear(v.doneIDs)
	return nil
}

// compareCall checks that call want is stored as replayed, with a rolling-day entry
// exactly while it counts.
func compareCall(b buckets, want *callRecord) error {
	// A record is written by putCall, in the file's form: the same bytes.
	wj := b.stored(want)
	if !bytes.Equal(b.calls.Get([]byte(want.Spend.CallID)), wj) {
		return tampered(want.Seq, "recorded state of call %q does not match its events", want.Spend.CallID)
	}
	w := b.window.Get(windowKey(want.Spend.ReservedAt, want.Seq))
	if counts := want.Spend.Status.Counts(); (counts && string(w) != want.Spend.Amount.AtomicString()) || (!counts && w != nil) {
		return tampered(want.Seq, "rolling-day index entry missing or changed")
	}
	return compareAgentEntry(b, want)
}

// finish replays the events written since the scan, when there are at most readBatch
// of them, and compares the state stored at the head with the replayed one. It returns
// false, having changed nothing, when more were written: the caller catches up first.
func (v *verifier) finish(b buckets) (bool, error) {
	seq, hash, err := readHead(b.meta)
	if err != nil {
		return false, err
	}
	if seq < v.ch.n {
		return false, tampered(seq+1, "chain ends at event %d but the head says %d: the head was moved back", v.ch.n, seq)
	}
	if seq > v.ch.n+readBatch {
		return false, nil
	}
	v.stored = b.call
	buf, err := copyRaw(b, v.ch.n+1, seq, nil)
	if err != nil {
		return false, err
	}
	if err := addRaw(buf, &v.ch.links, v.replay); err != nil {
		return false, err
	}
	if v.ch.prev != hash {
		return false, tampered(seq, "the last event's hash does not match the head: the head or the event was changed")
	}
	if err := v.compareDone(b); err != nil {
		return false, err
	}
	if err := v.ch.st.compareSince(b); err != nil { // the open calls, the counters, the day sum
		return false, err
	}
	return true, v.compareCounts(b)
}

// compareCounts checks that the file holds no call record and no rolling-day entry
// beyond those of the replayed calls: each of those was compared one by one. The store
// counts the keys (bbolt: from the file's pages with plain reads, keycount.go).
func (v *verifier) compareCounts(b buckets) error {
	count := b.tx.countKeys
	n, err := count(b.calls)
	if err != nil {
		return err
	}
	if n != v.reserved {
		return tampered(0, "%d calls recorded, %d reserved by events", n, v.reserved)
	}
	if n, err = count(b.window); err != nil {
		return err
	}
	if want := len(v.ch.st.window) + v.settled; n != want {
		return tampered(0, "the rolling-day index has %d entries, the events give %d: an entry for a call that does not count", n, want)
	}
	n = 0
	if b.agentWin != nil {
		if n, err = count(b.agentWin); err != nil {
			return err
		}
	}
	if want := len(v.ch.st.agentWin) + v.agented; n != want {
		return tampered(0, "the agents' rolling-day index has %d entries, the events give %d: an entry for a call that does not count", n, want)
	}
	return nil
}

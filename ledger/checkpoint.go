package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
)

// A checkpoint is how far the ledger was verified, and the state then: the position
// and hash of the last event verified, every counter, and the calls still open
// (reserved or unknown), the only ones a later event may change. It is stored in the
// meta bucket under keyCheckpoint, as JSON.
//
// Check starts from it: it verifies only the events after it, replays them onto it, and
// compares what they touch (and every counter, and the rolling-day sum) with what is
// stored. Settled, released and voided calls of before the checkpoint, and the events
// that made them, are not read again: Verify reads everything.
type checkpoint struct {
	Seq  uint64            `json:"seq"`
	Hash string            `json:"hash"` // hex; genesis when Seq is 0
	Sums map[string]string `json:"sums"` // counter key → decimal atomic units
	Open []*callRecord     `json:"open"` // in reservation order
}

var keyCheckpoint = []byte("checkpoint")

// errUnchanged rolls back a Checkpoint that has nothing new to record.
var errUnchanged = errors.New("checkpoint unchanged")

// Check verifies the ledger for a process about to pay from it, as Verify does, but
// fast: from the last checkpoint (see Checkpoint), it checks the events after it (each
// present, its hash matching its contents and linking to the one before, the last one
// matching the head, each a valid step of its call's history), that the calls they
// touch and the calls open at the checkpoint are stored as replaying gives, that every
// counter equals the checkpoint's plus what the events add, and that the rolling-day
// sum matches its index. With no checkpoint, with one that does not match the chain
// (edited, or left behind by a restored file), or when the fast check fails, Check runs
// the whole Verify, so that a failure names the first bad event. A failure is a
// *TamperError. Check only reads.
func (l *Ledger) Check(ctx context.Context) error {
	err := l.view(ctx, func(b buckets) error {
		_, err := checkTx(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", l.path, err)
	}
	return nil
}

// Checkpoint runs Check and, when the ledger verifies, records the checkpoint at the
// head in the same write transaction (fsync'd), so that the next Check reads only what
// comes after. It writes nothing when that checkpoint is already recorded.
func (l *Ledger) Checkpoint(ctx context.Context) error {
	err := l.update(ctx, func(b buckets) error {
		cp, err := checkTx(b)
		if err != nil {
			return err
		}
		v, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		if bytes.Equal(v, b.meta.Get(keyCheckpoint)) {
			return errUnchanged
		}
		return b.meta.Put(keyCheckpoint, v)
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("check %s: %w", l.path, err)
	}
	return nil
}

// checkTx verifies b from its checkpoint, or wholly (see Check), and returns the
// checkpoint at the head.
func checkTx(b buckets) (checkpoint, error) {
	if v := b.meta.Get(keyCheckpoint); v != nil {
		var cp checkpoint
		if json.Unmarshal(v, &cp) == nil {
			if ch, err := cp.chain(b); err == nil && ch.replayStored(b) == nil && ch.st.compareSince(b) == nil {
				return ch.checkpoint(), nil
			}
		}
	}
	ch := newChain()
	if err := ch.replayStored(b); err != nil {
		return checkpoint{}, err
	}
	if err := ch.st.compare(b); err != nil {
		return checkpoint{}, err
	}
	return ch.checkpoint(), nil
}

// chain returns a chain positioned at cp, after checking that cp matches the stored
// event it names.
func (cp *checkpoint) chain(b buckets) (*chain, error) {
	ch := newChain()
	h, err := hex.DecodeString(cp.Hash)
	if err != nil || len(h) != len(ch.prev) {
		return nil, errors.New("malformed checkpoint hash")
	}
	if cp.Seq > 0 {
		e, err := decodeRecord(b.events.Get(u64(cp.Seq)))
		if err != nil || e.Seq != cp.Seq || e.Hash != cp.Hash {
			return nil, errors.New("the checkpoint does not match its event")
		}
	} else if !bytes.Equal(h, genesis[:]) {
		return nil, errors.New("the checkpoint does not match the empty chain")
	}
	ch.n = cp.Seq
	copy(ch.prev[:], h)
	for _, rec := range cp.Open {
		if rec == nil || rec.Spend.Status.Final() || rec.Seq == 0 || rec.Seq > cp.Seq || ch.st.calls[rec.Spend.CallID] != nil {
			return nil, errors.New("malformed open call in the checkpoint")
		}
		ch.st.calls[rec.Spend.CallID] = rec
	}
	for k, v := range cp.Sums {
		x, ok := new(big.Int).SetString(v, 10)
		if !ok {
			return nil, errors.New("malformed counter in the checkpoint")
		}
		ch.st.sums[k] = x
	}
	return ch, nil
}

// checkpoint is the checkpoint at ch's position.
func (ch *chain) checkpoint() checkpoint {
	cp := checkpoint{Seq: ch.n, Hash: hex.EncodeToString(ch.prev[:]), Sums: make(map[string]string, len(ch.st.sums))}
	for k, x := range ch.st.sums {
		cp.Sums[k] = x.String()
	}
	for _, rec := range ch.st.calls {
		if !rec.Spend.Status.Final() {
			cp.Open = append(cp.Open, rec)
		}
	}
	slices.SortFunc(cp.Open, func(a, b *callRecord) int { return cmpU64(a.Seq, b.Seq) })
	return cp
}

// compareSince checks the stored state that st knows of after replaying the events
// since a checkpoint: each call it holds (those open at the checkpoint and those
// reserved since) stored as replayed, with a rolling-day entry exactly while it counts;
// every counter; and the rolling-day sum.
func (st *derived) compareSince(b buckets) error {
	recs := slices.SortedFunc(maps.Values(st.calls), func(a, b *callRecord) int { return cmpU64(a.Seq, b.Seq) })
	for _, want := range recs {
		got, err := b.call(want.Spend.CallID)
		if err != nil {
			return err
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if got == nil || !bytes.Equal(gj, wj) {
			return tampered(want.Seq, "recorded state of call %q does not match its events", want.Spend.CallID)
		}
		v := b.window.Get(windowKey(want.Spend.ReservedAt, want.Seq))
		if counts := want.Spend.Status.Counts(); (counts && string(v) != want.Spend.Amount.AtomicString()) || (!counts && v != nil) {
			return tampered(want.Seq, "rolling-day index entry missing or changed")
		}
		if err := compareAgentEntry(b, want); err != nil {
			return err
		}
	}
	if err := st.compareSums(b); err != nil {
		return err
	}
	if err := st.compareOpen(b); err != nil {
		return err
	}
	return compareDay(b)
}

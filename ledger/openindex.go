package ledger

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/tollhq/toll/tools/money"
)

// The open index (bucket "open", format 3) lists the calls that are not final: reserved
// or unknown, each under its reserved event's position, with its call id. putCall keeps
// it in the transaction that reserves or moves the call, so Pending reads the open
// calls only, not every call. The per-recipient counters ("p"+payTo in sums) are kept
// by count with the other counters, so PaidBefore reads one key. Verify and Check
// compare both with what the events give (compareOpen, compareSums).

// openEntry reads the reserved event of an open index entry and checks that it is the
// reservation of the call the entry names.
func (b buckets) openEntry(k, v []byte) (Event, error) {
	if len(k) != 8 {
		return Event{}, tampered(0, "open call index key %x is damaged", k)
	}
	seq := be64(k)
	e, err := decodeRecord(b.events.Get(k))
	if err != nil || e.Seq != seq || e.Kind != KindReserved || e.CallID != string(v) || e.Amount == nil {
		return Event{}, tampered(seq, "open call index entry %d (call %q) does not name its reservation", seq, clip(string(v)))
	}
	return e, nil
}

// pendingOpen is Pending on a file of format 3: it reads the open calls' reservations.
func (b buckets) pendingOpen(f SpendFilter, sum *big.Int) error {
	c := b.open.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := b.openEntry(k, v)
		if err != nil {
			return err
		}
		if f.matches(&e) {
			sum.Add(sum, e.Amount.Atomic())
		}
	}
	return nil
}

// pendingScan is Pending on a file of an older format, which has no open index (a read
// before its first write): it reads every call's record.
func (b buckets) pendingScan(f SpendFilter, sum *big.Int) error {
	return b.calls.ForEach(func(k, _ []byte) error {
		rec, err := b.call(string(k))
		if err != nil {
			return err
		}
		s := &rec.Spend
		if (s.Status == StatusReserved || s.Status == StatusUnknown) &&
			(f.Session == "" || s.Session == f.Session) && (f.Agent == "" || s.Agent == f.Agent) {
			sum.Add(sum, s.Amount.Atomic())
		}
		return nil
	})
}

// paidBefore is PaidBefore inside a read transaction.
func (b buckets) paidBefore(payTo string) (bool, error) {
	if b.format >= 3 {
		x, err := b.sum(payToKey(payTo))
		return err == nil && x.Sign() > 0, err
	}
	want := []byte(strings.ToLower(payTo))
	found := false
	err := b.calls.ForEach(func(k, v []byte) error {
		if found || !containsFold(v, want) {
			return nil
		}
		rec, err := b.call(string(k))
		if err != nil {
			return err
		}
		found = rec.Spend.Status.Counts() && strings.EqualFold(rec.Spend.PayTo, payTo)
		return nil
	})
	return found, err
}

// compareOpen checks the open index against the replayed calls st holds, which include
// every call still open: each entry names an open call under its reservation, and each
// open call has its entry (so there are as many entries as open calls).
func (st *derived) compareOpen(b buckets) error {
	if b.format < 3 {
		return nil
	}
	c := b.open.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return tampered(0, "open call index key %x is damaged", k)
		}
		rec := st.calls[string(v)]
		if rec == nil || rec.Seq != be64(k) || rec.Spend.Status.Final() {
			return tampered(be64(k), "the open call index lists call %q, which the events do not leave open", clip(string(v)))
		}
	}
	for _, rec := range st.calls {
		if !rec.Spend.Status.Final() {
			if b.open.Get(u64(rec.Seq)) == nil {
				return tampered(rec.Seq, "the open call index lacks call %q, which is %s", clip(rec.Spend.CallID), rec.Spend.Status)
			}
		}
	}
	return nil
}

// upgradeTo3 makes the state format 3 adds from a file of an older format: each call
// record in the compact form, the open index and the per-recipient counters, all from
// the stored call records (which Check compares with the events before a write uses
// them). The stored checkpoint, which lacks the new counters, is dropped: the next
// Checkpoint writes one.
func upgradeTo3(tx kvTx) error {
	b := buckets{
		tx: tx, meta: tx.bucket(bucketMeta), events: tx.bucket(bucketEvents), calls: tx.bucket(bucketCalls),
		sums: tx.bucket(bucketSums), window: tx.bucket(bucketWindow), open: tx.bucket(bucketOpen), format: 3,
	}
	// In batches: a cursor must be placed again after the bucket under it changed.
	var after []byte
	for {
		recs, err := b.legacyCalls(after, upgradeBatch)
		if err != nil || len(recs) == 0 {
			if err != nil {
				return err
			}
			return b.meta.Delete(keyCheckpoint)
		}
		for _, rec := range recs {
			if err := b.upgradeCall(rec); err != nil {
				return err
			}
		}
		after = []byte(recs[len(recs)-1].Spend.CallID)
	}
}

// upgradeBatch is how many call records upgradeTo3 reads before it writes them again.
const upgradeBatch = 1024

// legacyCalls decodes up to n call records after key after (from the first when nil).
func (b buckets) legacyCalls(after []byte, n int) ([]*callRecord, error) {
	var recs []*callRecord
	c := b.calls.Cursor()
	k, v := c.First()
	if after != nil {
		if k, v = c.Seek(after); k != nil && string(k) == string(after) {
			k, v = c.Next()
		}
	}
	for ; k != nil && len(recs) < n; k, v = c.Next() {
		rec, err := b.decodeCall(string(k), v)
		if err != nil {
			return nil, err
		}
		if rec.Spend.CallID != string(k) {
			return nil, tampered(rec.Seq, "call record %q names call %q", clip(string(k)), clip(rec.Spend.CallID))
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// upgradeCall stores rec in the compact form, with its open index entry, and adds it to
// its recipient's counter when it counts (and 0 when it does not: the counter exists, at
// 0, as the events give it, once a call to that recipient was reserved).
func (b buckets) upgradeCall(rec *callRecord) error {
	if err := b.putCall(rec); err != nil {
		return err
	}
	amount, err := atomicUnits(rec.Spend.Amount)
	if err != nil {
		return err
	}
	if !rec.Spend.Status.Counts() {
		amount.SetInt64(0)
	}
	return b.addSum(payToKey(rec.Spend.PayTo), amount)
}

// pendingAmount is Pending inside a read transaction.
func (b buckets) pendingAmount(f SpendFilter) (money.Amount, error) {
	sum := new(big.Int)
	var err error
	if b.format >= 3 {
		err = b.pendingOpen(f, sum)
	} else {
		err = b.pendingScan(f, sum)
	}
	if err != nil {
		return money.Amount{}, fmt.Errorf("pending spends: %w", err)
	}
	return fromAtomic(sum), nil
}

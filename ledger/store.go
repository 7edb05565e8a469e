package ledger

// Bucket layout (private; Verify rebuilds everything but "events" and
// compares):
//
//	meta    "format" → "toll-ledger/N" (format.go)
//	        "id"     → random id written at creation (detects a replaced file)
//	        "head"   → seq (8 bytes, big endian) ‖ hash of the last event (32)
//	        "day"    → W (8) ‖ decimal S: S is the counted sum of the window
//	                   entries with time key > W (the rolling-day cache)
//	events  seq (8, big endian) → prev hash (32) ‖ hash (32) ‖ canonical event
//	calls   call id → call record: from format 3 the compact form (callrecord.go:
//	        the reserved event's seq, the last event's, the status and what the
//	        outcomes said), before it JSON of the whole Spend
//	open    reserved seq (8) → call id, one per call not final (reserved or
//	        unknown); format 3
//	sums    "t" → counted total; "s"+session → counted per session;
//	        "a"+api → counted per API; "p"+lower-case payTo → counted per
//	        recipient, from format 3 (decimal strings)
//	window  time key (8) ‖ seq (8) → decimal amount, one per counting call,
//	        keyed by reservation time (time key: UnixNano with the sign bit
//	        flipped, so byte order is time order)
//	agentwin the agents' rolling-day index (see agent.go); format 2

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

var (
	bucketMeta   = []byte("meta")
	bucketEvents = []byte("events")
	bucketCalls  = []byte("calls")
	bucketSums   = []byte("sums")
	bucketWindow = []byte("window")
	bucketOpen   = []byte("open")

	// allBuckets are created with a ledger, and by the upgrade of an older one
	// (format.go).
	allBuckets = [][]byte{bucketMeta, bucketEvents, bucketCalls, bucketSums, bucketWindow, bucketAgentWindow, bucketApprovals, bucketOpen}

	keyFormat = []byte("format")
	keyID     = []byte("id")
	keyHead   = []byte("head")
	keyDay    = []byte("day")

	sumTotal = []byte("t")
)

const day = 24 * time.Hour

// appendFill is the bbolt FillPercent of the buckets whose keys only grow.
const appendFill = 1.0

func sessionKey(s string) []byte { return append([]byte{'s'}, s...) }
func apiKey(a string) []byte     { return append([]byte{'a'}, a...) }
func toolKey(t string) []byte    { return append([]byte{'t'}, t...) }

// payToKey is the counter of the calls to payTo, an address compared without regard to
// case.
func payToKey(payTo string) []byte { return append([]byte{'p'}, strings.ToLower(payTo)...) }

// callRecord is the derived current state of one reserved call.
type callRecord struct {
	Spend Spend  `json:"spend"`
	Seq   uint64 `json:"seq"`  // the reserved event
	Last  uint64 `json:"last"` // the latest event of this call
}

func u64(x uint64) []byte { return binary.BigEndian.AppendUint64(nil, x) }

func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// timeKey orders times as unsigned big-endian bytes.
func timeKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

func windowKey(t time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(timeKey(t)), seq)
}

// buckets returns the ledger's buckets, or an error when one is missing.
type buckets struct {
	tx                                kvTx
	meta, events, calls, sums, window kvBucket
	agentWin                          kvBucket // nil in a read transaction of a ledger that has none
	open                              kvBucket // nil before format 3 (a read of an older file)
	format                            int      // the file's format version (format.go)
}

// openKV opens the buckets of tx's ledger; a write transaction first upgrades an
// older file to the current format (format.go).
func openKV(tx kvTx) (buckets, error) {
	if tx.writable() {
		if err := upgrade(tx); err != nil {
			return buckets{}, err
		}
	}
	b := buckets{
		tx: tx, meta: tx.bucket(bucketMeta), events: tx.bucket(bucketEvents), calls: tx.bucket(bucketCalls),
		sums: tx.bucket(bucketSums), window: tx.bucket(bucketWindow),
	}
	if b.meta == nil || b.events == nil || b.calls == nil || b.sums == nil || b.window == nil {
		return b, errors.New("not a toll ledger (buckets missing)")
	}
	var err error
	if b.format, err = fileFormat(b.meta.Get(keyFormat)); err != nil {
		return b, err
	}
	if b.format >= 3 {
		if b.open = tx.bucket(bucketOpen); b.open == nil {
			return b, errors.New("not a toll ledger (buckets missing)")
		}
	}
	return b, b.openAgentWindow(tx)
}

// openAgentWindow opens the agents' rolling-day index. A ledger of format 1 lacks it
// until its first write (format.go, which makes it in every write transaction), so a
// read may find none (nil): no agent has spent.
func (b *buckets) openAgentWindow(tx kvTx) error {
	b.agentWin = tx.bucket(bucketAgentWindow)
	return nil
}

func readHead(meta kvBucket) (uint64, [sha256.Size]byte, error) {
	var h [sha256.Size]byte
	v := meta.Get(keyHead)
	if len(v) != 8+sha256.Size {
		return 0, h, tampered(0, "the head record is damaged")
	}
	copy(h[:], v[8:])
	return binary.BigEndian.Uint64(v[:8]), h, nil
}

// appendEvent sets e.Seq, e.PrevHash and e.Hash and stores e after the head.
func (b buckets) appendEvent(e *Event) error {
	seq, prev, err := readHead(b.meta)
	if err != nil {
		return err
	}
	e.Seq = seq + 1
	canon := e.canonical()
	hash := chainHash(prev[:], canon)
	if err := b.events.Put(u64(e.Seq), encodeRecord(prev, hash, canon)); err != nil {
		return err
	}
	e.PrevHash, e.Hash = fmt.Sprintf("%x", prev), fmt.Sprintf("%x", hash)
	return b.meta.Put(keyHead, append(u64(e.Seq), hash[:]...))
}

// call reads the record of call id, or nil when there is none.
func (b buckets) call(id string) (*callRecord, error) {
	v := b.calls.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	return b.decodeCall(id, v)
}

// putCall stores rec (in a write transaction: the file is of the current format) and
// keeps the open index: an entry while rec is not final.
func (b buckets) putCall(rec *callRecord) error {
	v := rec.marshal()
	if err := b.calls.Put([]byte(rec.Spend.CallID), v); err != nil {
		return err
	}
	if rec.Spend.Status.Final() {
		return b.open.Delete(u64(rec.Seq))
	}
	return b.open.Put(u64(rec.Seq), []byte(rec.Spend.CallID))
}

func (b buckets) sum(key []byte) (*big.Int, error) {
	v := b.sums.Get(key)
	if v == nil {
		return new(big.Int), nil
	}
	x, ok := new(big.Int).SetString(string(v), 10)
	if !ok {
		return nil, tampered(0, "counter %q is damaged", clip(string(key)))
	}
	return x, nil
}

func (b buckets) addSum(key []byte, delta *big.Int) error {
	x, err := b.sum(key)
	if err != nil {
		return err
	}
	x.Add(x, delta)
	if x.Sign() < 0 {
		return tampered(0, "counter %q would go negative", clip(string(key)))
	}
	if !fromAtomic(x).FitsUint256() {
		return invalid("counter %q would pass 2^256 atomic units", key)
	}
	return b.sums.Put(key, []byte(x.String()))
}

// count adds delta (positive on reserve, negative on release or void) to
// every counter the spend belongs to.
func (b buckets) count(s *Spend, seq uint64, delta *big.Int) error {
	for _, k := range [][]byte{sumTotal, sessionKey(s.Session), apiKey(s.API), toolKey(s.Tool), payToKey(s.PayTo)} {
		if err := b.addSum(k, delta); err != nil {
			return err
		}
	}
	if err := b.countAgent(s, seq, delta); err != nil {
		return err
	}
	w, sum, err := b.dayState()
	if err != nil {
		return err
	}
	wk := windowKey(s.ReservedAt, seq)
	if delta.Sign() > 0 {
		if err := b.window.Put(wk, []byte(delta.String())); err != nil {
			return err
		}
	} else if err := b.window.Delete(wk); err != nil {
		return err
	}
	if timeKey(s.ReservedAt) > w {
		sum.Add(sum, delta)
		return b.putDayState(w, sum)
	}
	return nil
}

func (b buckets) dayState() (uint64, *big.Int, error) {
	v := b.meta.Get(keyDay)
	if len(v) < 9 {
		return 0, nil, tampered(0, "the rolling-day record is damaged")
	}
	s, ok := new(big.Int).SetString(string(v[8:]), 10)
	if !ok || s.Sign() < 0 {
		return 0, nil, tampered(0, "the rolling-day record is damaged")
	}
	return binary.BigEndian.Uint64(v[:8]), s, nil
}

func (b buckets) putDayState(w uint64, s *big.Int) error {
	return b.meta.Put(keyDay, append(u64(w), s.String()...))
}

// daySum returns the counted amount reserved after now-24h. It moves the
// cached window edge W to now-24h, walking only the entries that leave (or,
// if the clock went back, re-enter) the window; persist stores the moved edge
// (write transactions only).
func (b buckets) daySum(now time.Time, persist bool) (*big.Int, error) {
	w, s, err := b.dayState()
	if err != nil {
		return nil, err
	}
	nw := timeKey(now.Add(-day))
	lo, hi, sign := w, nw, -1 // entries with lo < key <= hi leave the window
	if nw < w {
		lo, hi, sign = nw, w, +1 // the clock went back: they re-enter
	}
	if lo != hi {
		c := b.window.Cursor()
		for k, v := c.Seek(u64(lo + 1)); k != nil; k, v = c.Next() {
			if len(k) != 16 {
				return nil, tampered(0, "rolling-day index key %x is damaged", k)
			}
			if be64(k) > hi {
				break
			}
			x, ok := new(big.Int).SetString(string(v), 10)
			if !ok || x.Sign() <= 0 {
				return nil, tampered(0, "rolling-day index entry %x is damaged", k)
			}
			if sign < 0 {
				s.Sub(s, x)
			} else {
				s.Add(s, x)
			}
		}
		if s.Sign() < 0 {
			return nil, tampered(0, "the rolling-day sum went negative")
		}
		if persist {
			if err := b.putDayState(nw, s); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

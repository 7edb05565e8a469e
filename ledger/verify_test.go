package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// tamperLedger returns a ledger with five events:
// 1 reserved a (100), 2 settled a, 3 reserved b (500, for agent alice), 4 unknown b,
// 5 refused.
func tamperLedger(t *testing.T) *Ledger {
	t.Helper()
	ctx := t.Context()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("a", 100), Caps{})
	if err := l.Settle(ctx, "a", "0xa"); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, l, agentIntent("b", "alice", 500), Caps{})
	if err := l.MarkUnknown(ctx, "b", "eof"); err != nil {
		t.Fatal(err)
	}
	if err := l.Refuse(ctx, Refusal{Tool: "t", Reason: "no acceptable requirement"}); err != nil {
		t.Fatal(err)
	}
	verify(t, l)
	return l
}

// raw edits the ledger file with bbolt directly.
func raw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// editEvent rewrites event seq with edit applied and its stored hashes kept.
func editEvent(tx *bolt.Tx, seq uint64, edit func(*Event)) error {
	b := tx.Bucket(bucketEvents)
	v := b.Get(u64(seq))
	e, err := decodeRecord(v)
	if err != nil {
		return err
	}
	edit(&e)
	var prev, hash [32]byte
	copy(prev[:], v[:32])
	copy(hash[:], v[32:64])
	return b.Put(u64(seq), encodeRecord(prev, hash, e.canonical()))
}

// rehash recomputes every hash and the head, as a careful forger would.
func rehash(tx *bolt.Tx) error {
	b := tx.Bucket(bucketEvents)
	prev := genesis
	var n uint64
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		canon := bytes.Clone(v[64:])
		h := chainHash(prev[:], canon)
		if err := b.Put(bytes.Clone(k), encodeRecord(prev, h, canon)); err != nil {
			return err
		}
		prev, n = h, be64(k)
	}
	return tx.Bucket(bucketMeta).Put(keyHead, append(u64(n), prev[:]...))
}

// TestTamper edits a ledger as a forger or a damaged disk would. Verify finds every
// edit, and so does Check on a ledger with no checkpoint. On a ledger checkpointed before
// the edit, Check finds what changes the chain from the checkpoint on, the calls still
// open (and their reservations), the counters, the open call index or the rolling day
// (fast: true), and nothing else: it does not read the history before the checkpoint
// again.
func TestTamper(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(tx *bolt.Tx) error
		seq    uint64
		detail string
		fast   bool // Check finds it after a checkpoint at the head
	}{
		{"edit an amount", func(tx *bolt.Tx) error {
			return editEvent(tx, 3, func(e *Event) { e.Amount = amt(5) })
		}, 3, "hash does not match", true}, // the reservation of an open call
		{"flip a byte", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents)
			v := bytes.Clone(b.Get(u64(2)))
			v[len(v)-1] ^= 1
			return b.Put(u64(2), v)
		}, 2, "", false},
		{"delete an event", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEvents).Delete(u64(2))
		}, 2, "missing", false},
		{"delete the last event", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEvents).Delete(u64(5))
		}, 5, "head", true},
		{"swap two events", func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents)
			v2, v3 := bytes.Clone(b.Get(u64(2))), bytes.Clone(b.Get(u64(3)))
			if err := b.Put(u64(2), v3); err != nil {
				return err
			}
			return b.Put(u64(3), v2)
		}, 2, "", true}, // event 3 is the reservation of an open call
		{"delete an event and rehash the chain", func(tx *bolt.Tx) error {
			// Without event 4, b is reserved, not unknown: the chain is
			// consistent again but the derived state is not.
			b := tx.Bucket(bucketEvents)
			v5 := bytes.Clone(b.Get(u64(5)))
			e, _ := decodeRecord(v5)
			e.Seq = 4
			if err := b.Delete(u64(5)); err != nil {
				return err
			}
			if err := b.Put(u64(4), append(make([]byte, 64), e.canonical()...)); err != nil {
				return err
			}
			return rehash(tx)
		}, 3, `call "b"`, true},
		{"edit an amount and rehash the chain", func(tx *bolt.Tx) error {
			if err := editEvent(tx, 3, func(e *Event) { e.Amount = amt(5) }); err != nil {
				return err
			}
			return rehash(tx)
		}, 3, "", true}, // the call record holds no amount: its counters and index entries tell
		{"a settled event on a voided call, rehashed", func(tx *bolt.Tx) error {
			if err := editEvent(tx, 4, func(e *Event) { e.Kind = KindVoided }); err != nil {
				return err
			}
			// append "settled b" after the void
			b := tx.Bucket(bucketEvents)
			ev := Event{Seq: 6, Time: t0, Kind: KindSettled, CallID: "b", TxHash: "0xb"}
			if err := b.Put(u64(6), append(make([]byte, 64), ev.canonical()...)); err != nil {
				return err
			}
			return rehash(tx)
		}, 6, "voided call cannot become settled", true},
		{"mark a call released in the derived state", func(tx *bolt.Tx) error {
			b, _ := openBuckets(tx)
			rec, err := b.call("b")
			if err != nil {
				return err
			}
			rec.Spend.Status = StatusReleased
			return b.putCall(rec)
		}, 3, `call "b"`, true},
		{"lower a counter", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSums).Put(sumTotal, []byte("100"))
		}, 0, "counter", true},
		{"lower an agent's counter", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSums).Put(agentTotalKey("alice"), []byte("100"))
		}, 0, "counter", true},
		{"lower an agent's per-API counter", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSums).Put(agentAPIKey("alice", "weather"), []byte("0"))
		}, 0, "counter", true},
		{"move an agent's spend to another agent", func(tx *bolt.Tx) error {
			s := tx.Bucket(bucketSums)
			if err := s.Delete(agentTotalKey("alice")); err != nil {
				return err
			}
			return s.Put(agentTotalKey("bob"), []byte("500"))
		}, 0, "counter", true},
		{"drop an agent's rolling-day entry", func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketAgentWindow).Cursor()
			k, _ := c.Last()
			return tx.Bucket(bucketAgentWindow).Delete(bytes.Clone(k))
		}, 3, "agent rolling-day", true},
		{"add an agent's rolling-day entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAgentWindow).Put(agentWindowKey("alice", t0, 1), []byte("100"))
		}, 1, "rolling-day index has", false},
		{"drop an open call index entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOpen).Delete(u64(3))
		}, 3, "open call index lacks", true},
		{"add an open call index entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOpen).Put(u64(1), []byte("a"))
		}, 1, "open call index lists", true},
		{"point an open call index entry at another call", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOpen).Put(u64(3), []byte("a"))
		}, 3, "open call index lists", true},
		{"lower a recipient's counter", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSums).Put(payToKey(intent("a", 1).PayTo), []byte("100"))
		}, 0, "counter", true},
		{"drop a rolling-day entry", func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketWindow).Cursor()
			k, _ := c.Last()
			return tx.Bucket(bucketWindow).Delete(bytes.Clone(k))
		}, 3, "rolling-day", true},
	}
	// Verify streams: it counts the index entries it did not replay, and cannot say at
	// which event an extra one belongs; Check (a whole read) names it.
	verifySeq := map[string]uint64{"add an agent's rolling-day entry": 0}
	// An amount rewritten in the chain shows first in the rolling-day entry to Verify and
	// in a counter to Check, which compares every counter before the index.
	checkSeq := map[string]uint64{"edit an amount and rehash the chain": 0}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tamperLedger(t)
			raw(t, l.Path(), tt.edit)
			for _, check := range []struct {
				name string
				run  func(context.Context) error
			}{{"Verify", l.Verify}, {"Check", l.Check}} {
				err := check.run(context.Background())
				var te *TamperError
				if !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
					t.Fatalf("%s = %v, want a *TamperError", check.name, err)
				}
				seq := tt.seq
				if s, ok := verifySeq[tt.name]; ok && check.name == "Verify" {
					seq = s
				}
				if s, ok := checkSeq[tt.name]; ok && check.name == "Check" {
					seq = s
				}
				if te.Seq != seq || !strings.Contains(te.Detail, tt.detail) {
					t.Errorf("%s = %v, want position %d and %q", check.name, err, seq, tt.detail)
				}
			}
		})
		t.Run(tt.name+", checkpointed", func(t *testing.T) {
			l := tamperLedger(t)
			if err := l.Checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
			raw(t, l.Path(), tt.edit)
			err := l.Check(t.Context())
			if found := errors.Is(err, ErrTampered); found != tt.fast {
				t.Errorf("Check after a checkpoint = %v: found %v, want %v", err, found, tt.fast)
			}
		})
	}
}

// Events refuses an event whose contents do not match its hash.
func TestEventsTampered(t *testing.T) {
	l := tamperLedger(t)
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		return editEvent(tx, 1, func(e *Event) { e.PayTo = "0xattacker" })
	})
	_, err := l.Events(t.Context())
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != 1 {
		t.Errorf("Events = %v, want a *TamperError at event 1", err)
	}
}

// FuzzDecodeRecord: a stored event record never panics the decoder, and one
// that decodes is the canonical encoding of what it decodes to.
func FuzzDecodeRecord(f *testing.F) {
	ev := Event{Seq: 3, Time: t0, Kind: KindReserved, CallID: "c", Amount: amt(5), Nonce: nonceFor("c"), ValidBefore: t0}
	canon := ev.canonical()
	h := chainHash(genesis[:], canon)
	f.Add(encodeRecord(genesis, h, canon))
	f.Add(canon)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		if e, err := decodeCanonical(v); err == nil && !bytes.Equal(e.canonical(), v) {
			t.Errorf("decodeCanonical accepted a non-canonical encoding %x", v)
		}
		if e, err := decodeRecord(v); err == nil {
			if got := chainHash(v[:32], e.canonical()); hexString(got[:]) != e.Hash {
				t.Errorf("decodeRecord accepted a record whose hash does not match")
			}
		}
	})
}

func hexString(b []byte) string { return fmt.Sprintf("%x", b) }

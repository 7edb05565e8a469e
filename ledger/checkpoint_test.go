package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// fileHash is the hash of the file's bytes, to tell whether it changed.
func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// storedCheckpoint reads the checkpoint in the ledger file, if any.
func storedCheckpoint(t *testing.T, l *Ledger) (cp checkpoint, ok bool) {
	t.Helper()
	err := l.view(t.Context(), func(b buckets) error {
		v := b.meta.Get(keyCheckpoint)
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &cp)
	})
	if err != nil {
		t.Fatal(err)
	}
	return cp, ok
}

// checkpoints returns the checkpoint checkTx makes from the stored one (fast) and from
// the whole chain.
func checkpoints(t *testing.T, l *Ledger) (fast, whole checkpoint) {
	t.Helper()
	err := l.view(t.Context(), func(b buckets) error {
		var stored checkpoint
		if err := json.Unmarshal(b.meta.Get(keyCheckpoint), &stored); err != nil {
			return err
		}
		ch, err := stored.chain(b)
		if err != nil {
			return err
		}
		if err := ch.replayStored(b); err != nil {
			return err
		}
		if err := ch.st.compareSince(b); err != nil {
			return err
		}
		fast = ch.checkpoint()
		ch = newChain()
		if err := ch.replayStored(b); err != nil {
			return err
		}
		whole = ch.checkpoint()
		return ch.st.compare(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return fast, whole
}

// TestCheckpointRandom drives a ledger through a random history (seeded) with a
// checkpoint recorded now and then. After every step the fast check from the last
// checkpoint passes and arrives at exactly the checkpoint that replaying the whole chain
// gives: the counters and the open calls it carries forward are right.
func TestCheckpointRandom(t *testing.T) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(6, 8))
	l, c := newLedger(t)
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 200 {
		c.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		id := fmt.Sprintf("call-%d", i)
		var err error
		switch r := rng.IntN(10); {
		case r < 4 || len(ids) == 0:
			in := intent(id, 1+rng.Int64N(1000))
			in.Session, in.API = fmt.Sprintf("s%d", rng.IntN(4)), fmt.Sprintf("api%d", rng.IntN(3))
			_, err = l.Reserve(ctx, in, Caps{Total: amt(30_000)}) // some refused
			if err == nil {
				ids = append(ids, id)
			}
		case r < 5:
			err = l.Refuse(ctx, Refusal{Reason: "policy"})
		default:
			target := ids[rng.IntN(len(ids))]
			switch rng.IntN(4) {
			case 0:
				err = l.Settle(ctx, target, "0xfeed")
			case 1:
				err = l.MarkUnknown(ctx, target, "eof")
			case 2:
				err = l.Release(ctx, target, "r")
			default:
				err = l.Void(ctx, target, "v")
			}
		}
		if err != nil && !errors.Is(err, ErrBadTransition) && !errors.Is(err, ErrCapExceeded) {
			t.Fatalf("step %d: %v", i, err)
		}
		if rng.IntN(15) == 0 {
			if err := l.Checkpoint(ctx); err != nil {
				t.Fatalf("step %d: Checkpoint: %v", i, err)
			}
		}
		fast, whole := checkpoints(t, l)
		if diff := cmp.Diff(whole, fast, amountCmp); diff != "" {
			t.Fatalf("step %d: the fast check's checkpoint differs from the whole chain's (-whole +fast):\n%s", i, diff)
		}
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	evs := events(t, l)
	kinds := map[Kind]int{}
	for _, e := range evs {
		kinds[e.Kind]++
	}
	t.Logf("%d events: %v", len(evs), kinds)
}

// TestCheckpoint: Checkpoint records where the chain was verified and writes nothing
// when it is already there; Check only reads, and starts from the checkpoint (an edit of
// an event before it goes unseen by Check, while Verify finds it); a checkpoint that was
// itself edited is not trusted: Check verifies the whole chain, and Checkpoint records a
// right one.
func TestCheckpoint(t *testing.T) {
	ctx := t.Context()
	l := tamperLedger(t)
	if _, ok := storedCheckpoint(t, l); ok {
		t.Fatal("a checkpoint before any Checkpoint")
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := storedCheckpoint(t, l); ok {
		t.Fatal("Check wrote a checkpoint")
	}
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	cp, ok := storedCheckpoint(t, l)
	if !ok || cp.Seq != 5 || len(cp.Open) != 1 || cp.Open[0].Spend.CallID != "b" || cp.Sums["t"] != "600" {
		t.Fatalf("checkpoint = %+v (stored: %v), want event 5, call b open, total 600", cp, ok)
	}
	before := fileHash(t, l.Path())
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if fileHash(t, l.Path()) != before {
		t.Error("a Checkpoint with nothing new, or a Check, changed the file")
	}

	// An edit before the checkpoint: Verify finds it, Check does not read there.
	var event1 []byte
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		event1 = bytes.Clone(tx.Bucket(bucketEvents).Get(u64(1)))
		return editEvent(tx, 1, func(e *Event) { e.PayTo = "0xattacker" })
	})
	if err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Errorf("Verify after an edit of event 1 = %v, want ErrTampered", err)
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("Check after an edit before the checkpoint = %v, want nil (it starts from the checkpoint)", err)
	}

	// An edited checkpoint is not trusted: the whole chain decides.
	raw(t, l.Path(), func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Put(u64(1), event1) })
	forged := cp
	forged.Sums = map[string]string{"t": "0"}
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		v, _ := json.Marshal(forged)
		return tx.Bucket(bucketMeta).Put(keyCheckpoint, v)
	})
	if err := l.Check(ctx); err != nil {
		t.Errorf("Check with an edited checkpoint = %v, want nil (the whole chain verifies)", err)
	}
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := storedCheckpoint(t, l); !cmp.Equal(got, cp, amountCmp) {
		t.Errorf("Checkpoint after an edited one recorded %+v, want %+v", got, cp)
	}
}

// TestCheckCounterZeroed is the attack toll serve met: the total counter set to 0, so that
// a total cap would admit again what was already spent. Check, after a checkpoint or
// without one, names the counter; Checkpoint refuses and records nothing.
func TestCheckCounterZeroed(t *testing.T) {
	for _, checkpointed := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpointed=%v", checkpointed), func(t *testing.T) {
			l := tamperLedger(t)
			if checkpointed {
				if err := l.Checkpoint(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			raw(t, l.Path(), func(tx *bolt.Tx) error { return tx.Bucket(bucketSums).Put(sumTotal, []byte("0")) })
			before, err := os.ReadFile(l.Path())
			if err != nil {
				t.Fatal(err)
			}
			for name, check := range map[string]func() error{
				"Check":      func() error { return l.Check(t.Context()) },
				"Checkpoint": func() error { return l.Checkpoint(t.Context()) },
			} {
				err := check()
				var te *TamperError
				if !errors.As(err, &te) || !strings.Contains(te.Detail, `counter "t" is "0", events give 600`) {
					t.Errorf("%s = %v, want a *TamperError naming the counter", name, err)
				}
			}
			if after, err := os.ReadFile(l.Path()); err != nil || string(after) != string(before) {
				t.Errorf("a refused Checkpoint changed the file (%v)", err)
			}
		})
	}
}

package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
)

var benchCaps = Caps{
	PerCall: amt(1_000_000), PerSession: amt(1 << 60), PerDay: amt(1 << 60),
	Total: amt(1 << 60), PerAPI: map[string]money.Amount{"weather": money.USDC(1 << 60)},
}

// cycle is one paid call as toll records it: Reserve, then Settle.
func cycle(b testing.TB, l *Ledger, id string) {
	ctx := context.Background()
	if _, err := l.Reserve(ctx, intent(id, 10_000), benchCaps); err != nil {
		b.Fatal(err)
	}
	if err := l.Settle(ctx, id, "0xfeed"); err != nil {
		b.Fatal(err)
	}
}

func reportCycles(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
}

// BenchmarkReserve measures one reserve+settle cycle: two fsync'd bbolt
// transactions, each taking and releasing the file lock.
//
//   - serial: one goroutine, one handle (which keeps its file open: keep.go).
//   - parallel: 4×GOMAXPROCS goroutines (b.RunParallel) on one handle; they
//     queue on the handle and share group commits.
//   - parallel-4handles: the same goroutines spread over four handles on one
//     file, which contend for the file lock as separate processes would (each
//     opens the file again after another's commit).
//   - kept-open: the same transactions on a bbolt DB kept open and locked, the
//     baseline that a single-process ledger would pay; the difference from serial
//     is the cost of releasing the lock between operations and checking the file.
func BenchmarkReserve(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			cycle(b, l, fmt.Sprintf("call-%d", i))
		}
		reportCycles(b)
	})
	b.Run("parallel", func(b *testing.B) {
		l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{Timeout: time.Minute})
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				cycle(b, l, fmt.Sprintf("call-%d", n.Add(1)))
			}
		})
		reportCycles(b)
	})
	b.Run("parallel-4handles", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "ledger.db")
		var hs []*Ledger
		for range 4 {
			hs = append(hs, openLedger(b, path, Options{Timeout: time.Minute}))
		}
		var n, g atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			l := hs[int(g.Add(1))%len(hs)]
			for pb.Next() {
				cycle(b, l, fmt.Sprintf("call-%d", n.Add(1)))
			}
		})
		reportCycles(b)
	})
	b.Run("kept-open", func(b *testing.B) {
		l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{})
		db, err := bolt.Open(l.Path(), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		update := func(fn func(b buckets) error) error {
			return db.Update(func(tx *bolt.Tx) error {
				bk, err := openBuckets(tx)
				if err != nil {
					return err
				}
				return fn(bk)
			})
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			id := fmt.Sprintf("call-%d", i)
			in := intent(id, 10_000)
			if err := update(func(bk buckets) error {
				_, _, err := reserveTx(bk, in, benchCaps, time.Now().UTC())
				return err
			}); err != nil {
				b.Fatal(err)
			}
			if err := update(func(bk buckets) error {
				return transitionTx(bk, Outcome{CallID: id, Kind: KindSettled, TxHash: "0xfeed"}, time.Now().UTC())
			}); err != nil {
				b.Fatal(err)
			}
		}
		reportCycles(b)
	})
}

// BenchmarkLock measures the per-operation overhead alone, on a ledger of
// 1000 settled calls.
//
//   - read: an empty read transaction through the handle (what Spend, Totals... add):
//     the lock taken again on the kept file, its meta pages checked.
//   - write: a first open of the file: open it, take the lock, map it, load bbolt's
//     freelist, close it (what every operation paid before files were kept, and what
//     one pays after another process's commit).
func BenchmarkLock(b *testing.B) {
	l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{})
	for i := range 1000 {
		cycle(b, l, fmt.Sprintf("call-%d", i))
	}
	ctx := context.Background()
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := l.view(ctx, func(buckets) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := l.lock(ctx, true, time.Now().Add(time.Minute), false)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.db.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTotals is the read a budget tool makes.
func BenchmarkTotals(b *testing.B) {
	l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{})
	for i := range 1000 {
		cycle(b, l, fmt.Sprintf("call-%d", i))
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Totals(ctx, "s1", "weather"); err != nil {
			b.Fatal(err)
		}
	}
}

// bigLedger returns a ledger of n paid calls (2n events: reserved, settled) in 20
// sessions and 5 APIs, one every two minutes (n = 5000 spans a week, 720 calls in the
// last day), written in one transaction; with checkpointAt > 0, a checkpoint is
// recorded after that many calls.
func bigLedger(b *testing.B, n, checkpointAt int) *Ledger {
	b.Helper()
	c := newClock()
	l := openLedger(b, filepath.Join(b.TempDir(), "ledger.db"), Options{Now: c.Now})
	write := func(from, to int) {
		err := l.update(context.Background(), func(bk buckets) error {
			for i := from; i < to; i++ {
				c.Add(2 * time.Minute)
				in := intent(fmt.Sprintf("call-%d", i), 10_000)
				in.Session, in.API = fmt.Sprintf("s%d", i%20), fmt.Sprintf("api%d", i%5)
				if _, _, err := reserveTx(bk, in, benchCaps, c.Now()); err != nil {
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
	}
	if checkpointAt > 0 {
		write(0, checkpointAt)
		if err := l.Checkpoint(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	write(checkpointAt, n)
	return l
}

// BenchmarkVerifyAtStart measures what toll serve adds to its start on a ledger of
// 10,000 events (5000 paid calls):
//
//   - open: Open, which checks every page of the file before bbolt reads it;
//   - check/checkpointed: Check with the checkpoint at the head (a serve started before);
//   - check/100-after-checkpoint: Check with 100 events after the checkpoint;
//   - check/no-checkpoint: Check with none (the first start): the whole Verify;
//   - checkpoint/unchanged: Checkpoint with the checkpoint at the head, what serve runs:
//     a write lock and a check, and nothing written.
func BenchmarkVerifyAtStart(b *testing.B) {
	ctx := context.Background()
	const calls = 5000
	at := bigLedger(b, calls, calls)
	behind := bigLedger(b, calls, calls-50)
	none := bigLedger(b, calls, 0)
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := Open(at.Path(), Options{NoCreate: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name string
		l    *Ledger
		run  func(*Ledger) error
	}{
		{"check/checkpointed", at, func(l *Ledger) error { return l.Check(ctx) }},
		{"check/100-after-checkpoint", behind, func(l *Ledger) error { return l.Check(ctx) }},
		{"check/no-checkpoint", none, func(l *Ledger) error { return l.Check(ctx) }},
		{"checkpoint/unchanged", at, func(l *Ledger) error { return l.Checkpoint(ctx) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.run(bc.l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	fi, err := os.Stat(at.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("ledger file: %d bytes", fi.Size())
}

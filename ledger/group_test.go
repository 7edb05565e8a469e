package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// txID returns the id of the last transaction committed to the file at path.
func txID(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return tx.ID()
}

// queueWrites starts fns at once on l, while the test holds l's semaphore, and lets
// them go only once every one of them waits in the queue: the first to get the handle
// then commits them all as one group. It returns their results, in fns' order.
func queueWrites(t *testing.T, l *Ledger, fns []func() error) []error {
	t.Helper()
	l.sem <- struct{}{}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.queue.mu.Lock()
		n := len(l.queue.items)
		l.queue.mu.Unlock()
		if n == len(fns) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes queued", n, len(fns))
		}
	}
	<-l.sem
	wg.Wait()
	return errs
}

// TestGroupCommitCaps: reservations that share one group commit cannot jointly pass a
// cap: each is checked against those before it in the group. A cap refusal and a
// duplicate call id in the group fail only themselves, and the group is one transaction.
func TestGroupCommitCaps(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	caps := Caps{Total: amt(50_000), PerSession: amt(1_000_000)}
	mustReserve(t, l, intent("dup", 10_000), caps)
	const n = 16
	var fns []func() error
	for i := range n {
		id := fmt.Sprintf("call-%d", i)
		if i == n-1 {
			id = "dup" // reserved already
		}
		fns = append(fns, func() error {
			_, err := l.Reserve(ctx, intent(id, 10_000), caps)
			return err
		})
	}
	before := txID(t, l.Path())
	errs := queueWrites(t, l, fns)
	if got := txID(t, l.Path()) - before; got != 1 {
		// The transaction with the duplicate was rolled back: it left nothing.
		t.Errorf("%d transactions committed for one group of %d reservations, want 1", got, n)
	}

	var reserved, refused, dup int
	for i, err := range errs {
		switch {
		case err == nil:
			reserved++
		case errors.Is(err, ErrCapExceeded):
			refused++
		case errors.Is(err, ErrDuplicateCall):
			dup++
		default:
			t.Errorf("reservation %d: %v", i, err)
		}
	}
	if reserved != 4 || refused != n-1-4 || dup != 1 {
		t.Errorf("reserved %d, refused %d, duplicate %d; want 4, %d, 1", reserved, refused, dup, n-1-4)
	}
	tot, err := l.Totals(ctx, "s1", "weather")
	if err != nil {
		t.Fatal(err)
	}
	if want := *amt(50_000); tot.Total.Cmp(want) != 0 {
		t.Errorf("total %s, want %s (the cap)", tot.Total, want)
	}
	evs, err := l.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n { // dup, then 4 reserved and 11 refused; the duplicate wrote nothing
		t.Errorf("%d events, want %d", len(evs), n)
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitOutcomes: settlements and reservations of one group commit each get
// their own result; a bad transition fails alone.
func TestGroupCommitOutcomes(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	for _, id := range []string{"a", "b", "s"} {
		mustReserve(t, l, intent(id, 1000), Caps{})
	}
	if err := l.Settle(ctx, "s", "0xbeef"); err != nil {
		t.Fatal(err)
	}
	mustSettle := func(id string) func() error { return func() error { return l.Settle(ctx, id, "0xfeed") } }
	errs := queueWrites(t, l, []func() error{
		mustSettle("a"),
		mustSettle("s"), // settled already: a bad transition
		func() error { return l.Release(ctx, "b", "not sent") },
		func() error { _, err := l.Reserve(ctx, intent("c", 1000), Caps{}); return err },
		mustSettle("nobody"),
	})
	wants := []error{nil, ErrBadTransition, nil, nil, ErrNotFound}
	for i, want := range wants {
		if (want == nil) != (errs[i] == nil) || (want != nil && !errors.Is(errs[i], want)) {
			t.Errorf("write %d: %v, want %v", i, errs[i], want)
		}
	}
	for id, want := range map[string]Status{"a": StatusSettled, "b": StatusReleased, "c": StatusReserved} {
		sp, err := l.Spend(ctx, id)
		if err != nil || sp.Status != want {
			t.Errorf("spend %s: %v %v, want %s", id, sp.Status, err, want)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRecordLater: an outcome recorded for later rides in the next write's transaction,
// a read through the handle sees it, another handle sees it once the timer or Close
// committed it, and a bad transition is reported to its callback.
func TestRecordLater(t *testing.T) {
	ctx := context.Background()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("a", 1000), Caps{})
	reports := make(chan error, 4)
	report := func(err error) { reports <- err }

	// With the next reservation: one transaction for both. (The timer is set long here, so
	// that a slow run, under the race detector, cannot commit the outcome alone first.)
	l.outcomeDelay = time.Hour
	before := txID(t, l.Path())
	errs := queueWrites(t, l, []func() error{
		func() error { return l.RecordLater(Outcome{CallID: "a", Kind: KindSettled, TxHash: "0xfeed"}, report) },
		func() error { _, err := l.Reserve(ctx, intent("b", 1000), Caps{}); return err },
	})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("record later %v, reserve %v", errs[0], errs[1])
	}
	if err := <-reports; err != nil {
		t.Fatalf("settle a reported %v", err)
	}
	if got := txID(t, l.Path()) - before; got != 1 {
		t.Errorf("%d transactions for a reservation and an outcome, want 1", got)
	}

	l.outcomeDelay = 0 // the constant: the timer commits an outcome left alone

	// Read through the handle: it sees the outcome at once.
	if err := l.RecordLater(Outcome{CallID: "b", Kind: KindUnknown, Reason: "no answer"}, report); err != nil {
		t.Fatal(err)
	}
	if sp, err := l.Spend(ctx, "b"); err != nil || sp.Status != StatusUnknown {
		t.Errorf("spend b after RecordLater: %v %v, want unknown", sp.Status, err)
	}
	if err := <-reports; err != nil {
		t.Fatalf("mark b unknown reported %v", err)
	}

	// Alone: the timer commits it, and another handle sees it.
	other := openLedger(t, l.Path(), Options{})
	if err := l.RecordLater(Outcome{CallID: "b", Kind: KindSettled, TxHash: "0xbeef"}, report); err != nil {
		t.Fatal(err)
	}
	if err := <-reports; err != nil {
		t.Fatalf("settle b reported %v", err)
	}
	if sp, err := other.Spend(ctx, "b"); err != nil || sp.Status != StatusSettled || sp.TxHash != "0xbeef" {
		t.Errorf("spend b from another handle: %+v %v, want settled in 0xbeef", sp, err)
	}

	// A bad transition goes to the callback; Close commits what waits.
	if err := l.RecordLater(Outcome{CallID: "a", Kind: KindReleased, Reason: "late"}, report); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, other, intent("c", 1000), Caps{})
	if err := other.RecordLater(Outcome{CallID: "c", Kind: KindReleased, Reason: "not sent"}, report); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	var bad, ok int
	for range 2 {
		switch err := <-reports; {
		case errors.Is(err, ErrBadTransition):
			bad++
		case err == nil:
			ok++
		default:
			t.Errorf("reported %v", err)
		}
	}
	if bad != 1 || ok != 1 {
		t.Errorf("%d bad transitions and %d committed outcomes reported, want 1 and 1", bad, ok)
	}
	if sp, err := l.Spend(ctx, "c"); err != nil || sp.Status != StatusReleased {
		t.Errorf("spend c after Close: %v %v, want released", sp.Status, err)
	}

	// Not an outcome: refused at once, nothing queued.
	for _, o := range []Outcome{{CallID: "a", Kind: KindVoided}, {Kind: KindSettled}} {
		if err := l.RecordLater(o, report); !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordLater(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	if err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

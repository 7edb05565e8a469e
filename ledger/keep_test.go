package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestKeptFile: a handle keeps its bbolt file open between operations without its lock
// (another opener takes the lock at once), uses it again while no one else committed,
// and opens the file afresh once another handle did, seeing what that one wrote.
func TestKeptFile(t *testing.T) {
	if !keepFiles {
		t.Skip("files are not kept open where the lock is not a flock")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l1 := openLedger(t, path, Options{Timeout: time.Second})
	l2 := openLedger(t, path, Options{Timeout: time.Second})
	caps := Caps{Total: amt(100)}

	mustReserve(t, l1, intent("a", 60), caps)
	kept := l1.kept
	if kept == nil || !kept.write {
		t.Fatalf("after a reservation the handle keeps %+v, want its file open for writing", kept)
	}
	// The lock is free between operations: a bbolt open for writing gets it at once.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("another opener between operations: %v, want the lock free", err)
	}
	db.Close()
	if err := l1.Settle(ctx, "a", "0xa"); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.Spend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if l1.kept != kept {
		t.Errorf("no one else wrote, yet the handle opened its file again")
	}

	// Another handle commits: the first sees it, on the file opened again.
	in := intent("b", 50)
	_, err = l2.Reserve(ctx, in, caps)
	wantRefused(t, l2, err, in, CapTotal, 100, 60, [4]int64{60, 60, 60, 60})
	mustReserve(t, l2, intent("c", 40), caps)
	if _, err := l1.Reserve(ctx, intent("d", 1), caps); !errors.As(err, new(*CapError)) {
		t.Errorf("l1 reserving past l2's reservation: err = %v, want a cap refusal", err)
	}
	if l1.kept == kept {
		t.Errorf("the handle used its kept file after another handle committed")
	}

	// A file kept for reading serves reads; a write opens the file for writing.
	l3 := openLedger(t, path, Options{Timeout: time.Second})
	if _, err := l3.Spend(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if l3.kept == nil || l3.kept.write {
		t.Fatalf("after a read the handle keeps %+v, want its file open for reading", l3.kept)
	}
	if err := l3.Settle(ctx, "c", "0xc"); err != nil {
		t.Fatal(err)
	}
	if l3.kept == nil || !l3.kept.write {
		t.Errorf("after a write the handle keeps %+v, want its file open for writing", l3.kept)
	}

	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	if l1.kept != nil {
		t.Errorf("Close left the file open")
	}
	verify(t, l2)
}

// TestKeptFilesInterleaved: three handles on one file write in a random order, so
// that each keeps a file that another handle's commits make stale. None may write from
// a stale view of bbolt's pages: the file stays consistent page by page (bbolt's own
// check: no page both free and in use, none reachable twice), the chain verifies, and
// the caps count every handle's reservations.
func TestKeptFilesInterleaved(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	var hs []*Ledger
	for range 3 {
		hs = append(hs, openLedger(t, path, Options{Timeout: time.Second}))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n, each = 300, 3
	caps := Caps{Total: amt(n * each / 2)}
	reserved, refused := 0, 0
	for i := range n {
		l := hs[rng.IntN(len(hs))]
		id := fmt.Sprintf("call-%d", i)
		_, err := l.Reserve(ctx, intent(id, each), caps)
		switch {
		case err == nil:
			reserved++
		case errors.As(err, new(*CapError)):
			refused++
			continue
		default:
			t.Fatalf("Reserve(%s): %v", id, err)
		}
		other := hs[rng.IntN(len(hs))]
		switch rng.IntN(3) {
		case 0:
			err = other.Settle(ctx, id, "0x1")
		case 1:
			err = other.Release(ctx, id, "not sent")
			reserved--
		default:
			_, err = other.Spend(ctx, id)
		}
		if err != nil {
			t.Fatalf("call %s: %v", id, err)
		}
	}
	if reserved*each > n*each/2 || refused == 0 {
		t.Errorf("%d reservations of %d counted against a total cap of %d (%d refused): the caps did not see every handle",
			reserved, each, n*each/2, refused)
	}
	for _, l := range hs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var errs []error
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	}); err != nil || len(errs) > 0 {
		t.Errorf("bbolt's consistency check: %v %v", err, errors.Join(errs...))
	}
	verify(t, openLedger(t, path, Options{}))
}

package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// damageFixture is a real ledger file of several pages and what it holds.
type damageFixture struct {
	file     []byte // the file's bytes
	pageSize int
	used     int // bytes of the pages in use (the high-water mark): a cut at or after it loses nothing
	spends   []Spend
	events   []Event
	totals   [4]int64
	now      func() time.Time // the ledger clock after the last event
}

// newDamageFixture records 60 calls in three sessions: settled, unknown, released,
// voided, still reserved, and refusals, so that every bucket spans pages.
func newDamageFixture(t *testing.T) damageFixture {
	t.Helper()
	ctx := t.Context()
	l, c := newLedger(t)
	for i := range 60 {
		in := intent(fmt.Sprintf("call-%02d", i), int64(1000+i))
		in.Session = fmt.Sprintf("s%d", i%3)
		mustReserve(t, l, in, Caps{})
		c.Add(time.Minute)
		var err error
		switch i % 6 {
		case 0, 1:
			err = l.Settle(ctx, in.CallID, fmt.Sprintf("0x%064x", i))
		case 2:
			err = l.MarkUnknown(ctx, in.CallID, "connection reset")
		case 3:
			err = l.Release(ctx, in.CallID, "signing failed")
		case 4:
			err = l.Void(ctx, in.CallID, "nonce never used on chain")
		case 5:
			err = l.Refuse(ctx, Refusal{Tool: in.Tool, Reason: "over the per-tool cap"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	verify(t, l)
	file, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	fx := damageFixture{file: file, events: events(t, l), totals: totals(t, l, "s1", "weather"), now: c.Now}
	if fx.spends, err = l.Spends(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := checkMeta(bytes.NewReader(file), int64(len(file)), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	fx.pageSize, fx.used = int(m.pageSize), int(m.pgid)*int(m.pageSize)
	if fx.used < 5*fx.pageSize {
		t.Fatalf("the fixture uses %d bytes, fewer than 5 pages of %d", fx.used, fx.pageSize)
	}
	t.Logf("fixture: %d events, %d bytes, %d of them in use, pages of %d", len(fx.events), len(file), fx.used, fx.pageSize)
	return fx
}

// wantDamageError fails unless err is one line that says what is wrong and what to do.
func wantDamageError(t *testing.T, what string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "goroutine") {
		t.Errorf("%s: the error is not one line: %q", what, msg)
	}
	if errors.Is(err, ErrDamaged) && !strings.Contains(msg, "restore it from a copy") {
		t.Errorf("%s: %q does not say what to do", what, msg)
	}
}

// tryDamaged runs what a process does with the ledger file at path, which holds the
// fixture's file with some damage, and checks the outcome: each step either fails with a
// one-line error, or returns exactly what the undamaged file holds; nothing that failed
// changed the file; once a step found the damage, no later write went through. It
// returns whether the damage was found.
func (fx damageFixture) tryDamaged(t *testing.T, path string) (found bool) {
	t.Helper()
	ctx := t.Context()
	before := fileHash(t, path)
	fail := func(what string, err error) bool {
		if err == nil {
			return false
		}
		wantDamageError(t, what, err)
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrTampered) && !strings.Contains(err.Error(), "not a toll ledger") {
			t.Errorf("%s: %v, want ErrDamaged, ErrTampered or not a toll ledger", what, err)
		}
		found = true
		return true
	}
	// A reader: never writes, found or not.
	if ro, err := Open(path, Options{NoCreate: true, Now: fx.now}); !fail("Open(NoCreate)", err) {
		spends, err1 := ro.Spends(ctx)
		evs, err2 := ro.Events(ctx)
		tot, err3 := ro.Totals(ctx, "s1", "weather")
		err4 := ro.Verify(ctx)
		err5 := ro.Check(ctx)
		if !fail("Spends", err1) && !fail("Events", err2) && !fail("Totals", err3) && !fail("Verify", err4) && !fail("Check", err5) {
			if diff := cmp.Diff(fx.spends, spends, amountCmp); diff != "" {
				t.Errorf("Spends returned other data, with no error anywhere (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(fx.events, evs, amountCmp); diff != "" {
				t.Errorf("Events returned other data, with no error anywhere (-want +got):\n%s", diff)
			}
			if got := [4]int64{units(t, tot.Session), units(t, tot.Day), units(t, tot.Total), units(t, tot.API)}; got != fx.totals {
				t.Errorf("Totals = %v, want %v, with no error anywhere", got, fx.totals)
			}
		}
	}
	if fileHash(t, path) != before {
		t.Fatalf("reading the damaged file changed it")
	}
	// A writer, as toll serve is: Open, Check, and only then Reserve.
	rw, err := Open(path, Options{Now: fx.now})
	if fail("Open", err) || fail("Check", rw.Check(ctx)) || found {
		if fileHash(t, path) != before {
			t.Fatalf("the damage was found, yet the file changed")
		}
		return true
	}
	mustReserve(t, rw, intent("after", 1), Caps{})
	verify(t, rw)
	return false
}

// TestTruncated cuts a real ledger at every 512 bytes from 0 to its size, and at every
// page boundary and one byte either side (every byte would take minutes and cross no
// other boundary). Below the pages in use, every cut is found: each operation fails with
// a one-line *DamageError and the file is left as it was, and so does a handle opened
// before the cut, writes included. From there on, the cut loses nothing and the ledger
// works.
func TestTruncated(t *testing.T) {
	fx := newDamageFixture(t)
	offsets := []int{fx.used - 1, fx.used + 1, len(fx.file)}
	for off := 0; off < len(fx.file); off += 512 {
		offsets = append(offsets, off)
		if off%fx.pageSize == 0 && off > 0 {
			offsets = append(offsets, off-1, off+1)
		}
	}
	dir := t.TempDir()
	cut, intact := filepath.Join(dir, "cut.db"), filepath.Join(dir, "intact.db")
	for _, off := range offsets {
		if err := os.WriteFile(cut, fx.file[:off], 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(cut, Options{NoCreate: true})
		if want := off < fx.used; errors.Is(err, ErrDamaged) != want {
			t.Fatalf("cut at %d of %d bytes (%d in use): Open = %v, want ErrDamaged: %v", off, len(fx.file), fx.used, err, want)
		}
		if found := fx.tryDamaged(t, cut); found != (off < fx.used) {
			t.Errorf("cut at %d: damage found = %v, want %v", off, found, off < fx.used)
		}
		fx.cutUnderHandle(t, intact, off)
	}
}

// cutUnderHandle opens the intact file at path, cuts it at off, and checks that the
// handle's operations find the damage (or, for a cut after the pages in use, work).
func (fx damageFixture) cutUnderHandle(t *testing.T, path string, off int) {
	t.Helper()
	ctx := t.Context()
	if err := os.WriteFile(path, fx.file, 0o600); err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, path, Options{Now: fx.now})
	if err := os.Truncate(path, int64(off)); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, path)
	_, err1 := l.Spends(ctx)
	err2 := l.Verify(ctx)
	_, err3 := l.Reserve(ctx, intent("after-cut", 1), Caps{})
	for i, err := range []error{err1, err2, err3} {
		if off >= fx.used {
			if err != nil {
				t.Errorf("cut at %d, after the pages in use: operation %d: %v", off, i, err)
			}
			continue
		}
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("cut at %d under an open handle: operation %d = %v, want ErrDamaged", off, i, err)
		} else {
			wantDamageError(t, fmt.Sprintf("cut at %d under a handle", off), err)
		}
	}
	if off < fx.used && fileHash(t, path) != before {
		t.Errorf("cut at %d under an open handle: Reserve changed the file", off)
	}
	l.Close()
}

// TestFlipped changes one byte of a real ledger at a time, 600 times (seeded): half
// anywhere in the pages in use, half in the page headers and element arrays where bbolt
// keeps its structure. Every time, each operation fails with a one-line error or returns
// exactly what the ledger held, a failed one leaves the file as it was, and nothing
// crashes or hangs.
func TestFlipped(t *testing.T) {
	fx := newDamageFixture(t)
	var structure []int // offsets of page headers and element arrays
	for p := 0; p < fx.used; p += fx.pageSize {
		n := pageHeaderSize + elementSize*int(binary.NativeEndian.Uint16(fx.file[p+10:]))
		if p < 2*fx.pageSize {
			n = pageHeaderSize + metaSize
		}
		for i := range min(n, fx.pageSize) {
			structure = append(structure, p+i)
		}
	}
	rng := rand.New(rand.NewPCG(8, 1))
	path := filepath.Join(t.TempDir(), "flipped.db")
	found := 0
	const flips = 600
	for i := range flips {
		off := rng.IntN(fx.used)
		if i%2 == 1 {
			off = structure[rng.IntN(len(structure))]
		}
		b := bytes.Clone(fx.file)
		b[off] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if fx.tryDamaged(t, path) {
			found++
		}
		if t.Failed() {
			t.Fatalf("flip %d at offset %d (page %d, byte %d): see above", i, off, off/fx.pageSize, off%fx.pageSize)
		}
	}
	t.Logf("%d of %d flips found; the others changed nothing that is read", found, flips)
}

// TestPageCycle: a branch page that names itself as its child would send bbolt round
// the cycle for ever (its cursor descends without end). Open finds it and reads nothing
// through bbolt.
func TestPageCycle(t *testing.T) {
	fx := newDamageFixture(t)
	b := bytes.Clone(fx.file)
	branch := -1
	for p := 2 * fx.pageSize; p < fx.used; p += fx.pageSize {
		if binary.NativeEndian.Uint16(b[p+8:]) == flagBranch {
			branch = p / fx.pageSize
			break
		}
	}
	if branch < 0 {
		t.Fatal("the fixture has no branch page")
	}
	// The first element's child: pos u32, ksize u32, pgid u64.
	binary.NativeEndian.PutUint64(b[branch*fx.pageSize+pageHeaderSize+8:], uint64(branch))
	path := filepath.Join(t.TempDir(), "cycle.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), fmt.Sprintf("page %d", branch)) {
		t.Errorf("Open = %v, want ErrDamaged naming page %d", err, branch)
	}
	if !fx.tryDamaged(t, path) {
		t.Error("the cycle was not found")
	}
}

// TestTruncatedEveryByte cuts a small real ledger (three calls) at every byte offset from
// one page past its pages in use down to 0, and opens each cut as toll serve does (it may
// create a ledger); every 256th cut also as the read commands do. Below the pages in use,
// Open fails with a one-line ErrDamaged and writes nothing: the file keeps its length and
// its meta pages (all its bytes, checked every 256th cut). From there on, the ledger opens
// and holds every spend.
func TestTruncatedEveryByte(t *testing.T) {
	ctx := t.Context()
	l, c := newLedger(t)
	const calls = 3
	for i := range calls {
		in := intent(fmt.Sprintf("call-%d", i), int64(1000+i))
		mustReserve(t, l, in, Caps{})
		c.Add(time.Minute)
		if err := l.Settle(ctx, in.CallID, fmt.Sprintf("0x%064x", i)); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	m, err := checkMeta(bytes.NewReader(whole), int64(len(whole)), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	used := int(m.pgid) * int(m.pageSize)
	t.Logf("%d bytes, %d of them in use", len(whole), used)
	path := filepath.Join(t.TempDir(), "cut.db")
	start := min(len(whole), used+int(m.pageSize))
	if err := os.WriteFile(path, whole[:start], 0o600); err != nil {
		t.Fatal(err)
	}
	meta := 2 * int(m.pageSize)
	for off := start; off >= 0; off-- {
		if err := os.Truncate(path, int64(off)); err != nil {
			t.Fatal(err)
		}
		every := off%256 == 0
		for _, opts := range []Options{{}, {NoCreate: true}} {
			if opts.NoCreate && !every {
				continue
			}
			led, err := Open(path, opts)
			if off < used {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("cut at %d of %d (%d in use), Open(%+v) = %v, want ErrDamaged", off, len(whole), used, opts, err)
				}
				wantDamageError(t, fmt.Sprintf("cut at %d", off), err)
			} else {
				if err != nil {
					t.Fatalf("cut at %d, after the pages in use: Open(%+v): %v", off, opts, err)
				}
				spends, err := led.Spends(ctx)
				if err != nil || len(spends) != calls {
					t.Fatalf("cut at %d: %d spends, %v; want all %d", off, len(spends), err, calls)
				}
				led.Close()
			}
		}
		n := min(off, meta)
		if every {
			n = off
		}
		checkPrefix(t, path, whole, off, n)
	}
}

// checkPrefix fails unless the file at path is size bytes long and its first n bytes are
// those of whole.
func checkPrefix(t *testing.T, path string, whole []byte, size, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, n)
	if _, err := f.ReadAt(got, 0); err != nil && n > 0 {
		t.Fatal(err)
	}
	if st.Size() != int64(size) || !bytes.Equal(got, whole[:n]) {
		t.Fatalf("cut at %d: opening the file changed it (now %d bytes)", size, st.Size())
	}
}

// TestBranchKeyShortened: a branch page whose first element names its child by a key
// shorter than the child's first key (a prefix of it, so every key stays in order) was
// read without error, but bbolt, finding the child's entry by its first key when it
// wrote, gave the child a second entry: the next write duplicated records (found by a
// random flip in TestFlipped). Open refuses it, and the file is not written.
func TestBranchKeyShortened(t *testing.T) {
	fx := newDamageFixture(t)
	b := bytes.Clone(fx.file)
	el := -1
	for p := 2 * fx.pageSize; p < fx.used && el < 0; p += fx.pageSize {
		if binary.NativeEndian.Uint16(b[p+8:]) == flagBranch {
			el = p + pageHeaderSize // the first element: pos u32, ksize u32, pgid u64
		}
	}
	if el < 0 {
		t.Fatal("the fixture has no branch page")
	}
	ksize := binary.NativeEndian.Uint32(b[el+4:])
	if ksize < 2 {
		t.Fatalf("the first branch key has %d bytes, too short to shorten", ksize)
	}
	binary.NativeEndian.PutUint32(b[el+4:], ksize-1)
	path := filepath.Join(t.TempDir(), "shortened.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "its first key is not the key its parent page names it by") {
		t.Errorf("Open = %v, want ErrDamaged about the child's first key", err)
	}
	if !fx.tryDamaged(t, path) {
		t.Error("the shortened key was not found")
	}
}

package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// fill writes n calls to l in one transaction (so that a test of thousands of events
// stays fast): call-i in session s(i%3), API api(i%2), agent ag(i%2), tool t(i%5), one
// minute apart from t0; every call settles right away but those for which open(i) is
// true, which stay reserved.
func fill(t testing.TB, l *Ledger, n int, open func(i int) bool) {
	t.Helper()
	err := l.update(context.Background(), func(bk buckets) error {
		for i := range n {
			now := t0.Add(time.Duration(i) * time.Minute)
			in := intent(fmt.Sprintf("call-%d", i), int64(100+i))
			in.Session, in.API, in.Agent, in.Tool = fmt.Sprintf("s%d", i%3), fmt.Sprintf("api%d", i%2), fmt.Sprintf("ag%d", i%2), fmt.Sprintf("t%d", i%5)
			if _, _, err := reserveTx(bk, in, Caps{}, now); err != nil {
				return err
			}
			if open != nil && open(i) {
				continue
			}
			if err := transitionTx(bk, Outcome{CallID: in.CallID, Kind: KindSettled, TxHash: "0xfeed"}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scanSpends(t *testing.T, l *Ledger, f Filter) []Spend {
	t.Helper()
	var out []Spend
	if err := l.ScanSpends(t.Context(), f, func(s *Spend) error { out = append(out, *s); return nil }); err != nil {
		t.Fatalf("ScanSpends(%+v): %v", f, err)
	}
	return out
}

// The rows of a list or an export come from the events: a call record edited in the file
// does not reach them, and Verify reports it. (The edit, 27367 exported as
// 2736700, cannot be made in a call record since format 3: the record holds no amount,
// only what the outcomes said, such as the transaction; that is edited here.)
func TestEditedCallRecordNotExported(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("paid", 27367), Caps{})
	if err := l.Settle(ctx, "paid", "0xabc"); err != nil {
		t.Fatal(err)
	}
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		b, _ := openBuckets(tx)
		rec, err := b.call("paid")
		if err != nil {
			return err
		}
		rec.Spend.TxHash = "0xdef"
		return b.putCall(rec)
	})
	var buf bytes.Buffer
	if err := l.ExportCSV(ctx, &buf, Filter{}, CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); strings.Contains(got, "0xdef") || !strings.Contains(got, ",0xabc,") {
		t.Errorf("export csv = %q, want the transaction of the events, 0xabc, not the edited record's 0xdef", got)
	}
	if got := scanSpends(t, l, Filter{}); len(got) != 1 || got[0].TxHash != "0xabc" {
		t.Errorf("ScanSpends = %+v, want one spend settled in 0xabc", got)
	}
	var te *TamperError
	if err := l.Verify(ctx); !errors.As(err, &te) || !strings.Contains(te.Detail, `call "paid"`) {
		t.Errorf("Verify = %v, want a *TamperError naming call \"paid\"", err)
	}
}

// Rows come in reservation order, across many read transactions; a call that stays open
// while more than maxWaiting later calls are reserved comes when it becomes final (or,
// still open, at the end); every call comes once.
func TestScanSpendsOrder(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	n := maxWaiting + 500
	fill(t, l, n, func(i int) bool { return i == 3 || i == 10 })
	if err := l.Settle(ctx, "call-3", "0x3"); err != nil {
		t.Fatal(err)
	}
	got := scanSpends(t, l, Filter{})
	var ids []string
	for _, s := range got {
		ids = append(ids, s.CallID)
	}
	var want []string
	for i := range n {
		if i != 3 && i != 10 {
			want = append(want, fmt.Sprintf("call-%d", i))
		}
	}
	want = append(want, "call-3", "call-10") // decided last; still open
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if s := got[len(got)-1]; s.Status != StatusReserved {
		t.Errorf("call-10 is %s, want reserved", s.Status)
	}

	// Below maxWaiting, an open call keeps its place.
	l2, _ := newLedger(t)
	fill(t, l2, 50, func(i int) bool { return i == 3 })
	if got := scanSpends(t, l2, Filter{}); len(got) != 50 || got[3].CallID != "call-3" || got[3].Status != StatusReserved {
		t.Errorf("small ledger: %d rows, row 3 = %s %s; want 50, call-3 reserved", len(got), got[3].CallID, got[3].Status)
	}
}

func TestFilters(t *testing.T) {
	l, _ := newLedger(t)
	fill(t, l, 30, func(i int) bool { return i%4 == 0 })
	tests := []struct {
		f      Filter
		spends int // of the 30 calls
		events int // of the 30 reserved and 22 settled events
	}{
		{Filter{}, 30, 52},
		{Filter{Session: "s1"}, 10, 10 + 7},
		{Filter{API: "api0", Agent: "ag0"}, 15, 15 + 7},
		{Filter{Agent: "ag1", API: "api0"}, 0, 0},
		{Filter{Tool: "t4"}, 6, 6 + 4},
		{Filter{Network: "eip155:8453"}, 0, 0},
		{Filter{Network: "eip155:84532"}, 30, 52},
		{Filter{Status: "reserved"}, 8, 30},
		{Filter{Status: "settled"}, 22, 22},
		{Filter{Since: t0.Add(10 * time.Minute)}, 20, 20 + 15},
		{Filter{Until: t0.Add(10 * time.Minute)}, 10, 10 + 7},
		{Filter{Since: t0.Add(10 * time.Minute), Until: t0.Add(12 * time.Minute), Status: "settled"}, 2, 2},
	}
	for _, tt := range tests {
		if got := len(scanSpends(t, l, tt.f)); got != tt.spends {
			t.Errorf("ScanSpends(%+v): %d spends, want %d", tt.f, got, tt.spends)
		}
		n := 0
		if err := l.ScanEvents(t.Context(), tt.f, func(*Event) error { n++; return nil }); err != nil {
			t.Fatalf("ScanEvents(%+v): %v", tt.f, err)
		}
		if n != tt.events {
			t.Errorf("ScanEvents(%+v): %d events, want %d", tt.f, n, tt.events)
		}
	}
	for _, tt := range []struct {
		f      Filter
		events bool
		detail string
	}{
		{Filter{Status: "refused"}, false, "not a spend status"},
		{Filter{Status: "paid"}, true, "not an event kind"},
		{Filter{Since: t0, Until: t0}, false, "period is empty"},
	} {
		var err error
		if tt.events {
			err = l.ScanEvents(t.Context(), tt.f, func(*Event) error { return nil })
		} else {
			err = l.ScanSpends(t.Context(), tt.f, func(*Spend) error { return nil })
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("filter %+v: err = %v, want ErrInvalid saying %q", tt.f, err, tt.detail)
		}
	}
}

// A streaming reader holds no lock while its caller handles what it read: a writer takes
// the exclusive lock at its first try, and what it writes is not in the snapshot.
func TestReadersDoNotHoldTheLock(t *testing.T) {
	l, _ := newLedger(t)
	fill(t, l, 3*readBatch, nil)
	writer := openLedger(t, l.Path(), Options{Timeout: time.Minute})
	rows, wrote := 0, 0
	err := l.ScanSpends(t.Context(), Filter{}, func(s *Spend) error {
		rows++
		if rows%readBatch != 1 {
			return nil
		}
		db, err := bolt.Open(l.Path(), 0o600, &bolt.Options{Timeout: time.Nanosecond})
		if err != nil {
			return fmt.Errorf("row %d: the exclusive lock: %w", rows, err)
		}
		if err := db.Close(); err != nil {
			return err
		}
		wrote++
		mustReserve(t, writer, intent(fmt.Sprintf("during-%d", wrote), 1), Caps{})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 3*readBatch {
		t.Errorf("%d rows, want the %d of the snapshot", rows, 3*readBatch)
	}
	if n := len(scanSpends(t, l, Filter{})); n != rows+wrote {
		t.Errorf("after: %d rows, want %d", n, rows+wrote)
	}
}

// Verify runs while writers reserve and settle: it finds nothing wrong, and every write
// succeeds.
func TestVerifyWhileWriting(t *testing.T) {
	l, _ := newLedger(t)
	fill(t, l, 2*readBatch, func(i int) bool { return i%7 == 0 })
	w := openLedger(t, l.Path(), Options{Timeout: time.Minute})
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("w-%d", i)
			if _, werr = w.Reserve(ctx, intent(id, 5), Caps{}); werr != nil {
				return
			}
			werr = w.Settle(ctx, id, "0x1")
			if open := 7 * i; werr == nil && open < 2*readBatch {
				werr = w.Void(ctx, fmt.Sprintf("call-%d", open), "reconciled")
			}
			if werr != nil {
				return
			}
		}
	})
	for range 5 {
		if err := l.Verify(ctx); err != nil {
			t.Errorf("Verify while writing: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Errorf("writer: %v", werr)
	}
	verify(t, l)
}

func TestRecentAcrossBatches(t *testing.T) {
	l, _ := newLedger(t)
	fill(t, l, 2*readBatch, func(i int) bool { return i == 0 })
	got, err := l.Recent(t.Context(), SpendFilter{Session: "s0"}, MaxRecent)
	if err != nil {
		t.Fatal(err)
	}
	// Sessions s0 are calls 0, 3, 6...: the latest 500 of them, newest first.
	last := 2*readBatch - 1
	last -= last % 3
	if len(got) != MaxRecent || got[0].CallID != fmt.Sprintf("call-%d", last) || got[0].Status != StatusSettled {
		t.Fatalf("Recent: %d spends, first %s %s; want %d, call-%d settled", len(got), got[0].CallID, got[0].Status, MaxRecent, last)
	}
	if got, want := got[len(got)-1].CallID, fmt.Sprintf("call-%d", last-3*(MaxRecent-1)); got != want {
		t.Errorf("Recent: last %s, want %s", got, want)
	}
}

func TestVerifyJSONL(t *testing.T) {
	l, _ := newLedger(t)
	fill(t, l, readBatch+10, func(i int) bool { return i%5 == 0 })
	if err := l.Refuse(t.Context(), Refusal{Tool: "t", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.ExportJSONL(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	want, err := l.VerifyHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil || got != want {
		t.Fatalf("VerifyJSONL = %+v, %v; want %+v (the ledger's head)", got, err, want)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	for _, tt := range []struct {
		name string
		file string
		seq  uint64
	}{
		{"an amount edited", strings.Replace(buf.String(), `"amount":"110"`, `"amount":"111"`, 1), 19},
		{"a line dropped", strings.Join(append(lines[:4:4], lines[5:]...), ""), 5},
		{"two lines swapped", strings.Join(append(lines[:4:4], append([]string{lines[5], lines[4]}, lines[6:]...)...), ""), 5},
	} {
		_, err := VerifyJSONL(strings.NewReader(tt.file))
		var te *TamperError
		if !errors.As(err, &te) || te.Seq != tt.seq {
			t.Errorf("%s: VerifyJSONL = %v, want a *TamperError at event %d", tt.name, err, tt.seq)
		}
	}
	if _, err := VerifyJSONL(strings.NewReader("not json\n")); err == nil || errors.Is(err, ErrTampered) {
		t.Errorf("VerifyJSONL(not json) = %v, want a read error", err)
	}
}

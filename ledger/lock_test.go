package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
)

// Two handles on one file in one process work interleaved: neither keeps the
// file lock between operations, and each sees the other's reservations when
// it checks the caps.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	c := newClock()
	l1 := openLedger(t, path, Options{Now: c.Now, Timeout: time.Second})
	l2 := openLedger(t, path, Options{Now: c.Now, Timeout: time.Second})
	caps := Caps{Total: amt(100)}

	mustReserve(t, l1, intent("a", 60), caps)
	in := intent("b", 50)
	_, err := l2.Reserve(ctx, in, caps)
	wantRefused(t, l2, err, in, CapTotal, 100, 60, [4]int64{60, 60, 60, 60})
	if err := l2.Settle(ctx, "a", "0xa"); err != nil {
		t.Fatal(err)
	}
	if sp, err := l1.Spend(ctx, "a"); err != nil || sp.Status != StatusSettled {
		t.Fatalf("l1.Spend(a) = %s, %v; want settled", sp.Status, err)
	}
	mustReserve(t, l1, intent("b", 40), caps)
	if _, err := l2.Reserve(ctx, intent("b", 1), caps); !errors.Is(err, ErrDuplicateCall) {
		t.Errorf("l2 reserving l1's call: err = %v, want ErrDuplicateCall", err)
	}
	if err := l2.Release(ctx, "b", "signing failed"); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, l2, intent("c", 40), caps)
	if err := l1.MarkUnknown(ctx, "c", "eof"); err != nil {
		t.Fatal(err)
	}
	t1, t2 := totals(t, l1, "s1", "weather"), totals(t, l2, "s1", "weather")
	if want := [4]int64{100, 100, 100, 100}; t1 != want || t2 != want {
		t.Errorf("totals l1 %v, l2 %v; want %v", t1, t2, want)
	}
	if diff := cmp.Diff(events(t, l1), events(t, l2), amountCmp); diff != "" {
		t.Errorf("handles see different chains:\n%s", diff)
	}
	verify(t, l1)
	verify(t, l2)
}

// A holder that keeps the bbolt file open (as a toll that kept it open
// would) makes every operation fail with ErrBusy after about Timeout, and
// nothing is written.
func TestBusy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ledger.db")
	const timeout = 300 * time.Millisecond
	l := openLedger(t, path, Options{Timeout: timeout})
	mustReserve(t, l, intent("a", 10), Caps{})

	holder, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()

	start := time.Now()
	_, err = l.Reserve(ctx, intent("b", 10), Caps{})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "another toll process") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reserve while held: err = %v, want ErrBusy naming another toll process and the path", err)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("Reserve gave up after %v, want about %v", elapsed, timeout)
	}
	t.Logf("busy after %v: %v", elapsed, err)
	if _, err := l.Totals(ctx, "s1", ""); !errors.Is(err, ErrBusy) {
		t.Errorf("Totals while held: err = %v, want ErrBusy", err)
	}
	if err := l.Settle(ctx, "a", "0x1"); !errors.Is(err, ErrBusy) {
		t.Errorf("Settle while held: err = %v, want ErrBusy", err)
	}
	if _, err := Open(path, Options{Timeout: timeout}); !errors.Is(err, ErrBusy) {
		t.Errorf("Open while held: err = %v, want ErrBusy", err)
	}
	// A cancelled context stops the wait early.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := l.Reserve(cctx, intent("b", 10), Caps{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Reserve with an expiring context: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > timeout {
		t.Errorf("the context did not cut the wait short: %v", d)
	}

	// Nothing was written.
	if err := holder.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketEvents).Stats().KeyN; n != 1 {
			t.Errorf("%d events while held, want 1", n)
		}
		if v := tx.Bucket(bucketCalls).Get([]byte("b")); v != nil {
			t.Errorf("call b was recorded while the ledger was held")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, l, intent("b", 10), Caps{})
	if err := l.Settle(ctx, "a", "0x1"); err != nil {
		t.Fatal(err)
	}
	verify(t, l)
}

// capHistory replays the chain and checks that the counted amounts never
// exceeded the caps at any point, and returns the final counted amounts.
func capHistory(t *testing.T, evs []Event, sessionCap, totalCap money.Amount) (map[string]money.Amount, money.Amount) {
	t.Helper()
	sessions := map[string]money.Amount{}
	total := money.USDC(0)
	reserved := map[string]Event{}
	for _, e := range evs {
		switch e.Kind {
		case KindReserved:
			reserved[e.CallID] = e
			sessions[e.Session] = sessions[e.Session].Add(*e.Amount)
			total = total.Add(*e.Amount)
			if sessions[e.Session].Cmp(sessionCap) > 0 || total.Cmp(totalCap) > 0 {
				t.Fatalf("event %d: session %s at %v, total at %v: over the caps %v / %v",
					e.Seq, e.Session, sessions[e.Session], total, sessionCap, totalCap)
			}
		case KindReleased, KindVoided:
			r := reserved[e.CallID]
			sessions[r.Session] = sessions[r.Session].Sub(*r.Amount)
			total = total.Sub(*r.Amount)
		}
	}
	return sessions, total
}

// checkConsistent checks that the counted spends add up to Totals, and that
// the chain verifies.
func checkConsistent(t *testing.T, l *Ledger, sessions map[string]money.Amount, total money.Amount) {
	t.Helper()
	ctx := t.Context()
	spends, err := l.Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromSpends := map[string]money.Amount{}
	all := money.USDC(0)
	for _, s := range spends {
		if s.Status.Counts() {
			fromSpends[s.Session] = fromSpends[s.Session].Add(s.Amount)
			all = all.Add(s.Amount)
		}
	}
	for sess, want := range sessions {
		tot, err := l.Totals(ctx, sess, "weather")
		if err != nil {
			t.Fatal(err)
		}
		if tot.Session.Cmp(want) != 0 || fromSpends[sess].Cmp(want) != 0 {
			t.Errorf("session %s: Totals %v, spends %v, events %v", sess, tot.Session, fromSpends[sess], want)
		}
		if tot.Total.Cmp(total) != 0 || all.Cmp(total) != 0 || tot.API.Cmp(total) != 0 || tot.Day.Cmp(total) != 0 {
			t.Errorf("Totals %+v, spends %v, events %v", tot, all, total)
		}
	}
	verify(t, l)
}

// 32 goroutines over 4 handles on one file reserve under a session cap and a
// total cap, and settle, mark unknown or release at random. At no point of
// the history do the counted amounts exceed a cap.
func TestConcurrentCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	var handles []*Ledger
	for range 4 {
		handles = append(handles, openLedger(t, path, Options{Timeout: 2 * time.Minute}))
	}
	sessionCap, totalCap := money.USDC(2500), money.USDC(6000)
	caps := Caps{PerSession: &sessionCap, Total: &totalCap}
	const goroutines, reservations = 32, 400
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	var next, admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := t.Context()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			l := handles[g%len(handles)]
			for {
				i := next.Add(1)
				if i > reservations {
					return
				}
				id := fmt.Sprintf("call-%d", i)
				in := intent(id, 1+rng.Int64N(100))
				in.Session = fmt.Sprintf("s%d", rng.IntN(4))
				_, err := l.Reserve(ctx, in, caps)
				if errors.Is(err, ErrCapExceeded) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("Reserve(%s): %v", id, err)
					return
				}
				admitted.Add(1)
				// Another handle records the outcome.
				o := handles[rng.IntN(len(handles))]
				switch r := rng.IntN(10); {
				case r < 4:
					err = o.Settle(ctx, id, "0x"+id)
				case r < 6:
					err = o.MarkUnknown(ctx, id, "eof")
					if err == nil && rng.IntN(2) == 0 {
						err = o.Void(ctx, id, "nonce unused")
					}
				case r < 9:
					err = o.Release(ctx, id, "signing failed")
				}
				if err != nil {
					t.Errorf("outcome of %s: %v", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d admitted, %d refused by a cap", admitted.Load(), refused.Load())
	if admitted.Load()+refused.Load() != reservations || refused.Load() == 0 || admitted.Load() == 0 {
		t.Fatalf("admitted %d + refused %d, want %d with both > 0", admitted.Load(), refused.Load(), reservations)
	}
	evs := events(t, handles[0])
	var nRefused int64
	for _, e := range evs {
		if e.Kind == KindRefused {
			nRefused++
		}
	}
	if nRefused != refused.Load() {
		t.Errorf("%d refused events, want %d", nRefused, refused.Load())
	}
	sessions, total := capHistory(t, evs, sessionCap, totalCap)
	checkConsistent(t, handles[1], sessions, total)
}

// The same property across real processes: this test binary runs again as
// helper processes (see TestMain) that reserve on the same file.
const (
	helperEnv       = "TOLL_LEDGER_TEST_HELPER"
	helperPrefixEnv = "TOLL_LEDGER_TEST_PREFIX"
	crossN          = 60
)

var crossSessionCap, crossTotalCap = money.USDC(1500), money.USDC(3000)

func crossWorker(l *Ledger, prefix string, n int) error {
	ctx := context.Background()
	caps := Caps{PerSession: &crossSessionCap, Total: &crossTotalCap}
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		in := intent(id, int64(10+i%90))
		in.Session = prefix
		_, err := l.Reserve(ctx, in, caps)
		if errors.Is(err, ErrCapExceeded) {
			continue
		}
		if err != nil {
			return err
		}
		switch i % 3 {
		case 0:
			err = l.Settle(ctx, id, "0x1")
		case 1:
			err = l.Release(ctx, id, "signing failed")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func helperProcess(path string) int {
	l, err := openHelperLedger(path, Options{Timeout: time.Minute})
	if err == nil && os.Getenv(propWorkerEnv) == "caps" {
		n, perr := strconv.ParseInt(os.Getenv(propCountEnv), 10, 64)
		if perr != nil {
			n = propPerProc
		}
		err = propWorker(l, os.Getenv(helperPrefixEnv), n)
	} else if err == nil {
		err = crossWorker(l, os.Getenv(helperPrefixEnv), crossN)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

func TestCrossProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedger(t, path, Options{Timeout: time.Minute})
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, helperPrefixEnv+"=p"+strconv.Itoa(i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	if err := crossWorker(l, "parent", crossN); err != nil {
		t.Errorf("parent: %v", err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	evs := events(t, l)
	var reservedBy = map[string]int{}
	for _, e := range evs {
		if e.Kind == KindReserved || e.Kind == KindRefused {
			reservedBy[e.Session]++
		}
	}
	for _, s := range []string{"parent", "p0", "p1", "p2"} {
		if reservedBy[s] != crossN {
			t.Errorf("session %s: %d reservations or refusals, want %d", s, reservedBy[s], crossN)
		}
	}
	sessions, total := capHistory(t, evs, crossSessionCap, crossTotalCap)
	checkConsistent(t, l, sessions, total)
}

package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/tollhq/toll/tools/money"
)

func TestMain(m *testing.M) {
	// The cross-process test runs this binary again as a helper process.
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(helperProcess(path))
	}
	os.Exit(m.Run())
}

// clock is an injectable, settable ledger clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// amt returns n atomic units of USDC, for a cap or an optional amount.
func amt(n int64) *money.Amount {
	a := money.USDC(n)
	return &a
}

// pow10 returns 10^n.
func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// uint256Max is 2^256 - 1, the largest amount a token can hold.
var uint256Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

func nonceFor(id string) string { return fmt.Sprintf("0x%x", sha256.Sum256([]byte(id))) }

func intent(id string, amount int64) Intent {
	return Intent{
		CallID: id, Session: "s1", API: "weather", Tool: "weather_get_forecast",
		URL: "https://api.example.com/forecast?city=Oslo", Network: "eip155:84532",
		Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(amount),
		PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Payer: "0x1111111111111111111111111111111111111111",
		Nonce: nonceFor(id), ValidBefore: t0.Add(time.Hour),
	}
}

// sameAmount reports whether a and b are the same value in the same decimals.
func sameAmount(a, b money.Amount) bool { return a.Cmp(b) == 0 && a.Decimals() == b.Decimals() }

// amountCmp lets go-cmp compare money.Amount values (and, through pointers, *money.Amount):
// equal in value and in decimals.
var amountCmp = cmp.Comparer(sameAmount)

// units returns the atomic units of an amount the ledger reports, which must be at
// Decimals and fit an int64.
func units(t testing.TB, a money.Amount) int64 {
	t.Helper()
	if a.Decimals() != Decimals || !a.Atomic().IsInt64() {
		t.Fatalf("amount %v has %d decimals and %v atomic units, want %d decimals and an int64", a, a.Decimals(), a.Atomic(), Decimals)
	}
	return a.Atomic().Int64()
}

func openLedger(t testing.TB, path string, opts Options) *Ledger {
	t.Helper()
	if os.Getenv(envTestStore) == "postgres" {
		return openPGLedger(t, path, opts)
	}
	l, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func newLedger(t testing.TB) (*Ledger, *clock) {
	t.Helper()
	c := newClock()
	return openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), Options{Now: c.Now}), c
}

func mustReserve(t testing.TB, l *Ledger, in Intent, caps Caps) Spend {
	t.Helper()
	sp, err := l.Reserve(context.Background(), in, caps)
	if err != nil {
		t.Fatalf("Reserve(%s, %v): %v", in.CallID, in.Amount, err)
	}
	return sp
}

func totals(t testing.TB, l *Ledger, session, api string) [4]int64 {
	t.Helper()
	tot, err := l.Totals(context.Background(), session, api)
	if err != nil {
		t.Fatalf("Totals: %v", err)
	}
	return [4]int64{units(t, tot.Session), units(t, tot.Day), units(t, tot.Total), units(t, tot.API)}
}

func events(t testing.TB, l *Ledger) []Event {
	t.Helper()
	evs, err := l.Events(context.Background())
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

func verify(t testing.TB, l *Ledger) {
	t.Helper()
	if err := l.Verify(context.Background()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	type step struct {
		op      string // settle, unknown, release, void
		status  Status
		counted int64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"settle", []step{{"settle", StatusSettled, 100}}},
		{"unknown then settle", []step{{"unknown", StatusUnknown, 100}, {"settle", StatusSettled, 100}}},
		{"unknown then void", []step{{"unknown", StatusUnknown, 100}, {"void", StatusVoided, 0}}},
		{"release", []step{{"release", StatusReleased, 0}}},
		{"void reserved", []step{{"void", StatusVoided, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newLedger(t)
			ctx := t.Context()
			in := intent("call-1", 100)
			sp := mustReserve(t, l, in, Caps{})
			if sp.Status != StatusReserved || !sp.ReservedAt.Equal(t0) || !sameAmount(sp.Amount, money.USDC(100)) {
				t.Fatalf("Reserve = %+v, want reserved 100 at %v", sp, t0)
			}
			if got, want := totals(t, l, "s1", "weather"), [4]int64{100, 100, 100, 100}; got != want {
				t.Fatalf("totals after reserve = %v, want %v", got, want)
			}
			for i, st := range tt.steps {
				c.Add(time.Minute)
				var err error
				switch st.op {
				case "settle":
					err = l.Settle(ctx, "call-1", "0xfeed")
				case "unknown":
					err = l.MarkUnknown(ctx, "call-1", "timeout after send")
				case "release":
					err = l.Release(ctx, "call-1", "signing failed")
				case "void":
					err = l.Void(ctx, "call-1", "nonce unused after validBefore")
				}
				if err != nil {
					t.Fatalf("step %d %s: %v", i, st.op, err)
				}
				got, err := l.Spend(ctx, "call-1")
				if err != nil {
					t.Fatalf("Spend: %v", err)
				}
				if got.Status != st.status {
					t.Errorf("after %s: status %s, want %s", st.op, got.Status, st.status)
				}
				if !got.UpdatedAt.Equal(c.Now()) || !got.ReservedAt.Equal(t0) {
					t.Errorf("after %s: reserved %v updated %v, want %v and %v", st.op, got.ReservedAt, got.UpdatedAt, t0, c.Now())
				}
				if st.op == "settle" && got.TxHash != "0xfeed" {
					t.Errorf("TxHash = %q, want 0xfeed", got.TxHash)
				}
				if st.op != "settle" && got.Reason == "" {
					t.Errorf("after %s: empty reason", st.op)
				}
				if got.Status.Counts() != (st.counted > 0) {
					t.Errorf("%s.Counts() = %v", got.Status, got.Status.Counts())
				}
				n := st.counted
				if got, want := totals(t, l, "s1", "weather"), [4]int64{n, n, n, n}; got != want {
					t.Errorf("totals after %s = %v, want %v", st.op, got, want)
				}
			}
			evs := events(t, l)
			if len(evs) != 1+len(tt.steps) {
				t.Fatalf("%d events, want %d", len(evs), 1+len(tt.steps))
			}
			for i, st := range tt.steps {
				if want := map[string]Kind{"settle": KindSettled, "unknown": KindUnknown, "release": KindReleased, "void": KindVoided}[st.op]; evs[i+1].Kind != want {
					t.Errorf("event %d kind %s, want %s", i+2, evs[i+1].Kind, want)
				}
			}
			verify(t, l)
		})
	}
}

func TestBadTransitions(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	ops := map[string]func(id string) error{
		"settle":  func(id string) error { return l.Settle(ctx, id, "0xabc") },
		"unknown": func(id string) error { return l.MarkUnknown(ctx, id, "r") },
		"release": func(id string) error { return l.Release(ctx, id, "r") },
		"void":    func(id string) error { return l.Void(ctx, id, "r") },
	}
	// Bring a call to each status, then try every transition that is not allowed.
	setup := map[Status][]string{
		StatusSettled:  {"settle"},
		StatusReleased: {"release"},
		StatusVoided:   {"void"},
		StatusUnknown:  {"unknown"},
	}
	bad := map[Status][]string{
		StatusSettled:  {"settle", "unknown", "release", "void"},
		StatusReleased: {"settle", "unknown", "release", "void"},
		StatusVoided:   {"settle", "unknown", "release", "void"},
		StatusUnknown:  {"unknown", "release"},
	}
	for status, path := range setup {
		id := "call-" + string(status)
		mustReserve(t, l, intent(id, 10), Caps{})
		for _, op := range path {
			if err := ops[op](id); err != nil {
				t.Fatalf("%s %s: %v", op, id, err)
			}
		}
		before := len(events(t, l))
		tot := totals(t, l, "s1", "weather")
		for _, op := range bad[status] {
			err := ops[op](id)
			if !errors.Is(err, ErrBadTransition) {
				t.Errorf("%s on %s call: err = %v, want ErrBadTransition", op, status, err)
			}
		}
		if got := len(events(t, l)); got != before {
			t.Errorf("bad transitions on %s wrote events: %d, want %d", status, got, before)
		}
		if got := totals(t, l, "s1", "weather"); got != tot {
			t.Errorf("bad transitions on %s changed totals: %v, want %v", status, got, tot)
		}
		sp, err := l.Spend(ctx, id)
		if err != nil || sp.Status != status {
			t.Errorf("Spend(%s) = %s, %v; want %s", id, sp.Status, err, status)
		}
	}
	for op, f := range ops {
		if err := f("no-such-call"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on a missing call: err = %v, want ErrNotFound", op, err)
		}
	}
	if _, err := l.Spend(ctx, "no-such-call"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Spend(missing) err = %v, want ErrNotFound", err)
	}
	if err := l.Settle(ctx, "", "0x1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Settle(\"\") err = %v, want ErrInvalid", err)
	}
	verify(t, l)
}

func TestDuplicateCall(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("call-1", 10), Caps{})
	for _, then := range []func() error{
		func() error { return nil },
		func() error { return l.Release(ctx, "call-1", "signing failed") },
	} {
		if err := then(); err != nil {
			t.Fatal(err)
		}
		n := len(events(t, l))
		in := intent("call-1", 5)
		in.Nonce = nonceFor("another nonce")
		_, err := l.Reserve(ctx, in, Caps{})
		if !errors.Is(err, ErrDuplicateCall) {
			t.Fatalf("second Reserve(call-1): err = %v, want ErrDuplicateCall", err)
		}
		if got := len(events(t, l)); got != n {
			t.Errorf("duplicate Reserve wrote an event: %d events, want %d", got, n)
		}
	}
	sp, _ := l.Spend(ctx, "call-1")
	if !sameAmount(sp.Amount, money.USDC(10)) || sp.Status != StatusReleased {
		t.Errorf("call-1 = %v %s, want the first reservation (10, released)", sp.Amount, sp.Status)
	}
}

func TestInvalidInput(t *testing.T) {
	l, _ := newLedger(t)
	ctx := t.Context()
	mod := func(f func(*Intent)) Intent { in := intent("call-x", 10); f(&in); return in }
	tests := []struct {
		name string
		in   Intent
		caps Caps
	}{
		{"empty call id", mod(func(in *Intent) { in.CallID = "" }), Caps{}},
		{"no amount", mod(func(in *Intent) { in.Amount = money.Amount{} }), Caps{}},
		{"zero amount", mod(func(in *Intent) { in.Amount = money.USDC(0) }), Caps{}},
		{"negative amount", mod(func(in *Intent) { in.Amount = money.USDC(-1) }), Caps{}},
		{"amount of 2^256", mod(func(in *Intent) { in.Amount = money.New(new(big.Int).Lsh(big.NewInt(1), 256), Decimals) }), Caps{}},
		{"amount above uint256 at 6 decimals", mod(func(in *Intent) { in.Amount = money.New(uint256Max, 0) }), Caps{}},
		{"amount not exact at 6 decimals", mod(func(in *Intent) { in.Amount = money.New(big.NewInt(1_000_000_000_001), 18) }), Caps{}},
		{"short nonce", mod(func(in *Intent) { in.Nonce = "0x1234" }), Caps{}},
		{"non-hex nonce", mod(func(in *Intent) { in.Nonce = "0x" + strings.Repeat("g", 64) }), Caps{}},
		{"no validBefore", mod(func(in *Intent) { in.ValidBefore = time.Time{} }), Caps{}},
		{"huge url", mod(func(in *Intent) { in.URL = strings.Repeat("a", maxLong+1) }), Caps{}},
		{"bad utf-8", mod(func(in *Intent) { in.Tool = "\xff" }), Caps{}},
		{"no tool (its counter would be the total's)", mod(func(in *Intent) { in.Tool = "" }), Caps{}},
		{"negative cap", intent("call-x", 10), Caps{Total: amt(-1)}},
		{"negative api cap", intent("call-x", 10), Caps{PerAPI: map[string]money.Amount{"weather": money.USDC(-5)}}},
		{"negative tool cap", intent("call-x", 10), Caps{PerTool: map[string]money.Amount{"weather_get_forecast": money.USDC(-5)}}},
		{"cap not exact at 6 decimals", intent("call-x", 10), Caps{PerCall: ptr(money.New(big.NewInt(1), 7))}},
		{"api cap not exact at 6 decimals", intent("call-x", 10), Caps{PerAPI: map[string]money.Amount{"weather": money.New(big.NewInt(1), 18)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := l.Reserve(ctx, tt.in, tt.caps); !errors.Is(err, ErrInvalid) {
				t.Errorf("Reserve err = %v, want ErrInvalid", err)
			}
		})
	}
	for _, r := range []Refusal{
		{Tool: "t"},
		{Reason: "x", Amount: amt(-1)},
		{Reason: "x", Amount: ptr(money.New(big.NewInt(1_000_000_000_001), 18))},
		{Reason: "x", Amount: ptr(money.New(new(big.Int).Lsh(big.NewInt(1), 256), Decimals))},
	} {
		if err := l.Refuse(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Refuse(%+v) err = %v, want ErrInvalid", r, err)
		}
	}
	if n := len(events(t, l)); n != 0 {
		t.Errorf("invalid input wrote %d events", n)
	}
	// The largest uint256 is fine, and reads back.
	if _, err := l.Reserve(ctx, mod(func(in *Intent) { in.Amount = money.New(uint256Max, Decimals) }), Caps{}); err != nil {
		t.Errorf("Reserve(2^256-1): %v", err)
	}
	if evs := events(t, l); len(evs) != 1 || evs[0].Amount == nil || !sameAmount(*evs[0].Amount, money.New(uint256Max, Decimals)) {
		t.Errorf("events after Reserve(2^256-1) = %+v, want one reservation of 2^256-1", evs)
	}
	verify(t, l)
}

func ptr[T any](v T) *T { return &v }

func TestRefuse(t *testing.T) {
	l, c := newLedger(t)
	ctx := t.Context()
	r := Refusal{CallID: "c9", Session: "s1", API: "weather", Tool: "weather_get_forecast",
		URL: "https://api.example.com/x", Amount: amt(70000), Reason: "402 asks more than advertised (50000)"}
	if err := l.Refuse(ctx, r); err != nil {
		t.Fatal(err)
	}
	evs := events(t, l)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	want := Event{Seq: 1, Time: c.Now(), Kind: KindRefused, CallID: "c9", Session: "s1", API: "weather",
		Tool: "weather_get_forecast", URL: "https://api.example.com/x", Amount: amt(70000), Reason: r.Reason}
	if diff := cmp.Diff(want, evs[0], amountCmp, cmp.FilterPath(func(p cmp.Path) bool {
		n := p.Last().String()
		return n == ".Hash" || n == ".PrevHash"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("refused event (-want +got):\n%s", diff)
	}
	if got := totals(t, l, "s1", "weather"); got != [4]int64{} {
		t.Errorf("totals after a refusal = %v, want zeros", got)
	}
	if _, err := l.Spend(ctx, "c9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refusal made a spend: %v", err)
	}
	// A refused call may still be reserved.
	mustReserve(t, l, intent("c9", 1), Caps{})
	verify(t, l)
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	path := filepath.Join(t.TempDir(), "sub", "dir", "ledger.db")
	l, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{"settle", "unknown", "release", "reserved"} {
		id := fmt.Sprintf("call-%d", i)
		in := intent(id, int64(100*(i+1)))
		in.Session = fmt.Sprintf("s%d", i%2)
		mustReserve(t, l, in, Caps{})
		c.Add(time.Second)
		switch st {
		case "settle":
			err = l.Settle(ctx, id, "0xaa")
		case "unknown":
			err = l.MarkUnknown(ctx, id, "eof")
		case "release":
			err = l.Release(ctx, id, "no")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Refuse(ctx, Refusal{Reason: "no acceptable requirement", Tool: "t"}); err != nil {
		t.Fatal(err)
	}
	spends, _ := l.Spends(ctx)
	evs := events(t, l)
	tot := totals(t, l, "s0", "weather")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Spends(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Spends after Close: err = %v, want ErrClosed", err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", p, got, want)
		}
	}

	l2 := openLedger(t, path, Options{Now: c.Now})
	spends2, err := l2.Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(spends2) != 4 {
		t.Fatalf("%d spends after reopen, want 4", len(spends2))
	}
	if diff := cmp.Diff(spends, spends2, amountCmp); diff != "" {
		t.Errorf("spends changed across reopen (-before +after):\n%s", diff)
	}
	for i, want := range []Status{StatusSettled, StatusUnknown, StatusReleased, StatusReserved} {
		if spends2[i].Status != want || spends2[i].CallID != fmt.Sprintf("call-%d", i) {
			t.Errorf("spend %d = %s %s, want call-%d %s", i, spends2[i].CallID, spends2[i].Status, i, want)
		}
	}
	if diff := cmp.Diff(evs, events(t, l2), amountCmp); diff != "" {
		t.Errorf("events changed across reopen (-before +after):\n%s", diff)
	}
	// s0: call-0 (100, settled) + call-2 (300, released) = 100; all: 100+200+400.
	if got, want := totals(t, l2, "s0", "weather"), [4]int64{100, 700, 700, 700}; got != want || got != tot {
		t.Errorf("totals after reopen = %v, want %v (before: %v)", got, want, tot)
	}
	verify(t, l2)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		name, path, want string
		damaged          bool // errors.Is(err, ErrDamaged)
	}{
		{"not bbolt", garbage, "not a bbolt meta page: it is not a ledger file", true},
		{"other bbolt", other, "not a toll ledger", false},
		{"directory", dir, "is a directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path, Options{Timeout: time.Second})
			if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%s) err = %v, want one naming the path and saying %q", tt.path, err, tt.want)
			}
			if errors.Is(err, ErrDamaged) != tt.damaged {
				t.Errorf("Open(%s) err = %v: ErrDamaged is %v, want %v", tt.path, err, !tt.damaged, tt.damaged)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "x.db"), Options{Timeout: -time.Second}); err == nil {
		t.Error("Open with a negative timeout: no error")
	}
}

// TestOpenNoCreate: with NoCreate, Open never creates a file or a directory, refuses a
// path with no file with ErrNoLedger and an empty file with ErrDamaged, and opens an
// existing ledger to read it. Without NoCreate, an empty file is refused just the same:
// only a path with nothing at it becomes a new ledger.
func TestOpenNoCreate(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "typo", "x.db"), filepath.Join(dir, "x.db")} {
		_, err := Open(path, Options{NoCreate: true})
		if !errors.Is(err, ErrNoLedger) || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%s, NoCreate) err = %v, want ErrNoLedger naming the path", path, err)
		}
	}
	for _, opts := range []Options{{NoCreate: true}, {}} {
		_, err := Open(empty, opts)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "empty (0 bytes)") {
			t.Errorf("Open(empty file, %+v) err = %v, want ErrDamaged naming the path and saying it is empty", opts, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "empty.db" {
		t.Errorf("NoCreate left files behind: %v", entries)
	}
	if info, err := os.Stat(empty); err != nil || info.Size() != 0 {
		t.Errorf("Open wrote to an empty file: %v, %v", info, err)
	}

	l, _ := newLedger(t)
	mustReserve(t, l, intent("a", 1), Caps{})
	ro, err := Open(l.Path(), Options{NoCreate: true})
	if err != nil {
		t.Fatalf("Open(existing, NoCreate): %v", err)
	}
	spends, err := ro.Spends(t.Context())
	if err != nil || len(spends) != 1 || spends[0].CallID != "a" {
		t.Errorf("Spends through a NoCreate handle = %+v, %v; want the one reservation", spends, err)
	}
	if err := ro.Verify(t.Context()); err != nil {
		t.Errorf("Verify through a NoCreate handle: %v", err)
	}
}

func TestFileGone(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("a", 1), Caps{})
	if err := os.Remove(l.Path()); err != nil {
		t.Fatal(err)
	}
	_, err := l.Reserve(ctx, intent("b", 1), Caps{})
	if err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Reserve on a deleted ledger: err = %v, want one saying the file is gone", err)
	}
	if _, err := os.Stat(l.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the ledger file was recreated (stat: %v)", err)
	}
	// A new ledger at the same path is a different ledger: the old handle refuses it.
	openLedger(t, l.Path(), Options{})
	if _, err := l.Reserve(ctx, intent("b", 1), Caps{}); err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("Reserve on a replaced ledger: err = %v, want one saying it was replaced", err)
	}
}

func TestSpendJSON(t *testing.T) {
	l, _ := newLedger(t)
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	in := intent("call-1", 1)
	in.Amount = money.New(huge, Decimals)
	sp := mustReserve(t, l, in, Caps{})
	b, err := sp.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"amount":"123456789012345678901234567890"`) {
		t.Errorf("Spend JSON %s: amount is not a decimal string", b)
	}
	var back Spend
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sp, back, amountCmp); diff != "" {
		t.Errorf("Spend JSON round trip (-want +got):\n%s", diff)
	}
	if got, _ := l.Spend(t.Context(), "call-1"); !sameAmount(got.Amount, back.Amount) {
		t.Errorf("stored amount %v, want %v", got.Amount, back.Amount)
	}
}

// Every amount is recorded at Decimals: one given in other decimals is rescaled
// exactly, and one that 6 decimals cannot carry is refused with nothing written.
func TestAmountDecimals(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	in18 := func(atomic6 int64) money.Amount { // atomic6 units of 6 decimals, written in 18
		return money.New(new(big.Int).Mul(big.NewInt(atomic6), pow10(12)), 18)
	}
	cases := []struct {
		id    string
		given money.Amount
		want  int64 // atomic units at 6 decimals
	}{
		{"eighteen", in18(50_000), 50_000},
		{"two", money.New(big.NewInt(5), 2), 50_000},     // 0.05
		{"zero", money.New(big.NewInt(3), 0), 3_000_000}, // 3
	}
	var total int64
	for _, tc := range cases {
		in := intent(tc.id, 1)
		in.Amount = tc.given
		sp := mustReserve(t, l, in, Caps{})
		want := money.USDC(tc.want)
		if !sameAmount(sp.Amount, want) {
			t.Errorf("Reserve(%s, %v in %d decimals) amount = %v in %d decimals, want %v in %d",
				tc.id, tc.given, tc.given.Decimals(), sp.Amount, sp.Amount.Decimals(), want, Decimals)
		}
		if got, err := l.Spend(ctx, tc.id); err != nil || !sameAmount(got.Amount, want) {
			t.Errorf("Spend(%s) = %v (%d decimals), %v; want %v at %d", tc.id, got.Amount, got.Amount.Decimals(), err, want, Decimals)
		}
		evs := events(t, l)
		if e := evs[len(evs)-1]; e.Amount == nil || !sameAmount(*e.Amount, want) {
			t.Errorf("reserved event of %s has amount %v, want %v at %d decimals", tc.id, e.Amount, want, Decimals)
		}
		total += tc.want
	}
	if got := totals(t, l, "s1", "weather"); got != [4]int64{total, total, total, total} {
		t.Errorf("totals = %v, want %d each", got, total)
	}

	// A cap in 18 decimals: compared by value, recorded at 6 in the refused event.
	caps := Caps{PerCall: ptr(in18(100))}
	mustReserve(t, l, intent("at-cap", 100), caps)
	over := intent("over", 101)
	_, err := l.Reserve(ctx, over, caps)
	var ce *CapError
	if !errors.As(err, &ce) || ce.Cap != CapPerCall || ce.Limit.Cmp(money.USDC(100)) != 0 || !sameAmount(ce.Amount, money.USDC(101)) {
		t.Fatalf("Reserve over an 18-decimal cap: err = %v (%+v), want the per-call cap of 0.0001", err, ce)
	}
	evs := events(t, l)
	if e := evs[len(evs)-1]; e.Kind != KindRefused || e.Limit == nil || !sameAmount(*e.Limit, money.USDC(100)) || e.Used == nil || !sameAmount(*e.Used, money.USDC(0)) {
		t.Errorf("refused event = %+v, want limit 100 and used 0 at %d decimals", e, Decimals)
	}

	// A refusal's amount is recorded at 6 too.
	if err := l.Refuse(ctx, Refusal{CallID: "r", Amount: ptr(in18(70_000)), Reason: "too dear"}); err != nil {
		t.Fatal(err)
	}
	evs = events(t, l)
	if e := evs[len(evs)-1]; e.Amount == nil || !sameAmount(*e.Amount, money.USDC(70_000)) {
		t.Errorf("refusal event amount = %v, want 70000 at %d decimals", e.Amount, Decimals)
	}

	// Not exact at 6 decimals: refused, nothing written.
	n := len(evs)
	before := totals(t, l, "s1", "weather")
	in := intent("inexact", 1)
	in.Amount = money.New(new(big.Int).Add(in18(50_000).Atomic(), big.NewInt(1)), 18)
	if _, err := l.Reserve(ctx, in, Caps{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Reserve(%v in 18 decimals) err = %v, want ErrInvalid", in.Amount, err)
	}
	if _, err := l.Spend(ctx, "inexact"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an inexact amount made a spend: %v", err)
	}
	if got := len(events(t, l)); got != n {
		t.Errorf("an inexact amount wrote %d events", got-n)
	}
	if got := totals(t, l, "s1", "weather"); got != before {
		t.Errorf("an inexact amount changed totals: %v, want %v", got, before)
	}
	verify(t, l)
}

// TestOpenUninitialized: a bbolt file that never held a ledger (what a crash of an older
// toll could leave while creating one) becomes a ledger when Open may create one, and is
// ErrNoLedger for NoCreate; a bbolt file that has been written to and holds nothing is not
// empty but damaged, and is left alone.
func TestOpenUninitialized(t *testing.T) {
	dir := t.TempDir()
	fresh, emptied := filepath.Join(dir, "fresh.db"), filepath.Join(dir, "emptied.db")
	for _, path := range []string{fresh, emptied} {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if path == emptied {
			err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
			if err == nil {
				err = db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("x")) })
			}
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(fresh, Options{NoCreate: true}); !errors.Is(err, ErrNoLedger) {
		t.Errorf("Open(never initialized, NoCreate) = %v, want ErrNoLedger", err)
	}
	l := openLedger(t, fresh, Options{})
	mustReserve(t, l, intent("a", 1), Caps{})
	verify(t, l)

	before, err := os.ReadFile(emptied)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{NoCreate: true}, {}} {
		if _, err := Open(emptied, opts); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "holds nothing after 3 transactions") {
			t.Errorf("Open(emptied, %+v) = %v, want ErrDamaged saying it holds nothing after 3 transactions", opts, err)
		}
	}
	if after, err := os.ReadFile(emptied); err != nil || !bytes.Equal(after, before) {
		t.Errorf("Open changed a damaged file (%v)", err)
	}
}

// TestCreateAtomic: a new ledger is built beside its path and linked into place, and
// leaves nothing else behind.
func TestCreateAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	openLedger(t, path, Options{})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "ledger.db" {
		t.Errorf("the directory holds %v, want only ledger.db", entries)
	}
}

package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

// wantRefused checks that err is a *CapError with the given fields, that the
// last event is the matching refused event, that the refused call has no
// spend, and that the totals did not change.
func wantRefused(t *testing.T, l *Ledger, err error, in Intent, capName string, limit, used int64, before [4]int64) {
	t.Helper()
	var ce *CapError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCapExceeded) {
		t.Fatalf("Reserve(%s, %v): err = %v, want a *CapError", in.CallID, in.Amount, err)
	}
	want := &CapError{Cap: capName, Limit: money.USDC(limit), Used: money.USDC(used), Amount: in.Amount}
	switch capName {
	case CapPerAPI:
		want.API = in.API
	case CapPerTool:
		want.API = in.Tool
	}
	if diff := cmp.Diff(want, ce, amountCmp); diff != "" {
		t.Errorf("CapError (-want +got):\n%s", diff)
	}
	evs := events(t, l)
	last := evs[len(evs)-1]
	if last.Kind != KindRefused || last.CallID != in.CallID || last.Cap != capName ||
		last.Limit == nil || !sameAmount(*last.Limit, money.USDC(limit)) || last.Used == nil || !sameAmount(*last.Used, money.USDC(used)) ||
		last.Amount == nil || !sameAmount(*last.Amount, in.Amount) || last.Reason != err.Error() {
		t.Errorf("last event = %+v, want refused %s by %s (limit %d used %d)", last, in.CallID, capName, limit, used)
	}
	if _, err := l.Spend(t.Context(), in.CallID); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused call %s has a spend (err %v)", in.CallID, err)
	}
	if got := totals(t, l, in.Session, in.API); got != before {
		t.Errorf("totals after refusal = %v, want unchanged %v", got, before)
	}
}

func TestPerCallCap(t *testing.T) {
	l, _ := newLedger(t)
	caps := Caps{PerCall: amt(100)}
	in := intent("big", 101)
	_, err := l.Reserve(t.Context(), in, caps)
	wantRefused(t, l, err, in, CapPerCall, 100, 0, [4]int64{})
	// The message gives the amounts as decimal values.
	if got, want := err.Error(), "per-call cap exceeded: used 0 + asked 0.000101 > limit 0.0001"; got != want {
		t.Errorf("CapError = %q, want %q", got, want)
	}
	mustReserve(t, l, intent("exact", 100), caps)
	mustReserve(t, l, intent("again", 100), caps) // per call, not cumulative
	if got, want := totals(t, l, "s1", "weather"), [4]int64{200, 200, 200, 200}; got != want {
		t.Errorf("totals = %v, want %v", got, want)
	}
	verify(t, l)
}

func TestCumulativeCaps(t *testing.T) {
	tests := []struct {
		name  string
		caps  Caps
		cap   string
		other func(*Intent) // moves an intent out of this cap's scope; nil: none
	}{
		{"per-session", Caps{PerSession: amt(100)}, CapPerSession, func(in *Intent) { in.Session = "s2" }},
		{"per-api", Caps{PerAPI: map[string]money.Amount{"weather": money.USDC(100)}}, CapPerAPI, func(in *Intent) { in.API = "maps" }},
		{"per-tool", Caps{PerTool: map[string]money.Amount{"weather_get_forecast": money.USDC(100)}}, CapPerTool, func(in *Intent) { in.Tool = "weather_get_report" }},
		{"per-day", Caps{PerDay: amt(100)}, CapPerDay, nil},
		{"total", Caps{Total: amt(100)}, CapTotal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			l, _ := newLedger(t)
			mustReserve(t, l, intent("a", 60), tt.caps)
			if err := l.Settle(ctx, "a", "0x1"); err != nil {
				t.Fatal(err)
			}
			// limit+1 is refused; settled amounts count.
			in := intent("b", 41)
			_, err := l.Reserve(ctx, in, tt.caps)
			wantRefused(t, l, err, in, tt.cap, 100, 60, [4]int64{60, 60, 60, 60})

			// Exactly the limit is admitted.
			mustReserve(t, l, intent("c", 40), tt.caps)
			if err := l.MarkUnknown(ctx, "c", "eof"); err != nil {
				t.Fatal(err)
			}
			// Unknown amounts count.
			in = intent("d", 1)
			_, err = l.Reserve(ctx, in, tt.caps)
			wantRefused(t, l, err, in, tt.cap, 100, 100, [4]int64{100, 100, 100, 100})

			// Voided amounts no longer count; the refused call id can be reserved.
			if err := l.Void(ctx, "c", "nonce unused"); err != nil {
				t.Fatal(err)
			}
			mustReserve(t, l, intent("d", 40), tt.caps)
			mustReserve(t, l, intent("e", 1), Caps{}) // no caps: not checked
			in = intent("f", 1)
			_, err = l.Reserve(ctx, in, tt.caps)
			wantRefused(t, l, err, in, tt.cap, 100, 101, [4]int64{101, 101, 101, 101})

			// Released amounts no longer count.
			if err := l.Release(ctx, "e", "signing failed"); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx, "d", "signing failed"); err != nil {
				t.Fatal(err)
			}
			mustReserve(t, l, intent("f", 40), tt.caps)
			if got, want := totals(t, l, "s1", "weather"), [4]int64{100, 100, 100, 100}; got != want {
				t.Errorf("totals = %v, want %v", got, want)
			}
			if tt.other != nil {
				in := intent("g", 100)
				tt.other(&in)
				mustReserve(t, l, in, tt.caps)
			}
			verify(t, l)
		})
	}
}

func TestCapOrderAndZero(t *testing.T) {
	l, _ := newLedger(t)
	ctx := t.Context()
	mustReserve(t, l, intent("a", 10), Caps{})
	caps := Caps{PerCall: amt(50), PerSession: amt(10), PerAPI: map[string]money.Amount{"weather": money.USDC(10)}, PerDay: amt(10), Total: amt(10)}
	for _, tc := range []struct {
		amount int64
		cap    string
		caps   Caps
	}{
		{60, CapPerCall, caps},
		{5, CapPerSession, caps},
		{5, CapPerAPI, Caps{PerAPI: caps.PerAPI, PerDay: caps.PerDay, Total: caps.Total}},
		{5, CapPerDay, Caps{PerDay: caps.PerDay, Total: caps.Total}},
		{5, CapTotal, Caps{Total: caps.Total}},
		{1, CapTotal, Caps{Total: amt(0)}}, // a zero cap admits nothing
	} {
		_, err := l.Reserve(ctx, intent(fmt.Sprintf("x%d", tc.amount), tc.amount), tc.caps)
		var ce *CapError
		if !errors.As(err, &ce) || ce.Cap != tc.cap {
			t.Errorf("Reserve(%d) err = %v, want the %s cap", tc.amount, err, tc.cap)
		}
	}
}

func TestRollingDay(t *testing.T) {
	ctx := t.Context()
	l, c := newLedger(t)
	caps := Caps{PerDay: amt(100)}
	mustReserve(t, l, intent("a", 60), caps) // at t0

	c.Set(t0.Add(day - time.Nanosecond)) // a is still inside the window
	in := intent("b", 41)
	_, err := l.Reserve(ctx, in, caps)
	wantRefused(t, l, err, in, CapPerDay, 100, 60, [4]int64{60, 60, 60, 60})

	c.Set(t0.Add(day)) // a, reserved exactly 24 h ago, has left the window
	if got, want := totals(t, l, "s1", "weather"), [4]int64{60, 0, 60, 60}; got != want {
		t.Errorf("totals 24 h later = %v, want %v", got, want)
	}
	mustReserve(t, l, intent("b", 41), caps)
	mustReserve(t, l, intent("c", 59), caps) // exactly the limit
	in = intent("d", 1)
	_, err = l.Reserve(ctx, in, caps)
	wantRefused(t, l, err, in, CapPerDay, 100, 100, [4]int64{160, 100, 160, 160})

	// The clock goes back: a is inside the window again, and so are the
	// reservations that are now in the future.
	c.Set(t0.Add(time.Hour))
	if got, want := totals(t, l, "s1", "weather"), [4]int64{160, 160, 160, 160}; got != want {
		t.Errorf("totals with the clock back = %v, want %v", got, want)
	}
	// Forward two days: nothing in the window. Releasing a (outside the
	// window) changes the total, not the day.
	c.Set(t0.Add(2 * day))
	if err := l.Release(ctx, "a", "never sent"); err != nil {
		t.Fatal(err)
	}
	if got, want := totals(t, l, "s1", "weather"), [4]int64{100, 0, 100, 100}; got != want {
		t.Errorf("totals two days later = %v, want %v", got, want)
	}
	mustReserve(t, l, intent("e", 100), caps)
	c.Set(t0.Add(time.Hour))
	if got, want := totals(t, l, "s1", "weather"), [4]int64{200, 200, 200, 200}; got != want {
		t.Errorf("totals back at t0+1h = %v, want %v", got, want)
	}
	verify(t, l)
}

// TestRollingDayRandom checks the cached rolling-day sum against a sum over
// all spends, with a clock that jumps back and forth.
func TestRollingDayRandom(t *testing.T) {
	ctx := t.Context()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 42))
	t.Logf("seed %d", seed)
	l, c := newLedger(t)
	var ids []string
	for i := range 150 {
		switch r := rng.IntN(10); {
		case r < 5:
			c.Add(time.Duration(rng.Int64N(int64(10 * time.Hour))))
		case r < 6:
			c.Add(-time.Duration(rng.Int64N(int64(30 * time.Hour))))
		}
		switch r := rng.IntN(10); {
		case r < 6 || len(ids) == 0:
			id := fmt.Sprintf("call-%d", i)
			mustReserve(t, l, intent(id, 1+rng.Int64N(1000)), Caps{})
			ids = append(ids, id)
		case r < 8:
			_ = l.Release(ctx, ids[rng.IntN(len(ids))], "r") // may be a bad transition
		default:
			_ = l.Void(ctx, ids[rng.IntN(len(ids))], "v")
		}
		spends, err := l.Spends(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := money.USDC(0)
		edge := c.Now().Add(-day)
		for _, s := range spends {
			if s.Status.Counts() && s.ReservedAt.After(edge) {
				want = want.Add(s.Amount)
			}
		}
		tot, err := l.Totals(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if !sameAmount(tot.Day, want) {
			t.Fatalf("step %d (clock %v): Day = %v, want %v", i, c.Now(), tot.Day, want)
		}
	}
	verify(t, l)
}

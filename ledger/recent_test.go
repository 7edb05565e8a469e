package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

// TestRecent reserves calls in two sessions, settles, releases and refuses some, and reads
// back one session's latest calls: newest first, in their current state, bounded.
func TestRecent(t *testing.T) {
	l, clk := newLedger(t)
	ctx := t.Context()
	reserve := func(id, session string, amount int64) {
		in := intent(id, amount)
		in.Session = session
		mustReserve(t, l, in, Caps{})
		clk.Add(time.Minute)
	}
	reserve("a1", "s1", 100)
	reserve("b1", "s2", 200)
	reserve("a2", "s1", 300)
	reserve("a3", "s1", 400)
	if err := l.Settle(ctx, "a1", "0xabc"); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, "a2", "signing failed"); err != nil {
		t.Fatal(err)
	}
	refused := intent("a4", 500)
	if err := l.Refuse(ctx, Refusal{CallID: "a4", Session: "s1", Tool: refused.Tool, Amount: &refused.Amount, Reason: "network not allowed"}); err != nil {
		t.Fatal(err)
	}

	type row struct {
		ID     string
		Status Status
		Units  int64
		Tx     string
	}
	rows := func(spends []Spend) []row {
		var out []row
		for _, s := range spends {
			out = append(out, row{s.CallID, s.Status, units(t, s.Amount), s.TxHash})
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		filter SpendFilter
		limit  int
		want   []row
	}{
		{"one session, all", SpendFilter{Session: "s1"}, 10, []row{
			{"a3", StatusReserved, 400, ""}, {"a2", StatusReleased, 300, ""}, {"a1", StatusSettled, 100, "0xabc"},
		}},
		{"one session, bounded", SpendFilter{Session: "s1"}, 2, []row{
			{"a3", StatusReserved, 400, ""}, {"a2", StatusReleased, 300, ""},
		}},
		{"other session", SpendFilter{Session: "s2"}, 10, []row{{"b1", StatusReserved, 200, ""}}},
		{"session with no spend", SpendFilter{Session: "s3"}, 10, nil},
		{"every session", SpendFilter{}, 3, []row{
			{"a3", StatusReserved, 400, ""}, {"a2", StatusReleased, 300, ""}, {"b1", StatusReserved, 200, ""},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Recent(ctx, tt.filter, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, rows(got)); diff != "" {
				t.Errorf("Recent(%+v, %d) (-want +got):\n%s", tt.filter, tt.limit, diff)
			}
		})
	}
	for _, limit := range []int{0, -1, MaxRecent + 1} {
		if _, err := l.Recent(ctx, SpendFilter{}, limit); !errors.Is(err, ErrInvalid) {
			t.Errorf("Recent with limit %d: %v, want ErrInvalid", limit, err)
		}
	}
}

// TestWouldExceed checks caps as Reserve does, without writing: the chain and the totals
// are the same after it, and a Reserve of the same amount agrees with it.
func TestWouldExceed(t *testing.T) {
	l, _ := newLedger(t)
	ctx := t.Context()
	caps := Caps{PerCall: amt(1000), PerSession: amt(1500), PerTool: map[string]money.Amount{"weather_get_forecast": money.USDC(2500)}}
	mustReserve(t, l, intent("c1", 1000), caps)
	before, evBefore := totals(t, l, "s1", "weather"), len(events(t, l))

	for _, tt := range []struct {
		name    string
		check   Check
		wantCap string // "" when the amount fits
		used    int64
	}{
		{"fits the session", Check{Session: "s1", API: "weather", Tool: "weather_get_forecast", Amount: money.USDC(500)}, "", 0},
		{"over the session", Check{Session: "s1", API: "weather", Tool: "weather_get_forecast", Amount: money.USDC(501)}, CapPerSession, 1000},
		{"over the per-call cap", Check{Session: "s2", Tool: "other", Amount: money.USDC(1001)}, CapPerCall, 0},
		{"another session fits", Check{Session: "s2", API: "weather", Tool: "weather_get_forecast", Amount: money.USDC(1000)}, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			capErr, err := l.WouldExceed(ctx, tt.check, caps)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantCap == "" && capErr != nil:
				t.Fatalf("WouldExceed: %v, want nil", capErr)
			case tt.wantCap != "" && (capErr == nil || capErr.Cap != tt.wantCap || units(t, capErr.Used) != tt.used):
				t.Fatalf("WouldExceed: %v, want the %s cap with %d used", capErr, tt.wantCap, tt.used)
			}
		})
	}
	if got := totals(t, l, "s1", "weather"); got != before {
		t.Errorf("totals %v after WouldExceed, want %v", got, before)
	}
	if n := len(events(t, l)); n != evBefore {
		t.Errorf("%d events after WouldExceed, want %d", n, evBefore)
	}
	if _, err := l.WouldExceed(ctx, Check{Session: "s1", Amount: money.USDC(0)}, caps); !errors.Is(err, ErrInvalid) {
		t.Errorf("WouldExceed of zero: %v, want ErrInvalid", err)
	}
	// Reserve agrees: 501 more in session s1 is refused by the same cap.
	_, err := l.Reserve(ctx, intent("c2", 501), caps)
	var capErr *CapError
	if !errors.As(err, &capErr) || capErr.Cap != CapPerSession {
		t.Errorf("Reserve of 501 more: %v, want the per-session cap", err)
	}
}

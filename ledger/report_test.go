package ledger

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// summaryLedger writes, through the ledger's API, calls of every status and refusals
// on two days (t0 and t0 + 24 h), for three agents ("" is none) and two APIs, and an
// approval asked (which no total counts).
func summaryLedger(t *testing.T) *Ledger {
	t.Helper()
	l, clk := newLedger(t)
	ctx := t.Context()
	call := func(id, agent, api, tool string, amount int64, then ...func(string) error) {
		t.Helper()
		in := intent(id, amount)
		in.Agent, in.API, in.Tool = agent, api, tool
		mustReserve(t, l, in, Caps{})
		for _, f := range then {
			if err := f(id); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		clk.Add(time.Minute)
	}
	settle := func(id string) error { return l.Settle(ctx, id, "0x"+strings.Repeat("ab", 32)) }
	unknown := func(id string) error { return l.MarkUnknown(ctx, id, "timeout") }
	release := func(id string) error { return l.Release(ctx, id, "not sent") }
	void := func(id string) error { return l.Void(ctx, id, "never settled") }
	refuse := func(agent, api string, amount *int64) {
		t.Helper()
		r := Refusal{CallID: "r-" + api, Agent: agent, API: api, Tool: api + "_get", Reason: "over the per-call cap"}
		if amount != nil {
			r.Amount = amt(*amount)
		}
		if err := l.Refuse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	million := int64(1_000_000)

	call("a1", "alice", "weather", "weather_get", 100_000, settle)
	call("a2", "bob", "weather", "weather_get", 50_000, unknown)
	call("a3", "alice", "maps", "maps_route", 200_000, settle)
	refuse("bob", "maps", &million)
	if _, err := l.AskApproval(ctx, Approval{CallID: "ask-1", Agent: "alice", API: "maps", Tool: "maps_route", Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: *amt(5_000_000), PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Reasons: []string{"over the approval threshold"}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(24 * time.Hour)
	call("b1", "alice", "weather", "weather_get", 300_000)
	call("b2", "", "maps", "maps_geocode", 70_000, release)
	call("b3", "bob", "maps", "maps_route", 20_000, unknown, void)
	refuse("alice", "weather", nil)
	return l
}

// summaryText writes a summary as lines a reviewer can read: each group and its non-empty
// tallies (status count/amount).
func summaryText(s *Summary) string {
	var b strings.Builder
	line := func(name string, br Breakdown) {
		fmt.Fprintf(&b, "%s:", name)
		for _, x := range []struct {
			name string
			t    Tally
		}{{"settled", br.Settled}, {"unknown", br.Unknown}, {"reserved", br.Reserved}, {"released", br.Released}, {"voided", br.Voided}, {"refused", br.Refused}} {
			if x.t.Count > 0 {
				fmt.Fprintf(&b, " %s %d/%s", x.name, x.t.Count, x.t.Amount)
			}
		}
		b.WriteString("\n")
	}
	line("total", s.Total)
	for _, g := range []struct {
		name string
		gs   []Group
	}{{"api", s.APIs}, {"tool", s.Tools}, {"agent", s.Agents}, {"day", s.Days}} {
		for _, x := range g.gs {
			line(g.name+" "+x.Key, x.Breakdown)
		}
	}
	for _, d := range s.Daily {
		line("daily "+d.Day+" "+d.API, d.Breakdown)
	}
	return b.String()
}

func TestSummarize(t *testing.T) {
	l := summaryLedger(t)
	day2 := t0.Add(24 * time.Hour).Truncate(24 * time.Hour)
	cases := []struct {
		name string
		f    Filter
		want string
	}{{
		name: "everything",
		want: `total: settled 2/0.3 unknown 1/0.05 reserved 1/0.3 released 1/0.07 voided 1/0.02 refused 2/1
api maps: settled 1/0.2 released 1/0.07 voided 1/0.02 refused 1/1
api weather: settled 1/0.1 unknown 1/0.05 reserved 1/0.3 refused 1/0
tool maps_geocode: released 1/0.07
tool maps_get: refused 1/1
tool maps_route: settled 1/0.2 voided 1/0.02
tool weather_get: settled 1/0.1 unknown 1/0.05 reserved 1/0.3 refused 1/0
agent : released 1/0.07
agent alice: settled 2/0.3 reserved 1/0.3 refused 1/0
agent bob: unknown 1/0.05 voided 1/0.02 refused 1/1
day 2026-03-01: settled 2/0.3 unknown 1/0.05 refused 1/1
day 2026-03-02: reserved 1/0.3 released 1/0.07 voided 1/0.02 refused 1/0
daily 2026-03-01 maps: settled 1/0.2 refused 1/1
daily 2026-03-01 weather: settled 1/0.1 unknown 1/0.05
daily 2026-03-02 maps: released 1/0.07 voided 1/0.02
daily 2026-03-02 weather: reserved 1/0.3 refused 1/0
`,
	}, {
		name: "one agent from the second day",
		f:    Filter{Agent: "alice", Since: day2},
		want: `total: reserved 1/0.3 refused 1/0
api weather: reserved 1/0.3 refused 1/0
tool weather_get: reserved 1/0.3 refused 1/0
agent alice: reserved 1/0.3 refused 1/0
day 2026-03-02: reserved 1/0.3 refused 1/0
daily 2026-03-02 weather: reserved 1/0.3 refused 1/0
`,
	}, {
		name: "refusals only",
		f:    Filter{Status: "refused", API: "maps"},
		want: `total: refused 1/1
api maps: refused 1/1
tool maps_get: refused 1/1
agent bob: refused 1/1
day 2026-03-01: refused 1/1
daily 2026-03-01 maps: refused 1/1
`,
	}, {
		name: "settled, before the second day",
		f:    Filter{Status: "settled", Until: day2},
		want: `total: settled 2/0.3
api maps: settled 1/0.2
api weather: settled 1/0.1
tool maps_route: settled 1/0.2
tool weather_get: settled 1/0.1
agent alice: settled 2/0.3
day 2026-03-01: settled 2/0.3
daily 2026-03-01 maps: settled 1/0.2
daily 2026-03-01 weather: settled 1/0.1
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := l.Summarize(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summaryText(s)); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if s.Since != tc.f.Since || s.Until != tc.f.Until {
				t.Errorf("period %v..%v, want %v..%v", s.Since, s.Until, tc.f.Since, tc.f.Until)
			}
		})
	}
}

func TestSummarizeHead(t *testing.T) {
	l := summaryLedger(t)
	s, err := l.Summarize(t.Context(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := l.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Head != uint64(len(evs)) {
		t.Errorf("head %d, want %d (the events)", s.Head, len(evs))
	}
	// The first reservation, and the last refusal, written after six calls a minute apart
	// and a day.
	if want := t0.Add(24*time.Hour + 6*time.Minute); !s.First.Equal(t0) || !s.Last.Equal(want) {
		t.Errorf("first %v, last %v; want %v, %v", s.First, s.Last, t0, want)
	}
}

func TestSummarizeRefuses(t *testing.T) {
	l := summaryLedger(t)
	for _, f := range []Filter{
		{Status: "approved"},
		{Status: "bogus"},
		{Since: t0, Until: t0},
	} {
		if _, err := l.Summarize(t.Context(), f); !errors.Is(err, ErrInvalid) {
			t.Errorf("Summarize(%+v): %v, want ErrInvalid", f, err)
		}
	}
}

// TestSummarizeTampered: an amount edited in the file stops the summary, as it stops an
// export, rather than adding up to a wrong total.
func TestSummarizeTampered(t *testing.T) {
	l := summaryLedger(t)
	l.Close()
	raw(t, l.Path(), func(tx *bolt.Tx) error {
		return editEvent(tx, 1, func(e *Event) { e.Amount = amt(100) })
	})
	l = openLedger(t, l.Path(), Options{NoCreate: true})
	s, err := l.Summarize(t.Context(), Filter{})
	var te *TamperError
	if !errors.As(err, &te) || te.Seq != 1 {
		t.Fatalf("Summarize of a ledger with event 1 edited: %+v, %v; want a *TamperError at event 1", s, err)
	}
}

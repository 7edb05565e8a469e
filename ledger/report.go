package ledger

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// Tally is how many and how much.
type Tally struct {
	Count  int64        `json:"count"`
	Amount money.Amount `json:"amount"` // at Decimals; a refusal that named no amount adds none
}

// Breakdown is a group of calls by what became of them: each reserved call counts once,
// in the status it has at the summary's head, and each refusal (nothing reserved, nothing
// signed) apart.
type Breakdown struct {
	Settled  Tally `json:"settled"`
	Unknown  Tally `json:"unknown"`
	Reserved Tally `json:"reserved"`
	Released Tally `json:"released"`
	Voided   Tally `json:"voided"`
	Refused  Tally `json:"refused"`
}

// Group is the breakdown of one API, tool, agent or day.
type Group struct {
	Key string `json:"key"` // the API, tool or agent ("" for calls made for no agent), or the day (2006-01-02, UTC)
	Breakdown
}

// DayAPI is the breakdown of one API on one day: a point of the spend over time.
type DayAPI struct {
	Day string `json:"day"` // 2006-01-02, UTC
	API string `json:"api"`
	Breakdown
}

// Summary is what the calls and refusals of a period add up to, by API, tool, agent and
// day. A call belongs to the period, the agent, the day... of its reservation (its
// ReservedAt, as Filter matches spends), and counts in the status it has at Head; a
// refusal belongs to its own time. Days are UTC dates.
type Summary struct {
	Since time.Time `json:"since,omitzero"` // the period asked for (Filter.Since, Until); zero: unbounded
	Until time.Time `json:"until,omitzero"`
	Head  uint64    `json:"head"` // the events read: 1 to Head, the head when Summarize started

	// Decimals are the decimals of every amount: the ledger's (Decimals).
	Decimals int `json:"decimals"`

	// First and Last are the earliest and latest reservation or refusal counted; zero
	// when none was.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`

	Total Breakdown `json:"total"`

	// The groups, each in order of its key (days in date order), with a group only for
	// a key that has a call or a refusal.
	APIs   []Group `json:"apis"`
	Tools  []Group `json:"tools"`
	Agents []Group `json:"agents"`
	Days   []Group `json:"days"`

	// Daily is each API's breakdown on each day it has one, by day then API.
	Daily []DayAPI `json:"daily"`
}

// Summarize adds up the calls and refusals that f matches, streaming: it reads the events as
// ScanSpends does (each checked against the chain; toll serve keeps writing meanwhile),
// and its memory grows with the number of APIs, tools, agents and days, and of calls still
// open, not with the ledger. f.Status selects one spend status or "refused".
func (l *Ledger) Summarize(ctx context.Context, f Filter) (*Summary, error) {
	if err := f.validateReport(); err != nil {
		return nil, fmt.Errorf("summarize: %w", err)
	}
	agg := newReportAgg()
	rows := newSpendRows(func(r *spendRow) error {
		s := &r.Spend
		if f.matchesSpend(s) {
			agg.add(s.ReservedAt, s.API, s.Tool, s.Agent, s.Status, &s.Amount)
		}
		return nil
	})
	h, err := l.scan(ctx, func(e *Event) error {
		if e.Kind != KindRefused {
			return rows.add(e)
		}
		if f.matchesRefusal(e) {
			agg.add(e.Time, e.API, e.Tool, e.Agent, "", e.Amount)
		}
		return nil
	})
	if err == nil {
		err = rows.end()
	}
	if err != nil {
		return nil, fmt.Errorf("summarize: %w", err)
	}
	r := agg.summary()
	r.Since, r.Until, r.Head, r.Decimals = f.Since, f.Until, h.seq, Decimals
	return r, nil
}

// validateReport is validate for Summarize: a status is a spend's, or refused.
func (f *Filter) validateReport() error {
	g := *f
	switch Status(g.Status) {
	case "", StatusReserved, StatusUnknown, StatusSettled, StatusReleased, StatusVoided:
	case Status(KindRefused):
		g.Status = ""
	default:
		return invalid("status %q is not reserved, unknown, settled, released, voided or refused", clip(f.Status))
	}
	return g.validate(false)
}

// matchesRefusal says whether a refused event is in a summary of f.
func (f *Filter) matchesRefusal(e *Event) bool {
	return (f.Status == "" || f.Status == string(KindRefused)) && f.inPeriod(e.Time) &&
		f.matchesIntent(e.Agent, e.Session, e.API, e.Tool, e.Network)
}

// reportAgg adds up a summary. Days are keyed by their number since the Unix epoch, so that
// adding a call formats no date, and sums are added in place.
type reportAgg struct {
	first, last         time.Time
	total               sums
	apis, tools, agents map[string]*sums
	days                map[int64]*sums
	daily               map[dayAPI]*sums
}

type dayAPI struct {
	day int64
	api string
}

// sums is a Breakdown being added up: a count and a sum in atomic units at Decimals for
// each status (in Status order: settled, unknown, reserved, released, voided) and refused.
type sums [6]struct {
	n   int64
	sum big.Int
}

// refusedAt is the index of refusals in sums.
const refusedAt = 5

func statusAt(s Status) int {
	return slices.Index([]Status{StatusSettled, StatusUnknown, StatusReserved, StatusReleased, StatusVoided}, s)
}

func (s *sums) breakdown() Breakdown {
	var b Breakdown
	for i, t := range []*Tally{&b.Settled, &b.Unknown, &b.Reserved, &b.Released, &b.Voided, &b.Refused} {
		*t = Tally{Count: s[i].n, Amount: money.New(&s[i].sum, Decimals)}
	}
	return b
}

func newReportAgg() *reportAgg {
	return &reportAgg{
		apis: map[string]*sums{}, tools: map[string]*sums{}, agents: map[string]*sums{},
		days: map[int64]*sums{}, daily: map[dayAPI]*sums{},
	}
}

// add counts a call in status s, or a refusal when s is "".
func (g *reportAgg) add(t time.Time, api, tool, agent string, s Status, a *money.Amount) {
	if g.first.IsZero() || t.Before(g.first) {
		g.first = t
	}
	if t.After(g.last) {
		g.last = t
	}
	i := refusedAt
	if s != "" {
		i = statusAt(s)
	}
	var x *big.Int
	if a != nil {
		x = a.Atomic() // at Decimals, as every amount read from an event
	}
	day := floorDiv(t.Unix(), 86400)
	for _, b := range []*sums{
		&g.total, group(g.apis, api), group(g.tools, tool), group(g.agents, agent),
		group(g.days, day), group(g.daily, dayAPI{day, api}),
	} {
		b[i].n++
		if x != nil {
			b[i].sum.Add(&b[i].sum, x)
		}
	}
}

func group[K comparable](m map[K]*sums, k K) *sums {
	b := m[k]
	if b == nil {
		b = &sums{}
		m[k] = b
	}
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func dayString(day int64) string { return time.Unix(day*86400, 0).UTC().Format(time.DateOnly) }

func (g *reportAgg) summary() *Summary {
	r := &Summary{
		First: g.first.UTC(), Last: g.last.UTC(), Total: g.total.breakdown(),
		APIs:   groups(g.apis, cmp.Compare[string], func(k string) string { return k }),
		Tools:  groups(g.tools, cmp.Compare[string], func(k string) string { return k }),
		Agents: groups(g.agents, cmp.Compare[string], func(k string) string { return k }),
		Days:   groups(g.days, cmp.Compare[int64], dayString),
		Daily:  []DayAPI{},
	}
	keys := make([]dayAPI, 0, len(g.daily))
	for k := range g.daily {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dayAPI) int { return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.api, b.api)) })
	for _, k := range keys {
		r.Daily = append(r.Daily, DayAPI{Day: dayString(k.day), API: k.api, Breakdown: g.daily[k].breakdown()})
	}
	return r
}

// groups lists m in the order of its keys, each named by name.
func groups[K comparable](m map[K]*sums, order func(a, b K) int, name func(K) string) []Group {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, order)
	out := make([]Group, 0, len(keys))
	for _, k := range keys {
		out = append(out, Group{Key: name(k), Breakdown: m[k].breakdown()})
	}
	return out
}

package ledger

import (
	"time"
)

// Filter selects the spends (ScanSpends) or the events (ScanEvents) a reader returns.
// Every set field must match; the zero value matches everything.
type Filter struct {
	// Since and Until bound the time: a spend's ReservedAt, an event's Time, with
	// Since <= t < Until. A zero time is no bound.
	Since, Until time.Time

	// Agent, Session, API, Tool and Network match those fields of the intent exactly
	// ("" matches any). An event that has no intent of its own (settled, unknown,
	// released, voided) matches as its call's reserved event does.
	Agent, Session, API, Tool, Network string

	// Status matches a spend's current status, or an event's kind (reserved, settled,
	// unknown, released, voided, refused, approval-asked, approved, denied). "" matches
	// any.
	Status string
}

func (f *Filter) validate(events bool) error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return invalid("the period is empty: since %s is not before until %s",
			f.Since.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339))
	}
	if f.Status == "" {
		return nil
	}
	if events {
		if !validKind(Kind(f.Status)) {
			return invalid("status %q is not an event kind: reserved, settled, unknown, released, voided, refused, approval-asked, approved or denied", clip(f.Status))
		}
		return nil
	}
	switch Status(f.Status) {
	case StatusReserved, StatusUnknown, StatusSettled, StatusReleased, StatusVoided:
		return nil
	}
	return invalid("status %q is not a spend status: reserved, unknown, settled, released or voided", clip(f.Status))
}

func (f *Filter) inPeriod(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// matchesIntent checks the fields of an intent.
func (f *Filter) matchesIntent(agent, session, api, tool, network string) bool {
	return (f.Agent == "" || agent == f.Agent) && (f.Session == "" || session == f.Session) &&
		(f.API == "" || api == f.API) && (f.Tool == "" || tool == f.Tool) &&
		(f.Network == "" || network == f.Network)
}

func (f *Filter) matchesSpend(s *Spend) bool {
	return f.inPeriod(s.ReservedAt) && (f.Status == "" || string(s.Status) == f.Status) &&
		f.matchesIntent(s.Agent, s.Session, s.API, s.Tool, s.Network)
}

// eventCalls matches events against a Filter. It remembers, for each call still open
// (reserved or unknown), whether its reservation matched the intent fields, so that the
// call's later events match as it did; it forgets a call once it is final.
type eventCalls struct {
	f    Filter
	open map[string]bool
}

func newEventCalls(f Filter) *eventCalls {
	return &eventCalls{f: f, open: map[string]bool{}}
}

func (c *eventCalls) matches(e *Event) bool {
	var fields bool
	switch e.Kind {
	case KindSettled, KindUnknown, KindReleased, KindVoided:
		fields = c.open[e.CallID]
		if e.Kind != KindUnknown {
			delete(c.open, e.CallID)
		}
	default:
		fields = c.f.matchesIntent(e.Agent, e.Session, e.API, e.Tool, e.Network)
		if e.Kind == KindReserved {
			c.open[e.CallID] = fields
		}
	}
	return fields && c.f.inPeriod(e.Time) && (c.f.Status == "" || string(e.Kind) == c.f.Status)
}

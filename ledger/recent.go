package ledger

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/tollhq/toll/tools/money"
)

// MaxRecent is the most spends one Recent call returns.
const MaxRecent = 500

// SpendFilter says whose spends Recent returns. Every set field must match; the zero
// value matches every spend.
type SpendFilter struct {
	Session string // the Intent.Session; "" matches every session
	Agent   string // the Intent.Agent; "" matches every agent
}

func (f SpendFilter) matches(e *Event) bool {
	return (f.Session == "" || e.Session == f.Session) && (f.Agent == "" || e.Agent == f.Agent)
}

// Recent returns the current state of the latest reserved calls that match f, newest
// reservation first, at most limit of them (1 to MaxRecent), as the events up to the head
// at its start give it. It walks the event chain back from that head, in short read
// transactions (see stream.go) of 2×limit events, then twice as many each time up to
// readBatch, and stops once it has limit
// calls, so a recent spend costs little to find; a filter that matches no recent call
// reads the whole chain, holding the lock for one batch at a time. Each event is checked
// against its own hash and linked to the one after it.
func (l *Ledger) Recent(ctx context.Context, f SpendFilter, limit int) ([]Spend, error) {
	if limit < 1 || limit > MaxRecent {
		return nil, fmt.Errorf("recent spends: %w", invalid("limit %d is not between 1 and %d", limit, MaxRecent))
	}
	h, err := l.head(ctx)
	if err != nil {
		return nil, fmt.Errorf("recent spends: %w", err)
	}
	back := recentWalk{f: f, limit: limit, later: hex.EncodeToString(h.hash[:]), after: map[string][]*Event{}}
	var buf []rawEvent
	size := uint64(2 * limit) // a paid call is two events or three: start there, then double
	for to := h.seq; to > 0 && len(back.out) < limit; to -= uint64(len(buf)) {
		from := to - min(to, size) + 1
		size = min(2*size, readBatch)
		if buf, err = l.readRaw(ctx, from, to, buf); err != nil {
			return nil, fmt.Errorf("recent spends: %w", err)
		}
		for i := len(buf) - 1; i >= 0 && len(back.out) < limit; i-- {
			if err := back.add(buf[i]); err != nil {
				return nil, fmt.Errorf("recent spends: %w", err)
			}
		}
	}
	return back.out, nil
}

// recentWalk replays events backwards: it keeps the later events of each call until it
// reaches the call's reservation, then applies them in order. It holds only the calls
// whose reservation it has not reached yet: those open across the part it walked.
type recentWalk struct {
	f     SpendFilter
	limit int
	later string              // the hash of the event after the current one (the head's, first)
	after map[string][]*Event // by call, its later events, latest first
	out   []Spend
}

func (w *recentWalk) add(r rawEvent) error {
	e, err := decodeRecord(r.v)
	if err != nil {
		return tampered(r.seq, "%v", err)
	}
	if e.Seq != r.seq {
		return tampered(r.seq, "event has sequence number %d", e.Seq)
	}
	if e.Hash != w.later {
		return tampered(r.seq, "its hash does not match the next event's previous hash, or the head")
	}
	w.later = e.PrevHash
	switch e.Kind {
	case KindSettled, KindUnknown, KindReleased, KindVoided:
		w.after[e.CallID] = append(w.after[e.CallID], &e)
		return nil
	case KindReserved:
	default:
		return nil
	}
	later := w.after[e.CallID]
	delete(w.after, e.CallID)
	if !w.f.matches(&e) || e.Amount == nil {
		return nil
	}
	sp := reservedSpend(&e)
	for i := len(later) - 1; i >= 0; i-- {
		if err := apply(&sp, later[i]); err != nil {
			return tampered(later[i].Seq, "call %q: %v", clip(e.CallID), err)
		}
	}
	w.out = append(w.out, sp)
	return nil
}

// Check is what a reservation would be checked with: the amount asked and the names
// the caps count by. It is Intent without what only a signed payment has.
type Check struct {
	Agent   string
	Session string
	API     string
	Tool    string
	Amount  money.Amount // > 0
}

// WouldExceed reports the first cap that reserving c.Amount now would exceed (as
// Reserve checks them, in one read transaction), or nil when Reserve would admit it.
// It writes nothing: a quote asks it before anything is signed or reserved. Another
// reservation may change the answer before a Reserve.
func (l *Ledger) WouldExceed(ctx context.Context, c Check, caps Caps) (*CapError, error) {
	if c.Amount.Sign() <= 0 {
		return nil, fmt.Errorf("check caps: %w", invalid("amount %s is not positive", c.Amount))
	}
	amount, err := normalize(c.Amount)
	if err != nil {
		return nil, fmt.Errorf("check caps: %w", err)
	}
	if err := caps.validate(); err != nil {
		return nil, fmt.Errorf("check caps: %w", err)
	}
	in := Intent{Agent: c.Agent, Session: c.Session, API: c.API, Tool: c.Tool, Amount: amount}
	var capErr *CapError
	err = l.view(ctx, func(b buckets) error {
		var err error
		capErr, err = checkCaps(b, &in, &caps, l.now().UTC(), false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("check caps: %w", err)
	}
	return capErr, nil
}

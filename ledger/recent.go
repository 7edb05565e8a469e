package ledger

import (
	"context"
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
// reservation first, at most limit of them (1 to MaxRecent). It walks the event chain
// back from its head and stops once it has limit calls, so a recent spend costs little
// to find; a filter that matches no recent call reads the whole chain.
func (l *Ledger) Recent(ctx context.Context, f SpendFilter, limit int) ([]Spend, error) {
	if limit < 1 || limit > MaxRecent {
		return nil, fmt.Errorf("recent spends: %w", invalid("limit %d is not between 1 and %d", limit, MaxRecent))
	}
	var out []Spend
	err := l.view(ctx, func(b buckets) error {
		out = nil
		c := b.events.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			if len(k) != 8 {
				return tampered(0, "event key %x is damaged", k)
			}
			e, err := decodeRecord(v)
			if err != nil {
				return tampered(be64(k), "%v", err)
			}
			if e.Kind != KindReserved || !f.matches(&e) {
				continue
			}
			rec, err := b.call(e.CallID)
			if err != nil {
				return err
			}
			if rec == nil {
				return tampered(e.Seq, "call %q was reserved but has no record", clip(e.CallID))
			}
			out = append(out, rec.Spend)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recent spends: %w", err)
	}
	return out, nil
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

package ledger

// The approval queue. Bucket "approvals": call id → JSON approvalRecord, one per
// call that waits (or waited) in the queue for a person's decision (toll approve).
// It is not derived from the events, and Verify does not read it: the events
// (approval-asked, approved, denied) are the record; the queue is how two
// processes meet. A write that finds the bucket missing (a ledger made before the
// queue existed) creates it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tollhq/toll/tools/money"
)

var bucketApprovals = []byte("approvals")

// approvalKeep is how long a closed queue entry stays after it expired, so that a late
// toll approve is told what became of it; older entries are dropped by AskApproval.
const approvalKeep = 24 * time.Hour

var (
	// ErrApprovalClosed is returned by DecideApproval when the approval was already
	// decided (by a person, or by toll when the call ended or timed out) or has expired:
	// the decision is not recorded.
	ErrApprovalClosed = errors.New("approval no longer pending")
	// ErrApprovalChanged is returned by DecideApproval when the call asked again, for
	// other terms, since the decision's Seq: the decision is not recorded.
	ErrApprovalChanged = errors.New("approval asked again for other terms")
)

// ApprovalState is where an approval stands.
type ApprovalState string

// Approval states.
const (
	ApprovalPending  ApprovalState = "pending"
	ApprovalApproved ApprovalState = "approved"
	ApprovalDenied   ApprovalState = "denied"
)

// Approval is a payment that needs a person's yes: its terms, why it needs it, and
// what was decided. AskApproval records it; Queued ones wait in the queue.
type Approval struct {
	CallID  string       `json:"callId"` // required
	Agent   string       `json:"agent,omitempty"`
	Session string       `json:"session,omitempty"`
	API     string       `json:"api,omitempty"`
	Tool    string       `json:"tool,omitempty"`
	URL     string       `json:"url,omitempty"`
	Network string       `json:"network"`
	Asset   string       `json:"asset"`
	Amount  money.Amount `json:"amount"` // required, > 0
	PayTo   string       `json:"payTo"`
	Reasons []string     `json:"reasons"` // why it needs approval, for people; at least one

	// What had been spent when it was asked, and what remained under the caps (nil: no
	// cap applies), for the person deciding.
	SpentSession money.Amount  `json:"spentSession"`
	SpentDay     money.Amount  `json:"spentDay"`
	Remaining    *money.Amount `json:"remaining,omitempty"`
	RemainingCap string        `json:"remainingCap,omitempty"` // the cap Remaining is under

	// Queued puts it in the queue, where toll approve finds it until Expires.
	Queued  bool      `json:"queued"`
	Expires time.Time `json:"expires"`

	// Set by the ledger.
	Seq       uint64        `json:"seq"` // the approval-asked event
	AskedAt   time.Time     `json:"askedAt"`
	State     ApprovalState `json:"state"`
	By        string        `json:"by,omitempty"`     // who decided
	Reason    string        `json:"reason,omitempty"` // why it was denied, when said
	DecidedAt time.Time     `json:"decidedAt,omitzero"`
}

// Open says whether a person can still decide a: pending and not expired at now.
func (a *Approval) Open(now time.Time) bool {
	return a.State == ApprovalPending && now.Before(a.Expires)
}

// Decision is a decision on an approval.
type Decision struct {
	CallID   string
	Approved bool
	By       string // who decided: "elicitation", "os-user:NAME", "toll"; required
	Reason   string // why, when denied: "declined", "timed out"...
	// Person says the decision comes from toll approve: the call must wait in the queue,
	// pending and not expired. Otherwise (the server's own record of an answer or of a
	// timeout) a queue entry, when there is one, must still be pending.
	Person bool
	// Seq, when not zero, is the approval-asked event the decision answers; a call that
	// asked again since is ErrApprovalChanged.
	Seq uint64
	// Terms are the terms decided on, written into the event when the call has no queue
	// entry (which has them); nil writes none.
	Terms *Approval
}

func (a *Approval) validate() error {
	if a.CallID == "" {
		return invalid("approval without a call id")
	}
	if a.Amount.Sign() <= 0 {
		return invalid("approval of call %q: amount %s is not positive", clip(a.CallID), a.Amount)
	}
	amt, err := normalize(a.Amount)
	if err != nil {
		return fmt.Errorf("approval of call %q: %w", clip(a.CallID), err)
	}
	a.Amount = amt
	if len(a.Reasons) == 0 {
		return invalid("approval of call %q without a reason", clip(a.CallID))
	}
	return checkText([]textField{
		{"call id", a.CallID, maxShort}, {"agent", a.Agent, maxShort}, {"session", a.Session, maxShort},
		{"api", a.API, maxShort}, {"tool", a.Tool, maxShort}, {"url", a.URL, maxLong},
		{"network", a.Network, maxShort}, {"asset", a.Asset, maxShort}, {"payTo", a.PayTo, maxShort},
		{"reasons", strings.Join(a.Reasons, "; "), maxLong},
	})
}

// event is the event that records a's terms as kind.
func (a *Approval) event(kind Kind) Event {
	amount := a.Amount
	return Event{
		Kind: kind, CallID: a.CallID, Agent: a.Agent, Session: a.Session, API: a.API, Tool: a.Tool,
		URL: a.URL, Network: a.Network, Asset: a.Asset, Amount: &amount, PayTo: a.PayTo,
	}
}

// AskApproval records that a call asks a person's approval (an approval-asked event
// with its terms and reasons) and, when a.Queued, puts it in the queue, replacing what
// the queue held for that call (a call asks again when its terms changed). It returns
// a as recorded.
func (l *Ledger) AskApproval(ctx context.Context, a Approval) (Approval, error) {
	if err := a.validate(); err != nil {
		return Approval{}, fmt.Errorf("ask approval: %w", err)
	}
	err := l.update(ctx, func(b buckets) error {
		now := l.now().UTC()
		e := a.event(KindApprovalAsked)
		e.Time, e.Reason = now, strings.Join(a.Reasons, "; ")
		if err := b.appendEvent(&e); err != nil {
			return err
		}
		a.Seq, a.AskedAt, a.State = e.Seq, now, ApprovalPending
		if !a.Queued {
			return nil
		}
		q, err := b.tx.createBucket(bucketApprovals)
		if err != nil {
			return err
		}
		if err := pruneApprovals(q, now); err != nil {
			return err
		}
		return putApproval(q, &a)
	})
	if err != nil {
		return Approval{}, fmt.Errorf("ask approval for %q: %w", clip(a.CallID), err)
	}
	return a, nil
}

// QueueApproval puts a, already recorded by AskApproval (a.Seq), in the queue, where
// toll approve finds it until a.Expires, replacing what the queue held for that call.
func (l *Ledger) QueueApproval(ctx context.Context, a Approval) (Approval, error) {
	if err := a.validate(); err != nil {
		return Approval{}, fmt.Errorf("queue approval: %w", err)
	}
	if a.Seq == 0 {
		return Approval{}, fmt.Errorf("queue approval: %w", invalid("approval of call %q was not asked (no event)", clip(a.CallID)))
	}
	a.Queued, a.State = true, ApprovalPending
	err := l.update(ctx, func(b buckets) error {
		q, err := b.tx.createBucket(bucketApprovals)
		if err != nil {
			return err
		}
		if err := pruneApprovals(q, l.now().UTC()); err != nil {
			return err
		}
		return putApproval(q, &a)
	})
	if err != nil {
		return Approval{}, fmt.Errorf("queue approval for %q: %w", clip(a.CallID), err)
	}
	return a, nil
}

// DecideApproval records a decision (an approved or denied event, with By and Reason)
// and closes the call's queue entry. See Decision for what must still be pending; when
// it is not, nothing is written and the error (ErrApprovalClosed, ErrApprovalChanged,
// ErrNotFound) comes with the approval as the queue holds it.
func (l *Ledger) DecideApproval(ctx context.Context, d Decision) (Approval, error) {
	if d.CallID == "" || d.By == "" {
		return Approval{}, fmt.Errorf("decide approval: %w", invalid("a decision needs a call id and who decided"))
	}
	if err := checkText([]textField{{"call id", d.CallID, maxShort}, {"by", d.By, maxShort}, {"reason", d.Reason, maxLong}}); err != nil {
		return Approval{}, fmt.Errorf("decide approval: %w", err)
	}
	var out Approval
	err := l.update(ctx, func(b buckets) error {
		now := l.now().UTC()
		q := b.tx.bucket(bucketApprovals)
		rec, err := getApproval(q, d.CallID)
		if err != nil {
			return err
		}
		if err := d.admits(rec, now); err != nil {
			if rec != nil {
				out = *rec
			}
			return err
		}
		e := Event{CallID: d.CallID}
		switch {
		case rec != nil:
			e = rec.event("")
		case d.Terms != nil:
			t := *d.Terms
			t.CallID = d.CallID
			e = t.event("")
		}
		e.Kind, e.Time, e.By, e.Reason = KindDenied, now, d.By, d.Reason
		state := ApprovalDenied
		if d.Approved {
			e.Kind, state = KindApproved, ApprovalApproved
		}
		if err := b.appendEvent(&e); err != nil {
			return err
		}
		if rec == nil {
			out = Approval{CallID: d.CallID, State: state, By: d.By, Reason: d.Reason, DecidedAt: now}
			return nil
		}
		rec.State, rec.By, rec.Reason, rec.DecidedAt = state, d.By, d.Reason, now
		out = *rec
		return putApproval(q, rec)
	})
	if err != nil {
		return out, fmt.Errorf("decide approval for %q: %w", clip(d.CallID), err)
	}
	return out, nil
}

// admits checks that d may be recorded on rec, the call's queue entry (nil: none).
func (d *Decision) admits(rec *Approval, now time.Time) error {
	switch {
	case rec == nil && d.Person:
		return fmt.Errorf("%w: no call waits for approval with id %q", ErrNotFound, clip(d.CallID))
	case rec == nil:
		return nil
	case rec.State != ApprovalPending:
		what := string(rec.State) + " by " + rec.By
		if rec.Reason != "" {
			what += " (" + rec.Reason + ")"
		}
		return fmt.Errorf("%w: it was already %s at %s", ErrApprovalClosed, what, rec.DecidedAt.Format(time.RFC3339))
	case d.Person && !now.Before(rec.Expires):
		return fmt.Errorf("%w: it expired at %s, and the call stopped waiting", ErrApprovalClosed, rec.Expires.Format(time.RFC3339))
	case d.Seq != 0 && d.Seq != rec.Seq:
		return fmt.Errorf("%w: the call asked again (event %d) after the one decided on (event %d); look at it again", ErrApprovalChanged, rec.Seq, d.Seq)
	}
	return nil
}

// Approvals returns the queue, in the order the calls asked: pending ones and those
// closed in the last day.
func (l *Ledger) Approvals(ctx context.Context) ([]Approval, error) {
	var out []Approval
	err := l.view(ctx, func(b buckets) error {
		out = nil
		q := b.tx.bucket(bucketApprovals)
		if q == nil {
			return nil
		}
		return q.ForEach(func(k, v []byte) error {
			a, err := decodeApproval(k, v)
			if err == nil {
				out = append(out, *a)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	slices.SortFunc(out, func(a, b Approval) int { return cmpU64(a.Seq, b.Seq) })
	return out, nil
}

// ApprovalOf returns the queue entry of one call, or ErrNotFound. A waiting call polls
// it with one short read transaction each time.
func (l *Ledger) ApprovalOf(ctx context.Context, callID string) (Approval, error) {
	var out Approval
	err := l.view(ctx, func(b buckets) error {
		a, err := getApproval(b.tx.bucket(bucketApprovals), callID)
		if err != nil {
			return err
		}
		if a == nil {
			return ErrNotFound
		}
		out = *a
		return nil
	})
	if err != nil {
		return Approval{}, fmt.Errorf("approval %q: %w", clip(callID), err)
	}
	return out, nil
}

// PaidBefore says whether any call paid payTo (compared without regard to case) and
// still counts: reserved, unknown or settled. It reads the recipient's counter (a file
// not yet upgraded to format 3, read before its first write, has none: then it reads
// every call record).
func (l *Ledger) PaidBefore(ctx context.Context, payTo string) (bool, error) {
	var found bool
	err := l.view(ctx, func(b buckets) error {
		var err error
		found, err = b.paidBefore(payTo)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("payments to %s: %w", clip(payTo), err)
	}
	return found, nil
}

// containsFold says whether s holds lower (ASCII lower case) in any case.
func containsFold(s, lower []byte) bool {
	return strings.Contains(strings.ToLower(string(s)), string(lower))
}

func getApproval(q kvBucket, callID string) (*Approval, error) {
	if q == nil {
		return nil, nil
	}
	v := q.Get([]byte(callID))
	if v == nil {
		return nil, nil
	}
	return decodeApproval([]byte(callID), v)
}

func decodeApproval(k, v []byte) (*Approval, error) {
	var a Approval
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, fmt.Errorf("%w: approval queue entry %q is damaged: %v", ErrInvalid, clip(string(k)), err)
	}
	return &a, nil
}

func putApproval(q kvBucket, a *Approval) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return q.Put([]byte(a.CallID), v)
}

// pruneApprovals drops the entries that expired more than approvalKeep before now.
func pruneApprovals(q kvBucket, now time.Time) error {
	var old [][]byte
	err := q.ForEach(func(k, v []byte) error {
		a, err := decodeApproval(k, v)
		if err != nil || a.Expires.Add(approvalKeep).Before(now) {
			old = append(old, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := q.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

package ledger

import (
	"context"
	"fmt"
	"time"
)

// outcomeDelay bounds how long an outcome recorded with RecordLater waits in the queue
// for another write to carry it before it is committed on its own.
const outcomeDelay = 2 * time.Millisecond

// Outcome is the result of a reserved call, for Record and RecordLater: what Settle,
// MarkUnknown, Release or Void record.
type Outcome struct {
	CallID     string
	Kind       Kind   // KindSettled, KindUnknown, KindReleased (or KindVoided, with Record only)
	TxHash     string // KindSettled: the settlement's transaction, if the server reported it
	Reason     string // KindUnknown, KindReleased: why
	HTTPStatus int    // the HTTP status the paid request was answered with; 0 when there was no answer
	// Artifacts is what the server signed about the payment (x402's offer-receipt
	// extension), as JSON: the offer and receipt as received and what toll found when it
	// checked them (see Event). At most MaxArtifacts bytes; "" for none. Not on a void.
	Artifacts string
}

// MaxArtifacts bounds Outcome.Artifacts: two signed artifacts of the size toll keeps
// and what it found about them.
const MaxArtifacts = 40 << 10

// RecordLater records o as Settle, MarkUnknown or Release would, without waiting for a
// commit of its own: it is queued for the handle's next write transaction (the next
// reservation's, when calls follow one another) and committed on its own when no write
// comes within a few milliseconds. It returns at once; report, if not nil, is called
// with the result once the transition is committed (nil) or failed (ErrBadTransition,
// ErrNotFound, ErrBusy...), from another goroutine. A read through this handle, and
// Close, commit the outcomes queued before they run.
//
// An outcome so recorded can be lost to a crash between RecordLater and its commit; the
// reservation is durable, so the call then stays reserved, counted against every cap,
// until package ledger/reconcile resolves it against the chain (see the package doc).
// An invalid o returns ErrInvalid and queues nothing.
func (l *Ledger) RecordLater(o Outcome, report func(error)) error {
	if o.Kind == KindVoided {
		return fmt.Errorf("record outcome: %w", invalid("a void is recorded with Void or Record, not later"))
	}
	op, err := o.check()
	if err != nil {
		return err
	}
	p := &pending{done: make(chan error, 1), report: func(err error) {
		if report != nil {
			if err != nil {
				err = fmt.Errorf("%s %q: %w", op, o.CallID, err)
			}
			report(err)
		}
	}}
	p.fn = func(b buckets) error { return l.recordTx(b, o) }
	l.queue.add(p)
	l.queue.mu.Lock()
	defer l.queue.mu.Unlock()
	if !l.queue.flushing {
		l.queue.flushing = true
		delay := outcomeDelay
		if l.outcomeDelay != 0 {
			delay = l.outcomeDelay
		}
		time.AfterFunc(delay, l.flush)
	}
	return nil
}

// flush commits what waits in the queue (RecordLater's timer).
// It commits nothing when a write took the queue first: that write carried the outcomes.
func (l *Ledger) flush() {
	l.queue.mu.Lock()
	l.queue.flushing = false
	empty := len(l.queue.items) == 0
	l.queue.mu.Unlock()
	if empty {
		return
	}
	_ = l.update(context.Background(), func(buckets) error { return nil }) // the queued writes get their own results
}

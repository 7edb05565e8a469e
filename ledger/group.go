package ledger

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit: the write operations of one *Ledger that wait at the same time share one
// write transaction, and so one take of the file lock and one fsync'd commit.
//
// A write joins the handle's queue. Whoever holds the handle next (the leader) takes
// every write queued so far and runs them one after another, in queue order, in one
// transaction: each sees what the ones before it wrote, so a reservation's caps are
// checked against every reservation before it in the group, as if they had committed
// one by one. A write whose function fails (a duplicate call id, a bad transition) must
// not take the others down with it: the transaction is rolled back, the failed write gets
// its error, and the others run again without it, in a new transaction (bbolt's own
// DB.Batch does the same). A cap refusal is not a failure: it writes its refused event.
// No write returns before the commit that holds it is durable (or failed, and then every
// write of the group gets the error).

// pending is one write waiting in the queue.
type pending struct {
	fn     func(b buckets) error
	done   chan error  // buffered: the leader never waits on it
	report func(error) // when set, gets the result instead of done (RecordLater)

	// state is pendingQueued, then pendingTaken by a leader, or pendingDropped by its
	// caller, who gave up waiting before a leader took it.
	state atomic.Int32
}

const (
	pendingQueued = iota
	pendingTaken
	pendingDropped
)

// writeQueue is a handle's queue of writes.
type writeQueue struct {
	mu       sync.Mutex
	items    []*pending
	flushing bool // a timer will commit the queue (RecordLater)
}

func (q *writeQueue) add(p *pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
}

// take empties the queue and returns the writes in it that their callers still wait for.
func (q *writeQueue) take() []*pending {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.flushing = false // what a timer would have committed is taken: a new outcome sets one again
	q.mu.Unlock()
	var out []*pending
	for _, p := range items {
		if p.state.CompareAndSwap(pendingQueued, pendingTaken) {
			out = append(out, p)
		}
	}
	return out
}

// finish sends p its result.
func (p *pending) finish(err error) {
	if p.report != nil {
		p.report(err)
		return
	}
	p.done <- err
}

// abandon is the answer to a caller who stops waiting with err: err when p (nil for a
// read) will not run, else, once a leader took it, its result.
func (p *pending) abandon(err error) error {
	if p == nil || p.state.CompareAndSwap(pendingQueued, pendingDropped) {
		return err
	}
	return <-p.done
}

// errGroupMember rolls a group's transaction back after one of its writes failed.
var errGroupMember = errors.New("a write of the group failed")

// commitGroup runs the writes of group in one write transaction (see the top of this
// file) and sends each its result. The caller holds l.sem.
func (l *Ledger) commitGroup(ctx context.Context, deadline time.Time, group []*pending) {
	for len(group) > 0 {
		failed, ferr := -1, error(nil)
		err := l.inFile(ctx, true, deadline, func(b buckets) error {
			for i, p := range group {
				if err := p.fn(b); err != nil {
					failed, ferr = i, err
					return errGroupMember
				}
			}
			return nil
		})
		if failed < 0 || !errors.Is(err, errGroupMember) {
			for _, p := range group {
				p.finish(err)
			}
			return
		}
		group[failed].finish(ferr)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

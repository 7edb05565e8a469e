package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Readers stream. Events are append-only, so the events up to the head a reader sees when
// it starts are a consistent snapshot that no later write changes: a reader fixes that
// head in one short read transaction, then reads the events up to it in read transactions
// of at most readBatch events each, taking and releasing the shared lock for each, and
// decodes and checks them after releasing it. A writer (Reserve, Settle...) therefore
// waits for at most one such transaction, never for a whole export or verify, and a
// reader's memory does not grow with the ledger.

// readBatch is the most events one read transaction of a streaming reader copies out: at
// a few hundred bytes an event, about a millisecond of copying with the lock held. Each
// transaction waits its turn behind the writers (see Ledger.lock), so fewer, larger ones
// keep a reader from crawling while toll serve pays.
const readBatch = 4096

// headPos is the position and hash of the last event of the chain.
type headPos struct {
	seq  uint64
	hash [sha256.Size]byte
}

// head reads the stored head in one short read transaction.
func (l *Ledger) head(ctx context.Context) (headPos, error) {
	var h headPos
	err := l.view(ctx, func(b buckets) error {
		var err error
		h.seq, h.hash, err = readHead(b.meta)
		return err
	})
	return h, err
}

// rawEvent is a stored event record copied out of a read transaction, not yet decoded.
type rawEvent struct {
	seq uint64
	v   []byte
}

// readRaw copies the stored records of events from..to (at most readBatch of them, in
// order) in one read transaction.
func (l *Ledger) readRaw(ctx context.Context, from, to uint64, buf []rawEvent) ([]rawEvent, error) {
	err := l.view(ctx, func(b buckets) error {
		var err error
		buf, err = copyRaw(b, from, to, buf[:0]) // a retried transaction starts again
		return err
	})
	return buf, err
}

// copyRaw appends to buf the stored records of events from..to, at most readBatch of
// them, in order. Every one of them must be there: they are at or before a head read
// earlier, and events are never removed.
func copyRaw(b buckets, from, to uint64, buf []rawEvent) ([]rawEvent, error) {
	c := b.events.Cursor()
	want := from
	for k, v := c.Seek(u64(from)); want <= to && len(buf) < readBatch; k, v = c.Next() {
		if k == nil {
			return buf, tampered(want, "event missing: the chain ends at event %d but the head says %d: events were deleted", want-1, to)
		}
		if len(k) != 8 {
			return buf, tampered(want, "malformed event key %x", k)
		}
		if got := be64(k); got != want {
			return buf, tampered(want, "event missing (next stored event is %d)", got)
		}
		buf = append(buf, rawEvent{seq: want, v: bytes.Clone(v)})
		want++
	}
	return buf, nil
}

// addRaw decodes the records in buf, checks each with ln and calls fn with it.
func addRaw(buf []rawEvent, ln *links, fn func(e *Event) error) error {
	evs, errs := decodeBatch(buf)
	return addDecoded(ln, buf, evs, errs, fn)
}

// scan calls fn with every event from 1 to the head seen when it starts, in order, each
// checked against its own hash and linked to the one before (see links). fn runs with no
// lock held. It returns the head it read up to.
func (l *Ledger) scan(ctx context.Context, fn func(e *Event) error) (headPos, error) {
	h, err := l.head(ctx)
	if err != nil {
		return h, err
	}
	var ln links
	if err := l.scanRange(ctx, &ln, h.seq, fn); err != nil {
		return h, err
	}
	if ln.prev != h.hash {
		return h, tampered(h.seq, "the last event's hash does not match the head: the head or the event was changed")
	}
	return h, nil
}

// scanRange reads the events after ln's position up to to, checks each with ln and
// calls fn with it.
//
// A large ledger's readers spend their time decoding and hashing, not reading, so each
// batch is decoded on every core (decodeBatch: each record checked against its own hash,
// independently of the others) while the next batch is copied out of the file in its
// own read transaction; that read is over before fn is called with the batch's events,
// in order, each linked to the one before. So fn still runs with no lock held (a writer
// gets the lock at once meanwhile), memory holds two batches, and the first error in the
// chain's order is the one returned, as if the events were read one by one.
func (l *Ledger) scanRange(ctx context.Context, ln *links, to uint64, fn func(e *Event) error) error {
	if ln.n >= to {
		return nil
	}
	raw, err := l.readRaw(ctx, ln.n+1, to, nil)
	for err == nil {
		if len(raw) == 0 { // copyRaw returns an event or an error; never loop on neither
			return tampered(ln.n+1, "event missing")
		}
		var next chan rawBatch
		if from := raw[len(raw)-1].seq + 1; from <= to {
			next = make(chan rawBatch, 1)
			go func() {
				nb, err := l.readRaw(ctx, from, to, nil)
				next <- rawBatch{nb, err}
			}()
		}
		evs, errs := decodeBatch(raw)
		var nb rawBatch
		if next != nil {
			nb = <-next // no read transaction is open while fn runs
		}
		if err := addDecoded(ln, raw, evs, errs, fn); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		raw, err = nb.raw, nb.err
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// rawBatch is one read transaction's events, or the error that ended it.
type rawBatch struct {
	raw []rawEvent
	err error
}

// addDecoded checks with ln the events decodeBatch made of raw and calls fn with each, in
// order: the first decoding error, broken link or error of fn ends it.
func addDecoded(ln *links, raw []rawEvent, evs []Event, errs []error, fn func(e *Event) error) error {
	for i := range evs {
		if errs[i] != nil {
			return tampered(raw[i].seq, "%v", errs[i])
		}
		if err := ln.followRecord(&evs[i], raw[i].v); err != nil {
			return err
		}
		if err := fn(&evs[i]); err != nil {
			return err
		}
	}
	return nil
}

// decodeBatch decodes the records of raw, splitting the work over the machine's cores;
// each record is decoded and checked against its own hash alone (decodeRecord), so the
// parts do not depend on each other. The events are new (a callback may keep one).
func decodeBatch(raw []rawEvent) ([]Event, []error) {
	n := len(raw)
	evs, errs := make([]Event, n), make([]error, n)
	decode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			evs[i], errs[i] = decodeRecord(raw[i].v)
		}
	}
	parts := min(runtime.GOMAXPROCS(0), max(n/256, 1))
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { decode(p*n/parts, (p+1)*n/parts) })
	}
	decode(0, n/parts)
	wg.Wait()
	return evs, errs
}

// links checks that events come in sequence from 1, each hashing to its contents and
// linking to the one before.
type links struct {
	n    uint64            // events added
	prev [sha256.Size]byte // hash of the last one
}

func (ln *links) add(e *Event) error {
	if err := ln.linked(e); err != nil {
		return err
	}
	h := chainHash(ln.prev[:], e.canonical())
	if e.Hash != hex.EncodeToString(h[:]) {
		return tampered(ln.n+1, "hash does not match the event's contents")
	}
	ln.n, ln.prev = ln.n+1, h
	return nil
}

// followRecord is add for an event decoded from v, a stored record (previous hash ‖
// hash ‖ canonical event), by decodeRecord, which checked its hash against its contents
// and its stored previous hash: it only checks the sequence and the link, on the bytes
// of the hashes: the same
// check without decoding and encoding their hex.
func (ln *links) followRecord(e *Event, v []byte) error {
	want := ln.n + 1
	if e.Seq != want {
		return tampered(want, "event has sequence number %d", e.Seq)
	}
	if !bytes.Equal(v[:sha256.Size], ln.prev[:]) {
		return tampered(want, "previous hash does not match event %d", ln.n)
	}
	ln.n = want
	copy(ln.prev[:], v[sha256.Size:2*sha256.Size])
	return nil
}

// linked checks that e comes next and links to the last event added.
func (ln *links) linked(e *Event) error {
	want := ln.n + 1
	if e.Seq != want {
		return tampered(want, "event has sequence number %d", e.Seq)
	}
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], ln.prev[:])
	if e.PrevHash != string(hx[:]) {
		return tampered(want, "previous hash does not match event %d", ln.n)
	}
	return nil
}

// reservedSpend is the spend a reserved event starts.
func reservedSpend(e *Event) Spend {
	return Spend{
		Intent: Intent{
			CallID: e.CallID, Agent: e.Agent, Session: e.Session, API: e.API, Tool: e.Tool, URL: e.URL,
			Network: e.Network, Asset: e.Asset, Amount: *e.Amount, PayTo: e.PayTo, Payer: e.Payer,
			Nonce: e.Nonce, ValidBefore: e.ValidBefore, PaymentID: e.PaymentID, Method: e.Method,
		},
		Status: StatusReserved, ReservedAt: e.Time, UpdatedAt: e.Time,
	}
}

// spendRows turns a stream of events into the current state of each call, from the
// events alone (the stored call records are not read, so an edited one cannot reach a
// list or an export), in reservation order, with bounded memory: a call waits in a queue
// until its status is final (settled, released, voided) and every call reserved before it
// was emitted. A call still open when more than maxWaiting calls wait behind it leaves the
// queue, so that they can go, and is emitted when it becomes final; the calls still
// open at the end (reserved, unknown) are emitted then, in reservation order. So every
// call is emitted once, in reservation order unless it stayed open for maxWaiting later
// reservations. It keeps the open calls and at most maxWaiting others.
//
// With refusals set, each refused event is a row too (see refusedSpend), final at once,
// in its place in the chain.
type spendRows struct {
	open     map[string]*spendRow // reserved or unknown
	queue    []*spendRow          // in reservation order, from queue[qi]
	qi       int
	late     []*spendRow // open calls that left the queue, emitted when final
	emit     func(*spendRow) error
	refusals bool
}

// spendRow is a call's record as the events give it, with the hash of its last event
// (Last), and for a refusal's row the refused event.
type spendRow struct {
	callRecord
	lastHash string
	refused  *Event
}

// maxWaiting is how many calls may wait behind one that is still open.
const maxWaiting = 4096

func newSpendRows(emit func(*spendRow) error) *spendRows {
	return &spendRows{open: map[string]*spendRow{}, emit: emit}
}

func (r *spendRows) add(e *Event) error {
	if e.Kind.callless() {
		return nil
	}
	switch e.Kind {
	case KindRefused:
		if !r.refusals {
			return nil
		}
		ev := *e
		rec := &spendRow{callRecord{Spend: refusedSpend(e), Seq: e.Seq, Last: e.Seq}, e.Hash, &ev}
		r.queue = append(r.queue, rec)
		return r.drain()
	case KindReserved:
		if e.CallID == "" || e.Amount == nil || e.Amount.Sign() <= 0 {
			return tampered(e.Seq, "reservation without call id or positive amount")
		}
		if _, dup := r.open[e.CallID]; dup {
			return tampered(e.Seq, "call %q reserved twice", clip(e.CallID))
		}
		rec := &spendRow{callRecord: callRecord{Spend: reservedSpend(e), Seq: e.Seq, Last: e.Seq}, lastHash: e.Hash}
		r.open[e.CallID] = rec
		r.queue = append(r.queue, rec)
		return r.drain()
	}
	if !validKind(e.Kind) {
		return tampered(e.Seq, "unknown event kind %q", clip(string(e.Kind)))
	}
	rec, ok := r.open[e.CallID]
	if !ok {
		return tampered(e.Seq, "%s event for call %q, which is not reserved or is already final", e.Kind, clip(e.CallID))
	}
	if err := apply(&rec.Spend, e); err != nil {
		return tampered(e.Seq, "call %q: %v", clip(e.CallID), err)
	}
	rec.Last, rec.lastHash = e.Seq, e.Hash
	if !rec.Spend.Status.Final() {
		return nil
	}
	delete(r.open, e.CallID)
	if i := slices.Index(r.late, rec); i >= 0 {
		r.late = slices.Delete(r.late, i, i+1)
		return r.emit(rec)
	}
	return r.drain()
}

// drain emits the calls at the front of the queue that are final, and moves an open one
// out of the way of more than maxWaiting others.
func (r *spendRows) drain() error {
	for r.qi < len(r.queue) {
		rec := r.queue[r.qi]
		switch {
		case rec.Spend.Status.Final() || rec.Spend.Status == statusRefused:
			if err := r.emit(rec); err != nil {
				return err
			}
		case len(r.queue)-r.qi > maxWaiting:
			r.late = append(r.late, rec)
		default:
			return nil
		}
		r.queue[r.qi] = nil
		r.qi++
		if r.qi >= readBatch && r.qi*2 >= len(r.queue) {
			r.queue = append(r.queue[:0], r.queue[r.qi:]...)
			r.qi = 0
		}
	}
	return nil
}

// end emits the calls left: those waiting and those open, in reservation order.
func (r *spendRows) end() error {
	rest := append(r.late, r.queue[r.qi:]...)
	slices.SortFunc(rest, func(a, b *spendRow) int { return cmpU64(a.Seq, b.Seq) })
	r.late, r.queue, r.qi = nil, nil, 0
	clear(r.open)
	for _, rec := range rest {
		if err := r.emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// ScanSpends calls fn with the state of every reserved call that f matches, as the
// events up to the head at its start give it, streaming (see spendRows for the order).
// The chain is checked as it is read: an event that does not hash to its contents, link
// to the one before or follow its call's history stops it with a *TamperError. fn runs
// with no lock held; the *Spend is fn's only until it returns.
func (l *Ledger) ScanSpends(ctx context.Context, f Filter, fn func(*Spend) error) error {
	if err := f.validate(false); err != nil {
		return fmt.Errorf("spends: %w", err)
	}
	rows := newSpendRows(func(rec *spendRow) error {
		if !f.matchesSpend(&rec.Spend) {
			return nil
		}
		return fn(&rec.Spend)
	})
	if _, err := l.scan(ctx, rows.add); err != nil {
		return fmt.Errorf("spends: %w", err)
	}
	if err := rows.end(); err != nil {
		return fmt.Errorf("spends: %w", err)
	}
	return nil
}

// ScanEvents calls fn with every event that f matches (see Filter.matchesEvent), from
// the first to the head at its start, streaming, each checked as ScanSpends checks them.
func (l *Ledger) ScanEvents(ctx context.Context, f Filter, fn func(*Event) error) error {
	if err := f.validate(true); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	calls := newEventCalls(f)
	if _, err := l.scan(ctx, func(e *Event) error {
		if !calls.matches(e) {
			return nil
		}
		return fn(e)
	}); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

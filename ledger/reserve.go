package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/tollhq/toll/tools/money"
)

// Reserve records the intent to pay for one call, before anything is signed.
// In one bbolt write transaction (fsync'd on commit) it checks that the call
// id was never reserved, checks in.Amount against every cap (per call, per
// session, per API, per tool, rolling day, total, in that order, then the caps of
// in.Agent: per call, per API, rolling day, total) using the amounts that
// count (reserved + unknown + settled, including those of other processes
// sharing the file), and appends the reserved event.
//
// Over a cap it appends a refused event naming the cap, changes no total and
// returns a *CapError (errors.Is(err, ErrCapExceeded)). A call id already
// reserved returns ErrDuplicateCall and an invalid intent or caps return
// ErrInvalid; in both cases nothing is written. A call refused by a cap may
// be reserved later (nothing was signed for it).
func (l *Ledger) Reserve(ctx context.Context, in Intent, caps Caps) (Spend, error) {
	if err := in.validate(); err != nil {
		return Spend{}, fmt.Errorf("reserve: %w", err)
	}
	if err := caps.validate(); err != nil {
		return Spend{}, fmt.Errorf("reserve %q: %w", in.CallID, err)
	}
	in.ValidBefore = in.ValidBefore.UTC()
	var (
		sp     Spend
		capErr *CapError
	)
	err := l.update(ctx, func(b buckets) error {
		var err error
		sp, capErr, err = reserveTx(b, in, caps, l.now().UTC())
		return err
	})
	if err != nil {
		return Spend{}, fmt.Errorf("reserve %q: %w", in.CallID, err)
	}
	if capErr != nil {
		return Spend{}, capErr
	}
	return sp, nil
}

// reserveTx is Reserve inside its transaction. A returned error rolls the
// transaction back; a *CapError commits the refused event.
func reserveTx(b buckets, in Intent, caps Caps, now time.Time) (Spend, *CapError, error) {
	rec, err := b.call(in.CallID)
	if err != nil {
		return Spend{}, nil, err
	}
	if rec != nil {
		return Spend{}, nil, fmt.Errorf("%w (status %s)", ErrDuplicateCall, rec.Spend.Status)
	}
	capErr, err := checkCaps(b, &in, &caps, now, true)
	if err != nil {
		return Spend{}, nil, err
	}
	if capErr != nil {
		ev := intentEvent(KindRefused, &in, now)
		limit, err := normalize(capErr.Limit) // caps were checked: exact at Decimals
		if err != nil {
			return Spend{}, nil, err
		}
		ev.Cap, ev.Limit, ev.Used, ev.Reason = capErr.Cap, &limit, &capErr.Used, capErr.Error()
		return Spend{}, capErr, b.appendEvent(&ev)
	}
	ev := intentEvent(KindReserved, &in, now)
	if err := b.appendEvent(&ev); err != nil {
		return Spend{}, nil, err
	}
	sp := Spend{Intent: in, Status: StatusReserved, ReservedAt: now, UpdatedAt: now}
	if err := b.putCall(&callRecord{Spend: sp, Seq: ev.Seq, Last: ev.Seq}); err != nil {
		return Spend{}, nil, err
	}
	delta, err := atomicUnits(in.Amount)
	if err != nil {
		return Spend{}, nil, err
	}
	return sp, nil, b.count(&sp, ev.Seq, delta)
}

// checkCaps returns the first cap that in.Amount would exceed, or nil. With persist
// (write transactions only) it stores the moved rolling-day edge.
func checkCaps(b buckets, in *Intent, caps *Caps, now time.Time, persist bool) (*CapError, error) {
	// Reserve always moves the rolling-day edge, so that the cache stays cheap to
	// maintain whether or not a day cap is set.
	daySum, err := b.daySum(now, persist)
	if err != nil {
		return nil, err
	}
	over := func(cap, api string, limit *money.Amount, used *big.Int) *CapError {
		u := fromAtomic(used)
		if limit == nil || u.Add(in.Amount).Cmp(*limit) <= 0 {
			return nil
		}
		return &CapError{Cap: cap, API: api, Limit: *limit, Used: u, Amount: in.Amount}
	}
	if e := over(CapPerCall, "", caps.PerCall, new(big.Int)); e != nil {
		return e, nil
	}
	type check struct {
		cap, api string
		limit    *money.Amount
		key      []byte
	}
	for _, c := range []check{
		{CapPerSession, "", caps.PerSession, sessionKey(in.Session)},
		{CapPerAPI, in.API, mapCap(caps.PerAPI, in.API), apiKey(in.API)},
		{CapPerTool, in.Tool, mapCap(caps.PerTool, in.Tool), toolKey(in.Tool)},
		{CapPerDay, "", caps.PerDay, nil},
		{CapTotal, "", caps.Total, sumTotal},
	} {
		if c.limit == nil {
			continue
		}
		used := daySum
		if c.key != nil {
			if used, err = b.sum(c.key); err != nil {
				return nil, err
			}
		}
		if e := over(c.cap, c.api, c.limit, used); e != nil {
			return e, nil
		}
	}
	return checkAgentCaps(b, in, &caps.Agent, now)
}

// mapCap returns the cap of key in m, or nil when it has none.
func mapCap(m map[string]money.Amount, key string) *money.Amount {
	if v, ok := m[key]; ok {
		return &v
	}
	return nil
}

func intentEvent(kind Kind, in *Intent, now time.Time) Event {
	return Event{
		Time: now, Kind: kind, CallID: in.CallID, Agent: in.Agent,
		Session: in.Session, API: in.API, Tool: in.Tool, URL: in.URL, Network: in.Network,
		Asset: in.Asset, Amount: &in.Amount, PayTo: in.PayTo, Payer: in.Payer, Nonce: in.Nonce,
		ValidBefore: in.ValidBefore, PaymentID: in.PaymentID, Method: in.Method,
	}
}

// Settle records that the call's payment settled in transaction txHash
// (which may be empty when the server reported none): reserved|unknown →
// settled. Settled is final. It records no HTTP status: Record does.
func (l *Ledger) Settle(ctx context.Context, callID, txHash string) error {
	return l.Record(ctx, Outcome{CallID: callID, Kind: KindSettled, TxHash: txHash})
}

// MarkUnknown records that the payment was sent but its outcome is unknown:
// reserved → unknown. The amount still counts.
func (l *Ledger) MarkUnknown(ctx context.Context, callID, reason string) error {
	return l.Record(ctx, Outcome{CallID: callID, Kind: KindUnknown, Reason: reason})
}

// Release records that the signature never left toll (e.g. signing failed):
// reserved → released. The amount no longer counts. Final.
func (l *Ledger) Release(ctx context.Context, callID, reason string) error {
	return l.Record(ctx, Outcome{CallID: callID, Kind: KindReleased, Reason: reason})
}

// Void records that the payment is proven never to have settled (reconciled
// against the chain): reserved|unknown → voided. The amount no longer counts.
// Final.
func (l *Ledger) Void(ctx context.Context, callID, reason string) error {
	return l.Record(ctx, Outcome{CallID: callID, Kind: KindVoided, Reason: reason})
}

// Record records o (settled, unknown, released or voided) in a write transaction of its
// own, as Settle, MarkUnknown, Release or Void do, with o.HTTPStatus.
func (l *Ledger) Record(ctx context.Context, o Outcome) error {
	op, err := o.check()
	if err != nil {
		return err
	}
	err = l.update(ctx, func(b buckets) error { return l.recordTx(b, o) })
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, o.CallID, err)
	}
	return nil
}

// check checks o before it is recorded or queued, and names its operation.
func (o *Outcome) check() (string, error) {
	op := map[Kind]string{KindSettled: "settle", KindUnknown: "mark unknown", KindReleased: "release", KindVoided: "void"}[o.Kind]
	if op == "" {
		return "", fmt.Errorf("record outcome: %w", invalid("kind %q is not an outcome (settled, unknown, released or voided)", o.Kind))
	}
	if o.CallID == "" {
		return op, fmt.Errorf("%s: %w", op, invalid("empty call id"))
	}
	if err := checkText([]textField{
		{"call id", o.CallID, maxShort}, {"tx hash", o.TxHash, maxShort}, {"reason", o.Reason, maxLong},
		{"artifacts", o.Artifacts, MaxArtifacts},
	}); err != nil {
		return op, fmt.Errorf("%s %q: %w", op, clip(o.CallID), err)
	}
	if o.HTTPStatus != 0 && (o.HTTPStatus < 100 || o.HTTPStatus > 999) {
		return op, fmt.Errorf("%s %q: %w", op, clip(o.CallID), invalid("HTTP status %d is not 0 (no answer) or from 100 to 999", o.HTTPStatus))
	}
	if o.HTTPStatus != 0 && o.Kind == KindVoided {
		return op, fmt.Errorf("%s %q: %w", op, clip(o.CallID), invalid("a void records no HTTP status"))
	}
	if err := checkArtifacts(o); err != nil {
		return op, fmt.Errorf("%s %q: %w", op, clip(o.CallID), err)
	}
	return op, nil
}

// recordTx is a transition inside its transaction, followed by a signed head after a
// settlement when the ledger has a signer.
func (l *Ledger) recordTx(b buckets, o Outcome) error {
	now := l.now().UTC()
	if err := transitionTx(b, o, now); err != nil {
		return err
	}
	if o.Kind == KindSettled && l.signer != nil {
		// A settlement is recorded even when its head cannot be signed now.
		if err := signHeadTx(b, l.signer, now); err != nil && !errors.Is(err, errSign) {
			return err
		}
	}
	return nil
}

func transitionTx(b buckets, o Outcome, now time.Time) error {
	rec, err := b.call(o.CallID)
	if err != nil {
		return err
	}
	if rec == nil {
		return ErrNotFound
	}
	from := rec.Spend.Status
	ev := Event{Time: now, Kind: o.Kind, CallID: o.CallID, TxHash: o.TxHash, Reason: o.Reason, HTTPStatus: o.HTTPStatus, Artifacts: o.Artifacts}
	if err := apply(&rec.Spend, &ev); err != nil {
		return err
	}
	if err := b.appendEvent(&ev); err != nil {
		return err
	}
	rec.Last = ev.Seq
	if err := b.putCall(rec); err != nil {
		return err
	}
	if from.Counts() && !rec.Spend.Status.Counts() {
		delta, err := atomicUnits(rec.Spend.Amount)
		if err != nil {
			return err
		}
		return b.count(&rec.Spend, rec.Seq, delta.Neg(delta))
	}
	return nil
}

// next is the transition table.
func next(from Status, kind Kind) (Status, bool) {
	switch kind {
	case KindSettled:
		return StatusSettled, from == StatusReserved || from == StatusUnknown
	case KindUnknown:
		return StatusUnknown, from == StatusReserved
	case KindReleased:
		return StatusReleased, from == StatusReserved
	case KindVoided:
		return StatusVoided, from == StatusReserved || from == StatusUnknown
	}
	return "", false
}

// apply moves s by the transition event e (not a reserved or refused event).
func apply(s *Spend, e *Event) error {
	to, ok := next(s.Status, e.Kind)
	if !ok {
		return fmt.Errorf("%w: %s call cannot become %s", ErrBadTransition, s.Status, e.Kind)
	}
	s.Status, s.UpdatedAt = to, e.Time
	if e.Kind == KindSettled {
		s.TxHash = e.TxHash
	}
	if e.Reason != "" {
		s.Reason = e.Reason
	}
	if e.HTTPStatus != 0 {
		s.HTTPStatus = e.HTTPStatus
	}
	if e.Artifacts != "" {
		s.Artifacts = e.Artifacts
	}
	return nil
}

// Refuse records a policy refusal that had no reservation (nothing signed).
func (l *Ledger) Refuse(ctx context.Context, r Refusal) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("refuse: %w", err)
	}
	ev := Event{
		Kind: KindRefused, CallID: r.CallID, Agent: r.Agent, Session: r.Session, API: r.API, Tool: r.Tool,
		URL: r.URL, Network: r.Network, Asset: r.Asset, Amount: r.Amount, PayTo: r.PayTo,
		Reason: r.Reason, Method: r.Method,
	}
	err := l.update(ctx, func(b buckets) error {
		e := ev
		e.Time = l.now().UTC()
		return b.appendEvent(&e)
	})
	if err != nil {
		return fmt.Errorf("refuse %q: %w", r.CallID, err)
	}
	return nil
}

// Spend returns the current state of one call, or ErrNotFound.
func (l *Ledger) Spend(ctx context.Context, callID string) (Spend, error) {
	var sp Spend
	err := l.view(ctx, func(b buckets) error {
		rec, err := b.call(callID)
		if err != nil {
			return err
		}
		if rec == nil {
			return ErrNotFound
		}
		sp = rec.Spend
		return nil
	})
	if err != nil {
		return Spend{}, fmt.Errorf("spend %q: %w", callID, err)
	}
	return sp, nil
}

// Spends returns every reserved call, in reservation order.
func (l *Ledger) Spends(ctx context.Context) ([]Spend, error) {
	var recs []*callRecord
	err := l.view(ctx, func(b buckets) error {
		var err error
		recs, err = b.allCalls()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("spends: %w", err)
	}
	out := make([]Spend, len(recs))
	for i, r := range recs {
		out[i] = r.Spend
	}
	return out, nil
}

func (b buckets) allCalls() ([]*callRecord, error) {
	var recs []*callRecord
	err := b.calls.ForEach(func(k, _ []byte) error {
		rec, err := b.call(string(k))
		if err == nil {
			recs = append(recs, rec)
		}
		return err
	})
	slices.SortFunc(recs, func(a, b *callRecord) int { return cmpU64(a.Seq, b.Seq) })
	return recs, err
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Events returns the whole chain, in order. Each event's own hash is checked
// (an event that fails returns a *TamperError); the links between events are
// checked by Verify.
func (l *Ledger) Events(ctx context.Context) ([]Event, error) {
	var evs []Event
	err := l.view(ctx, func(b buckets) error {
		var err error
		evs, err = b.allEvents()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return evs, nil
}

func (b buckets) allEvents() ([]Event, error) {
	var evs []Event
	err := b.events.ForEach(func(k, v []byte) error {
		pos := uint64(len(evs) + 1)
		if len(k) == 8 {
			pos = be64(k)
		}
		e, err := decodeRecord(v)
		if err != nil {
			return tampered(pos, "%v", err)
		}
		evs = append(evs, e)
		return nil
	})
	return evs, err
}

// Totals returns the counted amounts (reserved + unknown + settled) of the
// session, of the API, of the rolling 24 h before now, and of the whole ledger.
func (l *Ledger) Totals(ctx context.Context, session, api string) (Totals, error) {
	var t Totals
	err := l.view(ctx, func(b buckets) error {
		for _, c := range []struct {
			key []byte
			dst *money.Amount
		}{{sessionKey(session), &t.Session}, {apiKey(api), &t.API}, {sumTotal, &t.Total}} {
			x, err := b.sum(c.key)
			if err != nil {
				return err
			}
			*c.dst = fromAtomic(x)
		}
		x, err := b.daySum(l.now(), false)
		t.Day = fromAtomic(x)
		return err
	})
	if err != nil {
		return Totals{}, fmt.Errorf("totals: %w", err)
	}
	return t, nil
}

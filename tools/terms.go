package tools

import (
	"sync"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools/x402"
)

// termsCache remembers, per operation, the payment terms of its last settled call, so a
// repeat call within the time to live can carry its payment in the first request: one
// HTTP round trip instead of two. Anything but a settlement forgets the terms.
type termsCache struct {
	ttl time.Duration // zero: never used
	now func() time.Time

	mu sync.Mutex
	m  map[string]termsEntry
}

type termsEntry struct {
	ch   *x402.Challenge
	seen time.Time
	// expires is when the first of its signed offers stops being valid (validUntil);
	// zero: none does. Read once, when the terms are kept.
	expires time.Time
}

func termsKey(op *catalog.Operation) string { return op.API + "\x00" + op.Name }

// get returns the terms seen for op within the time to live, or nil; terms whose signed
// offers have expired are forgotten, so that the next call reads fresh ones.
func (t *termsCache) get(op *catalog.Operation) *x402.Challenge {
	if t.ttl <= 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[termsKey(op)]
	if !ok {
		return nil
	}
	if now := t.now(); now.Sub(e.seen) > t.ttl || (!e.expires.IsZero() && now.After(e.expires)) {
		delete(t.m, termsKey(op))
		return nil
	}
	return e.ch
}

func (t *termsCache) put(op *catalog.Operation, ch *x402.Challenge) {
	if t.ttl <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]termsEntry{}
	}
	t.m[termsKey(op)] = termsEntry{ch: ch, seen: t.now(), expires: offersExpire(ch)}
}

func (t *termsCache) drop(op *catalog.Operation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, termsKey(op))
}

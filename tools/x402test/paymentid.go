package x402test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/tollhq/toll/tools/x402"
)

// PaymentIDOptions makes a PaidAPI's version 2 routes advertise x402's
// payment-identifier extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/payment_identifier.md)
// and keep their answers by id: a payment with a new id is processed, the same id with
// the same payload gets the answer kept for it (even after its payment settled, without
// a second transfer), the same id with another payload gets 409 Conflict. The id is
// scoped by route. Version 1 routes have no extensions and ignore it.
type PaymentIDOptions struct {
	// Required sets info.required: a payment without an id gets 400.
	Required bool
	// DropResponses loses the answers to the first N paid requests that settled: the API
	// keeps the answer under its id and closes the connection without sending it, as a
	// network cut after the server did the work.
	DropResponses int
	// ConflictOnResend answers every resend of a known id with 409, the identical
	// payload too: a server that lost the answers it kept, or binds an id to more than
	// the payload.
	ConflictOnResend bool
	// AdvertiseOnV1 advertises the extension in the 402s of the version 1 routes too,
	// where a payment has no extensions to carry an id: with Required, a 402 no client
	// can comply with. The version 1 routes still ignore ids.
	AdvertiseOnV1 bool
}

// paymentIDs are the answers a PaidAPI keeps by route and id.
type paymentIDs struct {
	mu      sync.Mutex
	entries map[string]*keptAnswer
	drops   int // answers still to drop
}

// keptAnswer is the answer to one id: pending until done is closed; resp nil after that
// means the answer was not kept (a 5xx: the resend is processed anew).
type keptAnswer struct {
	payload []byte // the PaymentPayload as received, compacted
	done    chan struct{}
	resp    *bufferedResponse
}

// claim returns the entry for key: fresh (the caller processes the payment and must
// call finish), or another request's (wait for done, then replay or retry).
func (p *paymentIDs) claim(key string, payload []byte) (e *keptAnswer, fresh bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[key]; e != nil {
		return e, false
	}
	e = &keptAnswer{payload: payload, done: make(chan struct{})}
	p.entries[key] = e
	return e, true
}

// finish keeps resp for e's id, or forgets the id when resp is not to be kept, and
// reports whether this answer is to be dropped.
func (p *paymentIDs) finish(key string, e *keptAnswer, resp *bufferedResponse, settled bool) (drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if resp.status >= 500 {
		delete(p.entries, key)
	} else {
		e.resp = resp
	}
	close(e.done)
	if settled && p.drops > 0 {
		p.drops--
		return true
	}
	return false
}

// extension is the payment-identifier entry a 402 advertises.
func (o *PaymentIDOptions) extension() json.RawMessage {
	ext := map[string]any{
		"info": map[string]any{"required": o.Required},
		"schema": map[string]any{
			"$schema": "https://json-schema.org/draft/2020-12/schema",
			"type":    "object",
			"properties": map[string]any{
				"required": map[string]any{"type": "boolean"},
				"id":       map[string]any{"type": "string", "minLength": 16, "maxLength": 128},
			},
			"required": []string{"required"},
		},
	}
	b, _ := json.Marshal(ext)
	return b
}

// withPaymentID serves a paid version 2 request under the payment-identifier rules, with
// process doing the payment's work into the writer it is given. It returns false when
// the API does not advertise the extension (the caller processes the request itself).
func (a *PaidAPI) withPaymentID(w http.ResponseWriter, rt Route, raw json.RawMessage, extensions json.RawMessage, process func(http.ResponseWriter)) bool {
	if a.opts.PaymentID == nil {
		return false
	}
	id, err := x402.PaymentIDOf(extensions)
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "payment-identifier: " + err.Error()})
		return true
	case id == "" && a.opts.PaymentID.Required:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "payment-identifier required: send extensions[\"payment-identifier\"].info.id"})
		return true
	case id == "":
		return false
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "payment: " + err.Error()})
		return true
	}
	key := rt.key() + "\x00" + id
	for {
		e, fresh := a.ids.claim(key, compact.Bytes())
		if !fresh {
			if !bytes.Equal(e.payload, compact.Bytes()) || a.opts.PaymentID.ConflictOnResend {
				a.log.Info("x402test api: payment id reused with another payload", "route", rt.key(), "id", id)
				writeJSON(w, http.StatusConflict, map[string]string{"error": "payment-identifier " + id + " was used with another payment"})
				return true
			}
			<-e.done
			if e.resp == nil {
				continue // the first answer was not kept: process this one
			}
			a.log.Info("x402test api: answer replayed for a payment id", "route", rt.key(), "id", id)
			e.resp.flush(w)
			return true
		}
		buf := newBufferedResponse()
		process(buf)
		settled := buf.header.Get(x402.HeaderPaymentResponse) != "" && buf.status < 400
		if a.ids.finish(key, e, buf, settled) {
			a.log.Info("x402test api: answer dropped after settlement", "route", rt.key(), "id", id)
			dropConnection(w)
			return true
		}
		buf.flush(w)
		return true
	}
}

// dropConnection closes the request's connection without an answer: net/http ends a
// handler that panics with http.ErrAbortHandler by closing its connection.
func dropConnection(http.ResponseWriter) {
	panic(http.ErrAbortHandler)
}

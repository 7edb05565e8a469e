package tools

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
)

// TestTermsCacheOneRoundTrip: a repeat call within the time to live pays with its first
// request; after the terms change, the 402 costs one unknown payment, no second signature,
// and the next call goes back to two round trips.
func TestTermsCacheOneRoundTrip(t *testing.T) {
	var requests atomic.Int32
	price := atomic.Value{}
	price.Store("1000")
	api := &hostileAPI{
		unpaid: func(w http.ResponseWriter) {
			r := good()
			r["maxAmountRequired"] = price.Load().(string)
			write402(r)(w)
		},
		paid: func(w http.ResponseWriter, r *http.Request) {
			p := decodeHeaderValue(t, r.Header.Get("X-PAYMENT"))
			if p != price.Load().(string) {
				r := good()
				r["maxAmountRequired"] = price.Load().(string)
				write402(r)(w)
				return
			}
			settledOK(w, r)
		},
	}
	f := serveFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		api.ServeHTTP(w, r)
	}), Policy{})
	now := time.Unix(1_800_000_000, 0)
	c, err := New(Config{Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"base-sepolia"}}, TermsTTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	call := func() (*Result, error) {
		return c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`), Session: "s"})
	}
	step := func(name string, wantRequests int32, wantErr bool) {
		t.Helper()
		requests.Store(0)
		res, err := call()
		if wantErr {
			var perr *PaymentError
			if !errors.As(err, &perr) {
				t.Fatalf("%s: err = %v, want a *PaymentError", name, err)
			}
		} else if err != nil || res.Payment == nil || res.Payment.Status != ledger.StatusSettled {
			t.Fatalf("%s: %+v %v", name, res, err)
		}
		if got := requests.Load(); got != wantRequests {
			t.Errorf("%s: %d HTTP requests, want %d", name, got, wantRequests)
		}
	}
	step("first call", 2, false)
	step("repeat within the TTL", 1, false)
	now = now.Add(2 * time.Minute)
	step("repeat after the TTL", 2, false)
	price.Store("900")
	step("terms changed", 1, true)
	step("after the change", 2, false)
	if n := api.count(); n != 5 {
		t.Errorf("%d payments sent in 5 calls, want 5 (one per call)", n)
	}
	spends, err := f.ledger.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var unknown int
	for _, s := range spends {
		if s.Status == ledger.StatusUnknown {
			unknown++
		}
	}
	if len(spends) != 5 || unknown != 1 {
		t.Errorf("%d spends, %d unknown; want 5 and 1", len(spends), unknown)
	}
}

func decodeHeaderValue(t *testing.T, h string) string {
	var p struct {
		Payload struct {
			Authorization struct {
				Value string `json:"value"`
			} `json:"authorization"`
		} `json:"payload"`
	}
	if err := decodeInto(h, &p); err != nil {
		t.Errorf("payment header: %v", err)
	}
	return p.Payload.Authorization.Value
}

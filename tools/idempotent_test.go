package tools

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// worldClient is a Client paying lw's network and token, at most 5 minutes per
// authorization.
func worldClient(t *testing.T, lw *localWorld) *Client {
	t.Helper()
	c, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Policy: Policy{
		Networks:  []string{lw.world.Chain.NetworkV1(), lw.world.Chain.NetworkV2()},
		Assets:    []Asset{{Address: lw.world.Chain.TokenAddress()}},
		MaxWindow: 5 * time.Minute,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPaymentIdentifierRetries: the paid API of the local world advertises x402's
// payment-identifier extension and keeps its answers by id. A paid request whose answer
// is lost with its connection is resent once, identical, and the kept answer settles the
// spend with one transfer on chain; a resend answered 409, or a lost answer without the
// extension, leaves the spend unknown; a 402 that requires an id toll cannot send (x402
// version 1) is refused before anything is signed.
func TestPaymentIdentifierRetries(t *testing.T) {
	cases := []struct {
		name       string
		ids        *x402test.PaymentIDOptions
		cutNoID    bool // a proxy without the extension cuts the connection after the payment settled
		op         string
		wantStatus ledger.Status // "" for a refusal: nothing reserved
		wantResent bool
		wantID     bool // the reservation holds a payment id
		wantSent   int  // payment headers the API received
		wantMoved  int64
		wantErr    string // in the error; "" for none
		wantHTTP   int    // the HTTP status the ledger records
	}{
		{name: "answer lost, recovered by the resend", ids: &x402test.PaymentIDOptions{DropResponses: 1}, op: "getClimateHistory",
			wantStatus: ledger.StatusSettled, wantResent: true, wantID: true, wantSent: 2, wantMoved: x402test.PriceClimate, wantHTTP: 200},
		{name: "resend answered 409", ids: &x402test.PaymentIDOptions{DropResponses: 1, ConflictOnResend: true}, op: "getClimateHistory",
			wantStatus: ledger.StatusUnknown, wantID: true, wantSent: 2, wantMoved: x402test.PriceClimate, wantErr: "answered 409", wantHTTP: 409},
		{name: "required, version 2: sent with its id", ids: &x402test.PaymentIDOptions{Required: true}, op: "getClimateHistory",
			wantStatus: ledger.StatusSettled, wantID: true, wantSent: 1, wantMoved: x402test.PriceClimate, wantHTTP: 200},
		{name: "required on a version 1 402: refused before signing", ids: &x402test.PaymentIDOptions{Required: true, AdvertiseOnV1: true}, op: "getWeather",
			wantErr: "payment refused (payment identifier)"},
		{name: "answer lost without the extension: not resent", cutNoID: true, op: "getClimateHistory",
			wantStatus: ledger.StatusUnknown, wantSent: 1, wantMoved: x402test.PriceClimate, wantErr: "counts as spent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			lw := newLocalWorld(t, x402test.Options{PaymentID: tc.ids}, 1_000_000)
			sent := &hostileProxy{target: lw.world.APIURL, afterPay: func(w http.ResponseWriter, r *http.Request, _ func() (*http.Response, []byte)) {
				resp, b := forwardOnce(t, lw.world.APIURL, r)
				if resp == nil || tc.cutNoID {
					panic(http.ErrAbortHandler) // the answer is lost with the connection
				}
				relay(w, r, func() (*http.Response, []byte) { return resp, b })
			}}
			srv := httptest.NewServer(sent)
			defer srv.Close()
			c := worldClient(t, lw)
			before := lw.balance(t)
			res, err := c.Call(ctx, Call{Op: lw.ops(t, srv.URL)[tc.op], Arguments: []byte(`{"city":"Oslo"}`), Session: "s"})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Call: %v; want an error saying %q", err, tc.wantErr)
			}
			if err == nil && (res.Status != 200 || res.Payment.Resent != tc.wantResent || !strings.Contains(string(res.Body), "Oslo")) {
				t.Errorf("result %d %s, receipt %+v: want the answer, resent %v", res.Status, res.Body, res.Payment, tc.wantResent)
			}
			if got := sent.count(); got != tc.wantSent {
				t.Errorf("the API received %d payments, want %d", got, tc.wantSent)
			}
			if moved := before.Sub(lw.balance(t)); moved.Cmp(money.USDC(tc.wantMoved)) != 0 {
				t.Errorf("the payer's balance moved by %s, want %s", moved, money.USDC(tc.wantMoved))
			}
			if n := len(lw.world.Settlements()); int64(n) != min(tc.wantMoved, 1) {
				t.Errorf("%d settlements on chain, want %d", n, min(tc.wantMoved, 1))
			}
			checkIdentifiedSpend(t, lw.led, tc.wantStatus, tc.wantID, tc.wantHTTP, "payment identifier")
			var refused *RefusedError
			if tc.wantStatus == "" && (!errors.As(err, &refused) || refused.Rule != RulePaymentID) {
				t.Errorf("err = %v, want a refusal by %q", err, RulePaymentID)
			}
		})
	}
}

// forwardOnce sends r (a GET) to target on a connection of its own, never resent (net/http
// resends a GET on a reused connection that breaks): nil when no answer came.
func forwardOnce(t *testing.T, target string, r *http.Request) (*http.Response, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), nil)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	req.Header = r.Header.Clone()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil
	}
	return resp, b
}

// checkIdentifiedSpend checks the ledger's one call: its status (none but a refusal by
// rule when status is ""), whether its reservation holds a valid payment id, and the
// HTTP status recorded.
func checkIdentifiedSpend(t *testing.T, led *ledger.Ledger, status ledger.Status, withID bool, httpStatus int, rule Rule) {
	t.Helper()
	ctx := t.Context()
	spends, err := led.Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status == "" {
		evs, err := led.Events(ctx)
		if err != nil || len(spends) != 0 || len(evs) != 1 || evs[0].Kind != ledger.KindRefused || !strings.Contains(evs[0].Reason, "("+string(rule)+")") {
			t.Errorf("spends %+v, events %+v (%v): want one refusal by the %s rule", spends, evs, err, rule)
		}
		return
	}
	if len(spends) != 1 {
		t.Fatalf("%d spends, want 1", len(spends))
	}
	sp := spends[0]
	if sp.Status != status || x402.ValidPaymentID(sp.PaymentID) != withID || sp.HTTPStatus != httpStatus {
		t.Errorf("spend %s, payment id %q, HTTP %d: want %s, an id %v, HTTP %d", sp.Status, sp.PaymentID, sp.HTTPStatus, status, withID, httpStatus)
	}
}

// TestQuoteSaysTermsRefusal: a quote reports the refusal a paid call would make before
// signing, for a signed offer of other terms and for a payment identifier toll cannot
// send, and records nothing.
func TestQuoteSaysTermsRefusal(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		opts     x402test.Options
		op       string
		wantRule Rule // "" when toll would pay
	}{
		{name: "honest", opts: x402test.Options{PaymentID: &x402test.PaymentIDOptions{Required: true}}, op: "getClimateHistory"},
		{name: "offer for another amount", opts: x402test.Options{Artifacts: &x402test.SignedArtifacts{Key: key, OfferAmount: "1"}}, op: "getClimateHistory", wantRule: RuleOffer},
		{name: "identifier required on version 1", opts: x402test.Options{PaymentID: &x402test.PaymentIDOptions{Required: true, AdvertiseOnV1: true}}, op: "getWeather", wantRule: RulePaymentID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lw := newLocalWorld(t, tc.opts, 1_000_000)
			q, err := worldClient(t, lw).Quote(t.Context(), Call{Op: lw.ops(t, "")[tc.op], Arguments: []byte(`{"city":"Oslo"}`), Session: "s"})
			if err != nil {
				t.Fatal(err)
			}
			var got Rule
			if q.Refused != nil {
				got = q.Refused.Rule
			}
			if got != tc.wantRule || q.WouldPay() != (tc.wantRule == "") {
				t.Errorf("quote refused by %q (would pay %v), want %q", got, q.WouldPay(), tc.wantRule)
			}
			if evs, err := lw.led.Events(t.Context()); err != nil || len(evs) != 0 {
				t.Errorf("the ledger holds %d events (%v), want none", len(evs), err)
			}
		})
	}
}

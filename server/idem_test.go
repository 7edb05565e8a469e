package server

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// TestUpstreamPaymentIdentifier: a paid MCP server that advertises x402's
// payment-identifier extension loses the answer to a settled payment with its
// connection; toll resends the identical payment with its id once, on a new connection:
// the kept answer settles the spend with one transfer; a resend answered 409 leaves it
// unknown for reconcile. Either way the tool ran once and moved the price once.
func TestUpstreamPaymentIdentifier(t *testing.T) {
	cases := []struct {
		name       string
		ids        paidmcp.PaymentIdentifierOptions
		wantOK     bool
		wantText   string
		wantStatus ledger.Status
	}{
		{name: "the kept answer recovered", wantOK: true, wantText: "temperatureC", wantStatus: ledger.StatusSettled},
		{name: "the resend answered 409", ids: paidmcp.PaymentIdentifierOptions{ConflictOnResend: true}, wantText: "Payment problem", wantStatus: ledger.StatusUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perCall := money.USDC(10_000)
			r := newUpstreamRig(t, rigOptions{paid: paidmcp.Options{CutAfterSettle: true, PaymentIdentifier: &tc.ids}, caps: ledger.Caps{PerCall: &perCall}})
			before := r.balance(t, r.payer.Address().Hex())
			res := callToolWith(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
			if res.IsError == tc.wantOK || !strings.Contains(blockTexts(res.Content), tc.wantText) {
				t.Errorf("result %+v: want isError %v, saying %q", res, !tc.wantOK, tc.wantText)
			}
			if runs, settled := r.paid.ToolRuns(paidmcp.ToolWeather), r.paid.Settlements(); runs != 1 || settled != 1 {
				t.Errorf("%d tool runs, %d settlements; want 1 and 1", runs, settled)
			}
			if moved := before - r.balance(t, r.payer.Address().Hex()); moved != 1000 {
				t.Errorf("moved %d from the payer, want 1000", moved)
			}
			sp := r.spends(t)
			if len(sp) != 1 || sp[0].Status != tc.wantStatus || !x402.ValidPaymentID(sp[0].PaymentID) {
				t.Errorf("spends %+v: want one %s with a payment id", sp, tc.wantStatus)
			}
		})
	}
}

// TestUpstreamSignedArtifacts: a paid MCP server that signs its offers and receipts with
// its payTo key is paid, and the ledger holds both, verified; a tampered offer refuses
// the terms before anything is signed, as over HTTP.
func TestUpstreamSignedArtifacts(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := crypto.PubkeyToAddress(key.PublicKey).Hex()
	sign := func(digest [32]byte) ([]byte, error) {
		sig, err := crypto.Sign(digest[:], key)
		if err == nil {
			sig[64] += 27
		}
		return sig, err
	}
	cases := []struct {
		name     string
		tamper   paidmcp.OfferTamper
		wantText string // in a refusal; "" when paid
	}{
		{name: "honest"},
		{name: "payload altered after signing", tamper: paidmcp.OfferAltered, wantText: "signed offer"},
		{name: "signed for other terms", tamper: paidmcp.OfferOtherTerms, wantText: "signs other terms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := x402test.Start(t.Context(), x402test.Options{PayTo: signer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			perCall := money.USDC(10_000)
			r := newUpstreamRig(t, rigOptions{paid: paidmcp.Options{World: w, Signer: &paidmcp.Signer{Sign: sign, Offers: true, Receipts: true, Tamper: tc.tamper}}, caps: ledger.Caps{PerCall: &perCall}})
			res := callToolWith(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
			sp := r.spends(t)
			if tc.wantText != "" {
				if !res.IsError || !strings.Contains(blockTexts(res.Content), tc.wantText) || len(sp) != 0 || r.paid.Settlements() != 0 {
					t.Errorf("result %+v, spends %+v, %d settlements: want a refusal saying %q, nothing paid", res, sp, r.paid.Settlements(), tc.wantText)
				}
				return
			}
			if res.IsError || len(sp) != 1 || sp[0].Status != ledger.StatusSettled || !strings.Contains(blockTexts(res.Content), "receipt signed by the payee") {
				t.Fatalf("result %+v, spends %+v: want the tool's answer, settled, with a receipt signed by the payee", res, sp)
			}
			a, err := ledger.ParseArtifacts(sp[0].Artifacts)
			if err != nil || a.Offer == nil || !a.Offer.Verified || !a.Offer.SignerIsPayTo || a.Receipt == nil || !a.Receipt.Verified || a.Receipt.Signer != signer {
				t.Errorf("artifacts %s (%v): want offer and receipt verified, signed by the payTo %s", sp[0].Artifacts, err, signer)
			}
		})
	}
}

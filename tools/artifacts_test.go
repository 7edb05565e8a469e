package tools

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// TestSignedOffersAndReceipts pays the local world's API when it signs its offers and
// receipts (x402's offer-receipt extension, EIP-712): honest artifacts are verified and
// stored with the spend, and exported; an offer that does not verify, signs another
// amount or has expired refuses the terms before anything is signed; a receipt for
// another payer is stored unverified and changes no outcome.
func TestSignedOffersAndReceipts(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := crypto.PubkeyToAddress(key.PublicKey).Hex()
	cases := []struct {
		name          string
		art           x402test.SignedArtifacts
		payToIsSigner bool          // the world's PayTo is the signer's address
		late          time.Duration // toll's clock is this far ahead
		op            string
		wantRefused   string // in the refusal; "" when paid
		wantOffer     string // the verified offer's signer; "" when the offer is not verified
		wantReceipt   string // "verified", "unverified" or "" (none)
		wantByPayee   bool   // the verified receipt's signer is the payTo
	}{
		{name: "honest, version 2", art: x402test.SignedArtifacts{ValidFor: time.Minute}, payToIsSigner: true, op: "getClimateHistory",
			wantOffer: signer, wantReceipt: "verified", wantByPayee: true},
		{name: "honest, version 1", art: x402test.SignedArtifacts{}, payToIsSigner: true, op: "getWeather",
			wantOffer: signer, wantReceipt: "verified", wantByPayee: true},
		{name: "signer other than the payTo: stored unverified, paid", art: x402test.SignedArtifacts{}, op: "getClimateHistory",
			wantReceipt: "unverified"},
		{name: "no receipt", art: x402test.SignedArtifacts{NoReceipts: true}, payToIsSigner: true, op: "getClimateHistory",
			wantOffer: signer},
		{name: "corrupt offer signature", art: x402test.SignedArtifacts{CorruptSignatures: true}, payToIsSigner: true, op: "getClimateHistory",
			wantRefused: "signature does not verify"},
		{name: "offer for another amount", art: x402test.SignedArtifacts{OfferAmount: "1"}, payToIsSigner: true, op: "getClimateHistory",
			wantRefused: "signs other terms"},
		{name: "expired offer", art: x402test.SignedArtifacts{ValidFor: time.Minute}, payToIsSigner: true, late: 2 * time.Minute, op: "getClimateHistory",
			wantRefused: "expired"},
		{name: "receipt for another payer", art: x402test.SignedArtifacts{ReceiptPayer: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}, payToIsSigner: true, op: "getClimateHistory",
			wantOffer: signer, wantReceipt: "unverified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			art := tc.art
			art.Key = key
			opts := x402test.Options{Artifacts: &art}
			if tc.payToIsSigner {
				opts.PayTo = signer
			}
			lw := newLocalWorld(t, opts, 1_000_000)
			c, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Now: func() time.Time { return time.Now().Add(tc.late) }, Policy: Policy{
				Networks:  []string{lw.world.Chain.NetworkV1(), lw.world.Chain.NetworkV2()},
				Assets:    []Asset{{Address: lw.world.Chain.TokenAddress()}},
				MaxWindow: 5 * time.Minute,
			}})
			if err != nil {
				t.Fatal(err)
			}
			before := lw.balance(t)
			res, err := c.Call(ctx, Call{Op: lw.ops(t, "")[tc.op], Arguments: []byte(`{"city":"Oslo"}`), Session: "s"})
			if tc.wantRefused != "" {
				var refused *RefusedError
				if !errors.As(err, &refused) || refused.Rule != RuleOffer || !strings.Contains(err.Error(), tc.wantRefused) {
					t.Fatalf("err = %v, want a refusal by %q saying %q", err, RuleOffer, tc.wantRefused)
				}
				if moved := before.Sub(lw.balance(t)); !moved.IsZero() || len(lw.world.Settlements()) != 0 {
					t.Errorf("moved %s, %d settlements: want nothing paid", moved, len(lw.world.Settlements()))
				}
				checkIdentifiedSpend(t, lw.led, "", false, 0, "signed offer")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc := res.Payment
			if rc.Status != ledger.StatusSettled || rc.OfferSigner != tc.wantOffer || rc.ReceiptByPayee != tc.wantByPayee || (rc.ReceiptSigner == signer) != (tc.wantReceipt == "verified") {
				t.Errorf("receipt %+v: want settled, offer by %q, receipt %q by payee %v", rc, tc.wantOffer, tc.wantReceipt, tc.wantByPayee)
			}
			if moved := before.Sub(lw.balance(t)); moved.Cmp(rc.Amount) != 0 || len(lw.world.Settlements()) != 1 {
				t.Errorf("moved %s, %d settlements: want %s once", moved, len(lw.world.Settlements()), rc.Amount)
			}
			checkStoredArtifacts(t, lw.led, signer, tc.wantOffer, tc.wantReceipt, tc.payToIsSigner)
		})
	}
}

// checkStoredArtifacts checks the artifacts the ledger holds for its one spend, and the
// columns of the CSV export.
func checkStoredArtifacts(t *testing.T, led *ledger.Ledger, signer, wantOffer, wantReceipt string, byPayTo bool) {
	t.Helper()
	ctx := t.Context()
	spends, err := led.Spends(ctx)
	if err != nil || len(spends) != 1 {
		t.Fatalf("spends %+v, %v: want one", spends, err)
	}
	a, err := ledger.ParseArtifacts(spends[0].Artifacts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Offer == nil || a.Offer.Verified != (wantOffer != "") || a.Offer.Signer != signer || a.Offer.SignerIsPayTo != byPayTo || !bytes.Contains(a.Offer.Raw, []byte(`"signature"`)) {
		t.Errorf("offer %+v: want the raw offer, recovered to %s (the payTo: %v), verified %v", a.Offer, signer, byPayTo, wantOffer != "")
	}
	switch wantReceipt {
	case "":
		if a.Receipt != nil {
			t.Errorf("receipt %+v, want none", a.Receipt)
		}
	default:
		if a.Receipt == nil || a.Receipt.Verified != (wantReceipt == "verified") || a.Receipt.Signer != signer || len(a.Receipt.Raw) == 0 || a.Receipt.Verified == (a.Receipt.Problem != "") {
			t.Errorf("receipt %+v: want it stored, %s, recovered to %s", a.Receipt, wantReceipt, signer)
		}
	}
	var buf bytes.Buffer
	if err := led.ExportCSV(ctx, &buf, ledger.Filter{}, ledger.CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h] = rows[1][i]
	}
	want := map[string]string{"offer_signer": wantOffer, "receipt_signer": "", "receipt_verified": ""}
	if wantReceipt != "" {
		want["receipt_signer"], want["receipt_verified"] = signer, map[bool]string{true: "yes", false: "no"}[wantReceipt == "verified"]
	}
	for k, v := range want {
		if col[k] != v {
			t.Errorf("csv %s = %q, want %q", k, col[k], v)
		}
	}
}

// TestCheckOfferJWS: a JWS offer is stored unverified and never refuses the terms it
// stands for on that account alone.
func TestCheckOfferJWS(t *testing.T) {
	i := 0
	a := x402.SignedArtifact{Format: x402.FormatJWS, Signature: "eyJhbGciOiJFUzI1NksifQ.e30.c2ln", AcceptIndex: &i, Raw: []byte(`{"format":"jws"}`)}
	rec, _, claims, problem := checkOffer(a, x402.Option{Index: 0, Scheme: "exact"}, time.Now())
	if !claims || problem != "" || rec.Verified || rec.Format != x402.FormatJWS || rec.Problem == "" || len(rec.Raw) == 0 {
		t.Errorf("checkOffer(jws) = %+v, claims %v, problem %q: want it stored unverified, no refusal", rec, claims, problem)
	}
}

// TestTermsWithExpiredOffersForgotten: cached terms whose signed offer expired are not
// paid with the first request; the next call reads fresh terms.
func TestTermsWithExpiredOffersForgotten(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	lw := newLocalWorld(t, x402test.Options{Artifacts: &x402test.SignedArtifacts{Key: key, ValidFor: time.Minute}}, 1)
	resp, err := http.Get(lw.world.APIURL + "/climate/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch, err := x402.ParseChallenge(resp.Header, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := lw.ops(t, "")["getClimateHistory"]
	now := time.Now()
	tc := termsCache{ttl: time.Hour, now: func() time.Time { return now }}
	tc.put(op, ch)
	now = now.Add(30 * time.Second)
	if tc.get(op) == nil {
		t.Fatal("terms forgotten while their offer is valid")
	}
	now = now.Add(time.Minute)
	if tc.get(op) != nil {
		t.Error("terms with an expired offer are still cached")
	}
}

// FuzzCheckOffer: no offer makes the check panic, and one it keeps as verified names its
// signer, the requirement's payTo.
func FuzzCheckOffer(f *testing.F) {
	f.Add(`{"format":"eip712","acceptIndex":0,"payload":{"version":1,"resourceUrl":"https://a.example/x","scheme":"exact","network":"eip155:84532","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","amount":"1000","validUntil":0},"signature":"0x` + strings.Repeat("11", 64) + `1b"}`)
	f.Add(`{"format":"jws","signature":"a.b.c"}`)
	f.Add(`{"format":"eip712","payload":{"version":2},"signature":"0x"}`)
	o := x402.Option{Index: 0, Scheme: "exact", Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}
	f.Fuzz(func(t *testing.T, raw string) {
		var a x402.SignedArtifact
		if json.Unmarshal([]byte(raw), &a) != nil {
			return
		}
		rec, _, _, problem := checkOffer(a, o, time.Unix(1_700_000_000, 0))
		if problem == "" && rec.Verified && !strings.EqualFold(rec.Signer, o.PayTo) {
			t.Errorf("%s: verified, signed by %q, not the payTo", raw, rec.Signer)
		}
	})
}

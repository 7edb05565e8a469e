package x402test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// The offers and receipts signed here with go-ethereum's apitypes encoder are recovered
// with toll's own EIP-712 code (wallet), so each implementation checks the other.

func recoverOffer(t *testing.T, a x402.SignedArtifact) (x402.OfferPayload, string) {
	t.Helper()
	p, err := a.OfferPayload()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wallet.RecoverOffer(wallet.Offer(p), hexutil.MustDecode(a.Signature))
	if err != nil {
		return p, ""
	}
	return p, signer.Hex()
}

func TestSignedOffersAndReceipts(t *testing.T) {
	key := newKey(t)
	w := startWorld(t, Options{PayTo: addrOf(key), Artifacts: &SignedArtifacts{Key: key, ValidFor: time.Minute}})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	url := w.APIURL + "/climate/Oslo"
	pr := challengeV2(t, "GET", url, "")
	c, err := x402.ParseChallenge(http.Header{"Payment-Required": {encodeHeader(t, pr)}}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	offers, err := c.Offers()
	if err != nil || len(offers) != 1 {
		t.Fatalf("offers = %d, %v; want 1", len(offers), err)
	}
	p, signer := recoverOffer(t, offers[0])
	if signer != addrOf(key) || !p.Matches(c.Options[0]) || p.ResourceURL != url || p.ValidUntil == 0 {
		t.Errorf("offer %+v signed by %s: want one matching the requirement, signed by payTo %s", p, signer, addrOf(key))
	}

	resp, body := do(t, "GET", url, "", paymentV2(t, payer, pr))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("paid: HTTP %d %s", resp.StatusCode, body)
	}
	sr := settlementHeader(t, resp, "PAYMENT-RESPONSE")
	rc, err := sr.Receipt()
	if err != nil || rc == nil {
		t.Fatalf("receipt = %v, %v; want one", rc, err)
	}
	rp, err := rc.ReceiptPayload()
	if err != nil {
		t.Fatal(err)
	}
	rsigner, err := wallet.RecoverReceipt(wallet.Receipt(rp), hexutil.MustDecode(rc.Signature))
	if err != nil || rsigner.Hex() != addrOf(key) {
		t.Errorf("receipt signed by %v (%v), want %s", rsigner, err, addrOf(key))
	}
	if rp.Payer != addrOf(payer) || rp.Transaction != sr.Transaction || rp.Network != "eip155:84532" || rp.ResourceURL != url {
		t.Errorf("receipt %+v: want payer %s, transaction %s on eip155:84532 for %s", rp, addrOf(payer), sr.Transaction, url)
	}

	// Version 1: the offer is in the body's extensions, with the CAIP-2 network.
	pr1, raw := challengeV1(t, "GET", w.APIURL+"/weather/Oslo", "")
	c1, err := x402.ParseChallenge(http.Header{}, raw)
	if err != nil {
		t.Fatal(err)
	}
	offers1, err := c1.Offers()
	if err != nil || len(offers1) != 1 {
		t.Fatalf("v1 offers = %d, %v; want 1", len(offers1), err)
	}
	p1, signer1 := recoverOffer(t, offers1[0])
	if signer1 != addrOf(key) || p1.Network != "eip155:84532" || p1.Amount != pr1.Accepts[0].MaxAmountRequired || !p1.Matches(c1.Options[0]) {
		t.Errorf("v1 offer %+v by %s: want the requirement's terms on eip155:84532 by %s", p1, signer1, addrOf(key))
	}
}

func TestHostileArtifacts(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name        string
		art         SignedArtifacts
		wantSigner  bool // the offer's signature recovers to the key
		wantMatches bool // the offer's fields are the requirement's
	}{
		{"corrupt signatures", SignedArtifacts{CorruptSignatures: true}, false, true},
		{"another amount signed", SignedArtifacts{OfferAmount: "1"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.art.Key = key
			w := startWorld(t, Options{PayTo: addrOf(key), Artifacts: &tt.art})
			pr := challengeV2(t, "GET", w.APIURL+"/climate/Oslo", "")
			c, err := x402.ParseChallenge(http.Header{"Payment-Required": {encodeHeader(t, pr)}}, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			offers, err := c.Offers()
			if err != nil || len(offers) != 1 {
				t.Fatalf("offers = %d, %v", len(offers), err)
			}
			p, signer := recoverOffer(t, offers[0])
			if got := signer == addrOf(key); got != tt.wantSigner {
				t.Errorf("signer %q is the key: %v, want %v", signer, got, tt.wantSigner)
			}
			if got := p.Matches(c.Options[0]); got != tt.wantMatches {
				t.Errorf("offer matches the requirement: %v, want %v", got, tt.wantMatches)
			}
		})
	}
}

func TestArtifactsNeedAKey(t *testing.T) {
	_, err := NewPaidAPI(PaidAPIOptions{FacilitatorURL: "http://127.0.0.1:1", Asset: addrOf(newKey(t)), PayTo: addrOf(newKey(t)), Artifacts: &SignedArtifacts{}})
	if err == nil || !strings.Contains(err.Error(), "Artifacts.Key") {
		t.Errorf("err = %v, want one naming Artifacts.Key", err)
	}
}

package x402

import (
	"strings"
	"testing"
)

// offered is a version 2 PaymentRequired whose extensions hold offers (the offer's
// fields against the one requirement of mcpRequired: network, asset in another case,
// payTo, amount).
func offered(t *testing.T, offers string) *Challenge {
	t.Helper()
	body := strings.Replace(mcpRequired, `"extensions":{"payment-identifier":{"info":{"required":false}}}`,
		`"extensions":{"offer-receipt":{"info":{"offers":`+offers+`}}}`, 1)
	c, err := ParsePaymentRequired([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const offerOK = `{"format":"eip712","acceptIndex":3,"payload":{"version":1,"resourceUrl":"mcp://tool/forecast","scheme":"exact",` +
	`"network":"eip155:84532","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693bc6afc0c5328ba36faf03c514ef312287c",` +
	`"amount":"25000","validUntil":1900000000},"signature":"0x00"}`

func TestOffers(t *testing.T) {
	c := offered(t, `[`+offerOK+`]`)
	offers, err := c.Offers()
	if err != nil || len(offers) != 1 {
		t.Fatalf("Offers = %+v, %v; want one", offers, err)
	}
	p, err := offers[0].OfferPayload()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Matches(c.Options[0]) {
		t.Errorf("offer %+v does not match requirement %+v", p, c.Options[0])
	}
	if string(offers[0].Raw) != offerOK {
		t.Errorf("Raw = %s, want the offer as received", offers[0].Raw)
	}
	for _, change := range []struct{ from, to string }{
		{`"amount":"25000"`, `"amount":"25001"`},
		{`"amount":"25000"`, `"amount":"025000"`},
		{`"payTo":"0x209693bc`, `"payTo":"0x309693bc`},
		{`"network":"eip155:84532"`, `"network":"eip155:8453"`},
		{`"scheme":"exact"`, `"scheme":"upto"`},
		{`"asset":"0x036C`, `"asset":"0x136C`},
	} {
		o := offered(t, `[`+strings.Replace(offerOK, change.from, change.to, 1)+`]`)
		got, err := o.Offers()
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := got[0].OfferPayload(); p.Matches(o.Options[0]) {
			t.Errorf("an offer with %s matches the requirement", change.to)
		}
	}
	if offers, err := offered(t, `[]`).Offers(); err != nil || len(offers) != 0 {
		t.Errorf("no offers: %v, %v", offers, err)
	}
	if c, _ := ParsePaymentRequired([]byte(mcpRequired)); c != nil {
		if offers, err := c.Offers(); offers != nil || err != nil {
			t.Errorf("a 402 without the extension has offers %v, %v", offers, err)
		}
	}
	for _, bad := range []struct{ offers, errHas string }{
		{`[{"format":"pgp","signature":"x"}]`, `format "pgp"`},
		{`[{"format":"eip712","signature":"0x00"}]`, "needs a payload"},
		{`[{"format":"jws"}]`, "compact serialization"},
		{`"none"`, "info"},
		{`[{"format":"eip712","payload":{"x":"` + strings.Repeat("y", maxArtifactLen) + `"},"signature":"0x00"}]`, "byte limit"},
		{`[` + strings.Repeat(offerOK+`,`, MaxAccepts) + offerOK + `]`, "over the limit"},
	} {
		if _, err := offered(t, bad.offers).Offers(); err == nil || !strings.Contains(err.Error(), bad.errHas) {
			t.Errorf("offers %.60s: err = %v, want one saying %q", bad.offers, err, bad.errHas)
		}
	}
	// A payload field the extension does not define is refused.
	extra := offered(t, `[`+strings.Replace(offerOK, `"version":1,`, `"version":1,"discount":"50%",`, 1)+`]`)
	got, _ := extra.Offers()
	if _, err := got[0].OfferPayload(); err == nil {
		t.Error("an offer payload with an unknown field decoded")
	}
}

func TestSettlementReceipt(t *testing.T) {
	sr := SettlementResponse{Success: true, Extensions: []byte(`{"offer-receipt":{"info":{"receipt":{"format":"eip712",` +
		`"payload":{"version":1,"network":"eip155:84532","resourceUrl":"mcp://tool/forecast","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66","issuedAt":1703123456},` +
		`"signature":"0x00"}}}}`)}
	r, err := sr.Receipt()
	if err != nil || r == nil {
		t.Fatalf("Receipt = %v, %v", r, err)
	}
	p, err := r.ReceiptPayload()
	if err != nil || p.IssuedAt != 1703123456 || p.Payer != "0x857b06519E91e3A54538791bDbb0E22373e36b66" {
		t.Errorf("receipt payload %+v, %v", p, err)
	}
	if r, err := (&SettlementResponse{Success: true}).Receipt(); r != nil || err != nil {
		t.Errorf("a settlement without extensions has receipt %v, %v", r, err)
	}
	if _, err := (&SettlementResponse{Extensions: []byte(`{"offer-receipt":{"info":{"receipt":{"format":"x"}}}}`)}).Receipt(); err == nil {
		t.Error("a receipt of an unknown format was read")
	}
}

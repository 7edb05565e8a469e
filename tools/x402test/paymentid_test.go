package x402test

import (
	"crypto/ecdsa"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/tollhq/toll/tools/x402"
)

// paymentWithID signs pr's first requirement and echoes the 402's extensions with id.
func paymentWithID(t *testing.T, key *ecdsa.PrivateKey, pr x402.PaymentRequiredV2, id string) http.Header {
	t.Helper()
	var exts map[string]map[string]any
	if err := json.Unmarshal(pr.Extensions, &exts); err != nil {
		t.Fatal(err)
	}
	if id != "" {
		info, _ := exts[x402.ExtensionPaymentIdentifier]["info"].(map[string]any)
		info["id"] = id
	}
	ext, _ := json.Marshal(exts)
	return http.Header{"Payment-Signature": {encodeHeader(t, x402.PaymentPayloadV2{
		X402Version: 2, Resource: pr.Resource, Accepted: pr.Accepts[0], Payload: signForV2(t, key, pr.Accepts[0]), Extensions: ext,
	})}}
}

func TestPaymentIDAdvertised(t *testing.T) {
	for _, required := range []bool{false, true} {
		w := startWorld(t, Options{PaymentID: &PaymentIDOptions{Required: required}})
		pr := challengeV2(t, "GET", w.APIURL+"/climate/Oslo", "")
		c, err := x402.ParseChallenge(http.Header{"Payment-Required": {encodeHeader(t, pr)}}, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		offered, req := c.PaymentIdentifier()
		if !offered || req != required {
			t.Errorf("required=%v: the 402 offers payment-identifier %v, required %v", required, offered, req)
		}
		// Version 1 routes have no extensions.
		_, raw := challengeV1(t, "GET", w.APIURL+"/weather/Oslo", "")
		var v1 map[string]json.RawMessage
		if err := json.Unmarshal(raw, &v1); err != nil || v1["extensions"] != nil {
			t.Errorf("a v1 402 carries extensions: %s", raw)
		}
	}
}

func TestPaymentIDRequiredAndMalformed(t *testing.T) {
	w := startWorld(t, Options{PaymentID: &PaymentIDOptions{Required: true}})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	url := w.APIURL + "/climate/Oslo"
	pr := challengeV2(t, "GET", url, "")
	for _, id := range []string{"", "short", "has space in it, 20+ chars"} {
		resp, body := do(t, "GET", url, "", paymentWithID(t, payer, pr, id))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("id %q: HTTP %d %s, want 400", id, resp.StatusCode, body)
		}
	}
	if n := w.HandlerRuns("GET /climate/{city}"); n != 0 {
		t.Errorf("handler ran %d times, want 0", n)
	}
	wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000)
}

// TestPaymentIDRecoversALostAnswer: the answer to a settled payment is lost on the way
// (the connection closes); the identical payment with the same id gets the kept answer,
// settlement header included, with one transfer and one handler run; another payment
// with that id gets 409, and concurrent resends all get the one answer.
func TestPaymentIDRecoversALostAnswer(t *testing.T) {
	w := startWorld(t, Options{PaymentID: &PaymentIDOptions{DropResponses: 1}})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	url := w.APIURL + "/climate/Oslo"
	pr := challengeV2(t, "GET", url, "")
	const id = "pay_0123456789abcdef0123456789abcdef"
	header := paymentWithID(t, payer, pr, id)

	req, _ := http.NewRequest("GET", url, nil)
	req.Header = header.Clone()
	// A fresh connection: on a reused one net/http would resend the GET by itself when
	// the connection closes, and get the kept answer.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the first answer arrived (HTTP %d); DropResponses should have lost it", resp.StatusCode)
	}
	wantBalance(t, w.Chain, "payer after the lost answer", addrOf(payer), 1_000_000-PriceClimate)

	var wg sync.WaitGroup
	txs := make([]string, 4)
	for i := range txs {
		wg.Go(func() {
			resp, body := do(t, "GET", url, "", header)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("resend %d: HTTP %d %s, want 200", i, resp.StatusCode, body)
				return
			}
			txs[i] = settlementHeader(t, resp, "PAYMENT-RESPONSE").Transaction
		})
	}
	wg.Wait()
	settled := w.Settlements()
	if len(settled) != 1 {
		t.Fatalf("%d settlements, want 1", len(settled))
	}
	for i, tx := range txs {
		if tx != settled[0].TxHash {
			t.Errorf("resend %d: transaction %s, want the one settlement %s", i, tx, settled[0].TxHash)
		}
	}
	if n := w.HandlerRuns("GET /climate/{city}"); n != 1 {
		t.Errorf("handler runs = %d, want 1", n)
	}

	resp, body := do(t, "GET", url, "", paymentWithID(t, payer, pr, id))
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("another payment with the same id: HTTP %d %s, want 409", resp.StatusCode, body)
	}
	wantBalance(t, w.Chain, "payer at the end", addrOf(payer), 1_000_000-PriceClimate)
}

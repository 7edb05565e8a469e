package x402test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"go.yaml.in/yaml/v4"
)

func startWorld(t testing.TB, opts Options) *World {
	t.Helper()
	w, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return w
}

// do sends a request and returns the response with its body read.
func do(t testing.TB, method, url string, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// signFor signs an exact EVM authorization for a requirement the way official clients
// do: to = payTo, value = amount, validAfter = now-600, validBefore = now+maxTimeout,
// the EIP-712 domain from extra, the chain from the network and the asset.
func signFor(t testing.TB, key *ecdsa.PrivateKey, network, amount, asset, payTo string, timeout int64, extra json.RawMessage) x402.ExactEVMPayload {
	t.Helper()
	var dom x402.EIP712Extra
	if err := json.Unmarshal(extra, &dom); err != nil {
		t.Fatal(err)
	}
	chainID, err := x402.ChainID(network)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	auth := x402.Authorization{
		From: addrOf(key), To: payTo, Value: amount,
		ValidAfter:  strconv.FormatInt(now-600, 10),
		ValidBefore: strconv.FormatInt(now+timeout, 10),
		Nonce:       randomNonce(t),
	}
	d := domain{name: dom.Name, version: dom.Version, chainID: chainID, token: asset}
	return x402.ExactEVMPayload{Signature: signAuthorization(t, key, d, "TransferWithAuthorization", auth), Authorization: auth}
}

func encodeHeader(t testing.TB, v any) string {
	t.Helper()
	s, err := x402.EncodeHeader(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// challengeV1 asks for a v1 route without payment and decodes the 402 body.
func challengeV1(t testing.TB, method, url, body string) (x402.PaymentRequiredV1, []byte) {
	t.Helper()
	resp, data := do(t, method, url, body, nil)
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("%s %s without payment: HTTP %d %s, want 402", method, url, resp.StatusCode, data)
	}
	var pr x402.PaymentRequiredV1
	if err := json.Unmarshal(data, &pr); err != nil {
		t.Fatal(err)
	}
	return pr, data
}

// challengeV2 asks for a v2 route without payment and decodes PAYMENT-REQUIRED.
func challengeV2(t testing.TB, method, url, body string) x402.PaymentRequiredV2 {
	t.Helper()
	resp, data := do(t, method, url, body, nil)
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("%s %s without payment: HTTP %d %s, want 402", method, url, resp.StatusCode, data)
	}
	if got := strings.TrimSpace(string(data)); got != "{}" {
		t.Errorf("v2 402 body = %q, want {}", got)
	}
	var pr x402.PaymentRequiredV2
	if err := x402.DecodeHeader(resp.Header.Get("PAYMENT-REQUIRED"), &pr); err != nil {
		t.Fatalf("PAYMENT-REQUIRED: %v", err)
	}
	return pr
}

func paymentV1(t testing.TB, key *ecdsa.PrivateKey, r x402.RequirementV1) http.Header {
	t.Helper()
	p := signFor(t, key, r.Network, r.MaxAmountRequired, r.Asset, r.PayTo, r.MaxTimeoutSeconds, r.Extra)
	return http.Header{"X-Payment": {encodeHeader(t, x402.PaymentPayloadV1{X402Version: 1, Scheme: r.Scheme, Network: r.Network, Payload: p})}}
}

// signForV2 is signFor a version 2 requirement.
func signForV2(t testing.TB, key *ecdsa.PrivateKey, r x402.RequirementV2) x402.ExactEVMPayload {
	t.Helper()
	return signFor(t, key, r.Network, r.Amount, r.Asset, r.PayTo, r.MaxTimeoutSeconds, r.Extra)
}

// climateChallenge starts a world, funds a payer with 1 USDC, and asks for GET
// /climate/Oslo (x402 v2) without paying: the world, the payer and the 402's terms.
func climateChallenge(t testing.TB) (*World, *ecdsa.PrivateKey, x402.PaymentRequiredV2) {
	t.Helper()
	w := startWorld(t, Options{})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	return w, payer, challengeV2(t, "GET", w.APIURL+"/climate/Oslo", "")
}

func paymentV2(t testing.TB, key *ecdsa.PrivateKey, pr x402.PaymentRequiredV2) http.Header {
	t.Helper()
	r := pr.Accepts[0]
	p := signForV2(t, key, r)
	return http.Header{"Payment-Signature": {encodeHeader(t, x402.PaymentPayloadV2{
		X402Version: 2, Resource: pr.Resource, Accepted: r, Payload: p, Extensions: json.RawMessage("{}"),
	})}}
}

func settlementHeader(t testing.TB, resp *http.Response, name string) x402.SettlementResponse {
	t.Helper()
	var sr x402.SettlementResponse
	if err := x402.DecodeHeader(resp.Header.Get(name), &sr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return sr
}

func TestPaidAPIv1(t *testing.T) {
	w := startWorld(t, Options{})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	url := w.APIURL + "/weather/Oslo?units=imperial"

	pr, raw := challengeV1(t, "GET", url, "")
	want := x402.PaymentRequiredV1{
		X402Version: 1,
		Error:       "X-PAYMENT header is required",
		Accepts: []x402.RequirementV1{{
			Scheme: "exact", Network: "base-sepolia", MaxAmountRequired: "1000", Resource: url,
			Description: "Current weather for a city", MimeType: "application/json",
			OutputSchema: json.RawMessage("null"), PayTo: w.PayTo(), MaxTimeoutSeconds: 300,
			Asset: w.Chain.TokenAddress(), Extra: json.RawMessage(`{"name":"USDC","version":"2"}`),
		}},
	}
	if diff := cmp.Diff(want, pr); diff != "" {
		t.Errorf("402 body (-want +got):\n%s", diff)
	}
	if !bytes.Contains(raw, []byte(`"outputSchema":null`)) {
		t.Errorf("402 body %s lacks outputSchema:null", raw)
	}
	if n := w.HandlerRuns("GET /weather/{city}"); n != 0 {
		t.Errorf("handler ran %d times before payment, want 0", n)
	}

	header := paymentV1(t, payer, pr.Accepts[0])
	resp, body := do(t, "GET", url, "", header)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("paid GET: HTTP %d %s, want 200", resp.StatusCode, body)
	}
	var wx Weather
	if err := json.Unmarshal(body, &wx); err != nil || wx.City != "Oslo" || wx.TempF == nil {
		t.Errorf("paid body = %s (%v), want Oslo weather in both units", body, err)
	}
	sr := settlementHeader(t, resp, "X-PAYMENT-RESPONSE")
	if !sr.Success || sr.Network != "base-sepolia" || sr.Payer != addrOf(payer) || len(sr.Transaction) != 66 {
		t.Errorf("X-PAYMENT-RESPONSE = %+v, want success on base-sepolia by %s", sr, addrOf(payer))
	}
	wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000-PriceWeather)
	wantBalance(t, w.Chain, "payTo", w.PayTo(), PriceWeather)
	wantSettlements := []Settlement{{
		Route: "GET /weather/{city}", Version: 1, Network: "base-sepolia", TxHash: sr.Transaction,
		Payer: addrOf(payer), PayTo: w.PayTo(), Amount: money.USDC(PriceWeather), Resource: url,
	}}
	sameAmount := cmp.Comparer(func(a, b money.Amount) bool { return a.Cmp(b) == 0 && a.Decimals() == b.Decimals() })
	if diff := cmp.Diff(wantSettlements, w.Settlements(), sameAmount); diff != "" {
		t.Errorf("Settlements (-want +got):\n%s", diff)
	}

	// The same payment again: v1 verify sees the used nonce; the handler does not run.
	resp, body = do(t, "GET", url, "", header)
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("replayed payment: HTTP %d, want 402", resp.StatusCode)
	}
	var replay x402.PaymentRequiredV1
	if err := json.Unmarshal(body, &replay); err != nil || replay.Error != "invalid_exact_evm_nonce_already_used" || replay.Payer != addrOf(payer) {
		t.Errorf("replay 402 = %s (%v), want error invalid_exact_evm_nonce_already_used with the payer", body, err)
	}
	if n := w.HandlerRuns("GET /weather/{city}"); n != 1 {
		t.Errorf("handler runs = %d, want 1", n)
	}
	wantBalance(t, w.Chain, "payer after replay", addrOf(payer), 1_000_000-PriceWeather)
}

func TestPaidAPIv2(t *testing.T) {
	w := startWorld(t, Options{})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	tests := []struct {
		method, path, body, route string
		price                     int64
		description               string
	}{
		{"GET", "/climate/Oslo", "", "GET /climate/{city}", PriceClimate, "Thirty years of climate history for a city"},
		{"POST", "/reports", `{"city":"Oslo","days":3}`, "POST /reports", PriceReport, "Multi-day weather report"},
	}
	spent := int64(0)
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			url := w.APIURL + tt.path
			pr := challengeV2(t, tt.method, url, tt.body)
			want := x402.PaymentRequiredV2{
				X402Version: 2, Error: "Payment required",
				Resource: &x402.Resource{URL: url, Description: tt.description, MimeType: "application/json"},
				Accepts: []x402.RequirementV2{{
					Scheme: "exact", Network: "eip155:84532", Amount: strconv.FormatInt(tt.price, 10),
					Asset: w.Chain.TokenAddress(), PayTo: w.PayTo(), MaxTimeoutSeconds: 300,
					Extra: json.RawMessage(`{"name":"USDC","version":"2"}`),
				}},
				Extensions: json.RawMessage("{}"),
			}
			if diff := cmp.Diff(want, pr, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Raw" }, cmp.Ignore())); diff != "" {
				t.Errorf("PAYMENT-REQUIRED (-want +got):\n%s", diff)
			}
			resp, body := do(t, tt.method, url, tt.body, paymentV2(t, payer, pr))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("paid %s: HTTP %d %s, want 200", tt.path, resp.StatusCode, body)
			}
			if !json.Valid(body) || !bytes.Contains(body, []byte(`"city":"Oslo"`)) {
				t.Errorf("paid body = %s, want JSON about Oslo", body)
			}
			sr := settlementHeader(t, resp, "PAYMENT-RESPONSE")
			if !sr.Success || sr.Network != "eip155:84532" || sr.Payer != addrOf(payer) {
				t.Errorf("PAYMENT-RESPONSE = %+v, want success", sr)
			}
			if resp.Header.Get("X-PAYMENT-RESPONSE") != "" {
				t.Errorf("v2 route sent X-PAYMENT-RESPONSE")
			}
			spent += tt.price
			wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000-spent)
			wantBalance(t, w.Chain, "payTo", w.PayTo(), spent)
			if n := w.HandlerRuns(tt.route); n != 1 {
				t.Errorf("handler runs = %d, want 1", n)
			}
		})
	}
	if got := len(w.Settlements()); got != 2 {
		t.Errorf("%d settlements, want 2", got)
	}
}

func TestPaidAPIHandlerErrorSettlesNothing(t *testing.T) {
	w := startWorld(t, Options{})
	payer := fundedPayer(t, w.Chain, 1_000_000)
	// v2 POST /reports with bad bodies: each is paid for, 400s, and settles nothing.
	for _, body := range []string{`{"city":"Oslo","days":0}`, `{"city":"Oslo","days":15}`, `{"city":"","days":2}`, `not json`} {
		pr := challengeV2(t, "POST", w.APIURL+"/reports", body)
		header := paymentV2(t, payer, pr)
		resp, data := do(t, "POST", w.APIURL+"/reports", body, header)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %s: HTTP %d %s, want 400", body, resp.StatusCode, data)
		}
		if h := resp.Header.Get("PAYMENT-RESPONSE"); h != "" {
			t.Errorf("body %s: a 400 carried PAYMENT-RESPONSE %s", body, h)
		}
		var p x402.PaymentPayloadV2
		if err := x402.DecodeHeader(header.Get("Payment-Signature"), &p); err != nil {
			t.Fatal(err)
		}
		if used, err := w.Chain.AuthorizationState(t.Context(), p.Payload.Authorization.From, p.Payload.Authorization.Nonce); err != nil || used {
			t.Errorf("body %s: nonce used = %v, %v; want false", body, used, err)
		}
	}
	if n := w.HandlerRuns("POST /reports"); n != 4 {
		t.Errorf("handler runs = %d, want 4", n)
	}
	// v1 GET /weather with bad units.
	pr, _ := challengeV1(t, "GET", w.APIURL+"/weather/Oslo?units=kelvin", "")
	resp, data := do(t, "GET", w.APIURL+"/weather/Oslo?units=kelvin", "", paymentV1(t, payer, pr.Accepts[0]))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-PAYMENT-RESPONSE") != "" {
		t.Errorf("bad units: HTTP %d %s (X-PAYMENT-RESPONSE %q), want 400 and no settlement", resp.StatusCode, data, resp.Header.Get("X-PAYMENT-RESPONSE"))
	}
	wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000)
	wantBalance(t, w.Chain, "payTo", w.PayTo(), 0)
	if s := w.Settlements(); len(s) != 0 {
		t.Errorf("settlements = %v, want none", s)
	}
}

func TestPaidAPIFreeRoute(t *testing.T) {
	w := startWorld(t, Options{})
	resp, body := do(t, "GET", w.APIURL+"/health", "", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("GET /health: HTTP %d %s, want 200 {\"status\":\"ok\"}", resp.StatusCode, body)
	}
	for _, h := range []string{"PAYMENT-REQUIRED", "PAYMENT-RESPONSE", "X-PAYMENT-RESPONSE"} {
		if resp.Header.Get(h) != "" {
			t.Errorf("free route sent %s", h)
		}
	}
	if n := w.HandlerRuns("GET /health"); n != 1 {
		t.Errorf("handler runs = %d, want 1", n)
	}
}

func TestPaidAPIv2IgnoresXPayment(t *testing.T) {
	w, payer, pr := climateChallenge(t)
	r := pr.Accepts[0]
	// A well-formed payment, sent in the v1 header.
	p := signForV2(t, payer, r)
	v2 := encodeHeader(t, x402.PaymentPayloadV2{X402Version: 2, Resource: pr.Resource, Accepted: r, Payload: p})
	v1 := encodeHeader(t, x402.PaymentPayloadV1{X402Version: 1, Scheme: "exact", Network: "base-sepolia", Payload: p})
	for _, h := range []string{v1, v2} {
		resp, _ := do(t, "GET", w.APIURL+"/climate/Oslo", "", http.Header{"X-Payment": {h}})
		var got x402.PaymentRequiredV2
		if resp.StatusCode != http.StatusPaymentRequired || x402.DecodeHeader(resp.Header.Get("PAYMENT-REQUIRED"), &got) != nil || got.Error != "Payment required" {
			t.Errorf("X-PAYMENT on a v2 route: HTTP %d, error %q; want 402 Payment required", resp.StatusCode, got.Error)
		}
	}
	wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000)
	if n := w.HandlerRuns("GET /climate/{city}"); n != 0 {
		t.Errorf("handler runs = %d, want 0", n)
	}
}

func TestPaidAPIUndecodableHeader(t *testing.T) {
	w, payer, pr := climateChallenge(t)
	// base64url differs from standard base64 in its alphabet ('-' '_' for '+' '/') and in
	// dropping the '=' padding. Base64 of ASCII JSON seldom holds '+' or '/', so build a
	// payment whose standard encoding is padded, and drop the padding.
	r := pr.Accepts[0]
	p := signForV2(t, payer, r)
	var urlSafe string
	for pad := range 3 {
		good := encodeHeader(t, x402.PaymentPayloadV2{X402Version: 2, Resource: pr.Resource, Accepted: r, Payload: p,
			Extensions: json.RawMessage(`{"pad":"` + strings.Repeat("x", pad) + `"}`)})
		if strings.HasSuffix(good, "=") {
			raw, err := base64.StdEncoding.DecodeString(good)
			if err != nil {
				t.Fatal(err)
			}
			urlSafe = base64.RawURLEncoding.EncodeToString(raw)
			break
		}
	}
	for name, h := range map[string]string{
		"not base64":     "%%% not base64 %%%",
		"base64url":      urlSafe,
		"base64 of text": base64.StdEncoding.EncodeToString([]byte("hello")),
		"version 1":      base64.StdEncoding.EncodeToString([]byte(`{"x402Version":1,"scheme":"exact","network":"base-sepolia","payload":{}}`)),
	} {
		resp, body := do(t, "GET", w.APIURL+"/climate/Oslo", "", http.Header{"Payment-Signature": {h}})
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("Invalid payment")) {
			t.Errorf("v2 %s: HTTP %d %s, want 400 Invalid payment", name, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "GET", w.APIURL+"/weather/Oslo", "", http.Header{"X-Payment": {"%%%"}})
	var v1 x402.PaymentRequiredV1
	if resp.StatusCode != http.StatusPaymentRequired || json.Unmarshal(body, &v1) != nil || !strings.Contains(v1.Error, "base64") || len(v1.Accepts) != 1 {
		t.Errorf("v1 undecodable: HTTP %d %s, want 402 with a base64 error and the requirements", resp.StatusCode, body)
	}
	if s := w.Settlements(); len(s) != 0 {
		t.Errorf("settlements = %v, want none", s)
	}
}

func TestPaidAPIMismatchAndInvalid(t *testing.T) {
	w, payer, pr := climateChallenge(t)
	url := w.APIURL + "/climate/Oslo"
	r := pr.Accepts[0]
	send := func(acc x402.RequirementV2, p x402.ExactEVMPayload) (int, x402.PaymentRequiredV2) {
		h := encodeHeader(t, x402.PaymentPayloadV2{X402Version: 2, Resource: pr.Resource, Accepted: acc, Payload: p})
		resp, _ := do(t, "GET", url, "", http.Header{"Payment-Signature": {h}})
		var got x402.PaymentRequiredV2
		if resp.StatusCode == http.StatusPaymentRequired {
			if err := x402.DecodeHeader(resp.Header.Get("PAYMENT-REQUIRED"), &got); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, got
	}
	fields := func(mut func(*x402.RequirementV2)) x402.RequirementV2 {
		acc := r
		acc.Raw = nil
		mut(&acc)
		return acc
	}
	good := signForV2(t, payer, r)
	for name, acc := range map[string]x402.RequirementV2{
		"lower-case payTo": fields(func(a *x402.RequirementV2) { a.PayTo = strings.ToLower(a.PayTo) }),
		"other amount":     fields(func(a *x402.RequirementV2) { a.Amount = "1" }),
		"other network":    fields(func(a *x402.RequirementV2) { a.Network = "eip155:8453" }),
		"other timeout":    fields(func(a *x402.RequirementV2) { a.MaxTimeoutSeconds = 60 }),
	} {
		if code, got := send(acc, good); code != http.StatusPaymentRequired || got.Error != "No matching payment requirements" {
			t.Errorf("%s: HTTP %d, error %q; want 402 No matching payment requirements", name, code, got.Error)
		}
	}
	// Matching requirement, but the signed value is not the amount: the facilitator says so.
	low := signFor(t, payer, r.Network, "1", r.Asset, r.PayTo, r.MaxTimeoutSeconds, r.Extra)
	if code, got := send(r, low); code != http.StatusPaymentRequired || got.Error != "invalid_exact_evm_payload_authorization_value_mismatch" {
		t.Errorf("underpaid: HTTP %d, error %q; want 402 invalid_exact_evm_payload_authorization_value_mismatch", code, got.Error)
	}
	// An unfunded payer on v1.
	prV1, _ := challengeV1(t, "GET", w.APIURL+"/weather/Oslo", "")
	broke := newKey(t)
	resp, body := do(t, "GET", w.APIURL+"/weather/Oslo", "", paymentV1(t, broke, prV1.Accepts[0]))
	var v1 x402.PaymentRequiredV1
	if resp.StatusCode != http.StatusPaymentRequired || json.Unmarshal(body, &v1) != nil || v1.Error != "insufficient_funds" || v1.Payer != addrOf(broke) {
		t.Errorf("unfunded v1: HTTP %d %s, want 402 insufficient_funds with the payer", resp.StatusCode, body)
	}
	// Other network on v1: no matching requirement.
	bad := prV1.Accepts[0]
	bad.Network = "base"
	resp, body = do(t, "GET", w.APIURL+"/weather/Oslo", "", paymentV1(t, payer, bad))
	if resp.StatusCode != http.StatusPaymentRequired || !bytes.Contains(body, []byte("Unable to find matching payment requirements")) {
		t.Errorf("v1 other network: HTTP %d %s, want 402 no match", resp.StatusCode, body)
	}
	wantBalance(t, w.Chain, "payer", addrOf(payer), 1_000_000)
	if n := w.HandlerRuns("GET /climate/{city}") + w.HandlerRuns("GET /weather/{city}"); n != 0 {
		t.Errorf("handlers ran %d times, want 0", n)
	}
}

// TestPaidAPISettleFailure front-runs the settlement: the handler itself submits the
// payment's authorization, so the API's settle fails and the handler's output is dropped.
func TestPaidAPISettleFailure(t *testing.T) {
	var w *World
	frontRun := func(header string, v2 bool) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			var p x402.ExactEVMPayload
			if v2 {
				var pl x402.PaymentPayloadV2
				if err := x402.DecodeHeader(r.Header.Get(header), &pl); err != nil {
					t.Error(err)
				}
				p = pl.Payload
			} else {
				var pl x402.PaymentPayloadV1
				if err := x402.DecodeHeader(r.Header.Get(header), &pl); err != nil {
					t.Error(err)
				}
				p = pl.Payload
			}
			if _, err := w.Chain.TransferWithAuthorization(r.Context(), p.Authorization, p.Signature); err != nil {
				t.Errorf("front-run: %v", err)
			}
			rw.Write([]byte(`{"secret":"content"}`))
		})
	}
	w = startWorld(t, Options{Routes: []Route{
		{Method: "GET", Pattern: "/v1", Price: money.USDC(700), Version: 1, Handler: frontRun("X-Payment", false)},
		{Method: "GET", Pattern: "/v2", Price: money.USDC(700), Version: 2, Handler: frontRun("Payment-Signature", true)},
	}})
	payer := fundedPayer(t, w.Chain, 10_000)

	prV1, _ := challengeV1(t, "GET", w.APIURL+"/v1", "")
	resp, body := do(t, "GET", w.APIURL+"/v1", "", paymentV1(t, payer, prV1.Accepts[0]))
	var v1 x402.PaymentRequiredV1
	if resp.StatusCode != http.StatusPaymentRequired || json.Unmarshal(body, &v1) != nil || v1.Error != "invalid_exact_evm_nonce_already_used" {
		t.Errorf("v1 settle failure: HTTP %d %s, want 402 invalid_exact_evm_nonce_already_used", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte("secret")) {
		t.Errorf("v1 settle failure leaked the handler's body")
	}

	prV2 := challengeV2(t, "GET", w.APIURL+"/v2", "")
	resp, body = do(t, "GET", w.APIURL+"/v2", "", paymentV2(t, payer, prV2))
	if resp.StatusCode != http.StatusPaymentRequired || bytes.Contains(body, []byte("secret")) {
		t.Errorf("v2 settle failure: HTTP %d %s, want 402 without the content", resp.StatusCode, body)
	}
	sr := settlementHeader(t, resp, "PAYMENT-RESPONSE")
	if sr.Success || sr.ErrorReason != "invalid_exact_evm_nonce_already_used" || sr.Transaction != "" || sr.Network != "eip155:84532" {
		t.Errorf("PAYMENT-RESPONSE = %+v, want failure invalid_exact_evm_nonce_already_used", sr)
	}
	var again x402.PaymentRequiredV2
	if err := x402.DecodeHeader(resp.Header.Get("PAYMENT-REQUIRED"), &again); err != nil || again.Error != "invalid_exact_evm_nonce_already_used" || len(again.Accepts) != 1 {
		t.Errorf("PAYMENT-REQUIRED after settle failure = %+v (%v)", again, err)
	}
	// The front-runs moved the money (to payTo, as signed); the API recorded no settlement.
	wantBalance(t, w.Chain, "payTo", w.PayTo(), 1400)
	if s := w.Settlements(); len(s) != 0 {
		t.Errorf("settlements = %v, want none", s)
	}
}

func TestSpecServed(t *testing.T) {
	w := startWorld(t, Options{})
	resp, body := do(t, "GET", w.APIURL+"/openapi.yaml", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: HTTP %d", resp.StatusCode)
	}
	want := bytes.Replace(weatherSpec, []byte("url: http://127.0.0.1:8402"), []byte("url: "+w.APIURL), 1)
	if bytes.Equal(want, weatherSpec) {
		t.Fatal("the weather spec no longer has the placeholder server URL")
	}
	if !bytes.Equal(body, want) {
		t.Errorf("served spec differs from the weather spec with the server URL replaced:\n%s", body)
	}
	if !bytes.Equal(w.SpecYAML(), want) {
		t.Errorf("SpecYAML differs from the served spec")
	}
	var doc struct {
		Servers []struct{ URL string } `yaml:"servers"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != w.APIURL {
		t.Errorf("served spec servers = %+v (%v), want [%s]", doc.Servers, err, w.APIURL)
	}
}

func TestRewriteServerURL(t *testing.T) {
	for name, spec := range map[string]string{
		"plain":         "openapi: 3.0.3\nservers:\n  - url: http://old:1 # keep\npaths: {}\n",
		"double quoted": "openapi: 3.0.3\nservers:\n  - description: x\n    url: \"http://old:1\"\npaths: {}\n",
		"single quoted": "servers: [{url: 'http://old:1'}]\n",
	} {
		out, err := rewriteServerURL([]byte(spec), "http://new:2")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := strings.Replace(spec, "http://old:1", "http://new:2", 1); string(out) != got {
			t.Errorf("%s: got\n%s\nwant\n%s", name, out, got)
		}
	}
	for name, spec := range map[string]string{
		"no servers": "openapi: 3.0.3\n", "empty servers": "servers: []\n", "not yaml": "servers: [\n",
	} {
		if _, err := rewriteServerURL([]byte(spec), "http://new:2"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEmbeddedSpecMatchesTestdata(t *testing.T) {
	want, err := os.ReadFile("../../testdata/specs/weather.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(weatherSpec, want) {
		t.Errorf("tools/x402test/weather.yaml differs from testdata/specs/weather.yaml: copy it again (cp testdata/specs/weather.yaml tools/x402test/)")
	}
}

func TestWeatherData(t *testing.T) {
	a, b := fakeWeather("Oslo", 0), fakeWeather(" oslo ", 0)
	if a.TempC != b.TempC || a.Conditions != b.Conditions {
		t.Errorf("Oslo and ' oslo ' differ: %+v vs %+v", a, b)
	}
	differs := false
	for _, city := range []string{"Lima", "Cairo", "Tromsø", "Reykjavík"} {
		if c := fakeWeather(city, 0); c.TempC != a.TempC || c.Conditions != a.Conditions {
			differs = true
		}
	}
	if !differs {
		t.Errorf("every city has Oslo's weather")
	}

	rec := newBufferedResponse()
	r := httptest.NewRequest("GET", "/weather/Oslo?units=imperial", nil)
	r.SetPathValue("city", "Oslo")
	serveWeather(rec, r)
	var wx Weather
	if err := json.Unmarshal(rec.body.Bytes(), &wx); err != nil || wx.TempF == nil || math.Abs(*wx.TempF-(wx.TempC*9/5+32)) > 0.051 {
		t.Errorf("imperial weather = %s (%v), want tempF = tempC*9/5+32", rec.body.Bytes(), err)
	}

	rec = newBufferedResponse()
	serveReport(rec, httptest.NewRequest("POST", "/reports", strings.NewReader(`{"city":"Oslo","days":14}`)))
	var rep struct {
		City string
		Days []Weather
	}
	if err := json.Unmarshal(rec.body.Bytes(), &rep); err != nil || rep.City != "Oslo" || len(rep.Days) != 14 || rep.Days[13].Day != 14 {
		t.Errorf("14-day report = %s (%v)", rec.body.Bytes(), err)
	}
}

func TestWorldOptions(t *testing.T) {
	payTo := "0x209693bc6afc0c5328ba36faf03c514ef312287c" // lower case in, checksummed out
	w := startWorld(t, Options{ChainID: big.NewInt(31337), PayTo: payTo, MaxTimeoutSeconds: 60})
	if got, want := w.PayTo(), "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"; got != want {
		t.Errorf("PayTo = %s, want %s", got, want)
	}
	pr := challengeV2(t, "GET", w.APIURL+"/climate/Lima", "")
	if r := pr.Accepts[0]; r.Network != "eip155:31337" || r.MaxTimeoutSeconds != 60 || r.PayTo != w.PayTo() {
		t.Errorf("requirement = %+v, want chain 31337, 60 s, payTo %s", r, w.PayTo())
	}
	prV1, _ := challengeV1(t, "GET", w.APIURL+"/weather/Lima", "")
	if r := prV1.Accepts[0]; r.Network != "eip155:31337" {
		t.Errorf("v1 network = %q, want eip155:31337 for a chain without a v1 name", r.Network)
	}
	payer := fundedPayer(t, w.Chain, 1_000_000)
	resp, body := do(t, "GET", w.APIURL+"/climate/Lima", "", paymentV2(t, payer, pr))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("paid on chain 31337: HTTP %d %s", resp.StatusCode, body)
	}
	wantBalance(t, w.Chain, "payTo", w.PayTo(), PriceClimate)

	if _, err := Start(t.Context(), Options{PayTo: "nobody"}); err == nil {
		t.Errorf("Start with PayTo nobody: no error")
	}
	if _, err := Start(t.Context(), Options{Routes: []Route{{Pattern: "/x", Price: money.USDC(1), Version: 3, Handler: http.NotFoundHandler()}}}); err == nil {
		t.Errorf("Start with a version 3 route: no error")
	}
	if _, err := Start(t.Context(), Options{Routes: []Route{{Pattern: "/x", Price: money.New(big.NewInt(1), 18), Version: 2, Handler: http.NotFoundHandler()}}}); err == nil || !strings.Contains(err.Error(), "price") {
		t.Errorf("Start with a price finer than the token's decimals: %v, want a price error", err)
	}
	if _, err := Start(t.Context(), Options{Routes: []Route{{Pattern: "/x", Price: money.USDC(-1), Version: 2, Handler: http.NotFoundHandler()}}}); err == nil || !strings.Contains(err.Error(), "negative price") {
		t.Errorf("Start with a negative price: %v, want a negative price error", err)
	}
	if _, err := Start(t.Context(), Options{Routes: []Route{
		{Pattern: "/x", Handler: http.NotFoundHandler()}, {Pattern: "/x", Handler: http.NotFoundHandler()},
	}}); err == nil {
		t.Errorf("Start with duplicate routes: no error")
	}
	// A price written in other decimals is asked for in the token's atomic units.
	w3 := startWorld(t, Options{Routes: []Route{{Method: "GET", Pattern: "/x", Price: money.New(big.NewInt(700_000_000_000_000), 18), Version: 2, Handler: http.NotFoundHandler()}}})
	if r := challengeV2(t, "GET", w3.APIURL+"/x", "").Accepts[0]; r.Amount != "700" {
		t.Errorf("price 0.0007 in 18 decimals: requirement amount %q, want \"700\"", r.Amount)
	}
	// Custom routes without a spec serve none.
	w2 := startWorld(t, Options{Routes: []Route{{Pattern: "/x", Handler: http.NotFoundHandler()}}})
	if resp, _ := do(t, "GET", w2.APIURL+"/openapi.yaml", "", nil); resp.StatusCode != http.StatusNotFound || w2.SpecYAML() != nil {
		t.Errorf("custom routes: /openapi.yaml HTTP %d, SpecYAML %d bytes; want 404 and nil", resp.StatusCode, len(w2.SpecYAML()))
	}
}

func TestNothingImportsTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" {
			t.Errorf("package x402test depends on testing")
		}
	}
}

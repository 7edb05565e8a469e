package x402test

import (
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/google/go-cmp/cmp"
	"github.com/tollhq/toll/tools/x402"
)

// facilitatorFixture is a chain, its facilitator over HTTP, a funded payer and a payee.
type facilitatorFixture struct {
	c     *Chain
	url   string
	payer *ecdsa.PrivateKey
	payTo string
}

const fixtureFunds = 1_000_000

func newFacilitatorFixture(t testing.TB) *facilitatorFixture {
	t.Helper()
	c := newChain(t, ChainOptions{})
	srv := httptest.NewServer(NewFacilitator(c, nil))
	t.Cleanup(srv.Close)
	return &facilitatorFixture{c: c, url: srv.URL, payer: fundedPayer(t, c, fixtureFunds), payTo: addrOf(newKey(t))}
}

// parts are the pieces of a facilitator request, to be changed by a test case before
// request() signs and assembles them.
type parts struct {
	version int
	// The server's requirement.
	reqScheme, reqNetwork, amount, payTo, asset string
	extra                                       string // raw JSON; "" for none
	// The payment.
	payScheme, payNetwork string
	auth                  x402.Authorization
	signer                *ecdsa.PrivateKey
	dom                   domain
	afterSign             func(a *x402.Authorization, sig []byte) []byte // may change both
}

func (fx *facilitatorFixture) parts(t testing.TB, version int, amount int64) *parts {
	network := fx.c.NetworkV2()
	if version == 1 {
		network = fx.c.NetworkV1()
	}
	return &parts{
		version: version, reqScheme: "exact", reqNetwork: network, amount: strconv.FormatInt(amount, 10),
		payTo: fx.payTo, asset: fx.c.TokenAddress(), extra: `{"name":"USDC","version":"2"}`,
		payScheme: "exact", payNetwork: network,
		auth:   newAuthorization(t, fx.payer, fx.payTo, amount),
		signer: fx.payer, dom: chainDomain(fx.c),
	}
}

func (p *parts) request(t testing.TB) x402.FacilitatorRequest {
	t.Helper()
	sig := hexutil.MustDecode(signAuthorization(t, p.signer, p.dom, "TransferWithAuthorization", p.auth))
	auth := p.auth
	if p.afterSign != nil {
		sig = p.afterSign(&auth, sig)
	}
	payload := x402.ExactEVMPayload{Authorization: auth}
	if sig != nil {
		payload.Signature = hexutil.Encode(sig)
	}
	var extra json.RawMessage
	if p.extra != "" {
		extra = json.RawMessage(p.extra)
	}
	var pl, rq any
	if p.version == 1 {
		pl = x402.PaymentPayloadV1{X402Version: 1, Scheme: p.payScheme, Network: p.payNetwork, Payload: payload}
		rq = x402.RequirementV1{Scheme: p.reqScheme, Network: p.reqNetwork, MaxAmountRequired: p.amount,
			Resource: "http://127.0.0.1/x", MimeType: "application/json", PayTo: p.payTo, MaxTimeoutSeconds: 300,
			Asset: p.asset, Extra: extra}
	} else {
		req := x402.RequirementV2{Scheme: p.reqScheme, Network: p.reqNetwork, Amount: p.amount, Asset: p.asset,
			PayTo: p.payTo, MaxTimeoutSeconds: 300, Extra: extra}
		acc := req
		acc.Scheme, acc.Network = p.payScheme, p.payNetwork
		pl = x402.PaymentPayloadV2{X402Version: 2, Accepted: acc, Payload: payload}
		rq = req
	}
	plJSON, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	rqJSON, err := json.Marshal(rq)
	if err != nil {
		t.Fatal(err)
	}
	return x402.FacilitatorRequest{X402Version: p.version, PaymentPayload: plJSON, PaymentRequirements: rqJSON}
}

// post sends body to the facilitator and decodes a 200 answer into out.
func post(t testing.TB, url string, body any, out any) int {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, data := do(t, http.MethodPost, url, string(b), nil)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
	}
	return resp.StatusCode
}

// facilitate posts req to the facilitator's path and decodes its answer, which must be a
// 200.
func facilitate[T any](t testing.TB, fx *facilitatorFixture, path string, req x402.FacilitatorRequest) T {
	t.Helper()
	var out T
	if code := post(t, fx.url+path, req, &out); code != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d, want 200", path, code)
	}
	return out
}

func (fx *facilitatorFixture) verify(t testing.TB, req x402.FacilitatorRequest) x402.VerifyResponse {
	t.Helper()
	return facilitate[x402.VerifyResponse](t, fx, "/verify", req)
}

func (fx *facilitatorFixture) settle(t testing.TB, req x402.FacilitatorRequest) x402.SettlementResponse {
	t.Helper()
	return facilitate[x402.SettlementResponse](t, fx, "/settle", req)
}

func TestFacilitatorVerifyChecks(t *testing.T) {
	fx := newFacilitatorFixture(t)
	now := time.Now().Unix()
	ts := func(d int64) string { return strconv.FormatInt(now+d, 10) }
	poor := fundedPayer(t, fx.c, 999)

	tests := []struct {
		name   string
		mutate func(p *parts)
		want   map[int]string // x402 version → invalidReason
	}{
		{"scheme", func(p *parts) { p.payScheme, p.reqScheme = "upto", "upto" },
			map[int]string{1: "invalid_exact_evm_unsupported_scheme", 2: "invalid_exact_evm_scheme"}},
		{"other network in the payment", func(p *parts) { p.payNetwork = "eip155:8453" },
			map[int]string{1: "invalid_exact_evm_network_mismatch", 2: "invalid_exact_evm_network_mismatch"}},
		{"other chain on both sides", func(p *parts) { p.payNetwork, p.reqNetwork = "base", "base" },
			map[int]string{1: "invalid_network", 2: "invalid_network"}},
		{"unknown network", func(p *parts) { p.payNetwork, p.reqNetwork = "nowhere", "nowhere" },
			map[int]string{1: "invalid_exact_evm_failed_to_get_network_config", 2: "invalid_exact_evm_failed_to_get_network_config"}},
		{"other asset", func(p *parts) { p.asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e" },
			map[int]string{1: "invalid_payment_requirements", 2: "invalid_payment_requirements"}},
		{"missing signature", func(p *parts) { p.afterSign = func(*x402.Authorization, []byte) []byte { return nil } },
			map[int]string{1: "invalid_exact_evm_payload_missing_signature", 2: "invalid_exact_evm_payload_missing_signature"}},
		{"other payTo", func(p *parts) { p.payTo = addrOf(newKey(t)) },
			map[int]string{1: "invalid_exact_evm_payload_recipient_mismatch", 2: "invalid_exact_evm_recipient_mismatch"}},
		{"malformed nonce", func(p *parts) {
			p.afterSign = func(a *x402.Authorization, s []byte) []byte { a.Nonce = "0x1234"; return s }
		},
			map[int]string{1: "invalid_exact_evm_payload", 2: "invalid_exact_evm_payload"}},
		{"amount + 1", func(p *parts) { p.amount = "1001" },
			map[int]string{1: "invalid_exact_evm_payload_authorization_value", 2: "invalid_exact_evm_payload_authorization_value_mismatch"}},
		{"amount - 1", func(p *parts) { p.amount = "999" },
			map[int]string{1: "invalid_exact_evm_payload_authorization_value", 2: "invalid_exact_evm_payload_authorization_value_mismatch"}},
		{"expired", func(p *parts) { p.auth.ValidBefore = ts(-1) },
			map[int]string{1: "invalid_exact_evm_payload_authorization_valid_before", 2: "invalid_exact_evm_payload_authorization_valid_before"}},
		{"valid for under 6 s", func(p *parts) { p.auth.ValidBefore = ts(3) },
			map[int]string{1: "invalid_exact_evm_payload_authorization_valid_before", 2: "invalid_exact_evm_payload_authorization_valid_before"}},
		{"not yet valid", func(p *parts) { p.auth.ValidAfter = ts(120) },
			map[int]string{1: "invalid_exact_evm_payload_authorization_valid_after", 2: "invalid_exact_evm_payload_authorization_valid_after"}},
		{"missing extra", func(p *parts) { p.extra = "" },
			map[int]string{1: "invalid_exact_evm_missing_eip712_domain", 2: "invalid_exact_evm_missing_eip712_domain"}},
		{"extra without version", func(p *parts) { p.extra = `{"name":"USDC"}` },
			map[int]string{1: "invalid_exact_evm_missing_eip712_domain", 2: "invalid_exact_evm_missing_eip712_domain"}},
		{"wrong EIP-712 name in extra", func(p *parts) {
			p.extra = `{"name":"USD Coin","version":"2"}`
			p.dom.name = "USD Coin"
		}, map[int]string{1: "invalid_exact_evm_token_name_mismatch", 2: "invalid_exact_evm_token_name_mismatch"}},
		{"wrong EIP-712 version in extra", func(p *parts) { p.extra = `{"name":"USDC","version":"1"}` },
			map[int]string{1: "invalid_exact_evm_token_version_mismatch", 2: "invalid_exact_evm_token_version_mismatch"}},
		{"signed with the wrong EIP-712 name", func(p *parts) { p.dom.name = "USD Coin" },
			map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"signed for another chain", func(p *parts) { p.dom.chainID = big.NewInt(8453) },
			map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"signed by someone else", func(p *parts) { p.signer = newKey(t) },
			map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"bit flipped in r", func(p *parts) {
			p.afterSign = func(_ *x402.Authorization, s []byte) []byte { s[5] ^= 1; return s }
		}, map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"v = 0", func(p *parts) {
			p.afterSign = func(_ *x402.Authorization, s []byte) []byte { s[64] -= 27; return s }
		}, map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"64-byte signature", func(p *parts) {
			p.afterSign = func(_ *x402.Authorization, s []byte) []byte { return s[:64] }
		}, map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"high s", func(p *parts) {
			p.afterSign = func(_ *x402.Authorization, s []byte) []byte { return highS(s) }
		}, map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"value changed after signing", func(p *parts) {
			p.afterSign = func(a *x402.Authorization, s []byte) []byte { a.Value, p.amount = "2000", "2000"; return s }
		}, map[int]string{1: "invalid_exact_evm_payload_signature", 2: "invalid_exact_evm_signature"}},
		{"insufficient balance", func(p *parts) {
			p.signer = poor
			p.auth.From = addrOf(poor)
		}, map[int]string{1: "insufficient_funds", 2: "invalid_exact_evm_insufficient_balance"}},
	}
	for _, tt := range tests {
		for _, version := range []int{1, 2} {
			t.Run(tt.name+"/v"+strconv.Itoa(version), func(t *testing.T) {
				p := fx.parts(t, version, 1000)
				tt.mutate(p)
				vr := fx.verify(t, p.request(t))
				if vr.IsValid || vr.InvalidReason != tt.want[version] {
					t.Errorf("verify = %+v, want invalid with %q", vr, tt.want[version])
				}
				if vr.InvalidMessage == "" {
					t.Errorf("verify gave no invalidMessage")
				}
			})
		}
	}
	// None of that moved money.
	wantBalance(t, fx.c, "payer", addrOf(fx.payer), fixtureFunds)
	wantBalance(t, fx.c, "poor payer", addrOf(poor), 999)
}

func TestFacilitatorVerifySettle(t *testing.T) {
	fx := newFacilitatorFixture(t)
	payer := addrOf(fx.payer)
	balance := int64(fixtureFunds)
	for _, version := range []int{1, 2} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			p := fx.parts(t, version, 1000)
			req := p.request(t)
			if vr := fx.verify(t, req); !vr.IsValid || vr.Payer != payer {
				t.Fatalf("verify = %+v, want valid with payer %s", vr, payer)
			}
			sr := fx.settle(t, req)
			if !sr.Success || len(sr.Transaction) != 66 || sr.Network != p.reqNetwork || sr.Payer != payer {
				t.Fatalf("settle = %+v, want success on %s by %s", sr, p.reqNetwork, payer)
			}
			balance -= 1000
			wantBalance(t, fx.c, "payer", payer, balance)
			wantBalance(t, fx.c, "payTo", fx.payTo, fixtureFunds-balance)
			if used, err := fx.c.AuthorizationState(t.Context(), payer, p.auth.Nonce); err != nil || !used {
				t.Errorf("authorizationState = %v, %v; want true", used, err)
			}

			// Replays fail, at verify and at settle, and move nothing.
			if vr := fx.verify(t, req); vr.IsValid || vr.InvalidReason != "invalid_exact_evm_nonce_already_used" {
				t.Errorf("verify replay = %+v, want invalid_exact_evm_nonce_already_used", vr)
			}
			want := x402.SettlementResponse{Success: false, ErrorReason: "invalid_exact_evm_nonce_already_used",
				Transaction: "", Network: p.reqNetwork, Payer: payer}
			got := fx.settle(t, req)
			got.ErrorMessage = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("settle replay (-want +got):\n%s", diff)
			}
			wantBalance(t, fx.c, "payer after replay", payer, balance)
		})
	}
}

func TestFacilitatorSettleInvalid(t *testing.T) {
	fx := newFacilitatorFixture(t)
	p := fx.parts(t, 2, 1000)
	p.amount = "1"
	sr := fx.settle(t, p.request(t))
	if sr.Success || sr.ErrorReason != "invalid_exact_evm_payload_authorization_value_mismatch" || sr.Transaction != "" {
		t.Errorf("settle = %+v, want value mismatch without a transaction", sr)
	}
	wantBalance(t, fx.c, "payer", addrOf(fx.payer), fixtureFunds)
}

func TestFacilitatorConcurrentSettleOnce(t *testing.T) {
	fx := newFacilitatorFixture(t)
	req := fx.parts(t, 2, 1000).request(t)
	const n = 4
	results := make([]x402.SettlementResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = fx.settle(t, req)
		})
	}
	wg.Wait()
	var ok int
	for _, r := range results {
		switch {
		case r.Success:
			ok++
		case r.ErrorReason != "invalid_exact_evm_nonce_already_used":
			t.Errorf("a losing settle = %+v, want invalid_exact_evm_nonce_already_used", r)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent settles of one payment succeeded, want 1", ok, n)
	}
	wantBalance(t, fx.c, "payer", addrOf(fx.payer), fixtureFunds-1000)
}

func TestFacilitatorSettleRevertMapping(t *testing.T) {
	// Settle maps the token's revert strings to x402 error codes (revertCode).
	for reason, want := range map[string]string{
		"FiatTokenV2: authorization is expired":          "invalid_exact_evm_payload_authorization_valid_before",
		"FiatTokenV2: authorization is not yet valid":    "invalid_exact_evm_payload_authorization_valid_after",
		"FiatTokenV2: authorization is used or canceled": "invalid_exact_evm_nonce_already_used",
		"ERC20: transfer amount exceeds balance":         "invalid_exact_evm_insufficient_balance",
		"FiatTokenV2: invalid signature":                 "invalid_exact_evm_signature",
		"ECRecover: invalid signature 'v' value":         "invalid_exact_evm_signature",
		"something else":                                 "invalid_exact_evm_failed_to_execute_transfer",
	} {
		if got := revertCode(reason, codesV2); got != want {
			t.Errorf("revertCode(%q) = %q, want %q", reason, got, want)
		}
	}
	if got := revertCode("ERC20: transfer amount exceeds balance", codesV1); got != "insufficient_funds" {
		t.Errorf("v1 balance revert = %q, want insufficient_funds", got)
	}
}

func TestFacilitatorBadRequests(t *testing.T) {
	fx := newFacilitatorFixture(t)
	good := fx.parts(t, 2, 1000).request(t)
	for name, body := range map[string][]byte{
		"not JSON":             []byte("payment please"),
		"no payload":           []byte(`{"x402Version":2,"paymentRequirements":{}}`),
		"payload not object":   []byte(`{"x402Version":2,"paymentPayload":"x","paymentRequirements":{}}`),
		"requirements garbled": []byte(`{"x402Version":2,"paymentPayload":{"x402Version":2},"paymentRequirements":[1]}`),
	} {
		for _, path := range []string{"/verify", "/settle"} {
			if code := post(t, fx.url+path, body, nil); code != http.StatusBadRequest {
				t.Errorf("%s %s: HTTP %d, want 400", name, path, code)
			}
		}
	}
	// A version the payload does not share is a failed check, not a bad request.
	mixed := good
	mixed.X402Version = 1
	if vr := fx.verify(t, mixed); vr.IsValid || vr.InvalidReason != "invalid_x402_version" {
		t.Errorf("verify with mismatched versions = %+v, want invalid_x402_version", vr)
	}
	resp, err := http.Get(fx.url + "/verify")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /verify: HTTP %d, want 405", resp.StatusCode)
	}
}

func TestFacilitatorSupported(t *testing.T) {
	fx := newFacilitatorFixture(t)
	resp, err := http.Get(fx.url + "/supported")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got x402.SupportedResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := x402.SupportedResponse{
		Kinds: []x402.SupportedKind{
			{X402Version: 1, Scheme: "exact", Network: "base-sepolia"},
			{X402Version: 2, Scheme: "exact", Network: "eip155:84532"},
		},
		Signers: map[string][]string{"eip155:*": {fx.c.FacilitatorAddress()}},
	}
	if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
		return strings.HasSuffix(p.String(), "Extensions")
	}, cmp.Ignore())); diff != "" {
		t.Errorf("GET /supported (-want +got):\n%s", diff)
	}
}

func TestFacilitatorOtherChainID(t *testing.T) {
	// A chain id without a v1 name: v1 uses the CAIP-2 id, and payments verify and settle.
	c := newChain(t, ChainOptions{ChainID: big.NewInt(31337)})
	srv := httptest.NewServer(NewFacilitator(c, nil))
	t.Cleanup(srv.Close)
	fx := &facilitatorFixture{c: c, url: srv.URL, payer: newKey(t), payTo: addrOf(newKey(t))}
	mustMint(t, c, addrOf(fx.payer), 5000)
	if c.NetworkV1() != "eip155:31337" {
		t.Errorf("NetworkV1 = %q, want eip155:31337", c.NetworkV1())
	}
	for _, version := range []int{1, 2} {
		if sr := fx.settle(t, fx.parts(t, version, 1000).request(t)); !sr.Success {
			t.Errorf("v%d settle on chain 31337 = %+v, want success", version, sr)
		}
	}
	wantBalance(t, c, "payTo", fx.payTo, 2000)
}

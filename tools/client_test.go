package tools

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

const (
	testPayTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	testUSDC  = "0x036CbD53842c5426634e7929541eC2318f3dCF7e" // Base Sepolia USDC: allowed with the network
	otherAddr = "0x1111111111111111111111111111111111111111"
)

// hostileAPI is a paid API under the test's control: it answers the unpaid request with
// a 402 the test writes, and the paid one as the test says. It records every payment
// header it receives, so a test can prove nothing was signed.
type hostileAPI struct {
	mu       sync.Mutex
	payments []string
	methods  []string // of the paid requests
	unpaid   func(w http.ResponseWriter)
	paid     func(w http.ResponseWriter, r *http.Request)
}

func (h *hostileAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.Header.Get(x402.HeaderXPayment)
	if p == "" {
		p = r.Header.Get(x402.HeaderPaymentSignature)
	}
	if p == "" {
		h.unpaid(w)
		return
	}
	h.mu.Lock()
	h.payments = append(h.payments, p)
	h.methods = append(h.methods, r.Method)
	h.mu.Unlock()
	h.paid(w, r)
}

func (h *hostileAPI) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.payments)
}

// method is the method of the first paid request received ("" before one).
func (h *hostileAPI) method() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.methods) == 0 {
		return ""
	}
	return h.methods[0]
}

// payment is the i-th payment header received.
func (h *hostileAPI) payment(i int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.payments[i]
}

func v1Requirement(amount, network, asset, payTo string, timeout int, extra string) map[string]any {
	r := map[string]any{
		"scheme": "exact", "network": network, "maxAmountRequired": amount, "resource": "http://x/",
		"description": "", "mimeType": "application/json", "outputSchema": nil, "payTo": payTo,
		"maxTimeoutSeconds": timeout, "asset": asset,
	}
	if extra != "" {
		r["extra"] = json.RawMessage(extra)
	}
	return r
}

func good() map[string]any {
	return v1Requirement("1000", "base-sepolia", testUSDC, testPayTo, 60, `{"name":"USDC","version":"2"}`)
}

func write402(reqs ...map[string]any) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusPaymentRequired)
		json.NewEncoder(w).Encode(map[string]any{"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": reqs})
	}
}

func settledOK(w http.ResponseWriter, _ *http.Request) {
	v, _ := x402.EncodeHeader(x402.SettlementResponse{Success: true, Transaction: "0x" + strings.Repeat("ab", 32), Network: "base-sepolia"})
	w.Header().Set(x402.HeaderXPaymentResponse, v)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}`))
}

type fixture struct {
	client *Client
	ledger *ledger.Ledger
	wallet *wallet.Wallet
	op     *catalog.Operation
}

func newFixture(t testing.TB, url string, pol Policy) *fixture {
	t.Helper()
	w, led := newPayer(t)
	if pol.Networks == nil {
		pol.Networks = []string{"eip155:84532"}
	}
	c, err := New(Config{Wallet: w, Ledger: led, Policy: pol, HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	op := &catalog.Operation{
		API: "test", Name: "test_get", Method: "GET", ServerURL: url, Path: "/thing/{id}",
		Params:      []catalog.Param{{Name: "id", In: "path", Arg: "id", Required: true}},
		InputSchema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"],"additionalProperties":false}`),
		Price:       &catalog.Price{Amount: money.USDC(1000), Asset: "USDC", Scheme: "exact", Mode: "fixed"},
	}
	return &fixture{client: c, ledger: led, wallet: w, op: op}
}

// newPayer is a fresh wallet and a ledger file in the test's temporary directory, closed
// when the test ends.
func newPayer(tb testing.TB) (*wallet.Wallet, *ledger.Ledger) {
	tb.Helper()
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(tb.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { led.Close() })
	return w, led
}

// serveFixture serves api over HTTP until the test ends and returns a fixture whose
// operation calls it.
func serveFixture(t testing.TB, api http.Handler, pol Policy) *fixture {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return newFixture(t, srv.URL, pol)
}

func (f *fixture) call(t *testing.T) (*Result, error) {
	t.Helper()
	return f.client.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"42"}`), Session: "s1"})
}

// TestHostile402Refused: for each deviation from what the policy and the advertised price
// allow, nothing is signed: the server never sees a payment header, the ledger holds no
// reservation, and the error names the rule.
func TestHostile402Refused(t *testing.T) {
	tests := []struct {
		name   string
		reqs   []map[string]any
		mutate func(f *fixture)
		rule   Rule
		cap    string // with RuleCap: the cap that refused 1000 with a limit of 999
	}{
		{"amount above advertised by one", []map[string]any{v1Requirement("1001", "base-sepolia", testUSDC, testPayTo, 60, `{"name":"USDC","version":"2"}`)}, nil, RuleAdvertisedPrice, ""},
		{"other chain", []map[string]any{v1Requirement("1000", "base", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", testPayTo, 60, `{"name":"USD Coin","version":"2"}`)}, nil, RuleNetwork, ""},
		{"unknown network", []map[string]any{v1Requirement("1000", "solana", testUSDC, testPayTo, 60, `{"name":"USDC","version":"2"}`)}, nil, RuleNetwork, ""},
		{"other asset", []map[string]any{v1Requirement("1000", "base-sepolia", otherAddr, testPayTo, 60, `{"name":"USDC","version":"2"}`)}, nil, RuleAsset, ""},
		{"other EIP-712 name", []map[string]any{v1Requirement("1000", "base-sepolia", testUSDC, testPayTo, 60, `{"name":"USD Coin","version":"2"}`)}, nil, RuleAsset, ""},
		{"other scheme", []map[string]any{func() map[string]any { r := good(); r["scheme"] = "upto"; return r }()}, nil, RuleScheme, ""},
		{"no EIP-712 domain", []map[string]any{v1Requirement("1000", "base-sepolia", testUSDC, testPayTo, 60, "")}, nil, RuleMalformed, ""},
		{"zero payTo", []map[string]any{v1Requirement("1000", "base-sepolia", testUSDC, "0x0000000000000000000000000000000000000000", 60, `{"name":"USDC","version":"2"}`)}, nil, RuleMalformed, ""},
		{"payTo not pinned one", []map[string]any{good()}, func(f *fixture) { f.op.Price.PayTo = otherAddr }, RulePayTo, ""},
		{"network not advertised", []map[string]any{good()}, func(f *fixture) { f.op.Price.Network = "eip155:8453" }, RuleAdvertisedPrice, ""},
		{"free operation asks to be paid", []map[string]any{good()}, func(f *fixture) { f.op.Price = nil }, RuleAdvertisedPrice, ""},
		{"above per-call cap", []map[string]any{good()}, func(f *fixture) { f.client.policy.caps.PerCall = ptr(money.USDC(999)) }, RuleCap, ledger.CapPerCall},
		{"above per-session cap", []map[string]any{good()}, func(f *fixture) { f.client.policy.caps.PerSession = ptr(money.USDC(999)) }, RuleCap, ledger.CapPerSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &hostileAPI{unpaid: write402(tt.reqs...), paid: settledOK}
			f := serveFixture(t, api, Policy{})
			if tt.mutate != nil {
				tt.mutate(f)
			}
			_, err := f.call(t)
			var refused *RefusedError
			if !errors.As(err, &refused) || !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want a *RefusedError", err)
			}
			if refused.Rule != tt.rule || refused.Cap != tt.cap {
				t.Errorf("rule = %q, cap %q; want %q, %q (%v)", refused.Rule, refused.Cap, tt.rule, tt.cap, err)
			}
			if tt.cap != "" && (refused.Amount.Cmp(money.USDC(1000)) != 0 || refused.Limit.Cmp(money.USDC(999)) != 0 || !refused.Used.IsZero()) {
				t.Errorf("cap refusal: amount %s, limit %s, used %s; want 0.001, 0.000999, 0", refused.Amount, refused.Limit, refused.Used)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("the refusal names a command-line flag: %v", err)
			}
			if n := api.count(); n != 0 {
				t.Fatalf("the server received %d payment(s); nothing may be signed", n)
			}
			spends, err := f.ledger.Spends(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(spends) != 0 {
				t.Errorf("ledger holds %d reservations after a refusal", len(spends))
			}
			events, err := f.ledger.Events(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Kind != ledger.KindRefused {
				t.Errorf("ledger events = %+v, want one refused event", events)
			}
		})
	}
}

// decodeV1 decodes an X-PAYMENT header and checks its signature with the wallet's
// independent recovery.
func decodeV1(t *testing.T, header string, payer wallet.Address) x402.PaymentPayloadV1 {
	t.Helper()
	var p x402.PaymentPayloadV1
	if err := x402.DecodeHeader(header, &p); err != nil {
		t.Fatal(err)
	}
	a := p.Payload.Authorization
	from, _ := wallet.ParseAddress(a.From)
	to, _ := wallet.ParseAddress(a.To)
	value, _ := new(big.Int).SetString(a.Value, 10)
	after, _ := new(big.Int).SetString(a.ValidAfter, 10)
	before, _ := new(big.Int).SetString(a.ValidBefore, 10)
	nonce, err := wallet.ParseNonce(a.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	auth := wallet.Authorization{From: from, To: to, Value: value, ValidAfter: after, ValidBefore: before, Nonce: nonce}
	token, _ := wallet.ParseAddress(testUSDC)
	sig, _ := hex.DecodeString(strings.TrimPrefix(p.Payload.Signature, "0x"))
	got, err := wallet.Recover(wallet.Domain{Name: "USDC", Version: "2", ChainID: big.NewInt(84532), VerifyingContract: token}, auth, sig)
	if err != nil || got != payer {
		t.Fatalf("signature recovers to %v (%v), want the payer %v", got, err, payer)
	}
	return p
}

func TestDecoyFirstPaysTheOneThatFits(t *testing.T) {
	decoy := v1Requirement("5000", "base-sepolia", testUSDC, otherAddr, 60, `{"name":"USDC","version":"2"}`)
	cheaper := v1Requirement("800", "base-sepolia", testUSDC, testPayTo, 60, `{"name":"USDC","version":"2"}`)
	api := &hostileAPI{unpaid: write402(decoy, good(), cheaper), paid: settledOK}
	f := serveFixture(t, api, Policy{})
	res, err := f.call(t)
	if err != nil {
		t.Fatal(err)
	}
	if api.count() != 1 {
		t.Fatalf("%d payments sent, want 1", api.count())
	}
	p := decodeV1(t, api.payment(0), f.wallet.Address())
	if p.Payload.Authorization.Value != "800" || !strings.EqualFold(p.Payload.Authorization.To, testPayTo) {
		t.Errorf("paid %s to %s, want the cheapest fitting requirement (800 to %s)", p.Payload.Authorization.Value, p.Payload.Authorization.To, testPayTo)
	}
	if res.Payment == nil || res.Payment.Status != ledger.StatusSettled || res.Payment.Amount.Cmp(money.USDC(800)) != 0 {
		t.Errorf("receipt = %+v", res.Payment)
	}
	sp, err := f.ledger.Spends(t.Context())
	if err != nil || len(sp) != 1 || sp[0].Status != ledger.StatusSettled || sp[0].Amount.Cmp(money.USDC(800)) != 0 ||
		sp[0].HTTPStatus != http.StatusOK || sp[0].Method != api.method() {
		t.Errorf("ledger = %+v, %v; want one settled spend of 0.0008 answered 200 to %q", sp, err, api.method())
	}
}

func TestAuthorizationWindowIsCapped(t *testing.T) {
	year := v1Requirement("1000", "base-sepolia", testUSDC, testPayTo, 365*24*3600, `{"name":"USDC","version":"2"}`)
	api := &hostileAPI{unpaid: write402(year), paid: settledOK}
	f := serveFixture(t, api, Policy{MaxWindow: 2 * time.Minute})
	start := time.Now()
	if _, err := f.call(t); err != nil {
		t.Fatal(err)
	}
	p := decodeV1(t, api.payment(0), f.wallet.Address())
	before, _ := new(big.Int).SetString(p.Payload.Authorization.ValidBefore, 10)
	if limit := start.Add(2*time.Minute + 2*time.Second).Unix(); before.Int64() > limit {
		t.Errorf("validBefore %d is past now+2m (%d): the year-long window was not cut", before.Int64(), limit)
	}
}

// TestNoSecondPayment: whatever happens after the payment is sent, toll signs once, and the
// spend stays counted (unknown) until reconciled, with the answer's HTTP status (0 for
// none) and the request's method.
func TestNoSecondPayment(t *testing.T) {
	tests := []struct {
		name       string
		paid       func(w http.ResponseWriter, r *http.Request)
		wantErr    bool
		httpStatus int // recorded in the ledger
	}{
		{"402 after payment", func(w http.ResponseWriter, r *http.Request) { write402(good())(w) }, true, 402},
		{"reset after the body was sent", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, true, 0},
		{"never answers after payment", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // until toll gives up waiting
		}, true, 0},
		{"200 without settlement proof", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }, false, 200},
		{"500 after payment", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, false, 500},
		{"redirect after payment", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect)
		}, false, 307},
		{"failed settlement header", func(w http.ResponseWriter, r *http.Request) {
			v, _ := x402.EncodeHeader(x402.SettlementResponse{Success: false, ErrorReason: "insufficient_funds"})
			w.Header().Set(x402.HeaderXPaymentResponse, v)
			w.Write([]byte("{}"))
		}, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &hostileAPI{unpaid: write402(good()), paid: tt.paid}
			f := serveFixture(t, api, Policy{})
			res, err := f.call(t)
			if tt.wantErr {
				var perr *PaymentError
				if !errors.As(err, &perr) || !errors.Is(err, ErrPaymentNotSettled) {
					t.Fatalf("err = %v, want a *PaymentError", err)
				}
			} else if err != nil || res.Payment == nil || res.Payment.Status != ledger.StatusUnknown {
				t.Fatalf("res = %+v, err = %v; want a result with an unknown payment", res, err)
			}
			if n := api.count(); n != 1 {
				t.Fatalf("%d payments sent, want exactly 1", n)
			}
			sp, err := f.ledger.Spends(t.Context())
			if err != nil || len(sp) != 1 || sp[0].Status != ledger.StatusUnknown {
				t.Fatalf("ledger = %+v, %v; want one unknown spend", sp, err)
			}
			if sp[0].HTTPStatus != tt.httpStatus || sp[0].Method != api.method() {
				t.Errorf("ledger: method %q, HTTP status %d; want %q, %d", sp[0].Method, sp[0].HTTPStatus, api.method(), tt.httpStatus)
			}
			tot, err := f.ledger.Totals(t.Context(), "s1", "")
			if err != nil || tot.Session.Cmp(money.USDC(1000)) != 0 {
				t.Fatalf("session total = %v, %v; the unknown spend must count", tot.Session, err)
			}
		})
	}
}

func TestInvalidArgumentsSendNothing(t *testing.T) {
	var hits atomic.Int32
	f := serveFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }), Policy{})
	for _, args := range []string{`{}`, `{"id":5}`, `{"id":"1","extra":true}`, `[1]`, `{"id":`} {
		_, err := f.client.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(args)})
		if !errors.Is(err, ErrInvalidArguments) {
			t.Errorf("args %s: err = %v, want ErrInvalidArguments", args, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests sent for invalid arguments", n)
	}
}

func TestNot402IsPassedThrough(t *testing.T) {
	f := serveFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/thing/a%2Fb%20c" {
			http.Error(w, "bad path "+r.URL.EscapedPath(), 400)
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(strings.Repeat("x", 100)))
	}), Policy{})
	c, err := New(Config{Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"base-sepolia"}}, MaxResponseBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"a/b c"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 404 || res.Payment != nil || !res.Truncated || len(res.Body) != 10 {
		t.Errorf("res = %+v", res)
	}
}

func TestV2EchoesAcceptedAndPaysOnce(t *testing.T) {
	accepted := `{"scheme":"exact","network":"eip155:84532","amount":"1000","asset":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","payTo":"0x209693bc6afc0c5328ba36faf03c514ef312287c","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`
	api := &hostileAPI{
		unpaid: func(w http.ResponseWriter) {
			w.Header().Set(x402.HeaderPaymentRequired, base64.StdEncoding.EncodeToString([]byte(`{"x402Version":2,"resource":{"url":"http://x/"},"accepts":[`+accepted+`]}`)))
			w.WriteHeader(402)
			w.Write([]byte("{}"))
		},
		paid: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(x402.HeaderXPayment) != "" {
				http.Error(w, "v1 header on a v2 route", 400)
				return
			}
			v, _ := x402.EncodeHeader(x402.SettlementResponse{Success: true, Transaction: "0x01", Network: "eip155:84532"})
			w.Header().Set(x402.HeaderPaymentResponse, v)
			w.Write([]byte(`{"v":2}`))
		},
	}
	f := serveFixture(t, api, Policy{})
	res, err := f.call(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.Payment.Status != ledger.StatusSettled || res.Payment.Version != 2 {
		t.Errorf("receipt %+v", res.Payment)
	}
	raw, _ := base64.StdEncoding.DecodeString(api.payment(0))
	if !strings.Contains(string(raw), `"accepted":`+accepted) {
		t.Errorf("accepted not echoed exactly: %s", raw)
	}
}

func decodeInto(h string, v any) error { return x402.DecodeHeader(h, v) }

// TestCredentialsAreSentNotRecorded: an API's own credentials come from the environment,
// reach the API, and appear neither in the logs nor in the ledger.
func TestCredentialsAreSentNotRecorded(t *testing.T) {
	const secret = "sk-live-do-not-log-7f3a"
	var got struct{ header, query string }
	api := &hostileAPI{unpaid: write402(good()), paid: func(w http.ResponseWriter, r *http.Request) {
		got.header, got.query = r.Header.Get("X-Api-Key"), r.URL.Query().Get("api_key")
		settledOK(w, r)
	}}
	f := serveFixture(t, api, Policy{})
	var logs strings.Builder
	c, err := New(Config{
		Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"base-sepolia"}},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv: func(k string) string {
			if k == "WX_KEY" {
				return secret
			}
			return ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.op.Credentials = []catalog.Credential{{In: "header", Name: "X-Api-Key", Env: "WX_KEY"}, {In: "query", Name: "api_key", Env: "WX_KEY"}}
	if _, err := c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`)}); err != nil {
		t.Fatal(err)
	}
	if got.header != secret || got.query != secret {
		t.Errorf("API received header %q, query %q", got.header, got.query)
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("the credential appears in the logs")
	}
	events, err := f.ledger.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.URL, secret) || strings.Contains(e.Reason, secret) {
			t.Errorf("the credential appears in ledger event %d", e.Seq)
		}
	}
	// A missing variable is a clear error, and nothing is sent.
	f.op.Credentials = []catalog.Credential{{In: "header", Name: "X-Api-Key", Env: "UNSET_VAR"}}
	if _, err := c.Call(t.Context(), Call{Op: f.op, Arguments: json.RawMessage(`{"id":"1"}`)}); err == nil || !strings.Contains(err.Error(), "UNSET_VAR") {
		t.Errorf("missing credential: %v", err)
	}
}

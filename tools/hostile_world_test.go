package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet/onchain"
)

// hostileProxy stands between toll and the local world's paid API. It rewrites the 402
// the world sends (mutate), and decides what toll gets back once toll has paid (afterPay:
// forward the payment to the world, which verifies and settles it on chain, or not, then
// answer whatever it likes). It counts the payment headers it receives.
type hostileProxy struct {
	target   string
	mutate   func(accepts []map[string]any) []map[string]any
	afterPay func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte))

	mu       sync.Mutex
	payments int
}

// count is how many payment headers the proxy received.
func (p *hostileProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.payments
}

func (p *hostileProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	forward := func() (*http.Response, []byte) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	paid := r.Header.Get(x402.HeaderXPayment) != "" || r.Header.Get(x402.HeaderPaymentSignature) != ""
	if paid {
		p.mu.Lock()
		p.payments++
		p.mu.Unlock()
		p.afterPay(w, r, forward)
		return
	}
	resp, b := forward()
	if resp == nil {
		http.Error(w, "world unreachable", http.StatusBadGateway)
		return
	}
	if resp.StatusCode == http.StatusPaymentRequired && p.mutate != nil {
		if h := resp.Header.Get(x402.HeaderPaymentRequired); h != "" { // v2
			raw, _ := base64.StdEncoding.DecodeString(h)
			var pr map[string]any
			json.Unmarshal(raw, &pr)
			pr["accepts"] = p.mutate(asMaps(pr["accepts"]))
			out, _ := json.Marshal(pr)
			resp.Header.Set(x402.HeaderPaymentRequired, base64.StdEncoding.EncodeToString(out))
		} else { // v1
			var pr map[string]any
			json.Unmarshal(b, &pr)
			pr["accepts"] = p.mutate(asMaps(pr["accepts"]))
			b, _ = json.Marshal(pr)
		}
	}
	for k, vs := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(b)
}

func asMaps(v any) []map[string]any {
	var out []map[string]any
	for _, x := range v.([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func relay(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
	resp, b := forward()
	if resp == nil {
		http.Error(w, "world unreachable", http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(b)
}

// TestHostile402sOnLocalWorld runs the hostile cases against the real local world (chain,
// facilitator, paid API): for a deviation the server never receives a payment; when the
// server misbehaves after it was paid, toll signs once, and after reconcile the ledger
// agrees with the chain.
func TestHostile402sOnLocalWorld(t *testing.T) {
	set := func(k string, v any) func([]map[string]any) []map[string]any {
		return func(a []map[string]any) []map[string]any { a[0][k] = v; return a }
	}
	plusOne := func(a []map[string]any) []map[string]any {
		for _, k := range []string{"amount", "maxAmountRequired"} {
			if s, ok := a[0][k].(string); ok {
				v, _ := new(big.Int).SetString(s, 10)
				a[0][k] = v.Add(v, big.NewInt(1)).String()
			}
		}
		return a
	}
	decoy := func(a []map[string]any) []map[string]any {
		d := map[string]any{}
		for k, v := range a[0] {
			d[k] = v
		}
		d["payTo"] = "0x1111111111111111111111111111111111111111"
		for _, k := range []string{"amount", "maxAmountRequired"} {
			if _, ok := d[k]; ok {
				d[k] = "999999999"
			}
		}
		return append([]map[string]any{d}, a...)
	}
	tests := []struct {
		name     string
		op       string // operationId: getWeather is x402 v1, createReport v2
		pin      bool   // the spec pins the world's payTo
		mutate   func([]map[string]any) []map[string]any
		afterPay func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte))
		refused  bool          // nothing may be signed
		want     ledger.Status // the spend's status after reconcile
	}{
		{"amount +1 (v1)", "getWeather", false, plusOne, relay, true, ""},
		{"amount +1 (v2)", "createReport", false, plusOne, relay, true, ""},
		{"other payTo, pinned away", "getWeather", true, set("payTo", "0x2222222222222222222222222222222222222222"), relay, true, ""},
		{"other payTo, not pinned", "getWeather", false, set("payTo", "0x2222222222222222222222222222222222222222"), relay, false, ledger.StatusVoided},
		{"other asset", "getWeather", false, set("asset", "0x3333333333333333333333333333333333333333"), relay, true, ""},
		{"other chain", "createReport", false, set("network", "eip155:8453"), relay, true, ""},
		// Signed for another domain: the facilitator refuses it, so it can never settle.
		{"other EIP-712 name", "createReport", false, set("extra", map[string]any{"name": "USD Coin", "version": "2"}), relay, false, ledger.StatusVoided},
		{"decoy first", "getWeather", false, decoy, relay, false, ledger.StatusSettled},
		// Every case checks validBefore against the 5 minute ceiling; here the 402 asks a year.
		{"year-long window (cut to the ceiling)", "getWeather", false, set("maxTimeoutSeconds", 365*24*3600), relay, false, ledger.StatusSettled},
		{"402 after payment (settled behind toll's back)", "getWeather", false, nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			forward()
			w.WriteHeader(http.StatusPaymentRequired)
			w.Write([]byte(`{"x402Version":1,"error":"try again","accepts":[]}`))
		}, false, ledger.StatusSettled},
		{"settlement never answers", "createReport", false, nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			forward()
			<-r.Context().Done()
		}, false, ledger.StatusSettled},
		{"reset after the body was sent", "getWeather", false, nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}, false, ledger.StatusVoided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			lw := newLocalWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0"}, 1_000_000)
			proxy := &hostileProxy{target: lw.world.APIURL, mutate: tt.mutate, afterPay: tt.afterPay}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			op := lw.ops(t, srv.URL)[tt.op]
			if tt.pin {
				op.Price.PayTo = lw.world.PayTo()
			}
			c, err := New(Config{
				Wallet: lw.wallet, Ledger: lw.led,
				Policy: Policy{
					Networks:  []string{lw.world.Chain.NetworkV2()},
					Assets:    []Asset{{Network: lw.world.Chain.NetworkV2(), Address: lw.world.Chain.TokenAddress()}},
					MaxWindow: 5 * time.Minute,
				},
				HTTPClient: &http.Client{Timeout: 3 * time.Second},
			})
			if err != nil {
				t.Fatal(err)
			}
			args := json.RawMessage(`{"city":"Oslo"}`)
			if tt.op == "createReport" {
				args = json.RawMessage(`{"body":{"city":"Oslo","days":2}}`)
			}
			before := lw.balance(t)
			_, callErr := c.Call(ctx, Call{Op: op, Arguments: args, Session: "s"})
			if tt.refused {
				if !errors.Is(callErr, ErrRefused) {
					t.Fatalf("err = %v, want a refusal", callErr)
				}
				if n := proxy.count(); n != 0 {
					t.Fatalf("%d payments reached the server on a deviation", n)
				}
				if sp, _ := lw.led.Spends(ctx); len(sp) != 0 {
					t.Fatalf("a refusal left %d reservations", len(sp))
				}
				return
			}
			if n := proxy.count(); n != 1 {
				t.Fatalf("%d payments sent, want exactly 1 (err %v)", n, callErr)
			}
			sp, err := lw.led.Spends(ctx)
			if err != nil || len(sp) != 1 {
				t.Fatalf("spends %v %v", sp, err)
			}
			if ceiling := time.Now().Add(5*time.Minute + 5*time.Second); sp[0].ValidBefore.After(ceiling) {
				t.Errorf("validBefore %s is past the 5 minute ceiling", sp[0].ValidBefore)
			}
			if sp[0].Status != ledger.StatusSettled {
				reconcileAfterWindow(t, lw, sp[0])
			}
			got, err := lw.led.Spend(ctx, sp[0].CallID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("after reconcile the spend is %s, want %s (call err: %v)", got.Status, tt.want, callErr)
			}
			spent := before.Sub(lw.balance(t))
			var counted money.Amount
			if got.Status == ledger.StatusSettled {
				counted = got.Amount
			}
			if spent.Cmp(counted) != 0 {
				t.Errorf("the chain moved %s, the ledger says %s", spent, counted)
			}
		})
	}
}

// reconcileAfterWindow moves the world's chain past the spend's validBefore and the
// reconcile margin, and reconciles the ledger against it over JSON-RPC.
func reconcileAfterWindow(t *testing.T, lw *localWorld, sp ledger.Spend) {
	t.Helper()
	ctx := t.Context()
	if err := lw.world.Chain.AdvancePast(ctx, sp.ValidBefore.Add(reconcile.DefaultMargin)); err != nil {
		t.Fatal(err)
	}
	rpc, err := onchain.Dial(ctx, lw.world.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	chains := map[string]*onchain.Client{lw.world.Chain.ChainID().String(): rpc}
	if _, err := reconcile.Run(ctx, lw.led, chains, reconcile.Options{}); err != nil {
		t.Fatal(err)
	}
}

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
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
		http.Error(w, "world unreachable", 502)
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
		http.Error(w, "world unreachable", 502)
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
		mutate   func([]map[string]any) []map[string]any
		afterPay func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte))
		refused  bool          // nothing may be signed
		want     ledger.Status // the spend's status after reconcile
	}{
		{"amount +1 (v1)", "getWeather", plusOne, relay, true, ""},
		{"amount +1 (v2)", "createReport", plusOne, relay, true, ""},
		{"other payTo pinned away", "getWeather", set("payTo", "0x2222222222222222222222222222222222222222"), relay, false, ledger.StatusVoided},
		{"other asset", "getWeather", set("asset", "0x3333333333333333333333333333333333333333"), relay, true, ""},
		{"other chain", "createReport", set("network", "eip155:8453"), relay, true, ""},
		{"other EIP-712 name", "createReport", set("extra", map[string]any{"name": "USD Coin", "version": "2"}), relay, false, ledger.StatusVoided},
		{"decoy first", "getWeather", decoy, relay, false, ledger.StatusSettled},
		{"year-long window (cut to the ceiling)", "getWeather", set("maxTimeoutSeconds", 365*24*3600), relay, false, ledger.StatusSettled},
		{"402 after payment (settled behind toll's back)", "getWeather", nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			forward()
			w.WriteHeader(http.StatusPaymentRequired)
			w.Write([]byte(`{"x402Version":1,"error":"try again","accepts":[]}`))
		}, false, ledger.StatusSettled},
		{"settlement never answers", "createReport", nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			forward()
			<-r.Context().Done()
		}, false, ledger.StatusSettled},
		{"reset after the body was sent", "getWeather", nil, func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}, false, ledger.StatusVoided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := newReconcileFixture(t)
			proxy := &hostileProxy{target: f.world.APIURL, mutate: tt.mutate, afterPay: tt.afterPay}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			api, err := catalog.Load(ctx, f.world.SpecYAML(), "weather.yaml", catalog.Options{BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			var op *catalog.Operation
			for _, o := range api.Operations {
				if o.OperationID == tt.op {
					op = o
				}
			}
			if tt.name == "other payTo pinned away" {
				// The spec pins the world's payTo; the 402 asks for another: refused.
				op.Price.PayTo = f.world.PayTo()
				tt.refused = true
			}
			c, err := New(Config{
				Wallet: f.wallet, Ledger: f.led,
				Policy: Policy{
					Networks:  []string{f.world.Chain.NetworkV2()},
					Assets:    []Asset{{Network: f.world.Chain.NetworkV2(), Address: f.world.Chain.TokenAddress()}},
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
			before, _ := f.world.BalanceOf(ctx, f.wallet.Address().Hex())
			_, callErr := c.Call(ctx, Call{Op: op, Arguments: args, Session: "s"})
			if tt.refused {
				if !errors.Is(callErr, ErrRefused) {
					t.Fatalf("err = %v, want a refusal", callErr)
				}
				if proxy.payments != 0 {
					t.Fatalf("a payment reached the server on a deviation")
				}
				if sp, _ := f.led.Spends(ctx); len(sp) != 0 {
					t.Fatalf("a refusal left %d reservations", len(sp))
				}
				return
			}
			if proxy.payments != 1 {
				t.Fatalf("%d payments sent, want exactly 1 (err %v)", proxy.payments, callErr)
			}
			// Reconcile against the chain once the authorization's window is over.
			sp, err := f.led.Spends(ctx)
			if err != nil || len(sp) != 1 {
				t.Fatalf("spends %v %v", sp, err)
			}
			if sp[0].Status != ledger.StatusSettled {
				bt, _ := f.world.Chain.BlockTime(ctx)
				if d := sp[0].ValidBefore.Add(DefaultReconcileMargin).Sub(bt) + 2*time.Second; d > 0 {
					if err := f.world.Chain.AdvanceTime(ctx, d); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := Reconcile(ctx, f.led, f.chains(), ReconcileOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.led.Spend(ctx, sp[0].CallID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("after reconcile the spend is %s, want %s (call err: %v)", got.Status, tt.want, callErr)
			}
			after, _ := f.world.BalanceOf(ctx, f.wallet.Address().Hex())
			spent := new(big.Int).Sub(before, after)
			counted := big.NewInt(0)
			if got.Status == ledger.StatusSettled {
				counted = got.Amount.Atomic()
			}
			if spent.Cmp(counted) != 0 {
				t.Errorf("the chain moved %s, the ledger says %s", spent, counted)
			}
			if strings.Contains(tt.name, "window") && got.ValidBefore.After(time.Now().Add(5*time.Minute+5*time.Second)) {
				t.Errorf("validBefore %s is past the 5 minute ceiling", got.ValidBefore)
			}
			if strings.Contains(tt.name, "EIP-712") && got.Status == ledger.StatusSettled {
				t.Error("a payment signed for the wrong domain settled")
			}
		})
	}
}

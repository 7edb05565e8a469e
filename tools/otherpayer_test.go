package tools

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// TestSettlementForAnotherPayer: an API that settles toll's payment but answers with a
// settlement response naming another payer proves nothing of toll's payment: the call
// returns the API's answer, the spend stays unknown, and reconcile finds it settled on
// chain. (The MCP twin is server's TestUpstreamHostile.)
func TestSettlementForAnotherPayer(t *testing.T) {
	for _, op := range []string{"getWeather", "createReport"} { // x402 v1, v2
		t.Run(op, func(t *testing.T) {
			ctx := t.Context()
			lw := newLocalWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0"}, 1_000_000)
			other := "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
			proxy := &hostileProxy{target: lw.world.APIURL, afterPay: func(w http.ResponseWriter, r *http.Request, forward func() (*http.Response, []byte)) {
				resp, b := forward()
				for _, name := range []string{x402.HeaderPaymentResponse, x402.HeaderXPaymentResponse} {
					if h := resp.Header.Get(name); h != "" {
						raw, _ := base64.StdEncoding.DecodeString(h)
						var sr map[string]any
						json.Unmarshal(raw, &sr)
						sr["payer"] = other
						out, _ := json.Marshal(sr)
						resp.Header.Set(name, base64.StdEncoding.EncodeToString(out))
					}
				}
				for k, vs := range resp.Header {
					if k != "Content-Length" {
						w.Header()[k] = vs
					}
				}
				w.WriteHeader(resp.StatusCode)
				w.Write(b)
			}}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			c, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Policy: Policy{
				Networks:  []string{lw.world.Chain.NetworkV2()},
				Assets:    []Asset{{Network: lw.world.Chain.NetworkV2(), Address: lw.world.Chain.TokenAddress()}},
				MaxWindow: 5 * time.Minute,
			}})
			if err != nil {
				t.Fatal(err)
			}
			args := json.RawMessage(`{"city":"Oslo"}`)
			if op == "createReport" {
				args = json.RawMessage(`{"body":{"city":"Oslo","days":2}}`)
			}
			res, err := c.Call(ctx, Call{Op: lw.ops(t, srv.URL)[op], Arguments: args, Session: "s"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Payment == nil || res.Payment.Status != ledger.StatusUnknown || res.Status >= 400 {
				t.Fatalf("result %d, receipt %+v: want the API's answer with an unknown payment", res.Status, res.Payment)
			}
			if n := proxy.count(); n != 1 {
				t.Fatalf("%d payments sent, want 1", n)
			}
			sp, err := lw.led.Spends(ctx)
			if err != nil || len(sp) != 1 || sp[0].Status != ledger.StatusUnknown {
				t.Fatalf("spends %+v %v: want one unknown", sp, err)
			}
			reconcileAfterWindow(t, lw, sp[0])
			got, err := lw.led.Spend(ctx, sp[0].CallID)
			if err != nil || got.Status != ledger.StatusSettled {
				t.Errorf("after reconcile the spend is %s (%v), want settled", got.Status, err)
			}
		})
	}
}

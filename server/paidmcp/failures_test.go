package paidmcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// TestToolsList: each tool with its input schema; in the spec dialect the paid tools
// advertise their price under _meta["x402/price"], in x402-mcp's none does.
func TestToolsList(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		dialect   Dialect
		wantPrice map[string]string // tool → atomic amount in _meta; absent: no price
	}{
		{DialectSpec, map[string]string{ToolWeather: "1000", ToolForecast: "5000"}},
		{DialectX402MCP, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.dialect.String(), func(t *testing.T) {
			_, url := newServer(t, Options{World: w, Dialect: tc.dialect})
			c := newHTTPClient(t, url, eraLegacy)
			raw, err := c.request("tools/list", map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Tools []struct {
					Name        string         `json:"name"`
					InputSchema map[string]any `json:"inputSchema"`
					Meta        map[string]struct {
						Amount   string `json:"amount"`
						Decimals int    `json:"decimals"`
						Asset    string `json:"asset"`
						Network  string `json:"network"`
						PayTo    string `json:"payTo"`
					} `json:"_meta"`
				} `json:"tools"`
			}
			if err := json.Unmarshal(raw, &list); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, tool := range list.Tools {
				got[tool.Name] = true
				if tool.InputSchema["type"] != "object" {
					t.Errorf("%s: input schema %v", tool.Name, tool.InputSchema)
				}
				p, has := tool.Meta[MetaPrice]
				want, paid := tc.wantPrice[tool.Name]
				if has != paid || p.Amount != want {
					t.Errorf("%s: price %+v (present %v), want %q (present %v)", tool.Name, p, has, want, paid)
				}
				if has && (p.Decimals != 6 || p.Asset != w.Chain.TokenAddress() || p.Network != "eip155:84532" || p.PayTo != w.PayTo()) {
					t.Errorf("%s: price %+v", tool.Name, p)
				}
			}
			if len(got) != 3 || !got[ToolPing] || !got[ToolWeather] || !got[ToolForecast] {
				t.Errorf("tools %v, want ping, get_weather, get_forecast", got)
			}
		})
	}
}

// TestFreeTool: ping answers without payment, and counts its runs.
func TestFreeTool(t *testing.T) {
	s, url := newServer(t, Options{World: newWorld(t)})
	c := newHTTPClient(t, url, eraModernExt)
	r := c.mustCall(ToolPing, map[string]any{}, nil)
	if r.IsError || r.text() != "pong" || r.ResultType != "complete" {
		t.Errorf("ping: %s", r.raw)
	}
	if s.ToolRuns(ToolPing) != 1 || s.Settlements() != 0 {
		t.Errorf("ping ran %d times, %d settlements; want 1 and 0", s.ToolRuns(ToolPing), s.Settlements())
	}
}

// TestX402MCPDialect pays get_forecast the way Vercel's x402-mcp takes it: a version 1
// PaymentRequired in the tool-result binding, the payment as base64 X-PAYMENT text in
// _meta["x402.payment"], the settlement in _meta["x402.payment-response"].
func TestX402MCPDialect(t *testing.T) {
	w := newWorld(t)
	for _, e := range []era{eraLegacy, eraModernExt} {
		t.Run(e.String(), func(t *testing.T) {
			s, url := newServer(t, Options{World: w, Dialect: DialectX402MCP})
			c := newHTTPClient(t, url, e)
			payer := fundedPayer(t, w)
			r := c.mustCall(ToolForecast, map[string]any{"city": "Lima", "days": 2}, nil)
			if !r.IsError || r.ResultType == x402.ResultTypePaymentRequired {
				t.Fatalf("x402-mcp answers in the tool-result binding only: %s", r.raw)
			}
			ch := r.challenge(t)
			if ch.Version != 1 || ch.Options[0].Network != "base-sepolia" || ch.Options[0].Amount.AtomicString() != "5000" {
				t.Fatalf("challenge %+v", ch)
			}
			meta := paymentMeta(t, payer, ch)
			if _, ok := meta[x402.MetaPaymentV1].(string); !ok {
				t.Fatalf("payment meta %v: want base64 text under %q", meta, x402.MetaPaymentV1)
			}
			paid := c.mustCall(ToolForecast, map[string]any{"city": "Lima", "days": 2}, meta)
			if paid.IsError || !strings.Contains(paid.text(), `"day":2`) {
				t.Fatalf("paid call: %s", paid.raw)
			}
			if _, ok := paid.Meta[x402.MetaPaymentResponseV1]; !ok {
				t.Errorf("no _meta[%q] in %s", x402.MetaPaymentResponseV1, paid.raw)
			}
			if sr := paid.settlement(t); sr == nil || !sr.Success || sr.Network != "base-sepolia" {
				t.Errorf("settlement %+v", sr)
			}
			if got := balance(t, w, payer.Address().Hex()); got != 1_000_000-5000 {
				t.Errorf("payer balance %d, want %d", got, 1_000_000-5000)
			}
			if s.Settlements() != 1 || s.ToolRuns(ToolForecast) != 1 {
				t.Errorf("%d settlements, %d runs; want 1 and 1", s.Settlements(), s.ToolRuns(ToolForecast))
			}
		})
	}
}

// TestInvalidPayment: a payment the facilitator refuses, or one for other terms, is
// answered with payment required and the reason; the tool does not run and nothing
// moves on chain.
func TestInvalidPayment(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name       string
		payFor     string // the tool whose challenge is paid
		call       string // the tool called with that payment
		funded     bool
		era        era
		wantReason string // in the PaymentRequired's error
	}{
		{"payer without funds", ToolWeather, ToolWeather, false, eraLegacy, "insufficient_balance"},
		{"payer without funds, extension binding", ToolWeather, ToolWeather, false, eraModernExt, "insufficient_balance"},
		{"terms of another tool", ToolWeather, ToolForecast, true, eraModern, "No matching payment requirements"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, url := newServer(t, Options{World: w})
			c := newHTTPClient(t, url, tc.era)
			payer, err := wallet.Generate(wallet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.funded {
				payer = fundedPayer(t, w)
			}
			before := balance(t, w, payer.Address().Hex())
			ch := c.mustCall(tc.payFor, map[string]any{"city": "Oslo"}, nil).challenge(t)
			r := c.mustCall(tc.call, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
			again := r.challenge(t)
			if !strings.Contains(again.Error, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", again.Error, tc.wantReason)
			}
			if s.ToolRuns(tc.call) != 0 || s.Settlements() != 0 {
				t.Errorf("%d runs, %d settlements; want none", s.ToolRuns(tc.call), s.Settlements())
			}
			if got := balance(t, w, payer.Address().Hex()); got != before {
				t.Errorf("payer balance %d, want %d", got, before)
			}
		})
	}
}

// TestSettlementFailure: a settlement that fails after the tool ran (the authorization
// expired on chain before settling) is answered with payment required, the failed
// settlement in _meta, and none of the tool's content; nothing moves on chain.
func TestSettlementFailure(t *testing.T) {
	for _, e := range []era{eraLegacy, eraModernExt} {
		t.Run(e.String(), func(t *testing.T) {
			w := newWorld(t) // FailSettlement moves its clock ahead
			s, url := newServer(t, Options{World: w, FailSettlement: true})
			c := newHTTPClient(t, url, e)
			payer := fundedPayer(t, w)
			ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
			r := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
			again := r.challenge(t)
			if !strings.HasPrefix(again.Error, "Settlement failed") {
				t.Errorf("reason %q, want a settlement failure", again.Error)
			}
			if strings.Contains(string(r.raw), "temperatureC") {
				t.Errorf("the tool's content was sent: %s", r.raw)
			}
			if sr := r.settlement(t); sr == nil || sr.Success || sr.ErrorReason == "" {
				t.Errorf("settlement %+v, want a failure with its reason", sr)
			}
			if s.ToolRuns(ToolWeather) != 1 || s.Settlements() != 0 {
				t.Errorf("%d runs, %d settlements; want 1 and 0", s.ToolRuns(ToolWeather), s.Settlements())
			}
			if got := balance(t, w, payer.Address().Hex()); got != 1_000_000 {
				t.Errorf("payer balance %d, want it untouched", got)
			}
		})
	}
}

package paidmcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/x402"
)

// TestSpecBindings pays get_weather in each protocol era over HTTP and stdio: unpaid, the
// call is answered in the binding the request selects (the extension binding only when
// a 2026-07-28 request advertises org.x402/payment), the tool not run; paid with the
// challenge's terms, the tool runs once, the settlement comes back in _meta, and the
// payer's balance moves to payTo on chain.
func TestSpecBindings(t *testing.T) {
	cases := []struct {
		era            era
		stdio          bool
		wantResultType string // of the payment required
		wantExtension  bool
		wantComplete   string // resultType of the paid result
	}{
		{era: eraLegacy, wantResultType: "", wantComplete: ""},
		{era: eraModern, wantResultType: "complete", wantComplete: "complete"},
		{era: eraModernExt, wantResultType: x402.ResultTypePaymentRequired, wantExtension: true, wantComplete: "complete"},
		{era: eraLegacy, stdio: true, wantResultType: "", wantComplete: ""},
		{era: eraModernExt, stdio: true, wantResultType: x402.ResultTypePaymentRequired, wantExtension: true, wantComplete: "complete"},
	}
	w := newWorld(t)
	for _, tc := range cases {
		transport := "http"
		if tc.stdio {
			transport = "stdio"
		}
		t.Run(transport+"/"+tc.era.String(), func(t *testing.T) {
			var s *Server
			var c *rpcClient
			if tc.stdio {
				var err error
				if s, err = New(Options{World: w}); err != nil {
					t.Fatal(err)
				}
				c, _ = newStdioClient(t, s, tc.era)
			} else {
				var url string
				s, url = newServer(t, Options{World: w})
				c = newHTTPClient(t, url, tc.era)
			}
			payer := fundedPayer(t, w)
			payerBefore, payToBefore := balance(t, w, payer.Address().Hex()), balance(t, w, w.PayTo())

			r := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil)
			if r.ResultType != tc.wantResultType {
				t.Errorf("resultType %q, want %q: %s", r.ResultType, tc.wantResultType, r.raw)
			}
			if tc.wantExtension {
				if len(r.Content) != 0 || len(r.StructuredContent) != 0 || r.IsError || len(r.PaymentRequired) == 0 {
					t.Errorf("extension binding: want only paymentRequired, got %s", r.raw)
				}
			} else {
				if !r.IsError || len(r.StructuredContent) == 0 {
					t.Fatalf("tool-result binding: want isError and structuredContent, got %s", r.raw)
				}
				var a, b any
				json.Unmarshal(r.StructuredContent, &a)
				if err := json.Unmarshal([]byte(r.text()), &b); err != nil || !cmp.Equal(a, b) {
					t.Errorf("content[0].text is not structuredContent's JSON: %v\n%s", err, cmp.Diff(a, b))
				}
			}
			if s.ToolRuns(ToolWeather) != 0 {
				t.Errorf("the tool ran %d times before it was paid", s.ToolRuns(ToolWeather))
			}
			ch := r.challenge(t)
			if ch.Version != 2 || len(ch.Options) != 1 || ch.Resource == nil || ch.Resource.URL != "mcp://tool/get_weather" {
				t.Fatalf("challenge %+v", ch)
			}
			o := ch.Options[0]
			if o.Amount.AtomicString() != "1000" || o.PayTo != w.PayTo() || o.Asset != w.Chain.TokenAddress() || o.Network != "eip155:84532" {
				t.Errorf("requirement %+v, want 1000 atomic units to %s in %s on eip155:84532", o, w.PayTo(), w.Chain.TokenAddress())
			}

			paid := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
			if paid.IsError || paid.ResultType != tc.wantComplete || !strings.Contains(paid.text(), `"city":"Oslo"`) {
				t.Fatalf("paid call: %s", paid.raw)
			}
			if s.ToolRuns(ToolWeather) != 1 || s.Settlements() != 1 {
				t.Errorf("after one payment: %d runs, %d settlements; want 1 and 1", s.ToolRuns(ToolWeather), s.Settlements())
			}
			sr := paid.settlement(t)
			if sr == nil || !sr.Success || !strings.EqualFold(sr.Payer, payer.Address().Hex()) || sr.Transaction == "" || sr.Network != "eip155:84532" {
				t.Errorf("settlement %+v in %s", sr, paid.raw)
			}
			if got := balance(t, w, payer.Address().Hex()); got != payerBefore-1000 {
				t.Errorf("payer balance %d, want %d", got, payerBefore-1000)
			}
			if got := balance(t, w, w.PayTo()); got != payToBefore+1000 {
				t.Errorf("payTo balance %d, want %d", got, payToBefore+1000)
			}
		})
	}
}

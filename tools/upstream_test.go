package tools

import (
	"encoding/json"
	"strings"
	"testing"
)

// A PaymentRequired of x402 version 2 with one requirement.
const testRequired = `{"x402Version":2,"error":"pay me","resource":{"url":"mcp://tool/t"},"accepts":[{"scheme":"exact","network":"eip155:84532",` +
	`"amount":"1000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C",` +
	`"maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}]}`

// TestReadToolAnswer reads tools/call results as the x402 MCP transport writes them.
func TestReadToolAnswer(t *testing.T) {
	quoted, _ := json.Marshal(testRequired)
	cases := []struct {
		name         string
		raw          string
		limit        int64
		wantErr      string // "" for none
		wantRequired bool
		wantAmount   string // of the challenge's first option, when required
		wantFailed   bool
		wantSettled  string // the settlement's transaction; "" for none
		wantKept     bool   // the result is kept in Result.ToolResult
	}{
		{name: "extension binding", raw: `{"resultType":"payment_required","paymentRequired":` + testRequired + `}`,
			wantRequired: true, wantAmount: "1000", wantFailed: true, wantKept: true},
		{name: "tool-result binding, structured", raw: `{"isError":true,"structuredContent":` + testRequired + `,"content":[{"type":"text","text":"x"}]}`,
			wantRequired: true, wantAmount: "1000", wantFailed: true, wantKept: true},
		{name: "tool-result binding, text only", raw: `{"isError":true,"content":[{"type":"text","text":` + string(quoted) + `}]}`,
			wantRequired: true, wantAmount: "1000", wantFailed: true, wantKept: true},
		{name: "a PaymentRequired in a result that is not an error is content", raw: `{"structuredContent":` + testRequired + `,"content":[]}`,
			wantKept: true},
		{name: "an ordinary tool error", raw: `{"isError":true,"content":[{"type":"text","text":"city not found"}]}`,
			wantFailed: true, wantKept: true},
		{name: "settled, spec key", raw: `{"resultType":"complete","content":[],"_meta":{"x402/payment-response":{"success":true,"transaction":"0xabc","network":"eip155:84532"}}}`,
			wantSettled: "0xabc", wantKept: true},
		{name: "settled, x402-mcp key", raw: `{"content":[],"_meta":{"x402.payment-response":{"success":true,"transaction":"0xdef","network":"base-sepolia"}}}`,
			wantSettled: "0xdef", wantKept: true},
		{name: "larger than the limit", raw: `{"content":[{"type":"text","text":"` + strings.Repeat("a", 100) + `"}]}`, limit: 50},
		{name: "another result type", raw: `{"resultType":"input_required","inputRequests":{}}`, wantErr: `of type "input_required"`},
		{name: "not an object", raw: `[1,2]`, wantErr: "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1 << 20
			}
			a, err := readToolAnswer(json.RawMessage(tc.raw), limit)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.required != tc.wantRequired || a.failed != tc.wantFailed {
				t.Errorf("required %v failed %v, want %v %v", a.required, a.failed, tc.wantRequired, tc.wantFailed)
			}
			if tc.wantRequired {
				if a.challengeErr != nil || len(a.challenge.Options) != 1 || a.challenge.Options[0].Amount.Atomic().String() != tc.wantAmount {
					t.Errorf("challenge %+v, %v; want one option of %s", a.challenge, a.challengeErr, tc.wantAmount)
				}
			}
			gotTx := ""
			if a.settlement != nil {
				gotTx = a.settlement.Transaction
			}
			if gotTx != tc.wantSettled {
				t.Errorf("settlement transaction %q, want %q", gotTx, tc.wantSettled)
			}
			if kept := a.result.ToolResult != nil; kept != tc.wantKept || a.result.Truncated == tc.wantKept {
				t.Errorf("kept %v truncated %v, want kept %v", kept, a.result.Truncated, tc.wantKept)
			}
		})
	}
}

// FuzzReadToolAnswer: no tools/call result makes the reader panic, and a payment it
// reads as asked has terms or says why not.
func FuzzReadToolAnswer(f *testing.F) {
	f.Add(`{"resultType":"payment_required","paymentRequired":` + testRequired + `}`)
	f.Add(`{"isError":true,"structuredContent":` + testRequired + `}`)
	f.Add(`{"isError":true,"content":[{"type":"text","text":"{\"x402Version\":1,\"accepts\":[{}]}"}]}`)
	f.Add(`{"content":[],"_meta":{"x402.payment-response":"e30="}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := readToolAnswer(json.RawMessage(raw), 1<<20)
		if err != nil {
			return
		}
		if a.required && a.challenge == nil && a.challengeErr == nil {
			t.Errorf("%s: a payment asked with neither terms nor an error", raw)
		}
	})
}

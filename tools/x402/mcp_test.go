package x402

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// A PaymentRequired of the tool-result binding, with the requirement's fields in an
// order and case of the server's own, which a payment must echo as they are.
const mcpRequired = `{"x402Version":2,"error":"Payment required to access this resource",` +
	`"resource":{"url":"mcp://tool/forecast","description":"Seven-day forecast","mimeType":"application/json"},` +
	`"accepts":[{"network":"eip155:84532","scheme":"exact","amount":"25000",` +
	`"asset":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C",` +
	`"maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}],"extensions":{"payment-identifier":{"info":{"required":false}}}}`

const mcpRequiredV1 = `{"x402Version":1,"error":"payment required","accepts":[{"scheme":"exact","network":"base-sepolia",` +
	`"maxAmountRequired":"5000","resource":"mcp://tool/echo","description":"echo","mimeType":"text/plain",` +
	`"payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":30,` +
	`"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","extra":{"name":"USDC","version":"2"}}]}`

func TestToolResultChallenge(t *testing.T) {
	huge := `{"x402Version":2,"accepts":[],"error":"` + strings.Repeat("x", MaxBodyLen) + `"}`
	for _, tc := range []struct {
		name       string
		isError    bool
		structured string
		text       string
		version    int
		amount     string
		notX402    bool
		errHas     string
	}{
		{name: "structured content", isError: true, structured: mcpRequired, text: "ignored", version: 2, amount: "25000"},
		{name: "text only", isError: true, text: mcpRequired, version: 2, amount: "25000"},
		{name: "structured content of another shape, the text has it", isError: true, structured: `{"message":"pay first"}`, text: mcpRequired, version: 2, amount: "25000"},
		{name: "version 1 text (x402-mcp)", isError: true, text: mcpRequiredV1, version: 1, amount: "5000"},
		{name: "not an error", isError: false, structured: mcpRequired, notX402: true},
		{name: "an ordinary tool error", isError: true, text: "city not found", notX402: true},
		{name: "JSON without accepts", isError: true, text: `{"x402Version":2,"error":"x"}`, notX402: true},
		{name: "empty accepts", isError: true, text: `{"x402Version":2,"accepts":[]}`, errHas: "accepts list is empty"},
		{name: "unknown version", isError: true, text: `{"x402Version":7,"accepts":[{}]}`, errHas: "x402Version 7"},
		{name: "huge", isError: true, text: huge, errHas: "over the 1048576 byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ToolResultChallenge(tc.isError, json.RawMessage(tc.structured), tc.text)
			switch {
			case tc.notX402:
				if !errors.Is(err, ErrNotX402) {
					t.Fatalf("err = %v, want ErrNotX402", err)
				}
				return
			case tc.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one saying %q", err, tc.errHas)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if c.Version != tc.version || len(c.Options) != 1 || c.Options[0].Amount.AtomicString() != tc.amount || c.Options[0].Problem != "" {
				t.Errorf("challenge version %d, options %+v; want version %d, one option of %s", c.Version, c.Options, tc.version, tc.amount)
			}
		})
	}
}

func TestPaymentMeta(t *testing.T) {
	p := ExactEVMPayload{Signature: "0x" + strings.Repeat("ab", 65), Authorization: Authorization{
		From: "0x857b06519E91e3A54538791bDbb0E22373e36b66", To: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
		Value: "25000", ValidAfter: "0", ValidBefore: "1740672154", Nonce: "0x" + strings.Repeat("0f", 32)}}

	c, err := ParsePaymentRequired([]byte(mcpRequired))
	if err != nil {
		t.Fatal(err)
	}
	key, value, err := c.PaymentMeta(0, p)
	if err != nil || key != MetaPayment {
		t.Fatalf("PaymentMeta = %q, %v; want key %q", key, err, MetaPayment)
	}
	b, _ := json.Marshal(value)
	var got struct {
		X402Version int                        `json:"x402Version"`
		Accepted    json.RawMessage            `json:"accepted"`
		Extensions  map[string]json.RawMessage `json:"extensions"`
		Payload     ExactEVMPayload            `json:"payload"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var all struct {
		Accepts []json.RawMessage `json:"accepts"`
	}
	_ = json.Unmarshal([]byte(mcpRequired), &all)
	if got.X402Version != 2 || string(got.Accepted) != string(all.Accepts[0]) || got.Payload != p || got.Extensions["payment-identifier"] == nil {
		t.Errorf("payment meta %s does not echo the requirement %s and the extensions with the payload", b, all.Accepts[0])
	}
	if _, _, err := c.PaymentMeta(1, p); err == nil {
		t.Error("PaymentMeta of a requirement that is not there succeeded")
	}

	c1, err := ParsePaymentRequired([]byte(mcpRequiredV1))
	if err != nil {
		t.Fatal(err)
	}
	key, value, err = c1.PaymentMeta(0, p)
	text, isText := value.(string)
	if err != nil || key != MetaPaymentV1 || !isText {
		t.Fatalf("version 1 PaymentMeta = %q, %T, %v; want %q and base64 text", key, value, err, MetaPaymentV1)
	}
	var v1 PaymentPayloadV1
	if err := DecodeHeader(text, &v1); err != nil || v1.X402Version != 1 || v1.Network != "base-sepolia" || v1.Payload != p {
		t.Errorf("version 1 payment %+v, %v; want the X-PAYMENT payload for base-sepolia", v1, err)
	}
}

func TestParseSettlementMeta(t *testing.T) {
	sr := SettlementResponse{Success: true, Transaction: "0x" + strings.Repeat("12", 32), Network: "eip155:84532", Payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66"}
	obj, _ := json.Marshal(sr)
	text, _ := EncodeHeader(sr)
	quoted, _ := json.Marshal(text)
	for _, tc := range []struct {
		name   string
		meta   map[string]json.RawMessage
		want   *SettlementResponse
		errHas string
	}{
		{name: "object", meta: map[string]json.RawMessage{MetaPaymentResponse: obj}, want: &sr},
		{name: "x402-mcp base64 text", meta: map[string]json.RawMessage{MetaPaymentResponseV1: quoted}, want: &sr},
		{name: "x402-mcp object", meta: map[string]json.RawMessage{MetaPaymentResponseV1: obj}, want: &sr},
		{name: "none", meta: map[string]json.RawMessage{"other": obj}},
		{name: "not JSON of a settlement", meta: map[string]json.RawMessage{MetaPaymentResponse: json.RawMessage(`[1,2]`)}, errHas: "x402/payment-response"},
		{name: "text that is not base64", meta: map[string]json.RawMessage{MetaPaymentResponseV1: json.RawMessage(`"%%%"`)}, errHas: "not standard base64"},
		{name: "huge", meta: map[string]json.RawMessage{MetaPaymentResponse: json.RawMessage(`"` + strings.Repeat("A", MaxHeaderLen) + `"`)}, errHas: "byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSettlementMeta(tc.meta)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one saying %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && !reflect.DeepEqual(*got, *tc.want)) {
				t.Errorf("settlement = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzToolResultChallenge: whatever a hostile MCP server puts in a tool result, reading
// it returns a challenge within the bounds or an error, never a panic.
func FuzzToolResultChallenge(f *testing.F) {
	f.Add([]byte(mcpRequired), mcpRequiredV1)
	f.Add([]byte(`{"x402Version":2,"accepts":[{"amount":"-1"}]}`), "")
	f.Add([]byte(`null`), `{"x402Version":1,"accepts":[null]}`)
	f.Fuzz(func(t *testing.T, structured []byte, text string) {
		c, err := ToolResultChallenge(true, structured, text)
		if err != nil {
			return
		}
		if c.Version != 1 && c.Version != 2 || len(c.Options) == 0 || len(c.Options) > MaxAccepts {
			t.Fatalf("challenge version %d with %d options", c.Version, len(c.Options))
		}
		for _, o := range c.Options {
			if o.Problem == "" && o.Amount.Sign() < 0 {
				t.Fatalf("option %+v: negative amount without a problem", o)
			}
		}
	})
}

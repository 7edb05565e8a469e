package x402

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestPaymentIdentifier(t *testing.T) {
	withExt := func(ext string) *Challenge {
		t.Helper()
		body := strings.Replace(mcpRequired, `"extensions":{"payment-identifier":{"info":{"required":false}}}`, `"extensions":`+ext, 1)
		c, err := ParsePaymentRequired([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		ext               string
		offered, required bool
	}{
		{`{"payment-identifier":{"info":{"required":false},"schema":{"type":"object"}}}`, true, false},
		{`{"payment-identifier":{"info":{"required":true}}}`, true, true},
		{`{"payment-identifier":"odd"}`, true, false},
		{`{"bazaar":{}}`, false, false},
		{`{}`, false, false},
	} {
		offered, required := withExt(tc.ext).PaymentIdentifier()
		if offered != tc.offered || required != tc.required {
			t.Errorf("%s: offered %v required %v, want %v %v", tc.ext, offered, required, tc.offered, tc.required)
		}
	}

	c := withExt(`{"payment-identifier":{"info":{"required":true},"schema":{"type":"object","properties":{"id":{"minLength":16}}}},"bazaar":{"x":"<&>"}}`)
	id, err := NewPaymentID()
	if err != nil || !ValidPaymentID(id) || !strings.HasPrefix(id, "pay_") {
		t.Fatalf("NewPaymentID = %q, %v", id, err)
	}
	if other, _ := NewPaymentID(); other == id {
		t.Fatal("two payment ids are the same")
	}
	p := ExactEVMPayload{Signature: "0x01"}
	name, value, err := c.PaymentHeaderWithID(0, p, id)
	if err != nil || name != HeaderPaymentSignature {
		t.Fatalf("PaymentHeaderWithID = %q, %v", name, err)
	}
	var sent struct {
		Extensions map[string]struct {
			Info   map[string]any  `json:"info"`
			Schema json.RawMessage `json:"schema"`
			X      string          `json:"x"`
		} `json:"extensions"`
	}
	if err := DecodeHeader(value, &sent); err != nil {
		t.Fatal(err)
	}
	pi := sent.Extensions[ExtensionPaymentIdentifier]
	if pi.Info["id"] != id || pi.Info["required"] != true || len(pi.Schema) == 0 || sent.Extensions["bazaar"].X != "<&>" {
		t.Errorf("sent extensions %+v: want the id beside required, the schema and the other extension kept", sent.Extensions)
	}
	_, meta, err := c.PaymentMetaWithID(0, p, id)
	if b, _ := json.Marshal(meta); err != nil || !strings.Contains(string(b), `"id":"`+id+`"`) {
		t.Errorf("PaymentMetaWithID = %s, %v; want the id", b, err)
	}
	// Without an id the extensions are echoed as received.
	_, plain, _ := c.PaymentHeader(0, p)
	var echoed struct {
		Extensions json.RawMessage `json:"extensions"`
	}
	_ = DecodeHeader(plain, &echoed)
	if strings.Contains(string(echoed.Extensions), `"id":"`) {
		t.Errorf("PaymentHeader added an id: %s", echoed.Extensions)
	}

	for _, bad := range []string{"", "short", strings.Repeat("a", 129), "pay_0123456789abcdef!", "pay_01234567 89abcdef"} {
		if ValidPaymentID(bad) {
			t.Errorf("ValidPaymentID(%q) = true", bad)
		}
		if _, _, err := c.PaymentHeaderWithID(0, p, bad); err == nil {
			t.Errorf("PaymentHeaderWithID accepted id %q", bad)
		}
	}
	if _, _, err := withExt(`{}`).PaymentHeaderWithID(0, p, id); err == nil {
		t.Error("an id was sent to a 402 that does not advertise the extension")
	}
	v1, err := ParseChallenge(http.Header{}, []byte(mcpRequiredV1))
	if err != nil {
		t.Fatal(err)
	}
	if offered, _ := v1.PaymentIdentifier(); offered {
		t.Error("a version 1 402 offers the payment identifier")
	}
}

func TestPaymentIDOf(t *testing.T) {
	tests := []struct {
		extensions string
		want       string
		wantErr    bool
	}{
		{"", "", false},
		{`{}`, "", false},
		{`{"payment-identifier":{"info":{"required":true}}}`, "", false},
		{`{"payment-identifier":{"info":{"id":"pay_0123456789abcdef"}}}`, "pay_0123456789abcdef", false},
		{`{"payment-identifier":{"info":{"id":"short"}}}`, "", true},
		{`{"payment-identifier":{"info":{"id":7}}}`, "", true},
		{`[1]`, "", true},
	}
	for _, tt := range tests {
		got, err := PaymentIDOf(json.RawMessage(tt.extensions))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("PaymentIDOf(%s) = %q, %v; want %q, error %v", tt.extensions, got, err, tt.want, tt.wantErr)
		}
	}
}

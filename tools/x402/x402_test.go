package x402

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/money"
)

// The compact JSON of the spec's examples, from the x402 repository's
// specs/transports-v1/http.md and specs/transports-v2/http.md
// (https://github.com/x402-foundation/x402/tree/main/specs). The official headers are the standard base64 of exactly
// these bytes, 648, 1088 and 584 characters long.
const (
	specSig        = "0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c"
	specAuth       = `{"from":"0x857b06519E91e3A54538791bDbb0E22373e36b66","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"1740672089","validBefore":"1740672154","nonce":"0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}`
	specPayloadV1  = `{"x402Version":1,"scheme":"exact","network":"base-sepolia","payload":{"signature":"` + specSig + `","authorization":` + specAuth + `}}`
	specResource   = `{"url":"https://api.example.com/premium-data","description":"Access to premium market data","mimeType":"application/json"}`
	specAccepted   = `{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}`
	specPayloadV2  = `{"x402Version":2,"resource":` + specResource + `,"accepted":` + specAccepted + `,"payload":{"signature":"` + specSig + `","authorization":` + specAuth + `}}`
	specRequiredV2 = `{"x402Version":2,"error":"PAYMENT-SIGNATURE header is required","resource":` + specResource + `,"accepts":[` + specAccepted + `]}`
	specRequiredV1 = `{"x402Version":1,"error":"X-PAYMENT header is required","accepts":[{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"10000","resource":"https://api.example.com/premium-data","description":"Access to premium market data","mimeType":"application/json","outputSchema":null,"payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","extra":{"name":"USDC","version":"2"}}]}`
)

func TestHeaderRoundTripSpecVectors(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		into    func() any
		wantLen int
	}{
		{"X-PAYMENT", specPayloadV1, func() any { return new(PaymentPayloadV1) }, 648},
		{"PAYMENT-SIGNATURE", specPayloadV2, func() any { return new(PaymentPayloadV2) }, 1088},
		{"PAYMENT-REQUIRED", specRequiredV2, func() any { return new(PaymentRequiredV2) }, 584},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			official := base64.StdEncoding.EncodeToString([]byte(tt.json))
			if len(official) != tt.wantLen {
				t.Fatalf("official header length %d, want %d (vector text changed?)", len(official), tt.wantLen)
			}
			v := tt.into()
			if err := DecodeHeader(official, v); err != nil {
				t.Fatalf("DecodeHeader: %v", err)
			}
			got, err := EncodeHeader(v)
			if err != nil {
				t.Fatalf("EncodeHeader: %v", err)
			}
			if got != official {
				dec, _ := base64.StdEncoding.DecodeString(got)
				t.Fatalf("re-encoded header differs from the official one:\n got %s\nwant %s", dec, tt.json)
			}
		})
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte(specPayloadV1))
	url := base64.URLEncoding.EncodeToString([]byte(specPayloadV1 + "??>>")) // has - or _
	tests := map[string]string{
		"empty":         "",
		"base64url":     url,
		"unpadded":      strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(specPayloadV1+"x")), "="),
		"not json":      base64.StdEncoding.EncodeToString([]byte("hello")),
		"over the size": strings.Repeat("A", MaxHeaderLen+4),
		"garbage":       "%%%%",
	}
	if !strings.ContainsAny(url, "-_") {
		t.Fatal("test vector for base64url has no url-only characters")
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			var p PaymentPayloadV1
			if err := DecodeHeader(s, &p); err == nil {
				t.Fatalf("DecodeHeader(%.30q) = nil error, want an error", s)
			}
		})
	}
	var p PaymentPayloadV1
	if err := DecodeHeader(good, &p); err != nil {
		t.Fatalf("good header: %v", err)
	}
	if p.Payload.Authorization.Value != "10000" || p.Network != "base-sepolia" {
		t.Fatalf("decoded %+v", p)
	}
}

func TestParseChallengeV1(t *testing.T) {
	c, err := ParseChallenge(http.Header{}, []byte(specRequiredV1))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 || len(c.Options) != 1 {
		t.Fatalf("version %d, %d options", c.Version, len(c.Options))
	}
	o := c.Options[0]
	if o.Problem != "" || o.Amount.Cmp(money.USDC(10000)) != 0 || o.Network != "base-sepolia" ||
		o.Domain != (EIP712Extra{"USDC", "2"}) || o.MaxTimeoutSeconds != 60 || o.PayTo != "0x209693Bc6afc0C5328bA36FaF03C514EF312287C" {
		t.Fatalf("option %+v", o)
	}
	var p ExactEVMPayload
	if err := json.Unmarshal([]byte(`{"signature":"`+specSig+`","authorization":`+specAuth+`}`), &p); err != nil {
		t.Fatal(err)
	}
	name, value, err := c.PaymentHeader(0, p)
	if err != nil {
		t.Fatal(err)
	}
	if name != HeaderXPayment || value != base64.StdEncoding.EncodeToString([]byte(specPayloadV1)) {
		t.Fatalf("got %s: %s", name, value)
	}
}

func TestParseChallengeV2EchoesAcceptedExactly(t *testing.T) {
	// A server that writes addresses in lower case and extra fields in its own order: the
	// client must echo those bytes, not a re-serialisation.
	accepted := `{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036cbd53842c5426634e7929541ec2318f3dcf7e","payTo":"0x209693bc6afc0c5328ba36faf03c514ef312287c","maxTimeoutSeconds":60,"extra":{"version":"2","name":"USDC","custom":[1,2]}}`
	required := `{"x402Version":2,"resource":` + specResource + `,"accepts":[` + accepted + `],"extensions":{"bazaar":{"info":{}}}}`
	h := http.Header{}
	h.Set("payment-required", base64.StdEncoding.EncodeToString([]byte(required)))
	c, err := ParseChallenge(h, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 2 || c.Options[0].Problem != "" || c.Options[0].Domain.Name != "USDC" {
		t.Fatalf("challenge %+v", c)
	}
	name, value, err := c.PaymentHeader(0, ExactEVMPayload{Signature: "0x01"})
	if err != nil {
		t.Fatal(err)
	}
	if name != HeaderPaymentSignature {
		t.Fatalf("header %s", name)
	}
	raw, _ := base64.StdEncoding.DecodeString(value)
	if !strings.Contains(string(raw), `"accepted":`+accepted+`,`) {
		t.Fatalf("accepted not echoed byte for byte:\n%s", raw)
	}
	if !strings.Contains(string(raw), `"extensions":{"bazaar":{"info":{}}}`) || !strings.Contains(string(raw), `"resource":`+specResource) {
		t.Fatalf("resource or extensions not echoed:\n%s", raw)
	}
}

func TestParseChallengeProblems(t *testing.T) {
	mk := func(amount, extra string, timeout int) string {
		return `{"x402Version":1,"accepts":[{"scheme":"exact","network":"base","maxAmountRequired":"` + amount +
			`","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","maxTimeoutSeconds":` +
			big.NewInt(int64(timeout)).String() + `,"extra":` + extra + `}]}`
	}
	tests := map[string]string{
		"negative amount": mk("-1", `{"name":"USD Coin","version":"2"}`, 60),
		"hex amount":      mk("0x10", `{"name":"USD Coin","version":"2"}`, 60),
		"float amount":    mk("1.5", `{"name":"USD Coin","version":"2"}`, 60),
		"huge amount":     mk(strings.Repeat("9", 79), `{"name":"USD Coin","version":"2"}`, 60),
		"no extra":        mk("1", `null`, 60),
		"extra wrong":     mk("1", `[1]`, 60),
		"no timeout":      mk("1", `{"name":"USD Coin","version":"2"}`, 0),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := ParseChallenge(http.Header{}, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if c.Options[0].Problem == "" {
				t.Fatalf("no problem reported for %s", body)
			}
		})
	}
	for name, body := range map[string]string{
		"not json":      "<html>pay me</html>",
		"no version":    `{"accepts":[]}`,
		"empty accepts": `{"x402Version":1,"accepts":[]}`,
		"version 3":     `{"x402Version":3,"accepts":[{}]}`,
		"too many":      `{"x402Version":1,"accepts":[` + strings.Repeat(`{},`, MaxAccepts) + `{}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseChallenge(http.Header{}, []byte(body)); err == nil {
				t.Fatalf("ParseChallenge(%.40s) = nil error", body)
			}
		})
	}
	if _, err := ParseChallenge(http.Header{}, nil); !errors.Is(err, ErrNotX402) {
		t.Fatalf("empty body: %v, want ErrNotX402", err)
	}
}

func TestParseSettlement(t *testing.T) {
	ok := `{"success":true,"transaction":"0x1234","network":"eip155:84532","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}`
	h := http.Header{}
	h.Set(HeaderXPaymentResponse, base64.StdEncoding.EncodeToString([]byte(`{"success":false,"transaction":"","network":"base"}`)))
	h.Set(HeaderPaymentResponse, base64.StdEncoding.EncodeToString([]byte(ok)))
	sr, err := ParseSettlement(h)
	if err != nil {
		t.Fatal(err)
	}
	if !sr.Success || sr.Transaction != "0x1234" {
		t.Fatalf("PAYMENT-RESPONSE must win: %+v", sr)
	}
	h.Del(HeaderPaymentResponse)
	if sr, _ = ParseSettlement(h); sr.Success || sr.Network != "base" {
		t.Fatalf("X-PAYMENT-RESPONSE: %+v", sr)
	}
	if sr, err = ParseSettlement(http.Header{}); sr != nil || err != nil {
		t.Fatalf("no header: %v %v", sr, err)
	}
	h.Set(HeaderXPaymentResponse, "!!")
	if _, err = ParseSettlement(h); err == nil {
		t.Fatal("bad header: nil error")
	}
}

func TestNetworks(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"base-sepolia", 84532}, {"eip155:84532", 84532}, {"base", 8453}, {"eip155:1", 1}, {"polygon-amoy", 80002}} {
		id, err := ChainID(tt.in)
		if err != nil || id.Int64() != tt.want {
			t.Errorf("ChainID(%q) = %v, %v; want %d", tt.in, id, err, tt.want)
		}
	}
	for _, bad := range []string{"", "eip155:", "eip155:0", "eip155:01", "eip155:-1", "eip155:1e3", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "Base"} {
		if _, err := ChainID(bad); !errors.Is(err, ErrUnknownNetwork) {
			t.Errorf("ChainID(%q) = %v, want ErrUnknownNetwork", bad, err)
		}
	}
	if !SameNetwork("base-sepolia", "eip155:84532") || SameNetwork("base", "eip155:84532") || SameNetwork("x", "y") {
		t.Error("SameNetwork")
	}
	if n, ok := V1Name(big.NewInt(84532)); !ok || n != "base-sepolia" {
		t.Errorf("V1Name = %q %v", n, ok)
	}
	if c, _ := CAIP2("base"); c != "eip155:8453" {
		t.Errorf("CAIP2(base) = %q", c)
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add([]byte(specRequiredV1), "")
	f.Add([]byte("{}"), base64.StdEncoding.EncodeToString([]byte(specRequiredV2)))
	f.Add([]byte(`{"x402Version":1,"accepts":[{"maxAmountRequired":"1e9"}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		h := http.Header{}
		if header != "" {
			h.Set(HeaderPaymentRequired, header)
		}
		c, err := ParseChallenge(h, body)
		if err != nil {
			return
		}
		for i, o := range c.Options {
			if o.Amount.Sign() < 0 {
				t.Fatalf("negative amount %v", o.Amount)
			}
			if _, _, err := c.PaymentHeader(i, ExactEVMPayload{}); err != nil {
				t.Fatalf("PaymentHeader(%d): %v", i, err)
			}
		}
	})
}

package x402

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

func TestParseRequirement(t *testing.T) {
	const (
		usdc  = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
		payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	)
	tests := []struct {
		name string
		in   string
		want RequirementV2
	}{
		{
			name: "version 2",
			in:   specAccepted,
			want: RequirementV2{Scheme: "exact", Network: "eip155:84532", Amount: "10000", Asset: usdc, PayTo: payTo, MaxTimeoutSeconds: 60, Extra: json.RawMessage(`{"name":"USDC","version":"2"}`), Raw: json.RawMessage(specAccepted)},
		},
		{
			name: "version 1",
			in:   `{"scheme":"exact","network":"base-sepolia","maxAmountRequired":"250","resource":"https://api.example.com/x","payTo":"` + payTo + `","maxTimeoutSeconds":30,"asset":"` + usdc + `","outputSchema":{"input":{"method":"GET"}}}`,
			want: RequirementV2{Scheme: "exact", Network: "base-sepolia", Amount: "250", Asset: usdc, PayTo: payTo, MaxTimeoutSeconds: 30}, // no Raw: not the v2 shape
		},
		{
			name: "both amounts: amount wins",
			in:   `{"scheme":"exact","amount":"7","maxAmountRequired":"9"}`,
			want: RequirementV2{Scheme: "exact", Amount: "7", Raw: json.RawMessage(`{"scheme":"exact","amount":"7","maxAmountRequired":"9"}`)},
		},
		{
			name: "an empty object",
			in:   ` {}`,
			want: RequirementV2{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequirement([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRequirement(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[{}]`, `"exact"`, `{"scheme":1}`, `{"maxTimeoutSeconds":"60"}`, `{"amount":"1"`, `{"extra":` + strings.Repeat(" ", MaxBodyLen) + `{}}`} {
		if r, err := ParseRequirement([]byte(bad)); err == nil {
			t.Errorf("ParseRequirement(%.40q) = %+v, want an error", bad, r)
		}
	}
}

func TestRequirementOption(t *testing.T) {
	r, err := ParseRequirement([]byte(specAccepted))
	if err != nil {
		t.Fatal(err)
	}
	o := r.Option(3)
	if o.Index != 3 || o.Problem != "" || o.Amount.Cmp(money.USDC(10000)) != 0 || o.Domain != (EIP712Extra{"USDC", "2"}) || o.Network != "eip155:84532" {
		t.Errorf("Option(3) = %+v", o)
	}
	// The same entry in a 402 weighs the same.
	c, err := ParseChallenge(nil, []byte(specRequiredV1))
	if err != nil {
		t.Fatal(err)
	}
	var v1 PaymentRequiredV1
	if err := json.Unmarshal([]byte(specRequiredV1), &v1); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(v1.Accepts[0])
	if err != nil {
		t.Fatal(err)
	}
	if r, err = ParseRequirement(raw); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.Options[0], r.Option(0), cmp.Comparer(func(a, b money.Amount) bool { return a.Cmp(b) == 0 && a.Decimals() == b.Decimals() })); diff != "" {
		t.Errorf("a v1 requirement alone and in a 402 differ (-402 +alone):\n%s", diff)
	}
	if r, _ := ParseRequirement([]byte(`{"scheme":"exact","amount":"1.5"}`)); r.Option(0).Problem == "" {
		t.Error("an amount of 1.5 atomic units has no problem")
	}
}

func TestIsAddress(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"0x209693Bc6afc0C5328bA36FaF03C514EF312287C", true},
		{"0x209693bc6afc0c5328ba36faf03c514ef312287c", true},
		{"0x0000000000000000000000000000000000000000", true},
		{"0X209693Bc6afc0C5328bA36FaF03C514EF312287C", false},
		{"209693Bc6afc0C5328bA36FaF03C514EF312287C", false},
		{"0x209693Bc6afc0C5328bA36FaF03C514EF312287", false},
		{"0x209693Bc6afc0C5328bA36FaF03C514EF312287C0", false},
		{"0x209693Bc6afc0C5328bA36FaF03C514EF312287G", false},
		{"9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin", false},
		{"", false},
	} {
		if got := IsAddress(tt.in); got != tt.want {
			t.Errorf("IsAddress(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseRequirement: any input is a requirement or an error, never a
// panic, and a requirement weighs to an option with a non-negative amount.
func FuzzParseRequirement(f *testing.F) {
	f.Add([]byte(specAccepted))
	f.Add([]byte(`{"scheme":"exact","network":"base","maxAmountRequired":"10000","extra":null}`))
	f.Add([]byte(`{"amount":"1e9","extra":[1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequirement(data)
		if err != nil {
			return
		}
		if o := r.Option(0); o.Amount.Sign() < 0 {
			t.Fatalf("negative amount %v", o.Amount)
		}
	})
}

func TestIsNonce(t *testing.T) {
	nonce := "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{nonce, true},
		{strings.ToUpper(nonce[:2]) + nonce[2:], false},       // 0X
		{"0x" + strings.ToUpper(nonce[2:]), true},             // upper-case digits
		{nonce[:65], false},                                   // 63 digits
		{nonce + "0", false},                                  // 65 digits
		{nonce[:65] + "g", false},                             // not hex
		{"0x209693Bc6afc0C5328bA36FaF03C514EF312287C", false}, // an address
		{"", false},
	} {
		if got := IsNonce(tt.in); got != tt.want {
			t.Errorf("IsNonce(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

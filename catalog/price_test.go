package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/money"
)

func TestPricesSpec(t *testing.T) {
	api := loadTestdata(t, "prices.yaml", Options{})
	type want struct {
		amount, min, network, payTo, mode, line string
	}
	priced := map[string]want{
		"fixed":          {"1000", "", "eip155:84532", "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "fixed", "Price: 0.001 USDC per call (x402, eip155:84532)"},
		"fixedUSDC":      {"1500000", "", "", "", "fixed", "Price: 1.5 USDC per call (x402)"},
		"dynamic":        {"10000", "1000", "", "", "dynamic", "Price: 0.001–0.01 USDC per call (x402)"},
		"dynamicNoMin":   {"20000", "0", "", "", "dynamic", "Price: 0–0.02 USDC per call (x402)"},
		"oldFixed":       {"3000", "", "", "", "fixed", "Price: 0.003 USDC per call (x402)"},
		"oldRange":       {"50000", "10000", "", "", "dynamic", "Price: 0.01–0.05 USDC per call (x402)"},
		"oldQuote":       {"2000000", "0", "", "", "dynamic", "Price: 0–2 USDC per call (x402)"},
		"dollar":         {"10000", "", "", "", "fixed", "Price: 0.01 USDC per call (x402)"},
		"number":         {"2000", "", "", "", "fixed", "Price: 0.002 USDC per call (x402)"},
		"integer":        {"3000000", "", "", "", "fixed", "Price: 3 USDC per call (x402)"},
		"networksDiffer": {"4000", "", "", "", "fixed", "Price: 0.004 USDC per call (x402)"},
	}
	// Operations without a price, and what their warning says.
	unpriced := map[string]string{
		"free":         "",
		"dynamicNoMax": "dynamic price without a maximum",
		"euro":         `currency "EUR"`,
		"notANumber":   `"cheap" is not a plain decimal number`,
		"tooPrecise":   "7 digits after the point",
		"negative":     `"-1" is not a plain decimal number`,
		"exponent":     `"1e-3" is not a plain decimal number`,
		"minAboveMax":  "minimum 0.5 is above maximum 0.1",
		"noX402":       "offered only by l402, not by x402",
		"badNetwork":   "network eip155:1 ; rm -rf is malformed",
		"notObject":    "x-payment-info is a string, not an object",
		"unknownMode":  `unknown price.mode "auction"`,
		"noAmount":     "fixed price without amount",
	}
	if got, want := len(api.Operations), len(priced)+len(unpriced); got != want {
		t.Fatalf("%d operations, want %d", got, want)
	}
	for id, w := range priced {
		op := operation(t, api, "price_forms_"+id)
		p := op.Price
		if p == nil {
			t.Errorf("%s: no price", id)
			continue
		}
		min := ""
		if p.Min != nil {
			min = p.Min.AtomicString()
		}
		if p.Amount.AtomicString() != w.amount || min != w.min || p.Network != w.network || p.PayTo != w.payTo || p.Mode != w.mode || p.Line() != w.line {
			t.Errorf("%s: price %s min %s network %q payTo %q mode %s line %q; want %+v", id, p.Amount, min, p.Network, p.PayTo, p.Mode, p.Line(), w)
		}
		if p.Asset != "USDC" || p.Amount.Decimals() != money.USDCDecimals || p.Scheme != "exact" || p.Source != "x-payment-info" {
			t.Errorf("%s: asset %s decimals %d scheme %s source %s", id, p.Asset, p.Amount.Decimals(), p.Scheme, p.Source)
		}
	}
	if !hasWarning(api, "price_forms_networksDiffer", "differ; no network pinned") {
		t.Errorf("no warning about the networks: %q", api.Warnings)
	}
	for id, reason := range unpriced {
		op := operation(t, api, "price_forms_"+id)
		if op.Price != nil {
			t.Errorf("%s: price %s, want none", id, op.Price.Display())
		}
		if reason == "" {
			if hasWarning(api, op.Name+" ") {
				t.Errorf("%s: unexpected warning in %q", id, api.Warnings)
			}
			continue
		}
		if !hasWarning(api, op.Name+" ", "x-payment-info: ", reason, "toll will not pay for this operation") {
			t.Errorf("%s: no warning with %q in %q", id, reason, api.Warnings)
		}
	}
}

func TestPriceDisplay(t *testing.T) {
	fixed := &Price{Amount: money.USDC(1000), Asset: "USDC", Network: "eip155:84532", Mode: PriceFixed}
	if got, want := fixed.Display(), "0.001 USDC"; got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
	if got, want := fixed.Line(), "Price: 0.001 USDC per call (x402, eip155:84532)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	fixed.Network = ""
	if got, want := fixed.Line(), "Price: 0.001 USDC per call (x402)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	dynamic := &Price{Amount: money.USDC(10000), Min: ptr(money.USDC(1000)), Asset: "USDC", Network: "eip155:8453", Mode: PriceDynamic}
	if got, want := dynamic.Display(), "0.001–0.01 USDC"; got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
	if got, want := dynamic.Line(), "Price: 0.001–0.01 USDC per call (x402, eip155:8453)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	var none *Price
	if none.Display() != "free" || none.Line() != "Price: free" {
		t.Errorf("nil price: %q, %q", none.Display(), none.Line())
	}
}

func TestParsePaymentInfo(t *testing.T) {
	tests := []struct {
		name   string
		in     any
		amount string // "" when an error is wanted
		errHas string
	}{
		{"float amount", map[string]any{"price": map[string]any{"amount": 0.25}}, "250000", ""},
		{"int amount", map[string]any{"price": map[string]any{"amount": 2}}, "2000000", ""},
		{"imprecise float", map[string]any{"price": map[string]any{"amount": 0.1234567890123456}}, "", "too precise"},
		{"bool amount", map[string]any{"price": map[string]any{"amount": true}}, "", "is a boolean"},
		{"mode not string", map[string]any{"price": map[string]any{"mode": 1, "amount": "1"}}, "", "price.mode is a number"},
		{"currency not string", map[string]any{"price": map[string]any{"amount": "1", "currency": 5}}, "", "currency is a number"},
		{"top-level currency", map[string]any{"price": "1", "currency": "EUR"}, "", `currency "EUR"`},
		{"dollar needs USD", map[string]any{"price": map[string]any{"amount": "$1", "currency": "USDC"}}, "", "not a plain decimal"},
		{"pricingMode not string", map[string]any{"pricingMode": []any{}, "price": "1"}, "", "pricingMode is a list"},
		{"unknown pricingMode", map[string]any{"pricingMode": "auction", "price": "1"}, "", `unknown pricingMode "auction"`},
		{"no price", map[string]any{"protocols": []any{"x402"}}, "", "no price given"},
		{"protocols not list", map[string]any{"price": "1", "protocols": "x402"}, "", "protocols is a string"},
		{"protocol entry number", map[string]any{"price": "1", "protocols": []any{1.0}}, "", "protocols entry is a number"},
		{"x402 entry not object", map[string]any{"price": "1", "protocols": []any{map[string]any{"x402": "yes"}}}, "", "x402 entry is a string"},
		{"x402 null entry", map[string]any{"price": "1", "protocols": []any{map[string]any{"x402": nil}}}, "1000000", ""},
		{"payTo malformed", map[string]any{"price": "1", "protocols": []any{map[string]any{"x402": map[string]any{"payTo": "0x12 34"}}}}, "", "payTo"},
		{"schemes differ", map[string]any{"price": "1", "protocols": []any{
			map[string]any{"x402": map[string]any{"scheme": "exact"}},
			map[string]any{"x402": map[string]any{"scheme": "upto"}},
		}}, "", "several schemes"},
		{"empty protocols", map[string]any{"price": "1", "protocols": []any{}}, "", "do not include x402"},
		{"huge amount", map[string]any{"price": strings.Repeat("9", 80)}, "", "longer than 79 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := parsePaymentInfo(tt.in)
			p := info.price
			if tt.amount == "" {
				if err == nil {
					t.Fatalf("price %s, want an error with %q", p.Display(), tt.errHas)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Amount.AtomicString() != tt.amount {
				t.Errorf("amount %s, want %s", p.Amount, tt.amount)
			}
		})
	}

	info, err := parsePaymentInfo(map[string]any{
		"price": map[string]any{"amount": "1"},
		"protocols": []any{
			map[string]any{"x402": map[string]any{"payTo": "0xaaaa", "scheme": "upto", "network": "base"}},
			map[string]any{"x402": map[string]any{"payTo": "0xbbbb", "scheme": "upto", "network": "base"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, notes := info.price, info.notes
	if p.PayTo != "" || p.Scheme != "upto" || p.Network != "base" || len(notes) != 1 || !strings.Contains(notes[0], "no recipient pinned") {
		t.Errorf("payTo %q scheme %q network %q notes %q", p.PayTo, p.Scheme, p.Network, notes)
	}
}

// FuzzPaymentInfo: for any JSON value, reading it as x-payment-info or
// x-bazaar does not panic; a price is exact USDC with its minimum at most its
// maximum, never given with an error; the other methods are short lines of
// toll's own making.
func FuzzPaymentInfo(f *testing.F) {
	for _, s := range []string{
		`{"price":{"mode":"fixed","currency":"USD","amount":"0.01"},"protocols":[{"x402":{}}]}`,
		`{"price":{"amount":"0.02"},"network":"eip155:8453","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payTo":"0xabc"}`,
		`{"intent":"charge","method":"x402","amount":"0.01","currency":"USD"}`,
		`{"offers":[{"intent":"charge","method":"stripe","amount":"100","currency":"usd"},{"method":"x402","amount":"50000","currency":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","decimals":6}]}`,
		`{"pricingMode":"fixed","price":"0.010000","protocols":["x402","mpp"]}`,
		`{"protocols":[{"mpp":{"method":"tempo"}}],"price":"1"}`,
		`{"schema":{"properties":{"input":{"type":"object","properties":{"q":{"type":"string"}}},"output":{"type":"object"}}}}`,
		`{"input":{"method":"POST","body":{"$ref":"#/components/schemas/X"}},"output":{"properties":{"type":{},"example":{"type":"string"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		readBazaar(v, "GET")
		readBazaar(v, "POST")
		info, err := parsePaymentInfo(v)
		if p := info.price; p != nil {
			if err != nil {
				t.Fatalf("price %s with error %v", p.Display(), err)
			}
			if p.Amount.Sign() < 0 || p.Amount.Decimals() != money.USDCDecimals || (p.Min != nil && p.Min.Cmp(p.Amount) > 0) {
				t.Fatalf("price %+v", p)
			}
		}
		for _, o := range info.others {
			if len(o) > 100 || strings.ContainsAny(o, "\n\r\t:") {
				t.Fatalf("other method %q", o)
			}
		}
	})
}

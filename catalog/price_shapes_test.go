package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// priceShapeSpecs returns price_shapes.json as written (read by the fast
// path for JSON, which prunes what toll does not read) and as YAML (read by
// kin-openapi's loader whole), so that each shape is read the same both ways.
func priceShapeSpecs(t *testing.T) map[string][]byte {
	t.Helper()
	data := readTestdata(t, "price_shapes.json")
	return map[string][]byte{"price_shapes.json": data, "price_shapes.yaml": toYAML(t, data)}
}

// toYAML writes a JSON document as YAML.
func toYAML(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestPriceShapes loads one operation for each shape of x-payment-info public
// specs write, and the document's endpoints map, and checks the price each
// gets, what it pins, the other methods it lists and its price line.
func TestPriceShapes(t *testing.T) {
	type want struct {
		amount, min string // atomic USDC; min "" for a fixed price
		mode        string
		network     string
		payTo       string
		asset       string
		others      []string
		line        string
	}
	const (
		usdcBase = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
		payTo    = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	)
	priced := map[string]want{
		"priceObject":   {amount: "10000", mode: PriceFixed, line: "Price: 0.01 USDC per call (x402)"},
		"topPins":       {amount: "20000", mode: PriceFixed, network: "eip155:8453", payTo: payTo, asset: usdcBase, line: "Price: 0.02 USDC per call (x402, eip155:8453)"},
		"x402Pins":      {amount: "50000", mode: PriceFixed, network: "eip155:8453", payTo: payTo, asset: usdcBase, line: "Price: 0.05 USDC per call (x402, eip155:8453)"},
		"flat":          {amount: "10000", mode: PriceFixed, line: "Price: 0.01 USDC per call (x402)"},
		"flatBaseUnits": {amount: "50000", mode: PriceFixed, network: "eip155:8453", payTo: payTo, asset: usdcBase, line: "Price: 0.05 USDC per call (x402, eip155:8453)"},
		"offers": {amount: "30000", mode: PriceFixed, others: []string{"stripe 1 USD", "tempo"},
			line: "Price: 0.03 USDC per call (x402); also offered by stripe 1 USD, tempo, which toll does not pay"},
		"offersDiffer": {amount: "20000", min: "10000", mode: PriceDynamic, line: "Price: 0.01–0.02 USDC per call (x402)"},
		"pricingMode": {amount: "10000", mode: PriceFixed, others: []string{"mpp"},
			line: "Price: 0.01 USDC per call (x402); also offered by mpp, which toll does not pay"},
		"endpointAdd":   {amount: "5000", mode: PriceFixed, network: "eip155:84532", line: "Price: 0.005 USDC per call (x402, eip155:84532)"},
		"endpointPlain": {amount: "250000", mode: PriceFixed, network: "eip155:84532", line: "Price: 0.25 USDC per call (x402, eip155:84532)"},
		"endpointOwn":   {amount: "70000", mode: PriceFixed, line: "Price: 0.07 USDC per call (x402)"},
		"declared402":   {amount: "0", mode: PriceAtCall, line: "Price: set at call time by the API's 402 response, at most toll's per-call cap (x402)"},
	}
	// Operations without a price: the words of their warning ("" for none),
	// and the other methods they list.
	unpriced := map[string]struct {
		reason string
		others []string
		line   string
	}{
		"otherOnly":      {"offered only by stripe 1 USD, not by x402", []string{"stripe 1 USD"}, "Price: offered only by stripe 1 USD, which toll does not pay: toll will not pay for this operation"},
		"otherProtocols": {"offered only by mpp (tempo), not by x402", []string{"mpp (tempo)"}, "Price: offered only by mpp (tempo), which toll does not pay: toll will not pay for this operation"},
		"malformed402":   {"amount 100 is a number without a decimal point", nil, "Price: free"},
		"free":           {"", nil, "Price: free"},
	}
	for name, data := range priceShapeSpecs(t) {
		t.Run(name, func(t *testing.T) {
			api, err := Load(t.Context(), data, name, Options{Namespace: "shapes"})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, api)
			if got, want := len(api.Operations), len(priced)+len(unpriced); got != want {
				t.Fatalf("%d operations, want %d", got, want)
			}
			for id, w := range priced {
				op := operation(t, api, "shapes_"+id)
				p := op.Price
				if p == nil {
					t.Errorf("%s: no price; warnings %q", id, api.Warnings)
					continue
				}
				min := ""
				if p.Min != nil {
					min = p.Min.AtomicString()
				}
				if p.Amount.AtomicString() != w.amount || min != w.min || p.Mode != w.mode || p.Network != w.network || p.PayTo != w.payTo || p.AssetAddress != w.asset {
					t.Errorf("%s: amount %s min %q mode %q network %q payTo %q asset %q; want %+v", id, p.Amount.AtomicString(), min, p.Mode, p.Network, p.PayTo, p.AssetAddress, w)
				}
				if !slices.Equal(op.OtherMethods, w.others) || op.PriceLine() != w.line {
					t.Errorf("%s: others %q line %q; want %q and %q", id, op.OtherMethods, op.PriceLine(), w.others, w.line)
				}
				if !strings.HasSuffix(op.ToolDescription(), "\n\n"+w.line) {
					t.Errorf("%s: tool description does not end with its price line:\n%s", id, op.ToolDescription())
				}
			}
			for id, w := range unpriced {
				op := operation(t, api, "shapes_"+id)
				if op.Price != nil {
					t.Errorf("%s: price %s, want none", id, op.Price.Display())
				}
				if !slices.Equal(op.OtherMethods, w.others) || op.PriceLine() != w.line {
					t.Errorf("%s: others %q line %q; want %q and %q", id, op.OtherMethods, op.PriceLine(), w.others, w.line)
				}
				if w.reason == "" {
					if hasWarning(api, op.Name+" ") {
						t.Errorf("%s: unexpected warning in %q", id, api.Warnings)
					}
					continue
				}
				if !hasWarning(api, op.Name+" ", w.reason, "toll will not pay for this operation") {
					t.Errorf("%s: no warning with %q in %q", id, w.reason, api.Warnings)
				}
			}
			if !hasWarning(api, "shapes_declared402 ", "declares a 402 response", "within the per-call cap") {
				t.Errorf("no warning that declared402 is priced at call time: %q", api.Warnings)
			}
			if !hasWarning(api, "shapes_offersDiffer ", `x402 networks ["eip155:8453" "eip155:84532"] differ`) {
				t.Errorf("no warning that the offers' networks differ: %q", api.Warnings)
			}
			if !hasWarning(api, `info.x-payment-info.endpoints: no operation is "GET /api/gone"`) || hasWarning(api, "endpoints: no operation is \"POST /api/add\"") {
				t.Errorf("warnings about the endpoints map: %q", api.Warnings)
			}
			if d := operation(t, api, "shapes_otherOnly").PriceDisplay(); d != "not paid by toll: stripe 1 USD" {
				t.Errorf("otherOnly PriceDisplay = %q", d)
			}
			if d := operation(t, api, "shapes_declared402").PriceDisplay(); d != "set at call time" {
				t.Errorf("declared402 PriceDisplay = %q", d)
			}
		})
	}
}

// TestOfferShapes: malformed offers and flat shapes leave no price and say
// why; well-formed ones read their amounts exactly.
func TestOfferShapes(t *testing.T) {
	tests := []struct {
		name   string
		in     map[string]any
		amount string // atomic USDC; "" when an error is wanted
		errHas string
		others []string
	}{
		{"decimal USD", map[string]any{"method": "x402", "amount": "0.5", "currency": "USD"}, "500000", "", nil},
		{"dollar sign", map[string]any{"amount": "$0.5"}, "500000", "", nil},
		{"cents", map[string]any{"method": "x402", "amount": "150", "currency": "usd"}, "1500000", "", nil},
		{"atomic USDC", map[string]any{"method": "x402", "amount": "1500", "currency": "USDC"}, "1500", "", nil},
		{"token decimals", map[string]any{"method": "x402", "amount": "15", "currency": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "decimals": 2.0}, "150000", "", nil},
		{"method details decimals", map[string]any{"method": "x402", "amount": "15", "currency": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "methodDetails": map[string]any{"decimals": 1.0}}, "1500000", "", nil},
		{"number with fraction", map[string]any{"method": "x402", "amount": 0.25}, "250000", "", nil},
		{"whole number", map[string]any{"method": "x402", "amount": 1.0}, "", "a number without a decimal point", nil},
		{"finer than USDC", map[string]any{"method": "x402", "amount": "1", "currency": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "decimals": 18.0}, "", "amount 1", nil},
		{"bad decimals", map[string]any{"method": "x402", "amount": "1", "currency": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "decimals": "six"}, "", "not a whole number of decimals", nil},
		{"euro", map[string]any{"method": "x402", "amount": "0.5", "currency": "EUR"}, "", `currency "EUR"`, nil},
		{"no amount", map[string]any{"method": "x402", "intent": "charge"}, "", "x402 offer without amount", nil},
		{"method not a string", map[string]any{"method": 4.0, "amount": "0.1"}, "", "offer method is a number", nil},
		{"offers not a list", map[string]any{"offers": "x402"}, "", "offers is a string", nil},
		{"offer not an object", map[string]any{"offers": []any{"x402"}}, "", "offers entry is a string", nil},
		{"empty offers", map[string]any{"offers": []any{}}, "", "no x402 offer", nil},
		{"session intent", map[string]any{"offers": []any{map[string]any{"method": "x402", "intent": "session", "amount": "0.1"}}}, "", "offered only by x402 (session)", []string{"x402 (session)"}},
		{"odd method name", map[string]any{"offers": []any{map[string]any{"method": "Pay Me!", "amount": "0.1"}}}, "", "offered only by another method 0.1 USD", []string{"another method 0.1 USD"}},
		{"bad network", map[string]any{"method": "x402", "amount": "0.1", "network": "base; rm"}, "", "x402 offer network base; rm is malformed", nil},
		{"other asset", map[string]any{"price": "0.1", "asset": "EURC"}, "", `asset "EURC" (toll pays USDC only)`, nil},
		{"assets differ", map[string]any{"price": "0.1", "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "protocols": []any{map[string]any{"x402": map[string]any{"asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e"}}}}, "100000", "", nil},
		{"many protocols", map[string]any{"price": "0.1", "protocols": []any{"x402", "mpp", "l402", map[string]any{"stripe": nil}}}, "100000", "", []string{"mpp", "l402", "stripe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := parsePaymentInfo(tt.in)
			if !slices.Equal(info.others, tt.others) {
				t.Errorf("others %q, want %q", info.others, tt.others)
			}
			if tt.amount == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one with %q", err, tt.errHas)
				}
				if info.price != nil {
					t.Errorf("price %s with the error", info.price.Display())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := info.price.Amount.AtomicString(); got != tt.amount {
				t.Errorf("amount %s, want %s", got, tt.amount)
			}
		})
	}
}

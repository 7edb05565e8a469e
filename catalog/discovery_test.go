package catalog

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

// cmpMoney compares amounts for go-cmp: equal values in equal decimals.
var cmpMoney = cmp.Comparer(func(a, b money.Amount) bool {
	return a.Cmp(b) == 0 && a.Decimals() == b.Decimals()
})

func ptr[T any](v T) *T { return &v }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/catalog/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFromDiscoveryV2(t *testing.T) {
	api, err := FromDiscovery(readTestdata(t, "discovery_v2.json"), "cdp", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if api.Name != "x402_discovery" || api.Format != "x402 discovery" || api.Source != "cdp" {
		t.Errorf("API %q %q %q", api.Name, api.Format, api.Source)
	}
	var got []string
	for _, op := range api.Operations {
		got = append(got, op.Method+" "+op.ServerURL+op.Path+" "+op.Name)
	}
	want := []string{
		"GET http://127.0.0.1:8402/echo x402_discovery_h127_0_0_1_get_echo",
		"GET https://api.weather.example.com/forecast x402_discovery_weather_get_forecast",
		"POST https://api.weather.example.com/users/{userId}/alerts x402_discovery_weather_post_users_userId_alerts",
	}
	if !cmp.Equal(got, want) {
		t.Errorf("operations %q, want %q", got, want)
	}

	forecast := operation(t, api, "x402_discovery_weather_get_forecast")
	p := forecast.Price
	if p == nil || p.Amount.Cmp(money.USDC(1000)) != 0 || p.Network != "eip155:84532" || p.PayTo != "0x209693Bc6afc0C5328bA36FaF03C514EF312287C" ||
		p.AssetAddress != "0x036CbD53842c5426634e7929541eC2318f3dCF7e" || p.Source != PriceFromDiscovery || p.Scheme != "exact" ||
		!p.ObservedAt.Equal(time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("price %+v: want the smallest EVM exact requirement", p)
	}
	if !hasWarning(api, "x402_discovery_weather_get_forecast", "pays 1000 exact on eip155:84532", "(not an EVM network)", "(not the exact scheme)", "2000 exact on eip155:8453 (a smaller one was chosen)") {
		t.Errorf("no warning listing the other requirements: %q", api.Warnings)
	}
	// Query and header parameters from the bazaar schema.
	checkArgs(t, forecast, `{"city":"Oslo","days":3,"X-Units":"metric"}`, true)
	checkArgs(t, forecast, `{"days":3}`, false)                // city is required
	checkArgs(t, forecast, `{"city":"Oslo","days":99}`, false) // at most 14
	if !slices.Equal(forecast.Tags, []string{"weather"}) {
		t.Errorf("tags %q", forecast.Tags)
	}

	alerts := operation(t, api, "x402_discovery_weather_post_users_userId_alerts")
	if alerts.Body == nil || alerts.Body.MediaType != "application/json" || len(alerts.Params) != 1 || alerts.Params[0].In != "path" {
		t.Errorf("alerts: body %+v params %+v", alerts.Body, alerts.Params)
	}
	checkArgs(t, alerts, `{"userId":"42","body":{"threshold":30,"extra":true}}`, true)
	if !alerts.Price.ObservedAt.Equal(time.Unix(1768473000, 0)) {
		t.Errorf("lastUpdated as a number: %v", alerts.Price.ObservedAt)
	}
	// The description is sanitized: no bidi override, no price statement.
	if alerts.Description != "Create a weather alert for a user." {
		t.Errorf("description %q", alerts.Description)
	}
	if !hasWarning(api, `the query of the resource URL ("source=bazaar") is not sent`) {
		t.Errorf("no warning about the query: %q", api.Warnings)
	}

	echo := operation(t, api, "x402_discovery_h127_0_0_1_get_echo")
	if echo.Price != nil || !hasWarning(api, "x402_discovery_h127_0_0_1_get_echo", "no EVM exact payment requirement") {
		t.Errorf("echo: price %v, warnings %q", echo.Price, api.Warnings)
	}
	if !hasWarning(api, `item 2 (https://mcp.example.com/mcp): skipped: type "mcp"`) {
		t.Errorf("no warning about the MCP item: %q", api.Warnings)
	}
}

func TestFromDiscoveryV1(t *testing.T) {
	api, err := FromDiscovery(readTestdata(t, "discovery_v1.json"), "v1", Options{Namespace: "bazaar"})
	if err != nil {
		t.Fatal(err)
	}
	data := operation(t, api, "bazaar_premium_get_premium-data")
	if p := data.Price; p == nil || p.Amount.Cmp(money.USDC(10000)) != 0 || p.Network != "base-sepolia" || !p.ObservedAt.Equal(time.Unix(1740672089, 0)) {
		t.Errorf("price %+v", p)
	}
	checkArgs(t, data, `{"symbol":"BTC","interval":"1d","X-Client":"toll"}`, true)
	checkArgs(t, data, `{"interval":"1d"}`, false) // symbol is required

	analyze := operation(t, api, "bazaar_premium_post_analyze")
	if p := analyze.Price; p == nil || p.Amount.Cmp(money.USDC(250000)) != 0 || p.Network != "base" || !p.ObservedAt.Equal(time.UnixMilli(1740672089123)) {
		t.Errorf("price %+v", p)
	}
	checkArgs(t, analyze, `{"body":{"holdings":["AAPL"],"risk":"low"}}`, true)
	checkArgs(t, analyze, `{"body":{"risk":"low"}}`, false)

	raw := operation(t, api, "bazaar_premium_get_raw")
	if string(raw.InputSchema) != `{"additionalProperties":false,"properties":{},"type":"object"}` || raw.Price == nil {
		t.Errorf("raw: %s, price %v", raw.InputSchema, raw.Price)
	}
}

func TestDiscoveryOptions(t *testing.T) {
	data := readTestdata(t, "discovery_v2.json")
	api, err := FromDiscovery(data, "cdp", Options{
		Namespace: "bz",
		Exclude:   Filter{Methods: []string{"POST"}},
		Prices:    map[string]money.Amount{"weather_get_forecast": money.USDC(500)},
		BaseURL:   "https://proxy.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Operations) != 2 || !hasWarning(api, "POST /users/{userId}/alerts: left out: exclude methods POST") {
		t.Errorf("%d operations, warnings %q", len(api.Operations), api.Warnings)
	}
	f := operation(t, api, "bz_weather_get_forecast")
	if f.Price.Amount.Cmp(money.USDC(500)) != 0 || f.Price.Source != PriceFromConfig || f.Price.Network != "eip155:84532" || f.ServerURL != "https://proxy.example.com" {
		t.Errorf("forecast: price %+v server %q", f.Price, f.ServerURL)
	}

	// The order of the items does not matter.
	var resp map[string]any
	if err := json.Unmarshal(data, &resp); err != nil {
		t.Fatal(err)
	}
	items := resp["items"].([]any)
	slices.Reverse(items)
	reversed, _ := json.Marshal(resp)
	a, _ := FromDiscovery(data, "x", Options{})
	b, _ := FromDiscovery(reversed, "x", Options{})
	if !cmp.Equal(a.Operations, b.Operations, cmpMoney) {
		t.Error("the order of the items changes the operations")
	}

	// Loaded as any spec: from a file or a URL, it is recognized.
	if api, err := LoadFile(t.Context(), "../testdata/catalog/discovery_v1.json", Options{}); err != nil || api.Format != "x402 discovery" {
		t.Errorf("LoadFile: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	if apis, err := LoadSource(t.Context(), srv.URL+"/discovery/resources?type=http", Options{}); err != nil || len(apis[0].Operations) != 3 {
		t.Errorf("LoadSource: %v", err)
	}
}

func TestFromDiscoveryErrors(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		want       error
	}{
		{"not JSON", "x402Version: 2\nitems: []", ErrInvalidDiscovery},
		{"no items", `{"x402Version":2}`, ErrInvalidDiscovery},
		{"items not a list", `{"x402Version":2,"items":{}}`, ErrInvalidDiscovery},
		{"too large", strings.Repeat(" ", MaxSpecBytes+1), ErrTooLarge},
	} {
		_, err := FromDiscovery([]byte(tt.data), "d\x1b.json", Options{})
		if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "load d.json: ") {
			t.Errorf("%s: %v, want %v naming the source", tt.name, err, tt.want)
		}
	}
	// The size limit is the setting (max_spec_bytes), as for a spec.
	small := []byte(`{"x402Version":2,"items":[{"resource":"https://a.example.com/a"}]}`)
	if _, err := FromDiscovery(small, "d", Options{MaxSpecBytes: int64(len(small) - 1)}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "max_spec_bytes") {
		t.Errorf("over max_spec_bytes: %v, want ErrTooLarge naming the setting", err)
	}
	if _, err := FromDiscovery(small, "d", Options{MaxSpecBytes: int64(len(small))}); err != nil {
		t.Errorf("at max_spec_bytes: %v", err)
	}
	if _, err := FromDiscovery([]byte(`{"items":[]}`), "d", Options{Namespace: "bad name"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("bad options: %v", err)
	}
	// Bad items are left out, one warning each.
	api, err := FromDiscovery([]byte(`{"x402Version":2,"resources":[1, {"resource":"ftp://x/y"}, {"resource":"https://u:p@x.example.com/"}, {"resource":"https://a.example.com/a","accepts":"no"}, {"resource":"https://a.example.com/a"}]}`), "s", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Operations) != 1 || len(api.Warnings) < 4 {
		t.Errorf("%d operations, warnings %q", len(api.Operations), api.Warnings)
	}
}

// FuzzFromDiscovery: any response ends in an API or an error, never a
// panic or a hang, and what it makes keeps the invariants.
func FuzzFromDiscovery(f *testing.F) {
	for _, name := range []string{"discovery_v1.json", "discovery_v2.json"} {
		f.Add(readTestdata(f, name))
	}
	for _, s := range []string{
		`{"x402Version":2,"items":[]}`,
		`{"x402Version":2,"items":[{"resource":"https://a.example.com/x/:id","extensions":{"bazaar":{"routeTemplate":"/x/:id","info":{"input":{"method":"PUT","bodyType":"form-data","body":{"a":1}}}}}}]}`,
		`{"x402Version":1,"items":[{"resource":"https://a.example.com/","accepts":[{"scheme":"exact","network":"base","maxAmountRequired":"1","asset":"0x0000000000000000000000000000000000000000","payTo":"0x0000000000000000000000000000000000000001","outputSchema":{"input":{"method":"GET","queryParams":{"q":{"$ref":"#/x"}}}}}]}]}`,
		`{"items":[{"resource":{"url":"https://b.example.com/a b"},"lastUpdated":1e300}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzSpec {
			return
		}
		done := make(chan struct{})
		var api *API
		var err error
		go func() {
			defer close(done)
			api, err = FromDiscovery(data, "fuzz.json", Options{})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("FromDiscovery hangs")
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "load fuzz.json: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line naming the source: %q", msg)
			}
			return
		}
		checkInvariants(t, api)
	})
}

// checkInvariants checks what every loaded API promises.
func checkInvariants(t *testing.T, api *API) {
	t.Helper()
	names := make(map[string]bool)
	for _, op := range api.Operations {
		if !nameRE.MatchString(op.Name) || len(op.Name) > maxToolName || names[op.Name] {
			t.Fatalf("bad or repeated tool name %q", op.Name)
		}
		names[op.Name] = true
		var root map[string]any
		if err := json.Unmarshal(op.InputSchema, &root); err != nil {
			t.Fatalf("%s: input schema is not a JSON object: %v", op.Name, err)
		}
		if root["type"] != "object" || root["additionalProperties"] != false {
			t.Fatalf("%s: input schema root %s", op.Name, op.InputSchema)
		}
		if k := schemaProblem(root); k != "" {
			t.Fatalf("%s: input schema has %q: %s", op.Name, k, op.InputSchema)
		}
		compile(t, op.InputSchema)
		if p := op.Price; p != nil && (p.Amount.Sign() < 0 || (p.Min != nil && p.Min.Cmp(p.Amount) > 0)) {
			t.Fatalf("%s: price %+v", op.Name, p)
		}
		for _, s := range []string{op.Name, op.Title, op.Description, op.ServerURL} {
			if i := strings.IndexFunc(s, invisible); i >= 0 {
				t.Fatalf("%s: invisible character in %q", op.Name, s)
			}
		}
		for line := range strings.Lines(op.Description) {
			if isPriceLine(line) {
				t.Fatalf("%s: the description states a price: %q", op.Name, line)
			}
		}
		checkToolDescription(t, op, op.ToolDescription())
	}
}

// TestDiscoveryPriceReasons: each payment requirement toll would not pay is
// listed with the reason, and the price is that of the one it would.
func TestDiscoveryPriceReasons(t *testing.T) {
	const (
		asset = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
		payTo = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	)
	req := func(scheme, network, amount, asset, payTo string) map[string]any {
		return map[string]any{"scheme": scheme, "network": network, "amount": amount, "asset": asset, "payTo": payTo}
	}
	for _, tt := range []struct {
		name string
		in   any
		want string // the reason in the note
	}{
		{"not an object", "exact", "requirement 1 (not a payment requirement: not a JSON object)"},
		{"timeout not a number", map[string]any{"scheme": "exact", "maxTimeoutSeconds": "60"}, "requirement 1 (not a payment requirement: json: cannot unmarshal string"},
		{"other scheme", req("upto", "eip155:8453", "5", asset, payTo), "5 upto on eip155:8453 (not the exact scheme)"},
		{"solana", req("exact", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "5", asset, payTo), "(not an EVM network)"},
		{"v1 name of no EVM network", req("exact", "solana-devnet", "5", asset, payTo), "(not an EVM network)"},
		{"decimal amount", req("exact", "base", "0.5", asset, payTo), "0.5 exact on base (amount is not a whole number of atomic units)"},
		{"zero", req("exact", "eip155:8453", "0", asset, payTo), "(asks for zero)"},
		{"asset not an address", req("exact", "eip155:8453", "5", "USDC", payTo), "(asset is not an address)"},
		{"payTo not an address", req("exact", "eip155:8453", "5", asset, "0x12"), "(payTo is not an address)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			good := req("exact", "base-sepolia", "700", asset, payTo)
			good["maxAmountRequired"], good["amount"] = "700", nil // the v1 shape
			price, notes := discoveryPrice([]any{tt.in, good})
			if price == nil || price.Amount.Cmp(money.USDC(700)) != 0 || price.Network != "base-sepolia" || price.PayTo != payTo || price.AssetAddress != asset {
				t.Fatalf("price %+v, want 700 atomic units on base-sepolia", price)
			}
			if len(notes) != 1 || !strings.HasPrefix(notes[0], "pays 700 exact on base-sepolia; other payment requirements not used: ") || !strings.Contains(notes[0], tt.want) {
				t.Errorf("notes %q, want one naming %q", notes, tt.want)
			}
		})
	}
}

package x402test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// discoveryPage is a /discovery/resources or /discovery/search answer.
type discoveryPage struct {
	X402Version int               `json:"x402Version"`
	Items       []json.RawMessage `json:"items"`
	Resources   []json.RawMessage `json:"resources"`
	Pagination  struct {
		Limit  int     `json:"limit"`
		Offset int     `json:"offset"`
		Total  int     `json:"total"`
		Cursor *string `json:"cursor"`
	} `json:"pagination"`
	Error string `json:"error"`
}

func getPage(t *testing.T, u string) (int, discoveryPage) {
	t.Helper()
	resp, data := do(t, http.MethodGet, u, "", nil)
	var p discoveryPage
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, data)
	}
	return resp.StatusCode, p
}

// TestWorldBazaar: the world's facilitator lists the paid routes of its API, each with
// the payment requirement its 402 gives and the bazaar extension.
func TestWorldBazaar(t *testing.T) {
	w := startWorld(t, Options{})
	code, p := getPage(t, w.FacilitatorURL+"/discovery/resources")
	if code != http.StatusOK || p.X402Version != 2 || len(p.Items) != 3 || p.Pagination.Total != 3 || p.Pagination.Limit != BazaarDefaultLimit {
		t.Fatalf("status %d, page %+v", code, p)
	}
	var items []map[string]any
	for _, raw := range p.Items {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		items = append(items, m)
	}
	weather := items[0]
	if weather["resource"] != w.APIURL+"/weather/Oslo" || weather["type"] != "http" || weather["x402Version"] != float64(1) {
		t.Errorf("weather item %v", weather)
	}
	bz := weather["extensions"].(map[string]any)["bazaar"].(map[string]any)
	if bz["routeTemplate"] != "/weather/:city" {
		t.Errorf("routeTemplate %v", bz["routeTemplate"])
	}
	// The v1 requirement is the one GET /weather/Oslo answers 402 with, with the input
	// as v1's outputSchema.
	pr, _ := challengeV1(t, http.MethodGet, w.APIURL+"/weather/Oslo", "")
	var listed x402.RequirementV1
	raw, _ := json.Marshal(weather["accepts"].([]any)[0])
	if err := json.Unmarshal(raw, &listed); err != nil {
		t.Fatal(err)
	}
	live := pr.Accepts[0]
	if diff := cmp.Diff(live, listed, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "OutputSchema" }, cmp.Ignore())); diff != "" {
		t.Errorf("listed requirement differs from the 402's (-live +listed):\n%s", diff)
	}
	var out struct {
		Input map[string]any `json:"input"`
	}
	if err := json.Unmarshal(listed.OutputSchema, &out); err != nil || out.Input["method"] != "GET" {
		t.Errorf("outputSchema %s: %v", listed.OutputSchema, err)
	}

	// A v2 route: its requirement is the 402's, in v2's shape.
	report := items[1]
	var req x402.RequirementV2
	raw, _ = json.Marshal(report["accepts"].([]any)[0])
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if report["resource"] != w.APIURL+"/reports" || req.Network != "eip155:84532" || req.Amount != "5000" || req.PayTo != w.PayTo() {
		t.Errorf("report item %v", report)
	}
	if _, ok := report["extensions"].(map[string]any)["bazaar"].(map[string]any)["routeTemplate"]; ok {
		t.Error("a static route has a routeTemplate")
	}
}

// TestBazaarPaging: limit and offset page the list, the filters select, search pages by
// cursor, and what the specification calls malformed answers 400 with an error.
func TestBazaarPaging(t *testing.T) {
	b := &Bazaar{}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	v2 := func(network, payTo string) json.RawMessage {
		raw, _ := json.Marshal(x402.RequirementV2{Scheme: "exact", Network: network, Amount: "10", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", PayTo: payTo})
		return raw
	}
	const alice, bob = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "0x857b06519E91e3A54538791bDbb0E22373e36b66"
	b.Add(
		DiscoveryItem{Resource: "https://a.example.com/forecast", Type: "http", Description: "Weather forecast", Accepts: []json.RawMessage{v2("eip155:8453", alice)}},
		DiscoveryItem{Resource: "https://b.example.com/quote", Type: "http", Description: "Stock quote", Tags: []string{"finance"}, Accepts: []json.RawMessage{v2("eip155:84532", bob)}},
		DiscoveryItem{Resource: "https://c.example.com/mcp", Type: "mcp", Description: "Weather tools", Accepts: []json.RawMessage{v2("base", alice)}},
	)
	resources := func(p discoveryPage) []string {
		var out []string
		for _, raw := range append(p.Items, p.Resources...) {
			var it DiscoveryItem
			json.Unmarshal(raw, &it)
			out = append(out, it.Resource)
		}
		return out
	}
	for _, tt := range []struct {
		name, query string
		code        int
		want        []string
		total       int
	}{
		{"second page", "/discovery/resources?limit=2&offset=2", 200, []string{"https://c.example.com/mcp"}, 3},
		{"past the end", "/discovery/resources?offset=9", 200, nil, 3},
		{"type", "/discovery/resources?type=mcp", 200, []string{"https://c.example.com/mcp"}, 1},
		{"network, v1 name of the same chain", "/discovery/resources?network=eip155:8453", 200, []string{"https://a.example.com/forecast", "https://c.example.com/mcp"}, 2},
		{"payTo", "/discovery/resources?payTo=" + bob, 200, []string{"https://b.example.com/quote"}, 1},
		{"network nobody has", "/discovery/resources?network=eip155:999999999", 200, nil, 0},
		{"limit too large", "/discovery/resources?limit=101", 400, nil, 0},
		{"offset not a number", "/discovery/resources?offset=x", 400, nil, 0},
		{"search", "/discovery/search?query=WEATHER", 200, []string{"https://a.example.com/forecast", "https://c.example.com/mcp"}, 0},
		{"search every word", "/discovery/search?query=weather+tools", 200, []string{"https://c.example.com/mcp"}, 0},
		{"search a tag", "/discovery/search?query=finance", 200, []string{"https://b.example.com/quote"}, 0},
		{"search without a query", "/discovery/search", 400, nil, 0},
		{"search with a foreign cursor", "/discovery/search?query=weather&cursor=abc", 400, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, p := getPage(t, srv.URL+tt.query)
			if code != tt.code {
				t.Fatalf("status %d, want %d", code, tt.code)
			}
			if code != 200 {
				if p.Error == "" {
					t.Error("no error member")
				}
				return
			}
			if got := resources(p); !cmp.Equal(got, tt.want) {
				t.Errorf("resources %q, want %q", got, tt.want)
			}
			if p.Items != nil && p.Pagination.Total != tt.total {
				t.Errorf("total %d, want %d", p.Pagination.Total, tt.total)
			}
		})
	}

	// Search pages by cursor, and the last page has none.
	_, p := getPage(t, srv.URL+"/discovery/search?query=example&limit=2")
	if got := resources(p); len(got) != 2 || p.Pagination.Cursor == nil || p.Pagination.Limit != 2 {
		t.Fatalf("first page %q, cursor %v", got, p.Pagination.Cursor)
	}
	_, p = getPage(t, srv.URL+"/discovery/search?query=example&limit=2&cursor="+url.QueryEscape(*p.Pagination.Cursor))
	if got := resources(p); !cmp.Equal(got, []string{"https://c.example.com/mcp"}) || p.Pagination.Cursor != nil {
		t.Errorf("second page %q, cursor %v", got, p.Pagination.Cursor)
	}
}

// TestDiscoveryItemsWithoutInfo: a paid route without BazaarInfo is listed with its
// method, and its wildcards named in the URL and the routeTemplate.
func TestDiscoveryItemsWithoutInfo(t *testing.T) {
	w := startWorld(t, Options{Routes: []Route{
		{Method: http.MethodDelete, Pattern: "/things/{id}/parts/{rest...}", Price: money.USDC(7), Version: 2, Handler: http.NotFoundHandler()},
		{Pattern: "/free", Handler: http.NotFoundHandler()},
	}})
	items := w.API.DiscoveryItems(time.Unix(1700000000, 0))
	if len(items) != 1 {
		t.Fatalf("%d items, want the paid route only", len(items))
	}
	it := items[0]
	bz := it.Extensions["bazaar"].(map[string]any)
	input := bz["info"].(map[string]any)["input"].(map[string]any)
	if it.Resource != w.APIURL+"/things/id/parts/rest" || bz["routeTemplate"] != "/things/:id/parts/:rest" || input["method"] != "DELETE" || it.LastUpdated != 1700000000 || bz["schema"] != nil {
		t.Errorf("item %+v", it)
	}
	if got := w.Facilitator.Bazaar.Items(); len(got) != 1 || got[0].Resource != it.Resource {
		t.Errorf("the world's Bazaar lists %+v", got)
	}
}

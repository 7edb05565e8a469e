package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/wallet"
)

// quoteOut is toll_quote's structured content as a client reads it.
type quoteOut struct {
	Sent         bool
	Status       int
	Free         bool
	Version      int `json:"x402Version"`
	Requirements []struct{ Scheme, Network, PayTo, Amount, Display string }
	Chosen       *int
	WouldPay     bool
	RefusedBy    string
	Reason       string
	Answer       string
}

// moneyState is what a quote must not change: the ledger's events, the chain's balances
// and the settlements of the world.
type moneyState struct {
	events       int
	payer, payTo string // balances
	settlements  int
}

func (pw *paidWorld) state(t *testing.T) moneyState {
	t.Helper()
	evs, err := pw.led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	balance := func(addr string) string {
		b, err := pw.world.BalanceOf(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	return moneyState{len(evs), balance(pw.payer), balance(pw.world.PayTo()), len(pw.world.Settlements())}
}

// TestQuote quotes the weather world's operations within caps: the terms of each 402,
// the requirement toll would choose, the rule that would refuse; a free operation says it
// is free without its answer. No quote signs, reserves, records or moves anything; a
// paid call between them moves exactly its price, and the next quote sees the cap it used.
func TestQuote(t *testing.T) {
	pw := newPaidWorld(t, ledger.Caps{PerCall: ptr(money.USDC(10_000)), PerSession: ptr(money.USDC(5_000))}, Options{})
	c := newClientFor(t, pw.s)
	v1, v2, payTo := pw.world.Chain.NetworkV1(), pw.world.Chain.NetworkV2(), pw.world.PayTo()
	zero := 0

	type req struct{ Scheme, Network, PayTo, Amount, Display string }
	for _, tt := range []struct {
		name      string
		args      map[string]any
		status    int
		free      bool
		reqs      []req
		chosen    *int
		wouldPay  bool
		refusedBy string
	}{
		{"weather_demo_health", map[string]any{}, 200, true, nil, nil, false, ""},
		{"weather_demo_getWeather", map[string]any{"city": "Oslo"}, 402, false,
			[]req{{"exact", v1, payTo, "1000", "0.001 USDC"}}, &zero, true, ""},
		{"weather_demo_createReport", map[string]any{"body": map[string]any{"city": "Oslo", "days": 3}}, 402, false,
			[]req{{"exact", v2, payTo, "5000", "0.005 USDC"}}, &zero, true, ""},
		{"weather_demo_getClimateHistory", map[string]any{"city": "Oslo"}, 402, false,
			[]req{{"exact", v2, payTo, "250000", "0.25 USDC"}}, nil, false, "per-call cap"},
	} {
		before := pw.state(t)
		var got quoteOut
		res := structuredOf(t, c, QuoteTool, map[string]any{"name": tt.name, "arguments": tt.args}, &got)
		if res.IsError {
			t.Fatalf("quote %s failed: %+v", tt.name, res.Content)
		}
		var reqs []req
		for _, r := range got.Requirements {
			reqs = append(reqs, req(r))
		}
		if !got.Sent || got.Status != tt.status || got.Free != tt.free || got.WouldPay != tt.wouldPay || got.RefusedBy != tt.refusedBy ||
			!cmp.Equal(tt.chosen, got.Chosen) {
			t.Errorf("quote %s: %+v\n%s", tt.name, got, res.Content[0].Text)
		}
		if diff := cmp.Diff(tt.reqs, reqs); diff != "" {
			t.Errorf("quote %s: requirements (-want +got):\n%s", tt.name, diff)
		}
		if after := pw.state(t); after != before {
			t.Errorf("quote %s changed the ledger or the chain: %+v, before %+v", tt.name, after, before)
		}
	}
	// The free health check ran once, for its quote; no paid handler ran.
	runs := map[string]int{}
	for _, r := range []string{"GET /health", "GET /weather/{city}", "POST /reports", "GET /climate/{city}"} {
		runs[r] = pw.world.HandlerRuns(r)
	}
	if diff := cmp.Diff(map[string]int{"GET /health": 1, "GET /weather/{city}": 0, "POST /reports": 0, "GET /climate/{city}": 0}, runs); diff != "" {
		t.Errorf("handler runs (-want +got):\n%s", diff)
	}

	before := pw.state(t)
	if res := callToolWith(t, c, "weather_demo_getWeather", map[string]any{"city": "Oslo"}); res.IsError {
		t.Fatalf("the paid call failed: %+v", res.Content)
	}
	afterCall := pw.state(t)
	if spent := mustAmount(t, before.payer).Sub(mustAmount(t, afterCall.payer)); spent.Cmp(money.USDC(1000)) != 0 {
		t.Errorf("the paid call moved %s, want 0.001", spent)
	}
	var got quoteOut
	res := structuredOf(t, c, QuoteTool, map[string]any{"name": "weather_demo_createReport", "arguments": map[string]any{"body": map[string]any{"city": "Oslo", "days": 3}}}, &got)
	if got.WouldPay || got.RefusedBy != "per-session cap" || got.Chosen == nil || *got.Chosen != 0 ||
		!strings.Contains(res.Content[0].Text, "toll would not pay it now") {
		t.Errorf("quote over the session cap: %+v\n%s", got, res.Content[0].Text)
	}
	if after := pw.state(t); after != afterCall {
		t.Errorf("the quote after the call changed the ledger or the chain: %+v, before %+v", after, afterCall)
	}
}

func ptr[T any](v T) *T { return &v }

func mustAmount(t *testing.T, s string) money.Amount {
	t.Helper()
	a, err := money.ParseUSDC(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestQuoteRefusedNetwork quotes a 402 on a network the policy does not allow: toll says
// which rule refuses, and records nothing.
func TestQuoteRefusedNetwork(t *testing.T) {
	f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}}, Options{})
	c := newClientFor(t, f.s)
	var got quoteOut
	res := structuredOf(t, c, QuoteTool, map[string]any{"name": "weather_demo_getWeather", "arguments": map[string]any{"city": "Oslo"}}, &got)
	if res.IsError || !got.Sent || got.Status != 402 || got.WouldPay || got.Chosen != nil || got.RefusedBy != "network allowlist" ||
		len(got.Requirements) != 1 || got.Requirements[0].Network != "base" {
		t.Errorf("quote: %+v\n%s", got, res.Content[0].Text)
	}
	if !strings.Contains(res.Content[0].Text, "The user can allow that network") {
		t.Errorf("the quote does not say what the user can change:\n%s", res.Content[0].Text)
	}
	if n := f.hits.Load(); n != 1 {
		t.Errorf("the API received %d requests, want the one unpaid request", n)
	}
	if evs, err := f.led.Events(t.Context()); err != nil || len(evs) != 0 {
		t.Errorf("the ledger holds %d events (%v), want none", len(evs), err)
	}
}

// itemsSpec has a free GET and a POST with no advertised price.
const itemsSpec = `openapi: 3.0.3
info: {title: Items, version: "1"}
paths:
  /items:
    get:
      operationId: listItems
      responses: {"200": {description: the items}}
    post:
      operationId: addItem
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      responses: {"201": {description: added}}
`

// TestQuoteSentOrNot: a quote of a free GET sends it and says it is free without its
// answer; a POST with no price is not sent (it could do its work, and toll would pay
// nothing for it); bad arguments and unknown names send nothing.
func TestQuoteSentOrNot(t *testing.T) {
	var hits atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":["secret-item-list"]}`))
	}))
	t.Cleanup(api.Close)
	cat, err := catalog.Load(t.Context(), []byte(itemsSpec), "items.yaml", catalog.Options{BaseURL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: tools.Policy{Networks: []string{"eip155:84532"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tc, cat.Operations, Options{Lazy: LazyOn})
	if err != nil {
		t.Fatal(err)
	}
	c := newClientFor(t, s)

	for _, tt := range []struct {
		name, op  string
		args      map[string]any
		isError   bool
		sent      bool
		refusedBy string
		text      string // in the text
		hits      int64  // requests the API received so far
	}{
		{"free GET", "items_listItems", map[string]any{}, false, true, "", "this call is free", 1},
		{"unpriced POST", "items_addItem", map[string]any{"body": map[string]any{"name": "x"}}, false, false, "advertised price", "The request was not sent", 1},
		{"bad arguments", "items_addItem", map[string]any{"body": map[string]any{}}, true, false, "", "invalid arguments", 1},
		{"unknown operation", "items_nothing", map[string]any{}, true, false, "", "use toll_search to find one", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got quoteOut
			res := callToolWith(t, c, QuoteTool, map[string]any{"name": tt.op, "arguments": tt.args})
			if !res.IsError {
				got = quoteOf(t, res)
			}
			text := res.Content[0].Text
			if res.IsError != tt.isError || got.Sent != tt.sent || got.RefusedBy != tt.refusedBy || !strings.Contains(text, tt.text) {
				t.Errorf("quote: error %v, %+v\n%s", res.IsError, got, text)
			}
			if strings.Contains(text, "secret-item-list") {
				t.Errorf("the quote returned the API's answer:\n%s", text)
			}
			if n := hits.Load(); n != tt.hits {
				t.Errorf("the API received %d requests, want %d", n, tt.hits)
			}
		})
	}
	if evs, err := led.Events(t.Context()); err != nil || len(evs) != 0 {
		t.Errorf("the ledger holds %d events (%v), want none", len(evs), err)
	}
}

func quoteOf(t *testing.T, res wire) quoteOut {
	t.Helper()
	var q quoteOut
	if err := json.Unmarshal(res.StructuredContent, &q); err != nil {
		t.Fatalf("structuredContent %s: %v", res.StructuredContent, err)
	}
	return q
}

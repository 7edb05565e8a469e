package server

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// eagerBuiltins are toll's own tools beside one tool per operation.
var eagerBuiltins = []string{BudgetTool, HistoryTool, QuoteTool}

// lazyBuiltins are toll's own tools in lazy mode, sorted by name as tools/list sorts them.
func lazyBuiltins() []string {
	names := append([]string{SearchTool, DescribeTool, CallTool}, eagerBuiltins...)
	slices.Sort(names)
	return names
}

// paidWorld is a Server on the weather demo of a local x402 world, paying from a funded
// wallet into a real ledger.
type paidWorld struct {
	world *x402test.World
	s     *Server
	led   *ledger.Ledger
	payer string
}

// newPaidWorld starts the weather world and serves it within caps.
func newPaidWorld(t *testing.T, caps ledger.Caps, opts Options) *paidWorld {
	t.Helper()
	ctx := t.Context()
	world, err := x402test.Start(ctx, x402test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := world.Fund(ctx, w.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: tools.Policy{
		Caps:     caps,
		Networks: []string{world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Address: world.Chain.TokenAddress()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := catalog.Load(ctx, world.SpecYAML(), "weather.yaml", catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opts.ResultDir == "" {
		opts.ResultDir = t.TempDir()
	}
	s, err := New(tc, api.Operations, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &paidWorld{world: world, s: s, led: led, payer: w.Address().Hex()}
}

// callToolWith calls name with args and returns the result as it travels.
func callToolWith(t *testing.T, c *client.Client, name string, args map[string]any) wire {
	t.Helper()
	return onWire(t, callToolArgs(t, c, name, args))
}

// structuredOf decodes a result's structuredContent into dst.
func structuredOf(t *testing.T, c *client.Client, name string, args map[string]any, dst any) wire {
	t.Helper()
	res := callToolWith(t, c, name, args)
	if err := json.Unmarshal(res.StructuredContent, dst); err != nil {
		t.Fatalf("%s: structuredContent %s: %v", name, res.StructuredContent, err)
	}
	return res
}

// TestHistory pays two calls in one session and one in another: toll_history lists the
// session's own spends, newest first, with what the chain settled.
func TestHistory(t *testing.T) {
	pw := newPaidWorld(t, ledger.Caps{}, Options{})
	c := newClientFor(t, pw.s)
	other := newClientFor(t, pw.s)

	for _, call := range []struct {
		c    *client.Client
		tool string
		args map[string]any
	}{
		{c, "weather_demo_getWeather", map[string]any{"city": "Oslo"}},
		{other, "weather_demo_getWeather", map[string]any{"city": "Lima"}},
		{c, "weather_demo_createReport", map[string]any{"body": map[string]any{"city": "Oslo", "days": 2}}},
	} {
		if res := callToolWith(t, call.c, call.tool, call.args); res.IsError {
			t.Fatalf("%s failed: %+v", call.tool, res.Content)
		}
	}
	settled := pw.world.Settlements()
	if len(settled) != 3 {
		t.Fatalf("%d settlements, want 3", len(settled))
	}

	type entry struct {
		Tool, API, Amount, Display, Status, Transaction, Network, PayTo, Time string
		Decimals                                                              int
	}
	var got struct {
		Spends []entry
		Count  int
	}
	res := structuredOf(t, c, HistoryTool, map[string]any{}, &got)
	if res.IsError {
		t.Fatalf("toll_history failed: %+v", res.Content)
	}
	type row struct{ Tool, API, Amount, Display, Status, Network, PayTo string }
	var rows []row
	for _, e := range got.Spends {
		rows = append(rows, row{e.Tool, e.API, e.Amount, e.Display, e.Status, e.Network, e.PayTo})
		if e.Decimals != money.USDCDecimals || e.Time == "" {
			t.Errorf("%s: decimals %d, time %q", e.Tool, e.Decimals, e.Time)
		}
	}
	want := []row{
		{"weather_demo_createReport", "weather_demo", "5000", "0.005 USDC", "settled", pw.world.Chain.NetworkV2(), pw.world.PayTo()},
		{"weather_demo_getWeather", "weather_demo", "1000", "0.001 USDC", "settled", pw.world.Chain.NetworkV1(), pw.world.PayTo()},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got.Count != 2 {
		t.Errorf("count %d, want 2", got.Count)
	}
	// The transactions are the ones the world settled, newest first.
	txs := map[string]bool{}
	for _, s := range settled {
		txs[s.TxHash] = true
	}
	for _, e := range got.Spends {
		if !txs[e.Transaction] {
			t.Errorf("%s: transaction %q is not one the world settled", e.Tool, e.Transaction)
		}
		if !strings.Contains(res.Content[0].Text, e.Transaction) {
			t.Errorf("the text does not name transaction %s:\n%s", e.Transaction, res.Content[0].Text)
		}
	}

	var one struct{ Spends []entry }
	structuredOf(t, c, HistoryTool, map[string]any{"limit": 1}, &one)
	if len(one.Spends) != 1 || one.Spends[0].Tool != "weather_demo_createReport" {
		t.Errorf("limit 1: %+v, want the report alone", one.Spends)
	}
	var theirs struct{ Spends []entry }
	structuredOf(t, other, HistoryTool, nil, &theirs)
	if len(theirs.Spends) != 1 || theirs.Spends[0].Amount != "1000" {
		t.Errorf("the other session's history: %+v, want its one weather call", theirs.Spends)
	}
}

// TestHistoryArguments refuses a limit out of range or an argument it does not have.
func TestHistoryArguments(t *testing.T) {
	_, c := newTestServer(t)
	for _, tt := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"limit": 0}, "not a whole number from 1 to 50"},
		{map[string]any{"limit": MaxHistory + 1}, "not a whole number from 1 to 50"},
		{map[string]any{"limit": 2.5}, "not a whole number from 1 to 50"},
		{map[string]any{"session": "someone else's"}, "do not fit the tool's input schema"},
	} {
		res := callToolWith(t, c, HistoryTool, tt.args)
		if !res.IsError || !strings.Contains(res.Content[0].Text, tt.want) {
			t.Errorf("toll_history %v: error %v, %+v; want an error saying %q", tt.args, res.IsError, res.Content, tt.want)
		}
	}
	res := callToolWith(t, c, HistoryTool, map[string]any{})
	if res.IsError || res.Content[0].Text != "No payments in this session yet." {
		t.Errorf("empty history: %+v", res.Content)
	}
}

// TestBuiltinNamesRefused: no operation may take the name of a built-in tool.
func TestBuiltinNamesRefused(t *testing.T) {
	for _, name := range []string{HistoryTool, QuoteTool, BudgetTool} {
		err := CheckNames([]*catalog.Operation{{API: "toll", Name: name, Method: "GET", Path: "/thing"}})
		if err == nil || !strings.Contains(err.Error(), "is named "+name+", as one of toll's own tools is") {
			t.Errorf("CheckNames of an operation named %s: %v, want a refusal", name, err)
		}
	}
}

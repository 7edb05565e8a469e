package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.yaml.in/yaml/v4"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// TestLazyOnDemandPays drives the built binary with serve --lazy on over a JSON spec,
// whose operations are listed on demand: toll_search finds the paid operation,
// toll_describe builds it and shows its arguments, and toll_call pays for it on the
// simulated chain and records the spend.
func TestLazyOnDemandPays(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	var doc any
	if err := yaml.Unmarshal(s.world.SpecYAML(), &doc); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	jsonSpec := filepath.Join(s.dir, "spec.json") // a listing on demand reads JSON
	if err := os.WriteFile(jsonSpec, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, _, stderr := serveMCP(t, ctx, bin, nil, s.keyFiles.serveArgs(s.world, jsonSpec, s.ledger, "--lazy", "on"))
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	call := func(name string, args map[string]any) (bool, string) {
		t.Helper()
		var req mcp.CallToolRequest
		req.Params.Name, req.Params.Arguments = name, args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("tools/call %s: %v", name, err)
		}
		return res.IsError, resultText(res)
	}
	isErr, found := call("toll_search", map[string]any{"query": "weather city"})
	m := regexp.MustCompile(`- (\S+) \(GET /weather/\{city\}`).FindStringSubmatch(found)
	if isErr || m == nil {
		t.Fatalf("toll_search: %s", found)
	}
	weather := m[1]
	if isErr, text := call("toll_describe", map[string]any{"name": weather}); isErr || !strings.Contains(text, `"city"`) || !strings.Contains(text, "0.001 USDC") {
		t.Errorf("toll_describe %s: %s", weather, text)
	}
	before := s.balance(t, s.payer.Hex())
	if isErr, text := call("toll_call", map[string]any{"name": weather, "arguments": map[string]any{"city": "Oslo"}}); isErr || !strings.Contains(text, "Oslo") || !strings.Contains(text, "Cost: paid") {
		t.Fatalf("toll_call %s: %s", weather, text)
	}
	if d := before.Sub(s.balance(t, s.payer.Hex())); d.Cmp(money.USDC(x402test.PriceWeather)) != 0 {
		t.Errorf("the payer paid %s, want exactly %s", d, money.USDC(x402test.PriceWeather))
	}
	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	spends, err := openLedger(t, s.ledger).Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 1 || spends[0].Status != ledger.StatusSettled {
		t.Errorf("ledger spends = %+v, want one settled", spends)
	}
}

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools/x402test"
)

// TestBudgetShowsWalletBalance: with the chain's JSON-RPC endpoint (--rpc), toll_budget
// shows the wallet's USDC on that network as the chain holds it, through the built binary.
func TestBudgetShowsWalletBalance(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	keys := newKeyFiles(t, dir, "budget pass")
	world, spec := startWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0"}, keys.payer, dir)
	args := keys.serveArgs(world, spec, filepath.Join(dir, "ledger.db"), "--rpc", world.Chain.NetworkV2()+"="+world.RPCURL)
	c, _, stderr := serveMCP(t, t.Context(), bin, withoutTollEnv(), args)
	var req mcp.CallToolRequest
	req.Params.Name = server.BudgetTool
	res, err := c.CallTool(t.Context(), req)
	if err != nil || res.IsError {
		t.Fatalf("toll_budget: %v %v\nstderr:\n%s", err, resultText(res), stderr)
	}
	var got struct {
		Wallet []server.WalletBalance `json:"wallet"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	// The world's token (allowed with --asset) holds the 1 USDC startWorld funds the payer
	// with; base-sepolia's real USDC, which toll also reads there, is not on this chain.
	var token *server.WalletBalance
	for i, w := range got.Wallet {
		if strings.EqualFold(w.Asset, world.Chain.TokenAddress()) {
			token = &got.Wallet[i]
		}
	}
	if token == nil || token.Balance != "1" || token.Error != "" || token.Network != world.Chain.NetworkV2() {
		t.Errorf("wallet balances %+v, want 1 of the world's token %s", got.Wallet, world.Chain.TokenAddress())
	}
	if text := resultText(res); !strings.Contains(text, "wallet on "+world.Chain.NetworkV2()+": 1 "+world.Chain.TokenAddress()) {
		t.Errorf("toll_budget text lacks the wallet's balance:\n%s", text)
	}
}

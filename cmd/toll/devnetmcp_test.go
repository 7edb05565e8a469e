package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// TestDevnetPaidMCP runs toll devnet in-process and pays its MCP server at mcpUrl: the
// tools list their prices, an unpaid call answers payment required to the devnet's payTo,
// and a payment signed for that challenge is settled.
func TestDevnetPaidMCP(t *testing.T) {
	payer, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out safeBuffer
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"devnet", "--api-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0", "--format", "json",
			"--fund", payer.Address().Hex() + "=1"}, strings.NewReader(""), &out, io.Discard, func(string) string { return "" })
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("devnet: %v", err)
		}
	}()
	select {
	case <-out.seen("\n"):
	case err := <-done:
		t.Fatalf("devnet stopped: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("devnet printed nothing in 30 s")
	}
	var info devnetInfo
	if err := json.Unmarshal([]byte(out.String()), &info); err != nil {
		t.Fatalf("devnet output %q: %v", out.String(), err)
	}
	if info.MCPURL != info.APIURL+"/mcp" {
		t.Fatalf("mcpUrl %q, want %q", info.MCPURL, info.APIURL+"/mcp")
	}

	c, err := client.NewStreamableHttpClient(info.MCPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	init.Params.ClientInfo = mcp.Implementation{Name: t.Name(), Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	prices := map[string]any{}
	for _, tool := range list.Tools {
		if tool.Meta != nil {
			if p, ok := tool.Meta.AdditionalFields["x402/price"].(map[string]any); ok {
				prices[tool.Name] = p["amount"]
			}
		}
	}
	if prices["get_weather"] != "1000" || prices["get_forecast"] != "5000" || len(prices) != 2 {
		t.Errorf("prices in tools/list: %v, want get_weather 1000 and get_forecast 5000", prices)
	}

	var req mcp.CallToolRequest
	req.Params.Name = "get_weather"
	req.Params.Arguments = map[string]any{"city": "Oslo"}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	structured, _ := json.Marshal(res.StructuredContent)
	ch, err := x402.ToolResultChallenge(res.IsError, structured, "")
	if err != nil {
		t.Fatalf("unpaid call: %v: %+v", err, res)
	}
	if o := ch.Options[0]; o.PayTo != info.PayTo || o.Asset != info.Token || o.Network != info.Network {
		t.Fatalf("requirement %+v, want payTo %s, token %s on %s", o, info.PayTo, info.Token, info.Network)
	}
	key, value, err := ch.PaymentMeta(0, devnetPayment(t, payer, ch))
	if err != nil {
		t.Fatal(err)
	}
	req.Params.Meta = mcp.NewMetaFromMap(map[string]any{key: value})
	paid, err := c.CallTool(ctx, req)
	if err != nil || paid.IsError || paid.Meta == nil {
		t.Fatalf("paid call: %v %+v", err, paid)
	}
	raw, _ := json.Marshal(paid.Meta.AdditionalFields[x402.MetaPaymentResponse])
	sr, err := x402.ParseSettlementMeta(map[string]json.RawMessage{x402.MetaPaymentResponse: raw})
	if err != nil || sr == nil || !sr.Success || !strings.EqualFold(sr.Payer, payer.Address().Hex()) {
		t.Errorf("settlement %+v, %v; want a success from %s", sr, err, payer.Address().Hex())
	}
}

// devnetPayment signs option 0 of ch from payer.
func devnetPayment(t *testing.T, payer *wallet.Wallet, ch *x402.Challenge) x402.ExactEVMPayload {
	t.Helper()
	o := ch.Options[0]
	chainID, err := x402.ChainID(o.Network)
	if err != nil {
		t.Fatal(err)
	}
	asset, err := wallet.ParseAddress(o.Asset)
	if err != nil {
		t.Fatal(err)
	}
	payTo, err := wallet.ParseAddress(o.PayTo)
	if err != nil {
		t.Fatal(err)
	}
	a, err := payer.NewAuthorization(payTo, o.Amount.Atomic(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := payer.Sign(t.Context(), wallet.Domain{Name: o.Domain.Name, Version: o.Domain.Version, ChainID: chainID, VerifyingContract: asset}, a)
	if err != nil {
		t.Fatal(err)
	}
	return x402.ExactEVMPayload{
		Signature: "0x" + hex.EncodeToString(sig),
		Authorization: x402.Authorization{
			From: a.From.Hex(), To: a.To.Hex(), Value: a.Value.String(),
			ValidAfter: a.ValidAfter.String(), ValidBefore: a.ValidBefore.String(),
			Nonce: "0x" + hex.EncodeToString(a.Nonce[:]),
		},
	}
}

// TestDevnetMCPStdio: with --mcp-stdio the paid MCP server speaks on stdin/stdout (the
// endpoints go to stderr), in the dialect --mcp-dialect names, and the devnet stops when
// stdin ends.
func TestDevnetMCPStdio(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr safeBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"devnet", "--api-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0", "--format", "json",
			"--mcp-stdio", "--mcp-dialect", "x402-mcp"}, inR, outW, &stderr, func(string) string { return "" })
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	lines.Buffer(nil, 1<<20)
	ask := func(msg string) string {
		t.Helper()
		if _, err := io.WriteString(inW, msg+"\n"); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("no answer to %s; stderr:\n%s", msg, stderr.String())
		}
		return lines.Text()
	}
	ask(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	io.WriteString(inW, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	answer := ask(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}`)
	var resp struct {
		Result struct {
			IsError           bool            `json:"isError"`
			StructuredContent json.RawMessage `json:"structuredContent"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(answer), &resp); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	ch, err := x402.ToolResultChallenge(resp.Result.IsError, resp.Result.StructuredContent, "")
	if err != nil || ch.Version != 1 || ch.Options[0].Network != "base-sepolia" {
		t.Fatalf("unpaid call over stdio: %v, %s; want an x402 version 1 challenge", err, answer)
	}
	var info devnetInfo
	if err := json.Unmarshal([]byte(strings.SplitN(stderr.String(), "\n", 2)[0]), &info); err != nil || info.MCPURL == "" {
		t.Errorf("endpoints on stderr: %v\n%s", err, stderr.String())
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("devnet after stdin ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("devnet did not stop when stdin ended")
	}
}

func TestDevnetMCPDialectUsage(t *testing.T) {
	_, _, err := runTest(t, nil, "devnet", "--mcp-dialect", "vercel")
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "x402-mcp") {
		t.Errorf("devnet --mcp-dialect vercel: %v, want a usage error naming spec and x402-mcp", err)
	}
}

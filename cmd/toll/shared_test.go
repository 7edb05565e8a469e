package main

import (
	"context"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// TestTwoServersShareTheCaps runs two `toll serve` processes on one ledger file, as two MCP
// hosts would, and pays from both at once: the total cap holds across them.
func TestTwoServersShareTheCaps(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const (
		perServer = 8
		capCalls  = 10 // --max-total 0.010 admits ten 0.001 calls in all
	)
	var clients []*client.Client
	var stderrs []*safeBuffer
	for range 2 {
		var stderr safeBuffer
		c, err := client.NewStdioMCPClientWithOptions(bin, nil, s.serveArgs("--max-total", "0.010"), transport.WithCommandStderrWriter(&stderr))
		if err != nil {
			t.Fatal(err)
		}
		var init mcp.InitializeRequest
		init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
		if _, err := c.Initialize(ctx, init); err != nil {
			t.Fatalf("initialize: %v", err)
		}
		clients = append(clients, c)
		stderrs = append(stderrs, &stderr)
	}
	defer func() {
		if t.Failed() {
			for i, e := range stderrs {
				t.Logf("server %d stderr:\n%s", i, e.String())
			}
		}
	}()
	payerBefore := s.balance(t, s.payer)
	var mu sync.Mutex
	paid, refused := 0, 0
	var wg sync.WaitGroup
	for _, c := range clients {
		for i := range perServer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var req mcp.CallToolRequest
				req.Params.Name = "weather_demo_getWeather"
				req.Params.Arguments = map[string]any{"city": []string{"Oslo", "Lima"}[i%2]}
				res, err := c.CallTool(ctx, req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("call: %v", err)
					return
				}
				text := ""
				for _, cc := range res.Content {
					if tc, ok := mcp.AsTextContent(cc); ok {
						text += tc.Text
					}
				}
				switch {
				case !res.IsError && strings.Contains(text, "Cost: paid"):
					paid++
				case res.IsError && strings.Contains(text, "total cap"):
					refused++
				default:
					t.Errorf("unexpected result: %v %s", res.IsError, text)
				}
			}()
		}
	}
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	if paid != capCalls || refused != 2*perServer-capCalls {
		t.Errorf("paid %d, refused %d; want %d and %d", paid, refused, capCalls, 2*perServer-capCalls)
	}
	if spent := new(big.Int).Sub(payerBefore, s.balance(t, s.payer)); spent.Int64() != capCalls*1000 {
		t.Errorf("chain: payer spent %s, want %d", spent, capCalls*1000)
	}
	waitForLedger(t, s.ledger)
	led, err := ledger.Open(s.ledger, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	tot, err := led.Totals(t.Context(), "", "")
	if err != nil || tot.Total.Cmp(money.USDC(capCalls*1000)) != 0 {
		t.Errorf("ledger total %v (%v), want %d", tot.Total, err, capCalls*1000)
	}
}

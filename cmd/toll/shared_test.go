package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
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
		c, _, stderr := serveMCP(t, ctx, bin, nil, s.serveArgs("--max-total", "0.010"))
		clients = append(clients, c)
		stderrs = append(stderrs, stderr)
	}
	defer func() {
		if t.Failed() {
			for i, e := range stderrs {
				t.Logf("server %d stderr:\n%s", i, e.String())
			}
		}
	}()
	payerBefore := s.balance(t, s.payer.Hex())
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
				text := resultText(res)
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
	want := money.USDC(capCalls * x402test.PriceWeather)
	if spent := payerBefore.Sub(s.balance(t, s.payer.Hex())); spent.Cmp(want) != 0 {
		t.Errorf("chain: payer spent %s, want %s", spent, want)
	}
	tot, err := openLedger(t, s.ledger).Totals(t.Context(), "", "")
	if err != nil || tot.Total.Cmp(want) != 0 {
		t.Errorf("ledger total %v (%v), want %s", tot.Total, err, want)
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// payDiscovered calls the tools of the local world's weather and report routes, as a
// Bazaar lists them, over c, and checks that each moves exactly its price from the payer
// to the world's payTo on chain.
func payDiscovered(t *testing.T, ctx context.Context, c *client.Client, s *e2eSetup) {
	t.Helper()
	weather, report := toolFor(t, ctx, c, "GET /weather/{city}"), toolFor(t, ctx, c, "POST /reports")
	for _, tc := range []struct {
		tool  string
		args  map[string]any
		price int64
		want  string // in the result
	}{
		{weather, map[string]any{"city": "Bergen", "units": "imperial"}, x402test.PriceWeather, `"tempF"`},
		{report, map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}, x402test.PriceReport, "Lisbon"},
	} {
		payer0, payTo0 := s.balance(t, s.payer.Hex()), s.balance(t, s.world.PayTo())
		var req mcp.CallToolRequest
		req.Params.Name, req.Params.Arguments = tc.tool, tc.args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("tools/call %s: %v", tc.tool, err)
		}
		if res.IsError || !strings.Contains(resultText(res), tc.want) || !strings.Contains(resultText(res), "Cost: paid") {
			t.Fatalf("%s: isError=%v %s", tc.tool, res.IsError, resultText(res))
		}
		if d := payer0.Sub(s.balance(t, s.payer.Hex())); d.Cmp(money.USDC(tc.price)) != 0 {
			t.Errorf("%s: payer paid %s, want exactly %s", tc.tool, d, money.USDC(tc.price))
		}
		if d := s.balance(t, s.world.PayTo()).Sub(payTo0); d.Cmp(money.USDC(tc.price)) != 0 {
			t.Errorf("%s: payTo received %s, want exactly %s", tc.tool, d, money.USDC(tc.price))
		}
	}
}

// TestDiscoverThenServe: toll catalog discover reads the local world's Bazaar into a
// catalog file, toll serve loads the file like a spec, and an MCP client pays two
// discovered resources (x402 v1 and v2) on the simulated chain.
func TestDiscoverThenServe(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	file := filepath.Join(s.dir, "bazaar.json")
	run := runBinary(t, nil, "catalog", "discover", "--facilitator", s.world.FacilitatorURL, "--network", "eip155:84532", "--out", file)
	if run.code != 0 || run.stdout != "" {
		t.Fatalf("discover: exit %d, stdout %q\n%s", run.code, run.stdout, run.stderr)
	}
	for _, want := range []string{
		"toll: read 3 resources in 1 page of " + s.world.FacilitatorURL + "/discovery/resources: 3 kept, 0 left out",
		"toll: " + file + " loads as 3 tools (API x402_discovery) with ",
		"toll catalog check " + file + " shows them",
	} {
		if !strings.Contains(run.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, run.stderr)
		}
	}
	// The file is what the Bazaar listed, with where it came from.
	var doc struct {
		Discovered struct {
			Facilitator string `json:"facilitator"`
			Network     string `json:"network"`
			Kept        int    `json:"kept"`
		} `json:"discovered"`
		Items []map[string]any `json:"items"`
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Discovered.Facilitator != s.world.FacilitatorURL || doc.Discovered.Network != "eip155:84532" || doc.Discovered.Kept != 3 || len(doc.Items) != 3 {
		t.Errorf("file: %+v with %d items", doc.Discovered, len(doc.Items))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, _, stderr := serveMCP(t, ctx, bin, nil, s.keyFiles.serveArgs(s.world, file, s.ledger))
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	payDiscovered(t, ctx, c, s)
	c.Close()
	spends, err := openLedger(t, s.ledger).Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 2 || spends[0].Status != ledger.StatusSettled || spends[1].Status != ledger.StatusSettled {
		t.Errorf("ledger: %+v, want two settled spends", spends)
	}
}

// TestServeDiscovery: toll serve --discovery reads the Bazaar at start, with no spec, and
// pays what it lists; toll catalog list --discovery shows the same tools.
func TestServeDiscovery(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	list := runBinary(t, nil, "catalog", "list", "--format", "json", "--discovery", s.world.FacilitatorURL)
	var rows []listRow
	if err := json.Unmarshal([]byte(list.stdout), &rows); list.code != 0 || err != nil || len(rows) != 3 {
		t.Fatalf("catalog list --discovery: exit %d, %v, %d rows\n%s", list.code, err, len(rows), list.stderr)
	}
	for _, r := range rows {
		if r.Price == nil || r.PriceFrom != "discovery" {
			t.Errorf("row %+v: want a price from the discovery", r)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args := []string{"serve", "--discovery", s.world.FacilitatorURL, "--keystore", s.keystore, "--passphrase-file", s.passFile,
		"--ledger", s.ledger, "--network", s.world.Chain.NetworkV2(), "--asset", s.world.Chain.TokenAddress(), "--max-per-call", "0.01"}
	c, _, stderr := serveMCP(t, ctx, bin, nil, args)
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	payDiscovered(t, ctx, c, s)
}

// TestDiscoverCommand: discover writes the file on stdout without --out, refuses what it
// cannot read with a one-line error, and a missing --facilitator is a usage error.
func TestDiscoverCommand(t *testing.T) {
	s := newE2E(t)
	run := runBinary(t, nil, "catalog", "discover", "--facilitator", s.world.FacilitatorURL+"/discovery/resources", "--query", "climate history")
	var doc struct {
		X402Version int   `json:"x402Version"`
		Items       []any `json:"items"`
	}
	if err := json.Unmarshal([]byte(run.stdout), &doc); run.code != 0 || err != nil || doc.X402Version != 2 || len(doc.Items) != 1 {
		t.Fatalf("discover to stdout: exit %d, %v, %d items\n%s", run.code, err, len(doc.Items), run.stderr)
	}
	if !strings.Contains(run.stderr, "of "+s.world.FacilitatorURL+"/discovery/search: 1 kept") {
		t.Errorf("stderr: %s", run.stderr)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"catalog", "discover"}, 2, "toll catalog discover needs --facilitator URL"},
		{[]string{"catalog", "discover", "--facilitator", s.world.FacilitatorURL, "--type", "grpc"}, 2, "want http or mcp"},
		{[]string{"catalog", "discover", "--facilitator", "http://x402.example.com"}, 1, "is http to a host that is not this machine; use https"},
		{[]string{"catalog", "discover", "--facilitator", s.world.APIURL}, 1, "fetch failed: HTTP status 404 (check --facilitator"},
		{[]string{"catalog", "discover", "--facilitator", s.world.FacilitatorURL, "--out", filepath.Join(s.dir, "no", "such", "dir.json")}, 1, "write " + filepath.Join(s.dir, "no", "such", "dir.json")},
	} {
		run := runBinary(t, nil, tt.args...)
		if run.code != tt.code || !strings.Contains(run.stderr, tt.want) || run.stdout != "" {
			t.Errorf("toll %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), run.code, run.stdout, run.stderr, tt.code, tt.want)
		}
	}
}

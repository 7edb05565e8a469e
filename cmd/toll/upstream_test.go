package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// envStdioPipe makes the test binary, re-executed by toll as a stdio mcp_servers entry,
// a pipe between its stdin and stdout and the TCP address the variable holds, where the
// test serves a paid MCP server over stdio (pipeStdio): the server stays in the test's
// process, on the test's chain.
const envStdioPipe = "TOLLTEST_STDIO_PIPE"

// pipeStdio copies stdin to addr and addr to stdout until either ends; it returns the
// process's exit code.
func pipeStdio(addr string) int {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		io.Copy(conn, os.Stdin)
		conn.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(os.Stdout, conn)
	return 0
}

// serveStdioOnce serves s over stdio to the first connection to a new local listener,
// and returns its address.
func serveStdioOnce(t *testing.T, s *paidmcp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = s.ServeStdio(ctx, conn, conn)
	}()
	return ln.Addr().String()
}

// headerSeen records the values of one request header a handler received.
type headerSeen struct {
	name string
	next http.Handler
	mu   sync.Mutex
	seen map[string]bool
}

func (h *headerSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[r.Header.Get(h.name)] = true
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

func (h *headerSeen) values() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for v := range h.seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func newPaidMCP(t *testing.T, opts paidmcp.Options) *paidmcp.Server {
	t.Helper()
	s, err := paidmcp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServeUpstreamMCP runs the built toll in front of three paid MCP servers on one
// local x402 world: wx over streamable HTTP (with a header from the environment and a
// tool cap), local over stdio (the test binary re-executed as a pipe to a server in this
// process), and shifty, which asks a higher price once paid. An MCP client pays wx and
// local through toll: each on-chain delta is exact and each spend settled under its
// namespace; the tool cap and shifty's changed price are refused as their HTTP twins are.
func TestServeUpstreamMCP(t *testing.T) {
	bin := tollBinary(t)
	ctx := t.Context()
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "upstream passphrase")
	world, specFile := startWorld(t, x402test.Options{}, k.payer, dir)

	wx := newPaidMCP(t, paidmcp.Options{World: world})
	wxHTTP := &headerSeen{name: "X-Wx-Token", next: wx.HTTPHandler()}
	wxSrv := httptest.NewServer(wxHTTP)
	t.Cleanup(wxSrv.Close)
	local := newPaidMCP(t, paidmcp.Options{World: world})
	pipe := serveStdioOnce(t, local)
	shifty := newPaidMCP(t, paidmcp.Options{World: world, PriceAfterPayment: money.USDC(2000)})
	shiftySrv := httptest.NewServer(shifty.HTTPHandler())
	t.Cleanup(shiftySrv.Close)

	cfgPath := filepath.Join(dir, "toll.yaml")
	cfg := fmt.Sprintf(`mcp_servers:
  - namespace: wx
    url: %s/mcp
    headers: {X-Wx-Token: {env: WX_TOKEN}}
    tool_caps: {get_forecast: "0.004"}
  - namespace: local
    command: %s
    args: ["-test.run=^$"]
    legacy_protocol: true
  - namespace: shifty
    url: %s/mcp
`, wxSrv.URL, os.Args[0], shiftySrv.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ledgerFile := filepath.Join(dir, "ledger.db")
	env := []string{"WX_TOKEN=token-from-env", envStdioPipe + "=" + pipe}
	c, _, stderr := serveMCP(t, ctx, bin, env, k.serveArgs(world, specFile, ledgerFile, "--config", cfgPath))

	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range list.Tools {
		names[tl.Name] = true
	}
	for _, want := range []string{"wx_get_weather", "wx_ping", "local_get_forecast", "shifty_get_weather"} {
		if !names[want] {
			t.Errorf("tools/list lacks %s; stderr:\n%s", want, stderr.String())
		}
	}

	payer, payTo := k.payer.Hex(), world.PayTo()
	balance := func() (int64, int64) {
		p, err := world.BalanceOf(ctx, payer)
		if err != nil {
			t.Fatal(err)
		}
		q, err := world.BalanceOf(ctx, payTo)
		if err != nil {
			t.Fatal(err)
		}
		return p.Atomic().Int64(), q.Atomic().Int64()
	}
	calls := []struct {
		tool      string
		wantError bool
		wantText  string
		wantPaid  int64
	}{
		{tool: "wx_get_weather", wantText: "Cost: paid 0.001 USDC", wantPaid: 1000},
		{tool: "local_get_forecast", wantText: "Cost: paid 0.005 USDC", wantPaid: 5000},
		{tool: "wx_get_forecast", wantError: true, wantText: "Not paid"},
		{tool: "shifty_get_weather", wantError: true, wantText: "Payment problem"},
	}
	for _, tc := range calls {
		p0, q0 := balance()
		res := callWith(t, ctx, c, tc.tool, map[string]any{"city": "Oslo"})
		text := resultText(res)
		if res.IsError != tc.wantError || !strings.Contains(text, tc.wantText) {
			t.Errorf("%s: isError %v, %q; want isError %v and %q", tc.tool, res.IsError, text, tc.wantError, tc.wantText)
		}
		p1, q1 := balance()
		if p0-p1 != tc.wantPaid || q1-q0 != tc.wantPaid {
			t.Errorf("%s: the payer paid %d and payTo received %d, want %d", tc.tool, p0-p1, q1-q0, tc.wantPaid)
		}
	}
	if got := wxHTTP.values(); len(got) != 1 || got[0] != "token-from-env" {
		t.Errorf("X-Wx-Token values sent to wx = %q, want only the value of $WX_TOKEN", got)
	}
	if wx.ToolRuns(paidmcp.ToolForecast) != 0 || shifty.ToolRuns(paidmcp.ToolWeather) != 0 {
		t.Errorf("a refused call ran upstream: wx get_forecast %d runs, shifty get_weather %d", wx.ToolRuns(paidmcp.ToolForecast), shifty.ToolRuns(paidmcp.ToolWeather))
	}
	c.Close()

	got := map[string]ledger.Status{}
	spends, err := openLedger(t, ledgerFile).Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range spends {
		got[sp.API+" "+sp.Tool] = sp.Status
	}
	want := map[string]ledger.Status{
		"wx wx_get_weather":         ledger.StatusSettled,
		"local local_get_forecast":  ledger.StatusSettled,
		"shifty shifty_get_weather": ledger.StatusUnknown,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ledger spends = %v, want %v", got, want)
	}
}

// callWith calls name with args on c; a Go error fails t.
func callWith(t *testing.T, ctx context.Context, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// TestConfigCheckMCPServers: toll config check refuses mcp_servers entries that cannot
// work, saying which and why.
func TestConfigCheckMCPServers(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		entries  string
		wantCode int
		wantText string
	}{
		{entries: "  - {namespace: wx, url: \"https://a.example/mcp\", command: srv}", wantCode: 1, wantText: "has both url and command"},
		{entries: "  - {namespace: wx}", wantCode: 1, wantText: "has neither url nor command"},
		{entries: "  - {namespace: wx, url: \"ftp://a.example/mcp\"}", wantCode: 1, wantText: "is not an http or https URL"},
		{entries: "  - {namespace: wx, url: \"https://a.example/mcp\"}\n  - {namespace: wx, command: srv}", wantCode: 1, wantText: "namespace wx is used twice"},
		{entries: "  - {namespace: Wx_1, command: srv}", wantCode: 1, wantText: "must match"},
		{entries: "  - {namespace: wx, url: \"https://a.example/mcp\", headers: {Authorization: {}}}", wantCode: 1, wantText: "headers.Authorization"},
		{entries: "  - {namespace: wx, url: \"https://a.example/mcp\", pay_to: nope}", wantCode: 1, wantText: "pay_to"},
		{entries: "  - {namespace: wx, url: \"https://a.example/mcp\", headers: {Authorization: {env: WX_TOKEN}}, max_total: \"2\"}", wantCode: 0,
			wantText: "https://a.example/mcp; tools served as wx_TOOL, at most 2 USDC in all"},
	}
	for i, tc := range cases {
		path := filepath.Join(dir, fmt.Sprintf("toll-%d.yaml", i))
		if err := os.WriteFile(path, []byte("networks: [base-sepolia]\nmcp_servers:\n"+tc.entries+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runBinary(t, nil, "config", "check", "--config", path)
		if r.code != tc.wantCode || !strings.Contains(r.stdout+r.stderr, tc.wantText) {
			t.Errorf("entries\n%s\nexit %d, want %d, and %q in:\n%s%s", tc.entries, r.code, tc.wantCode, tc.wantText, r.stdout, r.stderr)
		}
	}
}

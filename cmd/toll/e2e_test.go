package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// e2eSetup is a local x402 world, a funded keystore wallet and a spec file pointing at
// the world's paid API.
type e2eSetup struct {
	keyFiles
	world  *x402test.World
	dir    string // the test's temporary directory, holding the files below
	spec   string
	ledger string
}

func newE2E(t *testing.T) *e2eSetup {
	t.Helper()
	dir := t.TempDir()
	s := &e2eSetup{keyFiles: newKeyFiles(t, dir, "correct horse battery staple"), dir: dir, ledger: filepath.Join(dir, "ledger.db")}
	s.world, s.spec = startWorld(t, x402test.Options{}, s.payer, dir)
	return s
}

// serveArgs are toll serve's arguments for this setup: at most 0.01 USDC a call and 0.10
// a session; extra follow.
func (s *e2eSetup) serveArgs(extra ...string) []string {
	return s.keyFiles.serveArgs(s.world, s.spec, s.ledger, append([]string{"--max-per-session", "0.10"}, extra...)...)
}

func (s *e2eSetup) balance(t *testing.T, addr string) money.Amount {
	t.Helper()
	b, err := s.world.BalanceOf(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEndToEndStdio drives the built binary over real stdio with an MCP client: tools/list,
// a free call, a v1 and a v2 paid call settled on the simulated chain, and a call above the
// per-call cap that is refused with nothing signed.
func TestEndToEndStdio(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	c, _, stderr := serveMCP(t, ctx, bin, nil, s.serveArgs())
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()

	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	tools := map[string]mcp.Tool{}
	for _, tool := range list.Tools {
		tools[tool.Name] = tool
	}
	if len(tools) != 4+3 {
		t.Fatalf("tools/list has %d tools, want 4 operations + toll_budget, toll_history, toll_quote: %v", len(tools), keys(tools))
	}
	names := map[string]string{} // operationId → tool name
	for name, tool := range tools {
		if tool.Meta != nil {
			if op, ok := tool.Meta.AdditionalFields["toll/operation"].(string); ok {
				names[op] = name
			}
		}
	}
	weather, report, climate, health := names["GET /weather/{city}"], names["POST /reports"], names["GET /climate/{city}"], names["GET /health"]
	if weather == "" || report == "" || climate == "" || health == "" {
		t.Fatalf("operations missing from tools/list: %v", names)
	}
	wt := tools[weather]
	if !strings.Contains(wt.Description, "Price: 0.001 USDC per call (x402, eip155:84532)") {
		t.Errorf("getWeather description lacks the price line:\n%s", wt.Description)
	}
	price, _ := wt.Meta.AdditionalFields["x402/price"].(map[string]any)
	if price["amount"] != "1000" || price["decimals"] != float64(6) || price["network"] != "eip155:84532" {
		t.Errorf("getWeather _meta price = %v", price)
	}
	if tools[health].Meta != nil && tools[health].Meta.AdditionalFields["x402/price"] != nil {
		t.Errorf("free tool has a price in _meta")
	}

	payTo := s.world.PayTo()
	call := func(name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		return callWith(t, ctx, c, name, args)
	}
	text := resultText

	// A free call pays nothing.
	payer0 := s.balance(t, s.payer.Hex())
	if res := call(health, map[string]any{}); res.IsError || !strings.Contains(text(res), "nothing paid") {
		t.Fatalf("health: isError=%v %s", res.IsError, text(res))
	}

	// Paid calls: v1 then v2. Each moves exactly the price, payer to payTo.
	var txs []string
	for _, tc := range []struct {
		tool  string
		args  map[string]any
		price int64
		want  string
	}{
		{weather, map[string]any{"city": "Oslo"}, x402test.PriceWeather, "Oslo"},
		{report, map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}, x402test.PriceReport, "Lisbon"},
	} {
		payerBefore, payToBefore := s.balance(t, s.payer.Hex()), s.balance(t, payTo)
		res := call(tc.tool, tc.args)
		if res.IsError {
			t.Fatalf("%s: isError: %s", tc.tool, text(res))
		}
		if !strings.Contains(text(res), tc.want) || !strings.Contains(text(res), "Cost: paid") {
			t.Errorf("%s result: %s", tc.tool, text(res))
		}
		payerAfter, payToAfter := s.balance(t, s.payer.Hex()), s.balance(t, payTo)
		if d := payerBefore.Sub(payerAfter); d.Cmp(money.USDC(tc.price)) != 0 {
			t.Errorf("%s: payer paid %s, want exactly %s", tc.tool, d, money.USDC(tc.price))
		}
		if d := payToAfter.Sub(payToBefore); d.Cmp(money.USDC(tc.price)) != 0 {
			t.Errorf("%s: payTo received %s, want exactly %s", tc.tool, d, money.USDC(tc.price))
		}
		if res.Meta == nil {
			t.Fatalf("%s: no receipt in _meta", tc.tool)
		}
		pr, _ := res.Meta.AdditionalFields["x402/payment-response"].(map[string]any)
		tx, _ := pr["transaction"].(string)
		if !strings.HasPrefix(tx, "0x") || len(tx) != 66 {
			t.Fatalf("%s: transaction in _meta = %v", tc.tool, pr)
		}
		txs = append(txs, tx)
	}

	// Above the per-call cap (0.25 > 0.01): refused, nothing signed, nothing moved.
	settlementsBefore := len(s.world.Settlements())
	payerBefore, payToBefore := s.balance(t, s.payer.Hex()), s.balance(t, payTo)
	res := call(climate, map[string]any{"city": "Oslo"})
	if !res.IsError || !strings.Contains(text(res), "per-call cap") {
		t.Fatalf("climate: isError=%v %s", res.IsError, text(res))
	}
	if s.balance(t, s.payer.Hex()).Cmp(payerBefore) != 0 || s.balance(t, payTo).Cmp(payToBefore) != 0 {
		t.Error("a refused call moved money")
	}
	if n := len(s.world.Settlements()); n != settlementsBefore {
		t.Errorf("a refused call reached settlement (%d → %d)", settlementsBefore, n)
	}

	// Invalid arguments are refused before anything is sent.
	if res := call(report, map[string]any{"body": map[string]any{"city": "Oslo", "days": 99}}); !res.IsError || !strings.Contains(text(res), "nothing was sent or paid") {
		t.Errorf("invalid arguments: isError=%v %s", res.IsError, text(res))
	}
	if got := payer0.Sub(s.balance(t, s.payer.Hex())); got.Cmp(money.USDC(x402test.PriceWeather+x402test.PriceReport)) != 0 {
		t.Errorf("payer spent %s in all, want 0.006", got)
	}

	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}

	// The ledger holds one settled entry per paid call, with its transaction hash.
	led := openLedger(t, s.ledger)
	spends, err := led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 2 {
		t.Fatalf("ledger has %d spends, want 2: %+v", len(spends), spends)
	}
	for i, sp := range spends {
		if sp.Status != ledger.StatusSettled || sp.TxHash != txs[i] || sp.Payer != s.payer.Hex() {
			t.Errorf("spend %d = %+v, want settled with tx %s", i, sp, txs[i])
		}
	}
	if err := led.Verify(t.Context()); err != nil {
		t.Errorf("ledger verify: %v", err)
	}
	events, err := led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, e := range events {
		if e.Kind == "refused" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("ledger has %d refused events, want 1 (the over-cap call)", refused)
	}
	if strings.Contains(stderr.String(), s.passphrase) {
		t.Error("the passphrase appears in toll's stderr")
	}
}

// TestStdoutIsOnlyJSONRPC runs toll serve with raw JSON-RPC lines on stdin and checks that
// every line on stdout is a JSON-RPC message, one response to each request, and that the
// logs went to stderr.
func TestStdoutIsOnlyJSONRPC(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, s.serveArgs("--log-level", "debug")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	lines, stderr := startLines(t, ctx, cmd)
	var got []string // every line toll wrote on stdout
	// next returns the next line, or false once stdout is closed.
	next := func() (string, bool) {
		select {
		case line, ok := <-lines:
			if ok {
				got = append(got, line)
			}
			return line, ok
		case <-ctx.Done():
			t.Fatalf("stdout so far:\n%s\nstderr:\n%s\n%v", strings.Join(got, "\n"), stderr.String(), ctx.Err())
			return "", false
		}
	}
	send := func(line string) {
		if _, err := fmt.Fprintln(stdin, line); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(id int) {
		for {
			line, ok := next()
			if !ok {
				t.Fatalf("stdout closed before the response %d; stdout:\n%s\nstderr:\n%s", id, strings.Join(got, "\n"), stderr.String())
			}
			if msg, err := parseJSONRPC(line); err == nil && msg.ID != nil && *msg.ID == id {
				return
			}
		}
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	waitFor(1)
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	waitFor(2)
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"toll_budget","arguments":{}}}`)
	waitFor(3)
	send(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`)
	waitFor(4)
	stdin.Close()
	for { // the rest, until toll closes stdout
		if _, ok := next(); !ok {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("toll serve exited with %v; stderr:\n%s", err, stderr.String())
	}
	responses := map[int]int{} // id → responses with it
	for _, line := range got {
		msg, err := parseJSONRPC(line)
		if err != nil {
			t.Errorf("stdout line is not JSON-RPC: %q (%v)", line, err)
			continue
		}
		if msg.ID != nil {
			responses[*msg.ID]++
		}
	}
	if want := map[int]int{1: 1, 2: 1, 3: 1, 4: 1}; !maps.Equal(responses, want) {
		t.Errorf("responses by id = %v, want one to each request: %v", responses, want)
	}
	if !strings.Contains(stderr.String(), "toll serving") {
		t.Errorf("startup log not on stderr:\n%s", stderr.String())
	}
	if out := strings.Join(got, "\n"); !strings.Contains(out, `"remaining"`) {
		t.Errorf("toll_budget result lacks the remaining budget:\n%s", out)
	}
}

type jsonRPCMessage struct {
	JSONRPC string `json:"jsonrpc"`
	ID      *int   `json:"id"`
}

// parseJSONRPC decodes a line of toll's stdout, which must be a JSON-RPC 2.0 message.
func parseJSONRPC(line string) (jsonRPCMessage, error) {
	var msg jsonRPCMessage
	if err := json.Unmarshal([]byte(line), &msg); err != nil {
		return msg, err
	}
	if msg.JSONRPC != "2.0" {
		return msg, fmt.Errorf("jsonrpc is %q, want 2.0", msg.JSONRPC)
	}
	return msg, nil
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

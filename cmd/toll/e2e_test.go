package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402test"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tollBinary builds cmd/toll once per test run and returns its path.
func tollBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "toll-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "toll")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// safeBuffer collects a subprocess's stderr while the test reads it.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2eSetup is a local x402 world, a funded keystore wallet and a spec file pointing at
// the world's paid API.
type e2eSetup struct {
	world      *x402test.World
	dir        string
	spec       string
	keystore   string
	passFile   string
	passphrase string
	ledger     string
	payer      string
}

func newE2E(t *testing.T) *e2eSetup {
	t.Helper()
	ctx := t.Context()
	world, err := x402test.Start(ctx, x402test.Options{})
	if err != nil {
		t.Fatalf("start world: %v", err)
	}
	t.Cleanup(func() { world.Close() })
	dir := t.TempDir()
	s := &e2eSetup{
		world:      world,
		dir:        dir,
		spec:       filepath.Join(dir, "weather.yaml"),
		keystore:   filepath.Join(dir, "key.json"),
		passFile:   filepath.Join(dir, "pass.txt"),
		passphrase: "correct horse battery staple",
		ledger:     filepath.Join(dir, "ledger.db"),
	}
	if err := os.WriteFile(s.spec, world.SpecYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	w := createKeystore(t, s.keystore, s.passphrase)
	if err := os.WriteFile(s.passFile, []byte(s.passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.payer = w.Address().Hex()
	if err := world.Fund(ctx, s.payer, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *e2eSetup) serveArgs(extra ...string) []string {
	args := []string{"serve",
		"--spec", s.spec,
		"--keystore", s.keystore,
		"--passphrase-file", s.passFile,
		"--ledger", s.ledger,
		"--network", s.world.Chain.NetworkV2(),
		"--asset", s.world.Chain.TokenAddress(),
		"--max-per-call", "0.01",
		"--max-per-session", "0.10",
	}
	return append(args, extra...)
}

func (s *e2eSetup) balance(t *testing.T, addr string) *big.Int {
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

	var stderr safeBuffer
	c, err := client.NewStdioMCPClientWithOptions(bin, nil, s.serveArgs(), transport.WithCommandStderrWriter(&stderr))
	if err != nil {
		t.Fatalf("start toll serve: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618 // the handshake hosts in the field use
	init.Params.ClientInfo = mcp.Implementation{Name: "e2e", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}

	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	tools := map[string]mcp.Tool{}
	for _, tool := range list.Tools {
		tools[tool.Name] = tool
	}
	if len(tools) != 5 {
		t.Fatalf("tools/list has %d tools, want 4 operations + toll_budget: %v", len(tools), keys(tools))
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
		var req mcp.CallToolRequest
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("tools/call %s: %v", name, err)
		}
		return res
	}
	text := func(res *mcp.CallToolResult) string {
		var parts []string
		for _, c := range res.Content {
			if tc, ok := mcp.AsTextContent(c); ok {
				parts = append(parts, tc.Text)
			}
		}
		return strings.Join(parts, "\n")
	}

	// A free call pays nothing.
	payer0 := s.balance(t, s.payer)
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
		{weather, map[string]any{"city": "Oslo"}, 1000, "Oslo"},
		{report, map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}, 5000, "Lisbon"},
	} {
		payerBefore, payToBefore := s.balance(t, s.payer), s.balance(t, payTo)
		res := call(tc.tool, tc.args)
		if res.IsError {
			t.Fatalf("%s: isError: %s", tc.tool, text(res))
		}
		if !strings.Contains(text(res), tc.want) || !strings.Contains(text(res), "Cost: paid") {
			t.Errorf("%s result: %s", tc.tool, text(res))
		}
		payerAfter, payToAfter := s.balance(t, s.payer), s.balance(t, payTo)
		if d := new(big.Int).Sub(payerBefore, payerAfter); d.Int64() != tc.price {
			t.Errorf("%s: payer paid %s, want exactly %d", tc.tool, d, tc.price)
		}
		if d := new(big.Int).Sub(payToAfter, payToBefore); d.Int64() != tc.price {
			t.Errorf("%s: payTo received %s, want exactly %d", tc.tool, d, tc.price)
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
	payerBefore, payToBefore := s.balance(t, s.payer), s.balance(t, payTo)
	res := call(climate, map[string]any{"city": "Oslo"})
	if !res.IsError || !strings.Contains(text(res), "per-call cap") {
		t.Fatalf("climate: isError=%v %s", res.IsError, text(res))
	}
	if s.balance(t, s.payer).Cmp(payerBefore) != 0 || s.balance(t, payTo).Cmp(payToBefore) != 0 {
		t.Error("a refused call moved money")
	}
	if n := len(s.world.Settlements()); n != settlementsBefore {
		t.Errorf("a refused call reached settlement (%d → %d)", settlementsBefore, n)
	}

	// Invalid arguments are refused before anything is sent.
	if res := call(report, map[string]any{"body": map[string]any{"city": "Oslo", "days": 99}}); !res.IsError || !strings.Contains(text(res), "nothing was sent or paid") {
		t.Errorf("invalid arguments: isError=%v %s", res.IsError, text(res))
	}
	if got := new(big.Int).Sub(payer0, s.balance(t, s.payer)); got.Int64() != 6000 {
		t.Errorf("payer spent %s in all, want 6000", got)
	}

	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	waitForLedger(t, s.ledger)

	// The ledger holds one settled entry per paid call, with its transaction hash.
	led, err := ledger.Open(s.ledger, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	spends, err := led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 2 {
		t.Fatalf("ledger has %d spends, want 2: %+v", len(spends), spends)
	}
	for i, sp := range spends {
		if sp.Status != ledger.StatusSettled || sp.TxHash != txs[i] || sp.Payer != s.payer {
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

// waitForLedger waits until no process holds the ledger file's lock (the subprocess has
// exited after its stdin closed).
func waitForLedger(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		led, err := ledger.Open(path, ledger.Options{Timeout: 200 * time.Millisecond})
		if err == nil {
			if _, err = led.Spends(t.Context()); err == nil {
				led.Close()
				return
			}
			led.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger still busy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStdoutIsOnlyJSONRPC runs toll serve with raw JSON-RPC lines on stdin and checks that
// every line on stdout is a JSON-RPC message and that the logs went to stderr.
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
	var stdout, stderr safeBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	send := func(line string) {
		if _, err := fmt.Fprintln(stdin, line); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(id string) {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(stdout.String(), `"id":`+id+`,`) {
				return
			}
		}
		t.Fatalf("no response %s; stdout:\n%s\nstderr:\n%s", id, stdout.String(), stderr.String())
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	waitFor("1")
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	waitFor("2")
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"toll_budget","arguments":{}}}`)
	waitFor("3")
	send(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`)
	waitFor("4")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("toll serve exited with %v; stderr:\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		var msg struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Errorf("stdout line is not JSON-RPC: %q", sc.Text())
		}
		lines++
	}
	if lines < 4 {
		t.Errorf("%d JSON-RPC lines on stdout, want at least 4", lines)
	}
	if !strings.Contains(stderr.String(), "toll serving") {
		t.Errorf("startup log not on stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"remaining"`) {
		t.Errorf("toll_budget result lacks the remaining budget:\n%s", stdout.String())
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

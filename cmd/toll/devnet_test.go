package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// startDevnet starts "toll devnet --format json" from the built binary on free ports and
// returns what it printed. The process is interrupted at cleanup.
func startDevnet(t *testing.T, bin string, extra ...string) (devnetInfo, *exec.Cmd, *safeBuffer) {
	t.Helper()
	args := append([]string{"devnet", "--api-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0", "--format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	lines, stderr := startLines(t, t.Context(), cmd)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// The first line is the JSON; nothing follows in JSON format.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var info devnetInfo
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("toll devnet printed nothing; stderr:\n%s", stderr.String())
		}
		if err := json.Unmarshal([]byte(line), &info); err != nil {
			t.Fatalf("toll devnet output %q: %v", line, err)
		}
	case <-ctx.Done():
		t.Fatalf("toll devnet did not start: %v; stderr:\n%s", ctx.Err(), stderr.String())
	}
	return info, cmd, stderr
}

// TestDevnet starts "toll devnet" as a subprocess of the built binary, reads its chain over
// JSON-RPC, has "toll serve" (another subprocess) pay its API through an MCP client, checks
// the payment on the devnet's chain and with "toll ledger reconcile", and stops it with
// an interrupt.
func TestDevnet(t *testing.T) {
	bin := tollBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	kf := newKeyFiles(t, dir, "devnet passphrase")
	payer := kf.payer

	info, devnet, devnetErr := startDevnet(t, bin, "--fund", payer.Hex()+"=2.5")
	if info.ChainID != "84532" || info.Network != "eip155:84532" || info.NetworkV1 != "base-sepolia" ||
		!strings.HasPrefix(info.RPCURL, "http://127.0.0.1:") || !strings.HasPrefix(info.APIURL, "http://127.0.0.1:") ||
		info.SpecURL != info.APIURL+"/openapi.yaml" || len(info.Funded) != 1 || info.Funded[0].Amount.Cmp(money.USDC(2_500_000)) != 0 {
		t.Fatalf("toll devnet printed %+v", info)
	}

	// The chain, over JSON-RPC from this process.
	rpc, err := onchain.Dial(ctx, info.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	if id, err := rpc.ChainID(ctx); err != nil || id.String() != info.ChainID {
		t.Fatalf("chain id over JSON-RPC = %v, %v; want %s", id, err, info.ChainID)
	}
	token, err := wallet.ParseAddress(info.Token)
	if err != nil {
		t.Fatal(err)
	}
	if bal, err := rpc.BalanceOf(ctx, token, payer); err != nil || bal.Int64() != 2_500_000 {
		t.Fatalf("funded balance = %v, %v; want 2500000", bal, err)
	}

	// The spec, from the paid API.
	resp, err := http.Get(info.SpecURL)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(spec), info.APIURL) {
		t.Fatalf("GET %s: %d\n%s", info.SpecURL, resp.StatusCode, spec)
	}
	specFile := filepath.Join(dir, "devnet.yaml")
	if err := os.WriteFile(specFile, spec, 0o600); err != nil {
		t.Fatal(err)
	}

	// toll serve pays the devnet's API.
	ledgerFile := filepath.Join(dir, "ledger.db")
	c, _, serveErr := serveMCP(t, ctx, bin, nil, []string{"serve", "--spec", specFile, "--keystore", kf.keystore,
		"--passphrase-file", kf.passFile, "--ledger", ledgerFile, "--network", info.Network, "--asset", info.Token})
	defer func() {
		if t.Failed() {
			t.Logf("toll serve stderr:\n%s\ntoll devnet stderr:\n%s", serveErr.String(), devnetErr.String())
		}
	}()
	weather := toolFor(t, ctx, c, "GET /weather/{city}")
	var req mcp.CallToolRequest
	req.Params.Name = weather
	req.Params.Arguments = map[string]any{"city": "Oslo"}
	res, err := c.CallTool(ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("paid call: %v %+v", err, res)
	}
	c.Close()
	if bal, err := rpc.BalanceOf(ctx, token, payer); err != nil || bal.Int64() != 2_500_000-x402test.PriceWeather {
		t.Errorf("balance after one paid call = %v, %v; want %d", bal, err, 2_500_000-x402test.PriceWeather)
	}

	// toll ledger reconcile against the devnet: the call is settled already.
	out, err := exec.CommandContext(ctx, bin, "ledger", "reconcile", "--ledger", ledgerFile, "--rpc", info.Network+"="+info.RPCURL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nothing to reconcile") {
		t.Errorf("toll ledger reconcile: %v\n%s", err, out)
	}

	// An interrupt stops it cleanly.
	if err := devnet.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- devnet.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("toll devnet after an interrupt: %v\n%s", err, devnetErr.String())
		}
	case <-ctx.Done():
		t.Fatalf("toll devnet did not stop after an interrupt: %v", ctx.Err())
	}
	if _, err := rpc.ChainID(ctx); err == nil {
		t.Error("the devnet's JSON-RPC still answers after it stopped")
	}
}

func TestDevnetUsageAndText(t *testing.T) {
	const otherAddr = "0x1111111111111111111111111111111111111111"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--fund", "0x12=1"}, "--fund"},
		{[]string{"--fund", "0x1111111111111111111111111111111111111111"}, "ADDRESS=AMOUNT"},
		{[]string{"--fund", "0x1111111111111111111111111111111111111111=-1"}, "positive"},
		{[]string{"--format", "yaml"}, "--format"},
		{[]string{"--chain-id", "0"}, "--chain-id"},
		{[]string{"now"}, "no arguments"},
	} {
		_, _, err := runTest(t, nil, append([]string{"devnet"}, tt.args...)...)
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("devnet %v: %v, want a usage error mentioning %q", tt.args, err, tt.want)
		}
	}

	// In-process, text: the endpoints people need, then it runs until the context ends.
	var out safeBuffer
	err := interruptWhen(t, &out, "Running until interrupted", func(ctx context.Context) error {
		return run(ctx, []string{"devnet", "--api-addr", "127.0.0.1:0", "--rpc-addr", "127.0.0.1:0", "--fund", otherAddr + "=0.5"},
			strings.NewReader(""), &out, io.Discard, func(string) string { return "" })
	})
	if err != nil {
		t.Errorf("devnet: %v\n%s", err, out.String())
	}
	for _, want := range []string{"Chain ID", "84532 (eip155:84532", "RPC URL", "http://127.0.0.1:", "Token (USDC)", "Facilitator URL",
		"Paid API URL", "Spec URL", "/openapi.yaml", "Paid MCP URL", "/mcp\n", "Funded", otherAddr + " with 0.5 USDC", "toll ledger reconcile --rpc eip155:84532=http://127.0.0.1:", "stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("devnet output lacks %q:\n%s", want, out.String())
		}
	}
}

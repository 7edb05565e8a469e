package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

func TestReconcileUsageErrors(t *testing.T) {
	l := filepath.Join(t.TempDir(), "l.db")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no rpc", []string{"--ledger", l}, "--rpc NETWORK=URL"},
		{"no equals", []string{"--rpc", "http://127.0.0.1:8545"}, "want NETWORK=URL"},
		{"unknown network", []string{"--rpc", "solana=http://127.0.0.1:8545"}, "unknown network"},
		{"twice the same chain", []string{"--rpc", "base=http://a", "--rpc", "eip155:8453=http://b"}, "two endpoints for eip155:8453"},
		{"bad margin", []string{"--rpc", "base=http://a", "--margin", "-1s"}, "--margin"},
		{"bad format", []string{"--rpc", "base=http://a", "--format", "xml"}, "--format"},
		{"argument", []string{"--rpc", "base=http://a", "extra"}, "takes no arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runTest(t, nil, append([]string{"ledger", "reconcile"}, tt.args...)...)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error mentioning %q", err, tt.want)
			}
		})
	}
	// A key in the URL's path is not echoed in a usage error.
	_, _, err := runTest(t, nil, "ledger", "reconcile", "--rpc", "https://rpc.example.com/v2/SECRETKEY")
	if err == nil || strings.Contains(err.Error(), "SECRETKEY") {
		t.Errorf("err = %v, want a usage error without the URL's path", err)
	}
}

// TestReconcileCommand runs "toll ledger reconcile" in-process against a local world over
// JSON-RPC HTTP: a spend settled on chain but recorded unknown becomes settled; an expired
// one is voided; the table says so; a second run finds nothing to do. An endpoint that is
// down is a failure (exit 1), with the report still printed.
func TestReconcileCommand(t *testing.T) {
	ctx := t.Context()
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	world, _ := startWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0"}, w.Address(), dir)
	path := filepath.Join(dir, "ledger.db")
	led := openLedger(t, path)
	token, _ := wallet.ParseAddress(world.Chain.TokenAddress())
	payTo, _ := wallet.ParseAddress(world.PayTo())
	newSpend := func(id string, window time.Duration, settle bool) string {
		auth, err := w.NewAuthorization(payTo, big.NewInt(1000), window)
		if err != nil {
			t.Fatal(err)
		}
		nonce := "0x" + hex.EncodeToString(auth.Nonce[:])
		if _, err := led.Reserve(ctx, ledger.Intent{CallID: id, Tool: "getWeather", Network: world.Chain.NetworkV1(), Asset: token.Hex(),
			Amount: money.USDC(1000), PayTo: payTo.Hex(), Payer: w.Address().Hex(), Nonce: nonce,
			ValidBefore: time.Unix(auth.ValidBefore.Int64(), 0)}, ledger.Caps{}); err != nil {
			t.Fatal(err)
		}
		if err := led.MarkUnknown(ctx, id, "test: response lost"); err != nil {
			t.Fatal(err)
		}
		if !settle {
			return ""
		}
		sig, err := w.Sign(ctx, wallet.Domain{Name: x402test.TokenName, Version: x402test.TokenVersion, ChainID: world.Chain.ChainID(), VerifyingContract: token}, auth)
		if err != nil {
			t.Fatal(err)
		}
		rcpt, err := world.Chain.TransferWithAuthorization(ctx, x402.Authorization{From: auth.From.Hex(), To: auth.To.Hex(),
			Value: auth.Value.String(), ValidAfter: auth.ValidAfter.String(), ValidBefore: auth.ValidBefore.String(), Nonce: nonce},
			"0x"+hex.EncodeToString(sig))
		if err != nil {
			t.Fatal(err)
		}
		return rcpt.TxHash
	}
	tx := newSpend("call_settled", 5*time.Minute, true)
	newSpend("call_expired", 10*time.Second, false)

	// Down first: exit 1, both spends kept, the report printed.
	out, _, err := runTest(t, nil, "ledger", "reconcile", "--ledger", path, "--rpc", "base-sepolia=http://127.0.0.1:1")
	var u usageError
	if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("reconcile with the endpoint down: err = %v, want a failure naming it", err)
	}
	if !strings.Contains(out, "call_settled") || !strings.Contains(out, "2 still unresolved") {
		t.Errorf("report with the endpoint down:\n%s", out)
	}

	// An endpoint for another chain only: both kept, and the report says what to pass.
	out, _, err = runTest(t, nil, "ledger", "reconcile", "--ledger", path, "--rpc", "base=http://127.0.0.1:1")
	if err != nil || !strings.Contains(out, "2 still unresolved") || !strings.Contains(out, "run again with --rpc eip155:84532=URL") {
		t.Errorf("reconcile without an endpoint for the spends' chain: %v\n%s", err, out)
	}

	if err := world.Chain.AdvanceTime(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The endpoint from rpc: in toll.yaml; an --rpc for the same chain would win (below).
	cfgPath := filepath.Join(dir, "toll.yaml")
	if err := os.WriteFile(cfgPath, []byte("ledger: "+path+"\nrpc: {eip155:84532: "+world.RPCURL+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runTest(t, nil, "ledger", "reconcile", "--config", cfgPath, "--rpc", "eip155:84532=http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("--rpc for the chain rpc: names: err = %v, want the flag's endpoint used (and down)", err)
	}
	rpc := "--rpc=eip155:84532=" + world.RPCURL
	out, _, err = runTest(t, nil, "ledger", "reconcile", "--config", cfgPath)
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	t.Logf("toll ledger reconcile:\n%s", out)
	for _, want := range []string{"CALL", "call_settled", tx, "call_expired", "voided", "2 checked: 1 settled, 1 voided, 0 still unresolved"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runTest(t, nil, "ledger", "reconcile", "--ledger", path, rpc)
	if err != nil || !strings.Contains(out, "nothing to reconcile") {
		t.Errorf("second run: %v\n%s", err, out)
	}
	out, _, err = runTest(t, nil, "ledger", "reconcile", "--ledger", path, rpc, "--format", "json")
	var rep reconcile.Report
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Checked != 0 {
		t.Errorf("json: %v %+v\n%s", err, rep, out)
	}
}

package main

import (
	"context"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

var lastHash = regexp.MustCompile(`last hash ([0-9a-f]{64})`)

// TestLedgerProofThroughBinary: toll serve signs the ledger's head after each settlement
// and when it stops; toll ledger verify proves the entries are the payer's against the
// payer's address (another address fails), a head kept from before (a hash not in the
// chain fails), and the chain itself (a payment the ledger does not hold fails).
func TestLedgerProofThroughBinary(t *testing.T) {
	bin := tollBinary(t)
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "correct horse battery staple")
	world, spec := startWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0"}, k.payer, dir)
	led := filepath.Join(dir, "ledger.db")
	pay := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c, _, stderr := serveMCP(t, ctx, bin, nil, k.serveArgs(world, spec, led))
		name := toolFor(t, ctx, c, "GET /weather/{city}")
		for range n {
			var req mcp.CallToolRequest
			req.Params.Name, req.Params.Arguments = name, map[string]any{"city": "Oslo"}
			res, err := c.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("paid call: %v %s\n%s", err, resultText(res), stderr.String())
			}
		}
		c.Close() // serve stops, and signs its head
	}
	verify := func(wantCode int, args ...string) binRun {
		t.Helper()
		r := runBinary(t, nil, append([]string{"ledger", "verify", "--ledger", led}, args...)...)
		if r.code != wantCode {
			t.Fatalf("toll ledger verify %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
		}
		return r
	}

	pay(2)
	r := verify(0, "--payer", k.payer.Hex())
	for _, want := range []string{"hash chain intact", "signed heads, the last covering event", "every signed head is the payer's (" + k.payer.Hex() + ")"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
	kept := lastHash.FindStringSubmatch(r.stdout)[1]

	other := wallet.Address{0xde, 0xad}
	r = verify(1, "--payer", other.Hex())
	if !strings.Contains(r.stderr, "not by the payer "+other.Hex()) {
		t.Errorf("verify --payer of another address: %s", r.stderr)
	}

	pay(1)
	r = verify(0, "--expect-head", kept)
	if !strings.Contains(r.stdout, "the head you kept is event") {
		t.Errorf("verify --expect-head of a kept head:\n%s", r.stdout)
	}
	r = verify(1, "--expect-head", strings.Repeat("ab", 32))
	if !strings.Contains(r.stderr, "is not in the chain") {
		t.Errorf("verify --expect-head of a hash not in the chain: %s", r.stderr)
	}
	verify(2, "--expect-head", "xyz")
	verify(2, "--from-block", "5")

	rpc := "--rpc=" + world.Chain.NetworkV2() + "=" + world.RPCURL
	r = verify(0, rpc, "--payer", k.payer.Hex())
	if !strings.Contains(r.stdout, "3 payments on chain, 3 settled in the ledger as the chain says") {
		t.Errorf("verify --rpc of a whole ledger:\n%s", r.stdout)
	}

	// A payment from the payer's key that the ledger does not hold (an entry deleted, or
	// a key used elsewhere) is found on the chain.
	w, err := keystore.Open(k.keystore, k.passphrase, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tx := settleOutside(t, world, w, 4242)
	r = verify(1, rpc, "--payer", k.payer.Hex(), "--from-block", "0")
	if !strings.Contains(r.stdout, "missing from the ledger: "+tx) {
		t.Errorf("verify --rpc with a payment outside the ledger:\n%s\n%s", r.stdout, r.stderr)
	}
}

// settleOutside signs a payment of value from w and settles it on the world's chain, as
// a facilitator would, without toll: the ledger knows nothing of it.
func settleOutside(t *testing.T, world *x402test.World, w *wallet.Wallet, value int64) string {
	t.Helper()
	chain := world.Chain
	token, _ := wallet.ParseAddress(chain.TokenAddress())
	payTo, _ := wallet.ParseAddress(world.PayTo())
	auth, err := w.NewAuthorization(payTo, big.NewInt(value), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := w.Sign(t.Context(), wallet.Domain{Name: x402test.TokenName, Version: x402test.TokenVersion, ChainID: chain.ChainID(), VerifyingContract: token}, auth)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := chain.TransferWithAuthorization(t.Context(), x402.Authorization{
		From: auth.From.Hex(), To: auth.To.Hex(), Value: auth.Value.String(),
		ValidAfter: auth.ValidAfter.String(), ValidBefore: auth.ValidBefore.String(), Nonce: wallet.NonceHex(auth.Nonce),
	}, "0x"+hex.EncodeToString(sig))
	if err != nil {
		t.Fatal(err)
	}
	return rcpt.TxHash
}

// TestVerifyUnsignedLedger: settlements without any head signed by the payer (a ledger
// recorded again by someone without the key) fail verify --payer; without --payer,
// verify says nothing proves them.
func TestVerifyUnsignedLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	led := openLedger(t, path)
	in := ledger.Intent{CallID: "c1", Tool: "wx_get", Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
		Amount: money.USDC(1000), PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Payer: "0x1111111111111111111111111111111111111111",
		Nonce: "0x" + strings.Repeat("01", 32), ValidBefore: time.Now().Add(time.Hour)}
	if _, err := led.Reserve(t.Context(), in, ledger.Caps{}); err != nil {
		t.Fatal(err)
	}
	if err := led.Settle(t.Context(), "c1", "0x"+strings.Repeat("02", 32)); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "ledger", "verify", "--ledger", path)
	if r.code != 0 || !strings.Contains(r.stdout, "no signed heads: nothing proves") {
		t.Errorf("verify without --payer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "ledger", "verify", "--ledger", path, "--payer", in.Payer)
	if r.code != 1 || !strings.Contains(r.stderr, "written without the payer's key") {
		t.Errorf("verify --payer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

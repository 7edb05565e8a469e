package main

import (
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
)

// TestRetryAndReceiptThroughTheBinary: toll serve, the built binary, pays the local
// world's version 2 report route, which advertises x402's payment-identifier extension,
// signs its offers and receipts with its payTo key, and loses the answer to the first
// settled payment with its connection. toll resends the identical payment once and
// gets the kept answer: the call succeeds with one transfer on chain, and `toll ledger
// export` shows the payment id and the receipt, verified and signed by the payee.
func TestRetryAndReceiptThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "correct horse battery")
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := crypto.PubkeyToAddress(key.PublicKey).Hex()
	world, spec := startWorld(t, x402test.Options{
		PayTo:     signer,
		PaymentID: &x402test.PaymentIDOptions{DropResponses: 1},
		Artifacts: &x402test.SignedArtifacts{Key: key, ValidFor: time.Minute},
	}, k.payer, dir)
	ledgerFile := filepath.Join(dir, "ledger.db")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, _, stderr := serveMCP(t, ctx, tollBinary(t), nil, k.serveArgs(world, spec, ledgerFile))
	var req mcp.CallToolRequest
	req.Params.Name = toolFor(t, ctx, c, "POST /reports")
	req.Params.Arguments = map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}
	res, err := c.CallTool(ctx, req)
	if err != nil || res.IsError || !strings.Contains(resultText(res), "receipt signed by the payee") {
		t.Fatalf("call: %v %+v; want the report, with a receipt signed by the payee\nstderr:\n%s", err, res, stderr.String())
	}
	c.Close()
	if !stderr.holds("answer recovered with the payment identifier") {
		t.Errorf("toll's log does not say the answer was recovered by a resend:\n%s", stderr.String())
	}
	balance, err := world.BalanceOf(t.Context(), k.payer.Hex())
	if err != nil {
		t.Fatal(err)
	}
	if spent := money.USDC(payerFunds).Sub(balance); spent.Cmp(money.USDC(x402test.PriceReport)) != 0 || len(world.Settlements()) != 1 {
		t.Errorf("the payer spent %s in %d settlements, want %s in one", spent, len(world.Settlements()), money.USDC(x402test.PriceReport))
	}

	jsonl := runBinary(t, nil, "ledger", "export", "--ledger", ledgerFile, "--format", "jsonl")
	evs, err := ledger.ReadJSONL(strings.NewReader(jsonl.stdout))
	if jsonl.code != 0 || err != nil || len(evs) < 2 {
		t.Fatalf("export jsonl: exit %d, %v, %d events\n%s", jsonl.code, err, len(evs), jsonl.stderr)
	}
	var id string
	var receipt *ledger.Artifact
	for _, e := range evs {
		switch e.Kind {
		case ledger.KindReserved:
			id = e.PaymentID
		case ledger.KindSettled:
			a, err := ledger.ParseArtifacts(e.Artifacts)
			if err != nil {
				t.Fatal(err)
			}
			receipt = a.Receipt
		}
	}
	if !x402.ValidPaymentID(id) || receipt == nil || !receipt.Verified || receipt.Signer != signer || !receipt.SignerIsPayTo {
		t.Errorf("jsonl: payment id %q, receipt %+v; want an id, and the receipt verified, signed by the payee %s", id, receipt, signer)
	}

	out := runBinary(t, nil, "ledger", "export", "--ledger", ledgerFile, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out.stdout)).ReadAll()
	if out.code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("export csv: exit %d, %v, %d rows\n%s", out.code, err, len(rows), out.stderr)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h] = rows[1][i]
	}
	if col["status"] != "settled" || col["payment_id"] != id || col["offer_signer"] != signer || col["receipt_signer"] != signer || col["receipt_verified"] != "yes" {
		t.Errorf("csv row %v: want settled, payment id %s, offer and receipt signed by %s and verified", col, id, signer)
	}
}

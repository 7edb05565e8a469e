package reconcile

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// settleOnChain signs an authorization of value from the fixture's wallet and settles it
// on the local chain, as a facilitator would; with reserve it first records a spend of
// amount (which may differ from value: the ledger lying) with the same nonce.
func (f *reconcileFixture) settleOnChain(t *testing.T, value, amount int64, reserve bool) (callID, tx string) {
	t.Helper()
	ctx := t.Context()
	chain := f.world.Chain
	token, _ := wallet.ParseAddress(chain.TokenAddress())
	payTo, _ := wallet.ParseAddress(f.world.PayTo())
	auth, err := f.wallet.NewAuthorization(payTo, big.NewInt(value), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nonce := wallet.NonceHex(auth.Nonce)
	if reserve {
		f.seq++
		callID = fmt.Sprintf("call_%d", f.seq)
		if _, err := f.led.Reserve(ctx, ledger.Intent{
			CallID: callID, Session: "s", API: "weather", Tool: "weather_get", Network: chain.NetworkV2(),
			Asset: token.Hex(), Amount: money.USDC(amount), PayTo: payTo.Hex(), Payer: f.wallet.Address().Hex(),
			Nonce: nonce, ValidBefore: time.Unix(auth.ValidBefore.Int64(), 0),
		}, ledger.Caps{}); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := f.wallet.Sign(ctx, wallet.Domain{Name: x402test.TokenName, Version: x402test.TokenVersion, ChainID: chain.ChainID(), VerifyingContract: token}, auth)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := chain.TransferWithAuthorization(ctx, x402.Authorization{
		From: auth.From.Hex(), To: auth.To.Hex(), Value: auth.Value.String(),
		ValidAfter: auth.ValidAfter.String(), ValidBefore: auth.ValidBefore.String(), Nonce: nonce,
	}, "0x"+hex.EncodeToString(sig))
	if err != nil {
		t.Fatal(err)
	}
	return callID, rcpt.TxHash
}

// TestAuditAgainstChain holds a ledger against a real chain (the local world's simulated
// EVM over JSON-RPC HTTP): each way the two can disagree is found, and nothing else.
func TestAuditAgainstChain(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := t.Context()
	settle := func(id, tx string) {
		t.Helper()
		if err := f.led.Settle(ctx, id, tx); err != nil {
			t.Fatal(err)
		}
	}
	good, tx := f.settleOnChain(t, 1000, 1000, true)
	settle(good, tx)
	good2, _ := f.settleOnChain(t, 2000, 2000, true)
	settle(good2, "")                                  // a server that reported no transaction: the chain's is accepted
	f.settleOnChain(t, 3000, 3000, true)               // paid on chain, left reserved in the ledger: pending
	_, missingTx := f.settleOnChain(t, 4000, 0, false) // paid, and the spend deleted
	lying, tx := f.settleOnChain(t, 4000, 5000, true)
	settle(lying, tx)
	voided, _ := f.settleOnChain(t, 6000, 6000, true)
	if err := f.led.Void(ctx, voided, "test: wrongly voided"); err != nil {
		t.Fatal(err)
	}
	forged, _ := f.spend(t, f.world.Chain.NetworkV2(), 7000, time.Hour, false, ledger.StatusReserved)
	settle(forged, "0x"+strings.Repeat("ee", 32))

	audits, err := Audit(ctx, f.led, f.chains(), AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(audits) != 1 {
		t.Fatalf("%d chain audits, want 1", len(audits))
	}
	a := audits[0]
	if a.Used != 6 || a.Matched != 2 || a.Pending != 1 || a.Clean() {
		t.Errorf("used %d matched %d pending %d clean %v; want 6, 2, 1, false", a.Used, a.Matched, a.Pending, a.Clean())
	}
	if len(a.Missing) != 1 || a.Missing[0].TxHash != missingTx || a.Missing[0].CallID != "" {
		t.Errorf("missing %+v, want the payment in %s", a.Missing, missingTx)
	}
	mis := map[string]string{}
	for _, m := range a.Mismatched {
		mis[m.CallID] = m.Detail
	}
	if len(mis) != 2 || !strings.Contains(mis[lying], "the ledger says 5000") || !strings.Contains(mis[lying], "moved 4000") ||
		!strings.Contains(mis[voided], "the ledger says voided") {
		t.Errorf("mismatched %+v; want %s (amount) and %s (voided)", a.Mismatched, lying, voided)
	}
	if len(a.Unsettled) != 1 || a.Unsettled[0].CallID != forged || !strings.Contains(a.Unsettled[0].Detail, "never used on chain") {
		t.Errorf("unsettled %+v, want %s", a.Unsettled, forged)
	}
	if len(a.Payers) != 1 || a.Payers[0] != f.wallet.Address().Hex() || a.From > a.To {
		t.Errorf("payers %v, blocks %d-%d", a.Payers, a.From, a.To)
	}

}

// TestAuditEmptyLedger: a ledger emptied of its spends names no payer and no token, so
// the wallet's address and the chain's token are given, and the payments are found.
func TestAuditEmptyLedger(t *testing.T) {
	f := newReconcileFixture(t)
	f.settleOnChain(t, 1500, 0, false)
	f.settleOnChain(t, 2500, 0, false)
	token, _ := wallet.ParseAddress(f.world.Chain.TokenAddress())
	id := f.world.Chain.ChainID().String()
	audits, err := Audit(t.Context(), f.led, f.chains(), AuditOptions{
		Payers: []wallet.Address{f.wallet.Address()}, Tokens: map[string][]wallet.Address{id: {token}},
		FromBlock: map[string]uint64{id: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := audits[0]; a.Used != 2 || len(a.Missing) != 2 {
		t.Errorf("used %d, missing %d; want 2 and 2", a.Used, len(a.Missing))
	}
	// Without them there is nothing to search, and the audit says so by its scope.
	audits, err = Audit(t.Context(), f.led, f.chains(), AuditOptions{})
	if err != nil || len(audits[0].Payers) != 0 || audits[0].Used != 0 {
		t.Errorf("audit without scope: %+v, %v", audits, err)
	}
}

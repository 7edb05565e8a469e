package reconcile

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// reconcileFixture is a local x402 world serving JSON-RPC over HTTP, a funded wallet, a
// real ledger file and an onchain client dialed to the world's RPC URL.
type reconcileFixture struct {
	world  *x402test.World
	wallet *wallet.Wallet
	led    *ledger.Ledger
	path   string
	rpc    *onchain.Client
	seq    int
}

func newReconcileFixture(t *testing.T) *reconcileFixture {
	t.Helper()
	ctx := t.Context()
	world, err := x402test.Start(ctx, x402test.Options{RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := world.Fund(ctx, w.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	rpc, err := onchain.Dial(ctx, world.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rpc.Close)
	return &reconcileFixture{world: world, wallet: w, led: led, path: path, rpc: rpc}
}

func (f *reconcileFixture) chains() map[string]*onchain.Client {
	return map[string]*onchain.Client{f.world.Chain.ChainID().String(): f.rpc}
}

// spend reserves a payment in the ledger and signs it, as the client does. With settle,
// the signed authorization is settled on chain (as a facilitator would), and the tx hash
// returned; status is then what the ledger is left saying (reserved or unknown).
func (f *reconcileFixture) spend(t *testing.T, network string, amount int64, window time.Duration, settle bool, status ledger.Status) (callID, tx string) {
	t.Helper()
	ctx := t.Context()
	f.seq++
	callID = fmt.Sprintf("call_%d", f.seq)
	chain := f.world.Chain
	token, _ := wallet.ParseAddress(chain.TokenAddress())
	payTo, _ := wallet.ParseAddress(f.world.PayTo())
	auth, err := f.wallet.NewAuthorization(payTo, big.NewInt(amount), window)
	if err != nil {
		t.Fatal(err)
	}
	nonce := wallet.NonceHex(auth.Nonce)
	if _, err := f.led.Reserve(ctx, ledger.Intent{
		CallID: callID, Session: "s", API: "weather", Tool: "weather_get", URL: f.world.APIURL + "/weather/Oslo",
		Network: network, Asset: token.Hex(), Amount: money.USDC(amount), PayTo: payTo.Hex(),
		Payer: f.wallet.Address().Hex(), Nonce: nonce, ValidBefore: time.Unix(auth.ValidBefore.Int64(), 0),
	}, ledger.Caps{}); err != nil {
		t.Fatal(err)
	}
	sig, err := f.wallet.Sign(ctx, wallet.Domain{Name: x402test.TokenName, Version: x402test.TokenVersion, ChainID: chain.ChainID(), VerifyingContract: token}, auth)
	if err != nil {
		t.Fatal(err)
	}
	if settle {
		rcpt, err := chain.TransferWithAuthorization(ctx, x402.Authorization{
			From: auth.From.Hex(), To: auth.To.Hex(), Value: auth.Value.String(),
			ValidAfter: auth.ValidAfter.String(), ValidBefore: auth.ValidBefore.String(), Nonce: nonce,
		}, "0x"+hex.EncodeToString(sig))
		if err != nil {
			t.Fatal(err)
		}
		tx = rcpt.TxHash
	}
	if status == ledger.StatusUnknown {
		if err := f.led.MarkUnknown(ctx, callID, "test: the response was lost"); err != nil {
			t.Fatal(err)
		}
	}
	return callID, tx
}

func (f *reconcileFixture) status(t *testing.T) map[string]ledger.Spend {
	t.Helper()
	spends, err := f.led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ledger.Spend{}
	for _, s := range spends {
		out[s.CallID] = s
	}
	return out
}

func (f *reconcileFixture) total(t *testing.T) int64 {
	t.Helper()
	tot, err := f.led.Totals(t.Context(), "s", "weather")
	if err != nil {
		t.Fatal(err)
	}
	return tot.Total.Atomic().Int64() // at ledger.Decimals
}

func lineOf(rep Report, callID string) Line {
	for _, l := range rep.Lines {
		if l.CallID == callID {
			return l
		}
	}
	return Line{}
}

// TestReconcileAgainstChain reconciles over real JSON-RPC HTTP to the local world: spends
// settled on chain but recorded unknown or reserved become settled with their tx hash; one
// that never reached the chain is voided once the chain's time passes its validBefore (and
// leaves the totals); one still valid stays; one on a chain without a client stays; a
// second run changes nothing.
func TestReconcileAgainstChain(t *testing.T) {
	f := newReconcileFixture(t)
	ctx := t.Context()
	network := f.world.Chain.NetworkV2()

	settledUnknown, tx1 := f.spend(t, network, 1000, 5*time.Minute, true, ledger.StatusUnknown)
	settledReserved, tx2 := f.spend(t, f.world.Chain.NetworkV1(), 2000, 5*time.Minute, true, ledger.StatusReserved)
	expiring, _ := f.spend(t, network, 4000, 30*time.Second, false, ledger.StatusUnknown)
	valid, _ := f.spend(t, network, 8000, time.Hour, false, ledger.StatusUnknown)
	otherChain, _ := f.spend(t, "eip155:8453", 16000, 30*time.Second, false, ledger.StatusUnknown)
	if got := f.total(t); got != 31000 {
		t.Fatalf("total before reconcile = %d, want 31000", got)
	}

	rep, err := Run(ctx, f.led, f.chains(), Options{})
	if err != nil {
		t.Fatalf("first reconcile: %v", err)
	}
	if rep.Checked != 5 || rep.Settled != 2 || rep.Voided != 0 || rep.Kept != 3 {
		t.Errorf("first report = %d checked, %d settled, %d voided, %d kept; want 5, 2, 0, 3", rep.Checked, rep.Settled, rep.Voided, rep.Kept)
	}
	st := f.status(t)
	for id, tx := range map[string]string{settledUnknown: tx1, settledReserved: tx2} {
		if st[id].Status != ledger.StatusSettled || st[id].TxHash != tx {
			t.Errorf("%s: %s tx %q, want settled in %s", id, st[id].Status, st[id].TxHash, tx)
		}
		if l := lineOf(rep, id); l.To != ledger.StatusSettled || l.TxHash != tx {
			t.Errorf("report line for %s = %+v", id, l)
		}
	}
	if l := lineOf(rep, expiring); l.To != ledger.StatusUnknown || !strings.Contains(l.Note, "can still settle") {
		t.Errorf("not yet expired: line %+v, want kept: can still settle", l)
	}
	if l := lineOf(rep, otherChain); l.To != ledger.StatusUnknown || l.NoEndpoint != "eip155:8453" || !strings.Contains(l.Note, "no RPC endpoint for eip155:8453") {
		t.Errorf("chain without a client: line %+v", l)
	}

	// Past the expiring spend's validBefore (30 s) and the margin (1 min), not past the
	// valid one's (1 h).
	if err := f.world.Chain.AdvanceTime(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, f.led, f.chains(), Options{})
	if err != nil {
		t.Fatalf("second reconcile: %v", err)
	}
	if rep.Checked != 3 || rep.Settled != 0 || rep.Voided != 1 || rep.Kept != 2 {
		t.Errorf("second report = %d checked, %d settled, %d voided, %d kept; want 3, 0, 1, 2", rep.Checked, rep.Settled, rep.Voided, rep.Kept)
	}
	st = f.status(t)
	if s := st[expiring]; s.Status != ledger.StatusVoided || !strings.Contains(s.Reason, "unused on eip155:84532") {
		t.Errorf("expired spend: %s (%s), want voided", s.Status, s.Reason)
	}
	if s := st[valid]; s.Status != ledger.StatusUnknown {
		t.Errorf("spend still valid: %s, want unknown", s.Status)
	}
	if s := st[otherChain]; s.Status != ledger.StatusUnknown {
		t.Errorf("spend on a chain without a client: %s, want unknown", s.Status)
	}
	if got, want := f.total(t), int64(1000+2000+8000+16000); got != want {
		t.Errorf("total after voiding = %d, want %d (the voided 4000 released)", got, want)
	}

	// Idempotent: a third run writes nothing.
	before, err := f.led.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, f.led, f.chains(), Options{})
	if err != nil {
		t.Fatalf("third reconcile: %v", err)
	}
	if rep.Checked != 2 || rep.Settled != 0 || rep.Voided != 0 || rep.Kept != 2 {
		t.Errorf("third report = %+v, want 2 kept and nothing else", rep)
	}
	after, err := f.led.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("a run with nothing to resolve wrote %d events", len(after)-len(before))
	}
	if err := f.led.Verify(ctx); err != nil {
		t.Errorf("verify: %v", err)
	}

	// The chain agrees: the payer's balance dropped by exactly the settled amounts.
	bal, err := f.rpc.BalanceOf(ctx, mustAddr(t, f.world.Chain.TokenAddress()), f.wallet.Address())
	if err != nil {
		t.Fatal(err)
	}
	if spent := 1_000_000 - bal.Int64(); spent != 3000 {
		t.Errorf("payer spent %d on chain, want 3000 (the settled spends)", spent)
	}
}

func mustAddr(t *testing.T, s string) wallet.Address {
	t.Helper()
	a, err := wallet.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestReconcileWrongChain: a client that serves another chain than its key says is never
// used to settle or void.
func TestReconcileWrongChain(t *testing.T) {
	f := newReconcileFixture(t)
	// The spend says Base mainnet; the "Base" client is the local chain (84532).
	id, _ := f.spend(t, "eip155:8453", 1000, time.Second, false, ledger.StatusUnknown)
	id2, _ := f.spend(t, "base", 1000, time.Second, false, ledger.StatusUnknown)
	if err := f.world.Chain.AdvanceTime(t.Context(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(t.Context(), f.led, map[string]*onchain.Client{"8453": f.rpc}, Options{})
	if err == nil || !strings.Contains(err.Error(), "serves chain eip155:84532, not eip155:8453") {
		t.Errorf("err = %v, want the chain id mismatch", err)
	}
	if strings.Count(err.Error(), "serves chain") != 1 {
		t.Errorf("the mismatch is reported %d times, want once: %v", strings.Count(err.Error(), "serves chain"), err)
	}
	if rep.Kept != 2 || rep.Voided != 0 {
		t.Errorf("report = %+v, want both kept", rep)
	}
	for _, c := range []string{id, id2} {
		if s := f.status(t)[c]; s.Status != ledger.StatusUnknown {
			t.Errorf("%s: %s, want unknown", c, s.Status)
		}
	}
}

// TestReconcileRPCDown: an unreachable endpoint keeps the spends and returns an error;
// the report still has every line.
func TestReconcileRPCDown(t *testing.T) {
	f := newReconcileFixture(t)
	id, _ := f.spend(t, f.world.Chain.NetworkV2(), 1000, time.Minute, false, ledger.StatusUnknown)
	down, err := onchain.Dial(t.Context(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	rep, err := Run(t.Context(), f.led, map[string]*onchain.Client{"84532": down}, Options{})
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("err = %v, want an RPC error naming the endpoint", err)
	}
	if l := lineOf(rep, id); rep.Kept != 1 || l.To != ledger.StatusUnknown || !strings.Contains(l.Note, "eth_chainId") {
		t.Errorf("report = %+v", rep)
	}
	if _, err := Run(t.Context(), f.led, nil, Options{Margin: -time.Second}); err == nil {
		t.Error("negative margin accepted")
	}
}

// TestReconcileConcurrent runs two reconciles at once on one ledger file, through two
// handles (as two processes would): each spend is settled exactly once, and neither run
// reports an error for the spends the other resolved.
func TestReconcileConcurrent(t *testing.T) {
	f := newReconcileFixture(t)
	want := map[string]string{}
	for range 6 {
		id, tx := f.spend(t, f.world.Chain.NetworkV2(), 100, 5*time.Minute, true, ledger.StatusUnknown)
		want[id] = tx
	}
	var (
		wg   sync.WaitGroup
		reps [2]Report
		errs [2]error
	)
	for i := range 2 {
		led, err := ledger.Open(f.path, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer led.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Run(context.WithoutCancel(t.Context()), led, f.chains(), Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("reconcile %d: %v", i, err)
		}
	}
	// Each spend is settled by exactly one run. The other run either listed it after it
	// was settled (no line) or checked it meanwhile and reports it resolved elsewhere,
	// with the same transaction. Nothing is kept or voided.
	settledBy, elsewhere := map[string]int{}, map[string]int{}
	for i, rep := range reps {
		if rep.Kept != 0 || rep.Voided != 0 || rep.Checked != rep.Settled+rep.Elsewhere || len(rep.Lines) != rep.Checked {
			t.Errorf("run %d: %d checked = %d settled + %d elsewhere + %d kept + %d voided, %d lines; want only settled and elsewhere",
				i, rep.Checked, rep.Settled, rep.Elsewhere, rep.Kept, rep.Voided, len(rep.Lines))
		}
		for _, l := range rep.Lines {
			if l.To != ledger.StatusSettled || l.TxHash != want[l.CallID] {
				t.Errorf("run %d: line %+v, want settled in %s", i, l, want[l.CallID])
			}
			if l.Elsewhere {
				elsewhere[l.CallID]++
			} else {
				settledBy[l.CallID]++
			}
		}
	}
	for id := range want {
		if settledBy[id] != 1 || elsewhere[id] > 1 {
			t.Errorf("%s: settled by %d runs and reported elsewhere by %d, want 1 and at most 1", id, settledBy[id], elsewhere[id])
		}
	}
	if len(settledBy) != len(want) {
		t.Errorf("the runs settled %d distinct spends, want %d", len(settledBy), len(want))
	}
	t.Logf("run 0: %d settled, %d elsewhere; run 1: %d settled, %d elsewhere",
		reps[0].Settled, reps[0].Elsewhere, reps[1].Settled, reps[1].Elsewhere)
	st := f.status(t)
	for id, tx := range want {
		if st[id].Status != ledger.StatusSettled || st[id].TxHash != tx {
			t.Errorf("%s: %s %q, want settled in %s", id, st[id].Status, st[id].TxHash, tx)
		}
	}
	if err := f.led.Verify(t.Context()); err != nil {
		t.Errorf("verify: %v", err)
	}
}

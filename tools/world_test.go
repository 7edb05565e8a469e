package tools

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// TestConcurrentPaidCallsOnLocalWorld pays the local x402 world from several goroutines
// at once under a session cap: the chain, the ledger and the cap agree afterwards.
func TestConcurrentPaidCallsOnLocalWorld(t *testing.T) {
	ctx := t.Context()
	lw := newLocalWorld(t, x402test.Options{}, 1_000_000)
	world, w, led := lw.world, lw.wallet, lw.led
	ops := lw.ops(t, "")
	const (
		calls    = 24
		price    = x402test.PriceWeather
		capCalls = 10 // the session cap admits exactly this many
	)
	c, err := New(Config{Wallet: w, Ledger: led, Policy: Policy{
		Networks: []string{world.Chain.NetworkV1()},
		Assets:   []Asset{{Address: world.Chain.TokenAddress()}},
		Caps:     ledger.Caps{PerSession: ptr(money.USDC(price * capCalls))},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		paid, refused int
		unexpected    []error
		payerBefore   = lw.balance(t)
	)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args, _ := json.Marshal(map[string]any{"city": []string{"Oslo", "Rome", "Lima"}[i%3]})
			res, err := c.Call(context.WithoutCancel(ctx), Call{Op: ops["getWeather"], Arguments: args, Session: "s"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && res.Payment != nil && res.Payment.Status == ledger.StatusSettled:
				paid++
			case errors.Is(err, ledger.ErrCapExceeded):
				refused++
			default:
				unexpected = append(unexpected, err)
			}
		}()
	}
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected outcomes: %v", unexpected)
	}
	if paid != capCalls || refused != calls-capCalls {
		t.Errorf("paid %d, refused %d; want %d and %d", paid, refused, capCalls, calls-capCalls)
	}
	if spent := payerBefore.Sub(lw.balance(t)); spent.Cmp(money.USDC(price*capCalls)) != 0 {
		t.Errorf("chain: payer spent %s, want %s", spent, money.USDC(price*capCalls))
	}
	spends, err := led.Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	onChain := map[string]bool{}
	for _, s := range world.Settlements() {
		onChain[s.TxHash] = true
	}
	nonces := map[string]bool{}
	for _, s := range spends {
		if s.Status != ledger.StatusSettled || !onChain[s.TxHash] {
			t.Errorf("spend %s: %s tx %s not among the chain's settlements", s.CallID, s.Status, s.TxHash)
		}
		if nonces[s.Nonce] {
			t.Errorf("nonce %s used twice", s.Nonce)
		}
		nonces[s.Nonce] = true
	}
	if len(spends) != capCalls || len(onChain) != capCalls {
		t.Errorf("%d spends in the ledger, %d settlements on chain; want %d", len(spends), len(onChain), capCalls)
	}
}

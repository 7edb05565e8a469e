package tools

import (
	"testing"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// localWorld is a local x402 world (chain, facilitator, paid API), a wallet funded on its
// chain and a ledger file: what the tests that pay for real need. Everything is closed
// when the test ends.
type localWorld struct {
	world  *x402test.World
	wallet *wallet.Wallet
	led    *ledger.Ledger
}

func newLocalWorld(tb testing.TB, opts x402test.Options, funds int64) *localWorld {
	tb.Helper()
	ctx := tb.Context()
	world, err := x402test.Start(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { world.Close() })
	w, led := newPayer(tb)
	if err := world.Fund(ctx, w.Address().Hex(), money.USDC(funds)); err != nil {
		tb.Fatal(err)
	}
	return &localWorld{world: world, wallet: w, led: led}
}

// ops loads the world's spec with its operations at baseURL ("" means the world's paid
// API), keyed by operationId.
func (lw *localWorld) ops(tb testing.TB, baseURL string) map[string]*catalog.Operation {
	tb.Helper()
	api, err := catalog.Load(tb.Context(), lw.world.SpecYAML(), "weather.yaml", catalog.Options{BaseURL: baseURL})
	if err != nil {
		tb.Fatal(err)
	}
	ops := map[string]*catalog.Operation{}
	for _, op := range api.Operations {
		ops[op.OperationID] = op
	}
	return ops
}

// balance is the payer's token balance on the world's chain.
func (lw *localWorld) balance(tb testing.TB) money.Amount {
	tb.Helper()
	b, err := lw.world.BalanceOf(tb.Context(), lw.wallet.Address().Hex())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

package onchain_test

import (
	"errors"
	"testing"

	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet/onchain"
)

// TestBalances reads a token's decimals and an address's native balance over JSON-RPC:
// the facilitator is funded with ETH at genesis, a fresh address has none, and an
// address with no contract has no decimals.
func TestBalances(t *testing.T) {
	w, c := world(t)
	ctx := t.Context()
	d, err := c.Decimals(ctx, addr(t, w.Chain.TokenAddress()))
	if err != nil || d != x402test.TokenDecimals {
		t.Errorf("Decimals = %d, %v; want %d", d, err, x402test.TokenDecimals)
	}
	gas, err := c.NativeBalance(ctx, addr(t, w.Chain.FacilitatorAddress()))
	if err != nil || gas.Sign() <= 0 {
		t.Errorf("NativeBalance(facilitator) = %v, %v; want the ETH it got at genesis", gas, err)
	}
	none, err := c.NativeBalance(ctx, addr(t, w.PayTo()))
	if err != nil || none.Sign() != 0 {
		t.Errorf("NativeBalance(payee) = %v, %v; want 0", none, err)
	}
	if _, err := c.Decimals(ctx, addr(t, w.PayTo())); !errors.Is(err, onchain.ErrNoContract) {
		t.Errorf("Decimals of an address without code: err = %v, want ErrNoContract", err)
	}
}

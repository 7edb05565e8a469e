package tools

import (
	"fmt"
	"testing"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// TestLedgerKnowsUSDC: the exports name every USDC the policy allows as USDC, whatever
// the case of its address; each is written in its EIP-55 checksummed form.
func TestLedgerKnowsUSDC(t *testing.T) {
	for _, id := range x402.USDCChains() {
		tok, _ := x402.USDC(id)
		if a, err := wallet.ParseAddress(tok.Address); err != nil || a.Hex() != tok.Address {
			t.Errorf("USDC on chain %d: %q is not a checksummed address (%v)", id, tok.Address, err)
		}
		network := fmt.Sprintf("eip155:%d", id)
		cp, err := compilePolicy(Policy{Networks: []string{network}})
		if err != nil {
			t.Fatal(err)
		}
		for addr := range cp.assets[fmt.Sprint(id)] {
			if got := ledger.AssetSymbol(network, addr); got != "USDC" {
				t.Errorf("ledger.AssetSymbol(%s, %s) = %q, want USDC", network, addr, got)
			}
		}
		if len(cp.assets[fmt.Sprint(id)]) == 0 {
			t.Errorf("the policy allows no USDC on %s", network)
		}
	}
	if got := ledger.AssetSymbol("base", "0x0000000000000000000000000000000000000001"); got != "" {
		t.Errorf("AssetSymbol of a token toll does not know = %q, want none", got)
	}
}

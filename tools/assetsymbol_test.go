package tools

import (
	"fmt"
	"testing"

	"github.com/tollhq/toll/ledger"
)

// TestLedgerKnowsUSDC: the exports name every USDC toll pays as USDC (the ledger keeps its
// own list of their addresses, since it may not import tools).
func TestLedgerKnowsUSDC(t *testing.T) {
	for id, tok := range knownUSDC {
		if got := ledger.AssetSymbol(fmt.Sprintf("eip155:%d", id), tok.address); got != "USDC" {
			t.Errorf("ledger.AssetSymbol(eip155:%d, %s) = %q, want USDC", id, tok.address, got)
		}
	}
	if got := ledger.AssetSymbol("base", "0x0000000000000000000000000000000000000001"); got != "" {
		t.Errorf("AssetSymbol of a token toll does not know = %q, want none", got)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/x402test"
)

// TestWalletBalance runs toll wallet balance through the built binary against a local
// world's chain over JSON-RPC: the payer's USDC (an asset of toll.yaml, whose decimals the
// chain gives) and gas, read with the keystore's address and the endpoint from rpc: in
// toll.yaml; a network without an endpoint says how to add one; an endpoint of another
// chain is a failure that says so.
func TestWalletBalance(t *testing.T) {
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "balance passphrase")
	// A chain id toll knows no USDC for: the world's token is the only USDC there.
	world, _ := startWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0", ChainID: big.NewInt(31337)}, k.payer, dir)
	network := world.Chain.NetworkV2()
	cfg := writeFile(t, dir, "toll.yaml", fmt.Sprintf("wallet: {keystore: %s, passphrase_file: %s}\nnetworks: [%s, eip155:8453]\nassets: [%s=%s]\nrpc:\n  %s: %s\n",
		k.keystore, k.passFile, network, network, world.Chain.TokenAddress(), network, world.Chain.RPCURL()))

	r := runBinary(t, nil, "wallet", "balance", "--config", cfg, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	var got struct {
		Address  string    `json:"address"`
		Balances []balance `json:"balances"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, r.stdout)
	}
	if got.Address != k.payer.Hex() {
		t.Errorf("address = %s, want the keystore's %s", got.Address, k.payer.Hex())
	}
	want := []balance{
		{Network: network, Asset: world.Chain.TokenAddress(), Balance: "1", Atomic: "1000000", Decimals: 6},
		{Network: network, Asset: "native", Symbol: "gas", Balance: "0", Atomic: "0", Decimals: nativeDecimals},
		{Network: "eip155:8453", Error: "no JSON-RPC endpoint: add rpc: {eip155:8453: URL} to toll.yaml, or --rpc eip155:8453=URL"},
	}
	if len(got.Balances) != len(want) {
		t.Fatalf("balances = %+v, want %+v", got.Balances, want)
	}
	for i := range want {
		if got.Balances[i] != want[i] {
			t.Errorf("balance %d = %+v, want %+v", i, got.Balances[i], want[i])
		}
	}

	t.Run("gas of another address, endpoint by flag, as a table", func(t *testing.T) {
		r := runBinary(t, nil, "wallet", "balance", "--address", world.Chain.FacilitatorAddress(), "--rpc", network+"="+world.Chain.RPCURL())
		if r.code != 0 {
			t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "address "+world.Chain.FacilitatorAddress()) || !strings.Contains(r.stdout, "native (gas)") {
			t.Errorf("stdout = %q, want the address and a gas line", r.stdout)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Contains(line, "native (gas)") && (strings.Contains(line, " 0 ") || strings.Contains(line, " - ")) {
				t.Errorf("the facilitator, funded with ETH at genesis, has no gas: %q", line)
			}
		}
	})
	t.Run("endpoint of another chain", func(t *testing.T) {
		r := runBinary(t, nil, "wallet", "balance", "--address", k.payer.Hex(), "--rpc", "eip155:8453="+world.Chain.RPCURL())
		if r.code != 1 || !strings.Contains(r.stdout, "serves chain 31337, not eip155:8453") {
			t.Errorf("exit code %d, stdout %q; want exit code 1 and a line naming the wrong chain", r.code, r.stdout)
		}
	})
	t.Run("nothing to read", func(t *testing.T) {
		r := runBinary(t, nil, "wallet", "balance", "--address", k.payer.Hex())
		if r.code != 2 || !strings.Contains(r.stderr, "--rpc NETWORK=URL") {
			t.Errorf("exit code %d, stderr %q; want a usage error naming --rpc", r.code, r.stderr)
		}
	})
	t.Run("bad rpc in toll.yaml", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.yaml", "rpc: {base: mainnet.base.org/v2/SECRETKEY}\n")
		r := runBinary(t, nil, "wallet", "balance", "--config", bad, "--address", k.payer.Hex())
		if r.code != 1 || !strings.Contains(r.stderr, "rpc.base") || strings.Contains(r.stderr, "SECRETKEY") {
			t.Errorf("exit code %d, stderr %q; want exit 1 naming rpc.base without the key", r.code, r.stderr)
		}
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/keystore"
)

// nativeDecimals are the decimals of an EVM chain's native currency (ether: 10^18 wei).
const nativeDecimals = 18

// walletBalanceCmd is "toll wallet balance".
type walletBalanceCmd struct {
	keystoreFlags
	rpcs    repeated
	address string
	format  *format
}

func (a *app) walletBalanceCommand() *cobra.Command {
	b := &walletBalanceCmd{keystoreFlags: keystoreFlags{app: a}, format: textOrJSON()}
	c := &cobra.Command{
		Use:   "balance [--rpc NETWORK=URL ...] [flags]",
		Short: "print the payer's USDC and gas balances on each network, over JSON-RPC",
		Long: `Print the balances of the address that pays, on each network toll.yaml allows (networks:) and
each network with an endpoint: the USDC toll knows on that network, the assets toll.yaml adds,
and the native currency that pays for gas. The endpoints come from --rpc NETWORK=URL, else from
rpc: in toll.yaml. The address is --address, else that of the keystore (which asks for its
passphrase as toll wallet address does).`,
		Example: "  toll wallet balance --config toll.yaml\n  toll wallet balance --address 0x… --rpc eip155:8453=https://mainnet.base.org",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return b.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.Var(&b.rpcs, "rpc", "JSON-RPC endpoint of a chain, as NETWORK=URL (eip155:8453=https://…, or base=…); repeatable; wins over rpc: in toll.yaml")
	fs.StringVar(&b.address, "address", "", "the address whose balances to print (default: the keystore's)")
	b.register(fs)
	fs.Var(b.format, "format", "text: a table for people; json: the balances")
	return c
}

// balance is one line of toll wallet balance.
type balance struct {
	Network  string `json:"network"`
	Asset    string `json:"asset"` // a token's address, or "native"
	Symbol   string `json:"symbol,omitempty"`
	Balance  string `json:"balance,omitempty"` // decimal, for people
	Atomic   string `json:"atomic,omitempty"`
	Decimals int    `json:"decimals,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (b *walletBalanceCmd) run(ctx context.Context) error {
	var cfg *fileConfig
	if path := b.env.configPath(b.config); path != "" {
		c, err := loadConfig(path)
		if err != nil {
			return err
		}
		cfg = c
	} else {
		cfg = &fileConfig{}
	}
	plan, err := balancePlan(cfg, b.rpcs)
	if err != nil {
		return err
	}
	owner, err := b.owner(ctx)
	if err != nil {
		return err
	}
	lines := readBalances(ctx, plan, owner)
	if b.format.value == "json" {
		err = writeJSON(b.stdout, struct {
			Address  string    `json:"address"`
			Balances []balance `json:"balances"`
		}{owner.Hex(), lines})
	} else {
		err = writeBalances(b.stdout, owner, lines)
	}
	if err != nil {
		return err
	}
	for _, l := range lines {
		if l.Error != "" && l.Asset != "" {
			return errors.New("some balances could not be read (see above); check the endpoint of that network")
		}
	}
	return nil
}

// owner is --address, else the keystore's address.
func (b *walletBalanceCmd) owner(ctx context.Context) (wallet.Address, error) {
	if b.address != "" {
		a, err := wallet.ParseAddress(b.address)
		if err != nil {
			return a, usagef("--address %q: %v", b.address, err)
		}
		return a, nil
	}
	src, err := b.source("toll wallet balance")
	if err != nil {
		return wallet.Address{}, usagef("toll wallet balance needs --address ADDRESS, or --keystore FILE (or %s) to read it from", envKeystore)
	}
	src.Prompt = passphrasePrompt(ctx, b.stdin, b.stderr, osTerminal(), src.Keystore, false)
	warnExposed(src, b.warn)
	w, err := keystore.Load(src, b.env, wallet.Options{})
	if err != nil {
		return wallet.Address{}, walletHint(err)
	}
	return w.Address(), nil
}

// chainPlan is what toll wallet balance reads on one network.
type chainPlan struct {
	network string // as configured, or eip155:ID
	chainID string
	url     string // "" when no endpoint is configured
	tokens  []wallet.Address
}

// balancePlan lists the networks to read: those of networks: in toll.yaml, then those of
// the endpoints; each with its endpoint (--rpc, else rpc:) and its tokens (the known USDC,
// then the configured assets allowed there).
func balancePlan(cfg *fileConfig, rpcs []string) ([]chainPlan, error) {
	eps, err := chainEndpoints(cfg, rpcs)
	if err != nil {
		return nil, err
	}
	var plan []chainPlan
	index := map[string]int{}
	add := func(network, chainID string) int {
		if i, ok := index[chainID]; ok {
			return i
		}
		index[chainID] = len(plan)
		plan = append(plan, chainPlan{network: network, chainID: chainID})
		return len(plan) - 1
	}
	for _, n := range cfg.Networks {
		id, err := x402.ChainID(n)
		if err != nil {
			return nil, fmt.Errorf("networks: %v", err)
		}
		add(n, id.String())
	}
	for _, e := range eps {
		plan[add("eip155:"+e.chainID, e.chainID)].url = e.url
	}
	if len(plan) == 0 {
		return nil, usagef("no network to read: give --rpc NETWORK=URL, or a toll.yaml (--config) with networks: and rpc:")
	}
	for i := range plan {
		plan[i].tokens = balanceTokens(plan[i].network, plan[i].chainID, cfg.Assets)
	}
	return plan, nil
}

// balanceTokens are the tokens read on a network: its known USDC, then the assets allowed
// on it (those without a network are allowed on every network).
func balanceTokens(network, chainID string, assets []asset) []wallet.Address {
	var out []wallet.Address
	seen := map[wallet.Address]bool{}
	id, _ := new(big.Int).SetString(chainID, 10)
	if usdc, ok := x402.USDC(id.Int64()); ok && id.IsInt64() {
		a, _ := wallet.ParseAddress(usdc.Address)
		out, seen[a] = append(out, a), true
	}
	for _, as := range assets {
		if as.Network != "" {
			if other, err := x402.ChainID(as.Network); err != nil || other.String() != chainID {
				continue
			}
		}
		a, err := wallet.ParseAddress(as.Address)
		if err == nil && !seen[a] {
			out, seen[a] = append(out, a), true
		}
	}
	return out
}

package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// walletBalances returns what toll_budget reads the wallet's balances with: the networks
// with a JSON-RPC endpoint (--rpc, else rpc: in toll.yaml; cfg may be nil), and on each the
// known USDC and the tokens the policy allows there, read as toll wallet balance reads
// them. nil when there is no endpoint.
func walletBalances(cfg *fileConfig, rpcs []string, eps []endpoint, pol tools.Policy, owner wallet.Address) (func(context.Context) []server.WalletBalance, error) {
	if len(eps) == 0 {
		return nil, nil
	}
	c := fileConfig{}
	if cfg != nil {
		c = *cfg
	}
	// The networks and tokens the policy allows, flags and toll.yaml together.
	c.Networks = pol.Networks
	c.Assets = nil
	for _, a := range pol.Assets {
		c.Assets = append(c.Assets, asset(a))
	}
	plan, err := balancePlan(&c, rpcs)
	if err != nil {
		return nil, err
	}
	plan = slices.DeleteFunc(plan, func(p chainPlan) bool { return p.url == "" })
	return func(ctx context.Context) []server.WalletBalance {
		var out []server.WalletBalance
		for _, l := range readBalances(ctx, plan, owner) {
			out = append(out, server.WalletBalance{Network: l.Network, Asset: l.Asset, Symbol: l.Symbol, Balance: l.Balance, Error: l.Error})
		}
		return out
	}, nil
}

// readBalances reads owner's balances on each network of plan. A network without an
// endpoint, or whose endpoint fails, gets a line that says so.
func readBalances(ctx context.Context, plan []chainPlan, owner wallet.Address) []balance {
	var lines []balance
	for _, p := range plan {
		if p.url == "" {
			lines = append(lines, balance{Network: p.network, Error: fmt.Sprintf("no JSON-RPC endpoint: add rpc: {%s: URL} to toll.yaml, or --rpc %s=URL", p.network, p.network)})
			continue
		}
		lines = append(lines, readChain(ctx, p, owner)...)
	}
	return lines
}

// readChain reads one network's balances over its endpoint, after checking that the
// endpoint serves that chain.
func readChain(ctx context.Context, p chainPlan, owner wallet.Address) []balance {
	fail := func(err error) []balance {
		return []balance{{Network: p.network, Asset: "-", Error: err.Error()}}
	}
	c, err := onchain.Dial(ctx, p.url)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	id, err := c.ChainID(ctx)
	if err != nil {
		return fail(err)
	}
	if id.String() != p.chainID {
		return fail(fmt.Errorf("the endpoint %s serves chain %s, not %s: fix the endpoint of this network", c.URL(), id, p.network))
	}
	var lines []balance
	for _, token := range p.tokens {
		lines = append(lines, readToken(ctx, c, p, token, owner))
	}
	l := balance{Network: p.network, Asset: "native", Symbol: "gas", Decimals: nativeDecimals}
	if wei, err := c.NativeBalance(ctx, owner); err != nil {
		l.Error = err.Error()
	} else {
		v := money.New(wei, nativeDecimals)
		l.Balance, l.Atomic = v.String(), v.AtomicString()
	}
	return append(lines, l)
}

// readToken reads one token's balance: the USDC toll knows has USDC's decimals, another
// token says its own (decimals()).
func readToken(ctx context.Context, c *onchain.Client, p chainPlan, token, owner wallet.Address) balance {
	l := balance{Network: p.network, Asset: token.Hex()}
	id, _ := new(big.Int).SetString(p.chainID, 10)
	usdc, known := x402.USDC(id.Int64())
	if known && id.IsInt64() && strings.EqualFold(usdc.Address, token.Hex()) {
		l.Symbol, l.Decimals = "USDC", money.USDCDecimals
	} else {
		d, err := c.Decimals(ctx, token)
		if err != nil {
			l.Error = err.Error()
			return l
		}
		l.Decimals = int(d)
	}
	atomic, err := c.BalanceOf(ctx, token, owner)
	if err != nil {
		l.Error = err.Error()
		return l
	}
	v := money.New(atomic, l.Decimals)
	l.Balance, l.Atomic = v.String(), v.AtomicString()
	return l
}

// writeBalances prints the balances for people.
func writeBalances(w io.Writer, owner wallet.Address, lines []balance) error {
	fmt.Fprintf(w, "address %s\n\n", owner.Hex())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NETWORK\tASSET\tBALANCE\tNOTE")
	for _, l := range lines {
		asset := first(l.Asset, "-")
		switch {
		case l.Asset == "native":
			asset = "native (gas)"
		case l.Symbol != "":
			asset = l.Symbol + " " + l.Asset
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Network, asset, first(l.Balance, "-"), l.Error)
	}
	return tw.Flush()
}

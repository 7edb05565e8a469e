package x402

import "slices"

// Token is a token contract toll knows: its address (EIP-55 checksummed) and its EIP-712
// domain's name and version, which an EIP-3009 authorization for it must be signed with.
type Token struct {
	Address, Name, Version string
}

// usdc lists the USDC (EIP-3009) contract of each chain id with its EIP-712 domain, as
// the x402 reference implementation lists them
// (https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/constants.go). It is
// the one list of them in toll: the policy allows a network's USDC with the network and
// refuses it under another domain, the ledger's exports name it, the balance and the
// completeness check read it.
var usdc = map[int64]Token{
	8453:   {"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USD Coin", "2"},
	84532:  {"0x036CbD53842c5426634e7929541eC2318f3dCF7e", "USDC", "2"},
	1:      {"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USD Coin", "2"},
	43114:  {"0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", "USD Coin", "2"},
	43113:  {"0x5425890298aed601595a70AB815c96711a31Bc65", "USD Coin", "2"},
	137:    {"0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "USD Coin", "2"},
	80002:  {"0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582", "USDC", "2"},
	42161:  {"0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USD Coin", "2"},
	421614: {"0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d", "USD Coin", "2"},
}

// USDC returns the USDC contract toll knows on the chain with the given id, and whether
// it knows one.
func USDC(chainID int64) (Token, bool) {
	t, ok := usdc[chainID]
	return t, ok
}

// USDCChains returns the ids of the chains whose USDC toll knows, in increasing order.
func USDCChains() []int64 {
	ids := make([]int64, 0, len(usdc))
	for id := range usdc {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

package x402

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrUnknownNetwork reports a network name that is neither a known x402 v1 name nor an
// eip155 CAIP-2 id.
var ErrUnknownNetwork = errors.New("unknown network")

// v1Networks maps x402 version 1 network names to EVM chain ids, as the x402 reference
// implementation lists them (https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/v1/network.go).
var v1Networks = map[string]int64{
	"ethereum":           1,
	"sepolia":            11155111,
	"base":               8453,
	"base-sepolia":       84532,
	"avalanche":          43114,
	"avalanche-fuji":     43113,
	"abstract":           2741,
	"abstract-testnet":   11124,
	"iotex":              4689,
	"sei":                1329,
	"sei-testnet":        1328,
	"polygon":            137,
	"polygon-amoy":       80002,
	"peaq":               3338,
	"story":              1514,
	"educhain":           41923,
	"skale-base-sepolia": 324705682,
	"megaeth":            4326,
	"monad":              143,
	"stable":             988,
	"stable-testnet":     2201,
	"celo":               42220,
	"flare":              14,
}

// ChainID returns the EVM chain id a network names: a v1 name such as "base-sepolia" or a
// CAIP-2 id such as "eip155:84532".
func ChainID(network string) (*big.Int, error) {
	if id, ok := v1Networks[network]; ok {
		return big.NewInt(id), nil
	}
	ref, ok := strings.CutPrefix(network, "eip155:")
	if !ok {
		return nil, fmt.Errorf("%w %q: want an eip155:<chain id> CAIP-2 id or a v1 name such as base-sepolia", ErrUnknownNetwork, network)
	}
	if ref == "" || len(ref) > 20 || (len(ref) > 1 && ref[0] == '0') || strings.Trim(ref, "0123456789") != "" {
		return nil, fmt.Errorf("%w %q: the chain id must be a decimal number", ErrUnknownNetwork, network)
	}
	id, _ := new(big.Int).SetString(ref, 10)
	if id.Sign() <= 0 {
		return nil, fmt.Errorf("%w %q: the chain id must be positive", ErrUnknownNetwork, network)
	}
	return id, nil
}

// CAIP2 returns the CAIP-2 form of a network: "base-sepolia" → "eip155:84532".
// A CAIP-2 id is returned in its canonical form.
func CAIP2(network string) (string, error) {
	id, err := ChainID(network)
	if err != nil {
		return "", err
	}
	return "eip155:" + id.String(), nil
}

// V1Name returns the x402 version 1 name of a chain id, if it has one.
func V1Name(chainID *big.Int) (string, bool) {
	if chainID == nil || !chainID.IsInt64() {
		return "", false
	}
	for name, id := range v1Networks {
		if id == chainID.Int64() {
			return name, true
		}
	}
	return "", false
}

// SameNetwork reports whether a and b name the same EVM chain ("base-sepolia" and
// "eip155:84532" do). Unknown names are equal only when identical.
func SameNetwork(a, b string) bool {
	if a == b {
		return true
	}
	ia, err := ChainID(a)
	if err != nil {
		return false
	}
	ib, err := ChainID(b)
	if err != nil {
		return false
	}
	return ia.Cmp(ib) == 0
}

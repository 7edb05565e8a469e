package onchain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/wallet"
)

// selDecimals is ERC-20's decimals() (https://eips.ethereum.org/EIPS/eip-20).
var selDecimals = crypto.Keccak256([]byte("decimals()"))[:4]

// NativeBalance returns the balance of owner in the chain's native currency (what pays
// for gas) at the latest block, in wei.
func (c *Client) NativeBalance(ctx context.Context, owner wallet.Address) (*big.Int, error) {
	b, err := c.ec.BalanceAt(ctx, common.Address(owner), nil)
	if err != nil {
		return nil, c.fail(fmt.Sprintf("native balance of %s", owner.Hex()), err)
	}
	return b, nil
}

// Decimals returns the token's ERC-20 decimals(): how many decimal places its atomic
// units have. A token that answers more than 77 (no real token does) is an error.
func (c *Client) Decimals(ctx context.Context, token wallet.Address) (uint8, error) {
	op := fmt.Sprintf("decimals() of token %s", token.Hex())
	out, err := c.call(ctx, token, selDecimals, nil)
	if err != nil {
		return 0, c.fail(op, err)
	}
	d := new(big.Int).SetBytes(out)
	if !d.IsUint64() || d.Uint64() > 77 {
		return 0, c.fail(op, fmt.Errorf("result %s is not a number of decimals", d))
	}
	return uint8(d.Uint64()), nil
}

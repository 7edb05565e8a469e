package onchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/wallet"
)

// topicTransfer is ERC-20's Transfer(address,address,uint256).
var topicTransfer = common.BytesToHash(crypto.Keccak256([]byte("Transfer(address,address,uint256)")))

// UsedAuthorization is one AuthorizationUsed event: a nonce its authorizer spent.
type UsedAuthorization struct {
	Token  wallet.Address
	Nonce  [32]byte
	TxHash string
	Block  uint64
}

// AuthorizationsUsed lists every AuthorizationUsed event of token for authorizer in
// blocks from..to (to 0: the head), oldest first, reading eth_getLogs in windows of
// LogWindow blocks (halved when a provider refuses a range). It returns the last block
// it read.
func (c *Client) AuthorizationsUsed(ctx context.Context, token, authorizer wallet.Address, from, to uint64) ([]UsedAuthorization, uint64, error) {
	op := fmt.Sprintf("AuthorizationUsed(%s) logs of token %s", authorizer.Hex(), token.Hex())
	if to == 0 {
		head, err := c.ec.BlockNumber(ctx)
		if err != nil {
			return nil, 0, c.fail(op, err)
		}
		to = head
	}
	q := ethereum.FilterQuery{
		Addresses: []common.Address{common.Address(token)},
		Topics:    [][]common.Hash{{topicAuthorizationUsed}, {common.BytesToHash(common.LeftPadBytes(authorizer[:], 32))}},
	}
	var out []UsedAuthorization
	window := uint64(LogWindow)
	for lo := from; lo <= to; {
		hi := min(to, lo+window-1)
		q.FromBlock, q.ToBlock = new(big.Int).SetUint64(lo), new(big.Int).SetUint64(hi)
		logs, err := c.ec.FilterLogs(ctx, q)
		if err != nil {
			if ctx.Err() != nil || window <= minLogWindow {
				return nil, 0, c.fail(op, fmt.Errorf("blocks %d-%d: %w", lo, hi, err))
			}
			window /= 2
			continue
		}
		for _, l := range logs {
			if matches(l, topicAuthorizationUsed) && !l.Removed {
				out = append(out, UsedAuthorization{Token: token, Nonce: l.Topics[2], TxHash: l.TxHash.Hex(), Block: l.BlockNumber})
			}
		}
		lo = hi + 1
	}
	return out, to, nil
}

// Transfer is one ERC-20 Transfer event.
type Transfer struct {
	Token, From, To wallet.Address
	Value           *big.Int
}

// Payment is what one transaction did that a payment is made of: its ERC-20 transfers
// and the EIP-3009 authorizations it used.
type Payment struct {
	Success        bool
	Block          uint64
	Transfers      []Transfer
	Authorizations []UsedAuthorization
}

// PaymentIn reads the receipt of transaction txHash. found is false when the chain has no
// such transaction (or not yet).
func (c *Client) PaymentIn(ctx context.Context, txHash string) (p Payment, found bool, err error) {
	rcpt, err := c.ec.TransactionReceipt(ctx, common.HexToHash(txHash))
	if err != nil {
		if errors.Is(err, ethereum.NotFound) {
			return Payment{}, false, nil
		}
		return Payment{}, false, c.fail("receipt of "+txHash, err)
	}
	p = Payment{Success: rcpt.Status == types.ReceiptStatusSuccessful, Block: rcpt.BlockNumber.Uint64()}
	for _, l := range rcpt.Logs {
		switch {
		case len(l.Topics) == 3 && l.Topics[0] == topicTransfer && len(l.Data) == 32:
			p.Transfers = append(p.Transfers, Transfer{Token: wallet.Address(l.Address),
				From: wallet.Address(common.BytesToAddress(l.Topics[1][:])), To: wallet.Address(common.BytesToAddress(l.Topics[2][:])),
				Value: new(big.Int).SetBytes(l.Data)})
		case matches(*l, topicAuthorizationUsed):
			p.Authorizations = append(p.Authorizations, UsedAuthorization{Token: wallet.Address(l.Address), Nonce: l.Topics[2], TxHash: txHash, Block: p.Block})
		}
	}
	return p, true, nil
}

// BlockAt returns the number of the first block whose time is at or after t (the head's
// number when none is), by a binary search over block headers: about 25 requests on a
// chain of tens of millions of blocks.
func (c *Client) BlockAt(ctx context.Context, t time.Time) (uint64, error) {
	head, err := c.Head(ctx)
	if err != nil {
		return 0, err
	}
	var searchErr error
	n := sort.Search(int(head.Number)+1, func(i int) bool {
		if searchErr != nil {
			return true
		}
		h, err := c.ec.HeaderByNumber(ctx, new(big.Int).SetUint64(uint64(i)))
		if err != nil {
			searchErr = c.fail(fmt.Sprintf("block %d", i), err)
			return true
		}
		return !time.Unix(int64(h.Time), 0).Before(t)
	})
	if searchErr != nil {
		return 0, searchErr
	}
	return min(uint64(n), head.Number), nil
}

package onchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollhq/toll/wallet"
)

// Bounds of FindAuthorization's log search; see the package documentation.
const (
	// SearchBlocks is how many blocks back from the head FindAuthorization looks.
	SearchBlocks = 200_000
	// LogWindow is the block range of one eth_getLogs request. When a provider refuses
	// a range, the window is halved, down to minLogWindow.
	LogWindow    = 2_000
	minLogWindow = 16
)

// ErrNoContract is returned when a token address answers an eth_call with no data: there
// is no contract there on this chain (wrong network, or a mistyped address).
var ErrNoContract = errors.New("no contract at the token address")

// Selectors and the event topic of the EIP-3009 / ERC-20 calls this package makes.
var (
	selAuthorizationState  = crypto.Keccak256([]byte("authorizationState(address,bytes32)"))[:4]
	selBalanceOf           = crypto.Keccak256([]byte("balanceOf(address)"))[:4]
	topicAuthorizationUsed = common.BytesToHash(crypto.Keccak256([]byte("AuthorizationUsed(address,bytes32)")))
)

// Client reads one chain over JSON-RPC. It is safe for concurrent use.
type Client struct {
	name string // scheme://host of the endpoint, safe to print
	raw  string // the URL as given, which may hold an API key: never printed
	ec   *ethclient.Client
}

// Block identifies a block and carries its timestamp.
type Block struct {
	Number uint64
	Hash   [32]byte
	Time   time.Time
}

// Dial connects to the JSON-RPC endpoint at rpcURL (http, https, ws, wss, or an IPC
// socket path). Over HTTP nothing is sent until the first call.
func Dial(ctx context.Context, rpcURL string) (*Client, error) {
	if strings.TrimSpace(rpcURL) == "" {
		return nil, errors.New("dial rpc: empty URL")
	}
	c := &Client{name: Redact(rpcURL), raw: rpcURL}
	ec, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, c.fail("dial", err)
	}
	c.ec = ec
	return c, nil
}

// Error is a failed JSON-RPC exchange. Its text names the endpoint by scheme and host
// only: the URL's path or query, which may hold an API key, is cut from the cause too.
type Error struct {
	Endpoint string // as URL returns it
	Op       string // what was asked, e.g. "eth_chainId"
	msg      string // the cause's text, without the full URL
	err      error
}

func (e *Error) Error() string { return "rpc " + e.Endpoint + ": " + e.Op + ": " + e.msg }

// Unwrap returns the cause (ErrNoContract, a context error, a go-ethereum error...).
// Its own text may hold the full URL.
func (e *Error) Unwrap() error { return e.err }

func (c *Client) fail(op string, err error) error {
	msg := err.Error()
	if c.raw != "" {
		msg = strings.ReplaceAll(msg, c.raw, c.name)
	}
	return &Error{Endpoint: c.name, Op: op, msg: msg, err: err}
}

// URL names the endpoint, scheme and host only (see Redact).
func (c *Client) URL() string { return c.name }

// Close closes the connection.
func (c *Client) Close() { c.ec.Close() }

// ChainID returns the chain id the endpoint serves.
func (c *Client) ChainID(ctx context.Context) (*big.Int, error) {
	id, err := c.ec.ChainID(ctx)
	if err != nil {
		return nil, c.fail("eth_chainId", err)
	}
	return id, nil
}

// Head returns the latest block.
func (c *Client) Head(ctx context.Context) (Block, error) {
	h, err := c.ec.HeaderByNumber(ctx, nil)
	if err != nil {
		return Block{}, c.fail("latest block", err)
	}
	return Block{Number: h.Number.Uint64(), Hash: h.Hash(), Time: time.Unix(int64(h.Time), 0).UTC()}, nil
}

// LatestBlockTime returns the timestamp of the latest block: the chain's clock, which
// EIP-3009 checks validAfter and validBefore against.
func (c *Client) LatestBlockTime(ctx context.Context) (time.Time, error) {
	b, err := c.Head(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return b.Time, nil
}

// AuthorizationState calls the token's authorizationState(authorizer, nonce) at the
// latest block: true when the nonce was used (the authorization settled) or canceled.
func (c *Client) AuthorizationState(ctx context.Context, token, authorizer wallet.Address, nonce [32]byte) (bool, error) {
	return c.authorizationState(ctx, token, authorizer, nonce, nil)
}

// AuthorizationStateAt is AuthorizationState at the block with the given hash (from
// Head), so that the answer and that block's time describe the same state.
func (c *Client) AuthorizationStateAt(ctx context.Context, token, authorizer wallet.Address, nonce [32]byte, block [32]byte) (bool, error) {
	return c.authorizationState(ctx, token, authorizer, nonce, &block)
}

func (c *Client) authorizationState(ctx context.Context, token, authorizer wallet.Address, nonce [32]byte, block *[32]byte) (bool, error) {
	data := make([]byte, 0, 4+64)
	data = append(data, selAuthorizationState...)
	data = append(data, common.LeftPadBytes(authorizer[:], 32)...)
	data = append(data, nonce[:]...)
	op := fmt.Sprintf("authorizationState(%s, 0x%x) on token %s", authorizer.Hex(), nonce, token.Hex())
	out, err := c.call(ctx, token, data, block)
	if err != nil {
		return false, c.fail(op, err)
	}
	word := new(big.Int).SetBytes(out)
	if word.Cmp(big.NewInt(1)) > 0 {
		return false, c.fail(op, fmt.Errorf("result %#x is not a bool", out))
	}
	return word.Sign() == 1, nil
}

// BalanceOf returns the token balance of owner at the latest block, in atomic units.
func (c *Client) BalanceOf(ctx context.Context, token, owner wallet.Address) (*big.Int, error) {
	data := make([]byte, 0, 4+32)
	data = append(data, selBalanceOf...)
	data = append(data, common.LeftPadBytes(owner[:], 32)...)
	out, err := c.call(ctx, token, data, nil)
	if err != nil {
		return nil, c.fail(fmt.Sprintf("balanceOf(%s) on token %s", owner.Hex(), token.Hex()), err)
	}
	return new(big.Int).SetBytes(out), nil
}

// call runs an eth_call that returns one 32-byte word.
func (c *Client) call(ctx context.Context, to wallet.Address, data []byte, block *[32]byte) ([]byte, error) {
	addr := common.Address(to)
	msg := ethereum.CallMsg{To: &addr, Data: data}
	var (
		out []byte
		err error
	)
	if block != nil {
		out, err = c.ec.CallContractAtHash(ctx, msg, common.Hash(*block))
	} else {
		out, err = c.ec.CallContract(ctx, msg, nil)
	}
	switch {
	case err != nil:
		return nil, err
	case len(out) == 0:
		return nil, ErrNoContract
	case len(out) != 32:
		return nil, fmt.Errorf("result is %d bytes, want 32", len(out))
	}
	return out, nil
}

// FindAuthorization looks for the transaction that used the authorizer's nonce: the
// token's AuthorizationUsed event with both topics set, searched newest blocks first, at
// most SearchBlocks back from the head (see the package documentation). found is false
// when no such event is in that range.
func (c *Client) FindAuthorization(ctx context.Context, token, authorizer wallet.Address, nonce [32]byte) (txHash string, found bool, err error) {
	fail := func(err error) (string, bool, error) {
		return "", false, c.fail(fmt.Sprintf("AuthorizationUsed(%s, 0x%x) logs of token %s", authorizer.Hex(), nonce, token.Hex()), err)
	}
	head, err := c.ec.BlockNumber(ctx)
	if err != nil {
		return fail(err)
	}
	floor := uint64(0) // the lowest block searched: SearchBlocks blocks in all
	if head >= SearchBlocks {
		floor = head - SearchBlocks + 1
	}
	q := ethereum.FilterQuery{
		Addresses: []common.Address{common.Address(token)},
		Topics: [][]common.Hash{
			{topicAuthorizationUsed},
			{common.BytesToHash(common.LeftPadBytes(authorizer[:], 32))},
			{common.Hash(nonce)},
		},
	}
	window := uint64(LogWindow)
	for to := head; ; {
		from := floor
		if to-floor >= window {
			from = to - window + 1
		}
		q.FromBlock, q.ToBlock = new(big.Int).SetUint64(from), new(big.Int).SetUint64(to)
		logs, err := c.ec.FilterLogs(ctx, q)
		if err != nil {
			// Providers cap the range or the result size of eth_getLogs, each its own
			// way; a smaller window is the one remedy they share.
			if ctx.Err() != nil || window <= minLogWindow {
				return fail(fmt.Errorf("blocks %d-%d: %w", from, to, err))
			}
			window /= 2
			continue
		}
		for i := len(logs) - 1; i >= 0; i-- {
			if matches(logs[i], topicAuthorizationUsed) && !logs[i].Removed {
				return logs[i].TxHash.Hex(), true, nil
			}
		}
		if from == floor {
			return "", false, nil
		}
		to = from - 1
	}
}

func matches(l types.Log, topic common.Hash) bool {
	return len(l.Topics) == 3 && l.Topics[0] == topic
}

// Redact names an RPC endpoint without the parts that may hold a secret: scheme and host
// of a URL ("https://base-mainnet.example.com/…"), or the path of an IPC socket.
func Redact(rpcURL string) string {
	u, err := url.Parse(rpcURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if !strings.Contains(rpcURL, "://") && (strings.HasPrefix(rpcURL, "/") || strings.HasSuffix(rpcURL, ".ipc")) {
			return rpcURL // an IPC path
		}
		return "(unparsable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		s += "/…"
	}
	return s
}

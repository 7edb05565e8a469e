package x402test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// DefaultChainID is Base Sepolia's chain id: x402 v1 calls it "base-sepolia" and v2
// "eip155:84532".
const DefaultChainID = 84532

// DefaultMaxClockSkew is how far block time may run ahead of the wall clock by default.
const DefaultMaxClockSkew = 30 * time.Second

// ChainOptions configures NewChain. The zero value is ready to use.
type ChainOptions struct {
	// ChainID is the chain's id, which block.chainid, EIP-155 transaction signing and the
	// token's EIP-712 domain all follow. Nil: DefaultChainID (84532).
	ChainID *big.Int

	// MaxClockSkew bounds how far the chain's block time may run ahead of the wall clock.
	// Every block needs a timestamp one second after its parent's, so more than one
	// commit a second pushes block time ahead; a commit that would go beyond this bound
	// first waits for the wall clock to catch up. Zero: DefaultMaxClockSkew (30 s); below
	// one second: block time never runs ahead (at most one block per second).
	MaxClockSkew time.Duration

	// RPCAddr, when set, serves the chain's JSON-RPC over HTTP (modules eth, net and web3)
	// on this host:port, so that other processes can read it (toll ledger reconcile, toll
	// wallet balance) and send transactions to it; a port of 0 takes a free port. Use a
	// loopback host: the endpoint has no authentication. A goroutine then watches for
	// transactions sent by others and commits a block for them (within MaxClockSkew).
	// Empty: no JSON-RPC server.
	RPCAddr string

	// Logger receives a line per deployment, mint and settlement. Nil: silent.
	Logger *slog.Logger
}

// Chain is a simulated EVM chain (go-ethereum's ethclient/simulated) with the test USDC
// token deployed. A deployer key (the token's owner, which mints) and a facilitator key
// (which submits settlements and pays their gas) are generated at random and funded with
// ETH in genesis, so the token address never collides with a real contract.
//
// Nothing is mined by itself: every state-changing method commits a block before it
// returns. Sends and commits are serialized. Addresses cross the API as strings and token
// amounts as money.Amount, so callers need not import go-ethereum.
type Chain struct {
	backend *simulated.Backend
	client  simulated.Client
	chainID *big.Int
	signer  types.Signer
	token   tokenContract
	address common.Address // the token
	skew    int64          // MaxClockSkew in whole seconds
	log     *slog.Logger

	deployerKey    *ecdsa.PrivateKey
	deployer       common.Address
	facilitatorKey *ecdsa.PrivateKey
	facilitator    common.Address

	rpcURL   string             // the JSON-RPC endpoint, when ChainOptions.RPCAddr is set
	stopLoop context.CancelFunc // stops the commit loop; nil without RPCAddr
	loopDone chan struct{}      // closed when the commit loop has returned

	mu            sync.Mutex // serializes sends and commits; guards the fields below
	lastBlockTime uint64
	advanced      int64 // seconds AdvanceTime moved block time ahead, on top of skew
	closed        bool
}

// ethFunding is the ETH balance (in wei) the deployer and facilitator start with.
var ethFunding = new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))

// gasLimit is the gas a simulated transferWithAuthorization gets. The token uses about
// 271k for a payer's first payment to a new payee on this chain's forks, 173k after.
const gasLimit = 1_000_000

// NewChain starts a simulated chain and deploys the token on it. Close it when done.
func NewChain(ctx context.Context, opts ChainOptions) (*Chain, error) {
	chainID := big.NewInt(DefaultChainID)
	if opts.ChainID != nil {
		if opts.ChainID.Sign() <= 0 {
			return nil, fmt.Errorf("new chain: chain id %s is not positive", opts.ChainID)
		}
		chainID = new(big.Int).Set(opts.ChainID)
	}
	skew := DefaultMaxClockSkew
	if opts.MaxClockSkew != 0 {
		skew = opts.MaxClockSkew
	}
	if skew < 0 {
		return nil, fmt.Errorf("new chain: MaxClockSkew %v is negative", opts.MaxClockSkew)
	}
	token, err := loadToken()
	if err != nil {
		return nil, fmt.Errorf("new chain: %w", err)
	}
	deployerKey, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("new chain: %w", err)
	}
	facilitatorKey, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("new chain: %w", err)
	}
	c := &Chain{
		chainID:        chainID,
		signer:         types.LatestSignerForChainID(chainID),
		token:          token,
		skew:           int64(skew / time.Second),
		log:            orDiscard(opts.Logger),
		deployerKey:    deployerKey,
		deployer:       crypto.PubkeyToAddress(deployerKey.PublicKey),
		facilitatorKey: facilitatorKey,
		facilitator:    crypto.PubkeyToAddress(facilitatorKey.PublicKey),
	}
	alloc := types.GenesisAlloc{
		c.deployer:    {Balance: ethFunding},
		c.facilitator: {Balance: ethFunding},
	}
	if opts.RPCAddr == "" {
		c.backend, err = newBackend(alloc, chainID, "", 0)
	} else {
		c.backend, c.rpcURL, err = newRPCBackend(alloc, chainID, opts.RPCAddr)
	}
	if err != nil {
		return nil, fmt.Errorf("new chain: %w", err)
	}
	c.client = c.backend.Client()
	if err := c.deploy(ctx); err != nil {
		c.backend.Close()
		return nil, fmt.Errorf("new chain: %w", err)
	}
	if c.rpcURL != "" {
		loopCtx, cancel := context.WithCancel(context.Background())
		c.stopLoop, c.loopDone = cancel, make(chan struct{})
		go c.commitLoop(loopCtx)
	}
	c.log.Info("x402test chain started", "chainId", chainID, "token", c.address.Hex(), "facilitator", c.facilitator.Hex(), "rpc", c.rpcURL)
	return c, nil
}

// newBackend starts the simulated backend with a copy of the dev chain config that
// carries chainID, serving JSON-RPC over HTTP on host:port when host is not empty.
// NewBackend panics when the node cannot be assembled or started (a port already taken);
// that becomes an error.
func newBackend(alloc types.GenesisAlloc, chainID *big.Int, host string, port int) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("simulated backend: %v", r)
		}
	}()
	return simulated.NewBackend(alloc, func(nodeConf *node.Config, ethConf *ethconfig.Config) {
		// Copy the dev chain config, never mutate the global one.
		cfg := *params.AllDevChainProtocolChanges
		cfg.ChainID = new(big.Int).Set(chainID)
		ethConf.Genesis.Config = &cfg
		if host != "" {
			nodeConf.HTTPHost = host
			nodeConf.HTTPPort = port
			nodeConf.HTTPModules = []string{"eth", "net", "web3"}
		}
	}), nil
}

// newRPCBackend is newBackend serving JSON-RPC on addr. The node cannot report the port
// it bound, so a port of 0 is resolved here first: a free port is found by listening on
// it and closing, and taken again by the node; if another process takes it in between,
// the start fails and another port is tried.
func newRPCBackend(alloc types.GenesisAlloc, chainID *big.Int, addr string) (*simulated.Backend, string, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("RPCAddr %q: %w", addr, err)
	}
	if host == "" {
		return nil, "", fmt.Errorf("RPCAddr %q: no host (use 127.0.0.1)", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, "", fmt.Errorf("RPCAddr %q: bad port", addr)
	}
	attempts := 1
	if port == 0 {
		attempts = 5
	}
	for i := 0; ; i++ {
		p := port
		if p == 0 {
			if p, err = freePort(host); err != nil {
				return nil, "", fmt.Errorf("RPCAddr %q: %w", addr, err)
			}
		}
		b, err := newBackend(alloc, chainID, host, p)
		if err == nil {
			return b, "http://" + net.JoinHostPort(host, strconv.Itoa(p)), nil
		}
		if i+1 >= attempts {
			return nil, "", fmt.Errorf("JSON-RPC on %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
		}
	}
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// commitPoll is how often the commit loop looks for transactions sent by other processes.
const commitPoll = 20 * time.Millisecond

// commitLoop mines the transactions that other processes send over JSON-RPC: nothing
// else would, since every method here commits its own. It stops when ctx is done.
func (c *Chain) commitLoop(ctx context.Context) {
	defer close(c.loopDone)
	t := time.NewTicker(commitPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		if n, err := c.client.PendingTransactionCount(ctx); err == nil && n > 0 {
			if err := c.commitLocked(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("x402test commit of pending transactions failed", "err", err)
			} else if err == nil {
				c.log.Debug("x402test committed transactions sent over JSON-RPC", "count", n)
			}
		}
		c.mu.Unlock()
	}
}

func (c *Chain) deploy(ctx context.Context) error {
	data, err := c.token.deployData(TokenName, TokenVersion)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rcpt, err := c.sendLocked(ctx, c.deployerKey, nil, data, 3_000_000)
	if err != nil {
		return fmt.Errorf("deploy token: %w", err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("deploy token: %w", ErrTxFailed)
	}
	c.address = rcpt.ContractAddress
	return nil
}

// Close stops the chain. It is safe to call more than once.
func (c *Chain) Close() error {
	if c.stopLoop != nil {
		c.stopLoop() // the loop may hold c.mu while it waits for a block slot
		<-c.loopDone
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.backend.Close()
}

// ChainID returns a copy of the chain id.
func (c *Chain) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// NetworkV1 is the chain's x402 version 1 network name ("base-sepolia" for 84532). A
// chain id without a v1 name gets its CAIP-2 id, which package x402 also understands.
func (c *Chain) NetworkV1() string {
	if name, ok := x402.V1Name(c.chainID); ok {
		return name
	}
	return c.NetworkV2()
}

// NetworkV2 is the chain's CAIP-2 id, the x402 version 2 network ("eip155:84532").
func (c *Chain) NetworkV2() string { return "eip155:" + c.chainID.String() }

// RPCURL is the chain's JSON-RPC endpoint over HTTP ("http://127.0.0.1:40123"), or ""
// when ChainOptions.RPCAddr was empty.
func (c *Chain) RPCURL() string { return c.rpcURL }

// TokenAddress is the token's checksummed address.
func (c *Chain) TokenAddress() string { return c.address.Hex() }

// FacilitatorAddress is the checksummed address that submits settlements.
func (c *Chain) FacilitatorAddress() string { return c.facilitator.Hex() }

// Client is go-ethereum's client to the chain, for what the methods here do not cover
// (logs, receipts, raw calls). Transactions sent through it are mined only by the next
// commit: call Commit.
func (c *Chain) Client() simulated.Client { return c.client }

// DomainSeparator is the token's EIP-712 domain separator on this chain, as 0x hex.
func (c *Chain) DomainSeparator() string {
	return domainSeparator(TokenName, TokenVersion, c.chainID, c.address).Hex()
}

// Mint creates amount of the token for to, and commits. The amount must be positive and
// exact in TokenDecimals (6): money.USDC(1_000_000) is 1 USDC.
func (c *Chain) Mint(ctx context.Context, to string, amount money.Amount) error {
	addr, err := parseAddress(to)
	if err != nil {
		return fmt.Errorf("mint: %w", err)
	}
	units, err := tokenUnits(amount)
	if err != nil {
		return fmt.Errorf("mint: %w", err)
	}
	if units.Sign() <= 0 {
		return fmt.Errorf("mint: amount %s must be positive", amount)
	}
	if _, err := c.transact(ctx, c.deployerKey, "mint", addr, units); err != nil {
		return err // "mint: …"
	}
	c.log.Info("x402test mint", "to", addr.Hex(), "amount", amount)
	return nil
}

// BalanceOf returns the token balance of addr at the latest block, in TokenDecimals.
func (c *Chain) BalanceOf(ctx context.Context, addr string) (money.Amount, error) {
	units, err := c.balanceOf(ctx, addr)
	if err != nil {
		return money.Amount{}, err
	}
	return money.New(units, TokenDecimals), nil
}

// balanceOf is BalanceOf in atomic units, as the token's balanceOf returns it.
func (c *Chain) balanceOf(ctx context.Context, addr string) (*big.Int, error) {
	a, err := parseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	var out *big.Int
	if err := c.call(ctx, &out, "balanceOf", a); err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	return out, nil
}

// AuthorizationState reports whether the EIP-3009 nonce (0x + 64 hex) of authorizer is
// used or canceled.
func (c *Chain) AuthorizationState(ctx context.Context, authorizer, nonce string) (bool, error) {
	a, err := parseAddress(authorizer)
	if err != nil {
		return false, fmt.Errorf("authorization state: %w", err)
	}
	n, err := parseNonce(nonce)
	if err != nil {
		return false, fmt.Errorf("authorization state: %w", err)
	}
	var used bool
	if err := c.call(ctx, &used, "authorizationState", a, n); err != nil {
		return false, fmt.Errorf("authorization state: %w", err)
	}
	return used, nil
}

// BlockTime is the timestamp of the latest block.
func (c *Chain) BlockTime(ctx context.Context) (time.Time, error) {
	h, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("block time: %w", err)
	}
	return time.Unix(int64(h.Time), 0), nil
}

// Commit mines a block with whatever transactions are pending, waiting first if block
// time would otherwise run more than MaxClockSkew ahead of the wall clock.
func (c *Chain) Commit(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commitLocked(ctx)
}

// AdvanceTime mines a block stamped d (whole seconds, at least one) later than a block
// mined now would be, first committing any pending transaction. It is how a test makes
// authorizations expire: every later block is stamped after it. MaxClockSkew then counts
// from the advanced time, so later commits do not wait for the wall clock to catch up.
func (c *Chain) AdvanceTime(ctx context.Context, d time.Duration) error {
	secs := int64(d / time.Second)
	if secs < 1 {
		return fmt.Errorf("advance time: %v is less than a second", d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	// AdjustTime refuses to seal a block while the transaction pool holds a transaction
	// (one sent over JSON-RPC and not yet committed, or one just mined that the pool,
	// which resets in the background, has not dropped yet): commit, and try again.
	for attempt := 0; ; attempt++ {
		next := max(time.Now().Unix(), int64(c.lastBlockTime)+1)
		err := c.backend.AdjustTime(time.Duration(next+secs-int64(c.lastBlockTime)) * time.Second)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "non-empty block") || attempt >= 20 {
			return fmt.Errorf("advance time: %w", err)
		}
		if err := c.commitLocked(ctx); err != nil {
			return fmt.Errorf("advance time: %w", err)
		}
	}
	h, err := c.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("advance time: %w", err)
	}
	c.lastBlockTime = h.Time
	c.advanced += secs
	c.log.Info("x402test chain time advanced", "by", d, "blockTime", time.Unix(int64(h.Time), 0).UTC())
	return nil
}

// AdvancePast moves block time past t: unless the latest block is already stamped after
// t, it mines a block stamped at least a second after t (AdvanceTime), so that every later
// block is too. It is how a test puts an authorization's validBefore, plus a margin,
// behind the chain.
func (c *Chain) AdvancePast(ctx context.Context, t time.Time) error {
	bt, err := c.BlockTime(ctx)
	if err != nil {
		return fmt.Errorf("advance past %v: %w", t, err)
	}
	if bt.After(t) {
		return nil
	}
	// The next block is stamped at least bt + 1 s; d more makes it at least t + 1 s.
	d := t.Sub(bt).Truncate(time.Second) + time.Second
	return c.AdvanceTime(ctx, d)
}

// Receipt is the outcome of a mined transaction.
type Receipt struct {
	TxHash      string    // 0x hex
	BlockNumber uint64    // the block that holds it
	BlockTime   time.Time // that block's timestamp
	Success     bool      // status 1
	GasUsed     uint64
}

// TransferWithAuthorization submits the token's transferWithAuthorization (the v,r,s
// overload) from the facilitator account for a signed EIP-3009 authorization, commits a
// block and returns the receipt. The call is estimated first: when the token would revert
// nothing is sent and the error is a *RevertError with the token's reason. A transaction
// mined with status 0 returns its receipt and an error wrapping ErrTxFailed.
func (c *Chain) TransferWithAuthorization(ctx context.Context, auth x402.Authorization, signature string) (Receipt, error) {
	data, err := c.transferData(auth, signature)
	if err != nil {
		return Receipt{}, fmt.Errorf("transfer with authorization: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Receipt{}, ErrClosed
	}
	gas, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: c.facilitator, To: &c.address, Data: data})
	if err != nil {
		return Receipt{}, fmt.Errorf("transfer with authorization: %w", asRevert(err))
	}
	rcpt, err := c.sendLocked(ctx, c.facilitatorKey, &c.address, data, gas+gas/4)
	if err != nil {
		return Receipt{}, fmt.Errorf("transfer with authorization: %w", err)
	}
	out, err := c.receipt(ctx, rcpt)
	if err != nil {
		return Receipt{}, fmt.Errorf("transfer with authorization: %w", err)
	}
	c.log.Info("x402test transferWithAuthorization", "from", auth.From, "to", auth.To, "value", auth.Value,
		"nonce", auth.Nonce, "tx", out.TxHash, "success", out.Success)
	if !out.Success {
		return out, fmt.Errorf("transfer with authorization: %w (tx %s)", ErrTxFailed, out.TxHash)
	}
	return out, nil
}

// SimulateTransferWithAuthorization runs transferWithAuthorization as an eth_call from
// the facilitator account against the latest block. A revert is a *RevertError.
func (c *Chain) SimulateTransferWithAuthorization(ctx context.Context, auth x402.Authorization, signature string) error {
	data, err := c.transferData(auth, signature)
	if err != nil {
		return fmt.Errorf("simulate transfer with authorization: %w", err)
	}
	if _, err := c.client.CallContract(ctx, ethereum.CallMsg{From: c.facilitator, To: &c.address, Data: data, Gas: gasLimit}, nil); err != nil {
		return fmt.Errorf("simulate transfer with authorization: %w", asRevert(err))
	}
	return nil
}

// transferData encodes transferWithAuthorization(from,to,value,validAfter,validBefore,nonce,v,r,s).
func (c *Chain) transferData(auth x402.Authorization, signature string) ([]byte, error) {
	a, err := parseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	sig, err := parseSignature(signature)
	if err != nil {
		return nil, err
	}
	if len(sig) != 65 {
		return nil, fmt.Errorf("signature is %d bytes, want 65", len(sig))
	}
	return c.token.abi.Pack("transferWithAuthorization", a.from, a.to, a.value, a.validAfter, a.validBefore,
		a.nonce, sig[64], [32]byte(sig[:32]), [32]byte(sig[32:64]))
}

// call runs a read-only token method at the latest block and stores its single result
// in out, a pointer to the Go type the ABI decodes to (*big.Int, bool, string, [32]byte…).
func (c *Chain) call(ctx context.Context, out any, method string, args ...any) error {
	data, err := c.token.abi.Pack(method, args...)
	if err != nil {
		return err
	}
	res, err := c.client.CallContract(ctx, ethereum.CallMsg{To: &c.address, Data: data}, nil)
	if err != nil {
		return asRevert(err)
	}
	vals, err := c.token.abi.Unpack(method, res)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", method, err)
	}
	if len(vals) != 1 {
		return fmt.Errorf("unpack %s: %d results, want 1", method, len(vals))
	}
	dst := reflect.ValueOf(out)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return fmt.Errorf("unpack %s: out is %T, want a non-nil pointer", method, out)
	}
	v := reflect.ValueOf(vals[0])
	if !v.Type().AssignableTo(dst.Elem().Type()) {
		return fmt.Errorf("unpack %s: result is %T, out is %T", method, vals[0], out)
	}
	dst.Elem().Set(v)
	return nil
}

// transact sends a token method from key: estimated first, so a revert is a *RevertError
// and nothing is sent; then sent, committed, and its receipt returned.
func (c *Chain) transact(ctx context.Context, key *ecdsa.PrivateKey, method string, args ...any) (*types.Receipt, error) {
	data, err := c.token.abi.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	gas, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: from, To: &c.address, Data: data})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, asRevert(err))
	}
	rcpt, err := c.sendLocked(ctx, key, &c.address, data, gas+gas/4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return rcpt, fmt.Errorf("%s: %w (tx %s)", method, ErrTxFailed, rcpt.TxHash.Hex())
	}
	return rcpt, nil
}

// sendLocked signs and sends a transaction from key with a fixed gas limit, mines a
// block and returns the receipt. c.mu must be held.
func (c *Chain) sendLocked(ctx context.Context, key *ecdsa.PrivateKey, to *common.Address, data []byte, gas uint64) (*types.Receipt, error) {
	// Wait for a block slot before sending: once sent, the transaction is mined and
	// its receipt read even if ctx ends, so no transaction is left pending.
	if err := c.waitSlotLocked(ctx); err != nil {
		return nil, err
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := c.client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	tip, err := c.client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("gas tip: %w", err)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(key, c.signer, &types.DynamicFeeTx{
		ChainID:   c.chainID,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: feeCap,
		Gas:       gas,
		To:        to,
		Data:      data,
	})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	// Not ctx: a send cut short could leave the transaction in the pool, to be mined by
	// some later commit while its sender reported a failure.
	if err := c.client.SendTransaction(context.WithoutCancel(ctx), tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	if err := c.mineLocked(); err != nil {
		return nil, err
	}
	return c.waitReceipt(context.WithoutCancel(ctx), tx.Hash())
}

// waitReceipt fetches the receipt of a committed transaction, retrying briefly while the
// node is still indexing.
func (c *Chain) waitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		rcpt, err := c.client.TransactionReceipt(ctx, hash)
		if err == nil {
			return rcpt, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("receipt %s: %w", hash.Hex(), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt %s: %w", hash.Hex(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (c *Chain) receipt(ctx context.Context, r *types.Receipt) (Receipt, error) {
	h, err := c.client.HeaderByNumber(ctx, r.BlockNumber)
	if err != nil {
		return Receipt{}, fmt.Errorf("block %s: %w", r.BlockNumber, err)
	}
	return Receipt{
		TxHash:      r.TxHash.Hex(),
		BlockNumber: r.BlockNumber.Uint64(),
		BlockTime:   time.Unix(int64(h.Time), 0),
		Success:     r.Status == types.ReceiptStatusSuccessful,
		GasUsed:     r.GasUsed,
	}, nil
}

// commitLocked mines a block, first waiting (waitSlotLocked) if block time would run too
// far ahead. c.mu must be held.
func (c *Chain) commitLocked(ctx context.Context) error {
	if err := c.waitSlotLocked(ctx); err != nil {
		return err
	}
	return c.mineLocked()
}

// waitSlotLocked waits until a block mined now would be at most c.skew seconds ahead of
// the wall clock. The simulated beacon stamps a block with max(wall clock, parent time
// + 1), so commits faster than one a second push block time ahead. c.mu must be held.
func (c *Chain) waitSlotLocked(ctx context.Context) error {
	if c.closed {
		return ErrClosed
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		now := time.Now().Unix()
		next := max(now, int64(c.lastBlockTime)+1)
		allowed := c.skew + c.advanced
		if next-now <= allowed {
			return nil
		}
		wait := time.Until(time.Unix(next-allowed, 0))
		c.log.Debug("x402test chain ahead of the wall clock, waiting", "ahead", time.Duration(next-now)*time.Second, "wait", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// mineLocked seals a block with the pending transactions and records its time. It
// takes no context: once begun, the block is mined. c.mu must be held.
func (c *Chain) mineLocked() error {
	if c.closed {
		return ErrClosed
	}
	c.backend.Commit()
	h, err := c.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	c.lastBlockTime = h.Time
	return nil
}

// asRevert turns a node error for a reverted call into a *RevertError with the decoded
// Error(string) reason. Other errors are returned as they are.
func asRevert(err error) error {
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if data, derr := hexutil.Decode(s); derr == nil {
				if reason, uerr := abi.UnpackRevert(data); uerr == nil {
					return &RevertError{Reason: reason, Err: err}
				}
			}
		}
	}
	msg := err.Error()
	if reason, ok := strings.CutPrefix(msg, "execution reverted: "); ok {
		return &RevertError{Reason: reason, Err: err}
	}
	if strings.Contains(msg, "execution reverted") {
		return &RevertError{Err: err}
	}
	return err
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

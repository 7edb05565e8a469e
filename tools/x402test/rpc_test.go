package x402test

import (
	"context"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
)

// dialRPC connects an ethclient to the chain over its JSON-RPC HTTP endpoint, as another
// process would.
func dialRPC(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("RPCURL = %q, want http://127.0.0.1:PORT", url)
	}
	ec, err := ethclient.DialContext(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	return ec
}

func TestChainJSONRPC(t *testing.T) {
	c := newChain(t, ChainOptions{RPCAddr: "127.0.0.1:0"})
	ctx := t.Context()
	ec := dialRPC(t, c.RPCURL())

	id, err := ec.ChainID(ctx)
	if err != nil {
		t.Fatalf("eth_chainId over HTTP: %v", err)
	}
	if id.Int64() != DefaultChainID {
		t.Errorf("chain id over HTTP = %s, want %d", id, DefaultChainID)
	}
	var version string
	if err := ec.Client().CallContext(ctx, &version, "net_version"); err != nil || version != strconv.Itoa(DefaultChainID) {
		t.Errorf("net_version = %q, %v; want %d", version, err, DefaultChainID)
	}

	// A mint sent by "another process" over HTTP is mined by the commit loop.
	payer := addrOf(newKey(t))
	data, err := c.token.abi.Pack("mint", common.HexToAddress(payer), big.NewInt(777))
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := ec.PendingNonceAt(ctx, c.deployer)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ec.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := ec.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := types.SignNewTx(c.deployerKey, c.signer, &types.DynamicFeeTx{
		ChainID: c.chainID, Nonce: nonce, GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
		Gas:       gasLimit, To: &c.address, Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The commit loop mines it; the chain's new head (in this process) says when.
	heads := make(chan *types.Header, 1)
	sub, err := c.Client().SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	start := time.Now()
	if err := ec.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("eth_sendRawTransaction over HTTP: %v", err)
	}
	select {
	case <-heads:
	case err := <-sub.Err():
		t.Fatalf("new heads: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("transaction sent over HTTP not mined within 10 s")
	}
	if _, err := c.waitReceipt(ctx, tx.Hash()); err != nil {
		t.Fatal(err)
	}
	rcpt, err := ec.TransactionReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatalf("eth_getTransactionReceipt over HTTP: %v", err)
	}
	t.Logf("receipt of a transaction sent over HTTP after %v", time.Since(start).Round(time.Millisecond))
	if rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("mint over HTTP failed: %+v", rcpt)
	}
	wantBalance(t, c, "payer minted over HTTP", payer, 777)

	// authorizationState and AuthorizationUsed logs are readable over HTTP.
	key := fundedPayer(t, c, 10_000)
	auth := newAuthorization(t, key, payer, 100)
	sig := signAuthorization(t, key, chainDomain(c), "TransferWithAuthorization", auth)
	settled, err := c.TransferWithAuthorization(ctx, auth, sig)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{
		Addresses: []common.Address{c.address},
		Topics: [][]common.Hash{
			{c.token.abi.Events["AuthorizationUsed"].ID},
			{common.BytesToHash(common.HexToAddress(auth.From).Bytes())},
			{common.HexToHash(auth.Nonce)},
		},
	})
	if err != nil {
		t.Fatalf("eth_getLogs over HTTP: %v", err)
	}
	if len(logs) != 1 || logs[0].TxHash.Hex() != settled.TxHash {
		t.Errorf("AuthorizationUsed logs over HTTP = %+v, want one in %s", logs, settled.TxHash)
	}
}

func TestChainJSONRPCFixedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// Taken: a clear error, not a panic.
	if _, err := NewChain(t.Context(), ChainOptions{RPCAddr: addr}); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("NewChain on a taken port: %v, want an error naming %s", err, addr)
	}
	ln.Close()
	c := newChain(t, ChainOptions{RPCAddr: addr})
	if c.RPCURL() != "http://"+addr {
		t.Errorf("RPCURL = %q, want http://%s", c.RPCURL(), addr)
	}
	if _, err := dialRPC(t, c.RPCURL()).ChainID(t.Context()); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"8545", ":8545", "127.0.0.1:x"} {
		if _, err := NewChain(t.Context(), ChainOptions{RPCAddr: bad}); err == nil {
			t.Errorf("RPCAddr %q accepted", bad)
		}
	}
}

func TestChainAdvanceTime(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	payer := fundedPayer(t, c, 10_000)
	auth := newAuthorization(t, payer, addrOf(newKey(t)), 100) // valid for 300 s
	sig := signAuthorization(t, payer, chainDomain(c), "TransferWithAuthorization", auth)

	before, err := c.BlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AdvanceTime(ctx, 301*time.Second); err != nil {
		t.Fatal(err)
	}
	after, err := c.BlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vb, _ := new(big.Int).SetString(auth.ValidBefore, 10)
	if after.Unix() < vb.Int64() || after.Sub(before) < 301*time.Second {
		t.Fatalf("block time %v → %v, want past validBefore %s", before, after, vb)
	}
	_, err = c.TransferWithAuthorization(ctx, auth, sig)
	wantRevert(t, err, "FiatTokenV2: authorization is expired")

	// Later commits go on without waiting for the wall clock to catch up: waiting would
	// take over four minutes (block time is 301 s ahead, 30 s allowed), far beyond this
	// context, which would end the wait with an error.
	commitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for range 3 {
		if err := c.Commit(commitCtx); err != nil {
			t.Fatalf("commit after AdvanceTime: %v, want no waiting for the wall clock", err)
		}
	}
	// Right after a settlement, the pool may still list the mined transaction for a
	// moment; AdvanceTime must not fail on that.
	for range 8 {
		a := newAuthorization(t, payer, addrOf(newKey(t)), 1)
		a.ValidBefore = big.NewInt(time.Now().Unix() + 3600).String()
		if _, err := c.TransferWithAuthorization(ctx, a, signAuthorization(t, payer, chainDomain(c), "TransferWithAuthorization", a)); err != nil {
			t.Fatal(err)
		}
		if err := c.AdvanceTime(ctx, time.Second); err != nil {
			t.Fatalf("AdvanceTime right after a settlement: %v", err)
		}
	}
	if err := c.AdvanceTime(ctx, time.Millisecond); err == nil {
		t.Error("AdvanceTime of less than a second accepted")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	_ = c.AdvanceTime(ctx2, time.Second) // must not hang or panic
}

func TestChainAdvancePast(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	before, err := c.BlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := before.Add(90*time.Second + 500*time.Millisecond)
	if err := c.AdvancePast(ctx, target); err != nil {
		t.Fatal(err)
	}
	after, err := c.BlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Before(target.Add(time.Second)) {
		t.Errorf("block time after AdvancePast(%v) = %v, want at least a second later", target, after)
	}
	// Already past: nothing is mined.
	head, err := c.Client().BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AdvancePast(ctx, target); err != nil {
		t.Fatal(err)
	}
	if again, err := c.Client().BlockNumber(ctx); err != nil || again != head {
		t.Errorf("AdvancePast to a time already past mined: block %d → %d (%v)", head, again, err)
	}
}

func TestWorldRPCURL(t *testing.T) {
	w := startWorld(t, Options{RPCAddr: "127.0.0.1:0"})
	if w.RPCURL == "" || w.RPCURL != w.Chain.RPCURL() {
		t.Fatalf("World.RPCURL = %q, Chain.RPCURL = %q", w.RPCURL, w.Chain.RPCURL())
	}
	if id, err := dialRPC(t, w.RPCURL).ChainID(t.Context()); err != nil || id.Int64() != DefaultChainID {
		t.Errorf("chain id over HTTP = %v, %v", id, err)
	}
	if w2 := startWorld(t, Options{}); w2.RPCURL != "" {
		t.Errorf("RPCURL without RPCAddr = %q, want empty", w2.RPCURL)
	}
}

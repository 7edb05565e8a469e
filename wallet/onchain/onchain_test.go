package onchain_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// world is a local x402 world whose chain serves JSON-RPC over HTTP, and a client dialed
// to it the way another process would.
func world(t *testing.T) (*x402test.World, *onchain.Client) {
	t.Helper()
	w, err := x402test.Start(t.Context(), x402test.Options{RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c, err := onchain.Dial(t.Context(), w.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return w, c
}

func addr(t *testing.T, s string) wallet.Address {
	t.Helper()
	a, err := wallet.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// pay signs an authorization with a fresh funded wallet and settles it through the
// world's chain, the way the facilitator does. It returns the payer, the nonce and the
// settlement receipt.
func pay(t *testing.T, w *x402test.World, value int64) (wallet.Address, [32]byte, x402test.Receipt) {
	t.Helper()
	ctx := t.Context()
	payer, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Fund(ctx, payer.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	token := addr(t, w.Chain.TokenAddress())
	auth, err := payer.NewAuthorization(addr(t, w.PayTo()), big.NewInt(value), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d := wallet.Domain{Name: x402test.TokenName, Version: x402test.TokenVersion, ChainID: w.Chain.ChainID(), VerifyingContract: token}
	sig, err := payer.Sign(ctx, d, auth)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := w.Chain.TransferWithAuthorization(ctx, x402.Authorization{
		From: auth.From.Hex(), To: auth.To.Hex(), Value: auth.Value.String(),
		ValidAfter: auth.ValidAfter.String(), ValidBefore: auth.ValidBefore.String(),
		Nonce: "0x" + hex.EncodeToString(auth.Nonce[:]),
	}, "0x"+hex.EncodeToString(sig))
	if err != nil {
		t.Fatal(err)
	}
	return payer.Address(), auth.Nonce, rcpt
}

func TestReadsOverJSONRPC(t *testing.T) {
	w, c := world(t)
	ctx := t.Context()
	token := addr(t, w.Chain.TokenAddress())

	id, err := c.ChainID(ctx)
	if err != nil || id.Cmp(w.Chain.ChainID()) != 0 {
		t.Fatalf("ChainID = %v, %v; want %s", id, err, w.Chain.ChainID())
	}

	before, err := c.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	payer, nonce, rcpt := pay(t, w, 1234)

	used, err := c.AuthorizationState(ctx, token, payer, nonce)
	if err != nil || !used {
		t.Errorf("AuthorizationState after settlement = %v, %v; want true", used, err)
	}
	// At a block before the settlement, the same nonce was unused.
	if used, err := c.AuthorizationStateAt(ctx, token, payer, nonce, before.Hash); err != nil || used {
		t.Errorf("AuthorizationStateAt(block %d, before settlement) = %v, %v; want false", before.Number, used, err)
	}
	tx, found, err := c.FindAuthorization(ctx, token, payer, nonce)
	if err != nil || !found || tx != rcpt.TxHash {
		t.Errorf("FindAuthorization = %q, %v, %v; want %s", tx, found, err, rcpt.TxHash)
	}

	var other [32]byte
	rand.Read(other[:])
	if used, err := c.AuthorizationState(ctx, token, payer, other); err != nil || used {
		t.Errorf("AuthorizationState(fresh nonce) = %v, %v; want false", used, err)
	}
	if tx, found, err := c.FindAuthorization(ctx, token, payer, other); err != nil || found {
		t.Errorf("FindAuthorization(fresh nonce) = %q, %v, %v; want not found", tx, found, err)
	}

	bal, err := c.BalanceOf(ctx, token, payer)
	if err != nil || bal.Int64() != 1_000_000-1234 {
		t.Errorf("BalanceOf(payer) = %v, %v; want %d", bal, err, 1_000_000-1234)
	}
	want, err := w.Chain.BlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.LatestBlockTime(ctx); err != nil || !got.Equal(want) {
		t.Errorf("LatestBlockTime = %v, %v; want %v", got, err, want)
	}
	head, err := c.Head(ctx)
	if err != nil || head.Number <= before.Number || head.Time.Before(before.Time) {
		t.Errorf("Head after settlement = %+v, %v; before it %+v", head, err, before)
	}

	// Chain time moved past a validBefore is what the chain reports.
	if err := w.Chain.AdvanceTime(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LatestBlockTime(ctx); err != nil || got.Sub(want) < time.Hour {
		t.Errorf("LatestBlockTime after advancing an hour = %v, %v; was %v", got, err, want)
	}
}

func TestNoContract(t *testing.T) {
	_, c := world(t)
	var nowhere wallet.Address
	rand.Read(nowhere[:])
	_, err := c.AuthorizationState(t.Context(), nowhere, nowhere, [32]byte{1})
	if !errors.Is(err, onchain.ErrNoContract) || !strings.Contains(err.Error(), nowhere.Hex()) {
		t.Errorf("authorizationState on an address without code: %v, want ErrNoContract naming it", err)
	}
	if _, err := c.BalanceOf(t.Context(), nowhere, nowhere); !errors.Is(err, onchain.ErrNoContract) {
		t.Errorf("balanceOf on an address without code: %v, want ErrNoContract", err)
	}
}

func TestErrorsHideTheURLPath(t *testing.T) {
	const secret = "s3cr3t-api-key"
	// Nothing listens on port 1.
	c, err := onchain.Dial(t.Context(), "http://127.0.0.1:1/v2/"+secret+"?key="+secret)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = c.ChainID(ctx)
	if err == nil {
		t.Fatal("ChainID on a closed port succeeded")
	}
	var rpcErr *onchain.Error
	if !errors.As(err, &rpcErr) || rpcErr.Op != "eth_chainId" {
		t.Errorf("error %v is not an *onchain.Error for eth_chainId", err)
	}
	if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, "http://127.0.0.1:1/…") {
		t.Errorf("error = %q: want the endpoint as http://127.0.0.1:1/… and no secret", msg)
	}
	if _, err := onchain.Dial(t.Context(), " "); err == nil {
		t.Error("Dial with an empty URL succeeded")
	}
	if _, err := onchain.Dial(t.Context(), "ftp://example.com/"+secret); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Dial(ftp://…) = %v, want an error without the secret", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8545":                     "http://127.0.0.1:8545",
		"http://127.0.0.1:8545/":                    "http://127.0.0.1:8545",
		"https://base-mainnet.g.example.com/v2/KEY": "https://base-mainnet.g.example.com/…",
		"https://rpc.example.com?apikey=KEY":        "https://rpc.example.com/…",
		"https://user:pass@rpc.example.com":         "https://rpc.example.com/…",
		"wss://rpc.example.com/ws":                  "wss://rpc.example.com/…",
		"/home/me/.ethereum/geth.ipc":               "/home/me/.ethereum/geth.ipc",
		"not a url with KEY":                        "(unparsable URL)",
		"http://[::1]:8545":                         "http://[::1]:8545",
	} {
		if got := onchain.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

package x402test

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

func TestChainDeploysToken(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()

	id, err := c.Client().ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id.Int64() != DefaultChainID || c.ChainID().Int64() != DefaultChainID {
		t.Errorf("chain id = %s (node) / %s, want %d", id, c.ChainID(), DefaultChainID)
	}
	if got, want := c.NetworkV1(), "base-sepolia"; got != want {
		t.Errorf("NetworkV1 = %q, want %q", got, want)
	}
	if got, want := c.NetworkV2(), "eip155:84532"; got != want {
		t.Errorf("NetworkV2 = %q, want %q", got, want)
	}
	code, err := c.Client().CodeAt(ctx, common.HexToAddress(c.TokenAddress()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(code, c.token.runtime) {
		t.Errorf("code at the token address (%d bytes) differs from token/Token.runtime.bin (%d bytes)", len(code), len(c.token.runtime))
	}
	if c.TokenAddress() != common.HexToAddress(c.TokenAddress()).Hex() {
		t.Errorf("TokenAddress %s is not checksummed", c.TokenAddress())
	}
	for method, want := range map[string]any{
		"name": TokenName, "version": TokenVersion, "symbol": "USDC", "decimals": uint8(TokenDecimals),
	} {
		var got any
		switch want.(type) {
		case string:
			var s string
			err = c.call(ctx, &s, method)
			got = s
		case uint8:
			var u uint8
			err = c.call(ctx, &u, method)
			got = u
		}
		if err != nil {
			t.Fatalf("%s(): %v", method, err)
		}
		if got != want {
			t.Errorf("%s() = %v, want %v", method, got, want)
		}
	}
	// Two chains get different random keys, so different token addresses.
	if other := newChain(t, ChainOptions{}); other.TokenAddress() == c.TokenAddress() {
		t.Errorf("two chains deployed the token at the same address %s", c.TokenAddress())
	}
}

func TestDomainSeparator(t *testing.T) {
	for _, id := range []int64{DefaultChainID, 31337} {
		t.Run(strconv.FormatInt(id, 10), func(t *testing.T) {
			c := newChain(t, ChainOptions{ChainID: big.NewInt(id)})
			var onChain [32]byte
			if err := c.call(t.Context(), &onChain, "DOMAIN_SEPARATOR"); err != nil {
				t.Fatal(err)
			}
			// By hand, from EIP-712 (https://eips.ethereum.org/EIPS/eip-712).
			byHand := crypto.Keccak256Hash(
				crypto.Keccak256([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")),
				crypto.Keccak256([]byte("USDC")),
				crypto.Keccak256([]byte("2")),
				common.LeftPadBytes(big.NewInt(id).Bytes(), 32),
				common.LeftPadBytes(common.HexToAddress(c.TokenAddress()).Bytes(), 32),
			)
			if common.Hash(onChain) != byHand {
				t.Errorf("DOMAIN_SEPARATOR() = %x, want %s", onChain, byHand)
			}
			// apitypes agrees.
			td := typedData(chainDomain(c), "TransferWithAuthorization", authFields, nil)
			sep, err := td.HashStruct("EIP712Domain", td.Domain.Map())
			if err != nil {
				t.Fatal(err)
			}
			if common.BytesToHash(sep) != byHand {
				t.Errorf("apitypes domain separator = %x, want %s", sep, byHand)
			}
			if got := c.DomainSeparator(); got != byHand.Hex() {
				t.Errorf("Chain.DomainSeparator() = %s, want %s", got, byHand.Hex())
			}
			var typehash [32]byte
			if err := c.call(t.Context(), &typehash, "TRANSFER_WITH_AUTHORIZATION_TYPEHASH"); err != nil {
				t.Fatal(err)
			}
			want := crypto.Keccak256Hash([]byte("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"))
			if common.Hash(typehash) != want || want != transferTypehash {
				t.Errorf("TRANSFER_WITH_AUTHORIZATION_TYPEHASH = %x, want %s (package constant %s)", typehash, want, transferTypehash)
			}
		})
	}
}

func TestTransferWithAuthorization(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	payer := fundedPayer(t, c, 1_000_000)
	payee := addrOf(newKey(t))

	auth := newAuthorization(t, payer, payee, 1234)
	sig := signAuthorization(t, payer, chainDomain(c), "TransferWithAuthorization", auth)
	if used, err := c.AuthorizationState(ctx, auth.From, auth.Nonce); err != nil || used {
		t.Fatalf("authorizationState before = %v, %v; want false", used, err)
	}
	rcpt, err := c.TransferWithAuthorization(ctx, auth, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !rcpt.Success || len(rcpt.TxHash) != 66 {
		t.Errorf("receipt = %+v, want success with a tx hash", rcpt)
	}
	wantBalance(t, c, "payer", auth.From, 1_000_000-1234)
	wantBalance(t, c, "payee", payee, 1234)
	wantBalance(t, c, "facilitator", c.FacilitatorAddress(), 0)
	if used, err := c.AuthorizationState(ctx, auth.From, auth.Nonce); err != nil || !used {
		t.Errorf("authorizationState after = %v, %v; want true", used, err)
	}

	// The receipt carries AuthorizationUsed(authorizer, nonce) and Transfer(from, to, value).
	full, err := c.Client().TransactionReceipt(ctx, common.HexToHash(rcpt.TxHash))
	if err != nil {
		t.Fatal(err)
	}
	usedEvent := c.token.abi.Events["AuthorizationUsed"].ID
	transferEvent := c.token.abi.Events["Transfer"].ID
	var sawUsed, sawTransfer bool
	for _, l := range full.Logs {
		switch {
		case l.Topics[0] == usedEvent:
			sawUsed = l.Topics[1] == common.BytesToHash(common.HexToAddress(auth.From).Bytes()) &&
				l.Topics[2] == common.HexToHash(auth.Nonce)
		case l.Topics[0] == transferEvent:
			sawTransfer = new(big.Int).SetBytes(l.Data).Int64() == 1234
		}
	}
	if !sawUsed || !sawTransfer {
		t.Errorf("logs: AuthorizationUsed %v, Transfer %v; want both", sawUsed, sawTransfer)
	}

	// Replay.
	_, err = c.TransferWithAuthorization(ctx, auth, sig)
	wantRevert(t, err, "FiatTokenV2: authorization is used or canceled")
	wantBalance(t, c, "payer after replay", auth.From, 1_000_000-1234)
}

// TestMintAmounts: Mint takes any amount exact in the token's decimals, whatever decimals
// it is written in, and refuses the rest without minting.
func TestMintAmounts(t *testing.T) {
	c := newChain(t, ChainOptions{})
	to := addrOf(newKey(t))
	// 0.0025 written with 18 decimals is 2500 atomic units of the 6-decimal token.
	if err := c.Mint(t.Context(), to, money.New(big.NewInt(2_500_000_000_000_000), 18)); err != nil {
		t.Fatalf("Mint(0.0025 in 18 decimals): %v", err)
	}
	wantBalance(t, c, "after 0.0025", to, 2500)
	for _, bad := range []struct {
		amount money.Amount
		want   string
	}{
		{money.USDC(0), "must be positive"},
		{money.USDC(-1), "must be positive"},
		{money.New(big.NewInt(1), 18), "not a whole number"},
		{money.New(new(big.Int).Lsh(big.NewInt(1), 256), TokenDecimals), "more than a uint256"},
	} {
		if err := c.Mint(t.Context(), to, bad.amount); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Mint(%s, %d decimals) = %v, want an error saying %q", bad.amount, bad.amount.Decimals(), err, bad.want)
		}
	}
	wantBalance(t, c, "after the refused mints", to, 2500)
}

func wantRevert(t *testing.T, err error, reason string) {
	t.Helper()
	var rev *RevertError
	if !errors.As(err, &rev) {
		t.Fatalf("err = %v, want a revert %q", err, reason)
	}
	if rev.Reason != reason {
		t.Errorf("revert reason = %q, want %q", rev.Reason, reason)
	}
}

func TestTransferWithAuthorizationRejects(t *testing.T) {
	c := newChain(t, ChainOptions{})
	payer := fundedPayer(t, c, 10_000)
	payee := addrOf(newKey(t))
	now := time.Now().Unix()
	d := chainDomain(c)

	sign := func(a x402.Authorization) []byte {
		return hexutil.MustDecode(signAuthorization(t, payer, d, "TransferWithAuthorization", a))
	}
	tests := []struct {
		name   string
		mutate func(a *x402.Authorization) []byte // returns the signature to submit
		reason string
	}{
		{"v=0", func(a *x402.Authorization) []byte { s := sign(*a); s[64] -= 27; return s }, "ECRecover: invalid signature 'v' value"},
		{"v=1", func(a *x402.Authorization) []byte { s := sign(*a); s[64] = 1; return s }, "ECRecover: invalid signature 'v' value"},
		{"v=29", func(a *x402.Authorization) []byte { s := sign(*a); s[64] = 29; return s }, "ECRecover: invalid signature 'v' value"},
		{"high s", func(a *x402.Authorization) []byte { return highS(sign(*a)) }, "ECRecover: invalid signature 's' value"},
		{"expired", func(a *x402.Authorization) []byte {
			a.ValidBefore = strconv.FormatInt(now-10, 10)
			return sign(*a)
		}, "FiatTokenV2: authorization is expired"},
		{"not yet valid", func(a *x402.Authorization) []byte {
			a.ValidAfter = strconv.FormatInt(now+3600, 10)
			a.ValidBefore = strconv.FormatInt(now+7200, 10)
			return sign(*a)
		}, "FiatTokenV2: authorization is not yet valid"},
		{"wrong signer", func(a *x402.Authorization) []byte {
			return hexutil.MustDecode(signAuthorization(t, newKey(t), d, "TransferWithAuthorization", *a))
		}, "FiatTokenV2: invalid signature"},
		{"value changed after signing", func(a *x402.Authorization) []byte {
			s := sign(*a)
			a.Value = "101"
			return s
		}, "FiatTokenV2: invalid signature"},
		{"wrong domain name", func(a *x402.Authorization) []byte {
			wrong := d
			wrong.name = "USD Coin"
			return hexutil.MustDecode(signAuthorization(t, payer, wrong, "TransferWithAuthorization", *a))
		}, "FiatTokenV2: invalid signature"},
		{"wrong chain id", func(a *x402.Authorization) []byte {
			wrong := d
			wrong.chainID = big.NewInt(8453)
			return hexutil.MustDecode(signAuthorization(t, payer, wrong, "TransferWithAuthorization", *a))
		}, "FiatTokenV2: invalid signature"},
		{"receive type signed", func(a *x402.Authorization) []byte {
			return hexutil.MustDecode(signAuthorization(t, payer, d, "ReceiveWithAuthorization", *a))
		}, "FiatTokenV2: invalid signature"},
		{"zero signature", func(a *x402.Authorization) []byte { s := make([]byte, 65); s[64] = 27; return s }, "ECRecover: invalid signature"},
		{"over balance", func(a *x402.Authorization) []byte {
			a.Value = "10001"
			return sign(*a)
		}, "ERC20: transfer amount exceeds balance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthorization(t, payer, payee, 100)
			sig := tt.mutate(&a)
			_, err := c.TransferWithAuthorization(t.Context(), a, hexutil.Encode(sig))
			wantRevert(t, err, tt.reason)
			if used, err := c.AuthorizationState(t.Context(), a.From, a.Nonce); err != nil || used {
				t.Errorf("authorizationState = %v, %v; want false", used, err)
			}
			wantBalance(t, c, "payer", a.From, 10_000)
			wantBalance(t, c, "payee", payee, 0)
		})
	}
}

func TestCancelAuthorization(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	payer := fundedPayer(t, c, 5000)
	payee := addrOf(newKey(t))

	auth := newAuthorization(t, payer, payee, 100)
	cancelSig := signTyped(t, payer, typedData(chainDomain(c), "CancelAuthorization",
		[]apitypes.Type{{Name: "authorizer", Type: "address"}, {Name: "nonce", Type: "bytes32"}},
		apitypes.TypedDataMessage{"authorizer": auth.From, "nonce": auth.Nonce}))
	cancel := func(sig []byte) (*types.Receipt, error) {
		// Anyone may submit a cancellation: the facilitator does here.
		return c.transact(ctx, c.facilitatorKey, "cancelAuthorization", common.HexToAddress(auth.From),
			common.HexToHash(auth.Nonce), sig[64], [32]byte(sig[:32]), [32]byte(sig[32:64]))
	}

	// A cancellation signed by someone else is refused.
	otherSig := signTyped(t, newKey(t), typedData(chainDomain(c), "CancelAuthorization",
		[]apitypes.Type{{Name: "authorizer", Type: "address"}, {Name: "nonce", Type: "bytes32"}},
		apitypes.TypedDataMessage{"authorizer": auth.From, "nonce": auth.Nonce}))
	_, err := cancel(otherSig)
	wantRevert(t, err, "FiatTokenV2: invalid signature")

	rcpt, err := cancel(cancelSig)
	if err != nil {
		t.Fatal(err)
	}
	canceledEvent := c.token.abi.Events["AuthorizationCanceled"].ID
	if len(rcpt.Logs) != 1 || rcpt.Logs[0].Topics[0] != canceledEvent || rcpt.Logs[0].Topics[2] != common.HexToHash(auth.Nonce) {
		t.Errorf("cancel logs = %v, want one AuthorizationCanceled for the nonce", rcpt.Logs)
	}
	if used, err := c.AuthorizationState(ctx, auth.From, auth.Nonce); err != nil || !used {
		t.Errorf("authorizationState after cancel = %v, %v; want true", used, err)
	}
	sig := signAuthorization(t, payer, chainDomain(c), "TransferWithAuthorization", auth)
	_, err = c.TransferWithAuthorization(ctx, auth, sig)
	wantRevert(t, err, "FiatTokenV2: authorization is used or canceled")
	_, err = cancel(cancelSig)
	wantRevert(t, err, "FiatTokenV2: authorization is used or canceled")
	wantBalance(t, c, "payer", auth.From, 5000)
}

func TestReceiveWithAuthorization(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	payer := fundedPayer(t, c, 5000)
	// The payee must submit it itself; the facilitator key has the ETH to do so.
	payee := c.facilitatorKey
	auth := newAuthorization(t, payer, addrOf(payee), 700)
	sig := hexutil.MustDecode(signAuthorization(t, payer, chainDomain(c), "ReceiveWithAuthorization", auth))
	args := func() []any {
		a, err := parseAuthorization(auth)
		if err != nil {
			t.Fatal(err)
		}
		return []any{a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig[64], [32]byte(sig[:32]), [32]byte(sig[32:64])}
	}
	_, err := c.transact(ctx, c.deployerKey, "receiveWithAuthorization", args()...)
	wantRevert(t, err, "FiatTokenV2: caller must be the payee")
	if _, err := c.transact(ctx, payee, "receiveWithAuthorization", args()...); err != nil {
		t.Fatal(err)
	}
	wantBalance(t, c, "payer", auth.From, 4300)
	wantBalance(t, c, "payee", auth.To, 700)
	// A receive signature is not a transfer signature.
	_, err = c.TransferWithAuthorization(ctx, newAuthorization(t, payer, auth.To, 1), hexutil.Encode(sig))
	wantRevert(t, err, "FiatTokenV2: invalid signature")
}

func TestERC20(t *testing.T) {
	c := newChain(t, ChainOptions{})
	ctx := t.Context()
	owner, spender := c.deployerKey, c.facilitatorKey
	other := common.HexToAddress(addrOf(newKey(t)))

	// Only the owner mints.
	_, err := c.transact(ctx, spender, "mint", c.facilitator, big.NewInt(1))
	wantRevert(t, err, "Ownable: caller is not the owner")
	mustMint(t, c, c.deployer.Hex(), 1000)
	var supply *big.Int
	if err := c.call(ctx, &supply, "totalSupply"); err != nil || supply.Int64() != 1000 {
		t.Errorf("totalSupply = %v, %v; want 1000", supply, err)
	}

	if _, err := c.transact(ctx, owner, "transfer", other, big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	_, err = c.transact(ctx, owner, "transfer", other, big.NewInt(901))
	wantRevert(t, err, "ERC20: transfer amount exceeds balance")

	if _, err := c.transact(ctx, owner, "approve", c.facilitator, big.NewInt(50)); err != nil {
		t.Fatal(err)
	}
	var allowance *big.Int
	if err := c.call(ctx, &allowance, "allowance", c.deployer, c.facilitator); err != nil || allowance.Int64() != 50 {
		t.Errorf("allowance = %v, %v; want 50", allowance, err)
	}
	_, err = c.transact(ctx, spender, "transferFrom", c.deployer, other, big.NewInt(51))
	wantRevert(t, err, "ERC20: transfer amount exceeds allowance")
	if _, err := c.transact(ctx, spender, "transferFrom", c.deployer, other, big.NewInt(50)); err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, &allowance, "allowance", c.deployer, c.facilitator); err != nil || allowance.Sign() != 0 {
		t.Errorf("allowance after transferFrom = %v, %v; want 0", allowance, err)
	}
	wantBalance(t, c, "owner", c.deployer.Hex(), 850)
	wantBalance(t, c, "other", other.Hex(), 150)
}

func TestChainClockSkew(t *testing.T) {
	// With a skew bound of 0 s, block time never runs ahead of the wall clock: three
	// commits in a row take about two seconds.
	c := newChain(t, ChainOptions{MaxClockSkew: time.Nanosecond})
	start := time.Now()
	for range 3 {
		if err := c.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	bt, err := c.BlockTime(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ahead := bt.Unix() - time.Now().Unix(); ahead > 0 {
		t.Errorf("block time %v is %d s ahead of the wall clock, want 0", bt, ahead)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("3 commits took %v with no skew allowed; want at least 1 s", el)
	}

	// The default lets a burst of commits run ahead, up to 30 s.
	c2 := newChain(t, ChainOptions{})
	start = time.Now()
	for range 10 {
		if err := c2.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("10 commits took %v under the default skew bound, want no waiting", el)
	}
	bt, err = c2.BlockTime(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ahead := bt.Unix() - time.Now().Unix(); ahead < 5 || ahead > 30 {
		t.Errorf("block time is %d s ahead after a burst of 10 commits, want 5..30", ahead)
	}

	// A cancelled context stops a waiting commit.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c3 := newChain(t, ChainOptions{MaxClockSkew: time.Nanosecond})
	if err := c3.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("commit with a cancelled context: %v, want context.Canceled", err)
	}
}

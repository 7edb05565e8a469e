package x402test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// The tests sign with go-ethereum's apitypes encoder and crypto.Sign directly: an encoder
// independent of the facilitator's hand-written hashing, and of toll's wallet package.

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addrOf(k *ecdsa.PrivateKey) string { return crypto.PubkeyToAddress(k.PublicKey).Hex() }

func randomNonce(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "0x" + hex.EncodeToString(b[:])
}

// domain is an EIP-712 domain for signing.
type domain struct {
	name, version string
	chainID       *big.Int
	token         string
}

func chainDomain(c *Chain) domain {
	return domain{name: TokenName, version: TokenVersion, chainID: c.ChainID(), token: c.TokenAddress()}
}

func typedData(d domain, primary string, fields []apitypes.Type, msg apitypes.TypedDataMessage) apitypes.TypedData {
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"},
				{Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			primary: fields,
		},
		PrimaryType: primary,
		Domain: apitypes.TypedDataDomain{
			Name:              d.name,
			Version:           d.version,
			ChainId:           (*math.HexOrDecimal256)(d.chainID),
			VerifyingContract: d.token,
		},
		Message: msg,
	}
}

var authFields = []apitypes.Type{
	{Name: "from", Type: "address"},
	{Name: "to", Type: "address"},
	{Name: "value", Type: "uint256"},
	{Name: "validAfter", Type: "uint256"},
	{Name: "validBefore", Type: "uint256"},
	{Name: "nonce", Type: "bytes32"},
}

// signTyped hashes td with apitypes and signs it, returning r‖s‖v with v in {27, 28}.
func signTyped(t testing.TB, key *ecdsa.PrivateKey, td apitypes.TypedData) []byte {
	t.Helper()
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.Sign(digest, key)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return sig
}

// signAuthorization signs an EIP-3009 TransferWithAuthorization (or, with primary
// "ReceiveWithAuthorization", its receive twin).
func signAuthorization(t testing.TB, key *ecdsa.PrivateKey, d domain, primary string, a x402.Authorization) string {
	t.Helper()
	msg := apitypes.TypedDataMessage{
		"from":        a.From,
		"to":          a.To,
		"value":       a.Value,
		"validAfter":  a.ValidAfter,
		"validBefore": a.ValidBefore,
		"nonce":       a.Nonce,
	}
	return hexutil.Encode(signTyped(t, key, typedData(d, primary, authFields, msg)))
}

// newAuthorization returns a TransferWithAuthorization valid from ten minutes ago for
// five minutes, with a fresh nonce.
func newAuthorization(t testing.TB, from *ecdsa.PrivateKey, to string, value int64) x402.Authorization {
	t.Helper()
	now := time.Now().Unix()
	return x402.Authorization{
		From:        addrOf(from),
		To:          to,
		Value:       big.NewInt(value).String(),
		ValidAfter:  big.NewInt(now - 600).String(),
		ValidBefore: big.NewInt(now + 300).String(),
		Nonce:       randomNonce(t),
	}
}

func newChain(t testing.TB, opts ChainOptions) *Chain {
	t.Helper()
	c, err := NewChain(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fundedPayer is a fresh key holding atomic units of the token on c.
func fundedPayer(t testing.TB, c *Chain, atomic int64) *ecdsa.PrivateKey {
	t.Helper()
	k := newKey(t)
	mustMint(t, c, addrOf(k), atomic)
	return k
}

func mustMint(t testing.TB, c *Chain, to string, atomic int64) {
	t.Helper()
	if err := c.Mint(context.Background(), to, money.USDC(atomic)); err != nil {
		t.Fatal(err)
	}
}

// wantBalance checks that addr holds exactly want atomic units, in TokenDecimals.
func wantBalance(t testing.TB, c *Chain, who, addr string, want int64) {
	t.Helper()
	got, err := c.BalanceOf(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cmp(money.USDC(want)) != 0 || got.Decimals() != TokenDecimals {
		t.Errorf("balance of %s = %s (%d decimals), want %s (%d)", who, got, got.Decimals(), money.USDC(want), TokenDecimals)
	}
}

// highS returns sig with s replaced by n-s and v flipped: the same signature in its
// upper-half (malleable) form.
func highS(sig []byte) []byte {
	n := crypto.S256().Params().N
	s := new(big.Int).SetBytes(sig[32:64])
	out := append([]byte(nil), sig...)
	copy(out[32:64], common.LeftPadBytes(new(big.Int).Sub(n, s).Bytes(), 32))
	out[64] ^= 1 // 27 <-> 28
	return out
}

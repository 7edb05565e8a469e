package wallet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// TestTypeHashes pins the type hashes: EIP-3009 prints the first as
// TRANSFER_WITH_AUTHORIZATION_TYPEHASH (https://eips.ethereum.org/EIPS/eip-3009);
// the second is keccak256 of EIP-712's domain type with all four fields used.
func TestTypeHashes(t *testing.T) {
	if got, want := hex.EncodeToString(transferTypeHash[:]), "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"; got != want {
		t.Errorf("TransferWithAuthorization typehash = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(domainTypeHash[:]), "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"; got != want {
		t.Errorf("EIP712Domain typehash = %s, want %s", got, want)
	}
}

func TestDomainSeparator(t *testing.T) {
	tests := []struct {
		name string
		d    Domain
		want string
	}{
		{"Base Sepolia USDC", sepoliaDomain(t), baseSepoliaSep},
		{"Base USDC", Domain{Name: "USD Coin", Version: "2", ChainID: big.NewInt(8453), VerifyingContract: mustAddr(t, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")},
			"02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domainSeparator(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got[:]) != tt.want {
				t.Errorf("domainSeparator = %x, want %s", got, tt.want)
			}
		})
	}
}

// TestSpecVector checks the example payment payload of the x402 "exact" EVM
// scheme (https://github.com/x402-foundation/x402/blob/main/specs/schemes/exact/scheme_exact_evm.md,
// repeated in https://github.com/x402-foundation/x402/blob/main/specs/transports-v2/http.md): its
// signature over its authorization under Base Sepolia USDC's domain
// recovers to its from address.
func TestSpecVector(t *testing.T) {
	d := sepoliaDomain(t)
	a := specAuthorization(t, specFrom)
	wantHashes(t, d, a, specStructHash, specDigest)
	sig := mustHex(t, specSignature)
	got, err := Recover(d, a, sig)
	if err != nil {
		t.Fatal(err)
	}
	if got != a.From {
		t.Errorf("Recover = %s, want %s", got, a.From)
	}

	// The same signature under Base mainnet's domain name ("USD Coin")
	// recovers to someone else: a wrong extra.name is not caught by the
	// signer, only by the token.
	wrong := d
	wrong.Name = "USD Coin"
	other, err := Recover(wrong, a, sig)
	if err != nil {
		t.Fatal(err)
	}
	if other == a.From {
		t.Fatalf("under name %q the signature still recovers to %s", wrong.Name, other)
	}
	if h := other.Hex(); !strings.HasPrefix(h, "0xED07") || !strings.HasSuffix(h, "ad7e") {
		t.Errorf("under name %q Recover = %s, want 0xED07…ad7e", wrong.Name, h)
	}
}

// wantHashes checks a's EIP-712 struct hash, and its digest under d, against hex
// vectors.
func wantHashes(t *testing.T, d Domain, a Authorization, structHex, digestHex string) {
	t.Helper()
	sh, err := structHash(a)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sh[:]); got != structHex {
		t.Errorf("structHash = %s, want %s", got, structHex)
	}
	digest, err := Digest(d, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(digest[:]); got != digestHex {
		t.Errorf("Digest = %s, want %s", got, digestHex)
	}
}

// TestNonceVector has the Hardhat account #0 key sign the spec message with
// nonce keccak256("nonce-1"). The digest and signature were computed with
// go-ethereum (signer/core/apitypes, and crypto.Sign, which is RFC 6979
// deterministic); the digest is checked against apitypes here again.
func TestNonceVector(t *testing.T) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, a := sepoliaDomain(t), specAuthorization(t, hardhatAddr)
	a.Nonce = [32]byte(crypto.Keccak256([]byte("nonce-1")))
	const (
		wantDigest = "3bda822ecc8cda7cea24b4e139ec3ebcd990ed440e0cee631aef34f1c2d9496f"
		wantSig    = "aec0524d07e57d99824181e86838edc20717e93b33e07f42f2e88f5ebf26afaf4bf5d1bc9b55e97a5eeb54ca92c1743f622233d12009615f765a2d7a39342a341c"
	)
	digest, err := Digest(d, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(digest[:]); got != wantDigest {
		t.Errorf("Digest = %s, want %s", got, wantDigest)
	}
	if got, _, _ := apitypesDigest(t, d, a); hex.EncodeToString(got) != wantDigest {
		t.Errorf("apitypes digest = %x, want %s", got, wantDigest)
	}
	sig, err := w.Sign(t.Context(), d, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sig); got != wantSig {
		t.Errorf("Sign =\n %s, want\n %s", got, wantSig)
	}
}

// apitypesData is the message as go-ethereum's generic EIP-712
// implementation takes it.
func apitypesData(d Domain, a Authorization) apitypes.TypedData {
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"},
				{Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			"TransferWithAuthorization": {
				{Name: "from", Type: "address"},
				{Name: "to", Type: "address"},
				{Name: "value", Type: "uint256"},
				{Name: "validAfter", Type: "uint256"},
				{Name: "validBefore", Type: "uint256"},
				{Name: "nonce", Type: "bytes32"},
			},
		},
		PrimaryType: "TransferWithAuthorization",
		Domain: apitypes.TypedDataDomain{
			Name:              d.Name,
			Version:           d.Version,
			ChainId:           (*math.HexOrDecimal256)(d.ChainID),
			VerifyingContract: d.VerifyingContract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			"from":        a.From.Hex(),
			"to":          a.To.Hex(),
			"value":       a.Value,
			"validAfter":  a.ValidAfter,
			"validBefore": a.ValidBefore,
			"nonce":       a.Nonce,
		},
	}
}

// apitypesDigest computes the digest, domain separator and struct hash with
// go-ethereum's signer/core/apitypes.
func apitypesDigest(t testing.TB, d Domain, a Authorization) (digest, domSep, msgHash []byte) {
	t.Helper()
	td := apitypesData(d, a)
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		t.Fatalf("apitypes.TypedDataAndHash: %v", err)
	}
	domSep, err = td.HashStruct("EIP712Domain", td.Domain.Map())
	if err != nil {
		t.Fatal(err)
	}
	msgHash, err = td.HashStruct(td.PrimaryType, td.Message)
	if err != nil {
		t.Fatal(err)
	}
	return digest, domSep, msgHash
}

func randUint(r *mrand.Rand, maxBits int) *big.Int {
	bits := r.IntN(maxBits + 1)
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	v := new(big.Int).SetBytes(b)
	return v.Rsh(v, uint(256-bits))
}

func randAddress(r *mrand.Rand) Address {
	var a Address
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return a
}

func randName(r *mrand.Rand) string {
	names := []string{"USDC", "USD Coin", "USDT0", "MegaUSD", "Mezo USD", "Ünïcødé 代币", strings.Repeat("x", 300)}
	return names[r.IntN(len(names))] + fmt.Sprint(r.IntN(3))
}

func randAuthorization(r *mrand.Rand) (Domain, Authorization) {
	d := Domain{
		Name:              randName(r),
		Version:           fmt.Sprint(r.IntN(5)),
		ChainID:           new(big.Int).Add(randUint(r, 64), big.NewInt(1)),
		VerifyingContract: randAddress(r),
	}
	a := Authorization{
		From:        randAddress(r),
		To:          randAddress(r),
		Value:       randUint(r, 256),
		ValidAfter:  randUint(r, 40),
		ValidBefore: randUint(r, 256),
	}
	for i := range a.Nonce {
		a.Nonce[i] = byte(r.Uint32())
	}
	return d, a
}

// TestDigestMatchesAPITypes cross-checks the hand-rolled EIP-712 hash with
// go-ethereum's signer/core/apitypes on random domains and messages,
// including 256-bit values.
func TestDigestMatchesAPITypes(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	cases := 300
	if testing.Short() {
		cases = 30
	}
	for i := range cases {
		d, a := randAuthorization(r)
		if i == 0 {
			a.Value = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
			a.ValidAfter = new(big.Int)
		}
		wantDigest, wantSep, wantHash := apitypesDigest(t, d, a)
		digest, err := Digest(d, a)
		if err != nil {
			t.Fatalf("case %d: Digest: %v", i, err)
		}
		sep, _ := domainSeparator(d)
		sh, _ := structHash(a)
		if hex.EncodeToString(digest[:]) != hex.EncodeToString(wantDigest) ||
			hex.EncodeToString(sep[:]) != hex.EncodeToString(wantSep) ||
			hex.EncodeToString(sh[:]) != hex.EncodeToString(wantHash) {
			t.Fatalf("case %d (%+v, %+v):\n digest %x want %x\n domain %x want %x\n struct %x want %x",
				i, d, a, digest, wantDigest, sep, wantSep, sh, wantHash)
		}
	}
	// The spec vector through apitypes too, so the cross-check itself is anchored.
	got, _, _ := apitypesDigest(t, sepoliaDomain(t), specAuthorization(t, specFrom))
	if hex.EncodeToString(got) != specDigest {
		t.Errorf("apitypes spec digest = %x, want %s", got, specDigest)
	}
}

func TestDigestRejects(t *testing.T) {
	tooBig := new(big.Int).Lsh(big.NewInt(1), 256)
	tests := []struct {
		name   string
		mutate func(*Domain, *Authorization)
		want   string
	}{
		{"nil value", func(d *Domain, a *Authorization) { a.Value = nil }, "value is missing"},
		{"negative value", func(d *Domain, a *Authorization) { a.Value = big.NewInt(-1) }, "value is negative"},
		{"value 2^256", func(d *Domain, a *Authorization) { a.Value = tooBig }, "value does not fit in 256 bits"},
		{"nil validAfter", func(d *Domain, a *Authorization) { a.ValidAfter = nil }, "validAfter is missing"},
		{"nil validBefore", func(d *Domain, a *Authorization) { a.ValidBefore = nil }, "validBefore is missing"},
		{"nil chain id", func(d *Domain, a *Authorization) { d.ChainID = nil }, "chain id is missing"},
		{"negative chain id", func(d *Domain, a *Authorization) { d.ChainID = big.NewInt(-84532) }, "chain id is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, a := sepoliaDomain(t), specAuthorization(t, specFrom)
			tt.mutate(&d, &a)
			got, err := Digest(d, a)
			if !errors.Is(err, ErrInvalidAuthorization) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Digest error = %v, want ErrInvalidAuthorization containing %q", err, tt.want)
			}
			if got != ([32]byte{}) {
				t.Errorf("Digest returned %x with an error", got)
			}
			assertErrNoSecret(t, err)
		})
	}
}

func TestRecoverRejects(t *testing.T) {
	d, a := sepoliaDomain(t), specAuthorization(t, specFrom)
	good := mustHex(t, specSignature)
	mod := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }

	// The malleable twin (r, n-s, v flipped) is a valid ECDSA signature by
	// the same key that FiatToken refuses.
	n, _ := new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)
	highS := mod(func(b []byte) []byte {
		s := new(big.Int).SetBytes(b[32:64])
		new(big.Int).Sub(n, s).FillBytes(b[32:64])
		b[64] = 55 - b[64] // 27 <-> 28
		return b
	})

	tests := []struct {
		name string
		sig  []byte
		want string
	}{
		{"empty", nil, "0 bytes"},
		{"64 bytes", good[:64], "64 bytes"},
		{"66 bytes", append(append([]byte(nil), good...), 0), "66 bytes"},
		{"v = 1", mod(func(b []byte) []byte { b[64] = 1; return b }), "v is 1"},
		{"v = 29", mod(func(b []byte) []byte { b[64] = 29; return b }), "v is 29"},
		{"zero r", mod(func(b []byte) []byte { clear(b[:32]); return b }), "out of range"},
		{"high s", highS, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Recover(d, a, tt.sig)
			if !errors.Is(err, ErrInvalidSignature) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Recover error = %v, want ErrInvalidSignature containing %q", err, tt.want)
			}
			if !got.IsZero() {
				t.Errorf("Recover returned %s with an error", got)
			}
			assertErrNoSecret(t, err)
		})
	}

	// A well-formed signature over a different message recovers to someone
	// else, never to an error-free From.
	other := a
	other.Value = big.NewInt(10001)
	got, err := Recover(d, other, good)
	if err == nil && got == a.From {
		t.Errorf("signature over value 10000 recovers to From for value 10001")
	}
	// And the high-s twin really is the same key's signature: with the
	// check off, go-ethereum recovers From.
	digest, _ := Digest(d, a)
	raw := append([]byte(nil), highS...)
	raw[64] -= 27
	pub, err := crypto.SigToPub(digest[:], raw)
	if err != nil || Address(crypto.PubkeyToAddress(*pub)) != a.From {
		t.Errorf("high-s twin does not recover to From (%v); the test's premise is wrong", err)
	}
}

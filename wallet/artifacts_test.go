package wallet

import (
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// artifactTypedData is the offer-receipt extension's typed data for go-ethereum's
// generic EIP-712 hasher, built from the specification's type lists field by field.
func artifactTypedData(name, primary string, fields []apitypes.Type, msg apitypes.TypedDataMessage) apitypes.TypedData {
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {{Name: "name", Type: "string"}, {Name: "version", Type: "string"}, {Name: "chainId", Type: "uint256"}},
			primary:        fields,
		},
		PrimaryType: primary,
		Domain:      apitypes.TypedDataDomain{Name: name, Version: "1", ChainId: math.NewHexOrDecimal256(1)},
		Message:     msg,
	}
}

func offerTypedData(o Offer) apitypes.TypedData {
	return artifactTypedData("x402 offer", "Offer", []apitypes.Type{
		{Name: "version", Type: "uint256"}, {Name: "resourceUrl", Type: "string"}, {Name: "scheme", Type: "string"},
		{Name: "network", Type: "string"}, {Name: "asset", Type: "string"}, {Name: "payTo", Type: "string"},
		{Name: "amount", Type: "string"}, {Name: "validUntil", Type: "uint256"},
	}, apitypes.TypedDataMessage{
		"version": new(big.Int).SetUint64(o.Version), "resourceUrl": o.ResourceURL, "scheme": o.Scheme,
		"network": o.Network, "asset": o.Asset, "payTo": o.PayTo, "amount": o.Amount,
		"validUntil": new(big.Int).SetUint64(o.ValidUntil),
	})
}

func receiptTypedData(r Receipt) apitypes.TypedData {
	return artifactTypedData("x402 receipt", "Receipt", []apitypes.Type{
		{Name: "version", Type: "uint256"}, {Name: "network", Type: "string"}, {Name: "resourceUrl", Type: "string"},
		{Name: "payer", Type: "string"}, {Name: "issuedAt", Type: "uint256"}, {Name: "transaction", Type: "string"},
	}, apitypes.TypedDataMessage{
		"version": new(big.Int).SetUint64(r.Version), "network": r.Network, "resourceUrl": r.ResourceURL,
		"payer": r.Payer, "issuedAt": new(big.Int).SetUint64(r.IssuedAt), "transaction": r.Transaction,
	})
}

func randOffer(r *mrand.Rand) Offer {
	return Offer{Version: 1, ResourceURL: fmt.Sprintf("https://api.example.com/r/%d", r.IntN(1000)), Scheme: "exact",
		Network: fmt.Sprintf("eip155:%d", r.IntN(100000)), Asset: randAddress(r).Hex(), PayTo: randAddress(r).Hex(),
		Amount: fmt.Sprint(r.Uint64()), ValidUntil: r.Uint64() >> uint(r.IntN(64))}
}

func randReceipt(r *mrand.Rand) Receipt {
	rc := Receipt{Version: 1, Network: fmt.Sprintf("eip155:%d", r.IntN(100000)), ResourceURL: randName(r),
		Payer: randAddress(r).Hex(), IssuedAt: r.Uint64()}
	if r.IntN(2) == 0 {
		rc.Transaction = fmt.Sprintf("0x%064x", r.Uint64())
	}
	return rc
}

// TestArtifactDigestsMatchAPITypes checks the hand-written offer and receipt digests
// against go-ethereum's generic EIP-712 hasher fed the specification's types.
func TestArtifactDigestsMatchAPITypes(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for i := range 200 {
		o, rc := randOffer(r), randReceipt(r)
		wantO, _, err := apitypes.TypedDataAndHash(offerTypedData(o))
		if err != nil {
			t.Fatal(err)
		}
		wantR, _, err := apitypes.TypedDataAndHash(receiptTypedData(rc))
		if err != nil {
			t.Fatal(err)
		}
		if got := OfferDigest(o); string(got[:]) != string(wantO) {
			t.Fatalf("case %d: offer digest %x, apitypes %x (%+v)", i, got, wantO, o)
		}
		if got := ReceiptDigest(rc); string(got[:]) != string(wantR) {
			t.Fatalf("case %d: receipt digest %x, apitypes %x (%+v)", i, got, wantR, rc)
		}
	}
}

func TestRecoverArtifacts(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := Address(crypto.PubkeyToAddress(key.PublicKey))
	sign := func(d [32]byte) []byte {
		sig, err := crypto.Sign(d[:], key)
		if err != nil {
			t.Fatal(err)
		}
		sig[64] += 27
		return sig
	}
	o := Offer{Version: 1, ResourceURL: "https://api.example.com/premium-data", Scheme: "exact", Network: "eip155:8453",
		Asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", PayTo: signer.Hex(), Amount: "10000", ValidUntil: 1703123516}
	sig := sign(OfferDigest(o))
	if got, err := RecoverOffer(o, sig); err != nil || got != signer {
		t.Fatalf("RecoverOffer = %v, %v; want %v", got, err, signer)
	}
	// v as 0/1, as some signers write it, is the same signature.
	low := append([]byte(nil), sig...)
	low[64] -= 27
	if got, err := RecoverOffer(o, low); err != nil || got != signer {
		t.Errorf("RecoverOffer with v 0/1 = %v, %v; want %v", got, err, signer)
	}
	// A changed field is signed by no one we know.
	more := o
	more.Amount = "20000"
	if got, err := RecoverOffer(more, sig); err == nil && got == signer {
		t.Error("an offer with a changed amount recovered the original signer")
	}

	rc := Receipt{Version: 1, Network: "eip155:8453", ResourceURL: o.ResourceURL, Payer: "0x857b06519E91e3A54538791bDbb0E22373e36b66", IssuedAt: 1703123456}
	rsig := sign(ReceiptDigest(rc))
	if got, err := RecoverReceipt(rc, rsig); err != nil || got != signer {
		t.Fatalf("RecoverReceipt = %v, %v; want %v", got, err, signer)
	}
	// An offer's signature is not a receipt's: the domains differ.
	if got, err := RecoverReceipt(rc, sig); err == nil && got == signer {
		t.Error("an offer signature verified as a receipt")
	}

	// High s (the malleable twin), a wrong length, an unknown v and version are refused.
	n := crypto.S256().Params().N
	high := append([]byte(nil), sig...)
	s := new(big.Int).SetBytes(high[32:64])
	new(big.Int).Sub(n, s).FillBytes(high[32:64])
	high[64] ^= 1
	v2 := o
	v2.Version = 2
	for name, fn := range map[string]func() (Address, error){
		"high s":      func() (Address, error) { return RecoverOffer(o, high) },
		"64 bytes":    func() (Address, error) { return RecoverOffer(o, sig[:64]) },
		"v 29":        func() (Address, error) { b := append([]byte(nil), sig...); b[64] = 29; return RecoverOffer(o, b) },
		"version 2":   func() (Address, error) { return RecoverOffer(v2, sig) },
		"receipt v 0": func() (Address, error) { r0 := rc; r0.Version = 0; return RecoverReceipt(r0, rsig) },
	} {
		if _, err := fn(); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: err = %v, want ErrInvalidSignature", name, err)
		}
	}
}

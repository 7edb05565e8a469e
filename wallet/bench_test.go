package wallet

import (
	"testing"

	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// Run: go test -run '^$' -bench . -benchmem ./wallet
// (and CGO_ENABLED=0 for the pure-Go secp256k1).

func BenchmarkDigest(b *testing.B) {
	d, a := sepoliaDomain(b), specAuthorization(b, hardhatAddr)
	for b.Loop() {
		if _, err := Digest(d, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigestAPITypes is the same digest through go-ethereum's generic
// signer/core/apitypes, for the comparison in eip712.go.
func BenchmarkDigestAPITypes(b *testing.B) {
	d, a := sepoliaDomain(b), specAuthorization(b, hardhatAddr)
	for b.Loop() {
		if _, _, err := apitypes.TypedDataAndHash(apitypesData(d, a)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		b.Fatal(err)
	}
	d, a := sepoliaDomain(b), specAuthorization(b, hardhatAddr)
	ctx := b.Context()
	for b.Loop() {
		if _, err := w.Sign(ctx, d, a); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecover(b *testing.B) {
	d, a := sepoliaDomain(b), specAuthorization(b, specFrom)
	sig := mustHex(b, specSignature)
	for b.Loop() {
		if _, err := Recover(d, a, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewAuthorization(b *testing.B) {
	w, err := FromHex(hardhatKey, Options{})
	if err != nil {
		b.Fatal(err)
	}
	to := mustAddr(b, specTo)
	value := specAuthorization(b, specFrom).Value
	for b.Loop() {
		if _, err := w.NewAuthorization(to, value, 60e9); err != nil {
			b.Fatal(err)
		}
	}
}

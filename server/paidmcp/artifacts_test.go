package paidmcp

import (
	"crypto/ecdsa"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollhq/toll/wallet"
)

// keySigner is a Signer.Sign with a fresh secp256k1 key, signing as go-ethereum does,
// apart from package wallet's code; it returns the key's address.
func keySigner(t *testing.T) (func([32]byte) ([]byte, error), string) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return func(digest [32]byte) ([]byte, error) { return signDigest(key, digest) }, crypto.PubkeyToAddress(key.PublicKey).Hex()
}

func signDigest(key *ecdsa.PrivateKey, digest [32]byte) ([]byte, error) {
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		return nil, err
	}
	sig[64] += 27
	return sig, nil
}

// TestSignedOffersAndReceipts: offers recover to the signer and match the requirement
// by their fields; the receipt recovers to the signer and names the payer, the network
// and the transaction; the hostile variants fail exactly the check they target.
func TestSignedOffersAndReceipts(t *testing.T) {
	w := newWorld(t)
	sign, signer := keySigner(t)
	now := time.Unix(1_900_000_000, 0)
	cases := []struct {
		name        string
		tamper      OfferTamper
		wantSigner  bool // the offer recovers to the signer
		wantMatches bool // the offer's fields match the requirement
	}{
		{"honest", OfferHonest, true, true},
		{"altered after signing", OfferAltered, false, false},
		{"signed for other terms", OfferOtherTerms, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := newServer(t, Options{World: w, Signer: &Signer{
				Sign: sign, Offers: true, Receipts: true, Tamper: tc.tamper, Now: func() time.Time { return now },
			}})
			c := newHTTPClient(t, url, eraModernExt)
			ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
			offers, err := ch.Offers()
			if err != nil || len(offers) != 1 {
				t.Fatalf("offers %v, %v; want one", offers, err)
			}
			p, err := offers[0].OfferPayload()
			if err != nil {
				t.Fatal(err)
			}
			got, err := wallet.RecoverOffer(wallet.Offer(p), mustHex(t, offers[0].Signature))
			if err != nil {
				t.Fatal(err)
			}
			if (got.Hex() == signer) != tc.wantSigner {
				t.Errorf("offer recovers to %s, signer %s: want match %v", got.Hex(), signer, tc.wantSigner)
			}
			if p.Matches(ch.Options[0]) != tc.wantMatches {
				t.Errorf("offer %+v matches %+v: %v, want %v", p, ch.Options[0], !tc.wantMatches, tc.wantMatches)
			}
			if p.ResourceURL != "mcp://tool/get_weather" || p.ValidUntil != uint64(now.Unix())+maxTimeoutSeconds {
				t.Errorf("offer payload %+v", p)
			}
			if tc.tamper != OfferHonest {
				return
			}
			payer := fundedPayer(t, w)
			paid := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
			sr := paid.settlement(t)
			if sr == nil || !sr.Success {
				t.Fatalf("paid call: %s", paid.raw)
			}
			rc, err := sr.Receipt()
			if err != nil || rc == nil {
				t.Fatalf("receipt %v, %v in %s", rc, err, paid.raw)
			}
			rp, err := rc.ReceiptPayload()
			if err != nil {
				t.Fatal(err)
			}
			got, err = wallet.RecoverReceipt(wallet.Receipt(rp), mustHex(t, rc.Signature))
			if err != nil || got.Hex() != signer {
				t.Errorf("receipt recovers to %v (%v), want %s", got, err, signer)
			}
			if !strings.EqualFold(rp.Payer, payer.Address().Hex()) || rp.Transaction != sr.Transaction || rp.Network != "eip155:84532" ||
				rp.IssuedAt != uint64(now.Unix()) || rp.ResourceURL != "mcp://tool/get_weather" {
				t.Errorf("receipt payload %+v, settlement %+v", rp, sr)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReceiptsOnly: without Offers the PaymentRequired carries no offer-receipt extension.
func TestReceiptsOnly(t *testing.T) {
	sign, _ := keySigner(t)
	_, url := newServer(t, Options{World: newWorld(t), Signer: &Signer{Sign: sign, Receipts: true}})
	c := newHTTPClient(t, url, eraLegacy)
	ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	if offers, err := ch.Offers(); err != nil || offers != nil {
		t.Errorf("offers %v, %v; want none", offers, err)
	}
}

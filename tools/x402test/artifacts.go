package x402test

import (
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/tollhq/toll/tools/x402"
)

// SignedArtifacts makes a PaidAPI sign its offers (one per requirement, in the 402's
// extensions["offer-receipt"].info.offers) and, after each settlement, a receipt (in the
// settlement response's extensions["offer-receipt"].info.receipt), as EIP-712 typed data
// with the extension's domains and types, signed by Key. The signatures are made with
// go-ethereum's apitypes encoder, independent of toll's wallet package that checks them.
type SignedArtifacts struct {
	// Key signs offers and receipts. Required. The extension's simplest authorization is
	// a signer that is the payTo address: set the world's PayTo to Key's address.
	Key *ecdsa.PrivateKey
	// NoReceipts leaves settlements without a receipt.
	NoReceipts bool
	// ValidFor sets each offer's validUntil that far from now. Zero: 0 (no expiry).
	ValidFor time.Duration
	// OfferAmount, when set, is the amount the offers sign instead of the requirement's:
	// an offer whose fields differ from the terms it stands for.
	OfferAmount string
	// CorruptSignatures makes every signature one that does not verify.
	CorruptSignatures bool
	// ReceiptPayer, when set, is the payer a receipt names instead of the real one.
	ReceiptPayer string
}

// offerExtension is the 402's offer-receipt extension: one signed offer per requirement.
func (s *SignedArtifacts) offerExtension(resource string, reqs []x402.OfferPayload) (json.RawMessage, error) {
	offers := make([]map[string]any, 0, len(reqs))
	for i, p := range reqs {
		p.Version = 1
		p.ResourceURL = resource
		if s.OfferAmount != "" {
			p.Amount = s.OfferAmount
		}
		if s.ValidFor > 0 {
			p.ValidUntil = uint64(time.Now().Add(s.ValidFor).Unix())
		}
		sig, err := s.sign("x402 offer", offerTypedData(p))
		if err != nil {
			return nil, err
		}
		offers = append(offers, map[string]any{"format": x402.FormatEIP712, "acceptIndex": i, "payload": p, "signature": sig})
	}
	return json.Marshal(map[string]any{"info": map[string]any{"offers": offers}})
}

// receiptExtension is a settlement's offer-receipt extension with a signed receipt.
func (s *SignedArtifacts) receiptExtension(network, resource, payer, tx string) (json.RawMessage, error) {
	if s.ReceiptPayer != "" {
		payer = s.ReceiptPayer
	}
	p := x402.ReceiptPayload{Version: 1, Network: network, ResourceURL: resource, Payer: payer, IssuedAt: uint64(time.Now().Unix()), Transaction: tx}
	sig, err := s.sign("x402 receipt", receiptTypedData(p))
	if err != nil {
		return nil, err
	}
	ext := map[string]any{x402.ExtensionOfferReceipt: map[string]any{"info": map[string]any{
		"receipt": map[string]any{"format": x402.FormatEIP712, "payload": p, "signature": sig},
	}}}
	return json.Marshal(ext)
}

// sign hashes td under the domain {name, version "1", chainId 1} and signs it: 65 bytes,
// v of 27 or 28, as hex.
func (s *SignedArtifacts) sign(domain string, td apitypes.TypedData) (string, error) {
	td.Domain = apitypes.TypedDataDomain{Name: domain, Version: "1", ChainId: math.NewHexOrDecimal256(1)}
	td.Types["EIP712Domain"] = []apitypes.Type{{Name: "name", Type: "string"}, {Name: "version", Type: "string"}, {Name: "chainId", Type: "uint256"}}
	digest, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", domain, err)
	}
	sig, err := crypto.Sign(digest, s.Key)
	if err != nil {
		return "", err
	}
	sig[64] += 27
	if s.CorruptSignatures {
		sig[64] = 29 // no recovery id: the signature recovers no address
	}
	return hexutil.Encode(sig), nil
}

func offerTypedData(p x402.OfferPayload) apitypes.TypedData {
	return apitypes.TypedData{
		PrimaryType: "Offer",
		Types: apitypes.Types{"Offer": {
			{Name: "version", Type: "uint256"}, {Name: "resourceUrl", Type: "string"}, {Name: "scheme", Type: "string"},
			{Name: "network", Type: "string"}, {Name: "asset", Type: "string"}, {Name: "payTo", Type: "string"},
			{Name: "amount", Type: "string"}, {Name: "validUntil", Type: "uint256"},
		}},
		Message: apitypes.TypedDataMessage{
			"version": uintString(p.Version), "resourceUrl": p.ResourceURL, "scheme": p.Scheme, "network": p.Network,
			"asset": p.Asset, "payTo": p.PayTo, "amount": p.Amount, "validUntil": uintString(p.ValidUntil),
		},
	}
}

func receiptTypedData(p x402.ReceiptPayload) apitypes.TypedData {
	return apitypes.TypedData{
		PrimaryType: "Receipt",
		Types: apitypes.Types{"Receipt": {
			{Name: "version", Type: "uint256"}, {Name: "network", Type: "string"}, {Name: "resourceUrl", Type: "string"},
			{Name: "payer", Type: "string"}, {Name: "issuedAt", Type: "uint256"}, {Name: "transaction", Type: "string"},
		}},
		Message: apitypes.TypedDataMessage{
			"version": uintString(p.Version), "network": p.Network, "resourceUrl": p.ResourceURL,
			"payer": p.Payer, "issuedAt": uintString(p.IssuedAt), "transaction": p.Transaction,
		},
	}
}

func uintString(v uint64) string { return new(big.Int).SetUint64(v).String() }

package wallet

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/crypto"
)

// Signed offers and receipts of x402's offer-receipt extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/extension-offer-and-receipt.md):
// a resource server signs the terms it offers, and a receipt after it is paid, as
// EIP-712 typed data under a domain of name and version only (chainId 1, no
// verifying contract). toll never signs these; it recovers who did.

// The canonical types of the extension, version 1 (domain version "1").
const (
	artifactDomainType = "EIP712Domain(string name,string version,uint256 chainId)"
	offerType          = "Offer(uint256 version,string resourceUrl,string scheme,string network,string asset,string payTo,string amount,uint256 validUntil)"
	receiptType        = "Receipt(uint256 version,string network,string resourceUrl,string payer,uint256 issuedAt,string transaction)"

	offerDomainName   = "x402 offer"
	receiptDomainName = "x402 receipt"
)

var (
	artifactDomainTypeHash = [32]byte(crypto.Keccak256([]byte(artifactDomainType)))
	offerTypeHash          = [32]byte(crypto.Keccak256([]byte(offerType)))
	receiptTypeHash        = [32]byte(crypto.Keccak256([]byte(receiptType)))
)

// Offer is the payload of a signed offer, as transmitted: the fields are hashed
// exactly as they are, never rebuilt from the payment requirement it is matched to.
// ValidUntil 0 means none.
type Offer struct {
	Version     uint64 `json:"version"`
	ResourceURL string `json:"resourceUrl"`
	Scheme      string `json:"scheme"`
	Network     string `json:"network"`
	Asset       string `json:"asset"`
	PayTo       string `json:"payTo"`
	Amount      string `json:"amount"`
	ValidUntil  uint64 `json:"validUntil,omitempty"`
}

// Receipt is the payload of a signed receipt. Transaction "" means none.
type Receipt struct {
	Version     uint64 `json:"version"`
	Network     string `json:"network"`
	ResourceURL string `json:"resourceUrl"`
	Payer       string `json:"payer"`
	IssuedAt    uint64 `json:"issuedAt"`
	Transaction string `json:"transaction,omitempty"`
}

// artifactDomain is the domain separator of an offer or receipt domain name.
func artifactDomain(name string) [32]byte {
	var buf [4 * 32]byte
	copy(buf[0:], artifactDomainTypeHash[:])
	copy(buf[32:], crypto.Keccak256([]byte(name)))
	copy(buf[64:], crypto.Keccak256([]byte("1")))
	buf[127] = 1 // chainId 1
	return crypto.Keccak256Hash(buf[:])
}

// hashWords is keccak256 of the concatenated 32-byte words: a type hash, then each
// field encoded (strings as their keccak256, numbers as uint256).
func hashWords(typeHash [32]byte, fields ...any) [32]byte {
	buf := make([]byte, 0, 32*(len(fields)+1))
	buf = append(buf, typeHash[:]...)
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			buf = append(buf, crypto.Keccak256([]byte(v))...)
		case uint64:
			buf = append(buf, new(big.Int).SetUint64(v).FillBytes(make([]byte, 32))...)
		}
	}
	return crypto.Keccak256Hash(buf)
}

// typedDigest is keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash).
func typedDigest(domain, message [32]byte) [32]byte {
	var buf [2 + 32 + 32]byte
	buf[0], buf[1] = 0x19, 0x01
	copy(buf[2:], domain[:])
	copy(buf[34:], message[:])
	return crypto.Keccak256Hash(buf[:])
}

// OfferDigest is the EIP-712 digest a signed offer's signature covers.
func OfferDigest(o Offer) [32]byte {
	return typedDigest(artifactDomain(offerDomainName), hashWords(offerTypeHash,
		o.Version, o.ResourceURL, o.Scheme, o.Network, o.Asset, o.PayTo, o.Amount, o.ValidUntil))
}

// ReceiptDigest is the EIP-712 digest a signed receipt's signature covers.
func ReceiptDigest(r Receipt) [32]byte {
	return typedDigest(artifactDomain(receiptDomainName), hashWords(receiptTypeHash,
		r.Version, r.Network, r.ResourceURL, r.Payer, r.IssuedAt, r.Transaction))
}

// RecoverOffer returns the address that signed o. The signature is r ‖ s ‖ v, 65 bytes,
// v 27 or 28 (or 0 or 1), low s. Who signed is not whether they may: the caller
// compares the signer with the address it trusts for the resource (its payTo).
func RecoverOffer(o Offer, sig []byte) (Address, error) {
	if o.Version != 1 {
		return Address{}, fmt.Errorf("recover offer: %w: payload version %d, only 1 is defined", ErrInvalidSignature, o.Version)
	}
	return recoverDigest(OfferDigest(o), sig)
}

// RecoverReceipt returns the address that signed r, as RecoverOffer does for an offer.
func RecoverReceipt(r Receipt, sig []byte) (Address, error) {
	if r.Version != 1 {
		return Address{}, fmt.Errorf("recover receipt: %w: payload version %d, only 1 is defined", ErrInvalidSignature, r.Version)
	}
	return recoverDigest(ReceiptDigest(r), sig)
}

// recoverDigest recovers the signer of a 65-byte r ‖ s ‖ v signature over digest,
// refusing malleable (high s) signatures.
func recoverDigest(digest [32]byte, sig []byte) (Address, error) {
	if len(sig) != 65 {
		return Address{}, fmt.Errorf("recover: %w: %d bytes, want 65 (r ‖ s ‖ v)", ErrInvalidSignature, len(sig))
	}
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if v > 1 || !crypto.ValidateSignatureValues(v, r, s, true) {
		return Address{}, fmt.Errorf("recover: %w: v, r or s out of range (v not 27/28, zero, above the curve order, or high s)", ErrInvalidSignature)
	}
	var raw [65]byte
	copy(raw[:], sig)
	raw[64] = v
	pub, err := crypto.SigToPub(digest[:], raw[:])
	if err != nil {
		return Address{}, fmt.Errorf("recover: %w: %v", ErrInvalidSignature, err)
	}
	return Address(crypto.PubkeyToAddress(*pub)), nil
}

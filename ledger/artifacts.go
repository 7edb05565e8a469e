package ledger

import (
	"encoding/json"
	"fmt"
)

// Artifacts is the JSON form of the artifacts an outcome records (Outcome.Artifacts,
// Event.Artifacts, Spend.Artifacts): what the server signed about the payment under
// x402's offer-receipt extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/extension-offer-and-receipt.md),
// as received, and what toll found when it checked it.
type Artifacts struct {
	Offer   *Artifact `json:"offer,omitempty"`   // the signed offer of the terms paid
	Receipt *Artifact `json:"receipt,omitempty"` // the signed receipt of the settlement
}

// Artifact is one signed offer or receipt and what toll found about it.
type Artifact struct {
	// Format is "eip712" or "jws".
	Format string `json:"format,omitempty"`
	// Raw is the artifact's JSON as the server sent it.
	Raw json.RawMessage `json:"artifact,omitempty"`
	// Verified says the signature recovers to Signer and the signed fields are those of
	// the payment. A JWS artifact is stored unverified.
	Verified bool `json:"verified"`
	// Signer is the address the EIP-712 signature recovers to; "" when it does not.
	Signer string `json:"signer,omitempty"`
	// SignerIsPayTo says Signer is the payment's recipient (the extension's simplest
	// authorization of a signer).
	SignerIsPayTo bool `json:"signer_is_pay_to"`
	// Problem says why the artifact is not verified; "" when it is.
	Problem string `json:"problem,omitempty"`
}

// JSON is a's form for Outcome.Artifacts: "" when a holds nothing.
func (a Artifacts) JSON() string {
	if a.Offer == nil && a.Receipt == nil {
		return ""
	}
	b, err := json.Marshal(a)
	if err != nil {
		return ""
	}
	return string(b)
}

// ParseArtifacts reads the artifacts of an event or spend; "" is none.
func ParseArtifacts(s string) (Artifacts, error) {
	var a Artifacts
	if s == "" {
		return a, nil
	}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return Artifacts{}, fmt.Errorf("artifacts: %w", err)
	}
	return a, nil
}

// checkArtifacts checks the artifacts of outcome o: a JSON object or "", and none on a
// void (a reconciliation has no server answer).
func checkArtifacts(o *Outcome) error {
	if o.Artifacts == "" {
		return nil
	}
	if o.Kind == KindVoided {
		return invalid("a void records no artifacts")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(o.Artifacts), &obj); err != nil {
		return invalid("artifacts are not a JSON object: %v", err)
	}
	return nil
}

// csvArtifacts are the artifact columns of a CSV row: the offer's signer, the receipt's
// signer and whether the receipt verified ("yes", "no"; "" without a receipt).
func csvArtifacts(s string) (offerSigner, receiptSigner, receiptVerified string) {
	a, err := ParseArtifacts(s)
	if err != nil {
		return "", "", ""
	}
	if a.Offer != nil && a.Offer.Verified {
		offerSigner = a.Offer.Signer
	}
	if a.Receipt != nil {
		receiptSigner, receiptVerified = a.Receipt.Signer, "no"
		if a.Receipt.Verified {
			receiptVerified = "yes"
		}
	}
	return offerSigner, receiptSigner, receiptVerified
}

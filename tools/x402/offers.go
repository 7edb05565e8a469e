package x402

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ExtensionOfferReceipt is x402's offer-receipt extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/extension-offer-and-receipt.md):
// a 402 may carry the server's signed offers at extensions["offer-receipt"].info.offers,
// one per requirement it signs, and a settlement its signed receipt at
// extensions["offer-receipt"].info.receipt. This package reads them; package wallet
// recovers their signers.
const ExtensionOfferReceipt = "offer-receipt"

// Artifact formats.
const (
	FormatEIP712 = "eip712"
	FormatJWS    = "jws"
)

// maxArtifactLen bounds one signed artifact as toll keeps it.
const maxArtifactLen = 16 << 10

// SignedArtifact is a signed offer or receipt as transmitted. Raw is its JSON as received,
// which is what toll records.
type SignedArtifact struct {
	Format      string          `json:"format"`
	Payload     json.RawMessage `json:"payload,omitempty"` // EIP-712 only
	Signature   string          `json:"signature"`
	AcceptIndex *int            `json:"acceptIndex,omitempty"` // a hint, never trusted
	Raw         json.RawMessage `json:"-"`
}

// OfferPayload is the signed content of an offer, version 1.
type OfferPayload struct {
	Version     uint64 `json:"version"`
	ResourceURL string `json:"resourceUrl"`
	Scheme      string `json:"scheme"`
	Network     string `json:"network"`
	Asset       string `json:"asset"`
	PayTo       string `json:"payTo"`
	Amount      string `json:"amount"`
	ValidUntil  uint64 `json:"validUntil,omitempty"`
}

// ReceiptPayload is the signed content of a receipt, version 1.
type ReceiptPayload struct {
	Version     uint64 `json:"version"`
	Network     string `json:"network"`
	ResourceURL string `json:"resourceUrl"`
	Payer       string `json:"payer"`
	IssuedAt    uint64 `json:"issuedAt"`
	Transaction string `json:"transaction,omitempty"`
}

// Offers returns the signed offers of c's 402, at most MaxAccepts, each within a size
// bound. A 402 without the extension has none (nil, nil); an extension that is not the
// documented shape is an error, which a client treats as a hostile term.
func (c *Challenge) Offers() ([]SignedArtifact, error) {
	var info struct {
		Offers []json.RawMessage `json:"offers"`
	}
	found, err := c.extensionInfo(ExtensionOfferReceipt, &info)
	if err != nil || !found {
		return nil, err
	}
	if len(info.Offers) > MaxAccepts {
		return nil, fmt.Errorf("offer-receipt: %d offers, over the limit of %d", len(info.Offers), MaxAccepts)
	}
	out := make([]SignedArtifact, 0, len(info.Offers))
	for i, raw := range info.Offers {
		a, err := parseArtifact(raw)
		if err != nil {
			return nil, fmt.Errorf("offer-receipt: offer %d: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Receipt returns the signed receipt of a settlement, or nil when it has none.
func (s *SettlementResponse) Receipt() (*SignedArtifact, error) {
	if len(s.Extensions) == 0 {
		return nil, nil
	}
	var exts map[string]json.RawMessage
	if err := json.Unmarshal(s.Extensions, &exts); err != nil {
		return nil, fmt.Errorf("settlement extensions: %w", err)
	}
	raw, ok := exts[ExtensionOfferReceipt]
	if !ok {
		return nil, nil
	}
	var ext struct {
		Info struct {
			Receipt json.RawMessage `json:"receipt"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &ext); err != nil {
		return nil, fmt.Errorf("offer-receipt: %w", err)
	}
	if len(ext.Info.Receipt) == 0 || string(ext.Info.Receipt) == "null" {
		return nil, nil
	}
	a, err := parseArtifact(ext.Info.Receipt)
	if err != nil {
		return nil, fmt.Errorf("offer-receipt: receipt: %w", err)
	}
	return &a, nil
}

// extensionInfo decodes extensions[name].info of c's 402 into info; found is false when
// the 402 has no such extension.
func (c *Challenge) extensionInfo(name string, info any) (found bool, err error) {
	var exts json.RawMessage
	switch {
	case c.v2 != nil:
		exts = c.v2.Extensions
	case c.v1 != nil:
		exts = c.v1.Extensions
	}
	if len(exts) == 0 {
		return false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(exts, &m); err != nil {
		return false, fmt.Errorf("extensions: %w", err)
	}
	raw, ok := m[name]
	if !ok {
		return false, nil
	}
	var ext struct {
		Info json.RawMessage `json:"info"`
	}
	if err := json.Unmarshal(raw, &ext); err != nil {
		return true, fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(ext.Info, info); err != nil {
		return true, fmt.Errorf("%s: info: %w", name, err)
	}
	return true, nil
}

func parseArtifact(raw json.RawMessage) (SignedArtifact, error) {
	if len(raw) > maxArtifactLen {
		return SignedArtifact{}, fmt.Errorf("%d bytes, over the %d byte limit", len(raw), maxArtifactLen)
	}
	var a SignedArtifact
	if err := json.Unmarshal(raw, &a); err != nil {
		return SignedArtifact{}, err
	}
	switch a.Format {
	case FormatEIP712:
		if len(a.Payload) == 0 || a.Signature == "" {
			return SignedArtifact{}, fmt.Errorf("an eip712 artifact needs a payload and a signature")
		}
	case FormatJWS:
		if a.Signature == "" {
			return SignedArtifact{}, fmt.Errorf("a jws artifact needs its compact serialization in signature")
		}
	default:
		return SignedArtifact{}, fmt.Errorf("format %q, want eip712 or jws", clipText(a.Format))
	}
	a.Raw = append(json.RawMessage(nil), raw...)
	return a, nil
}

// OfferPayload decodes an EIP-712 offer's payload strictly: unknown fields are refused,
// as the extension says to treat them.
func (a SignedArtifact) OfferPayload() (OfferPayload, error) {
	var p OfferPayload
	return p, strictDecode(a.Payload, &p)
}

// ReceiptPayload decodes an EIP-712 receipt's payload strictly.
func (a SignedArtifact) ReceiptPayload() (ReceiptPayload, error) {
	var p ReceiptPayload
	return p, strictDecode(a.Payload, &p)
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Matches reports whether offer p is for option o: the same scheme, network (CAIP-2 or
// a version 1 name), asset and payTo (hex, any case) and the same amount in atomic
// units. An offer is matched by these fields, never by its acceptIndex.
func (p OfferPayload) Matches(o Option) bool {
	return o.Problem == "" && p.Scheme == o.Scheme && SameNetwork(p.Network, o.Network) &&
		strings.EqualFold(p.Asset, o.Asset) && strings.EqualFold(p.PayTo, o.PayTo) &&
		p.Amount == o.Amount.AtomicString()
}

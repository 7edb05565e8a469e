package x402

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ExtensionPaymentIdentifier is x402's payment-identifier extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/payment_identifier.md):
// a 402 that advertises it under extensions lets the client send an idempotency key with
// its payment (extensions["payment-identifier"].info.id). The server answers the same id
// with the same payload with the response it kept, a different payload with 409.
const ExtensionPaymentIdentifier = "payment-identifier"

// PaymentIdentifier reports whether c's 402 advertises the payment-identifier extension
// and whether it requires an id (info.required). Version 1 has no extensions.
func (c *Challenge) PaymentIdentifier() (offered, required bool) {
	if c.v2 == nil || len(c.v2.Extensions) == 0 {
		return false, false
	}
	var exts map[string]json.RawMessage
	if json.Unmarshal(c.v2.Extensions, &exts) != nil {
		return false, false
	}
	raw, ok := exts[ExtensionPaymentIdentifier]
	if !ok {
		return false, false
	}
	var ext struct {
		Info struct {
			Required bool `json:"required"`
		} `json:"info"`
	}
	_ = json.Unmarshal(raw, &ext) // a malformed entry is offered, not required
	return true, ext.Info.Required
}

// NewPaymentID returns a fresh idempotency key: "pay_" and 32 hex digits from crypto/rand.
func NewPaymentID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("payment id: %w", err)
	}
	return "pay_" + hex.EncodeToString(b[:]), nil
}

// ValidPaymentID reports whether id is a payment identifier the extension allows:
// 16 to 128 characters, each a letter, a digit, '-' or '_'.
func ValidPaymentID(id string) bool {
	if len(id) < 16 || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// PaymentHeaderWithID is PaymentHeader with the idempotency key id in the echoed
// payment-identifier extension. id must be valid (ValidPaymentID) and the 402 must
// advertise the extension; version 1 has none.
func (c *Challenge) PaymentHeaderWithID(i int, p ExactEVMPayload, id string) (name, value string, err error) {
	if err := c.checkID(i, id); err != nil {
		return "", "", err
	}
	value, err = EncodeHeader(c.payloadV2(i, p, id))
	return HeaderPaymentSignature, value, err
}

// PaymentMetaWithID is PaymentMeta with the idempotency key id, as PaymentHeaderWithID.
func (c *Challenge) PaymentMetaWithID(i int, p ExactEVMPayload, id string) (key string, value any, err error) {
	if err := c.checkID(i, id); err != nil {
		return "", nil, err
	}
	return MetaPayment, c.payloadV2(i, p, id), nil
}

func (c *Challenge) checkID(i int, id string) error {
	if i < 0 || i >= len(c.Options) {
		return fmt.Errorf("payment: no requirement %d", i)
	}
	if !ValidPaymentID(id) {
		return fmt.Errorf("payment: %q is not a payment identifier (16-128 letters, digits, - and _)", id)
	}
	if offered, _ := c.PaymentIdentifier(); !offered {
		return fmt.Errorf("payment: the 402 does not advertise the %s extension", ExtensionPaymentIdentifier)
	}
	return nil
}

// payloadV2 is the version 2 PaymentPayload of option i: the requirement echoed exactly
// as received, the resource, and the 402's extensions, with id added to the
// payment-identifier extension's info when id is not empty.
func (c *Challenge) payloadV2(i int, p ExactEVMPayload, id string) PaymentPayloadV2 {
	pp := PaymentPayloadV2{
		X402Version: 2,
		Resource:    c.v2.Resource,
		Accepted:    c.v2.Accepts[i],
		Payload:     p,
		Extensions:  c.v2.Extensions,
	}
	if id != "" {
		pp.Extensions = withPaymentID(c.v2.Extensions, id)
	}
	return pp
}

// withPaymentID returns extensions with info.id set in its payment-identifier entry,
// every other entry and field kept as it was.
func withPaymentID(extensions json.RawMessage, id string) json.RawMessage {
	var exts map[string]json.RawMessage
	if json.Unmarshal(extensions, &exts) != nil {
		return extensions
	}
	var ext map[string]json.RawMessage
	if json.Unmarshal(exts[ExtensionPaymentIdentifier], &ext) != nil || ext == nil {
		ext = map[string]json.RawMessage{}
	}
	var info map[string]json.RawMessage
	if json.Unmarshal(ext["info"], &info) != nil || info == nil {
		info = map[string]json.RawMessage{}
	}
	info["id"], _ = json.Marshal(id)
	ext["info"], _ = json.Marshal(info)
	exts[ExtensionPaymentIdentifier], _ = json.Marshal(ext)
	out, err := json.Marshal(exts)
	if err != nil {
		return extensions
	}
	return out
}

// PaymentIdentifierRequired reports whether c's 402, of either version, says a payment
// must carry an identifier (extensions["payment-identifier"].info.required). A version
// 1 402 may say so in its body's extensions, but a version 1 payment has no extensions
// to carry the id: a client cannot comply with it.
func (c *Challenge) PaymentIdentifierRequired() bool {
	var info struct {
		Required bool `json:"required"`
	}
	found, err := c.extensionInfo(ExtensionPaymentIdentifier, &info)
	return found && err == nil && info.Required
}

// PaymentIDOf reads extensions["payment-identifier"].info.id of a PaymentPayload's
// extensions, as a server does: "" when there is none, an error when the extensions are
// not a JSON object or the id is not one the extension allows.
func PaymentIDOf(extensions json.RawMessage) (string, error) {
	if len(extensions) == 0 {
		return "", nil
	}
	var exts map[string]json.RawMessage
	if json.Unmarshal(extensions, &exts) != nil {
		return "", fmt.Errorf("extensions is not a JSON object")
	}
	raw, ok := exts[ExtensionPaymentIdentifier]
	if !ok {
		return "", nil
	}
	var ext struct {
		Info struct {
			ID *string `json:"id"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &ext); err != nil {
		return "", fmt.Errorf("extensions[%q]: %w", ExtensionPaymentIdentifier, err)
	}
	if ext.Info.ID == nil {
		return "", nil
	}
	if !ValidPaymentID(*ext.Info.ID) {
		return "", fmt.Errorf("payment identifier %q: want 16 to 128 letters, digits, - and _", *ext.Info.ID)
	}
	return *ext.Info.ID, nil
}

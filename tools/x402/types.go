package x402

import (
	"encoding/json"
)

// Header names. HTTP header names are case-insensitive; these are the canonical spellings.
const (
	HeaderPaymentRequired  = "PAYMENT-REQUIRED"   // v2: the 402's requirements (base64 JSON)
	HeaderPaymentSignature = "PAYMENT-SIGNATURE"  // v2: the client's payment (base64 JSON)
	HeaderPaymentResponse  = "PAYMENT-RESPONSE"   // v2: the settlement result (base64 JSON)
	HeaderXPayment         = "X-PAYMENT"          // v1: the client's payment (base64 JSON)
	HeaderXPaymentResponse = "X-PAYMENT-RESPONSE" // v1: the settlement result (base64 JSON)
)

// SchemeExact is the only scheme toll pays: a fixed amount, EIP-3009 on EVM chains.
const SchemeExact = "exact"

// RequirementV1 is one entry of a version 1 402 body's accepts list.
type RequirementV1 struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	MaxAmountRequired string          `json:"maxAmountRequired"`
	Resource          string          `json:"resource"`
	Description       string          `json:"description"`
	MimeType          string          `json:"mimeType"`
	OutputSchema      json.RawMessage `json:"outputSchema"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int64           `json:"maxTimeoutSeconds"`
	Asset             string          `json:"asset"`
	Extra             json.RawMessage `json:"extra,omitempty"`
}

// PaymentRequiredV1 is the JSON body of a version 1 402 response.
type PaymentRequiredV1 struct {
	X402Version int             `json:"x402Version"`
	Error       string          `json:"error"`
	Accepts     []RequirementV1 `json:"accepts"`
	Payer       string          `json:"payer,omitempty"`
	Extensions  json.RawMessage `json:"extensions,omitempty"` // read only: a v1 payment carries none
}

// RequirementV2 is one entry of a version 2 PAYMENT-REQUIRED accepts list.
//
// When decoded from JSON it remembers the exact bytes it came from, and MarshalJSON writes
// those bytes back: a v2 client must echo the chosen requirement unchanged. A value built in
// Go (Raw empty) marshals its fields.
type RequirementV2 struct {
	Scheme            string          `json:"scheme"`
	Network           string          `json:"network"`
	Amount            string          `json:"amount"`
	Asset             string          `json:"asset"`
	PayTo             string          `json:"payTo"`
	MaxTimeoutSeconds int64           `json:"maxTimeoutSeconds"`
	Extra             json.RawMessage `json:"extra,omitempty"`

	// Raw is the JSON this requirement was decoded from; nil for one built in Go.
	Raw json.RawMessage `json:"-"`
}

type requirementV2Fields RequirementV2

// UnmarshalJSON decodes the fields and keeps a copy of data in Raw.
func (r *RequirementV2) UnmarshalJSON(data []byte) error {
	var f requirementV2Fields
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	*r = RequirementV2(f)
	r.Raw = append(json.RawMessage(nil), data...)
	return nil
}

// MarshalJSON writes Raw when set, else the fields.
func (r RequirementV2) MarshalJSON() ([]byte, error) {
	if len(r.Raw) > 0 {
		return r.Raw, nil
	}
	return json.Marshal(requirementV2Fields(r))
}

// Resource describes the paid resource in version 2 messages.
type Resource struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
}

// PaymentRequiredV2 is the decoded PAYMENT-REQUIRED header of a version 2 402 response.
type PaymentRequiredV2 struct {
	X402Version int             `json:"x402Version"`
	Error       string          `json:"error,omitempty"`
	Resource    *Resource       `json:"resource,omitempty"`
	Accepts     []RequirementV2 `json:"accepts"`
	Extensions  json.RawMessage `json:"extensions,omitempty"`
}

// Authorization is the EIP-3009 TransferWithAuthorization message as it travels in JSON:
// addresses as 0x hex, numbers as decimal strings, the nonce as 0x + 64 hex.
type Authorization struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Value       string `json:"value"`
	ValidAfter  string `json:"validAfter"`
	ValidBefore string `json:"validBefore"`
	Nonce       string `json:"nonce"`
}

// ExactEVMPayload is the scheme-specific payload of an exact EVM payment.
type ExactEVMPayload struct {
	Signature     string        `json:"signature"`
	Authorization Authorization `json:"authorization"`
}

// PaymentPayloadV1 is the decoded X-PAYMENT header.
type PaymentPayloadV1 struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Payload     ExactEVMPayload `json:"payload"`
}

// PaymentPayloadV2 is the decoded PAYMENT-SIGNATURE header.
type PaymentPayloadV2 struct {
	X402Version int             `json:"x402Version"`
	Resource    *Resource       `json:"resource,omitempty"`
	Accepted    RequirementV2   `json:"accepted"`
	Payload     ExactEVMPayload `json:"payload"`
	Extensions  json.RawMessage `json:"extensions,omitempty"`
}

// SettlementResponse is the decoded X-PAYMENT-RESPONSE (v1) or PAYMENT-RESPONSE (v2)
// header, and the facilitator's /settle answer.
type SettlementResponse struct {
	Success      bool   `json:"success"`
	ErrorReason  string `json:"errorReason,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	Transaction  string `json:"transaction"`
	Network      string `json:"network"`
	Payer        string `json:"payer,omitempty"`
	// Extensions carries what extensions add to a settlement, such as a signed receipt
	// (extensions["offer-receipt"].info.receipt).
	Extensions json.RawMessage `json:"extensions,omitempty"`
}

// FacilitatorRequest is the body of POST /verify and POST /settle. PaymentPayload and
// PaymentRequirements hold the version 1 or version 2 shapes, as X402Version says.
type FacilitatorRequest struct {
	X402Version         int             `json:"x402Version"`
	PaymentPayload      json.RawMessage `json:"paymentPayload"`
	PaymentRequirements json.RawMessage `json:"paymentRequirements"`
}

// VerifyResponse is the facilitator's /verify answer.
type VerifyResponse struct {
	IsValid        bool   `json:"isValid"`
	InvalidReason  string `json:"invalidReason,omitempty"`
	InvalidMessage string `json:"invalidMessage,omitempty"`
	Payer          string `json:"payer,omitempty"`
}

// SupportedKind is one payment kind a facilitator supports.
type SupportedKind struct {
	X402Version int             `json:"x402Version"`
	Scheme      string          `json:"scheme"`
	Network     string          `json:"network"`
	Extra       json.RawMessage `json:"extra,omitempty"`
}

// SupportedResponse is the facilitator's GET /supported answer.
type SupportedResponse struct {
	Kinds      []SupportedKind     `json:"kinds"`
	Extensions []string            `json:"extensions,omitempty"`
	Signers    map[string][]string `json:"signers,omitempty"`
}

// EIP712Extra is the extra object of an exact EVM requirement: the token's EIP-712 domain.
type EIP712Extra struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

package x402

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// MaxHeaderLen bounds the base64 text of any x402 header toll decodes. Real headers are a
// few kilobytes; intermediaries drop much smaller ones.
const MaxHeaderLen = 64 << 10

// EncodeHeader renders v as compact JSON in standard base64 with padding, the only framing
// the official servers accept (base64url is rejected by both versions).
func EncodeHeader(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode x402 header: %w", err)
	}
	return base64.StdEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// DecodeHeader decodes standard base64 (with padding) JSON into v. It rejects base64url,
// text over MaxHeaderLen, and JSON that does not fit v.
func DecodeHeader(s string, v any) error {
	if len(s) == 0 {
		return fmt.Errorf("decode x402 header: empty")
	}
	if len(s) > MaxHeaderLen {
		return fmt.Errorf("decode x402 header: %d bytes, over the %d byte limit", len(s), MaxHeaderLen)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode x402 header: not standard base64: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode x402 header: %w", err)
	}
	return nil
}

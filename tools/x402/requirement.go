package x402

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseRequirement reads one payment requirement as an accepts list holds it, in the
// version 2 shape (amount) or the version 1 shape (maxAmountRequired, which becomes Amount;
// amount wins when both are set). It needs no 402 around it: an x402 discovery response
// lists each resource's requirements this way. Raw keeps data when it has the version 2
// shape, and is nil for a version 1 requirement (which a version 2 payment cannot echo).
// An error says data is not a requirement object, or a field of it has the wrong JSON type.
func ParseRequirement(data []byte) (RequirementV2, error) {
	if len(data) > MaxBodyLen {
		return RequirementV2{}, fmt.Errorf("parse payment requirement: %d bytes, over the %d byte limit", len(data), MaxBodyLen)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return RequirementV2{}, fmt.Errorf("parse payment requirement: not a JSON object")
	}
	var f struct {
		requirementV2Fields
		MaxAmountRequired string `json:"maxAmountRequired"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return RequirementV2{}, fmt.Errorf("parse payment requirement: %w", err)
	}
	r := RequirementV2(f.requirementV2Fields)
	if r.Amount == "" {
		r.Amount = f.MaxAmountRequired
	} else {
		r.Raw = append(json.RawMessage(nil), data...)
	}
	return r, nil
}

// Option weighs the requirement as entry i of an accepts list, as ParseChallenge does: its
// amount read in USDC's decimals, its EIP-712 domain from extra, and a Problem when it cannot
// be paid as it stands.
func (r RequirementV2) Option(i int) Option {
	return newOption(i, r.Scheme, r.Network, r.Asset, r.PayTo, r.Amount, r.MaxTimeoutSeconds, r.Extra)
}

// IsAddress reports whether s is written as an EVM address: "0x" and 40 hexadecimal digits,
// in any case (an EIP-55 checksum is not checked).
func IsAddress(s string) bool { return isHex0x(s, 40) }

// IsNonce reports whether s is written as an EIP-3009 nonce in a payment's authorization:
// "0x" and 64 hexadecimal digits (32 bytes), in any case.
func IsNonce(s string) bool { return isHex0x(s, 64) }

// isHex0x reports whether s is "0x" and exactly digits hexadecimal digits.
func isHex0x(s string, digits int) bool {
	if len(s) != 2+digits || s[0] != '0' || s[1] != 'x' {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

package wallet

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// Address is a 20-byte Ethereum address. The zero value is the zero address,
// which Sign refuses as a payee or token.
type Address [20]byte

// addressHexLen is len("0x") + 40.
const addressHexLen = 42

// ParseAddress parses "0x" followed by 40 hex digits. Any letter case is
// accepted (a mixed-case checksum is not verified). Errors describe the
// problem without echoing the input, which could be a mistyped secret.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) != addressHexLen {
		return a, fmt.Errorf("parse address: got %d characters, want 42 (0x followed by 40 hex digits)", len(s))
	}
	if s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return a, fmt.Errorf("parse address: missing 0x prefix, want 0x followed by 40 hex digits")
	}
	for i := range a {
		hi, ok1 := unhex(s[2+2*i])
		lo, ok2 := unhex(s[3+2*i])
		if !ok1 || !ok2 {
			pos := 2 + 2*i
			if ok1 {
				pos++
			}
			return Address{}, fmt.Errorf("parse address: character %d is not a hex digit, want 0x followed by 40 hex digits", pos+1)
		}
		a[i] = hi<<4 | lo
	}
	return a, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Hex returns the EIP-55 checksummed form, "0x" followed by 40 hex digits.
func (a Address) Hex() string { return common.Address(a).Hex() }

// String returns a.Hex().
func (a Address) String() string { return a.Hex() }

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText returns the checksummed hex form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.Hex()), nil }

// UnmarshalText parses text as ParseAddress does.
func (a *Address) UnmarshalText(text []byte) error {
	v, err := ParseAddress(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

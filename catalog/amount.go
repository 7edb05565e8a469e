package catalog

import (
	"fmt"
	"math/big"
	"strings"
)

// maxAmountDigits bounds the digits of an amount: a uint256 has 78 decimal
// digits, and no token amount is larger.
const maxAmountDigits = 78

// ParseAmount parses a non-negative decimal string such as "0.05" into atomic
// units with the given number of decimals: "0.05" at 6 decimals is 50000. The
// conversion is exact. It accepts only ASCII digits with at most one '.'
// that has a digit on each side; it rejects signs, exponents, spaces, an
// empty string, more fractional digits than decimals (even zeros: the caller
// wrote a precision the asset cannot carry), more than 78 digits as written,
// and a result of more than 78 digits in atomic units (a uint256 has 78).
// Leading zeros are allowed.
func ParseAmount(s string, decimals int) (*big.Int, error) {
	if decimals < 0 || decimals > maxAmountDigits {
		return nil, fmt.Errorf("%w: decimals %d out of range 0..%d", ErrInvalidAmount, decimals, maxAmountDigits)
	}
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidAmount)
	}
	if len(s) > maxAmountDigits+1 {
		return nil, fmt.Errorf("%w: more than %d digits", ErrInvalidAmount, maxAmountDigits)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !digitsOnly(whole) || (hasPoint && !digitsOnly(frac)) {
		return nil, fmt.Errorf("%w: %q is not a plain decimal number", ErrInvalidAmount, s)
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("%w: %q has %d fractional digits, more than the %d the asset has", ErrInvalidAmount, s, len(frac), decimals)
	}
	if len(whole)+len(frac) > maxAmountDigits {
		return nil, fmt.Errorf("%w: more than %d digits", ErrInvalidAmount, maxAmountDigits)
	}
	digits := strings.TrimLeft(whole+frac, "0") + strings.Repeat("0", decimals-len(frac))
	if len(strings.TrimLeft(digits, "0")) > maxAmountDigits {
		return nil, fmt.Errorf("%w: %q is more than %d digits in atomic units", ErrInvalidAmount, s, maxAmountDigits)
	}
	v, ok := new(big.Int).SetString("0"+digits, 10)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	return v, nil
}

// digitsOnly reports whether s is one or more ASCII digits.
func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatAmount writes atomic units as a decimal string with the given number
// of decimals, trailing fractional zeros trimmed: 50000 at 6 decimals is
// "0.05", 1000000 is "1". A nil v is "0"; a negative v keeps its sign; a
// negative decimals counts as zero.
func FormatAmount(v *big.Int, decimals int) string {
	if v == nil {
		return "0"
	}
	if decimals < 0 {
		decimals = 0
	}
	sign := ""
	abs := v
	if v.Sign() < 0 {
		sign = "-"
		abs = new(big.Int).Neg(v)
	}
	digits := abs.String()
	if decimals == 0 {
		return sign + digits
	}
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	whole := digits[:len(digits)-decimals]
	frac := strings.TrimRight(digits[len(digits)-decimals:], "0")
	if frac == "" {
		return sign + whole
	}
	return sign + whole + "." + frac
}

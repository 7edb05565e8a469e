// Package money is toll's one amount type: a quantity of a token as an integer number of
// atomic units and the token's decimals (50000 atomic units of a 6-decimal token is 0.05).
// Prices, caps, ledger totals, receipts and 402 requirements all use it; it is parsed and
// printed here and nowhere else, and never passes through a float.
//
// An Amount has two text forms, each where its readers expect it:
//
//   - for people (flags, toll.yaml, tables, messages): the decimal value, "0.05", through
//     Parse, String, Set and the encoding.TextMarshaler pair;
//   - in JSON (x402 messages, _meta, ledger exports): the atomic units as a decimal string,
//     "50000", as the x402 protocol writes every amount, through ParseAtomic and the
//     json.Marshaler pair. A JSON document that needs the decimals says them beside the
//     amount (as _meta["x402/price"].decimals does).
//
// Decoding text or JSON into an Amount keeps the decimals the Amount already has, and the
// zero Amount takes USDC's (USDCDecimals): every token toll pays by default is a 6-decimal
// stablecoin.
//
// Amounts compare and add by value: 0.05 with 6 decimals equals 0.05 with 18. An Amount is
// immutable; its methods return new values.
//
// It lives under tools beside the x402 wire package, as the vocabulary of payments, and
// imports only the standard library, so every toll package (catalog and ledger included)
// may use it.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// USDCDecimals are the decimals of USDC, and of every token toll allows by default.
const USDCDecimals = 6

// MaxDecimals bounds the decimals of an amount: a uint256 has 78 decimal digits.
const MaxDecimals = 77

// ErrInvalid is matched (errors.Is) by every parse error of this package.
var ErrInvalid = errors.New("invalid amount")

// maxAtomic is the largest amount a token can hold: 2^256 - 1 atomic units.
var maxAtomic = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// maxWritten bounds the digits of an amount as written: 78 digits and a point.
const maxWritten = 79

// Amount is a quantity of a token: atomic units and the token's decimals. The zero value
// is zero (with no decimals).
type Amount struct {
	atomic *big.Int // nil means zero; never changed once the Amount exists
	dec    uint8
}

// New returns atomic units of a token with the given decimals. It copies atomic (nil is
// zero) and panics when decimals is outside 0..MaxDecimals: that is a bug of the caller,
// not bad input (input goes through Parse and ParseAtomic).
func New(atomic *big.Int, decimals int) Amount {
	checkDecimals(decimals)
	a := Amount{dec: uint8(decimals)}
	if atomic != nil && atomic.Sign() != 0 {
		a.atomic = new(big.Int).Set(atomic)
	}
	return a
}

// USDC returns atomic units of USDC: USDC(50000) is 0.05.
func USDC(atomic int64) Amount { return New(big.NewInt(atomic), USDCDecimals) }

func checkDecimals(d int) {
	if d < 0 || d > MaxDecimals {
		panic(fmt.Sprintf("money: decimals %d out of range 0..%d", d, MaxDecimals))
	}
}

// Parse reads a decimal value as people write it, "0.05", in a token with the given
// decimals. The conversion is exact. It accepts only ASCII digits with at most one '.'
// that has a digit on each side. It refuses signs, exponents, spaces, an empty string,
// more fractional digits than the token has (even zeros: the writer asked for a precision
// the token cannot carry), and amounts of 2^256 atomic units or more.
func Parse(s string, decimals int) (Amount, error) {
	if decimals < 0 || decimals > MaxDecimals {
		return Amount{}, fmt.Errorf("%w: decimals %d out of range 0..%d", ErrInvalid, decimals, MaxDecimals)
	}
	if s == "" {
		return Amount{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > maxWritten {
		return Amount{}, fmt.Errorf("%w: %.20q… is longer than %d characters", ErrInvalid, s, maxWritten)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !digits(whole) || (hasPoint && !digits(frac)) {
		return Amount{}, fmt.Errorf("%w: %q is not a plain decimal number such as 0.05", ErrInvalid, s)
	}
	if len(frac) > decimals {
		return Amount{}, fmt.Errorf("%w: %q has %d digits after the point, more than the %d the token has", ErrInvalid, s, len(frac), decimals)
	}
	v, _ := new(big.Int).SetString(whole+frac+strings.Repeat("0", decimals-len(frac)), 10)
	if v.Cmp(maxAtomic) > 0 {
		return Amount{}, fmt.Errorf("%w: %q is more than a token can hold (2^256 atomic units)", ErrInvalid, s)
	}
	return Amount{atomic: nonZero(v), dec: uint8(decimals)}, nil // v is ours: no copy
}

// ParseUSDC is Parse with USDC's decimals.
func ParseUSDC(s string) (Amount, error) { return Parse(s, USDCDecimals) }

// ParseAtomic reads atomic units written as a decimal integer, "50000", the only form
// x402 uses, for a token with the given decimals. It refuses anything but ASCII digits
// and amounts of 2^256 or more.
func ParseAtomic(s string, decimals int) (Amount, error) {
	if decimals < 0 || decimals > MaxDecimals {
		return Amount{}, fmt.Errorf("%w: decimals %d out of range 0..%d", ErrInvalid, decimals, MaxDecimals)
	}
	if !digits(s) || len(s) > maxWritten-1 {
		return Amount{}, fmt.Errorf("%w: %.40q is not a whole number of atomic units (decimal digits, at most 78)", ErrInvalid, s)
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(maxAtomic) > 0 {
		return Amount{}, fmt.Errorf("%w: %.40q is more than a token can hold (2^256 atomic units)", ErrInvalid, s)
	}
	return Amount{atomic: nonZero(v), dec: uint8(decimals)}, nil // v is ours: no copy
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
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

// Atomic returns a copy of the atomic units.
func (a Amount) Atomic() *big.Int { return new(big.Int).Set(a.value()) }

// value returns the atomic units for reading only: never change the result.
func (a Amount) value() *big.Int {
	if a.atomic == nil {
		return new(big.Int)
	}
	return a.atomic
}

// Decimals returns the token's decimals.
func (a Amount) Decimals() int { return int(a.dec) }

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int {
	if a.atomic == nil {
		return 0
	}
	return a.atomic.Sign()
}

// IsZero reports whether a is zero, whatever its decimals.
func (a Amount) IsZero() bool { return a.Sign() == 0 }

// scaled returns a's atomic units at d >= a's decimals, for reading only.
func (a Amount) scaled(d uint8) *big.Int {
	if d == a.dec {
		return a.value()
	}
	return new(big.Int).Mul(a.value(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d-a.dec)), nil))
}

// Cmp compares a and b by value: -1 if a < b, 0 if equal, +1 if a > b.
func (a Amount) Cmp(b Amount) int {
	d := max(a.dec, b.dec)
	return a.scaled(d).Cmp(b.scaled(d))
}

// Add returns a + b, in the larger of their decimals.
func (a Amount) Add(b Amount) Amount {
	d := max(a.dec, b.dec)
	return Amount{atomic: nonZero(new(big.Int).Add(a.scaled(d), b.scaled(d))), dec: d}
}

// Sub returns a - b, in the larger of their decimals. The result may be negative.
func (a Amount) Sub(b Amount) Amount {
	d := max(a.dec, b.dec)
	return Amount{atomic: nonZero(new(big.Int).Sub(a.scaled(d), b.scaled(d))), dec: d}
}

func nonZero(v *big.Int) *big.Int {
	if v.Sign() == 0 {
		return nil
	}
	return v
}

// In returns the same value in a token with the given decimals. It fails when the value
// has more fractional digits than those decimals carry, or decimals is out of range.
func (a Amount) In(decimals int) (Amount, error) {
	if decimals < 0 || decimals > MaxDecimals {
		return Amount{}, fmt.Errorf("%w: decimals %d out of range 0..%d", ErrInvalid, decimals, MaxDecimals)
	}
	d := uint8(decimals)
	if d >= a.dec {
		return Amount{atomic: nonZero(a.scaled(d)), dec: d}, nil
	}
	q, r := new(big.Int).QuoRem(a.value(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(a.dec-d)), nil), new(big.Int))
	if r.Sign() != 0 {
		return Amount{}, fmt.Errorf("%w: %s has more than %d digits after the point", ErrInvalid, a, decimals)
	}
	return Amount{atomic: nonZero(q), dec: d}, nil
}

// String writes the value for people, trailing fractional zeros trimmed: "0.05", "1",
// "-0.5".
func (a Amount) String() string {
	s := a.value().String()
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	if a.dec == 0 {
		return sign + s
	}
	d := int(a.dec)
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	whole, frac := s[:len(s)-d], strings.TrimRight(s[len(s)-d:], "0")
	if frac == "" {
		return sign + whole
	}
	return sign + whole + "." + frac
}

// FitsUint256 reports whether a's atomic units are 0 to 2^256 - 1: what a token can hold,
// and what ParseAtomic reads back.
func (a Amount) FitsUint256() bool { return a.Sign() >= 0 && a.value().Cmp(maxAtomic) <= 0 }

// AtomicString writes the atomic units as a decimal integer: "50000".
func (a Amount) AtomicString() string { return a.value().String() }

// MarshalText writes String's form: toll.yaml and flags read it back.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a value as people write it (Parse), in a's decimals, or USDC's when
// a is the zero Amount.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := Parse(string(b), a.decodeDecimals())
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Set makes *Amount a flag.Value: the flag reads what UnmarshalText reads.
func (a *Amount) Set(s string) error { return a.UnmarshalText([]byte(s)) }

// MarshalJSON writes the atomic units as a JSON string: "50000".
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + a.AtomicString() + `"`), nil
}

// UnmarshalJSON reads atomic units from a JSON string (ParseAtomic), in a's decimals, or
// USDC's when a is the zero Amount. null leaves a unchanged.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("%w: %.40s is not a JSON string of atomic units such as \"50000\"", ErrInvalid, s)
	}
	v, err := ParseAtomic(s[1:len(s)-1], a.decodeDecimals())
	if err != nil {
		return err
	}
	*a = v
	return nil
}

func (a *Amount) decodeDecimals() int {
	if a.atomic == nil && a.dec == 0 {
		return USDCDecimals
	}
	return int(a.dec)
}

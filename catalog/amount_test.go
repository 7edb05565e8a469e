package catalog

import (
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in       string
		decimals int
		want     string // atomic units; "" means an error
	}{
		{"0.05", 6, "50000"},
		{"0.001", 6, "1000"},
		{"0.005", 6, "5000"},
		{"0.25", 6, "250000"},
		{"1", 6, "1000000"},
		{"1.5", 6, "1500000"},
		{"0.000001", 6, "1"},
		{"0", 6, "0"},
		{"0.0", 6, "0"},
		{"007.10", 6, "7100000"},
		{"123456789.123456", 6, "123456789123456"},
		{"5", 0, "5"},
		{"1.000000000000000001", 18, "1000000000000000001"},
		{strings.Repeat("9", 72) + ".999999", 6, strings.Repeat("9", 78)},
		{strings.Repeat("9", 78), 0, strings.Repeat("9", 78)},

		{"", 6, ""},
		{"0.0000001", 6, ""}, // more fractional digits than the asset has
		{"0.1000000", 6, ""}, // even when they are zeros
		{"1.5", 0, ""},
		{"-1", 6, ""},
		{"+1", 6, ""},
		{"1e3", 6, ""},
		{"1E-3", 6, ""},
		{" 1", 6, ""},
		{"1 ", 6, ""},
		{"1 000", 6, ""},
		{".5", 6, ""},
		{"5.", 6, ""},
		{".", 6, ""},
		{"1.2.3", 6, ""},
		{"1,5", 6, ""},
		{"0x10", 6, ""},
		{"NaN", 6, ""},
		{"Inf", 6, ""},
		{"١", 6, ""}, // an Arabic-Indic digit is not an ASCII digit
		{"$1", 6, ""},
		{strings.Repeat("9", 79), 0, ""},
		{strings.Repeat("9", 73) + ".999999", 6, ""},
		{"1", -1, ""},
		{"1", 79, ""},
		{"1", 78, ""}, // 10^78 atomic units: 79 digits
		{"0.1", 78, "1" + strings.Repeat("0", 77)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.decimals)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseAmount(%q, %d) = %v, want an error", tt.in, tt.decimals, got)
				}
				if !errors.Is(err, ErrInvalidAmount) {
					t.Errorf("error %v is not ErrInvalidAmount", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAmount(%q, %d): %v", tt.in, tt.decimals, err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseAmount(%q, %d) = %s, want %s", tt.in, tt.decimals, got, tt.want)
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		in       string
		decimals int
		want     string
	}{
		{"50000", 6, "0.05"},
		{"1000000", 6, "1"},
		{"1000", 6, "0.001"},
		{"250000", 6, "0.25"},
		{"1", 6, "0.000001"},
		{"0", 6, "0"},
		{"1500000", 6, "1.5"},
		{"123456789123456", 6, "123456789.123456"},
		{"10", 0, "10"},
		{"-50000", 6, "-0.05"},
		{"5", -2, "5"},
		{"1000000000000000001", 18, "1.000000000000000001"},
	}
	for _, tt := range tests {
		v, _ := new(big.Int).SetString(tt.in, 10)
		if got := FormatAmount(v, tt.decimals); got != tt.want {
			t.Errorf("FormatAmount(%s, %d) = %q, want %q", tt.in, tt.decimals, got, tt.want)
		}
	}
	if got := FormatAmount(nil, 6); got != "0" {
		t.Errorf("FormatAmount(nil) = %q, want %q", got, "0")
	}
}

// FuzzParseAmount checks the round trip: an accepted string is a
// non-negative amount of at most 78 digits that FormatAmount writes in
// canonical form and ParseAmount reads back as the same number; a refused
// one returns only ErrInvalidAmount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0.05", "1", "0", "007.10", "0.000001", "1e3", "-1", "", "1.", "99999999999999999999.5"} {
		f.Add(s, uint8(6))
	}
	f.Add("5", uint8(0))
	f.Add("1.000000000000000001", uint8(18))
	f.Fuzz(func(t *testing.T, s string, d uint8) {
		decimals := int(d % 80)
		v, err := ParseAmount(s, decimals)
		if err != nil {
			if v != nil {
				t.Fatalf("ParseAmount(%q) returned both %v and %v", s, v, err)
			}
			if !errors.Is(err, ErrInvalidAmount) {
				t.Fatalf("error %v is not ErrInvalidAmount", err)
			}
			return
		}
		if v.Sign() < 0 {
			t.Fatalf("ParseAmount(%q) = %v, negative", s, v)
		}
		if len(v.String()) > maxAmountDigits {
			t.Fatalf("ParseAmount(%q) = %v, more than %d digits", s, v, maxAmountDigits)
		}
		formatted := FormatAmount(v, decimals)
		back, err := ParseAmount(formatted, decimals)
		if err != nil {
			t.Fatalf("ParseAmount(FormatAmount(%v)) = %q: %v", v, formatted, err)
		}
		if back.Cmp(v) != 0 {
			t.Fatalf("round trip %q → %v → %q → %v", s, v, formatted, back)
		}
		// FormatAmount writes the canonical form: no leading zeros in the
		// whole part, no trailing zeros in the fraction.
		if canon := canonicalDecimal(s); formatted != canon {
			t.Fatalf("FormatAmount(ParseAmount(%q)) = %q, want %q", s, formatted, canon)
		}
	})
}

// canonicalDecimal writes a plain decimal string without leading zeros in
// the whole part or trailing zeros in the fraction.
func canonicalDecimal(s string) string {
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

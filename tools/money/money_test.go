package money

import (
	"encoding/json"
	"errors"
	"flag"
	"math/big"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		decimals int
		want     string // atomic units
		wantErr  bool
	}{
		{in: "0.05", decimals: 6, want: "50000"},
		{in: "0.001", decimals: 6, want: "1000"},
		{in: "1", decimals: 6, want: "1000000"},
		{in: "1.5", decimals: 6, want: "1500000"},
		{in: "0.000001", decimals: 6, want: "1"},
		{in: "0", decimals: 6, want: "0"},
		{in: "0.0", decimals: 6, want: "0"},
		{in: "007.10", decimals: 6, want: "7100000"},
		{in: "123456789.123456", decimals: 6, want: "123456789123456"},
		{in: "5", decimals: 0, want: "5"},
		{in: "1.000000000000000001", decimals: 18, want: "1000000000000000001"},
		{in: maxAtomic.String(), decimals: 0, want: maxAtomic.String()},
		{in: "0.1", decimals: 77, want: "1" + strings.Repeat("0", 76)},

		{in: "", decimals: 6, wantErr: true},
		{in: "0.0000001", decimals: 6, wantErr: true}, // more fractional digits than the token has
		{in: "0.1000000", decimals: 6, wantErr: true}, // even when they are zeros
		{in: "1.5", decimals: 0, wantErr: true},
		{in: "-1", decimals: 6, wantErr: true},
		{in: "+1", decimals: 6, wantErr: true},
		{in: "1e3", decimals: 6, wantErr: true},
		{in: " 1", decimals: 6, wantErr: true},
		{in: "1 ", decimals: 6, wantErr: true},
		{in: ".5", decimals: 6, wantErr: true},
		{in: "5.", decimals: 6, wantErr: true},
		{in: "1.2.3", decimals: 6, wantErr: true},
		{in: "1,5", decimals: 6, wantErr: true},
		{in: "0x10", decimals: 6, wantErr: true},
		{in: "NaN", decimals: 6, wantErr: true},
		{in: "١", decimals: 6, wantErr: true}, // an Arabic-Indic digit is not an ASCII digit
		{in: "$1", decimals: 6, wantErr: true},
		{in: new(big.Int).Add(maxAtomic, big.NewInt(1)).String(), decimals: 0, wantErr: true},
		{in: strings.Repeat("9", 80), decimals: 0, wantErr: true},
		{in: "1", decimals: -1, wantErr: true},
		{in: "1", decimals: MaxDecimals + 1, wantErr: true},
		{in: "10", decimals: MaxDecimals, wantErr: true}, // 10^78 atomic units: over 2^256
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, tt.decimals)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q, %d) = %v, want an error", tt.in, tt.decimals, got)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v is not ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q, %d): %v", tt.in, tt.decimals, err)
			}
			if got.AtomicString() != tt.want || got.Decimals() != tt.decimals {
				t.Errorf("Parse(%q, %d) = %s atomic, %d decimals; want %s, %d", tt.in, tt.decimals, got.AtomicString(), got.Decimals(), tt.want, tt.decimals)
			}
		})
	}
}

func TestParseAtomic(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{in: "0"},
		{in: "10000"},
		{in: "007"},
		{in: maxAtomic.String()},
		{in: "", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "0x10", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "1e6", wantErr: true},
		{in: " 1", wantErr: true},
		{in: new(big.Int).Add(maxAtomic, big.NewInt(1)).String(), wantErr: true},
		{in: strings.Repeat("9", 79), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAtomic(tt.in, USDCDecimals)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseAtomic(%q) = %v, %v; want ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := new(big.Int).SetString(tt.in, 10)
			if got.Atomic().Cmp(want) != 0 || got.Decimals() != USDCDecimals {
				t.Fatalf("ParseAtomic(%q) = %s (%d decimals)", tt.in, got.AtomicString(), got.Decimals())
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		a    Amount
		want string
	}{
		{a: USDC(50000), want: "0.05"},
		{a: USDC(1000000), want: "1"},
		{a: USDC(1), want: "0.000001"},
		{a: USDC(0), want: "0"},
		{a: Amount{}, want: "0"},
		{a: USDC(-500000), want: "-0.5"},
		{a: USDC(123456789123456), want: "123456789.123456"},
		{a: New(big.NewInt(5), 0), want: "5"},
		{a: New(big.NewInt(1), 18), want: "0.000000000000000001"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("%s atomic at %d decimals: String() = %q, want %q", tt.a.AtomicString(), tt.a.Decimals(), got, tt.want)
		}
	}
}

// TestStringParseRoundTrip: what String writes, Parse reads back to the same value.
func TestStringParseRoundTrip(t *testing.T) {
	for _, atomic := range []string{"0", "1", "10", "999999", "1000000", "1000001", maxAtomic.String()} {
		for _, d := range []int{0, 1, 6, 18, MaxDecimals} {
			a, err := ParseAtomic(atomic, d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(a.String(), d)
			if err != nil {
				t.Fatalf("Parse(%q, %d): %v", a.String(), d, err)
			}
			if back.Cmp(a) != 0 || back.AtomicString() != atomic {
				t.Fatalf("%s at %d decimals: String %q parses back to %s", atomic, d, a.String(), back.AtomicString())
			}
		}
	}
}

func TestArithmeticByValue(t *testing.T) {
	fiveCents6 := USDC(50000)
	fiveCents18, _ := Parse("0.05", 18)
	if fiveCents6.Cmp(fiveCents18) != 0 || fiveCents18.Cmp(fiveCents6) != 0 {
		t.Fatalf("0.05 at 6 and 18 decimals compare unequal")
	}
	if got := fiveCents6.Add(fiveCents18); got.String() != "0.1" || got.Decimals() != 18 {
		t.Fatalf("0.05 + 0.05 = %s at %d decimals, want 0.1 at 18", got, got.Decimals())
	}
	if got := fiveCents6.Sub(USDC(60000)); got.String() != "-0.01" || got.Sign() != -1 {
		t.Fatalf("0.05 - 0.06 = %s", got)
	}
	if !fiveCents6.Sub(fiveCents18).IsZero() {
		t.Fatalf("0.05 - 0.05 is not zero")
	}
	if USDC(1).Cmp(Amount{}) != 1 || (Amount{}).Cmp(USDC(0)) != 0 {
		t.Fatalf("zero value compares wrong")
	}
	// Immutability: the result of Atomic is a copy.
	a := USDC(7)
	a.Atomic().SetInt64(99)
	if a.AtomicString() != "7" {
		t.Fatalf("Atomic() exposed the internal value: now %s", a.AtomicString())
	}
	src := big.NewInt(8)
	b := New(src, 6)
	src.SetInt64(9)
	if b.AtomicString() != "8" {
		t.Fatalf("New kept the caller's big.Int: now %s", b.AtomicString())
	}
}

func TestIn(t *testing.T) {
	a, _ := Parse("1.5", 18)
	got, err := a.In(USDCDecimals)
	if err != nil || got.AtomicString() != "1500000" || got.Decimals() != 6 {
		t.Fatalf("1.5 in 6 decimals = %s (%d), %v", got.AtomicString(), got.Decimals(), err)
	}
	tiny := New(big.NewInt(1), 18)
	if _, err := tiny.In(USDCDecimals); !errors.Is(err, ErrInvalid) {
		t.Fatalf("0.000000000000000001 in 6 decimals: err %v, want ErrInvalid", err)
	}
	up, err := USDC(50000).In(18)
	if err != nil || up.AtomicString() != "50000000000000000" {
		t.Fatalf("0.05 in 18 decimals = %s, %v", up.AtomicString(), err)
	}
}

func TestJSONIsAtomicString(t *testing.T) {
	type doc struct {
		Amount Amount  `json:"amount"`
		Cap    *Amount `json:"cap,omitempty"`
	}
	b, err := json.Marshal(doc{Amount: USDC(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"amount":"1000"}` {
		t.Fatalf("json %s, want the atomic units as a string", b)
	}
	var back doc
	if err := json.Unmarshal([]byte(`{"amount":"1000","cap":"50000"}`), &back); err != nil {
		t.Fatal(err)
	}
	if back.Amount.Cmp(USDC(1000)) != 0 || back.Amount.Decimals() != USDCDecimals || back.Cap.Cmp(USDC(50000)) != 0 {
		t.Fatalf("decoded %v, %v", back.Amount, back.Cap)
	}
	eighteen := New(nil, 18)
	if err := json.Unmarshal([]byte(`"5"`), &eighteen); err != nil || eighteen.Decimals() != 18 || eighteen.AtomicString() != "5" {
		t.Fatalf("decoding into an 18-decimal amount: %v, %d decimals, %s", err, eighteen.Decimals(), eighteen.AtomicString())
	}
	for _, bad := range []string{`1000`, `"0.05"`, `"-1"`, `""`, `true`, `"1e3"`} {
		var a Amount
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("json %s decoded to %s, want an error", bad, a)
		}
	}
}

func TestTextAndFlag(t *testing.T) {
	var a Amount
	if err := a.UnmarshalText([]byte("0.25")); err != nil || a.Cmp(USDC(250000)) != 0 {
		t.Fatalf("UnmarshalText(0.25) = %v, %v", a, err)
	}
	if b, _ := a.MarshalText(); string(b) != "0.25" {
		t.Fatalf("MarshalText = %s", b)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	perCall := USDC(100000)
	fs.Var(&perCall, "max-per-call", "")
	if err := fs.Parse([]string{"--max-per-call", "0.02"}); err != nil {
		t.Fatal(err)
	}
	if perCall.Cmp(USDC(20000)) != 0 {
		t.Fatalf("flag set %s, want 0.02", perCall)
	}
	if err := fs.Parse([]string{"--max-per-call", "0.0000001"}); err == nil {
		t.Fatalf("flag accepted more digits than USDC has")
	}
}

// FuzzParse: Parse never panics; what it accepts, String writes back to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0.05", "1", "", ".", "1.", "007.10", "1e3", "-1", strings.Repeat("9", 78)} {
		f.Add(s, 6)
	}
	f.Fuzz(func(t *testing.T, s string, d int) {
		a, err := Parse(s, d)
		if err != nil {
			return
		}
		back, err := Parse(a.String(), d)
		if err != nil || back.Cmp(a) != 0 {
			t.Fatalf("Parse(%q, %d) = %s, which parses back as %v, %v", s, d, a, back, err)
		}
		if a.Sign() < 0 || a.Atomic().Cmp(maxAtomic) > 0 {
			t.Fatalf("Parse(%q) = %s out of range", s, a.AtomicString())
		}
	})
}

// FuzzParseAtomic: ParseAtomic never panics, and accepts exactly the canonical forms.
func FuzzParseAtomic(f *testing.F) {
	for _, s := range []string{"10000", "0", "", "-1", "0x1", "1.0", maxAtomic.String()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAtomic(s, USDCDecimals)
		if err != nil {
			return
		}
		want, ok := new(big.Int).SetString(s, 10)
		if !ok || want.Cmp(a.Atomic()) != 0 || a.Sign() < 0 {
			t.Fatalf("ParseAtomic(%q) = %s", s, a.AtomicString())
		}
	})
}

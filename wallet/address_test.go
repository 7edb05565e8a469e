package wallet

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	want := Address{0x5a, 0xae, 0xb6, 0x05, 0x3f, 0x3e, 0x94, 0xc9, 0xb9, 0xa0, 0x9f, 0x33, 0x66, 0x94, 0x35, 0xe7, 0xef, 0x1b, 0xea, 0xed}
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
	}{
		{"checksummed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ""},
		{"lower", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ""},
		{"upper", "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", ""},
		{"upper prefix", "0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", ""},
		{"wrong checksum accepted", "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ""},
		{"empty", "", "got 0 characters"},
		{"no prefix", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "got 40 characters"},
		{"no prefix 42", "005aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "missing 0x prefix"},
		{"short", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", "got 40 characters"},
		{"long", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", "got 44 characters"},
		{"non-hex high nibble", "0xg5aeb6053f3e94c9b9a09f33669435e7ef1beaed", "character 3 is not a hex digit"},
		{"non-hex low nibble", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeZ", "character 42 is not a hex digit"},
		{"leading space", " 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", "missing 0x prefix"},
		{"private key by mistake", "0x" + hardhatKey, "got 66 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAddress(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseAddress(%q): %v", tt.in, err)
				}
				if got != want {
					t.Errorf("ParseAddress(%q) = %x, want %x", tt.in, got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseAddress(%q) = %v, want error containing %q", tt.in, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAddress(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), tt.in[2:10]) {
				t.Errorf("error %q echoes the input", err)
			}
			if got != (Address{}) {
				t.Errorf("ParseAddress(%q) returned %x with an error, want the zero address", tt.in, got)
			}
			assertErrNoSecret(t, err)
		})
	}
}

// EIP-55's own examples.
func TestAddressHex(t *testing.T) {
	for _, want := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0xde709f2102306220921060314715629080e2fb77",
		hardhatAddr,
		baseSepoliaUSDC,
	} {
		a := mustAddr(t, strings.ToLower(want))
		if got := a.Hex(); got != want {
			t.Errorf("Hex() = %s, want %s", got, want)
		}
		if got := a.String(); got != want {
			t.Errorf("String() = %s, want %s", got, want)
		}
	}
}

func TestAddressIsZero(t *testing.T) {
	var zero Address
	if !zero.IsZero() {
		t.Error("zero address: IsZero() = false")
	}
	if got, want := zero.Hex(), "0x0000000000000000000000000000000000000000"; got != want {
		t.Errorf("zero Hex() = %s, want %s", got, want)
	}
	if mustAddr(t, "0x0000000000000000000000000000000000000001").IsZero() {
		t.Error("0x…01: IsZero() = true")
	}
}

func TestAddressJSON(t *testing.T) {
	type msg struct {
		To  Address  `json:"to"`
		Opt *Address `json:"opt,omitempty"`
	}
	in := msg{To: mustAddr(t, hardhatAddr)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"to":"`+hardhatAddr+`"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	var out msg
	if err := json.Unmarshal([]byte(`{"to":"`+strings.ToUpper(hardhatAddr[2:])+`"}`), &out); err == nil {
		t.Error("json.Unmarshal accepted an address without 0x")
	}
	if err := json.Unmarshal([]byte(`{"to":"0x`+strings.ToUpper(hardhatAddr[2:])+`"}`), &out); err != nil {
		t.Fatal(err)
	}
	if out.To != in.To {
		t.Errorf("round trip: got %v, want %v", out.To, in.To)
	}
	var a Address
	err = a.UnmarshalText([]byte("0x123"))
	if err == nil || a != (Address{}) {
		t.Errorf("UnmarshalText(0x123) = %v, %v; want an error and no change", a, err)
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		t.Errorf("unexpected syntax error %v", err)
	}
}

// FuzzParseAddress checks that whatever ParseAddress accepts is exactly
// "0x" + 40 hex digits, that Hex and MarshalText round-trip, that Hex is
// the input up to letter case, and that errors never echo the input.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x0000000000000000000000000000000000000000",
		"0XFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
		"5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
		"",
		"0x",
		"0x" + hardhatKey,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if a != (Address{}) {
				t.Fatalf("ParseAddress(%q) returned %x with error %v", s, a, err)
			}
			if len(s) >= 12 && strings.Contains(err.Error(), s) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if len(s) != 42 || (s[:2] != "0x" && s[:2] != "0X") || !isHex(s[2:]) {
			t.Fatalf("ParseAddress accepted %q", s)
		}
		h := a.Hex()
		if !strings.EqualFold(h[2:], s[2:]) || h[:2] != "0x" {
			t.Fatalf("Hex() = %s, not %q up to case", h, s)
		}
		for _, form := range []string{h, strings.ToLower(h), "0x" + strings.ToUpper(h[2:])} {
			b, err := ParseAddress(form)
			if err != nil || b != a {
				t.Fatalf("ParseAddress(%q) = %x, %v; want %x", form, b, err, a)
			}
		}
		txt, err := a.MarshalText()
		if err != nil || string(txt) != h {
			t.Fatalf("MarshalText = %q, %v; want %q", txt, err, h)
		}
		var c Address
		if err := c.UnmarshalText(txt); err != nil || c != a {
			t.Fatalf("UnmarshalText(%q) = %x, %v; want %x", txt, c, err, a)
		}
		if a.IsZero() != (a == Address{}) {
			t.Fatalf("IsZero() wrong for %x", a)
		}
	})
}

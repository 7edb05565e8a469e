package wallet

import (
	"strings"
	"testing"
)

func TestParseNonce(t *testing.T) {
	var n [32]byte
	for i := range n {
		n[i] = byte(0xa0 + i)
	}
	h := NonceHex(n)
	if len(h) != 66 || h != strings.ToLower(h) {
		t.Fatalf("NonceHex = %q, want 0x and 64 lower-case hex digits", h)
	}
	for _, s := range []string{h, "0X" + strings.ToUpper(h[2:])} {
		got, err := ParseNonce(s)
		if err != nil || got != n {
			t.Errorf("ParseNonce(%q) = %x, %v; want %x", s, got, err, n)
		}
	}
	for _, bad := range []string{"", "0x", h[2:], h[:65], h + "0", "0x" + strings.Repeat("g", 64), "1x" + h[2:]} {
		if _, err := ParseNonce(bad); err == nil {
			t.Errorf("ParseNonce(%q) accepted", bad)
		}
	}
}

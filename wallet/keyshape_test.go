package wallet

import (
	"strings"
	"testing"
)

func TestLooksLikeKey(t *testing.T) {
	key := "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	tests := []struct {
		in   string
		want bool
	}{
		{key, true},
		{"0x" + key, true},
		{strings.ToUpper(key), true},
		{" " + key + "\n", true},
		{key + key, true},                        // a longer hex blob
		{"/home/me/keys/" + key + ".json", true}, // a key inside a path
		{"MY_KEY=0x" + key, true},
		{key[:63], false}, // one digit short
		{key[:32] + "-" + key[32:], false},
		{"MY_KEY", false},
		{"TOLL_PRIVATE_KEY", false},
		{"/home/me/.config/toll/key.json", false},
		{"UTC--2024-01-02T03-04-05.000000000Z--f39fd6e51aad88f6f4ce6ab8827279cfffb92266", false}, // geth's keystore file name: an address, 40 digits
		{"", false},
	}
	for _, tt := range tests {
		if got := LooksLikeKey(tt.in); got != tt.want {
			t.Errorf("LooksLikeKey(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

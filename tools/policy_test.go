package tools

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollhq/toll/wallet"
)

// TestPolicyCheck: a policy that could never pay is refused when it is made, by Check and
// by New alike, with a *PolicyError that names the network and the asset concerned.
func TestPolicyCheck(t *testing.T) {
	const (
		token    = "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd"
		usdcBase = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
	)
	addr, err := wallet.ParseAddress(token)
	if err != nil {
		t.Fatal(err)
	}
	checksum := addr.Hex() // the error names the token in its EIP-55 form
	tests := []struct {
		name  string
		pol   Policy
		want  *PolicyError // the *PolicyError Check returns; nil: none
		other bool         // Check returns another error (a network or asset toll cannot read)
	}{
		{"known USDC", Policy{Networks: []string{"eip155:8453"}}, nil, false},
		{"v1 name with known USDC", Policy{Networks: []string{"base-sepolia"}}, nil, false},
		{"no network at all", Policy{}, nil, false},
		{"asset on an allowed network", Policy{Networks: []string{"eip155:8453"}, Assets: []Asset{{Network: "base", Address: token}}}, nil, false},
		{"asset on every network covers an unknown one", Policy{Networks: []string{"eip155:999999"}, Assets: []Asset{{Address: token}}}, nil, false},
		{"asset on the unknown network", Policy{Networks: []string{"eip155:999999"}, Assets: []Asset{{Network: "eip155:999999", Address: token}}}, nil, false},
		{"known USDC as an asset elsewhere", Policy{Networks: []string{"eip155:8453", "eip155:1"}, Assets: []Asset{{Network: "eip155:1", Address: usdcBase}}}, nil, false},

		{"asset on a network not allowed",
			Policy{Networks: []string{"eip155:8453"}, Assets: []Asset{{Network: "eip155:1", Address: token}}},
			&PolicyError{Network: "eip155:1", Asset: checksum, Allowed: []string{"eip155:8453"}, Err: ErrAssetNetworkNotAllowed}, false},
		{"asset on a network, none allowed",
			Policy{Assets: []Asset{{Network: "base", Address: token}}},
			&PolicyError{Network: "base", Asset: checksum, Err: ErrAssetNetworkNotAllowed}, false},
		{"unknown network, no asset",
			Policy{Networks: []string{"eip155:8453", "eip155:999999"}},
			&PolicyError{Network: "eip155:999999", Allowed: []string{"eip155:8453", "eip155:999999"}, Err: ErrNoPayableAsset}, false},
		{"unknown network, an asset only on another",
			Policy{Networks: []string{"eip155:8453", "eip155:999999"}, Assets: []Asset{{Network: "eip155:8453", Address: token}}},
			&PolicyError{Network: "eip155:999999", Allowed: []string{"eip155:8453", "eip155:999999"}, Err: ErrNoPayableAsset}, false},
		{"unreadable network", Policy{Networks: []string{"solana"}}, nil, true},
		{"unreadable asset", Policy{Networks: []string{"base"}, Assets: []Asset{{Address: "0x12"}}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pol.Check()
			w, led := newPayer(t)
			if _, newErr := New(Config{Wallet: w, Ledger: led, Policy: tt.pol}); (err == nil) != (newErr == nil) {
				t.Fatalf("Check = %v but New = %v; want them to agree", err, newErr)
			}
			var pe *PolicyError
			switch {
			case tt.want == nil && !tt.other:
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
			case tt.other:
				if err == nil || errors.As(err, &pe) {
					t.Fatalf("Check = %v, want an error other than a *PolicyError", err)
				}
			case !errors.As(err, &pe):
				t.Fatalf("Check = %v, want a *PolicyError", err)
			default:
				if diff := cmp.Diff(*tt.want, *pe, cmpopts.EquateErrors()); diff != "" {
					t.Errorf("PolicyError (-want +got):\n%s", diff)
				}
				if !errors.Is(err, tt.want.Err) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.want.Err)
				}
			}
		})
	}
}

package server

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// TestFailureText: what the model reads for each kind of failed call. Refusals and payment
// problems say what the user can do in toll's vocabulary and never name a command-line
// flag; an unexpected error reaches the log with its detail and the model without it.
func TestFailureText(t *testing.T) {
	receipt := &tools.Receipt{CallID: "call_1", Status: ledger.StatusUnknown, Amount: money.USDC(1000), Display: "0.001 USDC", Network: "base-sepolia"}
	const secretPath = "/home/someone/.config/toll/ledger.db"
	tests := []struct {
		name       string
		err        error
		want       []string // in the text, in this order
		notWant    []string
		receipt    bool   // the result's meta carries the receipt
		wantLogged string // in the log; "" means nothing is logged
	}{
		{
			name: "session cap",
			err: &tools.RefusedError{Rule: tools.RuleCap, Cap: ledger.CapPerSession, Amount: money.USDC(1000), Limit: money.USDC(500),
				Msg: "weather asks 0.001 USDC, but the per-session cap is 0.0005 USDC", Err: ledger.ErrCapExceeded},
			want:    []string{"Not paid: payment refused (per-session cap): weather asks", "The user can raise the per-session cap in toll's configuration."},
			notWant: []string{"--"},
		},
		{
			name: "network allowlist",
			err: &tools.RefusedError{Rule: tools.RuleNetwork, Msg: "none of the 1 payment requirements fits",
				Reasons: []string{"requirement 1: network base (eip155:8453) is not allowed"}, Err: tools.ErrNoAcceptableRequirement},
			want:    []string{"Not paid: payment refused (network allowlist)", "- requirement 1: network base", "The user can allow that network in toll's configuration."},
			notWant: []string{"--"},
		},
		{
			name: "scheme: no hint",
			err:  &tools.RefusedError{Rule: tools.RuleScheme, Msg: "scheme upto is not supported", Err: tools.ErrNoAcceptableRequirement},
			want: []string{"Not paid: payment refused (scheme): scheme upto"}, notWant: []string{"The user can"},
		},
		{
			name: "payment not settled",
			err: &tools.PaymentError{Reason: "the server answered 402 to the paid request", URL: "https://api.example.com/x",
				Receipt: receipt, Err: tools.ErrPaymentNotSettled},
			want:    []string{"Payment problem: the server answered 402 to the paid request (https://api.example.com/x)", "0.001 USDC counts as spent until `toll ledger reconcile`", "will not pay again"},
			receipt: true,
		},
		{
			name: "upstream",
			err:  fmt.Errorf("%w: GET https://api.example.com/x: connection refused", tools.ErrUpstream),
			want: []string{"upstream error: GET https://api.example.com/x: connection refused"},
		},
		{
			name:       "internal",
			err:        fmt.Errorf("reserve payment in the ledger (nothing was signed): open %s: permission denied", secretPath),
			want:       []string{"weather failed inside toll", "toll's log", "no payment was sent"},
			notWant:    []string{secretPath, "permission denied", "reserve payment"},
			wantLogged: secretPath,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
			res := s.failure(&catalog.Operation{Name: "weather"}, tt.err)
			if !res.IsError || len(res.Content) != 1 {
				t.Fatalf("result: IsError %v, %d contents; want one error text", res.IsError, len(res.Content))
			}
			tc, ok := mcp.AsTextContent(res.Content[0])
			if !ok {
				t.Fatalf("content %T, want text", res.Content[0])
			}
			rest := tc.Text
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("text %q lacks %q (in order)", tc.Text, w)
				}
				rest = rest[i+len(w):]
			}
			for _, nw := range tt.notWant {
				if strings.Contains(tc.Text, nw) {
					t.Errorf("text %q contains %q", tc.Text, nw)
				}
			}
			gotReceipt := res.Meta != nil && res.Meta.AdditionalFields[MetaReceipt] != nil
			if gotReceipt != tt.receipt {
				t.Errorf("receipt in meta: %v, want %v", gotReceipt, tt.receipt)
			}
			if tt.wantLogged == "" && logs.Len() > 0 {
				t.Errorf("logged %q, want nothing", logs.String())
			}
			if tt.wantLogged != "" && !strings.Contains(logs.String(), tt.wantLogged) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLogged)
			}
		})
	}
}

package paidmcp

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/x402"
)

// TestExtensionResult: only a result of type payment_required is rewritten, into
// resultType, paymentRequired and _meta; a JSON message, an event stream's data line.
func TestExtensionResult(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // "" when the message must pass unchanged
	}{
		{"payment required",
			`{"jsonrpc":"2.0","id":3,"result":{"_meta":{"k":1},"content":[],"resultType":"payment_required","structuredContent":{"x402Version":2,"accepts":[]}}}`,
			`{"id":3,"jsonrpc":"2.0","result":{"_meta":{"k":1},"paymentRequired":{"x402Version":2,"accepts":[]},"resultType":"payment_required"}}`},
		{"complete result quoting the word",
			`{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"\"payment_required\""}],"resultType":"complete"}}`, ""},
		{"error", `{"jsonrpc":"2.0","id":5,"error":{"code":-32600,"message":"payment_required"}}`, ""},
		{"not JSON", `payment_required`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(extensionResult([]byte(tc.in)))
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			stream := "event: message\ndata: " + tc.in + "\n\n"
			if got, want := string(rewriteEvents([]byte(stream))), "event: message\ndata: "+want+"\n\n"; got != want {
				t.Errorf("event stream:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

// FuzzExtensionResult: any input comes out unchanged or as valid JSON with a
// payment_required result.
func FuzzExtensionResult(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":3,"result":{"resultType":"payment_required","structuredContent":{}}}`))
	f.Add([]byte(`{"result":{"resultType":"payment_required"}}`))
	f.Add([]byte(`"payment_required"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := extensionResult(in)
		if string(out) == string(in) {
			return
		}
		var m struct {
			Result struct {
				ResultType string `json:"resultType"`
			} `json:"result"`
		}
		if err := json.Unmarshal(out, &m); err != nil || m.Result.ResultType != x402.ResultTypePaymentRequired {
			t.Fatalf("rewrote %q into %q (%v)", in, out, err)
		}
	})
}

// TestCapabilities: the spec dialect advertises org.x402/payment in its capabilities
// (initialize, and server/discover on 2026-07-28); x402-mcp does not.
func TestCapabilities(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		dialect Dialect
		want    map[string]any
	}{
		{DialectSpec, map[string]any{x402.ExtensionMCPPayment: map[string]any{}}},
		{DialectX402MCP, nil},
	} {
		t.Run(tc.dialect.String(), func(t *testing.T) {
			_, url := newServer(t, Options{World: w, Dialect: tc.dialect})
			var caps struct {
				Capabilities struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"capabilities"`
			}
			legacy := &rpcClient{t: t, era: eraLegacy, url: url}
			raw, err := legacy.request("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
				"clientInfo": map[string]any{"name": "paidmcp-test", "version": "0"}})
			if err != nil || json.Unmarshal(raw, &caps) != nil {
				t.Fatalf("initialize: %v %s", err, raw)
			}
			if diff := cmp.Diff(tc.want, caps.Capabilities.Extensions); diff != "" {
				t.Errorf("initialize: extensions (-want +got):\n%s", diff)
			}
			modern := &rpcClient{t: t, era: eraModernExt, url: url}
			raw, err = modern.request("server/discover", map[string]any{})
			caps.Capabilities.Extensions = nil
			if err != nil || json.Unmarshal(raw, &caps) != nil {
				t.Fatalf("server/discover: %v %s", err, raw)
			}
			if diff := cmp.Diff(tc.want, caps.Capabilities.Extensions); diff != "" {
				t.Errorf("server/discover: extensions (-want +got):\n%s", diff)
			}
		})
	}
}

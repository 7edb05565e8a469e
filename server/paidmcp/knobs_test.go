package paidmcp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// TestPriceAfterPayment: the first payment for a tool gets a corrective payment required
// at the new price, nothing verified, run or settled; a payment of the new price goes
// through.
func TestPriceAfterPayment(t *testing.T) {
	w := newWorld(t)
	s, url := newServer(t, Options{World: w, PriceAfterPayment: money.USDC(2_000)})
	c := newHTTPClient(t, url, eraModernExt)
	payer := fundedPayer(t, w)
	ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	if got := ch.Options[0].Amount.AtomicString(); got != "1000" {
		t.Fatalf("first price %s, want 1000", got)
	}
	r := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
	moved := r.challenge(t)
	if got := moved.Options[0].Amount.AtomicString(); got != "2000" || !strings.Contains(moved.Error, "changed") {
		t.Fatalf("after a payment: price %s, reason %q; want 2000 and a price change", got, moved.Error)
	}
	if s.ToolRuns(ToolWeather) != 0 || balance(t, w, payer.Address().Hex()) != 1_000_000 {
		t.Fatalf("the first payment was used: %d runs, balance %d", s.ToolRuns(ToolWeather), balance(t, w, payer.Address().Hex()))
	}
	paid := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, moved))
	if paid.IsError || paid.settlement(t) == nil {
		t.Fatalf("payment of the new price: %s", paid.raw)
	}
	if got := balance(t, w, payer.Address().Hex()); got != 1_000_000-2_000 {
		t.Errorf("payer balance %d, want %d", got, 1_000_000-2_000)
	}
}

// TestPayerInResponse: the payment-response names another payer; the real payer paid.
func TestPayerInResponse(t *testing.T) {
	w := newWorld(t)
	other := "0x1111111111111111111111111111111111111111"
	_, url := newServer(t, Options{World: w, PayerInResponse: other})
	c := newHTTPClient(t, url, eraLegacy)
	payer := fundedPayer(t, w)
	ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	paid := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch))
	if sr := paid.settlement(t); sr == nil || sr.Payer != other || !sr.Success {
		t.Errorf("settlement %+v, want payer %s", sr, other)
	}
	if got := balance(t, w, payer.Address().Hex()); got != 1_000_000-1_000 {
		t.Errorf("payer balance %d, want %d", got, 1_000_000-1_000)
	}
}

// TestHugeRequired: the PaymentRequired is padded past the size a client accepts, in
// both bindings.
func TestHugeRequired(t *testing.T) {
	const size = 2 << 20
	w := newWorld(t)
	_, url := newServer(t, Options{World: w, HugeRequired: size})
	for _, e := range []era{eraLegacy, eraModernExt} {
		c := newHTTPClient(t, url, e)
		r := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil)
		pr := r.StructuredContent
		if e == eraModernExt {
			pr = r.PaymentRequired
		}
		if len(pr) < size {
			t.Errorf("%s: PaymentRequired of %d bytes, want at least %d", e, len(pr), size)
		}
		if _, err := x402.ParsePaymentRequired(pr); err == nil {
			t.Errorf("%s: a %d byte PaymentRequired parsed; want it refused for its size", e, len(pr))
		}
	}
}

// TestPaymentIdentifier: the extension is advertised; a resend of the same payload with
// the same id gets the kept answer with one transfer only; the same id with another
// payload is a conflict (409); without an id, a server that requires one answers 400.
func TestPaymentIdentifier(t *testing.T) {
	w := newWorld(t)
	s, url := newServer(t, Options{World: w, PaymentIdentifier: &PaymentIdentifierOptions{}})
	c := newHTTPClient(t, url, eraModernExt)
	payer := fundedPayer(t, w)
	ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	if offered, required := ch.PaymentIdentifier(); !offered || required {
		t.Fatalf("payment-identifier offered %v, required %v; want offered, not required", offered, required)
	}
	const id = "pay_0123456789abcdef0123456789abcdef"
	key, value, err := ch.PaymentMetaWithID(0, sign(t, payer, ch, 0), id)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{key: value}
	first := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, meta)
	second := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, meta)
	sr1, sr2 := first.settlement(t), second.settlement(t)
	if sr1 == nil || sr2 == nil || !sr1.Success || sr1.Transaction != sr2.Transaction || first.text() != second.text() {
		t.Fatalf("resend: %s\nfirst: %s", second.raw, first.raw)
	}
	if s.Settlements() != 1 || s.ToolRuns(ToolWeather) != 1 || balance(t, w, payer.Address().Hex()) != 1_000_000-1_000 {
		t.Errorf("%d settlements, %d runs, balance %d; want one payment", s.Settlements(), s.ToolRuns(ToolWeather), balance(t, w, payer.Address().Hex()))
	}

	_, other, err := ch.PaymentMetaWithID(0, sign(t, payer, ch, 0), id)
	if err != nil {
		t.Fatal(err)
	}
	conflict := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, map[string]any{key: other})
	if got := status(t, conflict); got != 409 {
		t.Errorf("another payload with the same id: status %d, want 409: %s", got, conflict.raw)
	}

	s3, url3 := newServer(t, Options{World: w, PaymentIdentifier: &PaymentIdentifierOptions{ConflictOnResend: true}})
	c3 := newHTTPClient(t, url3, eraLegacy)
	ch3 := c3.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	key3, value3, err := ch3.PaymentMetaWithID(0, sign(t, payer, ch3, 0), "pay_conflict_0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if r := c3.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, map[string]any{key3: value3}); r.IsError {
		t.Fatalf("first payment: %s", r.raw)
	}
	resend := c3.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, map[string]any{key3: value3})
	if got := status(t, resend); got != 409 || s3.Settlements() != 1 {
		t.Errorf("ConflictOnResend: status %d, %d settlements; want 409 and 1", got, s3.Settlements())
	}

	s2, url2 := newServer(t, Options{World: w, PaymentIdentifier: &PaymentIdentifierOptions{Required: true}})
	c2 := newHTTPClient(t, url2, eraLegacy)
	ch2 := c2.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
	if _, required := ch2.PaymentIdentifier(); !required {
		t.Errorf("required not advertised")
	}
	noID := c2.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, paymentMeta(t, payer, ch2))
	if got := status(t, noID); got != 400 || s2.ToolRuns(ToolWeather) != 0 {
		t.Errorf("no id where one is required: status %d, %d runs; want 400 and none: %s", got, s2.ToolRuns(ToolWeather), noID.raw)
	}
}

// status reads the status of a tool error that is not a payment required.
func status(t *testing.T, r *toolResult) int {
	t.Helper()
	var sc struct {
		Status int `json:"status"`
	}
	if !r.IsError || json.Unmarshal(r.StructuredContent, &sc) != nil {
		t.Fatalf("want a tool error with a status: %s", r.raw)
	}
	return sc.Status
}

// TestCutAfterSettle: the first settled call loses its answer with the connection (HTTP
// and stdio); resending the identical payment with its id on a new connection recovers
// the kept answer, with one transfer on chain.
func TestCutAfterSettle(t *testing.T) {
	for _, stdio := range []bool{false, true} {
		name := "http"
		if stdio {
			name = "stdio"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			opts := Options{World: w, CutAfterSettle: true, PaymentIdentifier: &PaymentIdentifierOptions{}}
			s, url := newServer(t, opts)
			connect := func() (*rpcClient, <-chan error) {
				if stdio {
					return newStdioClient(t, s, eraLegacy)
				}
				return newHTTPClient(t, url, eraLegacy), nil
			}
			c, served := connect()
			payer := fundedPayer(t, w)
			ch := c.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, nil).challenge(t)
			key, value, err := ch.PaymentMetaWithID(0, sign(t, payer, ch, 0), "pay_cut_0123456789abcdef")
			if err != nil {
				t.Fatal(err)
			}
			meta := map[string]any{key: value}
			if r, err := c.callTool(ToolWeather, map[string]any{"city": "Oslo"}, meta); err == nil {
				t.Fatalf("the first paid call was answered: %s", r.raw)
			}
			if served != nil {
				if err := <-served; !errors.Is(err, ErrCut) {
					t.Errorf("ServeStdio returned %v, want ErrCut", err)
				}
			}
			if s.Settlements() != 1 || balance(t, w, payer.Address().Hex()) != 1_000_000-1_000 {
				t.Fatalf("before the resend: %d settlements, balance %d", s.Settlements(), balance(t, w, payer.Address().Hex()))
			}
			c2, _ := connect()
			r := c2.mustCall(ToolWeather, map[string]any{"city": "Oslo"}, meta)
			if sr := r.settlement(t); r.IsError || sr == nil || !sr.Success || !strings.Contains(r.text(), "Oslo") {
				t.Fatalf("resend: %s", r.raw)
			}
			if s.Settlements() != 1 || s.ToolRuns(ToolWeather) != 1 || balance(t, w, payer.Address().Hex()) != 1_000_000-1_000 {
				t.Errorf("after the resend: %d settlements, %d runs, balance %d; want one payment", s.Settlements(), s.ToolRuns(ToolWeather), balance(t, w, payer.Address().Hex()))
			}
		})
	}
}

// TestNewRefuses: options New refuses, each with a message saying what to change.
func TestNewRefuses(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		opts Options
		want string
	}{
		{Options{}, "World is required"},
		{Options{World: w, Dialect: Dialect(7)}, "unknown dialect"},
		{Options{World: w, PayerInResponse: "nobody"}, "PayerInResponse"},
		{Options{World: w, Dialect: DialectX402MCP, PaymentIdentifier: &PaymentIdentifierOptions{}}, "version 1"},
		{Options{World: w, PriceAfterPayment: money.USDC(-1)}, "negative"},
		{Options{World: w, Signer: &Signer{Offers: true}}, "Signer.Sign is required"},
	}
	for _, tc := range cases {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
}

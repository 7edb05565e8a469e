package tools

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// atCallSpec declares a 402 response on each operation and advertises no price: the
// catalog prices them at call time.
const atCallSpec = `openapi: 3.0.3
info: {title: At Call, version: "1"}
servers:
  - url: http://127.0.0.1:8402
paths:
  /quote:
    get:
      operationId: quote
      responses:
        "200": {description: A quote}
        "402": {description: Payment Required}
  /archive:
    get:
      operationId: archive
      responses:
        "200": {description: The archive}
        "402": {description: Payment Required}
`

// TestPriceAtCallOnLocalWorld: an operation that declares a 402 response and advertises
// no price is paid what its 402 asks when that is within the per-call cap (x402 v1 and
// v2), refused above it with nothing signed, and refused outright when no per-call cap
// bounds it.
func TestPriceAtCallOnLocalWorld(t *testing.T) {
	const (
		cheap   = 20_000  // 0.02 USDC, under the cap
		dear    = 500_000 // 0.5 USDC, over it
		perCall = 100_000 // 0.1 USDC
	)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	lw := newLocalWorld(t, x402test.Options{
		Routes: []x402test.Route{
			{Method: http.MethodGet, Pattern: "/quote", Price: money.USDC(cheap), Version: 2, Handler: ok},
			{Method: http.MethodGet, Pattern: "/archive", Price: money.USDC(dear), Version: 1, Handler: ok},
		},
		Spec: []byte(atCallSpec),
	}, 1_000_000)
	ops := lw.ops(t, "")
	for _, id := range []string{"quote", "archive"} {
		if p := ops[id].Price; p == nil || p.Mode != catalog.PriceAtCall {
			t.Fatalf("%s: price %+v, want one set at call time", id, p)
		}
	}
	policy := Policy{
		Networks: []string{lw.world.Chain.NetworkV2()},
		Assets:   []Asset{{Address: lw.world.Chain.TokenAddress()}},
		Caps:     ledger.Caps{PerCall: ptr(money.USDC(perCall))},
	}
	c, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	before := lw.balance(t)
	args := json.RawMessage(`{}`)

	res, err := c.Call(t.Context(), Call{Op: ops["quote"], Arguments: args, Session: "s"})
	if err != nil {
		t.Fatalf("quote: %v", err)
	}
	if res.Payment == nil || res.Payment.Status != ledger.StatusSettled || res.Payment.Amount.Cmp(money.USDC(cheap)) != 0 {
		t.Fatalf("quote: payment %+v, want %s settled", res.Payment, money.USDC(cheap))
	}

	_, err = c.Call(t.Context(), Call{Op: ops["archive"], Arguments: args, Session: "s"})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Rule != RuleCap || refused.Cap != ledger.CapPerCall || refused.Amount.Cmp(money.USDC(dear)) != 0 {
		t.Fatalf("archive: %v, want a refusal by the per-call cap of %s", err, money.USDC(dear))
	}

	noCap := policy
	noCap.Caps = ledger.Caps{PerSession: ptr(money.USDC(1_000_000))}
	c2, err := New(Config{Wallet: lw.wallet, Ledger: lw.led, Policy: noCap})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.Call(t.Context(), Call{Op: ops["quote"], Arguments: args, Session: "s2"})
	if !errors.As(err, &refused) || refused.Rule != RuleCap || !errors.Is(err, ErrNoAcceptableRequirement) {
		t.Fatalf("quote without a per-call cap: %v, want a refusal", err)
	}

	// One payment left the wallet, the quote's: the chain, the world and the ledger agree.
	if spent := before.Sub(lw.balance(t)); spent.Cmp(money.USDC(cheap)) != 0 {
		t.Errorf("payer spent %s on chain, want %s", spent, money.USDC(cheap))
	}
	if s := lw.world.Settlements(); len(s) != 1 || s[0].Route != "GET /quote" {
		t.Errorf("settlements %+v, want the quote's only", s)
	}
	if n := lw.world.HandlerRuns("GET /archive"); n != 0 {
		t.Errorf("archive handler ran %d times", n)
	}
	spends, err := lw.led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 1 || spends[0].Tool != ops["quote"].Name {
		t.Errorf("ledger spends %+v, want the quote's only", spends)
	}
}

package tools

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402test"
)

// BenchmarkPaidCallInstant is toll's own cost per paid call: two HTTP exchanges on
// loopback with an API that answers at once (no facilitator, no chain), the choice, the
// ledger reservation and outcome (two fsync'd bbolt transactions) and the signature. The
// parallel variant runs 8 calls at once (b.SetParallelism(4) on 2 cores).
func BenchmarkPaidCallInstant(b *testing.B) {
	api := &hostileAPI{unpaid: write402(good()), paid: settledOK}
	f := serveFixture(b, api, Policy{Networks: []string{"base-sepolia"}})
	c, op := f.client, f.op
	args := json.RawMessage(`{"id":"1"}`)
	one := func() error {
		res, err := c.Call(b.Context(), Call{Op: op, Arguments: args, Session: "bench"})
		if err == nil && (res.Payment == nil || res.Payment.Status != ledger.StatusSettled) {
			err = fmt.Errorf("not settled: %+v", res)
		}
		return err
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := one(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel8", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := one(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkPaidCallLocalWorld is a whole paid call against the local x402 world: 402,
// choice, reservation, signature, retry, facilitator verify and on-chain settlement of a
// real EIP-3009 transfer, outcome.
func BenchmarkPaidCallLocalWorld(b *testing.B) {
	ctx := b.Context()
	lw := newLocalWorld(b, x402test.Options{MaxClockSkew: 24 * time.Hour, MaxTimeoutSeconds: 48 * 3600}, 1_000_000_000_000)
	world, w, led := lw.world, lw.wallet, lw.led
	op := lw.ops(b, "")["getWeather"]
	c, err := New(Config{Wallet: w, Ledger: led, Policy: Policy{
		Networks:  []string{world.Chain.NetworkV2()},
		Assets:    []Asset{{Address: world.Chain.TokenAddress()}},
		MaxWindow: 48 * time.Hour,
	}})
	if err != nil {
		b.Fatal(err)
	}
	args := json.RawMessage(`{"city":"Oslo"}`)
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Call(ctx, Call{Op: op, Arguments: args, Session: "bench"})
		if err != nil || res.Payment == nil || res.Payment.Status != ledger.StatusSettled {
			b.Fatalf("call: %v %+v", err, res)
		}
	}
}

package tools

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// BenchmarkPaidCallSteps is the serial case of BenchmarkPaidCallInstant with the time
// spent up to each Step of the paid call reported as a metric (µs per call, from the
// previous step; "reserved" counts from the start of the call, so it holds the unpaid
// request, the choice and the reservation's commit). The checkpoints themselves cost a
// little: the serial figure is BenchmarkPaidCallInstant's.
func BenchmarkPaidCallSteps(b *testing.B) {
	api := &hostileAPI{unpaid: write402(good()), paid: settledOK}
	srv := httptest.NewServer(api)
	b.Cleanup(srv.Close)
	var (
		last  time.Time
		spent = map[Step]time.Duration{}
	)
	f := newFixture(b, srv.URL, Policy{Networks: []string{"base-sepolia"}})
	c, err := New(Config{Wallet: f.wallet, Ledger: f.ledger, Policy: Policy{Networks: []string{"base-sepolia"}},
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
		Checkpoint: func(s Step) {
			now := time.Now()
			spent[s] += now.Sub(last)
			last = now
		}})
	if err != nil {
		b.Fatal(err)
	}
	args := json.RawMessage(`{"id":"1"}`)
	for b.Loop() {
		last = time.Now()
		res, err := c.Call(b.Context(), Call{Op: f.op, Arguments: args, Session: "bench"})
		if err != nil || res.Payment == nil || res.Payment.Status != ledger.StatusSettled {
			b.Fatalf("call: %v %+v", err, res)
		}
	}
	for _, s := range []Step{StepReserved, StepSigned, StepSent, StepResponded, StepRecorded} {
		b.ReportMetric(float64(spent[s])/1e3/float64(b.N), string(s)+"-µs/op")
	}
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

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// runDemo is "toll demo": the main job end to end on a local x402 world.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("toll demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ledgerPath := fs.String("ledger", "", "keep the demo ledger in this file (default: a temporary file, removed at the end)")
	verbose := fs.Bool("v", false, "show toll's logs on stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: toll demo [-v] [--ledger FILE]\n\nRun paid MCP tool calls end to end on a local x402 world: a simulated EVM with an EIP-3009 USDC,\na facilitator and a paid weather API on 127.0.0.1. No network, no money.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("toll demo takes no arguments")
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d := &demo{out: stdout, log: logger}
	return d.run(ctx, *ledgerPath)
}

type demo struct {
	out   io.Writer
	log   *slog.Logger
	world *x402test.World
	payer string
	step  int
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) section(title string) {
	d.step++
	d.printf("\n%d. %s\n", d.step, title)
}

func (d *demo) run(ctx context.Context, ledgerPath string) (err error) {
	start := time.Now()
	d.printf("toll demo: an agent pays for API calls by itself, within caps, on a local x402 world.\n")
	d.printf("Everything runs in this process on 127.0.0.1: a simulated EVM (go-ethereum), an EIP-3009 USDC token,\n")
	d.printf("an x402 facilitator and a paid weather API. No network, no real money.\n")

	world, err := x402test.Start(ctx, x402test.Options{Logger: d.log})
	if err != nil {
		return fmt.Errorf("start the local x402 world: %w", err)
	}
	defer world.Close()
	d.world = world

	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		return err
	}
	d.payer = w.Address().Hex()
	funding := money.USDC(1_000_000) // 1 USDC
	if err := world.Fund(ctx, d.payer, funding.Atomic()); err != nil {
		return fmt.Errorf("fund the demo wallet: %w", err)
	}
	if ledgerPath == "" {
		dir, err := os.MkdirTemp("", "toll-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ledgerPath = filepath.Join(dir, "ledger.db")
	}
	led, err := ledger.Open(ledgerPath, ledger.Options{})
	if err != nil {
		return err
	}
	defer led.Close()

	pol := tools.Policy{
		Networks: []string{world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Network: world.Chain.NetworkV2(), Address: world.Chain.TokenAddress()}},
		Caps: ledger.Caps{
			PerCall:    ptr(money.USDC(500_000)), // 0.50 USDC
			PerSession: ptr(money.USDC(50_000)),  // 0.05 USDC
		},
	}
	api, err := catalog.Load(ctx, world.SpecYAML(), "weather.yaml (served by the local paid API)", catalog.Options{})
	if err != nil {
		return err
	}
	client, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: pol, Logger: d.log})
	if err != nil {
		return err
	}
	srv, err := server.New(client, api.Operations, server.Options{Version: version(), Logger: d.log})
	if err != nil {
		return err
	}
	mc, err := srv.Connect(ctx)
	if err != nil {
		return err
	}
	defer mc.Close()

	d.section("The local world")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "   chain\t%s (x402 v1 name %s), simulated go-ethereum backend\n", world.Chain.NetworkV2(), world.Chain.NetworkV1())
	fmt.Fprintf(tw, "   token\tUSDC (EIP-3009) at %s\n", world.Chain.TokenAddress())
	fmt.Fprintf(tw, "   facilitator\t%s (verifies signatures, settles on the chain)\n", world.FacilitatorURL)
	fmt.Fprintf(tw, "   paid API\t%s (answers 402 with x402 terms)\n", world.APIURL)
	fmt.Fprintf(tw, "   agent wallet\t%s, a fresh key funded with %s USDC\n", d.payer, funding)
	fmt.Fprintf(tw, "   caps\t%s USDC per call, %s USDC per session\n", pol.Caps.PerCall, pol.Caps.PerSession)
	fmt.Fprintf(tw, "   ledger\t%s (bbolt)\n", ledgerPath)
	tw.Flush()

	d.section("The tools an MCP host sees (tools/list), with their prices")
	list, err := mc.Tools(ctx)
	if err != nil {
		return err
	}
	tw = tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   TOOL\tPRICE\tPRICE IN _meta")
	for _, t := range list {
		price, meta := "free", "-"
		if t.Price != nil {
			price = fmt.Sprint(t.Price["display"])
			meta = fmt.Sprintf("amount=%v decimals=%v network=%v", t.Price["amount"], t.Price["decimals"], t.Price["network"])
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\n", t.Name, price, meta)
	}
	tw.Flush()

	byOp := map[string]string{}
	for _, op := range api.Operations {
		byOp[op.OperationID] = op.Name
	}
	payTo := world.PayTo()

	d.section("A free call")
	if _, err := d.call(ctx, mc, byOp["health"], map[string]any{}, false); err != nil {
		return err
	}

	d.section("A paid call: x402 version 1 (402 JSON body, X-PAYMENT header)")
	if err := d.paid(ctx, mc, byOp["getWeather"], map[string]any{"city": "Oslo", "units": "metric"}, payTo, money.USDC(1000)); err != nil {
		return err
	}

	d.section("A paid call: x402 version 2 (PAYMENT-REQUIRED / PAYMENT-SIGNATURE headers)")
	if err := d.paid(ctx, mc, byOp["createReport"], map[string]any{"body": map[string]any{"city": "Lisbon", "days": 3}}, payTo, money.USDC(5000)); err != nil {
		return err
	}

	d.section("A call the session cap refuses (0.25 USDC asked, 0.05 USDC per session)")
	before, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	spendsBefore, err := led.Spends(ctx)
	if err != nil {
		return err
	}
	res, err := d.call(ctx, mc, byOp["getClimateHistory"], map[string]any{"city": "Oslo"}, true)
	if err != nil {
		return err
	}
	after, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	spendsAfter, err := led.Spends(ctx)
	if err != nil {
		return err
	}
	if !res.IsError || before[0].Cmp(after[0]) != 0 || before[1].Cmp(after[1]) != 0 || len(spendsAfter) != len(spendsBefore) {
		return errors.New("demo check failed: the over-cap call was not refused cleanly")
	}
	d.printf("   ✓ refused before signing: balances unchanged (payer %s, payTo %s USDC), no reservation written\n",
		after[0], after[1])

	d.section("The ledger, as an auditor sees it (toll ledger list)")
	spends, err := led.Spends(ctx)
	if err != nil {
		return err
	}
	var sb strings.Builder
	if err := writeSpendTable(&sb, spends); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(sb.String(), "\n"), "\n") {
		d.printf("   %s\n", line)
	}
	events, err := led.Events(ctx)
	if err != nil {
		return err
	}
	kinds := map[string]int{}
	for _, e := range events {
		kinds[string(e.Kind)]++
	}
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	if err := led.Verify(ctx); err != nil {
		return fmt.Errorf("demo check failed: %w", err)
	}
	settled := world.Settlements()
	for _, s := range spends {
		if s.Status != ledger.StatusSettled {
			return fmt.Errorf("demo check failed: spend %s is %s, want settled", s.CallID, s.Status)
		}
	}
	if len(settled) != len(spends) {
		return fmt.Errorf("demo check failed: %d settlements on chain, %d in the ledger", len(settled), len(spends))
	}
	for i := range spends {
		if spends[i].TxHash != settled[i].TxHash {
			return fmt.Errorf("demo check failed: ledger transaction %s, chain transaction %s", spends[i].TxHash, settled[i].TxHash)
		}
	}
	d.printf("   %d events (%s); hash chain verified; the %d transactions match the settlements on the chain.\n", len(events), strings.Join(parts, ", "), len(settled))
	d.printf("\nDone in %.1f s. Point an MCP host at `toll serve` to do the same with real APIs (see README.md).\n", time.Since(start).Seconds())
	return nil
}

// call calls a tool and prints the result; wantErr says whether an error result is expected.
func (d *demo) call(ctx context.Context, mc *server.LocalClient, tool string, args map[string]any, wantErr bool) (*server.CallResult, error) {
	d.printf("   → tools/call %s %s\n", tool, compactJSON(args))
	res, err := mc.Call(ctx, tool, args)
	if err != nil {
		return nil, err
	}
	marker := "←"
	if res.IsError {
		marker = "← isError:"
	}
	first := true
	for _, line := range strings.Split(res.Text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "Cost:") {
			line = clip(line, 150)
		}
		if first {
			d.printf("   %s %s\n", marker, line)
			first = false
			continue
		}
		d.printf("     %s\n", line)
	}
	if res.IsError != wantErr {
		return nil, fmt.Errorf("demo check failed: %s returned isError=%v", tool, res.IsError)
	}
	return res, nil
}

// paid makes one paid call and shows and checks the balances move by exactly price.
func (d *demo) paid(ctx context.Context, mc *server.LocalClient, tool string, args map[string]any, payTo string, price money.Amount) error {
	before, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	if _, err := d.call(ctx, mc, tool, args, false); err != nil {
		return err
	}
	after, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	dPayer := before[0].Sub(after[0])
	dPayTo := after[1].Sub(before[1])
	d.printf("   on chain: payer %s → %s USDC, payTo %s → %s USDC\n", before[0], after[0], before[1], after[1])
	if dPayer.Cmp(price) != 0 || dPayTo.Cmp(price) != 0 {
		return fmt.Errorf("demo check failed: balances moved by %s and %s, want %s", dPayer, dPayTo, price)
	}
	d.printf("   ✓ exactly the advertised %s USDC moved\n", price)
	return nil
}

func (d *demo) balances(ctx context.Context, payTo string) ([2]money.Amount, error) {
	a, err := d.world.BalanceOf(ctx, d.payer)
	if err != nil {
		return [2]money.Amount{}, err
	}
	b, err := d.world.BalanceOf(ctx, payTo)
	if err != nil {
		return [2]money.Amount{}, err
	}
	return [2]money.Amount{money.New(a, x402test.TokenDecimals), money.New(b, x402test.TokenDecimals)}, nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
func ptr[T any](v T) *T { return &v }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// demoCmd is "toll demo": the main job end to end on a local x402 world.
type demoCmd struct {
	*app
	ledger  string
	verbose bool
}

func (a *app) demoCommand() *cobra.Command {
	d := &demoCmd{app: a}
	c := &cobra.Command{
		Use:   "demo [flags]",
		Short: "run paid calls end to end on a built-in local x402 world (no network, no money)",
		Long: `Run paid MCP tool calls end to end on a local x402 world: a simulated EVM with an EIP-3009 USDC,
a facilitator and a paid weather API on 127.0.0.1. No network, no money.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return d.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.StringVar(&d.ledger, "ledger", "", "keep the demo ledger in this file (default: a temporary file, removed at the end)")
	fs.BoolVarP(&d.verbose, "verbose", "v", false, "show toll's logs on stderr")
	return c
}

func (d *demoCmd) run(ctx context.Context) error {
	logger := slog.New(slog.DiscardHandler)
	if d.verbose {
		logger = slog.New(slog.NewTextHandler(d.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	dm := &demo{out: d.stdout, log: logger, ledgerPath: d.ledger}
	defer dm.close()
	return dm.run(ctx)
}

// demo is one run of the demo: the world, the agent's wallet, toll's MCP server and the
// client that drives it, and what it has printed so far.
type demo struct {
	out        io.Writer
	log        *slog.Logger
	ledgerPath string
	closers    []func()

	world   *x402test.World
	payer   string
	funding money.Amount
	led     *ledger.Ledger
	pol     tools.Policy
	mc      *server.LocalClient
	byOp    map[string]string // operationId → tool name
	step    int
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) section(title string) {
	d.step++
	d.printf("\n%d. %s\n", d.step, title)
}

// close releases what the demo started, in reverse order.
func (d *demo) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

func (d *demo) run(ctx context.Context) error {
	start := time.Now()
	d.printf("toll demo: an agent pays for API calls by itself, within caps, on a local x402 world.\n")
	d.printf("Everything runs in this process on 127.0.0.1: a simulated EVM (go-ethereum), an EIP-3009 USDC token,\n")
	d.printf("an x402 facilitator, a paid weather API and a paid MCP server. No network, no real money.\n")
	for _, step := range []func(context.Context) error{
		d.startWorld, d.startToll, d.showWorld, d.showTools, d.freeCall, d.paidCalls, d.paidMCPCall, d.refusedCall, d.showLedger,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	d.printf("\nDone in %.1f s. Point an MCP host at `toll serve` to do the same with real APIs (see README.md).\n", time.Since(start).Seconds())
	return nil
}

// startWorld starts the local x402 world, with its paid MCP server (demomcp.go) and its
// chain's JSON-RPC (for matchChain's audit).
func (d *demo) startWorld(ctx context.Context) error {
	world, _, err := startMCPWorld(ctx, x402test.Options{Logger: d.log, RPCAddr: "127.0.0.1:0"}, paidmcp.Options{Logger: d.log})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() { world.Close() })
	d.world = world
	d.funding = money.USDC(1_000_000) // 1 USDC
	d.pol = tools.Policy{
		Networks: []string{world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Network: world.Chain.NetworkV2(), Address: world.Chain.TokenAddress()}},
		Caps: ledger.Caps{
			PerCall:    ptr(money.USDC(500_000)), // 0.50 USDC
			PerSession: ptr(money.USDC(50_000)),  // 0.05 USDC
		},
	}
	return nil
}

// startToll opens the ledger, loads the world's spec and connects an MCP client to toll's
// server, paying from a fresh wallet the world funds.
func (d *demo) startToll(ctx context.Context) error {
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		return err
	}
	d.payer = w.Address().Hex()
	if err := d.world.Fund(ctx, d.payer, d.funding); err != nil {
		return fmt.Errorf("fund the demo wallet: %w", err)
	}
	if d.ledgerPath == "" {
		dir, err := os.MkdirTemp("", "toll-demo-")
		if err != nil {
			return err
		}
		d.closers = append(d.closers, func() { os.RemoveAll(dir) })
		d.ledgerPath = filepath.Join(dir, "ledger.db")
	}
	if d.led, err = ledger.Open(d.ledgerPath, ledger.Options{Signer: headSigner{w}}); err != nil {
		return err
	}
	d.closers = append(d.closers, func() { d.led.Close() })
	if err := trustLedger(ctx, d.led, d.ledgerPath); err != nil {
		return err
	}
	api, err := catalog.Load(ctx, d.world.SpecYAML(), "weather.yaml (served by the local paid API)", catalog.Options{})
	if err != nil {
		return err
	}
	d.byOp = map[string]string{}
	for _, op := range api.Operations {
		d.byOp[op.OperationID] = op.Name
	}
	client, err := tools.New(tools.Config{Wallet: w, Ledger: d.led, Policy: d.pol, Logger: d.log})
	if err != nil {
		return err
	}
	up, err := d.connectPaidMCP(ctx)
	if err != nil {
		return err
	}
	srv, err := server.New(client, api.Operations, server.Options{Version: version(), Logger: d.log, Upstreams: []server.Upstream{up}})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() { srv.Close() })
	if d.mc, err = srv.Connect(ctx); err != nil {
		return err
	}
	d.closers = append(d.closers, func() { d.mc.Close() })
	return nil
}

func (d *demo) showWorld(context.Context) error {
	d.section("The local world")
	c := d.world.Chain
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "   chain\t%s (x402 v1 name %s), simulated go-ethereum backend\n", c.NetworkV2(), c.NetworkV1())
	fmt.Fprintf(tw, "   token\tUSDC (EIP-3009) at %s\n", c.TokenAddress())
	fmt.Fprintf(tw, "   facilitator\t%s (verifies signatures, settles on the chain)\n", d.world.FacilitatorURL)
	fmt.Fprintf(tw, "   paid API\t%s (answers 402 with x402 terms)\n", d.world.APIURL)
	fmt.Fprintf(tw, "   paid MCP server\t%s (its tools ask to be paid in MCP)\n", d.mcpURL())
	fmt.Fprintf(tw, "   agent wallet\t%s, a fresh key funded with %s USDC\n", d.payer, d.funding)
	fmt.Fprintf(tw, "   caps\t%s USDC per call, %s USDC per session\n", d.pol.Caps.PerCall, d.pol.Caps.PerSession)
	fmt.Fprintf(tw, "   ledger\t%s (bbolt)\n", d.ledgerPath)
	return tw.Flush()
}

func (d *demo) showTools(ctx context.Context) error {
	d.section("The tools an MCP host sees (tools/list), with their prices")
	list, err := d.mc.Tools(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   TOOL\tPRICE\tPRICE IN _meta")
	for _, t := range list {
		price, meta := "free", "-"
		switch {
		case t.Price != nil && t.Price["mode"] == "fixed":
			price = fmt.Sprint(t.Price["display"])
			meta = fmt.Sprintf("amount=%v decimals=%v network=%v", t.Price["amount"], t.Price["decimals"], t.Price["network"])
		case t.Price != nil:
			price, meta = "set at call time", fmt.Sprintf("mode=%q", t.Price["mode"])
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\n", t.Name, price, meta)
	}
	return tw.Flush()
}

func (d *demo) freeCall(ctx context.Context) error {
	d.section("A free call")
	_, err := d.call(ctx, d.byOp["health"], map[string]any{}, false)
	return err
}

func (d *demo) paidCalls(ctx context.Context) error {
	payTo := d.world.PayTo()
	d.section("A paid call: x402 version 1 (402 JSON body, X-PAYMENT header)")
	if err := d.paid(ctx, d.byOp["getWeather"], map[string]any{"city": "Oslo", "units": "metric"}, payTo, money.USDC(1000)); err != nil {
		return err
	}
	d.section("A paid call: x402 version 2 (PAYMENT-REQUIRED / PAYMENT-SIGNATURE headers)")
	return d.paid(ctx, d.byOp["createReport"], map[string]any{"body": map[string]any{"city": "Lisbon", "days": 3}}, payTo, money.USDC(5000))
}

// refusedCall asks for more than the session cap leaves, and checks that nothing moved and
// nothing was reserved.
func (d *demo) refusedCall(ctx context.Context) error {
	d.section("A call the session cap refuses (0.25 USDC asked, 0.05 USDC per session)")
	payTo := d.world.PayTo()
	before, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	spendsBefore, err := d.led.Spends(ctx)
	if err != nil {
		return err
	}
	res, err := d.call(ctx, d.byOp["getClimateHistory"], map[string]any{"city": "Oslo"}, true)
	if err != nil {
		return err
	}
	after, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	spendsAfter, err := d.led.Spends(ctx)
	if err != nil {
		return err
	}
	if !res.IsError || before[0].Cmp(after[0]) != 0 || before[1].Cmp(after[1]) != 0 || len(spendsAfter) != len(spendsBefore) {
		return errors.New("demo check failed: the over-cap call was not refused cleanly")
	}
	d.printf("   ✓ refused before signing: balances unchanged (payer %s, payTo %s USDC), no reservation written\n",
		after[0], after[1])
	return nil
}

// showLedger prints the ledger as toll ledger list does, verifies it, and checks it
// against the settlements on the chain.
func (d *demo) showLedger(ctx context.Context) error {
	d.section("The ledger, as an auditor sees it (toll ledger list)")
	spends, err := d.led.Spends(ctx)
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
	events, err := d.led.Events(ctx)
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
	rep, err := d.led.VerifyReport(ctx, recoverHead)
	if err != nil {
		return fmt.Errorf("demo check failed: %w", err)
	}
	if len(rep.Signers) != 1 || !strings.EqualFold(rep.Signers[0], d.payer) || rep.UnsignedSettled != 0 {
		return fmt.Errorf("demo check failed: the signed heads are by %v, with %d settlements after the last, want the payer %s and none", rep.Signers, rep.UnsignedSettled, d.payer)
	}
	audit, err := d.matchChain(ctx, spends)
	if err != nil {
		return err
	}
	d.printf("   %d events (%s); hash chain verified, each settlement followed by the head signed with the payer's key;\n"+
		"   held against the chain (toll ledger verify --rpc): %s.\n", len(events), strings.Join(parts, ", "), clip(audit, 400))
	return nil
}

// matchChain checks that every spend settled, and holds the ledger against the chain as
// toll ledger verify --rpc does: every payment the payer's authorizations made on the
// chain is a spend of the ledger with its amount, payee and transaction, and every settled
// spend is such a payment. It returns the audit's line.
func (d *demo) matchChain(ctx context.Context, spends []ledger.Spend) (string, error) {
	for _, s := range spends {
		if s.Status != ledger.StatusSettled {
			return "", fmt.Errorf("demo check failed: spend %s is %s, want settled", s.CallID, s.Status)
		}
	}
	payer, err := wallet.ParseAddress(d.payer)
	if err != nil {
		return "", err
	}
	c := d.world.Chain
	p := proofFlags{rpcs: listFlag{c.NetworkV2() + "=" + c.RPCURL()}}
	var out strings.Builder
	if err := p.audit(ctx, &out, d.led, payer); err != nil {
		return "", fmt.Errorf("demo check failed: %w\n%s", err, out.String())
	}
	if want := fmt.Sprintf("%d payments on chain, %d settled in the ledger as the chain says", len(spends), len(spends)); !strings.Contains(out.String(), want) {
		return "", fmt.Errorf("demo check failed: the chain's audit says %q, want %q", out.String(), want)
	}
	return strings.TrimSpace(out.String()), nil
}

// call calls a tool and prints the result; wantErr says whether an error result is expected.
func (d *demo) call(ctx context.Context, tool string, args map[string]any, wantErr bool) (*server.CallResult, error) {
	d.printf("   → tools/call %s %s\n", tool, compactJSON(args))
	res, err := d.mc.Call(ctx, tool, args)
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
func (d *demo) paid(ctx context.Context, tool string, args map[string]any, payTo string, price money.Amount) error {
	before, err := d.balances(ctx, payTo)
	if err != nil {
		return err
	}
	if _, err := d.call(ctx, tool, args, false); err != nil {
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
	return [2]money.Amount{a, b}, nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
func ptr[T any](v T) *T { return &v }

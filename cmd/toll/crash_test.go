package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// crashSteps are the checkpoints of a paid call (tools.Config.Checkpoint) at which
// toll serve kills itself when TOLL_TEST_CRASH_AT names one.
var crashSteps = []string{"reserved", "signed", "sent", "responded", "recorded"}

// crashRuns is how many times each step is crashed; TOLL_CRASH_RUNS overrides it (the
// figures in RELIABILITY.md come from a larger run).
func crashRuns(t *testing.T) int {
	if s := os.Getenv("TOLL_CRASH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TOLL_CRASH_RUNS=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return 1
	}
	return 4
}

// crashOutcome is what one crashed call left behind, before and after reconcile.
type crashOutcome struct {
	before, after    ledger.Status
	onChain          bool // the authorization was used on chain
	reached          bool // the payment reached the facilitator
	ignoreDisconnect bool // the paid API settled even after its client went away
}

func (o crashOutcome) String() string {
	server := "api stops on disconnect"
	if o.ignoreDisconnect {
		server = "api ignores disconnect"
	}
	return fmt.Sprintf("%s: %s→%s, payment reached the API %v, used on chain %v", server, o.before, o.after, o.reached, o.onChain)
}

// TestCrashAtEachStep kills toll serve (SIGKILL, from inside, at a precise checkpoint) in
// the middle of a paid call, at each step of the call, several times each, each time on a
// fresh local x402 world but the same ledger file, as after a restart. Then it moves the
// chain's time past the authorization's validBefore (plus the reconcile margin) when the
// ledger does not know the outcome, and runs "toll ledger reconcile" from the built binary
// over JSON-RPC. It checks that no record is lost (the call has exactly one spend), none
// is doubled (one spend, one settlement at most, the payer's balance dropped by exactly the
// settled amount), none is left reserved or unknown past its validBefore, and the chain
// agrees with the ledger (settled exactly when the nonce is used on chain, with the
// transaction of its AuthorizationUsed event). At the end of each step, toll serve is
// restarted without a crash on the same ledger and pays once more.
func TestCrashAtEachStep(t *testing.T) {
	bin := tollBinary(t)
	runs := crashRuns(t)
	dir := t.TempDir()
	keystore, passFile := filepath.Join(dir, "key.json"), filepath.Join(dir, "pass.txt")
	w := createKeystore(t, keystore, "crash test passphrase")
	if err := os.WriteFile(passFile, []byte("crash test passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cr := &crashRig{bin: bin, dir: dir, keystore: keystore, passFile: passFile, payer: w.Address()}

	start := time.Now()
	summary := map[string]map[string]int{}
	for _, step := range crashSteps {
		t.Run(step, func(t *testing.T) {
			ledgerFile := filepath.Join(dir, step+".db")
			counts := map[string]int{}
			for i := range runs {
				o := cr.crashOnce(t, step, i, ledgerFile)
				counts[o.String()]++
				if t.Failed() {
					return
				}
			}
			summary[step] = counts
			cr.restart(t, ledgerFile)
		})
	}
	for _, step := range crashSteps {
		if summary[step] == nil {
			continue
		}
		var lines []string
		for o, n := range summary[step] {
			lines = append(lines, fmt.Sprintf("\n    %2d × %s", n, o))
		}
		slices.Sort(lines)
		t.Logf("crash at %q, %d runs:%s", step, runs, strings.Join(lines, ""))
	}
	total := 0
	for _, counts := range summary {
		for _, n := range counts {
			total += n
		}
	}
	t.Logf("%d crashes in %v", total, time.Since(start).Round(time.Millisecond))
}

type crashRig struct {
	bin, dir, keystore, passFile string
	payer                        wallet.Address
}

// world starts a fresh local world whose chain serves JSON-RPC, funds the payer with 1 USDC
// and writes the API's spec to a file. With ignoreDisconnect the paid API settles a
// payment even when toll died before its answer.
func (cr *crashRig) world(t *testing.T, ignoreDisconnect bool) (*x402test.World, *worldEvents, string) {
	t.Helper()
	events := &worldEvents{}
	world, err := x402test.Start(t.Context(), x402test.Options{RPCAddr: "127.0.0.1:0", IgnoreDisconnect: ignoreDisconnect, Logger: slog.New(events)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	if err := world.Fund(t.Context(), cr.payer.Hex(), big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(cr.dir, fmt.Sprintf("spec-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(spec, world.SpecYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	return world, events, spec
}

// worldEvents is a slog.Handler that keeps the messages the world logs, so that a test
// can tell whether a paid request reached the facilitator and whether the API is done
// with it.
type worldEvents struct {
	mu   sync.Mutex
	msgs []string
}

func (e *worldEvents) Enabled(context.Context, slog.Level) bool { return true }
func (e *worldEvents) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *worldEvents) WithGroup(string) slog.Handler            { return e }
func (e *worldEvents) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, r.Message)
	return nil
}

// waitFor waits up to d for a message starting with one of prefixes; it reports whether
// one came.
func (e *worldEvents) waitFor(d time.Duration, prefixes ...string) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(2 * time.Millisecond) {
		e.mu.Lock()
		for _, m := range e.msgs {
			for _, p := range prefixes {
				if strings.HasPrefix(m, p) {
					e.mu.Unlock()
					return true
				}
			}
		}
		e.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
	}
}

// serve starts toll serve on world through an MCP stdio client, with TOLL_TEST_CRASH_AT
// set to step unless it is empty. It returns the client (initialized), the command (to
// read its exit status) and its stderr.
func (cr *crashRig) serve(t *testing.T, ctx context.Context, world *x402test.World, spec, ledgerFile, step string) (*client.Client, *exec.Cmd, *safeBuffer) {
	t.Helper()
	var (
		stderr safeBuffer
		cmd    *exec.Cmd
	)
	env := []string{"TOLL_TEST_CRASH_AT=" + step}
	args := []string{"serve", "--spec", spec, "--keystore", cr.keystore, "--passphrase-file", cr.passFile,
		"--ledger", ledgerFile, "--network", world.Chain.NetworkV2(), "--asset", world.Chain.TokenAddress(),
		"--max-per-call", "0.01", "--log-level", "debug"}
	c, err := client.NewStdioMCPClientWithOptions(cr.bin, env, args,
		transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
			cmd = exec.CommandContext(ctx, command, args...)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stderr = &stderr
			return cmd, nil
		}))
	if err != nil {
		t.Fatalf("start toll serve: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	init.Params.ClientInfo = mcp.Implementation{Name: "crash-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.String())
	}
	return c, cmd, &stderr
}

// paidCall calls the weather tool (x402 v1) on even runs and the report tool (v2) on odd
// ones, and returns its price.
func paidCall(t *testing.T, ctx context.Context, c *client.Client, i int) (*mcp.CallToolResult, int64, error) {
	t.Helper()
	var req mcp.CallToolRequest
	price := int64(x402test.PriceWeather)
	if i%2 == 0 {
		req.Params.Name = toolFor(t, ctx, c, "GET /weather/{city}")
		req.Params.Arguments = map[string]any{"city": "Oslo"}
	} else {
		req.Params.Name = toolFor(t, ctx, c, "POST /reports")
		req.Params.Arguments = map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}
		price = x402test.PriceReport
	}
	res, err := c.CallTool(ctx, req)
	return res, price, err
}

func (cr *crashRig) crashOnce(t *testing.T, step string, i int, ledgerFile string) crashOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Runs alternate x402 v1 and v2 (paidCall), and by pairs an API that stops at a
	// disconnect and one that settles regardless.
	ignore := (i/2)%2 == 1
	world, events, spec := cr.world(t, ignore)
	seen := spendIDs(t, ledgerFile)

	c, cmd, stderr := cr.serve(t, ctx, world, spec, ledgerFile, step)
	res, price, callErr := paidCall(t, ctx, c, i)
	c.Close() // waits for the process
	if callErr == nil {
		t.Fatalf("run %d: the call returned (%+v) though toll serve should have died at %q\nstderr:\n%s", i, res, step, stderr.String())
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: toll serve ended with %v, want killed by SIGKILL at %q\nstderr:\n%s", i, cmd.ProcessState, step, stderr.String())
	}
	waitForLedger(t, ledgerFile)

	// No record lost, none doubled: the call has exactly one spend.
	fresh := newSpends(t, ledgerFile, seen)
	if len(fresh) != 1 {
		t.Fatalf("run %d: %d new spends after a crash at %q, want exactly 1: %+v", i, len(fresh), step, fresh)
	}
	sp := fresh[0]
	out := crashOutcome{before: sp.Status, ignoreDisconnect: ignore}
	if sp.Amount.Cmp(money.USDC(price)) != 0 {
		t.Errorf("run %d: spend amount %s, want %d", i, sp.Amount, price)
	}

	rpc, err := onchain.Dial(ctx, world.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	if step == "sent" && ignore {
		// If the paid request reached the API, let it finish settling the payment toll
		// died waiting for, so that reconcile meets a settlement toll never heard of.
		// Without this wait, moving the chain's time below wins the race and the payment
		// expires unsettled.
		if events.waitFor(500*time.Millisecond, "x402test verify:") {
			events.waitFor(10*time.Second, "x402test api:")
		}
	}
	if !sp.Status.Final() {
		// Past validBefore and the reconcile margin: the outcome is then decided on chain
		// (a settlement still in flight either landed before this block or never will).
		bt, err := world.Chain.BlockTime(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := sp.ValidBefore.Add(tools.DefaultReconcileMargin).Sub(bt) + 2*time.Second; d > 0 {
			if err := world.Chain.AdvanceTime(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	rpcArg := world.Chain.NetworkV2() + "=" + world.RPCURL
	rec := exec.CommandContext(ctx, cr.bin, "ledger", "reconcile", "--ledger", ledgerFile, "--rpc", rpcArg)
	if i%2 == 1 {
		// Odd runs reconcile the way a restarted server does: toll serve --rpc reconciles
		// at start, then (its stdin already closed) exits.
		rec = exec.CommandContext(ctx, cr.bin, "serve", "--spec", spec, "--keystore", cr.keystore, "--passphrase-file", cr.passFile,
			"--ledger", ledgerFile, "--network", world.Chain.NetworkV2(), "--rpc", rpcArg)
		rec.Stdin = strings.NewReader("")
	}
	if b, err := rec.CombinedOutput(); err != nil || (i%2 == 1 && !strings.Contains(string(b), "reconciled at start")) {
		t.Fatalf("run %d: reconcile: %v\n%s", i, err, b)
	}

	led, err := ledger.Open(ledgerFile, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	after, err := led.Spend(ctx, sp.CallID)
	if err != nil {
		t.Fatal(err)
	}
	out.after = after.Status
	if err := led.Verify(ctx); err != nil {
		t.Errorf("run %d: ledger verify: %v", i, err)
	}

	// Nothing left reserved or unknown past its validBefore.
	chainTime, err := rpc.LatestBlockTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := led.Spends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if !s.Status.Final() && !chainTime.Before(s.ValidBefore) {
			t.Errorf("run %d: spend %s still %s past its validBefore %v (chain time %v)", i, s.CallID, s.Status, s.ValidBefore, chainTime)
		}
	}

	// The chain agrees with the ledger.
	token, _ := wallet.ParseAddress(sp.Asset)
	nonce, err := parseNonceHex(sp.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	used, err := rpc.AuthorizationState(ctx, token, cr.payer, nonce)
	if err != nil {
		t.Fatal(err)
	}
	out.onChain = used
	bal, err := rpc.BalanceOf(ctx, token, cr.payer)
	if err != nil {
		t.Fatal(err)
	}
	spent := new(big.Int).Sub(big.NewInt(1_000_000), bal)
	switch after.Status {
	case ledger.StatusSettled:
		tx, found, err := rpc.FindAuthorization(ctx, token, cr.payer, nonce)
		if err != nil || !found || !strings.EqualFold(tx, after.TxHash) {
			t.Errorf("run %d: settled in %q, but the chain's AuthorizationUsed is in %q (found %v, %v)", i, after.TxHash, tx, found, err)
		}
		if !used || spent.Cmp(after.Amount.Atomic()) != 0 {
			t.Errorf("run %d: settled %s, but on chain used=%v and the payer spent %s", i, after.Amount, used, spent)
		}
	case ledger.StatusVoided:
		if used || spent.Sign() != 0 {
			t.Errorf("run %d: voided, but on chain used=%v and the payer spent %s", i, used, spent)
		}
	default:
		t.Errorf("run %d: spend is %s after reconcile, want settled or voided", i, after.Status)
	}
	// (The API's own count may miss a settlement: when toll died, an API that stops on a
	// disconnect abandons its call to the facilitator, which may settle all the same.)
	if n := len(world.Settlements()); n > 1 {
		t.Errorf("run %d: the API settled %d payments for one call", i, n)
	}

	out.reached = events.waitFor(0, "x402test verify:")

	// Reconcile again: nothing changes.
	b, err := exec.CommandContext(ctx, cr.bin, "ledger", "reconcile", "--ledger", ledgerFile, "--rpc", world.Chain.NetworkV2()+"="+world.RPCURL).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "nothing to reconcile") {
		t.Errorf("run %d: second reconcile: %v\n%s", i, err, b)
	}
	if t.Failed() {
		t.Logf("toll serve stderr:\n%s", stderr.String())
	}
	return out
}

// restart runs toll serve on the same ledger without a crash: it starts, and pays.
func (cr *crashRig) restart(t *testing.T, ledgerFile string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	world, _, spec := cr.world(t, false)
	c, _, stderr := cr.serve(t, ctx, world, spec, ledgerFile, "")
	res, _, err := paidCall(t, ctx, c, 0)
	c.Close()
	if err != nil || res.IsError {
		t.Fatalf("toll serve restarted on the ledger: %v %+v\nstderr:\n%s", err, res, stderr.String())
	}
	waitForLedger(t, ledgerFile)
	led, err := ledger.Open(ledgerFile, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if err := led.Verify(ctx); err != nil {
		t.Errorf("ledger verify after restart: %v", err)
	}
}

func spendIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	if _, err := os.Stat(path); err != nil {
		return ids
	}
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	spends, err := led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spends {
		ids[s.CallID] = true
	}
	return ids
}

func newSpends(t *testing.T, path string, seen map[string]bool) []ledger.Spend {
	t.Helper()
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	spends, err := led.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Spend
	for _, s := range spends {
		if !seen[s.CallID] {
			out = append(out, s)
		}
	}
	return out
}

func parseNonceHex(s string) ([32]byte, error) {
	var n [32]byte
	b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
	if err != nil || len(b) != 32 {
		return n, fmt.Errorf("nonce %q is not 0x and 64 hex digits", s)
	}
	copy(n[:], b)
	return n, nil
}

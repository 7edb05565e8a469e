package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
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
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/pgtest"
	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// crashSteps are the checkpoints of a paid call (tools.Config.Checkpoint) at which
// toll serve, built with -tags tollcrash, kills itself when TOLL_TEST_CRASH_AT names one.
var crashSteps = []string{string(tools.StepReserved), string(tools.StepSigned), string(tools.StepSent), string(tools.StepResponded), string(tools.StepRecorded)}

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
	mcp              bool // the call was to a paid MCP server's tool
}

func (o crashOutcome) String() string {
	server := "api stops on disconnect"
	switch {
	case o.mcp:
		server = "paid MCP server"
	case o.ignoreDisconnect:
		server = "api ignores disconnect"
	}
	return fmt.Sprintf("%s: %s→%s, payment reached the API %v, used on chain %v", server, o.before, o.after, o.reached, o.onChain)
}

// TestCrashAtEachStep kills toll serve (SIGKILL, from inside, at a precise checkpoint) in
// the middle of a paid call, at each step of the call, several times each, each time on a
// fresh local x402 world but the same ledger file, as after a restart. Then it moves the
// chain's time past the authorization's validBefore (plus the reconcile margin) when the
// ledger does not know the outcome, and runs "toll ledger reconcile" from the built binary
// over JSON-RPC. It checks that no record is lost (the call has exactly one spend), that
// the call counts as spent until reconciled (a settlement handed to the ledger and lost
// with the process at "recorded" included, which reconcile must then settle), none
// is doubled (one spend, one settlement at most, the payer's balance dropped by exactly the
// settled amount), none is left reserved or unknown past its validBefore, and the chain
// agrees with the ledger (settled exactly when the nonce is used on chain, with the
// transaction of its AuthorizationUsed event). At the end of each step, toll serve is
// restarted without a crash on the same ledger and pays once more.
func TestCrashAtEachStep(t *testing.T) {
	cr := newCrashRig(t, tollCrashBinary(t))
	cr.crashSteps(t, func(t *testing.T, step string) string { return filepath.Join(cr.dir, step+".db") })
}

// TestCrashAtEachStepPostgres is TestCrashAtEachStep with the ledger in PostgreSQL (a new
// database for each step, on the server TOLL_TEST_POSTGRES names or on a cluster of the
// test's own): the same kills, the same reconcile through the binary, the same checks.
func TestCrashAtEachStepPostgres(t *testing.T) {
	cr := newCrashRig(t, tollCrashBinary(t))
	cr.crashSteps(t, func(t *testing.T, _ string) string { return pgtest.NewDatabase(t) })
}

// crashSteps crashes toll serve at each step, crashRuns times, on the ledger ledgerFor
// gives the step, and logs what the crashes left.
func (cr *crashRig) crashSteps(t *testing.T, ledgerFor func(t *testing.T, step string) string) {
	runs := crashRuns(t)
	start := time.Now()
	summary := map[string]map[string]int{}
	for _, step := range crashSteps {
		t.Run(step, func(t *testing.T) {
			ledgerFile := ledgerFor(t, step)
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

// TestCrashAtEachStepMCP is TestCrashAtEachStep for a paid MCP server's tool (toll.yaml
// mcp_servers:, streamable HTTP; the x402 MCP transport): the same kills at each step,
// the same reconcile through the binary, the same checks of the ledger against the chain.
func TestCrashAtEachStepMCP(t *testing.T) {
	cr := newCrashRig(t, tollCrashBinary(t))
	cr.mcp = true
	cr.crashSteps(t, func(t *testing.T, step string) string { return filepath.Join(cr.dir, "mcp-"+step+".db") })
}

// TestReleaseBuildIgnoresCrashEnv: a binary built without the tollcrash tag, as released,
// cannot be made to crash by the environment: with TOLL_TEST_CRASH_AT set, a paid call
// completes and settles.
func TestReleaseBuildIgnoresCrashEnv(t *testing.T) {
	cr := newCrashRig(t, tollBinary(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	world, _, spec := cr.world(t, false)
	ledgerFile := filepath.Join(cr.dir, "release.db")
	for _, step := range crashSteps {
		c, _, stderr := cr.serve(t, ctx, world, spec, ledgerFile, step)
		res, _, err := paidCall(t, ctx, c, 0)
		c.Close()
		if err != nil || res.IsError {
			t.Fatalf("TOLL_TEST_CRASH_AT=%s: the paid call failed: %v %+v\nstderr:\n%s", step, err, res, stderr.String())
		}
	}
	spends := spendsIn(t, ledgerFile)
	for _, sp := range spends {
		if sp.Status != ledger.StatusSettled {
			t.Errorf("spend %s is %s, want settled", sp.CallID, sp.Status)
		}
	}
	if len(spends) != len(crashSteps) {
		t.Errorf("%d spends, want %d (one per call)", len(spends), len(crashSteps))
	}
}

type crashRig struct {
	keyFiles
	bin, dir string
	// mcp: the paid calls are to a paid MCP server's tools (crashMCPNamespace), served
	// on each world, instead of the world's HTTP API.
	mcp bool
	// config is toll.yaml of the world started last, with its paid MCP server; "" without.
	config string
}

// crashMCPNamespace is the paid MCP server's namespace in toll.yaml (crashRig.mcp).
const crashMCPNamespace = "market"

// newCrashRig writes a fresh wallet's keystore and passphrase file for bin's toll serve.
func newCrashRig(t *testing.T, bin string) *crashRig {
	t.Helper()
	dir := t.TempDir()
	return &crashRig{keyFiles: newKeyFiles(t, dir, "crash test passphrase"), bin: bin, dir: dir}
}

// world starts a fresh local world whose chain serves JSON-RPC, funds the payer and writes
// the API's spec to a file. With ignoreDisconnect the paid API settles a payment even when
// toll died before its answer.
func (cr *crashRig) world(t *testing.T, ignoreDisconnect bool) (*x402test.World, *worldEvents, string) {
	t.Helper()
	events := &worldEvents{}
	world, spec := startWorld(t, x402test.Options{RPCAddr: "127.0.0.1:0", IgnoreDisconnect: ignoreDisconnect, Logger: slog.New(events)}, cr.payer, cr.dir)
	if cr.mcp {
		paid := newPaidMCP(t, paidmcp.Options{World: world, Logger: slog.New(events)})
		srv := httptest.NewServer(paid.HTTPHandler())
		t.Cleanup(srv.Close)
		cr.config = writeFile(t, t.TempDir(), "toll.yaml", fmt.Sprintf("mcp_servers:\n  - namespace: %s\n    url: %s/mcp\n    pay_to: %q\n",
			crashMCPNamespace, srv.URL, world.PayTo()))
	}
	return world, events, spec
}

// worldEvents is a slog.Handler that keeps the messages the world logs, so that a test
// can tell whether a paid request reached the facilitator and whether the API is done
// with it.
type worldEvents struct {
	mu      sync.Mutex
	msgs    []string
	waiting waiters // for a message starting with their text
}

func (e *worldEvents) Enabled(context.Context, slog.Level) bool { return true }
func (e *worldEvents) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *worldEvents) WithGroup(string) slog.Handler            { return e }
func (e *worldEvents) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.msgs = append(e.msgs, r.Message)
	e.waiting.release(func(prefix string) bool { return strings.HasPrefix(r.Message, prefix) })
	return nil
}

// seen returns a channel that is closed once a message starting with prefix is logged.
func (e *worldEvents) seen(prefix string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waiting.add(prefix, e.loggedLocked(prefix))
}

// logged reports whether a message starting with prefix has been logged.
func (e *worldEvents) logged(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loggedLocked(prefix)
}

func (e *worldEvents) loggedLocked(prefix string) bool {
	return slices.ContainsFunc(e.msgs, func(m string) bool { return strings.HasPrefix(m, prefix) })
}

// serve starts toll serve on world through an MCP stdio client, with TOLL_TEST_CRASH_AT
// set to step unless it is empty. It returns the client (initialized), the command (to
// read its exit status) and its stderr.
func (cr *crashRig) serve(t *testing.T, ctx context.Context, world *x402test.World, spec, ledgerFile, step string) (*client.Client, *exec.Cmd, *safeBuffer) {
	t.Helper()
	args := cr.serveArgs(world, spec, ledgerFile, "--log-level", "debug")
	if cr.mcp {
		args = append(args, "--config", cr.config)
	}
	return serveMCP(t, ctx, cr.bin, []string{envCrashAt + "=" + step}, args)
}

// call makes the paid call of run i: paidCall, or with crashRig.mcp the paid MCP server's
// get_weather on even runs and get_forecast on odd ones.
func (cr *crashRig) call(t *testing.T, ctx context.Context, c *client.Client, i int) (*mcp.CallToolResult, money.Amount, error) {
	t.Helper()
	if !cr.mcp {
		return paidCall(t, ctx, c, i)
	}
	tool := paidmcp.ToolWeather
	if i%2 == 1 {
		tool = paidmcp.ToolForecast
	}
	var req mcp.CallToolRequest
	req.Params.Name = crashMCPNamespace + "_" + tool
	req.Params.Arguments = map[string]any{"city": "Oslo"}
	res, err := c.CallTool(ctx, req)
	return res, paidmcp.Price(tool), err
}

// paidCall calls the weather tool (x402 v1) on even runs and the report tool (v2) on odd
// ones, and returns its price.
func paidCall(t *testing.T, ctx context.Context, c *client.Client, i int) (*mcp.CallToolResult, money.Amount, error) {
	t.Helper()
	var req mcp.CallToolRequest
	price := money.USDC(x402test.PriceWeather)
	if i%2 == 0 {
		req.Params.Name = toolFor(t, ctx, c, "GET /weather/{city}")
		req.Params.Arguments = map[string]any{"city": "Oslo"}
	} else {
		req.Params.Name = toolFor(t, ctx, c, "POST /reports")
		req.Params.Arguments = map[string]any{"body": map[string]any{"city": "Lisbon", "days": 2}}
		price = money.USDC(x402test.PriceReport)
	}
	res, err := c.CallTool(ctx, req)
	return res, price, err
}

// crashOnce makes one paid call that kills toll serve at step, reconciles, and checks
// the ledger and the chain.
func (cr *crashRig) crashOnce(t *testing.T, step string, i int, ledgerFile string) crashOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Runs alternate x402 v1 and v2 (paidCall), and by pairs an API that stops at a
	// disconnect and one that settles regardless (the HTTP API only).
	ignore := !cr.mcp && (i/2)%2 == 1
	world, events, spec := cr.world(t, ignore)
	before := spendsIn(t, ledgerFile)
	countedBefore := countedIn(t, ledgerFile)

	c, cmd, stderr := cr.serve(t, ctx, world, spec, ledgerFile, step)
	defer func() {
		if t.Failed() {
			t.Logf("toll serve stderr:\n%s", stderr.String())
		}
	}()
	res, price, callErr := cr.call(t, ctx, c, i)
	c.Close() // waits for the process
	if callErr == nil {
		t.Fatalf("run %d: the call returned (%+v) though toll serve should have died at %q", i, res, step)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("run %d: toll serve ended with %v, want killed by SIGKILL at %q", i, cmd.ProcessState, step)
	}

	// No record lost, none doubled: the call has exactly one spend.
	fresh := slices.DeleteFunc(spendsIn(t, ledgerFile), func(s ledger.Spend) bool {
		return slices.ContainsFunc(before, func(b ledger.Spend) bool { return b.CallID == s.CallID })
	})
	if len(fresh) != 1 {
		t.Fatalf("run %d: %d new spends after a crash at %q, want exactly 1: %+v", i, len(fresh), step, fresh)
	}
	sp := fresh[0]
	if sp.Amount.Cmp(price) != 0 {
		t.Errorf("run %d: spend amount %s, want %s", i, sp.Amount, price)
	}
	cr.checkCounted(t, ledgerFile, step, i, sp, countedBefore)
	if step == "sent" && ignore {
		// If the paid request reached the API, let it finish settling the payment toll
		// died waiting for, so that reconcile meets a settlement toll never heard of.
		// Without this wait, moving the chain's time below wins the race and the payment
		// expires unsettled. A request that has not reached the facilitator within the
		// grace period is taken as never sent: the outcome is then recorded, not failed.
		select {
		case <-events.seen("x402test verify:"):
			select {
			case <-events.seen("x402test api:"):
			case <-ctx.Done():
				t.Fatalf("run %d: the API verified the payment but never finished: %v", i, ctx.Err())
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	if !sp.Status.Final() {
		// Past validBefore and the reconcile margin: the outcome is then decided on chain
		// (a settlement still in flight either landed before this block or never will).
		if err := world.Chain.AdvancePast(ctx, sp.ValidBefore.Add(reconcile.DefaultMargin)); err != nil {
			t.Fatal(err)
		}
	}
	rpcArg := world.Chain.NetworkV2() + "=" + world.RPCURL
	rec := exec.CommandContext(ctx, cr.bin, "ledger", "reconcile", "--ledger", ledgerFile, "--rpc", rpcArg)
	if i%2 == 1 {
		// Odd runs reconcile the way a restarted server does: toll serve --rpc reconciles
		// at start, then (its stdin already closed) exits.
		rec = exec.CommandContext(ctx, cr.bin, cr.serveArgs(world, spec, ledgerFile, "--rpc", rpcArg)...)
		rec.Stdin = strings.NewReader("")
	}
	if b, err := rec.CombinedOutput(); err != nil || (i%2 == 1 && !strings.Contains(string(b), "reconciled at start")) {
		t.Fatalf("run %d: reconcile: %v\n%s", i, err, b)
	}

	led := openLedger(t, ledgerFile)
	after, err := led.Spend(ctx, sp.CallID)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Verify(ctx); err != nil {
		t.Errorf("run %d: ledger verify: %v", i, err)
	}
	if step == string(tools.StepRecorded) && after.Status != ledger.StatusSettled {
		t.Errorf("run %d: the outcome handed to the ledger was settled, but after reconcile the spend is %s", i, after.Status)
	}
	out := crashOutcome{before: sp.Status, after: after.Status, ignoreDisconnect: ignore, mcp: cr.mcp}
	out.onChain = cr.checkChain(t, ctx, world, led, after, i)
	out.reached = events.logged("x402test verify:")

	// Reconcile again: nothing changes.
	b, err := exec.CommandContext(ctx, cr.bin, "ledger", "reconcile", "--ledger", ledgerFile, "--rpc", rpcArg).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "nothing to reconcile") {
		t.Errorf("run %d: second reconcile: %v\n%s", i, err, b)
	}
	return out
}

// checkChain checks, after reconcile, that the chain agrees with the ledger: nothing is
// left reserved or unknown past its validBefore, and the spend after is settled exactly
// when its nonce is used on chain, in the transaction of its AuthorizationUsed event, the
// payer having spent exactly its amount; voided otherwise, the payer having spent
// nothing. It returns whether the nonce is used on chain.
func (cr *crashRig) checkChain(t *testing.T, ctx context.Context, world *x402test.World, led *ledger.Ledger, after ledger.Spend, i int) bool {
	t.Helper()
	rpc, err := onchain.Dial(ctx, world.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
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

	token, err := wallet.ParseAddress(after.Asset)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := wallet.ParseNonce(after.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	used, err := rpc.AuthorizationState(ctx, token, cr.payer, nonce)
	if err != nil {
		t.Fatal(err)
	}
	bal, err := world.BalanceOf(ctx, cr.payer.Hex())
	if err != nil {
		t.Fatal(err)
	}
	spent := money.USDC(payerFunds).Sub(bal)
	switch after.Status {
	case ledger.StatusSettled:
		tx, found, err := rpc.FindAuthorization(ctx, token, cr.payer, nonce)
		if err != nil || !found || !strings.EqualFold(tx, after.TxHash) {
			t.Errorf("run %d: settled in %q, but the chain's AuthorizationUsed is in %q (found %v, %v)", i, after.TxHash, tx, found, err)
		}
		if !used || spent.Cmp(after.Amount) != 0 {
			t.Errorf("run %d: settled %s, but on chain used=%v and the payer spent %s", i, after.Amount, used, spent)
		}
	case ledger.StatusVoided:
		if used || !spent.IsZero() {
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
	return used
}

// restart runs toll serve on the same ledger without a crash: it starts, and pays.
func (cr *crashRig) restart(t *testing.T, ledgerFile string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	world, _, spec := cr.world(t, false)
	c, _, stderr := cr.serve(t, ctx, world, spec, ledgerFile, "")
	res, _, err := cr.call(t, ctx, c, 0)
	c.Close()
	if err != nil || res.IsError {
		t.Fatalf("toll serve restarted on the ledger: %v %+v\nstderr:\n%s", err, res, stderr.String())
	}
	if err := openLedger(t, ledgerFile).Verify(ctx); err != nil {
		t.Errorf("ledger verify after restart: %v", err)
	}
}

// countedIn returns the ledger's counted total (reserved, unknown and settled), zero
// when there is no ledger yet.
func countedIn(t *testing.T, path string) money.Amount {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !ledger.IsURL(path) {
		return money.USDC(0)
	}
	tot, err := openLedger(t, path).Totals(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tot.Total
}

// checkCounted checks that the call sp, as a crash at step left it, counts as spent
// until reconcile: the ledger's counted total grew by its amount. At "recorded" the
// settlement was handed to the ledger (ledger.RecordLater) but may have died with the
// process, unwritten: the spend is then still reserved, which counts the same, and
// reconcile must settle it.
func (cr *crashRig) checkCounted(t *testing.T, ledgerFile, step string, i int, sp ledger.Spend, countedBefore money.Amount) {
	t.Helper()
	if got, want := countedIn(t, ledgerFile), countedBefore.Add(sp.Amount); got.Cmp(want) != 0 {
		t.Errorf("run %d: counted total %s after a crash at %q, want %s (the call counts as spent until reconciled)", i, got, step, want)
	}
	if step == string(tools.StepRecorded) && sp.Status != ledger.StatusSettled && sp.Status != ledger.StatusReserved {
		t.Errorf("run %d: a crash after the settlement was handed to the ledger left it %s, want settled, or reserved (the outcome lost)", i, sp.Status)
	}
}

// spendsIn lists the spends of the ledger file at path: none when there is no file yet.
func spendsIn(t *testing.T, path string) []ledger.Spend {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !ledger.IsURL(path) {
		return nil
	}
	spends, err := openLedger(t, path).Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return spends
}

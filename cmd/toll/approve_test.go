package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

// The approval tests run toll serve with payments over 0.0005 USDC needing approval, so
// that the weather call (x402test.PriceWeather, 0.001 USDC) asks, and drive it with
// mcp-go's client in both protocol eras.

// eras are the protocol versions a client negotiates: the initialize handshake hosts use
// today, and the default (2026-07-28, multi-round-trip requests).
var eras = []struct{ name, version string }{{"2025-11-25", mcp.ProtocolVersion20251125}, {"2026-07-28", ""}}

// approvalSetup is a world, a payer and toll serve's arguments with approval configured.
type approvalSetup struct {
	world  *x402test.World
	ledger string
	args   []string
	k      keyFiles
	led    *ledger.Ledger // opened once toll serve made the file
}

// poll calls done until it returns true, pausing between tries (the test's deadline
// bounds the wait).
func poll(t *testing.T, done func() bool) {
	t.Helper()
	for !done() {
		select {
		case <-t.Context().Done():
			t.Fatal("the test ended while waiting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// newApprovalSetup writes a toll.yaml with approval (yaml, indented under approval:; a
// threshold of 0.0005 USDC unless it sets one) and returns toll serve's arguments; extra
// follow them.
func newApprovalSetup(t *testing.T, approvalYAML string, extra ...string) *approvalSetup {
	t.Helper()
	dir := t.TempDir()
	k := newKeyFiles(t, dir, "approval test")
	world, spec := startWorld(t, x402test.Options{}, k.payer, dir)
	cfg := filepath.Join(dir, "toll.yaml")
	if !strings.Contains(approvalYAML, "threshold:") {
		approvalYAML = "  threshold: \"0.0005\"\n" + approvalYAML
	}
	if err := os.WriteFile(cfg, []byte("approval:\n"+approvalYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	led := filepath.Join(dir, "ledger.db")
	return &approvalSetup{world: world, ledger: led, k: k, args: k.serveArgs(world, spec, led, append([]string{"--config", cfg}, extra...)...)}
}

// connect starts toll serve and a client on protocol version ("" for the default) with
// the elicitation handler h (nil: the client declares no elicitation capability).
func (a *approvalSetup) connect(t *testing.T, version string, h client.ElicitationHandler) (*client.Client, *safeBuffer) {
	t.Helper()
	var stderr safeBuffer
	tr := transport.NewStdioWithOptions(tollBinary(t), nil, a.args,
		transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = withoutTollEnv()
			cmd.Stderr = &stderr
			return cmd, nil
		}))
	var opts []client.ClientOption
	if h != nil {
		opts = append(opts, client.WithElicitationHandler(h))
	}
	if version != "" {
		opts = append(opts, client.WithProtocolVersion(version))
	}
	c := client.NewClient(tr, opts...)
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: t.Name(), Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, stderr.String())
	}
	return c, &stderr
}

// callWeather calls the weather tool for Oslo, with a progress token.
func callWeather(t *testing.T, c *client.Client) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = "weather_demo_getWeather"
	req.Params.Arguments = map[string]any{"city": "Oslo"}
	req.Params.Meta = &mcp.Meta{ProgressToken: "weather-1"}
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	return res
}

// balance is the payer's balance on the world's chain, in atomic units.
func (a *approvalSetup) balance(t *testing.T) int64 {
	t.Helper()
	b, err := a.world.BalanceOf(t.Context(), a.k.payer.Hex())
	if err != nil {
		t.Fatal(err)
	}
	return b.Atomic().Int64()
}

// events are the kinds of the ledger's events, with the reasons of denials. Signed heads
// (serve signs one after each settlement and at stop) are left out: they are not what
// these tests are about.
func (a *approvalSetup) events(t *testing.T) ([]ledger.Kind, []string) {
	t.Helper()
	if a.led == nil {
		a.led = openLedger(t, a.ledger)
	}
	evs, err := a.led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var kinds []ledger.Kind
	var denials []string
	for _, e := range evs {
		if e.Kind == ledger.KindSignedHead {
			continue
		}
		kinds = append(kinds, e.Kind)
		if e.Kind == ledger.KindDenied {
			denials = append(denials, e.By+": "+e.Reason)
		}
	}
	return kinds, denials
}

// answerer is an elicitation handler that answers each form with the next of its answers
// (the last one again when they run out) and counts the forms.
type answerer struct {
	mu      sync.Mutex
	answers []mcp.ElicitationResponse
	forms   []string
	hold    chan struct{} // when set, each answer waits until it is closed
}

func (a *answerer) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.mu.Lock()
	a.forms = append(a.forms, req.Params.Message)
	r := a.answers[min(len(a.forms), len(a.answers))-1]
	hold := a.hold
	a.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return &mcp.ElicitationResult{ElicitationResponse: r}, nil
}

func (a *answerer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.forms)
}

var (
	accept  = mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}
	decline = mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}
	cancel  = mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionCancel}
)

// TestApprovalElicitBinary: in both eras, an accepted form pays (on chain), a declined or
// cancelled one signs nothing (no reservation, balance unchanged), and the ledger records
// the ask and the decision.
func TestApprovalElicitBinary(t *testing.T) {
	tests := []struct {
		name   string
		answer mcp.ElicitationResponse
		paid   bool
		events []ledger.Kind
		reason string // of the denial
	}{
		{"accept", accept, true, []ledger.Kind{ledger.KindApprovalAsked, ledger.KindApproved, ledger.KindReserved, ledger.KindSettled}, ""},
		{"decline", decline, false, []ledger.Kind{ledger.KindApprovalAsked, ledger.KindDenied}, "elicitation: declined"},
		{"cancel", cancel, false, []ledger.Kind{ledger.KindApprovalAsked, ledger.KindDenied}, "elicitation: cancelled"},
	}
	for _, era := range eras {
		for _, tc := range tests {
			t.Run(era.name+"/"+tc.name, func(t *testing.T) {
				a := newApprovalSetup(t, "")
				h := &answerer{answers: []mcp.ElicitationResponse{tc.answer}}
				c, stderr := a.connect(t, era.version, h)
				res := callWeather(t, c)
				if res.IsError == tc.paid {
					t.Fatalf("isError %v: %s\nstderr:\n%s", res.IsError, resultText(res), stderr.String())
				}
				want := int64(payerFunds)
				if tc.paid {
					want -= x402test.PriceWeather
				}
				if got := a.balance(t); got != want {
					t.Errorf("payer balance %d, want %d", got, want)
				}
				// A paid call's outcome reaches the file a few milliseconds after its
				// result (ledger.RecordLater): wait for it.
				kinds, denials := a.events(t)
				for deadline := time.Now().Add(5 * time.Second); !equalKinds(kinds, tc.events) && time.Now().Before(deadline); kinds, denials = a.events(t) {
					time.Sleep(5 * time.Millisecond)
				}
				if !equalKinds(kinds, tc.events) {
					t.Errorf("events %v, want %v", kinds, tc.events)
				}
				if tc.reason != "" && (len(denials) != 1 || denials[0] != tc.reason) {
					t.Errorf("denials %q, want %q", denials, tc.reason)
				}
				if !tc.paid && !strings.Contains(resultText(res), "nothing was signed") {
					t.Errorf("the error does not say nothing was signed: %s", resultText(res))
				}
			})
		}
	}
}

func equalKinds(a, b []ledger.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApprovalFallbackDenyBinary: a client without the elicitation capability, under
// fallback deny, is refused with the fallback named; nothing is signed.
func TestApprovalFallbackDenyBinary(t *testing.T) {
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			a := newApprovalSetup(t, "  fallback: deny\n")
			c, _ := a.connect(t, era.version, nil)
			res := callWeather(t, c)
			if !res.IsError || !strings.Contains(resultText(res), "approval.fallback is deny") {
				t.Fatalf("result %q, want a refusal naming approval.fallback", resultText(res))
			}
			if got := a.balance(t); got != payerFunds {
				t.Errorf("payer balance %d, want %d", got, payerFunds)
			}
			if kinds, _ := a.events(t); !equalKinds(kinds, []ledger.Kind{ledger.KindApprovalAsked, ledger.KindDenied}) {
				t.Errorf("events %v", kinds)
			}
		})
	}
}

// TestApprovalTimeoutBinary: a client that never answers the form times out with nothing
// signed. Before 2026-07-28 toll stops waiting for elicitation/create; from it, the form's
// state expires and the late retry is refused.
func TestApprovalTimeoutBinary(t *testing.T) {
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			a := newApprovalSetup(t, "  timeout: 200ms\n")
			h := &answerer{answers: []mcp.ElicitationResponse{accept}, hold: make(chan struct{})}
			c, _ := a.connect(t, era.version, h)
			done := make(chan *mcp.CallToolResult, 1)
			go func() { done <- callWeather(t, c) }()
			// The answer is held until the ledger records the timeout.
			var denials []string
			poll(t, func() bool { _, denials = a.events(t); return len(denials) == 1 })
			if !strings.Contains(denials[0], "timed out") {
				t.Fatalf("denial %q, want a timeout", denials[0])
			}
			close(h.hold)
			res := <-done
			if !res.IsError || a.balance(t) != payerFunds {
				t.Fatalf("result %q (error %v), balance %d: want a refusal and nothing paid", resultText(res), res.IsError, a.balance(t))
			}
			if kinds, _ := a.events(t); !equalKinds(kinds, []ledger.Kind{ledger.KindApprovalAsked, ledger.KindDenied}) {
				t.Errorf("events %v, want approval-asked then denied, nothing reserved", kinds)
			}
		})
	}
}

// TestApprovalTermsChangeBinary: the 402 asks less the first time (a proxy rewrites it)
// than it does once approved: toll reads the terms again after the approval, sees a
// higher amount, and asks again before paying it.
func TestApprovalTermsChangeBinary(t *testing.T) {
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			a := newApprovalSetup(t, "")
			proxy := cheaperFirst(t, a.world.APIURL)
			a.args = append(a.args, "--base-url", proxy)
			h := &answerer{answers: []mcp.ElicitationResponse{accept}}
			c, stderr := a.connect(t, era.version, h)
			res := callWeather(t, c)
			if res.IsError {
				t.Fatalf("call: %s\nstderr:\n%s", resultText(res), stderr.String())
			}
			if h.count() != 2 || !strings.Contains(h.forms[0], "0.0006 USDC") || !strings.Contains(h.forms[1], "0.001 USDC") {
				t.Fatalf("forms %q, want one for 0.0006 USDC then one for 0.001 USDC", h.forms)
			}
			if got := a.balance(t); got != payerFunds-x402test.PriceWeather {
				t.Errorf("payer balance %d, want %d", got, payerFunds-x402test.PriceWeather)
			}
		})
	}
}

// cheaperFirst is a proxy to api whose first 402 asks 600 atomic units instead of the
// weather's price.
func cheaperFirst(t *testing.T, api string) string {
	t.Helper()
	target, err := url.Parse(api)
	if err != nil {
		t.Fatal(err)
	}
	var rewritten atomic.Bool
	p := httputil.NewSingleHostReverseProxy(target)
	p.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode != http.StatusPaymentRequired || rewritten.Swap(true) {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		body = bytes.Replace(body, []byte(`"maxAmountRequired":"1000"`), []byte(`"maxAmountRequired":"600"`), 1)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestApprovalQueueBinary: a client that cannot show a form waits in the queue (the
// default fallback), hears of it in progress notifications, and toll approve in another
// process decides: approved pays, denied signs nothing and says why.
func TestApprovalQueueBinary(t *testing.T) {
	for _, era := range eras {
		t.Run(era.name, func(t *testing.T) {
			a := newApprovalSetup(t, "  timeout: 10m\n")
			c, stderr := a.connect(t, era.version, nil)
			var progress atomic.Int64
			c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == "notifications/progress" {
					progress.Add(1)
				}
			})
			res := a.decideWhileWaiting(t, c, "approve")
			if res.IsError {
				t.Fatalf("approved call: %s\nstderr:\n%s", resultText(res), stderr.String())
			}
			if got := a.balance(t); got != payerFunds-x402test.PriceWeather {
				t.Errorf("payer balance %d, want %d", got, payerFunds-x402test.PriceWeather)
			}
			res = a.decideWhileWaiting(t, c, "approve", "--deny", "--reason", "too much for the weather")
			if !res.IsError || !strings.Contains(resultText(res), "too much for the weather") {
				t.Fatalf("denied call: %q, want a refusal with the reason", resultText(res))
			}
			if got := a.balance(t); got != payerFunds-x402test.PriceWeather {
				t.Errorf("payer balance %d after the denial, want %d", got, payerFunds-x402test.PriceWeather)
			}
			if progress.Load() == 0 {
				t.Error("the client received no progress notification while the call waited")
			}
			kinds, denials := a.events(t)
			want := []ledger.Kind{ledger.KindApprovalAsked, ledger.KindApproved, ledger.KindReserved, ledger.KindSettled, ledger.KindApprovalAsked, ledger.KindDenied}
			if !equalKinds(kinds, want) || len(denials) != 1 || !strings.HasPrefix(denials[0], "os-user:") {
				t.Errorf("events %v (denials %q), want %v with the OS user's denial", kinds, denials, want)
			}
			// A decision on a call that ended is an error.
			pending := a.pendingIDs(t, true)
			if len(pending) != 2 {
				t.Fatalf("queue %v, want the two decided calls", pending)
			}
			if r := runBinary(t, nil, "approve", pending[0], "--ledger", a.ledger); r.code != 1 || !strings.Contains(r.stderr, "no longer waits") {
				t.Errorf("approving a decided call: exit %d, stderr %q; want 1 and 'no longer waits'", r.code, r.stderr)
			}
			a.checkHistory(t, []string{"approved", "denied"}, "too much for the weather")
		})
	}
}

// checkHistory reads toll approve --history (JSON and text) and checks the decisions,
// in order, each by the OS user, and the last denial's reason.
func (a *approvalSetup) checkHistory(t *testing.T, decisions []string, reason string) {
	t.Helper()
	r := runBinary(t, nil, "approve", "--history", "--format", "json", "--ledger", a.ledger)
	if r.code != 0 {
		t.Fatalf("toll approve --history: exit %d\n%s", r.code, r.stderr)
	}
	var got []approvalRecord
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("toll approve --history --format json: %v\n%s", err, r.stdout)
	}
	if len(got) != len(decisions) {
		t.Fatalf("history has %d requests, want %d:\n%s", len(got), len(decisions), r.stdout)
	}
	for i, rec := range got {
		if rec.Decision != decisions[i] || !strings.HasPrefix(rec.By, "os-user:") || rec.Amount.Sign() <= 0 || rec.DecidedAt.Before(rec.AskedAt) {
			t.Errorf("history[%d] = %+v, want %s by an OS user, with an amount", i, rec, decisions[i])
		}
	}
	if last := got[len(got)-1]; last.Reason != reason {
		t.Errorf("the denial's reason is %q, want %q", last.Reason, reason)
	}
	r = runBinary(t, nil, "approve", "--history", "--ledger", a.ledger)
	if r.code != 0 || !strings.Contains(r.stdout, "DECISION") || !strings.Contains(r.stdout, reason) {
		t.Errorf("toll approve --history: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.DateOnly)
	if r := runBinary(t, nil, "approve", "--history", "--since", future, "--ledger", a.ledger); r.code != 0 || !strings.Contains(r.stdout, "No payment has asked for approval since") {
		t.Errorf("toll approve --history --since %s: exit %d, stdout %q", future, r.code, r.stdout)
	}
}

// decideWhileWaiting calls the weather tool, waits for its call in the queue, and runs
// toll approve with args and the call's id.
func (a *approvalSetup) decideWhileWaiting(t *testing.T, c *client.Client, args ...string) *mcp.CallToolResult {
	t.Helper()
	done := make(chan *mcp.CallToolResult, 1)
	go func() { done <- callWeather(t, c) }()
	var id string
	poll(t, func() bool {
		select {
		case res := <-done:
			t.Fatalf("the call ended before it was decided: %s", resultText(res))
		default:
		}
		if ids := a.pendingIDs(t, false); len(ids) == 1 {
			id = ids[0]
		}
		return id != ""
	})
	r := runBinary(t, nil, append(append(args, id), "--ledger", a.ledger)...)
	if r.code != 0 {
		t.Fatalf("toll %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return <-done
}

// pendingIDs are the ids toll approve --list --format json shows (all: the queue's whole
// content, decided calls included, read from the ledger).
func (a *approvalSetup) pendingIDs(t *testing.T, all bool) []string {
	t.Helper()
	var ids []string
	if all {
		if a.led == nil {
			a.led = openLedger(t, a.ledger)
		}
		queue, err := a.led.Approvals(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queue {
			ids = append(ids, q.CallID)
		}
		return ids
	}
	r := runBinary(t, nil, "approve", "--list", "--format", "json", "--ledger", a.ledger)
	if r.code != 0 {
		t.Fatalf("toll approve --list: exit %d\n%s", r.code, r.stderr)
	}
	var list []ledger.Approval
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("toll approve --list --format json: %v\n%s", err, r.stdout)
	}
	for _, q := range list {
		ids = append(ids, q.CallID)
	}
	return ids
}

// TestApprovalNewPayeeBinary: with new_payee, the first payment to the world's payTo asks
// and the second does not.
func TestApprovalNewPayeeBinary(t *testing.T) {
	a := newApprovalSetup(t, "  threshold: none\n  new_payee: true\n")
	h := &answerer{answers: []mcp.ElicitationResponse{accept}}
	c, _ := a.connect(t, mcp.ProtocolVersion20251125, h)
	for i := range 2 {
		if res := callWeather(t, c); res.IsError {
			t.Fatalf("call %d: %s", i+1, resultText(res))
		}
	}
	if h.count() != 1 || !strings.Contains(h.forms[0], "toll has never paid "+a.world.PayTo()) {
		t.Fatalf("forms %q, want one, for the first payment to a new payee", h.forms)
	}
	if got := a.balance(t); got != payerFunds-2*x402test.PriceWeather {
		t.Errorf("payer balance %d, want two payments made", got)
	}
}

// TestApproveCommand: toll approve's mistakes are usage errors, an unknown id is an error
// that says how to list, and a config check says what needs approval and how.
func TestApproveCommand(t *testing.T) {
	a := newApprovalSetup(t, "  mode: queue\n  timeout: 2m\n")
	for _, args := range [][]string{{"approve", "--deny"}, {"approve", "--reason", "x", "call_1"}, {"approve", "--list", "call_1"}, {"approve", "--format", "json"},
		{"approve", "--history", "call_1"}, {"approve", "--since", "2026-01-01"}, {"approve", "--history", "--since", "yesterday"}} {
		if r := runBinary(t, nil, append(args, "--ledger", a.ledger)...); r.code != 2 {
			t.Errorf("toll %s: exit %d, want 2 (usage)\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	a.connect(t, "", nil) // toll serve creates the ledger
	if r := runBinary(t, nil, "approve", "call_nope", "--ledger", a.ledger); r.code != 1 || !strings.Contains(r.stderr, "toll approve --list") {
		t.Errorf("approving an unknown id: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runBinary(t, nil, "approve", "--list", "--ledger", a.ledger); r.code != 0 || !strings.Contains(r.stdout, "No payment waits for approval.") {
		t.Errorf("an empty queue: exit %d, stdout %q", r.code, r.stdout)
	}
	cfg := a.args[slices.Index(a.args, "--config")+1]
	r := runBinary(t, nil, "config", "check", "--config", cfg)
	if want := "payments over 0.0005 USDC need approval: wait in the approval queue for toll approve; a person has 2m0s to decide"; !strings.Contains(r.stdout, want) {
		t.Errorf("config check lacks %q:\n%s%s", want, r.stdout, r.stderr)
	}
	bad := filepath.Join(filepath.Dir(cfg), "bad.yaml")
	if err := os.WriteFile(bad, []byte("approval: {mode: ask}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, nil, "config", "check", "--config", bad); r.code != 1 || !strings.Contains(r.stderr, "approval.mode") {
		t.Errorf("an unknown mode: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestApproveAgentFilter: --agent narrows the queue (--list) and --history to one agent's
// payments, says so when it has none, and is a usage error next to a call's id.
func TestApproveAgentFilter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, c := range []struct{ id, agent string }{{"call_a1", "alpha"}, {"call_b1", "beta"}, {"call_a2", "alpha"}} {
		if _, err := led.AskApproval(ctx, ledger.Approval{CallID: c.id, Agent: c.agent, API: "weather", Tool: "weather_get",
			Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(5000),
			PayTo: "0x00000000000000000000000000000000000000aa", Reasons: []string{"over 0.001 USDC"},
			Queued: true, Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := led.DecideApproval(ctx, ledger.Decision{CallID: "call_a1", Approved: true, By: "os-user:test", Person: true}); err != nil {
		t.Fatal(err)
	}
	led.Close()

	r := runBinary(t, nil, "approve", "--list", "--agent", "alpha", "--format", "json", "--ledger", path)
	var pending []ledger.Approval
	if err := json.Unmarshal([]byte(r.stdout), &pending); r.code != 0 || err != nil || len(pending) != 1 || pending[0].CallID != "call_a2" {
		t.Errorf("approve --list --agent alpha: exit %d, %v, %+v; want call_a2 alone\n%s", r.code, err, pending, r.stderr)
	}
	r = runBinary(t, nil, "approve", "--history", "--agent", "alpha", "--format", "json", "--ledger", path)
	var history []approvalRecord
	if err := json.Unmarshal([]byte(r.stdout), &history); r.code != 0 || err != nil || len(history) != 2 ||
		history[0].CallID != "call_a1" || history[0].Decision != "approved" || history[1].CallID != "call_a2" {
		t.Errorf("approve --history --agent alpha: exit %d, %v, %+v; want call_a1 approved, call_a2\n%s", r.code, err, history, r.stderr)
	}
	r = runBinary(t, nil, "approve", "--history", "--agent", "beta", "--ledger", path)
	if r.code != 0 || !strings.Contains(r.stdout, "call_b1") || strings.Contains(r.stdout, "call_a") {
		t.Errorf("approve --history --agent beta: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	for _, args := range [][]string{{"--list"}, {"--history"}} {
		r = runBinary(t, nil, append(append([]string{"approve"}, args...), "--agent", "gamma", "--ledger", path)...)
		if r.code != 0 || !strings.Contains(r.stdout, "agent gamma") {
			t.Errorf("approve %v --agent gamma (no payments): exit %d, stdout %q; want a line naming the agent", args, r.code, r.stdout)
		}
	}
	if r := runBinary(t, nil, "approve", "--agent", "alpha", "call_a2", "--ledger", path); r.code != 2 {
		t.Errorf("approve --agent alpha ID: exit %d, want 2 (usage)\n%s", r.code, r.stderr)
	}
}

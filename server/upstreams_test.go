package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/server/upstream"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// upstreamRig is toll in front of a paid MCP server on a local x402 world.
type upstreamRig struct {
	world  *x402test.World
	paid   *paidmcp.Server
	payer  *wallet.Wallet
	ledger *ledger.Ledger
	conn   *upstream.Conn
	toll   *client.Client
	up     atomic.Bool // the upstream answers (rigOptions.down)
}

// rigOptions says how newUpstreamRig sets up.
type rigOptions struct {
	paid   paidmcp.Options
	legacy bool // connect with the MCP handshake before 2026-07-28
	caps   ledger.Caps
	payTo  string // pinned recipient; "": none
	down   bool   // the upstream answers 503 until rig.up is set
	// approval, when set, is the payments that need a person's yes, asked by elicitation
	// of elicit.
	approval *tools.ApprovalRule
	elicit   *answerer
	// checkpoint, when set, is called at each step of a paid call (tools.Config).
	checkpoint func(tools.Step)
}

// newUpstreamRig starts a world, a paid MCP server over HTTP, and toll serving it under
// the namespace "wx", as ro says.
func newUpstreamRig(t *testing.T, ro rigOptions) *upstreamRig {
	t.Helper()
	opts := ro.paid
	ctx := t.Context()
	r := &upstreamRig{}
	var err error
	if opts.World == nil {
		if r.world, err = x402test.Start(ctx, x402test.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.world.Close() })
		opts.World = r.world
	}
	r.world = opts.World
	if r.paid, err = paidmcp.New(opts); err != nil {
		t.Fatal(err)
	}
	paidHTTP := r.paid.HTTPHandler()
	r.up.Store(!ro.down)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.up.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		paidHTTP.ServeHTTP(w, req)
	}))
	t.Cleanup(hs.Close)
	if r.payer, err = wallet.Generate(wallet.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := r.world.Fund(ctx, r.payer.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	if r.ledger, err = ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ledger.Close() })
	tc, err := tools.New(tools.Config{Wallet: r.payer, Ledger: r.ledger, Checkpoint: ro.checkpoint, Policy: tools.Policy{
		Caps:     ro.caps,
		Approval: approvalRule(ro.approval),
		Networks: []string{r.world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Address: r.world.Chain.TokenAddress()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r.conn, err = upstream.New(upstream.Config{Namespace: "wx", URL: hs.URL + "/mcp", Legacy: ro.legacy}, upstream.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := r.conn.Connect(ctx); (err != nil) != ro.down {
		t.Fatalf("Connect = %v, with the upstream down: %v", err, ro.down)
	}
	t.Cleanup(func() { r.conn.Close() })
	opts2 := Options{ResultDir: t.TempDir(), Upstreams: []Upstream{{Conn: r.conn, PayTo: ro.payTo}}}
	if ro.approval != nil {
		opts2.Approval = ApprovalOptions{On: true, Ledger: r.ledger}
	}
	s, err := New(tc, nil, opts2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if ro.elicit != nil {
		r.toll = approvalClient(t, s, "", ro.elicit)
	} else {
		r.toll = newClientFor(t, s)
	}
	return r
}

func approvalRule(r *tools.ApprovalRule) tools.ApprovalRule {
	if r == nil {
		return tools.ApprovalRule{}
	}
	return *r
}

// TestUpstreamApproval: a payment to an upstream over the approval threshold is asked
// first, as a catalog operation's is: approved, it is paid once; declined, nothing is
// signed and the tool does not run.
func TestUpstreamApproval(t *testing.T) {
	accept := mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}}
	decline := mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}
	cases := []struct {
		name      string
		answer    mcp.ElicitationResult
		wantError bool
		wantRuns  int
		wantMoved int64
		wantLast  ledger.Kind
	}{
		{name: "approved", answer: accept, wantRuns: 1, wantMoved: 1000, wantLast: ledger.KindSettled},
		{name: "declined", answer: decline, wantError: true, wantLast: ledger.KindDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			threshold, perCall := money.USDC(500), money.USDC(10_000)
			a := &answerer{result: tc.answer}
			r := newUpstreamRig(t, rigOptions{caps: ledger.Caps{PerCall: &perCall}, approval: &tools.ApprovalRule{Threshold: &threshold}, elicit: a})
			before := r.balance(t, r.payer.Address().Hex())
			res := callToolWith(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
			if res.IsError != tc.wantError {
				t.Errorf("isError %v, want %v: %+v", res.IsError, tc.wantError, res)
			}
			if shown := a.shown(); len(shown) != 1 || !strings.Contains(shown[0], "wx_get_weather") {
				t.Errorf("elicitations shown %q, want one naming wx_get_weather", shown)
			}
			if got := r.paid.ToolRuns(paidmcp.ToolWeather); got != tc.wantRuns {
				t.Errorf("tool runs = %d, want %d", got, tc.wantRuns)
			}
			if moved := before - r.balance(t, r.payer.Address().Hex()); moved != tc.wantMoved {
				t.Errorf("moved %d, want %d", moved, tc.wantMoved)
			}
			if kinds := kindsOf(t, r.ledger); len(kinds) == 0 || kinds[len(kinds)-1] != tc.wantLast {
				t.Errorf("ledger events %v, want the last to be %s", kinds, tc.wantLast)
			}
		})
	}
}

func (r *upstreamRig) balance(t *testing.T, addr string) int64 {
	t.Helper()
	b, err := r.world.BalanceOf(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return b.Atomic().Int64()
}

func (r *upstreamRig) spends(t *testing.T) []ledger.Spend {
	t.Helper()
	sp, err := r.ledger.Spends(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestUpstreamPaidCall pays a paid MCP server through toll, in each dialect and MCP era:
// one tool run, one settlement, the exact amount moved on chain, the ledger's spend
// settled under the upstream's namespace, the upstream's content passed on.
func TestUpstreamPaidCall(t *testing.T) {
	cases := []struct {
		name        string
		dialect     paidmcp.Dialect
		legacy      bool
		wantListed  string // the price line of wx_get_weather in toll's tools/list
		wantUnpaid  string // what the unpaid call answers, seen raw: `"resultType":"payment_required"` or `"isError":true`
		wantVersion int    // the x402 version of the receipt
	}{
		{name: "spec, MCP 2026-07-28 (extension binding)", dialect: paidmcp.DialectSpec, wantListed: "Price: 0.001 USDC per call",
			wantUnpaid: `"resultType":"payment_required"`, wantVersion: 2},
		{name: "spec, MCP 2025 (tool-result binding)", dialect: paidmcp.DialectSpec, legacy: true, wantListed: "Price: 0.001 USDC per call",
			wantUnpaid: `"isError":true`, wantVersion: 2},
		{name: "x402-mcp dialect", dialect: paidmcp.DialectX402MCP, legacy: true, wantListed: "Price: set at call time",
			wantUnpaid: `"isError":true`, wantVersion: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perCall := money.USDC(10_000)
			// Each step of the paid call, with how many payments the server had settled
			// when it came: "sent" before the payment reached it, "responded" after.
			var (
				steps []string
				r     *upstreamRig
			)
			checkpoint := func(s tools.Step) { steps = append(steps, fmt.Sprintf("%s:%d", s, r.paid.Settlements())) }
			r = newUpstreamRig(t, rigOptions{paid: paidmcp.Options{Dialect: tc.dialect}, legacy: tc.legacy, caps: ledger.Caps{PerCall: &perCall}, checkpoint: checkpoint})
			listed, err := r.toll.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			desc := ""
			for _, tl := range listed.Tools {
				if tl.Name == "wx_get_weather" {
					desc = tl.Description
				}
			}
			if !strings.Contains(desc, tc.wantListed) {
				t.Errorf("wx_get_weather's description %q does not say %q", desc, tc.wantListed)
			}
			raw, err := r.conn.CallTool(t.Context(), paidmcp.ToolForecast, json.RawMessage(`{"city":"Oslo"}`), nil)
			if err != nil || !strings.Contains(string(raw), tc.wantUnpaid) {
				t.Errorf("unpaid get_forecast = %.300s, %v; want it to hold %s", raw, err, tc.wantUnpaid)
			}
			payTo := r.world.PayTo()
			before, beforePayTo := r.balance(t, r.payer.Address().Hex()), r.balance(t, payTo)
			result := callToolArgs(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
			res := onWire(t, result)
			if res.IsError {
				t.Fatalf("wx_get_weather: error result %+v", res)
			}
			var rc tools.Receipt
			if b, err := json.Marshal(result.Meta.AdditionalFields[MetaReceipt]); err != nil || json.Unmarshal(b, &rc) != nil || rc.Version != tc.wantVersion || rc.Status != ledger.StatusSettled {
				t.Errorf("receipt %s: want a settled receipt of x402 version %d", b, tc.wantVersion)
			}
			all := blockTexts(res.Content)
			if !strings.Contains(all, "Oslo") || !strings.Contains(all, "Cost: paid 0.001 USDC") {
				t.Errorf("result %q: want the upstream's weather for Oslo and the cost line", all)
			}
			if got, want := strings.Join(steps, " "), "reserved:0 signed:0 sent:0 responded:1 recorded:1"; got != want {
				t.Errorf("the paid call's steps (and settlements at each) = %s, want %s", got, want)
			}
			if got := r.paid.ToolRuns(paidmcp.ToolWeather); got != 1 {
				t.Errorf("tool runs = %d, want 1", got)
			}
			if got := r.paid.Settlements(); got != 1 {
				t.Errorf("settlements = %d, want 1", got)
			}
			if got := before - r.balance(t, r.payer.Address().Hex()); got != 1000 {
				t.Errorf("payer paid %d atomic units, want 1000", got)
			}
			if got := r.balance(t, payTo) - beforePayTo; got != 1000 {
				t.Errorf("payTo received %d atomic units, want 1000", got)
			}
			sp := r.spends(t)
			if len(sp) != 1 {
				t.Fatalf("ledger spends = %d, want 1", len(sp))
			}
			if sp[0].Status != ledger.StatusSettled || sp[0].API != "wx" || sp[0].Tool != "wx_get_weather" || sp[0].URL != "mcp://wx/get_weather" || sp[0].TxHash == "" ||
				sp[0].Method != "tools/call" || sp[0].HTTPStatus != 0 {
				t.Errorf("spend = %+v; want settled, API wx, tool wx_get_weather, URL mcp://wx/get_weather, method tools/call, no HTTP status, a transaction", sp[0])
			}
		})
	}
}

// TestUpstreamHostile: an upstream's hostile answers are refused as their HTTP twins
// are, and a cap refuses before anything is signed.
func TestUpstreamHostile(t *testing.T) {
	cases := []struct {
		name        string
		opts        paidmcp.Options
		perCall     int64
		payTo       string // pinned recipient; "" for none
		wantOK      bool   // the result is not an error (the tool's content, with an unproven cost)
		wantText    string
		wantRuns    int
		wantSpent   []ledger.Status // the ledger's spends, in order
		wantMoved   int64           // atomic units moved from the payer
		wantSettled int             // settlements the upstream made
	}{
		{
			name:     "price above the per-call cap",
			perCall:  500,
			wantText: "more than the per-call cap",
		},
		{
			name:      "payment required again after payment, at a changed price",
			opts:      paidmcp.Options{PriceAfterPayment: money.USDC(2000)},
			perCall:   10_000,
			wantText:  "Payment problem",
			wantSpent: []ledger.Status{ledger.StatusUnknown},
		},
		{
			name:     "a recipient other than the pinned pay_to",
			perCall:  10_000,
			payTo:    "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
			wantText: "is not the pinned recipient",
		},
		{
			name:      "a settlement that fails after the tool ran",
			opts:      paidmcp.Options{FailSettlement: true},
			perCall:   10_000,
			wantText:  "Payment problem",
			wantRuns:  1,
			wantSpent: []ledger.Status{ledger.StatusUnknown},
		},
		{
			name:        "a payment response naming another payer",
			opts:        paidmcp.Options{PayerInResponse: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"},
			perCall:     10_000,
			wantOK:      true,
			wantText:    "no proof of settlement",
			wantRuns:    1,
			wantSpent:   []ledger.Status{ledger.StatusUnknown},
			wantMoved:   1000,
			wantSettled: 1,
		},
		{
			name:        "a connection cut after the settlement: not sent again",
			opts:        paidmcp.Options{CutAfterSettle: true},
			perCall:     10_000,
			wantText:    "Payment problem",
			wantRuns:    1,
			wantSpent:   []ledger.Status{ledger.StatusUnknown},
			wantMoved:   1000,
			wantSettled: 1,
		},
		{
			name:     "a huge PaymentRequired",
			opts:     paidmcp.Options{HugeRequired: 2 << 20},
			perCall:  10_000,
			wantText: "without terms toll can read",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perCall := money.USDC(tc.perCall)
			r := newUpstreamRig(t, rigOptions{paid: tc.opts, caps: ledger.Caps{PerCall: &perCall}, payTo: tc.payTo})
			before := r.balance(t, r.payer.Address().Hex())
			res := callToolWith(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
			if res.IsError == tc.wantOK || !strings.Contains(blockTexts(res.Content), tc.wantText) {
				t.Errorf("result %+v: want isError %v, saying %q", res, !tc.wantOK, tc.wantText)
			}
			if !tc.wantOK && strings.Contains(blockTexts(res.Content), "temperatureC") {
				t.Errorf("result %+v: holds the tool's content", res)
			}
			if got := r.paid.ToolRuns(paidmcp.ToolWeather); got != tc.wantRuns {
				t.Errorf("tool runs = %d, want %d", got, tc.wantRuns)
			}
			if got := r.paid.Settlements(); got != tc.wantSettled {
				t.Errorf("settlements = %d, want %d", got, tc.wantSettled)
			}
			var got []ledger.Status
			for _, sp := range r.spends(t) {
				got = append(got, sp.Status)
			}
			if strings.Join(statusStrings(got), ",") != strings.Join(statusStrings(tc.wantSpent), ",") {
				t.Errorf("spends = %v, want %v", got, tc.wantSpent)
			}
			if moved := before - r.balance(t, r.payer.Address().Hex()); moved != tc.wantMoved {
				t.Errorf("moved %d from the payer, want %d", moved, tc.wantMoved)
			}
		})
	}
}

// TestUpstreamLate: an upstream that is down when toll starts has no tools in toll's
// list; once it is up and connected (as Conn.Run does on its next try), its tools are
// listed and paid.
func TestUpstreamLate(t *testing.T) {
	perCall := money.USDC(10_000)
	r := newUpstreamRig(t, rigOptions{caps: ledger.Caps{PerCall: &perCall}, down: true})
	if names := toolNames(t, r.toll); names["wx_get_weather"] {
		t.Fatalf("tools/list of a down upstream has wx_get_weather: %v", names)
	}
	changed := make(chan struct{}, 1)
	r.toll.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationToolsListChanged) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	r.up.Store(true)
	if err := r.conn.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-t.Context().Done():
		t.Fatal("no notifications/tools/list_changed once the upstream's tools were added")
	}
	if names := toolNames(t, r.toll); !names["wx_get_weather"] {
		t.Fatalf("tools/list once the upstream is up lacks wx_get_weather: %v", names)
	}
	res := callToolWith(t, r.toll, "wx_get_weather", map[string]any{"city": "Oslo"})
	if res.IsError || !strings.Contains(blockTexts(res.Content), "Cost: paid 0.001 USDC") {
		t.Errorf("result %+v: want the weather, paid", res)
	}
}

func toolNames(t *testing.T, c *client.Client) map[string]bool {
	t.Helper()
	list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tl := range list.Tools {
		names[tl.Name] = true
	}
	return names
}

// TestUpstreamDown: an upstream that cannot be reached is reported with its namespace,
// and a call sends nothing.
func TestUpstreamDown(t *testing.T) {
	conn, err := upstream.New(upstream.Config{Namespace: "gone", URL: "http://127.0.0.1:1/mcp"}, upstream.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Connect(t.Context())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Connect = %v, want an error naming the server", err)
	}
	_, err = conn.CallTool(t.Context(), "x", nil, nil)
	if !errors.Is(err, upstream.ErrUnreachable) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("CallTool = %v, want ErrUnreachable naming the namespace", err)
	}
}

// callToolArgs calls name with args and returns its result; a Go error fails t.
func callToolArgs(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func blockTexts(blocks []wireBlock) string {
	var b strings.Builder
	for _, bl := range blocks {
		b.WriteString(bl.Text)
		b.WriteString("\n")
	}
	return b.String()
}

func statusStrings(s []ledger.Status) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// TestUpstreamQuote: toll_quote of a paid MCP server's tool sends its tools/call once
// without payment and reports its terms and whether toll would pay them (a per-call cap
// under the price is named); a tool whose server advertises no price is not sent, since a
// tools/call of a free tool runs it. No tool runs, nothing is signed, recorded or paid.
func TestUpstreamQuote(t *testing.T) {
	perCall := money.USDC(3000)
	r := newUpstreamRig(t, rigOptions{caps: ledger.Caps{PerCall: &perCall}})
	quote := func(name string) (quoteOut, string) {
		t.Helper()
		res := callToolWith(t, r.toll, QuoteTool, map[string]any{"name": name, "arguments": map[string]any{"city": "Oslo"}})
		if res.IsError {
			t.Fatalf("toll_quote %s: error %s", name, blockTexts(res.Content))
		}
		return quoteOf(t, res), blockTexts(res.Content)
	}
	payer := r.balance(t, r.payer.Address().Hex())

	q, text := quote("wx_" + paidmcp.ToolWeather)
	if !q.Sent || !q.WouldPay || q.Answer != tools.AnswerPaymentRequired || len(q.Requirements) != 1 || q.Requirements[0].Amount != "1000" ||
		!strings.Contains(text, "The MCP server asks for payment") || !strings.Contains(text, "toll would pay 0.001 USDC now") {
		t.Errorf("quote of wx_get_weather: %+v\n%s", q, text)
	}
	q, text = quote("wx_" + paidmcp.ToolForecast)
	if !q.Sent || q.WouldPay || q.RefusedBy != "per-call cap" {
		t.Errorf("quote of wx_get_forecast over the per-call cap: %+v\n%s", q, text)
	}
	q, text = quote("wx_" + paidmcp.ToolPing)
	if q.Sent || q.Free || !strings.Contains(text, "advertises no price") {
		t.Errorf("quote of wx_ping (no advertised price): %+v\n%s", q, text)
	}
	for _, tool := range []string{paidmcp.ToolWeather, paidmcp.ToolForecast, paidmcp.ToolPing} {
		if n := r.paid.ToolRuns(tool); n != 0 {
			t.Errorf("%s ran %d times for a quote", tool, n)
		}
	}
	if evs, err := r.ledger.Events(t.Context()); err != nil || len(evs) != 0 || r.paid.Settlements() != 0 || r.balance(t, r.payer.Address().Hex()) != payer {
		t.Errorf("a quote changed the money: %d ledger events (%v), %d settlements, balance %d → %d", len(evs), err, r.paid.Settlements(),
			payer, r.balance(t, r.payer.Address().Hex()))
	}
}

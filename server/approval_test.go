package server

import (
	"cmp"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
	"github.com/tollhq/toll/wallet"
)

// answerer is a client's elicitation handler: it answers with its result and keeps the
// messages it was shown.
type answerer struct {
	mu       sync.Mutex
	result   mcp.ElicitationResult
	messages []string
}

func (a *answerer) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.messages = append(a.messages, req.Params.Message)
	r := a.result
	return &r, nil
}

func (a *answerer) shown() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.messages...)
}

// approvalWorld serves the weather world with payments over 0.0005 USDC needing approval.
func approvalWorld(t *testing.T, opts ApprovalOptions) (*x402test.World, *Server, *ledger.Ledger) {
	t.Helper()
	ctx := t.Context()
	world, err := x402test.Start(ctx, x402test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { world.Close() })
	w, err := wallet.Generate(wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := world.Fund(ctx, w.Address().Hex(), money.USDC(1_000_000)); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	threshold := money.USDC(500)
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led, Policy: tools.Policy{
		Networks: []string{world.Chain.NetworkV2()},
		Assets:   []tools.Asset{{Address: world.Chain.TokenAddress()}},
		Approval: tools.ApprovalRule{Threshold: &threshold},
	}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := catalog.Load(ctx, world.SpecYAML(), "weather.yaml", catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.On, opts.Ledger = true, led
	s, err := New(tc, api.Operations, Options{Approval: opts, ResultDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return world, s, led
}

func approvalClient(t *testing.T, s *Server, version string, h client.ElicitationHandler) *client.Client {
	t.Helper()
	var opts []client.ClientOption
	if h != nil {
		opts = append(opts, client.WithElicitationHandler(h))
	}
	if version != "" {
		opts = append(opts, client.WithProtocolVersion(version))
	}
	c, err := client.NewInProcessClientWithOptions(s.mcp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	if h != nil {
		init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{}
	}
	res, err := c.Initialize(t.Context(), init)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Instructions, "need the user's approval") {
		t.Errorf("the instructions do not say that payments need approval:\n%s", res.Instructions)
	}
	return c
}

func kindsOf(t *testing.T, led *ledger.Ledger) []ledger.Kind {
	t.Helper()
	evs, err := led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Kind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestApprovalElicitInProcess(t *testing.T) {
	for _, version := range []string{mcp.ProtocolVersion20251125, ""} {
		for _, tc := range []struct {
			name   string
			answer mcp.ElicitationResult
			paid   bool
			last   ledger.Kind
		}{
			{"accept", mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}}, true, ledger.KindSettled},
			{"decline", mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, false, ledger.KindDenied},
		} {
			t.Run(cmp.Or(version, "default (2026-07-28)")+"/"+tc.name, func(t *testing.T) {
				world, s, led := approvalWorld(t, ApprovalOptions{})
				h := &answerer{result: tc.answer}
				c := approvalClient(t, s, version, h)
				res := callToolWith(t, c, "weather_demo_getWeather", map[string]any{"city": "Oslo"})
				if res.IsError == tc.paid {
					t.Fatalf("isError %v, want %v: %+v", res.IsError, !tc.paid, res.Content)
				}
				if got := len(world.Settlements()); got != map[bool]int{true: 1}[tc.paid] {
					t.Fatalf("%d settlements", got)
				}
				shown := h.shown()
				if len(shown) != 1 || !strings.Contains(shown[0], "0.001 USDC to "+world.PayTo()) {
					t.Fatalf("the client was shown %q, want one form naming the amount and the payee", shown)
				}
				kinds := kindsOf(t, led)
				if kinds[0] != ledger.KindApprovalAsked || kinds[len(kinds)-1] != tc.last {
					t.Fatalf("events %v", kinds)
				}
			})
		}
	}
}

func TestApprovalFallbackInProcess(t *testing.T) {
	_, s, led := approvalWorld(t, ApprovalOptions{Fallback: ApprovalDeny})
	c := approvalClient(t, s, mcp.ProtocolVersion20251125, nil)
	res := callToolWith(t, c, "weather_demo_getWeather", map[string]any{"city": "Oslo"})
	if !res.IsError || !strings.Contains(res.Content[0].Text, "approval.fallback is deny") {
		t.Fatalf("result %+v, want an error naming the fallback", res.Content)
	}
	if kinds := kindsOf(t, led); len(kinds) != 2 || kinds[1] != ledger.KindDenied {
		t.Fatalf("events %v, want approval-asked then denied", kinds)
	}
}

func TestApprovalFormTimesOutInProcess(t *testing.T) {
	// A modern client's form that is never answered is recorded as timed out, and a
	// late answer signs nothing.
	world, s, led := approvalWorld(t, ApprovalOptions{Timeout: time.Millisecond})
	release := make(chan struct{})
	h := &blockingAnswerer{release: release}
	c := approvalClient(t, s, "", h)
	done := make(chan wire, 1)
	go func() { done <- callToolWith(t, c, "weather_demo_getWeather", map[string]any{"city": "Oslo"}) }()
	for {
		kinds := kindsOf(t, led)
		if len(kinds) == 2 && kinds[1] == ledger.KindDenied {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	res := <-done
	if !res.IsError || !strings.Contains(res.Content[0].Text, "expired") || len(world.Settlements()) != 0 {
		t.Fatalf("late answer: %+v, %d settlements; want an error saying the form expired, nothing paid", res.Content, len(world.Settlements()))
	}
}

// blockingAnswerer accepts, once released.
type blockingAnswerer struct{ release chan struct{} }

func (b *blockingAnswerer) Elicit(ctx context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	<-b.release
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"approve": true}}}, nil
}

func TestApprovalQueueInProcess(t *testing.T) {
	for _, approve := range []bool{true, false} {
		world, s, led := approvalWorld(t, ApprovalOptions{Mode: ApprovalQueue})
		c := approvalClient(t, s, mcp.ProtocolVersion20251125, &answerer{})
		done := make(chan wire, 1)
		go func() { done <- callToolWith(t, c, "weather_demo_getWeather", map[string]any{"city": "Oslo"}) }()
		var queue []ledger.Approval
		for len(queue) == 0 {
			var err error
			if queue, err = led.Approvals(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := led.DecideApproval(t.Context(), ledger.Decision{CallID: queue[0].CallID, Approved: approve, By: "os-user:test", Person: true}); err != nil {
			t.Fatal(err)
		}
		res := <-done
		if res.IsError == approve || len(world.Settlements()) != map[bool]int{true: 1}[approve] {
			t.Fatalf("approved %v: isError %v, %d settlements: %+v", approve, res.IsError, len(world.Settlements()), res.Content)
		}
	}
}

func TestApprovalFormClosedWithServer(t *testing.T) {
	// A form sent to a modern client and not answered when the server closes is recorded
	// as denied.
	_, s, led := approvalWorld(t, ApprovalOptions{})
	release := make(chan struct{})
	defer close(release)
	c := approvalClient(t, s, "", &blockingAnswerer{release: release})
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "weather_demo_getWeather"
		req.Params.Arguments = map[string]any{"city": "Oslo"}
		c.CallTool(context.Background(), req)
	}()
	for {
		s.approvals.mu.Lock()
		n := len(s.approvals.pending)
		s.approvals.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err := led.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Kind != ledger.KindDenied || !strings.Contains(last.Reason, "toll stopped") {
		t.Fatalf("last event %s %q, want denied because toll stopped", last.Kind, last.Reason)
	}
}

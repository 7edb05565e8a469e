package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402test"
)

const (
	aliceToken = "a11ce0000000000000000000000000000000000000000000000000000000a11c"
	bobToken   = "b0b0000000000000000000000000000000000000000000000000000000000b0b"
)

// agentsConfig writes a toll.yaml naming two agents, alice (at most two weather calls in
// all) and bob (at most three on the weather API), with their tokens in files.
func (s *e2eSetup) agentsConfig(t *testing.T) string {
	t.Helper()
	alice := writeFile(t, s.dir, "alice.token", aliceToken+"\n")
	bob := writeFile(t, s.dir, "bob.token", bobToken+"\n")
	return writeFile(t, s.dir, "toll.yaml", fmt.Sprintf(`agents:
  - name: alice
    token_file: %s
    total: "0.002"
  - name: bob
    token_file: %s
    total: "0.01"
    per_api: {weather_demo: "0.003"}
`, alice, bob))
}

// agentClient is an MCP client over HTTP that sends token, initialized in protocol version.
func agentClient(t *testing.T, ctx context.Context, url, token, version string) (*client.Client, error) {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = version
	init.Params.ClientInfo = mcp.Implementation{Name: t.Name(), Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return nil, err
	}
	return c, nil
}

// weather calls the paid weather tool and returns the result's text.
func weather(t *testing.T, ctx context.Context, c *client.Client) string {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = "weather_demo_getWeather"
	req.Params.Arguments = map[string]any{"city": "Oslo"}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	return resultText(res)
}

// TestAgentsOverHTTP drives the built binary over HTTP with two agents, each with its own
// token and caps: each pays on the local x402 world until its own cap, while the other
// still pays; a new session, and a 2026-07-28 request (no session at all), do not renew
// an agent's caps; an unknown token is refused with nothing paid; toll_budget answers for
// the calling agent; the ledger's events carry the agent. Then toll serve on stdio pays
// for the agent --agent names, within the same caps, and refuses to start without one.
func TestAgentsOverHTTP(t *testing.T) {
	bin := tollBinary(t)
	s := newE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel) // after the clients' cleanups, which end their sessions
	cfg := s.agentsConfig(t)
	port, stderr := httpServe(t, ctx, bin, s.serveArgs("--config", cfg, "--http", "127.0.0.1:0"))
	defer func() {
		if t.Failed() {
			t.Logf("toll stderr:\n%s", stderr.String())
		}
	}()
	url := "http://127.0.0.1:" + port + "/mcp"
	payer0 := s.balance(t, s.payer.Hex())
	paid := func(text string) bool { return strings.Contains(text, "Cost: paid") }

	if _, err := agentClient(t, ctx, url, otherToken, mcp.ProtocolVersion20250618); err == nil {
		t.Fatal("a client with an unknown token initialized")
	}
	alice, err := agentClient(t, ctx, url, aliceToken, mcp.ProtocolVersion20250618)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := agentClient(t, ctx, url, bobToken, mcp.ProtocolVersion20250618)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ alice, bob bool }{{true, true}, {true, true}, {false, true}} {
		if got := weather(t, ctx, alice); paid(got) != want.alice {
			t.Errorf("alice's call %d: %q; want paid %v", i+1, got, want.alice)
		}
		if got := weather(t, ctx, bob); paid(got) != want.bob {
			t.Errorf("bob's call %d: %q; want paid %v", i+1, got, want.bob)
		}
	}
	if got := weather(t, ctx, alice); paid(got) || !strings.Contains(got, `agent "alice"'s total cap`) {
		t.Errorf("alice over her cap: %q; want it refused naming her total cap", got)
	}
	// A new session, and requests of the 2026-07-28 protocol, which have no session.
	alice2, err := agentClient(t, ctx, url, aliceToken, mcp.ProtocolVersion20250618)
	if err != nil {
		t.Fatal(err)
	}
	if got := weather(t, ctx, alice2); paid(got) || !strings.Contains(got, `agent "alice"'s total cap`) {
		t.Errorf("alice in a new session: %q; want her cap to hold", got)
	}
	for _, tc := range []struct{ token, refusal string }{
		{aliceToken, `agent "alice"'s total cap`}, {bobToken, `agent "bob"'s per-api cap`},
	} {
		modern, err := agentClient(t, ctx, url, tc.token, mcp.ProtocolVersion20260728)
		if err != nil {
			t.Fatal(err)
		}
		if got := weather(t, ctx, modern); paid(got) || !strings.Contains(got, tc.refusal) {
			t.Errorf("a 2026-07-28 request: %q; want it refused by the %s", got, tc.refusal)
		}
	}
	res, err := bob.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "toll_budget", Arguments: map[string]any{}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(res); !strings.Contains(got, "Agent bob") || !strings.Contains(got, "agent per-api weather_demo: limit 0.003, used 0.003, remaining 0") {
		t.Errorf("bob's toll_budget:\n%s", got)
	}
	if d := payer0.Sub(s.balance(t, s.payer.Hex())); d.Cmp(money.USDC(5*x402test.PriceWeather)) != 0 {
		t.Errorf("payer paid %s, want five calls' %s", d, money.USDC(5*x402test.PriceWeather))
	}
	checkAgentEvents(t, s.ledger, map[string]int{"alice": 2, "bob": 3}, map[string]string{"alice": ledger.CapAgentTotal, "bob": ledger.CapAgentPerAPI})
	for _, secret := range []string{aliceToken, bobToken, otherToken} {
		if strings.Contains(stderr.String(), secret) {
			t.Error("a token is in toll's log")
		}
	}

	// On stdio, as bob: his caps are the ledger's, whatever the process.
	c, _, _ := serveMCP(t, ctx, bin, nil, s.serveArgs("--config", cfg, "--agent", "bob"))
	if got := weather(t, ctx, c); paid(got) || !strings.Contains(got, `agent "bob"'s per-api cap`) {
		t.Errorf("bob on stdio: %q; want his per-API cap to hold", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "choose the one this stdio server pays for with --agent NAME"},
		{[]string{"--agent", "mallory"}, "--agent mallory is not one of the agents of toll.yaml (alice, bob)"},
		{[]string{"--agent", "bob", "--http", "127.0.0.1:0"}, "over --http each request's bearer token names its agent"},
	} {
		r := runBinary(t, nil, s.serveArgs(append([]string{"--config", cfg}, tc.args...)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit 2 saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// checkAgentEvents reads the ledger's events back: each agent's settled reservations, and
// its refusals by its own cap.
func checkAgentEvents(t *testing.T, path string, reserved map[string]int, refusedBy map[string]string) {
	t.Helper()
	evs, err := openLedger(t, path).Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gotReserved, gotRefused := map[string]int{}, map[string]int{}
	for _, e := range evs {
		switch {
		case e.Kind == ledger.KindReserved:
			gotReserved[e.Agent]++
		case e.Kind == ledger.KindRefused && e.Cap == refusedBy[e.Agent]:
			gotRefused[e.Agent]++
		case e.Kind == ledger.KindRefused:
			t.Errorf("event %d: %s refused by %q", e.Seq, e.Agent, e.Cap)
		}
	}
	for agent, n := range reserved {
		if gotReserved[agent] != n || gotRefused[agent] == 0 {
			t.Errorf("agent %s: %d reservations and %d refusals by its %s cap; want %d and some", agent, gotReserved[agent], gotRefused[agent], refusedBy[agent], n)
		}
	}
	if len(gotReserved) != len(reserved) {
		t.Errorf("reservations by agent: %v, want only %v", gotReserved, reserved)
	}
}

// TestAgentsConfig checks agents: in toll.yaml through toll config check: what each agent
// may spend, and every problem, each named.
func TestAgentsConfig(t *testing.T) {
	dir := t.TempDir()
	spec, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "weather.yaml"))
	ks := writeFile(t, dir, "key.json", "{}")
	tok := writeFile(t, dir, "a.token", aliceToken+"\n")
	short := writeFile(t, dir, "short.token", "tooshort\n")
	head := fmt.Sprintf("wallet: {keystore: %s}\nnetworks: [base-sepolia]\napis: [{spec: %s, namespace: wx}]\n", ks, spec)
	good := writeFile(t, dir, "good.yaml", head+fmt.Sprintf(`agent: research
agents:
  research: {token_file: %s, per_call: "0.05", per_day: "1", per_api: {wx: "0.50"}}
  ops: {token_env: OPS_TOKEN, total: "20", approval: {threshold: "0.02", new_payee: true}}
`, tok))
	r := runBinary(t, []string{"OPS_TOKEN=" + bobToken}, "config", "check", "--config", good)
	if r.code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"agent research  per call 0.05, per day 1, total none, on wx 0.5 (USDC), inside the caps above; token in file " + tok,
		"agent ops       per call none, per day none, total 20 (USDC), inside the caps above; token in $OPS_TOKEN; needs approval: over 0.02 USDC, the first payment to a payee",
		"stdio agent     research",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, tc := range []struct {
		agents string
		env    []string
		want   string
	}{
		{"  - {name: a, token: " + aliceToken + "}\n", nil, "toll.yaml never holds a token"},
		{"  - {name: a}\n", nil, "agent a: no token"},
		{"  - {name: a, token_file: " + tok + "}\n  - {name: a, token_env: X}\n", nil, "agent a: the name is given twice"},
		{"  - {name: 'a b', token_file: " + tok + "}\n", nil, "an agent's name has only letters"},
		{"  - {name: a, token_file: " + tok + "}\n  - {name: b, token_env: X}\n", []string{"X=" + aliceToken}, "agents a and b have the same token"},
		{"  - {name: a, token_file: " + short + "}\n", nil, "fewer than 32"},
		{"  - {name: a, token_env: X}\n", nil, "token_env names the variable X, which is not set"},
		{"  - {name: a, token_file: " + tok + ", per_api: {weather: '1'}}\n", nil, `per_api: "weather" is not the namespace of any API served (wx)`},
	} {
		bad := writeFile(t, dir, "bad.yaml", head+"agents:\n"+tc.agents)
		r := runBinary(t, tc.env, "config", "check", "--config", bad)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("agents:\n%sexit %d, stderr %q; want exit 1 saying %q", tc.agents, r.code, r.stderr, tc.want)
		}
		if strings.Contains(r.stdout+r.stderr, aliceToken) {
			t.Errorf("agents:\n%sa token is in the output", tc.agents)
		}
	}
}

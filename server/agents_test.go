package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

// The instructions name the stdio agent, or say that agents have caps of their own.
func TestInstructionsAgents(t *testing.T) {
	for _, tc := range []struct {
		g    guide
		want string // "" : no agent line
	}{
		{guide{builtins: eagerBuiltins}, ""},
		{guide{builtins: eagerBuiltins, agent: "research", agents: true}, "You pay as agent research"},
		{guide{builtins: eagerBuiltins, agents: true}, "Each agent (named by its bearer token) has its own caps"},
	} {
		text := tc.g.instructions()
		if tc.want == "" && (strings.Contains(text, "You pay as agent") || strings.Contains(text, "Each agent")) {
			t.Errorf("no agents: the instructions mention agents:\n%s", text)
		}
		if tc.want != "" && !strings.Contains(text, tc.want) {
			t.Errorf("%+v: the instructions lack %q:\n%s", tc.g, tc.want, text)
		}
	}
}

// Over HTTP the bearer token names the agent that toll_budget answers for; a token of no
// agent, or none, is refused before any handler runs.
func TestHTTPAgentTokens(t *testing.T) {
	total := money.USDC(5000)
	f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}, Agents: map[string]tools.AgentPolicy{
		"alice": {Caps: ledger.AgentCaps{Total: &total}},
		"bob":   {},
	}}, Options{Agents: true})
	hs := httptest.NewServer(f.s.HTTPHandler(HTTPOptions{Agents: []AgentToken{{"alice", testToken}, {"bob", testToken + "-bob"}}}))
	defer hs.Close()
	for _, tc := range []struct {
		token string
		want  string // in toll_budget's text; "" : refused
	}{
		{testToken, "Agent alice"},
		{testToken + "-bob", "Agent bob"},
		{wrongToken, ""},
	} {
		c, err := client.NewStreamableHttpClient(hs.URL+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tc.token}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		var init mcp.InitializeRequest
		init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
		_, err = c.Initialize(t.Context(), init)
		if tc.want == "" {
			if err == nil {
				t.Errorf("token of no agent: initialize succeeded")
			}
			continue
		}
		if err != nil {
			t.Fatalf("initialize: %v", err)
		}
		res := callToolWith(t, c, BudgetTool, map[string]any{})
		text := res.Content[0].Text
		if res.IsError || !strings.Contains(text, tc.want) {
			t.Errorf("toll_budget with the token of %q: %s", tc.want, text)
		}
		if hasAliceCap := strings.Contains(text, "agent total: limit 0.005"); hasAliceCap != (tc.want == "Agent alice") {
			t.Errorf("toll_budget of %q shows alice's total cap: %v\n%s", tc.want, hasAliceCap, text)
		}
	}
}

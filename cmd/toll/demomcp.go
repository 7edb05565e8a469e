package main

import (
	"context"
	"fmt"

	"github.com/tollhq/toll/server"
	"github.com/tollhq/toll/server/paidmcp"
	"github.com/tollhq/toll/server/upstream"
)

// The demo's paid MCP server: another MCP server whose tools ask to be paid (x402's MCP
// transport), served by the local world at /mcp. toll lists its tools under a namespace,
// with the prices it advertises, and pays for them as for an API: the same caps, ledger
// and checks (mcp_servers: in toll.yaml does the same for a real one).

// demoNamespace is the paid MCP server's namespace in the demo: its tools are
// market_TOOL in toll.
const demoNamespace = "market"

// connectPaidMCP connects toll to the paid MCP server, as an entry of mcp_servers: would,
// with its payee pinned.
func (d *demo) connectPaidMCP(ctx context.Context) (server.Upstream, error) {
	conn, err := upstream.New(upstream.Config{Namespace: demoNamespace, URL: d.mcpURL()}, upstream.Options{Logger: d.log, Version: version()})
	if err != nil {
		return server.Upstream{}, err
	}
	if err := conn.Connect(ctx); err != nil {
		conn.Close()
		return server.Upstream{}, fmt.Errorf("connect to the paid MCP server: %w", err)
	}
	d.closers = append(d.closers, func() { conn.Close() })
	return server.Upstream{Conn: conn, PayTo: d.world.PayTo()}, nil
}

func (d *demo) mcpURL() string { return mcpURL(d.world) }

// paidMCPCall pays for a tool of the paid MCP server.
func (d *demo) paidMCPCall(ctx context.Context) error {
	d.section("A paid MCP tool: another MCP server's tool that asks to be paid (x402 over MCP)")
	d.printf("   %s serves %s; toll lists its tools as %s_TOOL and pays for them like an API's\n", d.mcpURL(), paidmcp.ToolWeather, demoNamespace)
	tool := demoNamespace + "_" + paidmcp.ToolWeather
	return d.paid(ctx, tool, map[string]any{"city": "Kyoto"}, d.world.PayTo(), paidmcp.Price(paidmcp.ToolWeather))
}

package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
)

// ToolsList returns, as indented JSON, exactly the tools/list result an MCP host gets from
// a Server over these operations with these options: it builds the server and asks it over
// an in-process MCP session. No tool is called, so no wallet or ledger is needed.
func ToolsList(ctx context.Context, ops []*catalog.Operation, opts Options) ([]byte, error) {
	s, err := newServer(nil, ops, opts)
	if err != nil {
		return nil, err
	}
	lc, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer lc.Close()
	res, err := lc.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, fmt.Errorf("tools/list: %w", err)
	}
	return json.MarshalIndent(map[string]any{"tools": res.Tools}, "", "  ")
}

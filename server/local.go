package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// LocalClient is an MCP client connected in-process to a Server, for toll demo: it speaks
// the same MCP requests a host sends, without a pipe.
type LocalClient struct {
	c *client.Client
}

// ToolInfo is what a host sees of one tool.
type ToolInfo struct {
	Name        string
	Description string
	Price       map[string]any // the x402/price _meta entry; nil for a free tool
}

// CallResult is a tool result as a host sees it.
type CallResult struct {
	Text    string // the text contents, joined by newlines
	IsError bool
	Meta    map[string]any
}

// Connect starts an in-process MCP session with s and initializes it.
func (s *Server) Connect(ctx context.Context) (*LocalClient, error) {
	c, err := client.NewInProcessClient(s.mcp)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "toll-demo", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, fmt.Errorf("mcp initialize: %w", err)
	}
	return &LocalClient{c: c}, nil
}

// Tools lists the tools, as tools/list returns them.
func (lc *LocalClient) Tools(ctx context.Context) ([]ToolInfo, error) {
	res, err := lc.c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, err
	}
	var out []ToolInfo
	for _, t := range res.Tools {
		ti := ToolInfo{Name: t.Name, Description: t.Description}
		if t.Meta != nil {
			if p, ok := t.Meta.AdditionalFields[MetaPrice].(map[string]any); ok {
				ti.Price = p
			}
		}
		out = append(out, ti)
	}
	return out, nil
}

// Call calls one tool with JSON-able arguments.
func (lc *LocalClient) Call(ctx context.Context, name string, args map[string]any) (*CallResult, error) {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := lc.c.CallTool(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &CallResult{IsError: res.IsError}
	var texts []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			texts = append(texts, tc.Text)
		}
	}
	out.Text = strings.Join(texts, "\n")
	if res.Meta != nil {
		b, err := json.Marshal(res.Meta.AdditionalFields)
		if err == nil {
			_ = json.Unmarshal(b, &out.Meta)
		}
	}
	return out, nil
}

// Close ends the session.
func (lc *LocalClient) Close() error { return lc.c.Close() }

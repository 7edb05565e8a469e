package server

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// TestStreamableHTTP serves the same tools over streamable HTTP and calls one, in both
// protocol eras: the initialize handshake hosts use today and the 2026-07-28 default.
func TestStreamableHTTP(t *testing.T) {
	s, _ := newTestServer(t)
	hs := httptest.NewServer(s.HTTPHandler())
	defer hs.Close()
	for _, version := range []string{mcp.ProtocolVersion20250618, ""} {
		name := version
		if name == "" {
			name = "latest"
		}
		t.Run(name, func(t *testing.T) {
			c, err := client.NewStreamableHttpClient(hs.URL + "/mcp")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			var init mcp.InitializeRequest
			init.Params.ProtocolVersion = version
			if version == "" {
				init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
			}
			if _, err := c.Initialize(t.Context(), init); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil || len(list.Tools) != 5 {
				t.Fatalf("tools/list: %d tools, %v", len(list.Tools), err)
			}
			var req mcp.CallToolRequest
			req.Params.Name = "weather_demo_health"
			req.Params.Arguments = map[string]any{}
			res, err := c.CallTool(t.Context(), req)
			if err != nil || res.IsError {
				t.Fatalf("call: %v %+v", err, res)
			}
			tc, _ := mcp.AsTextContent(res.Content[0])
			if tc == nil || !strings.Contains(tc.Text, `"status":"ok"`) {
				t.Errorf("result %+v", res.Content)
			}
		})
	}
}

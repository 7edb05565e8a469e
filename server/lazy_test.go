package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/wallet"
)

func newClientFor(t *testing.T, s *Server) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(s.mcp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

func manyOps(n int, url string) []*catalog.Operation {
	var ops []*catalog.Operation
	for i := range n {
		ops = append(ops, &catalog.Operation{
			API: "big", Name: fmt.Sprintf("big_op%03d", i), Title: fmt.Sprintf("Operation %d about widgets", i),
			Description: "Does thing number " + fmt.Sprint(i), Method: "GET", ServerURL: url, Path: fmt.Sprintf("/op/%d", i),
			Params:      []catalog.Param{{Name: "q", In: "query", Arg: "q"}},
			InputSchema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"additionalProperties":false}`),
		})
	}
	return ops
}

func lazyServer(t *testing.T, ops []*catalog.Operation, opts Options) *Server {
	t.Helper()
	w, _ := wallet.Generate(wallet.Options{})
	led, err := ledger.Open(filepath.Join(t.TempDir(), "l.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	tc, err := tools.New(tools.Config{Wallet: w, Ledger: led})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tc, ops, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLazyMode: above the threshold the host sees the search, describe and call tools, and
// tools/list is far smaller; the three tools reach every operation.
func TestLazyMode(t *testing.T) {
	ops := manyOps(150, "http://127.0.0.1:1")
	eager := newClientFor(t, lazyServer(t, ops, Options{Lazy: LazyOff}))
	lazy := newClientFor(t, lazyServer(t, ops, Options{}))
	size := func(c *client.Client) (int, []string) {
		res, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
		}
		return len(b), names
	}
	eagerBytes, eagerNames := size(eager)
	lazyBytes, lazyNames := size(lazy)
	if len(eagerNames) != 150+len(eagerBuiltins) {
		t.Errorf("eager mode lists %d tools, want 150 and %v", len(eagerNames), eagerBuiltins)
	}
	if want := lazyBuiltins(); strings.Join(lazyNames, ",") != strings.Join(want, ",") {
		t.Errorf("lazy mode lists %v", lazyNames)
	}
	t.Logf("tools/list: %d bytes eager, %d bytes lazy (150 operations)", eagerBytes, lazyBytes)
	if lazyBytes*10 > eagerBytes {
		t.Errorf("lazy tools/list is %d bytes, not much smaller than eager %d", lazyBytes, eagerBytes)
	}
	call := func(name string, args map[string]any) (*mcp.CallToolResult, string) {
		var req mcp.CallToolRequest
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := lazy.CallTool(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := mcp.AsTextContent(c); ok {
				b.WriteString(tc.Text)
			}
		}
		return res, b.String()
	}
	if res, text := call(SearchTool, map[string]any{"query": "operation 42"}); res.IsError || !strings.Contains(text, "big_op042") {
		t.Errorf("search: %s", text)
	}
	if res, text := call(DescribeTool, map[string]any{"name": "big_op042"}); res.IsError || !strings.Contains(text, `"q"`) || !strings.Contains(text, "Price: free") {
		t.Errorf("describe: %s", text)
	}
	if res, text := call(DescribeTool, map[string]any{"name": "nope"}); !res.IsError || !strings.Contains(text, SearchTool) {
		t.Errorf("describe unknown: %s", text)
	}
	// Validation applies through toll_call as for a direct call: nothing is sent.
	if res, text := call(CallTool, map[string]any{"name": "big_op001", "arguments": map[string]any{"q": 5}}); !res.IsError || !strings.Contains(text, "invalid arguments") {
		t.Errorf("call with bad arguments: %s", text)
	}
	// The API at 127.0.0.1:1 is unreachable: an upstream error, reported as a tool error.
	if res, text := call(CallTool, map[string]any{"name": "big_op001", "arguments": map[string]any{"q": "x"}}); !res.IsError || !strings.Contains(text, "upstream") {
		t.Errorf("call: %s", text)
	}
}

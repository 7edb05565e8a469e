package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
)

// TestInstructions initializes eager and lazy servers: the instructions say how prices and
// caps work, and name each of toll's own tools that tools/list serves, and no other.
func TestInstructions(t *testing.T) {
	for _, tt := range []struct {
		name     string
		lazy     Lazy
		builtins []string // served, so named in the instructions
	}{
		{"eager", LazyOff, eagerBuiltins},
		{"lazy", LazyOn, lazyBuiltins()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tools.Policy{Networks: []string{"eip155:84532"}}, Options{Lazy: tt.lazy})
			c, err := client.NewInProcessClient(f.s.mcp)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := c.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			var init mcp.InitializeRequest
			init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
			res, err := c.Initialize(t.Context(), init)
			if err != nil {
				t.Fatal(err)
			}
			text := res.Instructions
			for _, want := range []string{"price", "x402 (USDC)", "caps", "nothing was paid"} {
				if !strings.Contains(text, want) {
					t.Errorf("the instructions do not mention %q:\n%s", want, text)
				}
			}
			list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var served []string
			for _, tool := range list.Tools {
				if catalog.BuiltinTool(tool.Name) {
					served = append(served, tool.Name)
				}
			}
			slices.Sort(served)
			if want := slices.Sorted(slices.Values(tt.builtins)); !slices.Equal(served, want) {
				t.Errorf("tools/list serves %v of toll's own tools, want %v", served, tt.builtins)
			}
			for _, name := range catalog.BuiltinTools() {
				listed := strings.Contains(text, "- "+name+": ")
				if want := slices.Contains(served, name); listed != want {
					t.Errorf("%s listed in the instructions: %v, served: %v\n%s", name, listed, want, text)
				}
			}
			t.Logf("instructions:\n%s", text)
			if lines := strings.Count(text, "\n") + 1; lines > 12 {
				t.Errorf("the instructions are %d lines, want a few:\n%s", lines, text)
			}
		})
	}
}

// TestInstructionsApproval: the approval line is there only when approval is configured.
func TestInstructionsApproval(t *testing.T) {
	for _, approval := range []bool{false, true} {
		text := guide{builtins: eagerBuiltins, approval: approval}.instructions()
		if got := strings.Contains(text, "need the user's approval"); got != approval {
			t.Errorf("approval %v: the instructions mention approval: %v\n%s", approval, got, text)
		}
	}
}

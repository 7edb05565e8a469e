package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/catalog"
)

// Names of the catalog tools of lazy mode. Like BudgetTool, they are toll's own tools, and
// no operation may take one of their names (catalog.BuiltinTool).
const (
	SearchTool   = catalog.SearchTool
	DescribeTool = catalog.DescribeTool
	CallTool     = catalog.CallTool
)

// maxSearchResults bounds one search answer.
const maxSearchResults = 15

func readOnlyAnnotations(title string) mcp.ToolAnnotation {
	return mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcp.ToBoolPtr(true),
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(true),
		OpenWorldHint:   mcp.ToBoolPtr(false),
	}
}

// lazyTools are the three tools that stand for a large catalog.
func (s *Server) lazyTools() []mcpserver.ServerTool {
	search := mcp.NewToolWithRawSchema(SearchTool,
		fmt.Sprintf("Search toll's catalog of %d API operations by words (what you want to do, a resource, a vendor). "+
			"Returns matching operation names with their prices; then call %s for the arguments and %s to run one. Free.", len(s.order), DescribeTool, CallTool),
		json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","minLength":1,"maxLength":200,"description":"words to look for"}},"required":["query"],"additionalProperties":false}`))
	search.Annotations = readOnlyAnnotations("Search the API catalog")
	describe := mcp.NewToolWithRawSchema(DescribeTool,
		"Describe one catalog operation: what it does, its price, and the JSON Schema of its arguments. Free.",
		json.RawMessage(`{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":128,"description":"an operation name from `+SearchTool+`"}},"required":["name"],"additionalProperties":false}`))
	describe.Annotations = readOnlyAnnotations("Describe an operation")
	call := mcp.NewToolWithRawSchema(CallTool,
		"Call one catalog operation with its arguments. Paid operations are paid with x402 (USDC) within the user's caps, at most the price "+DescribeTool+" shows; "+
			"a refusal means nothing was paid.",
		json.RawMessage(`{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":128},"arguments":{"type":"object","description":"the operation's arguments, as `+DescribeTool+` describes them"}},"required":["name"],"additionalProperties":false}`))
	call.Annotations = mcp.ToolAnnotation{
		Title:           "Call an operation",
		ReadOnlyHint:    mcp.ToBoolPtr(false),
		DestructiveHint: mcp.ToBoolPtr(true),
		IdempotentHint:  mcp.ToBoolPtr(false),
		OpenWorldHint:   mcp.ToBoolPtr(true),
	}
	return []mcpserver.ServerTool{
		{Tool: search, Handler: s.search},
		{Tool: describe, Handler: s.describe},
		{Tool: call, Handler: s.lazyCall},
	}
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// search scores operations by how many query words their name, title, path and
// description contain (name, title and path count more), through the index (index.go).
func (s *Server) search(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	q := words(req.GetString("query", ""))
	if len(q) == 0 {
		return mcp.NewToolResultError("query has no words to look for"), nil
	}
	select {
	case <-s.indexed:
	case <-ctx.Done():
		return mcp.NewToolResultError("the search was canceled while toll was still indexing its catalog"), nil
	}
	hits, _ := s.index.search(q)
	total := len(hits)
	if len(hits) > maxSearchResults {
		hits = hits[:maxSearchResults]
	}
	var b strings.Builder
	var items []map[string]any
	fmt.Fprintf(&b, "%d of %d operations match", total, len(s.order))
	if total > len(hits) {
		fmt.Fprintf(&b, " (best %d shown; add words to narrow)", len(hits))
	}
	b.WriteString(":\n")
	for _, h := range hits {
		op := s.order[h]
		price := op.PriceDisplay()
		fmt.Fprintf(&b, "- %s (%s %s, %s): %s\n", op.Name, op.Method, op.Path, price, firstLine(op.Title, op.Description))
		item := map[string]any{"name": op.Name, "method": op.Method, "path": op.Path, "title": op.Title, "price": price}
		if op.Price != nil {
			item["amount"] = op.Price.Amount // JSON: atomic units as a string
			item["decimals"] = op.Price.Amount.Decimals()
		}
		items = append(items, item)
	}
	return mcp.NewToolResultStructured(map[string]any{"total": total, "results": items}, b.String()), nil
}

func firstLine(title, desc string) string {
	if title != "" {
		return title
	}
	line, _, _ := strings.Cut(desc, "\n")
	if r := []rune(line); len(r) > 120 {
		line = string(r[:120]) + "…"
	}
	return line
}

func (s *Server) lookup(req mcp.CallToolRequest) (*catalog.Operation, *mcp.CallToolResult) {
	name := req.GetString("name", "")
	op, ok := s.ops[name]
	if !ok {
		return nil, mcp.NewToolResultError(fmt.Sprintf("no operation named %q; use %s to find one", name, SearchTool))
	}
	return op, nil
}

// complete builds an operation listed on demand (catalog.Operation.Complete); a failure
// is a tool result that says why.
func (s *Server) complete(ctx context.Context, op *catalog.Operation) (*catalog.Operation, *mcp.CallToolResult) {
	full, err := op.Complete(ctx)
	if err != nil {
		s.log.Warn("operation not built", "tool", op.Name, "err", err)
		return nil, mcp.NewToolResultError(fmt.Sprintf("%s cannot be used: %v", op.Name, err))
	}
	return full, nil
}

func (s *Server) describe(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	op, errRes := s.lookup(req)
	if errRes != nil {
		return errRes, nil
	}
	if op, errRes = s.complete(ctx, op); errRes != nil {
		return errRes, nil
	}
	t := toolFor(op)
	text := fmt.Sprintf("%s (%s %s)\n\n%s\n\nArguments (JSON Schema):\n%s", op.Name, op.Method, op.Path, t.Description, op.InputSchema)
	res := mcp.NewToolResultText(text)
	res.Meta = t.Meta
	return res, nil
}

func (s *Server) lazyCall(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	op, errRes := s.lookup(req)
	if errRes != nil {
		return errRes, nil
	}
	if op, errRes = s.complete(ctx, op); errRes != nil {
		return errRes, nil
	}
	args, errRes := operationArguments(req)
	if errRes != nil {
		return errRes, nil
	}
	return s.call(ctx, op, args, req), nil
}

// operationArguments are the "arguments" of a toll_call or toll_quote request: the
// operation's own arguments, as JSON.
func operationArguments(req mcp.CallToolRequest) (json.RawMessage, *mcp.CallToolResult) {
	var args json.RawMessage
	if m, ok := req.GetArguments()["arguments"]; ok && m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, mcp.NewToolResultError("arguments are not JSON: " + err.Error())
		}
		args = b
	}
	if len(req.Params.RawArguments) > 0 {
		var raw struct {
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(req.Params.RawArguments, &raw); err == nil && len(raw.Arguments) > 0 {
			args = raw.Arguments // keeps large integers exact
		}
	}
	return args, nil
}

package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools/money"
)

func budgetTool() mcp.Tool {
	t := mcp.NewToolWithRawSchema(BudgetTool,
		"What toll may still spend on paid tools in this session: each cap (per call, per session, per day, total), "+
			"what already counts against it, and what remains. Free; pays nothing.\n\nPrice: free",
		[]byte(`{"type":"object","properties":{},"additionalProperties":false}`))
	t.Title = "Spending budget"
	t.Annotations = mcp.ToolAnnotation{
		Title:           "Spending budget",
		ReadOnlyHint:    mcp.ToBoolPtr(true),
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(true),
		OpenWorldHint:   mcp.ToBoolPtr(false),
	}
	return t
}

func (s *Server) budget(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	budgets, err := s.client.Budgets(ctx, s.session(ctx))
	if err != nil {
		s.log.Error("budget", "err", err)
		return mcp.NewToolResultError("toll could not read its ledger: " + err.Error()), nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Payer %s. Amounts in USDC.\n", s.client.Payer())
	structured := map[string]any{"payer": s.client.Payer().Hex(), "decimals": money.USDCDecimals}
	var caps []map[string]any
	for _, bud := range budgets {
		entry := map[string]any{"cap": bud.Cap}
		line := bud.Cap + ": "
		if bud.Limit == nil {
			line += "no cap"
		} else {
			line += "limit " + bud.Limit.String()
			entry["limit"] = *bud.Limit
		}
		if bud.Used != nil {
			line += ", used " + bud.Used.String()
			entry["used"] = *bud.Used
		}
		if bud.Remaining != nil {
			line += ", remaining " + bud.Remaining.String()
			entry["remaining"] = *bud.Remaining
		}
		b.WriteString(line + "\n")
		caps = append(caps, entry)
	}
	structured["caps"] = caps
	return mcp.NewToolResultStructured(structured, b.String()), nil
}

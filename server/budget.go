package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/tools"
	"github.com/tollhq/toll/tools/money"
)

func budgetTool() mcp.Tool {
	t := mcp.NewToolWithRawSchema(BudgetTool,
		"What toll may still spend on paid tools in this session: each cap (per call, per session, per day, total), "+
			"what already counts against it, and what remains; and the wallet's balances where toll knows the chain's endpoint. Free; pays nothing.\n\nPrice: free",
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
	agent := s.agent(ctx)
	budgets, err := s.client.Budgets(ctx, agent, s.capSession(ctx))
	if errors.Is(err, tools.ErrUnknownAgent) {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if err != nil {
		s.log.Error("budget", "err", err)
		return mcp.NewToolResultError("toll could not read its ledger: " + err.Error()), nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Payer %s. Amounts in USDC.\n", s.client.Payer())
	structured := map[string]any{"payer": s.client.Payer().Hex(), "decimals": money.USDCDecimals}
	if agent != "" {
		fmt.Fprintf(&b, "Agent %s: its own caps count only its payments, in every session; the other caps count every agent's.\n", agent)
		structured["agent"] = agent
	}
	var caps []map[string]any
	for _, bud := range budgets {
		entry, line := budgetEntry(bud)
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
		if bud.Pending != nil && bud.Pending.Sign() > 0 {
			line += " (of which " + bud.Pending.String() + " pending)"
			entry["pending"] = *bud.Pending
		}
		if bud.Remaining != nil {
			line += ", remaining " + bud.Remaining.String()
			entry["remaining"] = *bud.Remaining
		}
		b.WriteString(line + "\n")
		caps = append(caps, entry)
	}
	structured["caps"] = caps
	if s.balances != nil {
		structured["wallet"] = s.walletLines(ctx, &b)
	}
	return mcp.NewToolResultStructured(structured, b.String()), nil
}

// budgetEntry starts the structured entry and the line of one cap.
func budgetEntry(bud tools.Budget) (map[string]any, string) {
	entry := map[string]any{"cap": bud.Cap}
	name := bud.Cap
	if bud.Agent != "" {
		entry["agent"] = bud.Agent
	}
	if bud.API != "" {
		entry["api"] = bud.API
		name += " " + bud.API
	}
	return entry, name + ": "
}

// balanceTimeout bounds reading the wallet's balances for toll_budget.
const balanceTimeout = 10 * time.Second

// walletLines reads the wallet's balances, writes a line for each to b, and returns them.
func (s *Server) walletLines(ctx context.Context, b *strings.Builder) []WalletBalance {
	ctx, cancel := context.WithTimeout(ctx, balanceTimeout)
	defer cancel()
	lines := s.balances(ctx)
	for _, l := range lines {
		name := l.Symbol
		if name == "" {
			name = l.Asset
		}
		if l.Error != "" {
			fmt.Fprintf(b, "wallet on %s: %s could not be read (%s)\n", l.Network, name, l.Error)
			continue
		}
		fmt.Fprintf(b, "wallet on %s: %s %s\n", l.Network, l.Balance, name)
	}
	return lines
}

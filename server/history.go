package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
)

// HistoryTool is the name of the built-in tool that lists the calling agent's (else this
// session's) recent spends.
const HistoryTool = catalog.HistoryTool

// History sizes: how many spends toll_history lists when not asked, and at most.
const (
	DefaultHistory = 10
	MaxHistory     = 50
)

func historyTool() mcp.Tool {
	t := mcp.NewToolWithRawSchema(HistoryTool,
		"This session's recent payments, newest first: tool, API, amount, status (settled; unknown: sent but not proven settled, "+
			"counts as spent until reconciled; reserved: in progress; released or voided: not paid), transaction and time. "+
			"Refused payments are not listed (nothing was paid). Free; pays nothing.\n\nPrice: free",
		[]byte(fmt.Sprintf(`{"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":%d,"default":%d,"description":"how many spends to list"}},"additionalProperties":false}`,
			MaxHistory, DefaultHistory)))
	t.Title = "Payment history"
	t.Annotations = readOnlyAnnotations("Payment history")
	return t
}

// scope is whose spends a built-in tool reports: the calling agent's, in every session
// (its budget is its own, whatever the session), or this session's where no agent is named.
func (s *Server) scope(ctx context.Context) ledger.SpendFilter {
	if a := s.agent(ctx); a != "" {
		return ledger.SpendFilter{Agent: a}
	}
	return ledger.SpendFilter{Session: s.session(ctx)}
}

// historyEntry is one spend as toll_history shows it. Amount is atomic units as a
// decimal string, with Decimals beside it, as x402 writes amounts.
type historyEntry struct {
	Time        string        `json:"time"` // when it was reserved, RFC 3339 UTC
	Tool        string        `json:"tool"`
	API         string        `json:"api"`
	Amount      string        `json:"amount"`
	Decimals    int           `json:"decimals"`
	Display     string        `json:"display"`
	Status      ledger.Status `json:"status"`
	Transaction string        `json:"transaction,omitempty"`
	Network     string        `json:"network"`
	PayTo       string        `json:"payTo"`
	CallID      string        `json:"callId"`
}

func (s *Server) history(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var args struct {
		Limit *json.Number `json:"limit"`
	}
	if err := decodeArguments(req, &args); err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	limit := DefaultHistory
	if args.Limit != nil {
		n, err := args.Limit.Int64()
		if err != nil || n < 1 || n > MaxHistory {
			return mcp.NewToolResultError(fmt.Sprintf("limit %s is not a whole number from 1 to %d", args.Limit, MaxHistory)), nil
		}
		limit = int(n)
	}
	scope := s.scope(ctx)
	spends, err := s.client.History(ctx, scope, limit)
	if err != nil {
		s.log.Error("history", "err", err)
		return mcp.NewToolResultError("toll could not read its ledger: " + err.Error()), nil
	}
	entries := make([]historyEntry, 0, len(spends))
	var b strings.Builder
	none, whose := "No payments in this session yet.", "this session"
	if scope.Agent != "" {
		none = fmt.Sprintf("No payments of agent %s yet, in any session.", scope.Agent)
		whose = fmt.Sprintf("agent %s, in all its sessions", scope.Agent)
	}
	if len(spends) == 0 {
		b.WriteString(none)
	} else {
		fmt.Fprintf(&b, "The %d latest payments of %s, newest first:\n", len(spends), whose)
	}
	for _, sp := range spends {
		e := historyEntry{
			Time: sp.ReservedAt.UTC().Format(time.RFC3339), Tool: sp.Tool, API: sp.API,
			Amount: sp.Amount.AtomicString(), Decimals: sp.Amount.Decimals(), Display: amountDisplay(sp.Amount.String()),
			Status: sp.Status, Transaction: sp.TxHash, Network: sp.Network, PayTo: sp.PayTo, CallID: sp.CallID,
		}
		entries = append(entries, e)
		fmt.Fprintf(&b, "- %s %s (%s): %s, %s", e.Time, e.Tool, e.API, e.Display, e.Status)
		if e.Transaction != "" {
			fmt.Fprintf(&b, ", transaction %s", e.Transaction)
		}
		b.WriteString("\n")
	}
	return mcp.NewToolResultStructured(map[string]any{"spends": entries, "count": len(entries)}, b.String()), nil
}

// decodeArguments reads a built-in tool's arguments into dst, refusing names dst does not
// have.
func decodeArguments(req mcp.CallToolRequest, dst any) error {
	raw := req.Params.RawArguments
	if len(raw) == 0 {
		if req.Params.Arguments == nil {
			return nil
		}
		b, err := json.Marshal(req.Params.Arguments)
		if err != nil {
			return fmt.Errorf("arguments are not a JSON object: %v", err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("arguments do not fit the tool's input schema: %v", err)
	}
	return nil
}

// amountDisplay writes an amount for people: every token toll pays is a USD stablecoin
// with USDC's decimals.
func amountDisplay(s string) string { return s + " USDC" }

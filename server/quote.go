package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/tools"
)

// QuoteTool is the name of the built-in tool that reports the live terms of a call
// without paying.
const QuoteTool = catalog.QuoteTool

func quoteTool() mcp.Tool {
	t := mcp.NewToolWithRawSchema(QuoteTool,
		"What one operation would cost now, without paying: toll sends its request once, unpaid, and reports what the API asks "+
			"(amount in USDC, network, payTo, scheme), which requirement toll would pay, and whether toll would pay it now under the user's "+
			"policy and caps (if not, which rule refuses). Nothing is signed, reserved or paid. Takes the operation name and its arguments, "+
			"as you would call it. A priced POST, PUT, PATCH or DELETE is sent once unpaid too (an x402 API asks for payment before it "+
			"does the work); one with no price is not sent. If the API answers without asking for payment, the operation is free and the "+
			"API already did the work once; its answer is not returned: call the operation to get it. A paid MCP server's tool is "+
			"quoted the same way, by its tools/call sent once without payment, and only when its server advertises a price for it.\n\nPrice: free",
		json.RawMessage(`{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":128,"description":"the operation's tool name"},`+
			`"arguments":{"type":"object","description":"the operation's arguments, as its tool takes them"}},"required":["name"],"additionalProperties":false}`))
	t.Title = "Quote a call"
	t.Annotations = mcp.ToolAnnotation{
		Title:           "Quote a call",
		ReadOnlyHint:    mcp.ToBoolPtr(false), // the unpaid request is sent
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(false),
		OpenWorldHint:   mcp.ToBoolPtr(true),
	}
	return t
}

// quoteTerm is one requirement of a 402 as toll_quote shows it. Amount is atomic units as
// a decimal string, with Decimals beside it, as x402 writes amounts.
type quoteTerm struct {
	Scheme   string `json:"scheme"`
	Network  string `json:"network"`
	Asset    string `json:"asset"`
	PayTo    string `json:"payTo"`
	Amount   string `json:"amount"`
	Decimals int    `json:"decimals"`
	Display  string `json:"display"`
	Problem  string `json:"problem,omitempty"` // why it cannot be paid as it stands
}

// quoteResult is toll_quote's structured content.
type quoteResult struct {
	Operation    string      `json:"operation"`
	Method       string      `json:"method"`
	URL          string      `json:"url"`
	Advertised   string      `json:"advertisedPrice"`
	Sent         bool        `json:"sent"`
	Status       int         `json:"status,omitempty"`
	Answer       string      `json:"answer,omitempty"` // a paid MCP server's tool: what its unpaid tools/call answered
	Free         bool        `json:"free"`
	Version      int         `json:"x402Version,omitempty"`
	Requirements []quoteTerm `json:"requirements,omitempty"`
	Chosen       *int        `json:"chosen,omitempty"` // index in requirements of the one toll would pay
	WouldPay     bool        `json:"wouldPay"`
	RefusedBy    string      `json:"refusedBy,omitempty"` // the rule, when toll would not pay
	Reason       string      `json:"reason,omitempty"`
	// NeedsApproval says why the user would be asked first, when toll would pay.
	NeedsApproval []string `json:"needsApproval,omitempty"`
}

func (s *Server) quote(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name := req.GetString("name", "")
	op, ok := s.ops[name]
	var up tools.Upstream
	if !ok {
		op, up = s.upstreamNamed(name)
		ok = op != nil
	}
	if !ok {
		hint := "the tool names of tools/list are the operation names"
		if s.lazy {
			hint = "use " + SearchTool + " to find one"
		}
		return mcp.NewToolResultError(fmt.Sprintf("no operation named %q; %s", name, hint)), nil
	}
	if up == nil {
		var errRes *mcp.CallToolResult
		if op, errRes = s.complete(ctx, op); errRes != nil {
			return errRes, nil
		}
	}
	args, errRes := operationArguments(req)
	if errRes != nil {
		return errRes, nil
	}
	q, err := s.client.Quote(ctx, tools.Call{Op: op, Arguments: args, Session: s.capSession(ctx), Agent: s.agent(ctx), Upstream: up})
	switch {
	case errors.Is(err, tools.ErrInvalidArguments), errors.Is(err, tools.ErrUpstream), errors.Is(err, tools.ErrUnknownAgent):
		return mcp.NewToolResultError(err.Error() + "\nNothing was paid."), nil
	case err != nil:
		s.log.Error("quote failed", "tool", op.Name, "err", err)
		return mcp.NewToolResultError(fmt.Sprintf("the quote of %s failed inside toll (the details are in toll's log); nothing was paid.", op.Name)), nil
	}
	res := quoteResultOf(op, q)
	return mcp.NewToolResultStructured(res, quoteText(res, q)), nil
}

func quoteResultOf(op *catalog.Operation, q *tools.Quote) quoteResult {
	res := quoteResult{
		Operation: op.Name, Method: q.Method, URL: q.URL, Advertised: op.PriceDisplay(),
		Sent: q.Sent, Status: q.Status, Answer: q.Answer, Free: q.Free(), Version: q.Version, WouldPay: q.WouldPay(),
		NeedsApproval: q.Approval,
	}
	for _, o := range q.Terms {
		res.Requirements = append(res.Requirements, quoteTerm{
			Scheme: o.Scheme, Network: o.Network, Asset: o.Asset, PayTo: o.PayTo,
			Amount: o.Amount.AtomicString(), Decimals: o.Amount.Decimals(), Display: amountDisplay(o.Amount.String()), Problem: o.Problem,
		})
	}
	if q.Chosen >= 0 {
		res.Chosen = &q.Chosen
	}
	if r := q.Refused; r != nil {
		res.RefusedBy, res.Reason = r.RuleName(), r.Error()+refusalHint(r)
	}
	return res
}

// quoteText is the quote for the model, in a few lines.
func quoteText(res quoteResult, q *tools.Quote) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Quote of %s (%s %s; advertised price: %s). Nothing was signed, reserved or paid.\n", res.Operation, res.Method, res.URL, res.Advertised)
	switch {
	case !res.Sent && q.Unsent != "":
		fmt.Fprintf(&b, "The request was not sent: %s.\n", q.Unsent)
	case !res.Sent:
		b.WriteString("The request was not sent: toll would refuse this call before sending anything.\n")
	case res.Free && res.Answer != "":
		fmt.Fprintf(&b, "The MCP server answered with %s without asking for payment: this tool is free. It ran once for this quote; "+
			"call %s to get its answer.\n", res.Answer, res.Operation)
	case res.Free:
		fmt.Fprintf(&b, "The API answered %d without asking for payment: this call is free. The API did the work once for this quote; "+
			"call %s to get its answer.\n", res.Status, res.Operation)
	case res.Status != 402:
		if res.Answer != "" {
			fmt.Fprintf(&b, "The MCP server answered with %s, without asking for payment", res.Answer)
		} else {
			fmt.Fprintf(&b, "The API answered %d, an error, without asking for payment", res.Status)
		}
		if q.Detail != "" {
			fmt.Fprintf(&b, ": %s", q.Detail)
		}
		b.WriteString("\n")
	default:
		who := "API"
		if res.Answer != "" {
			who = "MCP server"
		}
		fmt.Fprintf(&b, "The %s asks for payment (x402 version %d):\n", who, res.Version)
		for i, t := range res.Requirements {
			fmt.Fprintf(&b, "%d. %s, %s on %s to %s", i+1, t.Display, t.Scheme, t.Network, t.PayTo)
			if t.Problem != "" {
				fmt.Fprintf(&b, " (unreadable: %s)", t.Problem)
			}
			if res.Chosen != nil && *res.Chosen == i {
				b.WriteString(" <- toll would pay this one")
			}
			b.WriteString("\n")
		}
	}
	switch {
	case res.WouldPay && len(res.NeedsApproval) > 0:
		fmt.Fprintf(&b, "toll would pay %s within the user's policy and caps, once the user approves it (%s): the call waits for that answer.",
			res.Requirements[*res.Chosen].Display, strings.Join(res.NeedsApproval, "; "))
	case res.WouldPay:
		fmt.Fprintf(&b, "toll would pay %s now, within the user's policy and caps.", res.Requirements[*res.Chosen].Display)
	case res.Reason != "":
		fmt.Fprintf(&b, "toll would not pay it now: %s", res.Reason)
	}
	return strings.TrimRight(b.String(), "\n")
}

package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
)

// approvalRecord is one request for approval and what became of it, as toll approve
// --history shows it: read from the ledger's chained events (approval-asked, approved,
// denied), so it holds every decision, by a form in the MCP client or in toll approve.
type approvalRecord struct {
	CallID    string       `json:"callId"`
	AskedAt   time.Time    `json:"askedAt"`
	Agent     string       `json:"agent,omitempty"`
	API       string       `json:"api,omitempty"`
	Tool      string       `json:"tool,omitempty"`
	Amount    money.Amount `json:"amount"`
	PayTo     string       `json:"payTo"`
	Why       string       `json:"why"`
	Decision  string       `json:"decision"` // approved, denied, or undecided (expired, or still waiting)
	By        string       `json:"by,omitempty"`
	Reason    string       `json:"reason,omitempty"` // why it was denied, when said
	DecidedAt time.Time    `json:"decidedAt,omitzero"`
	Seq       uint64       `json:"seq"` // the approval-asked event
}

// readHistory reads every request for approval from since on (of --agent's calls, with
// --agent), oldest first, with its decision: a decision answers the latest request of its call (a call asks again when
// its terms change).
func (p *approveCmd) readHistory(ctx context.Context, led *ledger.Ledger, since time.Time) ([]*approvalRecord, error) {
	var out []*approvalRecord
	open := map[string]*approvalRecord{}
	err := led.ScanEvents(ctx, ledger.Filter{Since: since}, func(e *ledger.Event) error {
		switch e.Kind {
		case ledger.KindApprovalAsked:
			if p.agent != "" && e.Agent != p.agent {
				return nil
			}
			r := &approvalRecord{CallID: e.CallID, AskedAt: e.Time, Agent: e.Agent, API: e.API, Tool: e.Tool,
				PayTo: e.PayTo, Why: e.Reason, Decision: "undecided", Seq: e.Seq}
			if e.Amount != nil {
				r.Amount = *e.Amount
			}
			out = append(out, r)
			open[e.CallID] = r
		case ledger.KindApproved, ledger.KindDenied:
			r := open[e.CallID]
			if r == nil {
				return nil // asked before --since
			}
			delete(open, e.CallID)
			r.Decision, r.By, r.DecidedAt = string(e.Kind), e.By, e.Time
			if e.Kind == ledger.KindDenied {
				r.Reason = e.Reason
			}
		}
		return nil
	})
	return out, err
}

// printHistory writes the requests for approval as a table, or as JSON.
func (p *approveCmd) printHistory(records []*approvalRecord) error {
	if p.format.value == "json" {
		if records == nil {
			records = []*approvalRecord{}
		}
		return writeJSON(p.stdout, records)
	}
	if len(records) == 0 {
		of := ""
		if p.agent != "" {
			of = " for agent " + p.agent
		}
		_, err := fmt.Fprintln(p.stdout, "No payment has asked for approval"+of+sinceText(p.since)+".")
		return err
	}
	tw := tabwriter.NewWriter(p.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ASKED (UTC)\tID\tAMOUNT (USDC)\tPAY TO\tAPI\tTOOL\tAGENT\tDECISION\tBY\tAFTER\tWHY")
	for _, r := range records {
		after := "-"
		if !r.DecidedAt.IsZero() {
			after = r.DecidedAt.Sub(r.AskedAt).Round(time.Second).String()
		}
		why := r.Why
		if r.Reason != "" {
			why += " (denied: " + r.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.AskedAt.UTC().Format(time.DateTime), r.CallID, r.Amount,
			r.PayTo, orDash(r.API), orDash(r.Tool), orDash(r.Agent), r.Decision, orDash(r.By), after, strings.TrimSpace(why))
	}
	return tw.Flush()
}

func sinceText(since string) string {
	if since == "" {
		return ""
	}
	return " since " + since
}

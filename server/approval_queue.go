package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
)

// queueApprover puts the call in the ledger's approval queue and waits, reading its
// entry every ApprovalPoll, until toll approve (any process) decides or the timeout
// passes. The client hears of the wait through progress notifications when its request
// has a progress token.
type queueApprover struct {
	s     *Server
	token mcp.ProgressToken
	note  string // how the call came to wait, for the reason of a denial
}

func (*queueApprover) Answered(*ledger.Approval) *tools.Decision { return nil }

func (q *queueApprover) Ask(ctx context.Context, req *ledger.Approval) (tools.Decision, error) {
	led, timeout := q.s.approval.Ledger, q.s.approval.Timeout
	a := *req
	start := time.Now()
	a.Expires = start.Add(timeout)
	if _, err := led.QueueApproval(ctx, a); err != nil {
		return tools.Decision{}, fmt.Errorf("queue the approval (nothing was signed): %w", err)
	}
	q.progress(ctx, req, start)
	tick := time.NewTicker(ApprovalPoll)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	told := start
	for {
		select {
		case <-ctx.Done():
			return q.close(req, "cancelled: the call ended before a decision")
		case <-deadline.C:
			return q.close(req, fmt.Sprintf("timed out: no decision within %s", timeout))
		case <-tick.C:
		}
		got, err := led.ApprovalOf(ctx, req.CallID)
		if err != nil {
			q.s.log.Warn("reading the approval queue", "call", req.CallID, "err", err)
			continue
		}
		if got.State != ledger.ApprovalPending {
			return queued(got), nil
		}
		if time.Since(told) >= approvalProgressEvery {
			q.progress(ctx, req, start)
			told = time.Now()
		}
	}
}

// close records that the call stopped waiting, unless a decision came first (then it is
// that decision).
func (q *queueApprover) close(req *ledger.Approval, reason string) (tools.Decision, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reason += "; " + q.note
	got, err := q.s.approval.Ledger.DecideApproval(ctx, ledger.Decision{CallID: req.CallID, By: "toll", Reason: reason})
	switch {
	case errors.Is(err, ledger.ErrApprovalClosed):
		return queued(got), nil
	case err != nil:
		q.s.log.Error("recording the end of an approval wait", "call", req.CallID, "err", err)
		return tools.Decision{By: "toll", Reason: reason}, nil
	}
	return tools.Decision{By: "toll", Reason: reason, Recorded: true}, nil
}

// queued is the decision the queue holds. Time passed while the person decided, so the
// terms are read again before paying.
func queued(a ledger.Approval) tools.Decision {
	return tools.Decision{Approved: a.State == ledger.ApprovalApproved, By: a.By, Reason: a.Reason, Recorded: true, Stale: true}
}

// progress tells the client that the call waits for a decision, when it asked for progress.
func (q *queueApprover) progress(ctx context.Context, req *ledger.Approval, start time.Time) {
	if q.token == nil {
		return
	}
	timeout := q.s.approval.Timeout
	waited := time.Since(start)
	msg := fmt.Sprintf("Waiting for a person to approve %s USDC to %s (call %s): run `toll approve` in a terminal; %s left.",
		req.Amount, req.PayTo, req.CallID, (timeout - waited).Round(time.Second))
	err := q.s.mcp.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
		"progressToken": q.token, "progress": waited.Seconds(), "total": timeout.Seconds(), "message": msg,
	})
	if err != nil {
		q.s.log.Debug("approval progress not sent", "err", err)
	}
}

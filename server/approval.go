package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools"
)

// ApprovalMode is how a payment that needs approval (tools.Policy.Approval) is asked.
type ApprovalMode string

// Approval modes.
const (
	// ApprovalElicit asks through the MCP client: an elicitation form (a multi-round-trip
	// input request from protocol 2026-07-28, a classic elicitation/create before it).
	ApprovalElicit ApprovalMode = "elicit"
	// ApprovalQueue waits, up to the timeout, in the ledger's approval queue, where
	// toll approve (another process) decides.
	ApprovalQueue ApprovalMode = "queue"
	// ApprovalDeny refuses every payment that needs approval.
	ApprovalDeny ApprovalMode = "deny"
)

// DefaultApprovalTimeout is how long an approval waits when ApprovalOptions.Timeout is zero.
const DefaultApprovalTimeout = 5 * time.Minute

// ApprovalPoll is how often a call waiting in the queue reads its entry (one short read
// transaction of the ledger each time).
const ApprovalPoll = 250 * time.Millisecond

// approvalProgressEvery is how often a call waiting in the queue tells the client (when
// its request has a progress token).
const approvalProgressEvery = 5 * time.Second

// elicitKey is the id of toll's approval form among a call's input requests.
const elicitKey = "approve"

// ApprovalOptions say how the server asks for approvals; the zero value asks none.
type ApprovalOptions struct {
	// On says some payments need approval (tools.Policy.Approval.On()): the server's
	// instructions say so. false: nothing else here is used.
	On bool
	// Mode: "" means ApprovalElicit.
	Mode ApprovalMode
	// Fallback is the mode for a client that cannot show an elicitation form, under
	// ApprovalElicit: ApprovalQueue or ApprovalDeny; "" means ApprovalQueue.
	Fallback ApprovalMode
	// Timeout is how long a person has to decide; zero: DefaultApprovalTimeout.
	Timeout time.Duration
	// Ledger holds the queue and records the timeouts of unanswered forms; required
	// when On.
	Ledger *ledger.Ledger
}

func (o *ApprovalOptions) check() error {
	if !o.On {
		return nil
	}
	if o.Mode == "" {
		o.Mode = ApprovalElicit
	}
	if o.Fallback == "" {
		o.Fallback = ApprovalQueue
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultApprovalTimeout
	}
	switch {
	case o.Mode != ApprovalElicit && o.Mode != ApprovalQueue && o.Mode != ApprovalDeny:
		return fmt.Errorf("server: approval mode %q is not elicit, queue or deny", o.Mode)
	case o.Fallback != ApprovalQueue && o.Fallback != ApprovalDeny:
		return fmt.Errorf("server: approval fallback %q is not queue or deny", o.Fallback)
	case o.Timeout < 0:
		return fmt.Errorf("server: negative approval timeout %s", o.Timeout)
	case o.Ledger == nil:
		return errors.New("server: approvals need the ledger (ApprovalOptions.Ledger)")
	}
	return nil
}

// approvals are the forms sent to modern clients and not answered yet, by request state:
// an unguessable id, so that the state a client echoes back cannot name other terms.
type approvals struct {
	mu      sync.Mutex
	pending map[string]*pendingApproval
}

// pendingApproval is one form waiting for its answer: the terms asked about, until the
// timer records the timeout.
type pendingApproval struct {
	req   ledger.Approval
	timer *time.Timer
}

func (a *approvals) put(state string, p *pendingApproval) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		a.pending = map[string]*pendingApproval{}
	}
	a.pending[state] = p
}

// take removes and returns the form of state; nil when there is none (never sent, already
// answered, or timed out).
func (a *approvals) take(state string) *pendingApproval {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[state]
	if p != nil {
		delete(a.pending, state)
		p.timer.Stop()
	}
	return p
}

// closeApprovals records the forms still waiting for an answer as denied: the server
// stops, and a retry could not find them.
func (s *Server) closeApprovals() {
	s.approvals.mu.Lock()
	pending := s.approvals.pending
	s.approvals.pending = nil
	s.approvals.mu.Unlock()
	for _, p := range pending {
		if !p.timer.Stop() {
			continue // its timeout is being recorded
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s.approval.Ledger.DecideApproval(ctx, ledger.Decision{CallID: p.req.CallID, By: "toll",
			Reason: "toll stopped before the approval form was answered", Terms: &p.req})
		cancel()
		if err != nil {
			s.log.Error("approval not closed", "call", p.req.CallID, "err", err)
		}
	}
}

// inputRequired ends a call that waits for the client's answer to a form: the call's
// result asks for it (resultType input_required).
type inputRequired struct{ result *mcp.CallToolResult }

func (*inputRequired) Error() string { return "waiting for the client's answer to the approval form" }

// approver is the tools.Approver for one call: what its connection can do under the
// configured mode. A retry that answers a form resumes the call that asked (callID).
func (s *Server) approver(ctx context.Context, req mcp.CallToolRequest) (ap tools.Approver, callID string, errRes *mcp.CallToolResult) {
	o := &s.approval
	if !o.On {
		return nil, "", nil
	}
	if state := req.Params.RequestState; state != "" {
		p := s.approvals.take(state)
		if p == nil {
			return nil, "", mcp.NewToolResultError("Not paid: the approval form this call answers is unknown to toll, already answered, or expired " +
				"(approval.timeout); nothing was signed.")
		}
		answer := mcpserver.ElicitationResponse(req.Params.InputResponses, elicitKey)
		return &formApprover{s: s, asked: p, answer: answer}, p.req.CallID, nil
	}
	mode := o.Mode
	if mode == ApprovalElicit {
		switch {
		case mcpserver.IsModernRequest(ctx) && canElicit(ctx):
			return &formApprover{s: s}, "", nil
		case canElicit(ctx):
			return &elicitApprover{s: s}, "", nil
		}
		mode = o.Fallback
		if mode == ApprovalDeny {
			return denyApprover("this client cannot show an approval form (it declared no elicitation capability), and approval.fallback is deny; " +
				"the user can set approval.fallback: queue and decide with `toll approve` in a terminal, or use a client that supports elicitation"), "", nil
		}
		return &queueApprover{s: s, token: progressToken(req), note: "this client cannot show an approval form, so the call waited in toll's approval queue (approval.fallback: queue)"}, "", nil
	}
	if mode == ApprovalDeny {
		return denyApprover("approval.mode is deny, so toll refuses every payment that needs approval; the user can set approval.mode to elicit or queue, " +
			"or change approval.threshold and approval.new_payee"), "", nil
	}
	return &queueApprover{s: s, token: progressToken(req), note: "the call waited in toll's approval queue (approval.mode: queue)"}, "", nil
}

// canElicit says whether the client declared the elicitation capability: in this
// request's _meta from protocol 2026-07-28, in its initialize request before.
func canElicit(ctx context.Context) bool {
	if info := mcpserver.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	cs, ok := mcpserver.ClientSessionFromContext(ctx).(mcpserver.SessionWithClientInfo)
	return ok && cs.GetClientCapabilities().Elicitation != nil
}

func progressToken(req mcp.CallToolRequest) mcp.ProgressToken {
	if m := req.Params.Meta; m != nil {
		return m.ProgressToken
	}
	return nil
}

// denyApprover refuses, saying why and what the user can change.
type denyApprover string

func (d denyApprover) Answered(*ledger.Approval) *tools.Decision { return nil }

func (d denyApprover) Ask(context.Context, *ledger.Approval) (tools.Decision, error) {
	return tools.Decision{By: "toll", Reason: string(d)}, nil
}

// formApprover asks a modern client with an input_required result and reads its answer
// when the client retries the call.
type formApprover struct {
	s      *Server
	asked  *pendingApproval       // the form this retry answers; nil on a first round
	answer *mcp.ElicitationResult // the client's answer to it; nil when it sent none
}

func (f *formApprover) Answered(req *ledger.Approval) *tools.Decision {
	if f.asked == nil {
		return nil
	}
	a := f.answer
	switch {
	case a == nil:
		return &tools.Decision{By: "elicitation", Reason: "no answer to the approval form came with the retry"}
	case a.Action == mcp.ElicitationResponseActionDecline:
		return &tools.Decision{By: "elicitation", Reason: "declined"}
	case a.Action != mcp.ElicitationResponseActionAccept:
		return &tools.Decision{By: "elicitation", Reason: "cancelled"}
	case !approved(a.Content):
		return &tools.Decision{By: "elicitation", Reason: "declined (approve was not checked)"}
	case f.asked.req.Agent != req.Agent || !tools.ApprovalCovers(&f.asked.req, req):
		return nil // the terms moved up or to another payee since: ask again
	}
	return &tools.Decision{Approved: true, By: "elicitation"}
}

func (f *formApprover) Ask(_ context.Context, req *ledger.Approval) (tools.Decision, error) {
	s := f.s
	state := newState()
	p := &pendingApproval{req: *req}
	p.timer = time.AfterFunc(s.approval.Timeout, func() {
		if s.approvals.take(state) == nil {
			return // answered meanwhile
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.approval.Ledger.DecideApproval(ctx, ledger.Decision{CallID: req.CallID, By: "toll",
			Reason: fmt.Sprintf("timed out: the client did not answer the approval form within %s", s.approval.Timeout), Terms: req})
		if err != nil {
			s.log.Error("approval timeout not recorded", "call", req.CallID, "err", err)
		}
	})
	s.approvals.put(state, p)
	res := mcpserver.NewInputRequestBuilder(state).Elicit(elicitKey, approvalForm(req)).ToolResult()
	return tools.Decision{}, &inputRequired{result: res}
}

// elicitApprover asks a client on a protocol before 2026-07-28 with a classic
// elicitation/create and waits for the answer, up to the timeout. (mcp-go would bridge an
// input_required result to such a client itself, but it would wait with no deadline.)
type elicitApprover struct{ s *Server }

func (*elicitApprover) Answered(*ledger.Approval) *tools.Decision { return nil }

func (e *elicitApprover) Ask(ctx context.Context, req *ledger.Approval) (tools.Decision, error) {
	timeout := e.s.approval.Timeout
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a, err := e.s.mcp.RequestElicitation(ectx, mcp.ElicitationRequest{Params: approvalForm(req)})
	switch {
	case err != nil && ctx.Err() != nil:
		return tools.Decision{By: "toll", Reason: "cancelled: the call ended before an answer"}, nil
	case err != nil && ectx.Err() != nil:
		return tools.Decision{By: "toll", Reason: fmt.Sprintf("timed out: the client did not answer the approval form within %s", timeout)}, nil
	case err != nil:
		return tools.Decision{By: "toll", Reason: "the client could not show the approval form: " + err.Error()}, nil
	}
	f := formApprover{asked: &pendingApproval{req: *req}, answer: a}
	d := *f.Answered(req)
	d.Stale = d.Approved // a person took time to answer: read the terms again
	return d, nil
}

// approved reads the form's answer: approve must be true.
func approved(content any) bool {
	m, ok := content.(map[string]any)
	if !ok {
		return false
	}
	v, ok := m["approve"].(bool)
	return ok && v
}

// approvalForm is the elicitation that asks a person about req: the terms and the
// spending in the message, and one boolean to check.
func approvalForm(req *ledger.Approval) mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Message: approvalText(req),
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"approve": map[string]any{"type": "boolean", "title": "Approve this payment",
					"description": fmt.Sprintf("Pay %s USDC to %s", req.Amount, req.PayTo), "default": false},
			},
			"required": []string{"approve"},
		},
	}
}

// approvalText describes an approval for people, in a few lines.
func approvalText(req *ledger.Approval) string {
	var b strings.Builder
	fmt.Fprintf(&b, "toll asks your approval to pay %s USDC to %s\n", req.Amount, req.PayTo)
	fmt.Fprintf(&b, "API: %s, operation: %s (%s)\n", req.API, req.Tool, req.URL)
	fmt.Fprintf(&b, "Network: %s, asset: %s\n", req.Network, req.Asset)
	if req.Agent != "" {
		fmt.Fprintf(&b, "Agent: %s\n", req.Agent)
	}
	fmt.Fprintf(&b, "Why it needs approval: %s\n", strings.Join(req.Reasons, "; "))
	fmt.Fprintf(&b, "Spent: %s USDC this session, %s USDC in the last 24 hours", req.SpentSession, req.SpentDay)
	if req.Remaining != nil {
		fmt.Fprintf(&b, "; %s USDC remains under the %s cap", req.Remaining, req.RemainingCap)
	}
	return b.String()
}

func newState() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "approval_" + hex.EncodeToString(b[:])
}

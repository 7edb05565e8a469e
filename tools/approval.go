package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// RuleApproval refuses a payment that needs a person's yes and did not get it:
// declined, cancelled, timed out, or no one could be asked.
const RuleApproval Rule = "approval"

// ErrNotApproved: a payment that needs a person's approval did not get it; nothing was
// signed. Wrapped by a *RefusedError whose Rule is RuleApproval.
var ErrNotApproved = errors.New("payment not approved")

// ApprovalRule says which payments need a person's yes before toll signs them. The zero
// value asks for none.
type ApprovalRule struct {
	// Threshold: a payment of more than it needs approval (exactly it does not); nil:
	// no threshold.
	Threshold *money.Amount
	// PerAPI are thresholds by API (catalog.Operation.API), each used for that API's
	// payments instead of Threshold; nil: none.
	PerAPI map[string]money.Amount
	// NewPayee: a payment to a payTo that no payment in the ledger went to (settled,
	// or still counting) needs approval.
	NewPayee bool
	// Agents are the rules of the calls of one agent (Call.Agent), each used whole
	// instead of this one; nil: every agent follows this rule.
	Agents map[string]ApprovalRule
}

// For is the rule of the calls of agent.
func (r ApprovalRule) For(agent string) ApprovalRule {
	if a, ok := r.Agents[agent]; ok && agent != "" {
		return a
	}
	return r
}

// On says whether r (for any agent) can ask for approval.
func (r ApprovalRule) On() bool {
	if r.Threshold != nil || len(r.PerAPI) > 0 || r.NewPayee {
		return true
	}
	for _, a := range r.Agents {
		if a.On() {
			return true
		}
	}
	return false
}

func (r ApprovalRule) check() error {
	if r.Threshold != nil && r.Threshold.Sign() < 0 {
		return fmt.Errorf("policy: the approval threshold %s is negative", r.Threshold)
	}
	for api, t := range r.PerAPI {
		if t.Sign() < 0 {
			return fmt.Errorf("policy: the approval threshold %s of API %s is negative", t, api)
		}
	}
	for name, a := range r.Agents {
		if err := a.check(); err != nil {
			return fmt.Errorf("agent %s: %w", name, err)
		}
	}
	return nil
}

// Reasons says, in words, why a payment of amount to payTo for api needs approval under
// r; newPayee says that no counting payment went to payTo before. None: it does not.
func (r ApprovalRule) Reasons(api string, amount money.Amount, payTo string, newPayee bool) []string {
	var out []string
	if t, ok := r.PerAPI[api]; ok {
		if amount.Cmp(t) > 0 {
			out = append(out, fmt.Sprintf("%s is over the approval threshold %s of API %s", amountText(amount), amountText(t), api))
		}
	} else if r.Threshold != nil && amount.Cmp(*r.Threshold) > 0 {
		out = append(out, fmt.Sprintf("%s is over the approval threshold %s", amountText(amount), amountText(*r.Threshold)))
	}
	if r.NewPayee && newPayee {
		out = append(out, fmt.Sprintf("toll has never paid %s before", payTo))
	}
	return out
}

// Approver asks a person whether to make a payment that needs approval. A front end
// makes one per call (Call.Approver), for what that call's connection can do.
type Approver interface {
	// Answered returns the decision a person already gave on an earlier round of this
	// call (it resumed with the answer) when that decision covers req's terms
	// (ApprovalCovers), or a denial whatever the terms; nil: req must be asked.
	Answered(req *ledger.Approval) *Decision
	// Ask asks a person about req, already recorded as asked in the ledger (req.Seq).
	// It returns the decision, or an error that Call returns unchanged with nothing
	// signed and no decision recorded: the answer comes with a later round of the call.
	Ask(ctx context.Context, req *ledger.Approval) (Decision, error)
}

// Decision is a person's answer (or what stands for it: a timeout, a cancel).
type Decision struct {
	Approved bool
	By       string // "elicitation", "os-user:NAME", "toll"
	Reason   string // why it was denied: "declined", "cancelled", "timed out"...
	// Recorded says the ledger holds the decision already (toll approve wrote it).
	Recorded bool
	// Stale says time has passed since the terms were read: toll reads them again (the
	// unpaid request once more) and pays only what the approval covers.
	Stale bool
}

// ApprovalCovers says whether an approval given for approved covers req: the same
// tool, network, asset and payTo, and no more than the approved amount.
func ApprovalCovers(approved, req *ledger.Approval) bool {
	return approved.Tool == req.Tool && x402.SameNetwork(approved.Network, req.Network) &&
		strings.EqualFold(approved.Asset, req.Asset) && strings.EqualFold(approved.PayTo, req.PayTo) &&
		req.Amount.Cmp(approved.Amount) <= 0
}

// maxApprovalRounds bounds how often one call reads new terms after an approval.
const maxApprovalRounds = 3

// approve asks for approval when p's payment needs it (Client.approval) and returns nil
// once it may be reserved and signed. fresh is false when the approval was given after
// a wait: p's terms must be read again. Refusals are recorded in the ledger.
func (c *Client) approve(ctx context.Context, p *payment) (fresh bool, err error) {
	rule := c.approval.For(p.call.Agent)
	if !rule.On() {
		return true, nil
	}
	req, err := c.approvalRequest(ctx, p, rule)
	if err != nil || req == nil {
		return true, err
	}
	if p.approved != nil && ApprovalCovers(p.approved, req) {
		return true, nil
	}
	ap := p.call.Approver
	if ap == nil {
		refused := notApproved(p, req, "no one can be asked on this connection")
		c.recordRefusal(ctx, p, refused)
		return false, refused
	}
	d := ap.Answered(req)
	if d == nil {
		asked, err := c.ledger.AskApproval(ctx, *req)
		if err != nil {
			return false, fmt.Errorf("record the approval asked (nothing was signed): %w", err)
		}
		p.log.Info("approval asked", "amount", req.Amount, "payTo", req.PayTo, "reasons", strings.Join(req.Reasons, "; "))
		dd, err := ap.Ask(ctx, &asked)
		if err != nil {
			return false, err
		}
		d = &dd
	}
	return c.decided(ctx, p, req, *d)
}

// decided records d when the ledger does not hold it yet, and returns the refusal of a
// denied payment.
func (c *Client) decided(ctx context.Context, p *payment, req *ledger.Approval, d Decision) (bool, error) {
	if !d.Recorded {
		_, err := c.ledger.DecideApproval(ctx, ledger.Decision{CallID: req.CallID, Approved: d.Approved, By: d.By, Reason: d.Reason, Terms: req})
		if err != nil && d.Approved {
			return false, fmt.Errorf("record the approval (nothing was signed): %w", err)
		}
		if err != nil {
			p.log.Error("denied approval not recorded", "err", err)
		}
	}
	p.log.Info("approval decided", "approved", d.Approved, "by", d.By, "reason", d.Reason)
	if !d.Approved {
		why := d.Reason
		if why == "" {
			why = "denied"
		}
		return false, notApproved(p, req, why+" (by "+d.By+")")
	}
	p.approved = req
	return !d.Stale, nil
}

// approvalReasons says why rule asks a person's approval for a payment of amount to payTo
// for api; none when it does not.
func (c *Client) approvalReasons(ctx context.Context, rule ApprovalRule, api string, amount money.Amount, payTo string) ([]string, error) {
	if !rule.On() {
		return nil, nil
	}
	newPayee := false
	if rule.NewPayee {
		paid, err := c.ledger.PaidBefore(ctx, payTo)
		if err != nil {
			return nil, fmt.Errorf("look for earlier payments to %s: %w", payTo, err)
		}
		newPayee = !paid
	}
	return rule.Reasons(api, amount, payTo, newPayee), nil
}

// approvalRequest is what a person is asked about p's payment, or nil when rule does not
// ask for it. A payment a cap would refuse is refused here, before anyone is asked.
func (c *Client) approvalRequest(ctx context.Context, p *payment, rule ApprovalRule) (*ledger.Approval, error) {
	rc, call := p.receipt, p.call
	reasons, err := c.approvalReasons(ctx, rule, call.Op.API, rc.Amount, rc.PayTo)
	if err != nil {
		return nil, fmt.Errorf("%w (nothing was signed)", err)
	}
	if len(reasons) == 0 {
		return nil, nil
	}
	caps, err := c.policy.agentCaps(call.Agent)
	if err != nil {
		return nil, err
	}
	check := ledger.Check{Agent: call.Agent, Session: call.Session, API: call.Op.API, Tool: call.Op.Name, Amount: rc.Amount}
	capErr, err := c.ledger.WouldExceed(ctx, check, caps)
	if err != nil {
		return nil, fmt.Errorf("check the caps (nothing was signed): %w", err)
	}
	if capErr != nil {
		refused := capRefusal(call.Op, rc.Amount, capErr)
		c.recordRefusal(ctx, p, refused)
		return nil, refused
	}
	tot, err := c.ledger.Totals(ctx, call.Session, call.Op.API)
	if err != nil {
		return nil, fmt.Errorf("read the totals (nothing was signed): %w", err)
	}
	req := &ledger.Approval{
		CallID: p.callID, Agent: call.Agent, Session: call.Session, API: call.Op.API, Tool: call.Op.Name,
		URL: p.via.url(), Network: rc.Network, Asset: rc.Asset, Amount: rc.Amount, PayTo: rc.PayTo,
		Reasons: reasons, SpentSession: tot.Session, SpentDay: tot.Day,
	}
	req.Remaining, req.RemainingCap = remaining(c.policy.caps, call.Op.API, tot)
	if call.Agent != "" {
		at, err := c.ledger.AgentTotals(ctx, call.Agent, call.Op.API)
		if err != nil {
			return nil, fmt.Errorf("read the agent's totals (nothing was signed): %w", err)
		}
		if left, name := agentRemaining(caps.Agent, call.Op.API, at); left != nil && (req.Remaining == nil || left.Cmp(*req.Remaining) < 0) {
			req.Remaining, req.RemainingCap = left, name
		}
	}
	return req, nil
}

// least tracks the least that a set of counting caps leaves to spend, and that cap's name.
type least struct {
	left *money.Amount
	name string
}

// cap takes a cap of limit (nil: none) with used spent.
func (l *least) cap(limit *money.Amount, used money.Amount, name string) {
	if limit == nil {
		return
	}
	left := limit.Sub(used)
	if left.Sign() < 0 {
		left = money.New(nil, left.Decimals())
	}
	if l.left == nil || left.Cmp(*l.left) < 0 {
		l.left, l.name = &left, name
	}
}

// agentRemaining is the least an agent's counting caps leave to spend, and the cap's
// name; nil when the agent has none.
func agentRemaining(caps ledger.AgentCaps, api string, at ledger.AgentTotals) (*money.Amount, string) {
	var l least
	l.cap(caps.PerDay, at.Day, ledger.CapAgentPerDay)
	l.cap(caps.Total, at.Total, ledger.CapAgentTotal)
	if a, ok := caps.PerAPI[api]; ok {
		l.cap(&a, at.API, ledger.CapAgentPerAPI)
	}
	return l.left, l.name
}

// remaining is the least that the counting caps leave to spend, and the cap's name; nil
// when no counting cap applies.
func remaining(caps ledger.Caps, api string, tot ledger.Totals) (*money.Amount, string) {
	var l least
	l.cap(caps.PerSession, tot.Session, ledger.CapPerSession)
	l.cap(caps.PerDay, tot.Day, ledger.CapPerDay)
	l.cap(caps.Total, tot.Total, ledger.CapTotal)
	if a, ok := caps.PerAPI[api]; ok {
		l.cap(&a, tot.API, ledger.CapPerAPI)
	}
	return l.left, l.name
}

// notApproved is the refusal of a payment that needed approval and did not get it.
func notApproved(p *payment, req *ledger.Approval, why string) *RefusedError {
	return &RefusedError{
		Rule: RuleApproval, Amount: req.Amount,
		Msg: fmt.Sprintf("%s asks %s for %s, which needs a person's approval (%s), and it was not approved: %s; nothing was signed",
			p.call.Op.Name, amountText(req.Amount), req.PayTo, strings.Join(req.Reasons, "; "), why),
		Err: ErrNotApproved,
	}
}

// refetch sends p's request again, unpaid, after an approval that came after a wait: the
// terms may have moved. It returns the new terms, or the answer when the server no longer
// asks for a payment.
func (c *Client) refetch(ctx context.Context, p *payment) (*x402.Challenge, *Result, error) {
	a, err := p.via.send(ctx, "", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s (again, after the approval; nothing was signed): %v", ErrUpstream, p.via.describe(), err)
	}
	if !a.required {
		return nil, a.result, nil
	}
	if a.challengeErr != nil {
		return nil, nil, fmt.Errorf("%w: %s asked for a payment without terms toll can read: %v", ErrUpstream, p.via.url(), a.challengeErr)
	}
	return a.challenge, nil, nil
}

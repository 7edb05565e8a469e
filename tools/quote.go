package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
)

// Quote is what a call of one operation would cost now, and whether toll would pay it: the
// answer to its unpaid request, read as Call reads it and checked against the policy and
// the caps as they stand. Nothing is signed, reserved or recorded for it.
type Quote struct {
	Method, URL string
	// Sent says whether the unpaid request was sent. It is not when toll would refuse
	// the call before sending anything (Refused.Rule is RuleInsecureHTTP), or when a
	// quote of it could change something and toll would not pay it anyway (Unsent says
	// why).
	Sent   bool
	Unsent string
	// Status is the HTTP status of the unpaid request; 0 when it was not sent. For a tool
	// of an upstream MCP server (Method tools/call): 402 when it asked for a payment, else
	// 0, and Answer says what it answered.
	Status int
	// Answer is, for a tool of an upstream MCP server, what its unpaid tools/call answered:
	// AnswerPaymentRequired, AnswerToolResult (it is free, and ran) or AnswerToolError.
	// "" for an HTTP operation.
	Answer string
	// Detail is the start of the body of an answer of 400 or more that is not a 402, or
	// of the text of an MCP tool error, for people; empty otherwise. The body of any other
	// answer is never kept.
	Detail string
	// Version is the x402 version of the 402; 0 when there was none.
	Version int
	// Terms are the requirements of the 402, in its order.
	Terms []x402.Option
	// Chosen is the index in Terms of the requirement toll would pay; -1 when none.
	Chosen int
	// Refused says why toll would not pay now; nil when it would, or when nothing is asked.
	Refused *RefusedError
	// Approval says why a person would be asked first (Policy.Approval), when toll would
	// pay; none: it would pay without asking.
	Approval []string
}

// Free reports whether the operation answered without asking for a payment: 2xx or 3xx,
// or an MCP tool's result.
func (q *Quote) Free() bool {
	if q.Answer != "" {
		return q.Sent && q.Answer == AnswerToolResult
	}
	return q.Sent && q.Status < 400
}

// WouldPay reports whether toll would pay the 402 now.
func (q *Quote) WouldPay() bool { return q.Chosen >= 0 && q.Refused == nil }

// maxDetail is how much of an error answer a Quote keeps.
const maxDetail = 300

// safeMethod reports whether sending method has no effect the API should keep
// (https://www.rfc-editor.org/rfc/rfc9110#section-9.2.1).
func safeMethod(method string) bool {
	switch strings.ToUpper(method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// Quote sends call's request once, unpaid (even when the terms cache would pay with the
// first request), and reads what it asks: the terms of a 402, which requirement toll
// would choose, and whether the policy and the caps (of call.Session and call.Agent)
// admit it now.
// It never signs, reserves or records anything, and keeps no response body.
//
// An operation with no advertised price whose method is not safe (POST, PUT, PATCH,
// DELETE) is not sent: toll would refuse any 402 it answered, and if it is free the
// request would do its work. A priced operation is sent whatever its method: an x402
// server asks for the payment before it does the work.
//
// Errors: ErrInvalidArguments and ErrUnknownAgent (nothing sent), ErrUpstream (no answer,
// or a 402 toll cannot read), or a ledger error while checking the caps.
func (c *Client) Quote(ctx context.Context, call Call) (*Quote, error) {
	if call.Upstream != nil {
		return c.quoteUpstream(ctx, call)
	}
	op := call.Op
	req, err := c.prepare(call)
	if err != nil {
		return nil, err
	}
	q := &Quote{Method: req.method, URL: req.url, Chosen: -1}
	if refused := clearTextRefusal(op, req.url); refused != nil {
		q.Refused = refused
		return q, nil
	}
	if op.Price == nil && !safeMethod(req.method) {
		q.Unsent = fmt.Sprintf("%s advertises no price, so toll would refuse any payment it asked for; and a %s could do its work if the API is free. "+
			"Call it to use it", op.Name, req.method)
		_, err := c.policy.choose(op, &x402.Challenge{}) // refused: no advertised price
		errors.As(err, &q.Refused)
		return q, nil
	}
	resp, body, _, err := exchange(ctx, c.http, req, nil, x402.MaxBodyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUpstream, req.method, req.url, err)
	}
	q.Sent, q.Status = true, resp.StatusCode
	if resp.StatusCode != http.StatusPaymentRequired {
		if resp.StatusCode >= 400 {
			q.Detail = detail(body)
		}
		return q, nil
	}
	ch, err := x402.ParseChallenge(resp.Header, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s answered 402 without terms toll can read: %v", ErrUpstream, req.url, err)
	}
	q.Version, q.Terms = ch.Version, ch.Options
	return q, c.weighQuote(ctx, call, ch, q)
}

// quoteUpstream is Quote for a tool of an upstream MCP server: its tools/call sent once
// with no payment, read as callUpstream reads it. A tool whose server advertises no price
// for it is not sent: a tools/call of a free tool runs it.
func (c *Client) quoteUpstream(ctx context.Context, call Call) (*Quote, error) {
	op := call.Op
	via, err := c.prepareUpstream(call, x402.MaxBodyLen)
	if err != nil {
		return nil, err
	}
	q := &Quote{Method: via.method(), URL: via.target, Chosen: -1}
	if refused := clearTextRefusal(op, op.ServerURL); refused != nil {
		q.Refused = refused
		return q, nil
	}
	if op.Price == nil || op.Price.Mode != catalog.PriceFixed {
		q.Unsent = fmt.Sprintf("the MCP server advertises no price for %s, and a tools/call of a free tool runs it. Call it to use it: "+
			"toll pays what it asks within the user's policy and caps", op.Name)
		return q, nil
	}
	a, err := via.send(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUpstream, via.describe(), err)
	}
	q.Sent, q.Answer = true, a.code
	switch {
	case !a.required:
		if a.failed {
			q.Detail = detail([]byte(a.detail))
		}
		return q, nil
	case a.challengeErr != nil:
		return nil, fmt.Errorf("%w: %s asked for a payment without terms toll can read: %v", ErrUpstream, via.describe(), a.challengeErr)
	}
	q.Status, q.Version, q.Terms = http.StatusPaymentRequired, a.challenge.Version, a.challenge.Options
	return q, c.weighQuote(ctx, call, a.challenge, q)
}

// weighQuote sets q.Chosen and q.Refused: the policy's choice among the 402's
// requirements, then the caps, as Reserve would check them now.
func (c *Client) weighQuote(ctx context.Context, call Call, ch *x402.Challenge, q *Quote) error {
	pick, err := c.policy.choose(call.Op, ch)
	var refused *RefusedError
	if errors.As(err, &refused) {
		q.Refused = refused
		return nil
	}
	if err != nil {
		return err
	}
	for i, o := range ch.Options {
		if o.Index == pick.option.Index {
			q.Chosen = i
		}
	}
	if q.Refused = termsRefusal(ch, pick.option, c.terms.now()); q.Refused != nil {
		return nil
	}
	caps, err := c.policy.agentCaps(call.Agent)
	if err != nil {
		return err
	}
	capErr, err := c.ledger.WouldExceed(ctx, ledger.Check{
		Agent: call.Agent, Session: call.Session, API: call.Op.API, Tool: call.Op.Name, Amount: pick.option.Amount,
	}, caps)
	if err != nil {
		return fmt.Errorf("check the caps: %w", err)
	}
	if capErr != nil {
		q.Refused = capRefusal(call.Op, pick.option.Amount, capErr)
		return nil
	}
	q.Approval, err = c.approvalReasons(ctx, c.approval.For(call.Agent), call.Op.API, pick.option.Amount, pick.payTo.Hex())
	return err
}

// capRefusal is the refusal of a payment of amount for op by a cap.
func capRefusal(op *catalog.Operation, amount money.Amount, capErr *ledger.CapError) *RefusedError {
	name := capErr.Cap
	if capErr.Agent != "" {
		name = fmt.Sprintf("agent %q's %s", capErr.Agent, strings.TrimPrefix(name, "agent "))
	}
	return &RefusedError{
		Rule: RuleCap, Cap: capErr.Cap, Amount: amount, Limit: capErr.Limit, Used: capErr.Used,
		Msg: fmt.Sprintf("%s asks %s, but the %s cap is %s and %s is already spent or reserved; nothing was signed",
			op.Name, amountText(amount), name, amountText(capErr.Limit), amountText(capErr.Used)),
		Err: capErr,
	}
}

// detail is the start of an error body, on one line, for people.
func detail(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "?")), " ")
	if r := []rune(s); len(r) > maxDetail {
		s = string(r[:maxDetail]) + "…"
	}
	return s
}

package tools

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tollhq/toll/tools/x402"
)

// RulePaymentID refuses terms that require a payment identifier toll cannot send (x402's
// payment-identifier extension on a version 1 402, whose payment has no extensions).
const RulePaymentID Rule = "payment identifier"

// resendMargin is how long a payment's authorization must still be valid for toll to
// resend it: a resend the server processes anew settles within that time.
const resendMargin = 10 * time.Second

// identify gives p a payment identifier when its 402 advertises x402's
// payment-identifier extension
// (https://github.com/x402-foundation/x402/blob/main/specs/extensions/payment_identifier.md),
// so that a payment whose answer is lost can be resent to get the answer the server
// kept. Terms that require an identifier toll cannot send are refused, and the refusal
// recorded, before anything is signed.
func (c *Client) identify(ctx context.Context, p *payment) error {
	p.paymentID = ""
	offered, required := p.ch.PaymentIdentifier()
	if offered {
		id, err := x402.NewPaymentID()
		if err == nil {
			p.paymentID = id
			return nil
		}
		if !required {
			p.log.Warn("paying without a payment identifier", "err", err)
			return nil
		}
		return c.refuseIdentifier(ctx, p, identifierRefusal(p.pick.option, fmt.Sprintf("the server requires a payment identifier and toll could not make one (%v)", err)))
	}
	if refused := unsendableIdentifier(p.ch, p.pick.option); refused != nil {
		return c.refuseIdentifier(ctx, p, refused)
	}
	return nil
}

// unsendableIdentifier is the refusal of requirement o of ch when ch requires a payment
// identifier that a payment of its x402 version cannot carry; nil otherwise.
func unsendableIdentifier(ch *x402.Challenge, o x402.Option) *RefusedError {
	if offered, _ := ch.PaymentIdentifier(); offered || !ch.PaymentIdentifierRequired() {
		return nil
	}
	return identifierRefusal(o, fmt.Sprintf("the server requires a payment identifier (extensions[%q]), which a payment of x402 version %d cannot carry", x402.ExtensionPaymentIdentifier, ch.Version))
}

// identifierRefusal is the refusal of requirement o by RulePaymentID.
func identifierRefusal(o x402.Option, msg string) *RefusedError {
	return &RefusedError{Rule: RulePaymentID, Amount: o.Amount, Msg: msg + "; nothing was signed", Err: ErrNoAcceptableRequirement}
}

// refuseIdentifier records and returns a refusal of p's terms.
func (c *Client) refuseIdentifier(ctx context.Context, p *payment, refused *RefusedError) error {
	c.recordRefusal(ctx, p, refused)
	return refused
}

// resend recovers the answer to p's paid request when none was read (first says why):
// with a payment identifier, the identical payment (the same key and value, so the same
// bytes and id) is sent once more, on a fresh connection, while its authorization is
// valid for resendMargin more. The server answers the same id and payload with the
// answer it kept, without a second transfer. Only a settled answer is taken; a 409, any
// other answer or none leaves the payment's outcome unknown, as without the extension.
func (c *Client) resend(ctx context.Context, p *payment, key string, value any, first error) paidReply {
	if p.paymentID == "" || ctx.Err() != nil {
		return paidReply{err: first}
	}
	left := time.Unix(p.auth.ValidBefore.Int64(), 0).Sub(c.terms.now())
	if left < resendMargin {
		return paidReply{err: fmt.Errorf("%v; not resent with its payment identifier: the authorization ends in %s", first, left.Round(time.Second))}
	}
	p.log.Info("resending the payment with its payment identifier", "paymentId", p.paymentID, "err", first)
	a, err := p.via.send(ctx, key, value)
	switch {
	case err != nil:
		return paidReply{err: fmt.Errorf("%v; resent once with its payment identifier %s: %v", first, p.paymentID, err)}
	case settledAnswer(a):
		p.log.Info("answer recovered with the payment identifier", "paymentId", p.paymentID, "status", a.code)
		p.receipt.Resent = true
		return paidReply{ans: a}
	}
	return paidReply{
		err:    fmt.Errorf("%v; resent once with its payment identifier %s, the server answered %s without a settlement%s", first, p.paymentID, a.code, answerDetail(a)),
		status: a.status,
	}
}

// settledAnswer says a is an answer with a successful settlement: what a resend must
// get for its payment to count as settled.
func settledAnswer(a *answer) bool {
	s := a.settlement
	return !a.failed && !a.required && s != nil && s.Success && s.Transaction != ""
}

// answerDetail is a short text of what a failed answer said, for a reason: ": " and the
// start of its body, or "".
func answerDetail(a *answer) string {
	if a.result == nil || len(a.result.Body) == 0 {
		return ""
	}
	return ": " + clipReason(string(a.result.Body))
}

// clipReason shortens text from a server for a reason the ledger records: valid UTF-8,
// at most about 200 bytes.
func clipReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= 200 {
		return s
	}
	n := 200
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

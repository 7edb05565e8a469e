package tools

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollhq/toll/catalog"
	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// Step is a point in a paid call at which Config.Checkpoint is called, in this order.
type Step string

// The steps of a paid call.
const (
	StepReserved  Step = "reserved"  // the intent is in the ledger
	StepSigned    Step = "signed"    // the authorization is signed
	StepSent      Step = "sent"      // bytes of the paid request left the process
	StepResponded Step = "responded" // the paid request's response is read, or the request failed
	StepRecorded  Step = "recorded"  // the outcome is handed to the ledger (or a refusal is in it)
)

// pay runs one paid call and keeps the terms cache: the terms of a settled payment are
// remembered, anything else forgets them. upfront means ch comes from the terms cache
// and the request has not been sent yet.
func (c *Client) pay(ctx context.Context, call Call, via exchanger, ch *x402.Challenge, upfront bool, log *slog.Logger) (*Result, error) {
	p := &payment{call: call, via: via, ch: ch, upfront: upfront, callID: call.ID}
	if p.callID == "" {
		p.callID = newCallID()
	}
	p.log = log.With("call", p.callID)
	res, err := c.payOnce(ctx, p)
	if err == nil && res.Payment != nil && res.Payment.Status == ledger.StatusSettled {
		c.terms.put(call.Op, p.ch)
	} else {
		c.terms.drop(call.Op)
	}
	return res, err
}

// payOnce is the only place that signs. Its order keeps the paid path's invariants:
// nothing is signed before the ledger holds the intent (fsync'd), at most one
// authorization is made and sent, refusals are recorded, and the outcome is recorded
// even when ctx is done. A payment that needs a person's approval is signed only once
// the approval covers its terms.
func (c *Client) payOnce(ctx context.Context, p *payment) (*Result, error) {
	if res, err := c.authorizeApproved(ctx, p); res != nil || err != nil {
		return res, err
	}
	// The paid request's fresh connection is dialed while the reservation commits.
	ahead := c.ahead.start(ctx, p.via.url())
	defer ahead.close()
	if err := c.reserve(ctx, p); err != nil {
		return nil, err
	}
	c.check(StepReserved)
	reply, err := c.signAndSend(withDialedAhead(ctx, ahead), p)
	if err != nil {
		return nil, err // nothing left toll; the reservation is released
	}
	// From here the signed authorization may be in the server's hands: nothing but a
	// settlement proof or a later reconcile against the chain ends its count.
	return c.record(ctx, p, reply)
}

// payment is one paid call in progress.
type payment struct {
	call    Call
	via     exchanger
	ch      *x402.Challenge
	upfront bool
	callID  string
	log     *slog.Logger

	// approved are the terms a person approved for this call; nil: none yet.
	approved *ledger.Approval

	// Set by authorize.
	pick    *choice
	auth    wallet.Authorization
	domain  wallet.Domain
	receipt *Receipt
	// paymentID is the idempotency key sent with the payment; "" for none (identify).
	paymentID string
	// offer is the signed offer of the chosen terms, offerResource the resource it
	// signs (checkOffers); receiptArt the settlement's signed receipt (checkReceipt).
	offer, receiptArt *ledger.Artifact
	offerResource     string
}

// authorizeApproved authorizes p and, when its payment needs a person's approval, gets
// it. An approval given after a wait has its terms read again (the unpaid request once
// more, at most maxApprovalRounds times): the same or lower terms are paid, others are
// asked again. A Result is the API's answer when it no longer asks for a payment.
func (c *Client) authorizeApproved(ctx context.Context, p *payment) (*Result, error) {
	for round := 1; ; round++ {
		if err := c.authorize(ctx, p); err != nil {
			return nil, err
		}
		fresh, err := c.approve(ctx, p)
		if err != nil || fresh {
			return nil, err
		}
		if round == maxApprovalRounds {
			return nil, fmt.Errorf("%w: %s changed its terms after each of %d approvals; nothing was signed", ErrUpstream, p.via.url(), round)
		}
		ch, res, err := c.refetch(ctx, p)
		if err != nil || res != nil {
			return res, err
		}
		p.ch, p.upfront = ch, false
	}
}

// authorize chooses the requirement to pay within the policy and prepares its EIP-3009
// authorization (https://eips.ethereum.org/EIPS/eip-3009) and the receipt that describes
// it. Nothing is signed. A refusal by the policy is recorded in the ledger.
func (c *Client) authorize(ctx context.Context, p *payment) error {
	pick, err := c.policy.choose(p.call.Op, p.ch)
	if err != nil {
		c.recordRefusal(ctx, p, err)
		return err
	}
	o := pick.option
	auth, err := c.wallet.NewAuthorization(pick.payTo, o.Amount.Atomic(), pick.window)
	if err != nil {
		return fmt.Errorf("prepare authorization: %w", err)
	}
	domain := wallet.Domain{Name: o.Domain.Name, Version: o.Domain.Version, ChainID: pick.chainID, VerifyingContract: pick.asset}
	if err := wallet.Validate(domain, auth); err != nil {
		return fmt.Errorf("prepare authorization (nothing was signed): %w", err)
	}
	p.pick, p.auth, p.domain = pick, auth, domain
	p.receipt = &Receipt{
		CallID:   p.callID,
		Status:   ledger.StatusReserved,
		Amount:   o.Amount,
		Decimals: o.Amount.Decimals(),
		Display:  amountText(o.Amount),
		Network:  o.Network,
		Asset:    pick.asset.Hex(),
		PayTo:    pick.payTo.Hex(),
		Payer:    auth.From.Hex(),
		Nonce:    wallet.NonceHex(auth.Nonce),
		Version:  p.ch.Version,
	}
	if err := c.checkOffers(ctx, p); err != nil {
		return err
	}
	if err := c.identify(ctx, p); err != nil {
		return err
	}
	p.receipt.PaymentID = p.paymentID
	return nil
}

// reserve records the intent in the ledger, which checks the caps in the same fsync'd
// transaction. A cap's refusal is a *RefusedError (the ledger recorded it).
func (c *Client) reserve(ctx context.Context, p *payment) error {
	rc := p.receipt
	caps, err := c.policy.agentCaps(p.call.Agent)
	if err != nil {
		return err
	}
	_, err = c.ledger.Reserve(ctx, ledger.Intent{
		CallID:      p.callID,
		Agent:       p.call.Agent,
		Session:     p.call.Session,
		API:         p.call.Op.API,
		Tool:        p.call.Op.Name,
		URL:         p.via.url(),
		Network:     rc.Network,
		Asset:       rc.Asset,
		Amount:      rc.Amount,
		PayTo:       rc.PayTo,
		Payer:       rc.Payer,
		Nonce:       rc.Nonce,
		ValidBefore: time.Unix(p.auth.ValidBefore.Int64(), 0),
		Method:      p.via.method(),
		PaymentID:   p.paymentID,
	}, caps)
	var capErr *ledger.CapError
	switch {
	case errors.As(err, &capErr):
		p.log.Info("payment refused by cap", "cap", capErr.Cap, "amount", rc.Amount)
		return capRefusal(p.call.Op, rc.Amount, capErr)
	case err != nil:
		return fmt.Errorf("reserve payment in the ledger (nothing was signed): %w", err)
	}
	return nil
}

// paidReply is what the one paid request got back, or how it failed.
type paidReply struct {
	ans    *answer
	err    error // the request failed once the payment may have left toll
	status int   // with err: the HTTP status of a resend's answer that settled nothing; 0 for none
}

// signAndSend signs the authorization and sends the request once with the payment
// header. An error means nothing left toll (signing or encoding failed) and the
// reservation is released; what happened to a sent request is in the reply.
func (c *Client) signAndSend(ctx context.Context, p *payment) (paidReply, error) {
	sig, err := c.wallet.Sign(ctx, p.domain, p.auth)
	if err != nil {
		c.release(ctx, p, "signing failed: "+err.Error())
		return paidReply{}, fmt.Errorf("sign payment: %w", err)
	}
	c.check(StepSigned)
	payload := x402.ExactEVMPayload{
		Signature: "0x" + hex.EncodeToString(sig),
		Authorization: x402.Authorization{
			From:        p.auth.From.Hex(),
			To:          p.auth.To.Hex(),
			Value:       p.auth.Value.String(),
			ValidAfter:  p.auth.ValidAfter.String(),
			ValidBefore: p.auth.ValidBefore.String(),
			Nonce:       p.receipt.Nonce,
		},
	}
	key, value, err := p.via.carrier(p.ch, p.pick.option.Index, payload, p.paymentID)
	if err != nil {
		c.release(ctx, p, "payment encoding: "+err.Error())
		return paidReply{}, err
	}
	rc := p.receipt
	p.log.Info("paying", "amount", rc.Amount, "network", rc.Network, "asset", rc.Asset, "payTo", rc.PayTo, "nonce", rc.Nonce, "x402Version", rc.Version)
	var r paidReply
	r.ans, r.err = p.via.send(ctx, key, value)
	if r.err != nil {
		r = c.resend(ctx, p, key, value, r.err)
	}
	c.check(StepResponded)
	return r, nil
}

// record writes the outcome of the paid request to the ledger and the receipt: settled
// when the server proved it, unknown otherwise (it counts as spent until reconciled). A
// failed request and a payment asked again (a 402) are a *PaymentError; any other answer
// is a Result.
func (c *Client) record(ctx context.Context, p *payment, r paidReply) (*Result, error) {
	rc := p.receipt
	if r.err != nil {
		c.markUnknown(ctx, p, r.status, "sending the paid request failed: "+r.err.Error())
		return nil, p.notSettled(fmt.Sprintf("the paid request failed after the payment was signed: %v", r.err))
	}
	a := r.ans
	res := a.result
	res.Payment = rc
	settlement := a.settlement
	c.checkReceipt(p, settlement)
	if other := otherPayer(settlement, rc.Payer); other != "" {
		reason := fmt.Sprintf("the server answered %s with a settlement for another payer (%s, not %s)", a.code, other, rc.Payer)
		c.markUnknown(ctx, p, a.status, reason)
		p.log.Warn("payment outcome unknown", "reason", reason)
		if a.required {
			return nil, p.notSettled(reason)
		}
		return res, nil
	}
	switch {
	case settledAnswer(a):
		rc.Status, rc.Transaction = ledger.StatusSettled, settlement.Transaction
		c.recordLater(p.log, ledger.Outcome{CallID: p.callID, Kind: ledger.KindSettled, TxHash: rc.Transaction, HTTPStatus: a.status, Artifacts: p.artifacts()})
		p.log.Info("paid", "status", a.code, "tx", rc.Transaction)
		return res, nil
	case a.required:
		reason := p.rejection(a)
		c.markUnknown(ctx, p, a.status, reason)
		p.log.Warn("payment not accepted", "reason", reason)
		return nil, p.notSettled(reason)
	default:
		reason := fmt.Sprintf("the server answered %s with no settlement proof", a.code)
		if a.settlementErr != nil {
			reason += " (" + a.settlementErr.Error() + ")"
		} else if settlement != nil && !settlement.Success {
			reason = fmt.Sprintf("the server answered %s and reported a failed settlement: %s", a.code, settlement.ErrorReason)
		}
		c.markUnknown(ctx, p, a.status, reason)
		p.log.Warn("payment outcome unknown", "reason", reason)
		return res, nil
	}
}

// rejection says why a server asked for a payment again in answer to the paid request,
// as far as it told.
func (p *payment) rejection(a *answer) string {
	reason := "the server answered " + a.code + " to the paid request"
	if p.upfront {
		reason = "the server answered " + a.code + " to a payment sent with the first request (its terms changed since the last call)"
	}
	if a.settlement != nil && a.settlement.ErrorReason != "" {
		reason += ": " + a.settlement.ErrorReason
	} else if a.challengeErr == nil && a.challenge != nil && a.challenge.Error != "" {
		reason += ": " + a.challenge.Error
	}
	return reason
}

// notSettled is the error of a payment that left toll without a proven settlement.
func (p *payment) notSettled(reason string) *PaymentError {
	return &PaymentError{Reason: reason, URL: p.via.url(), Receipt: p.receipt, Err: ErrPaymentNotSettled}
}

// markUnknown records that the payment may have reached the server but is not proven
// settled; httpStatus is the server's answer, 0 when there was none.
func (c *Client) markUnknown(ctx context.Context, p *payment, httpStatus int, reason string) {
	p.receipt.Status = ledger.StatusUnknown
	c.recordLater(p.log, ledger.Outcome{CallID: p.callID, Kind: ledger.KindUnknown, Reason: reason, HTTPStatus: httpStatus, Artifacts: p.artifacts()})
}

// release ends a reservation whose authorization never left toll.
func (c *Client) release(ctx context.Context, p *payment, reason string) {
	c.recordLater(p.log, ledger.Outcome{CallID: p.callID, Kind: ledger.KindReleased, Reason: reason})
}

// recordRefusal records a refusal by the policy: what was asked, when the 402 says it.
func (c *Client) recordRefusal(ctx context.Context, p *payment, refusal error) {
	r := ledger.Refusal{
		CallID:  p.callID,
		Agent:   p.call.Agent,
		Session: p.call.Session,
		API:     p.call.Op.API,
		Tool:    p.call.Op.Name,
		URL:     p.via.url(),
		Reason:  refusal.Error(),
		Method:  p.via.method(),
	}
	if len(p.ch.Options) > 0 {
		o := p.ch.Options[0]
		r.Network, r.Asset, r.PayTo = o.Network, o.Asset, o.PayTo
		if o.Problem == "" {
			r.Amount = &o.Amount
		}
	}
	p.log.Info("payment refused by policy", "reason", refusal.Error())
	c.writeOutcome(ctx, p.log, func(ctx context.Context) error { return c.ledger.Refuse(ctx, r) })
}

// refuseUnsent records a refusal made before anything was sent, so before any 402: what
// was asked is the operation's advertised price (unknown for a price set at call time).
func (c *Client) refuseUnsent(ctx context.Context, call Call, via exchanger, refused *RefusedError, log *slog.Logger) {
	p := call.Op.Price
	amount := p.Amount
	r := ledger.Refusal{
		CallID:  call.ID,
		Agent:   call.Agent,
		Session: call.Session,
		API:     call.Op.API,
		Tool:    call.Op.Name,
		URL:     via.url(),
		Network: p.Network,
		Asset:   p.AssetAddress,
		Amount:  &amount,
		PayTo:   p.PayTo,
		Reason:  refused.Error(),
		Method:  via.method(),
	}
	if p.Mode == catalog.PriceAtCall {
		r.Amount = nil // no 402 was read: nothing was asked yet
	}
	if r.CallID == "" {
		r.CallID = newCallID()
	}
	log.Info("payment refused by policy", "reason", refused.Error())
	c.writeOutcome(ctx, log, func(ctx context.Context) error { return c.ledger.Refuse(ctx, r) })
}

// recordLater hands the outcome of a reserved call to the ledger, which commits it with
// its next write (ledger.RecordLater): the reservation is durable already, and an
// outcome lost to a crash leaves the call reserved, counted as spent, until reconcile
// resolves it on chain.
func (c *Client) recordLater(log *slog.Logger, o ledger.Outcome) {
	err := c.ledger.RecordLater(o, func(err error) {
		if err != nil {
			log.Error("ledger outcome not recorded; the reservation still counts against the caps", "err", err)
		}
	})
	if err != nil {
		log.Error("ledger outcome not recorded; the reservation still counts against the caps", "err", err)
		return
	}
	c.check(StepRecorded)
}

// writeOutcome records an outcome even when the call's context is already done: losing
// the record of a signed payment is worse than a late write.
func (c *Client) writeOutcome(ctx context.Context, log *slog.Logger, write func(context.Context) error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := write(wctx); err != nil {
		log.Error("ledger outcome not recorded; the reservation still counts against the caps", "err", err)
		return
	}
	c.check(StepRecorded)
}

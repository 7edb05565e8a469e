package tools

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// RuleOffer refuses terms whose signed offer (x402's offer-receipt extension) does not
// verify, signs other terms, or has expired: a server that signs its offers and presents
// terms its signature does not cover is hostile.
const RuleOffer Rule = "signed offer"

// Signed offers and receipts follow
// https://github.com/x402-foundation/x402/blob/main/specs/extensions/extension-offer-and-receipt.md:
// an offer is matched to the requirement it pays by its signed fields, never by its
// acceptIndex. A signature proves who signed, not that the signer may sign for the
// resource (the spec's signer authorization): the only authorization toll checks is the
// simplest one, a signer that is the payTo. An artifact signed by another key is stored
// with its signer, unverified, and refuses nothing on that account (a legitimate server
// may sign with a dedicated key); a signature that recovers no signer, or an offer that
// signs terms other than the requirement it stands for, refuses the terms. JWS artifacts
// are stored and reported unverified.

// unauthorized is the problem of an artifact whose signer is not the payTo.
const unauthorized = "signed by a key other than the payTo; toll cannot check that key's authority"

// checkOffers checks the signed offers of p's 402 that stand for the chosen requirement:
// those whose acceptIndex names it or that sign its network, asset and payTo. One whose
// signature recovers no signer, that signs another amount or scheme, or that has expired
// refuses the terms (recorded) before anything is signed; the one kept in p.offer is
// verified (signed by the payTo) when one is.
func (c *Client) checkOffers(ctx context.Context, p *payment) error {
	offer, resource, refused := offerOf(p.ch, p.pick.option, c.terms.now())
	if refused != nil {
		c.recordRefusal(ctx, p, refused)
		return refused
	}
	p.offer, p.offerResource = offer, resource
	if offer != nil && offer.Verified {
		p.receipt.OfferSigner = offer.Signer
	}
	return nil
}

// offerOf checks the signed offers of ch that stand for requirement o at now, as
// checkOffers does, and returns the one to keep (nil for none) and the resource it signs,
// or the refusal of o by RuleOffer.
func offerOf(ch *x402.Challenge, o x402.Option, now time.Time) (*ledger.Artifact, string, *RefusedError) {
	offers, err := ch.Offers()
	if err != nil {
		return nil, "", offerRefusal(o, fmt.Sprintf("the 402's signed offers cannot be read: %v", err))
	}
	var kept *ledger.Artifact
	var keptResource string
	for i, a := range offers {
		rec, resource, claims, problem := checkOffer(a, o, now)
		if !claims {
			continue
		}
		if problem != "" {
			return nil, "", offerRefusal(o, fmt.Sprintf("signed offer %d for the terms chosen (%s to %s on %s): %s", i, o.Amount.AtomicString(), o.PayTo, o.Network, problem))
		}
		if kept == nil || !kept.Verified && rec.Verified {
			kept, keptResource = rec, resource
		}
	}
	return kept, keptResource, nil
}

// checkOffer checks offer a against requirement o at now: what toll records of it, the
// resource it signs, whether it stands for o, and why it refuses o ("" when it does not).
func checkOffer(a x402.SignedArtifact, o x402.Option, now time.Time) (rec *ledger.Artifact, resource string, claims bool, problem string) {
	rec = &ledger.Artifact{Format: a.Format, Raw: a.Raw}
	claims = a.AcceptIndex != nil && *a.AcceptIndex == o.Index
	if a.Format != x402.FormatEIP712 {
		rec.Problem = "a " + a.Format + " artifact: stored, not verified"
		return rec, "", claims, ""
	}
	pl, err := a.OfferPayload()
	if err != nil {
		return rec, "", true, "its payload cannot be read: " + err.Error()
	}
	claims = claims || x402.SameNetwork(pl.Network, o.Network) && strings.EqualFold(pl.Asset, o.Asset) && strings.EqualFold(pl.PayTo, o.PayTo)
	if !claims {
		return rec, "", false, ""
	}
	sig, err := decodeSignature(a.Signature)
	if err != nil {
		return rec, "", true, "its signature is not hex: " + err.Error()
	}
	signer, err := wallet.RecoverOffer(wallet.Offer(pl), sig)
	if err != nil {
		return rec, "", true, "its signature does not verify: " + err.Error()
	}
	switch {
	case !pl.Matches(o):
		return rec, "", true, fmt.Sprintf("it signs other terms (%s %s to %s on %s) than the requirement asks", pl.Scheme, pl.Amount, pl.PayTo, pl.Network)
	case pl.ValidUntil != 0 && now.Unix() > int64(pl.ValidUntil):
		return rec, "", true, fmt.Sprintf("it expired at %s", time.Unix(int64(pl.ValidUntil), 0).UTC().Format(time.RFC3339))
	}
	rec.Signer = signer.Hex()
	rec.SignerIsPayTo = strings.EqualFold(rec.Signer, o.PayTo)
	rec.Verified = rec.SignerIsPayTo
	if !rec.Verified {
		rec.Problem = unauthorized
	}
	return rec, pl.ResourceURL, true, ""
}

// offerRefusal is the refusal of requirement o by RuleOffer.
func offerRefusal(o x402.Option, msg string) *RefusedError {
	return &RefusedError{Rule: RuleOffer, Amount: o.Amount, Msg: msg + "; nothing was signed", Err: ErrNoAcceptableRequirement}
}

// checkReceipt checks the signed receipt of settlement s, if it has one, and keeps it in
// p.receiptArt: verified when its signature recovers to the payTo and it names toll's
// payer, the network paid on, the resource of the offer or 402, and the settlement's
// transaction.
// A receipt that does not verify is recorded as such; it changes no outcome.
func (c *Client) checkReceipt(p *payment, s *x402.SettlementResponse) {
	if s == nil {
		return
	}
	a, err := s.Receipt()
	if err != nil {
		p.receiptArt = &ledger.Artifact{Problem: clipReason(err.Error())}
		return
	}
	if a == nil {
		return
	}
	rec := &ledger.Artifact{Format: a.Format, Raw: a.Raw}
	p.receiptArt = rec
	if a.Format != x402.FormatEIP712 {
		rec.Problem = "a " + a.Format + " artifact: stored, not verified"
		return
	}
	rec.Problem = p.receiptProblem(rec, *a, s)
	rec.Verified = rec.Problem == ""
	if rec.Verified {
		p.receipt.ReceiptSigner, p.receipt.ReceiptByPayee = rec.Signer, rec.SignerIsPayTo
	} else {
		p.log.Warn("signed receipt not verified", "problem", rec.Problem)
	}
}

// receiptProblem recovers the signer of receipt a into rec and says why the receipt is
// not one of p's settlement ("" when it is).
func (p *payment) receiptProblem(rec *ledger.Artifact, a x402.SignedArtifact, s *x402.SettlementResponse) string {
	pl, err := a.ReceiptPayload()
	if err != nil {
		return "its payload cannot be read: " + clipReason(err.Error())
	}
	sig, err := decodeSignature(a.Signature)
	if err != nil {
		return "its signature is not hex"
	}
	signer, err := wallet.RecoverReceipt(wallet.Receipt(pl), sig)
	if err != nil {
		return "its signature does not verify: " + err.Error()
	}
	rec.Signer = signer.Hex()
	rec.SignerIsPayTo = strings.EqualFold(rec.Signer, p.receipt.PayTo)
	resource := p.offerResource
	if resource == "" && p.ch.Resource != nil {
		resource = p.ch.Resource.URL
	}
	switch {
	case !strings.EqualFold(pl.Payer, p.receipt.Payer):
		return fmt.Sprintf("it names payer %s, not %s", clipReason(pl.Payer), p.receipt.Payer)
	case !x402.SameNetwork(pl.Network, p.receipt.Network):
		return fmt.Sprintf("it names network %s, not %s", clipReason(pl.Network), p.receipt.Network)
	case resource != "" && pl.ResourceURL != resource:
		return fmt.Sprintf("it names resource %s, not %s", clipReason(pl.ResourceURL), resource)
	case pl.Transaction != "" && s.Transaction != "" && !strings.EqualFold(pl.Transaction, s.Transaction):
		return fmt.Sprintf("it names transaction %s, not the settlement's %s", clipReason(pl.Transaction), s.Transaction)
	case !rec.SignerIsPayTo:
		return unauthorized
	}
	return ""
}

// artifacts is what the ledger records of p's signed offer and receipt: "" for none.
func (p *payment) artifacts() string {
	return ledger.Artifacts{Offer: p.offer, Receipt: p.receiptArt}.JSON()
}

// decodeSignature decodes an artifact's 0x-prefixed hex signature.
func decodeSignature(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, fmt.Errorf("not 0x-prefixed hex")
	}
	return hex.DecodeString(s[2:])
}

// offersExpire is the end of the second named by the earliest validUntil of ch's signed
// offers (an offer is valid while now.Unix() <= validUntil); zero when none has one.
func offersExpire(ch *x402.Challenge) time.Time {
	offers, err := ch.Offers()
	if err != nil {
		return time.Time{} // checkOffers refuses them
	}
	var first uint64
	for _, a := range offers {
		if pl, err := a.OfferPayload(); err == nil && pl.ValidUntil != 0 && (first == 0 || pl.ValidUntil < first) {
			first = pl.ValidUntil
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(int64(first)+1, 0).Add(-time.Nanosecond)
}

// termsRefusal is what refuses requirement o of ch beyond the policy's choice, as a paid
// call checks before signing (for Quote): its signed offer, or a payment identifier toll
// cannot send; nil when neither does.
func termsRefusal(ch *x402.Challenge, o x402.Option, now time.Time) *RefusedError {
	if _, _, refused := offerOf(ch, o, now); refused != nil {
		return refused
	}
	return unsendableIdentifier(ch, o)
}

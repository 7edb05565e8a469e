package tools

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tollhq/toll/tools/money"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrRefused: toll's policy refused to pay; nothing was signed. The error is a
	// *RefusedError that names the rule.
	ErrRefused = errors.New("payment refused by policy")
	// ErrNoAcceptableRequirement: no requirement of a 402 fits the policy. Wrapped by a
	// *RefusedError, so errors.Is(err, ErrRefused) holds as well.
	ErrNoAcceptableRequirement = errors.New("no acceptable payment requirement")
	// ErrInsecureHTTP: a paid operation would be sent over plain http to another machine
	// (RuleInsecureHTTP); nothing was sent. Wrapped by a *RefusedError.
	ErrInsecureHTTP = errors.New("payment over plain http refused")
	// ErrInvalidArguments: the tool arguments do not fit the operation's input schema,
	// or cannot be sent as its spec says; nothing was sent.
	ErrInvalidArguments = errors.New("invalid arguments")
	// ErrCannotEncode: the operation's spec asks for a parameter style or media type
	// toll cannot write (an application/xml body, deepObject in a path...); nothing was
	// sent or paid. It wraps ErrInvalidArguments.
	ErrCannotEncode = fmt.Errorf("%w: the spec asks for an encoding toll cannot write", ErrInvalidArguments)
	// ErrPaymentNotSettled: a payment was sent but the server did not prove settlement.
	// The spend counts against the caps until reconciled. Wrapped by *PaymentError.
	ErrPaymentNotSettled = errors.New("payment sent but not proven settled")
	// ErrUpstream: the API could not be reached or answered something toll cannot use.
	ErrUpstream = errors.New("upstream error")
	// ErrAssetNetworkNotAllowed: a Policy allows a token on a network it does not allow,
	// so the token could never be paid. Wrapped by *PolicyError.
	ErrAssetNetworkNotAllowed = errors.New("asset on a network that is not allowed")
	// ErrNoPayableAsset: a Policy allows a network where toll knows no USDC contract and
	// allows no other token, so nothing could ever be paid there. Wrapped by *PolicyError.
	ErrNoPayableAsset = errors.New("no payable asset on an allowed network")
	// ErrUnknownAgent: a Call names an agent the Policy does not have (or none, where the
	// Policy has agents); nothing was sent.
	ErrUnknownAgent = errors.New("unknown agent")
)

// PolicyError is a Policy that could never pay as configured; New refuses it. Its fields
// say what is wrong; the text that names flags or settings is the caller's to phrase.
type PolicyError struct {
	// Network is the network concerned, as the Policy writes it.
	Network string
	// Asset is the token address concerned (ErrAssetNetworkNotAllowed); "" otherwise.
	Asset string
	// Allowed are the Policy's networks, as it writes them.
	Allowed []string
	// Err is ErrAssetNetworkNotAllowed or ErrNoPayableAsset.
	Err error
}

func (e *PolicyError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	switch e.Err {
	case ErrAssetNetworkNotAllowed:
		return fmt.Sprintf("policy: asset %s is allowed on network %s, which is not an allowed network (allowed: %s); it could never be paid", e.Asset, e.Network, allowed)
	case ErrNoPayableAsset:
		return fmt.Sprintf("policy: network %s is allowed, but toll knows no USDC contract there and no other token is allowed on it; nothing could ever be paid there", e.Network)
	}
	return fmt.Sprintf("policy: network %s: %v", e.Network, e.Err)
}

func (e *PolicyError) Unwrap() error { return e.Err }

// Rule names what refused a payment.
type Rule string

// The rules of the policy: RuleInsecureHTTP before anything is sent, then the others in
// the order a requirement is weighed.
const (
	RuleInsecureHTTP    Rule = "plain http"            // a paid operation over plain http to another machine, not allowed by its API's config
	RuleMalformed       Rule = "malformed requirement" // a requirement toll cannot read or that asks for zero
	RuleScheme          Rule = "scheme"                // not the exact scheme
	RuleNetwork         Rule = "network allowlist"     // a network the user did not allow
	RuleAdvertisedPrice Rule = "advertised price"      // no price in the catalog, more than it, or another network
	RuleAsset           Rule = "asset allowlist"       // a token not allowed, or a known token with another EIP-712 domain
	RulePayTo           Rule = "payTo pinning"         // a recipient other than the catalog's pinned one
	RuleCap             Rule = "cap"                   // a spending cap; RefusedError.Cap says which
	RulePolicy          Rule = "policy"                // the requirements of one 402 were refused by several rules
)

// RefusedError is a payment toll refused to make. Nothing was signed. Its fields say what
// refused; the text for a person or a model (what the user can change, and how) is the
// caller's to phrase.
type RefusedError struct {
	Rule Rule
	// Cap is the cap that refused when Rule is RuleCap: ledger.CapPerCall,
	// CapPerSession, CapPerDay, CapTotal... Amount is what was asked, Limit the cap and
	// Used what counted against it before this call (zero for the per-call cap).
	Cap                 string
	Amount, Limit, Used money.Amount
	// Msg says what was refused and why, for people; it names no command or flag.
	Msg     string
	Reasons []string // one line per requirement that was weighed, when a 402 offered several
	Err     error    // the underlying cause (ErrNoAcceptableRequirement, ledger.ErrCapExceeded...)
}

// RuleName is the rule as people say it: "per-session cap", "network allowlist".
func (e *RefusedError) RuleName() string {
	if e.Rule == RuleCap && e.Cap != "" {
		return e.Cap + " cap"
	}
	return string(e.Rule)
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "payment refused (%s): %s", e.RuleName(), e.Msg)
	for _, r := range e.Reasons {
		b.WriteString("\n- ")
		b.WriteString(r)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRefused) true for every *RefusedError.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func (e *RefusedError) Unwrap() error { return e.Err }

// PaymentError is a payment that left toll but whose outcome is not a proven settlement.
// Receipt says what was authorized; it counts against the caps until reconciled against
// the chain. toll never pays a second time for the same call.
type PaymentError struct {
	Reason  string // what happened after the payment left toll, for people
	URL     string // where the paid request went
	Receipt *Receipt
	Err     error // ErrPaymentNotSettled
}

func (e *PaymentError) Error() string {
	return fmt.Sprintf("%s (%s); the signed %s counts as spent until reconciled against the chain, and toll does not pay twice for one call",
		e.Reason, e.URL, e.Receipt.Display)
}

func (e *PaymentError) Unwrap() error { return e.Err }

package tools

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrRefused: toll's policy refused to pay; nothing was signed. The error is a
	// *RefusedError that names the rule.
	ErrRefused = errors.New("payment refused by policy")
	// ErrNoAcceptableRequirement: no requirement of a 402 fits the policy. Wrapped by a
	// *RefusedError, so errors.Is(err, ErrRefused) holds as well.
	ErrNoAcceptableRequirement = errors.New("no acceptable payment requirement")
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
)

// RefusedError is a payment toll refused to make. Rule names what refused (for example
// "per-session cap", "network allowlist", "advertised price"); Msg says it for a person or
// a model, with what the user can change. Nothing was signed.
type RefusedError struct {
	Rule    string
	Msg     string
	Reasons []string // one line per requirement that was weighed, when a 402 offered several
	Err     error    // the underlying cause (ErrNoAcceptableRequirement, ledger.ErrCapExceeded...)
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	b.WriteString("payment refused (")
	b.WriteString(e.Rule)
	b.WriteString("): ")
	b.WriteString(e.Msg)
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
// Receipt says what was authorized; it counts against the caps until reconciled.
type PaymentError struct {
	Msg     string
	Receipt *Receipt
	Err     error
}

func (e *PaymentError) Error() string { return e.Msg }

func (e *PaymentError) Unwrap() error { return e.Err }

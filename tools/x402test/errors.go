package x402test

import (
	"errors"
	"strings"
)

// ErrClosed is returned by a Chain used after Close.
var ErrClosed = errors.New("x402test: chain closed")

// ErrBadRequest reports a facilitator request body that cannot be decoded; over HTTP it
// is a 400.
var ErrBadRequest = errors.New("malformed facilitator request")

// ErrTxFailed reports a transaction that was mined with status 0.
var ErrTxFailed = errors.New("transaction failed")

// RevertError is a contract call or transaction that the token reverted, with the revert
// string it gave (for example "FiatTokenV2: authorization is used or canceled").
type RevertError struct {
	Reason string // the Error(string) revert reason; empty when the token gave none
	Err    error  // the error from the node
}

func (e *RevertError) Error() string {
	if e.Reason == "" {
		return "execution reverted"
	}
	return "execution reverted: " + e.Reason
}

func (e *RevertError) Unwrap() error { return e.Err }

// revertCode maps a token revert string to the x402 error code a facilitator reports, as
// the reference facilitator does (https://github.com/x402-foundation/x402/blob/main/go/mechanisms/evm/exact/facilitator/eip3009.go),
// in the codes of the payment's version.
func revertCode(reason string, codes codeSet) string {
	switch {
	case strings.Contains(reason, "authorization is expired"):
		return codeValidBefore
	case strings.Contains(reason, "authorization is not yet valid"):
		return codeValidAfter
	case strings.Contains(reason, "authorization is used"), strings.Contains(reason, "AuthorizationUsedOrCanceled"):
		return codeNonceUsed
	case strings.Contains(reason, "transfer amount exceeds balance"):
		return codes.balance
	case strings.Contains(reason, "invalid signature"):
		return codes.signature
	default:
		return codeFailedToExecute
	}
}

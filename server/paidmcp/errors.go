package paidmcp

import "errors"

// ErrCut is what ServeStdio returns after Options.CutAfterSettle dropped the connection:
// the payment settled and its answer was never written. Resend the identical payment with
// its payment identifier on a new connection to get the kept answer.
var ErrCut = errors.New("paidmcp: connection cut after a settlement (Options.CutAfterSettle)")

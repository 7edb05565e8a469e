// Package reconcile resolves the spends whose outcome toll's ledger does not know
// (reserved or unknown) against the chain: where the ledger meets the chain. It reads the
// token's EIP-3009 state through wallet/onchain and writes outcomes to the ledger; it
// makes no HTTP call to any API and signs nothing.
//
// A used nonce means the payment settled; an unused nonce at a block whose time is past
// the authorization's validBefore (plus a margin) means it can never settle
// (https://eips.ethereum.org/EIPS/eip-3009). Anything else stays as it is.
//
//	rep, err := reconcile.Run(ctx, led, map[string]*onchain.Client{"8453": base}, reconcile.Options{})
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/money"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// DefaultMargin is Options.Margin when it is zero.
const DefaultMargin = time.Minute

// Options configures Run. The zero value is ready to use.
type Options struct {
	// Margin is how far the chain's latest block must be past a spend's validBefore
	// before an unused authorization is voided: a guard against a reorganization that
	// would bring back a block holding the settlement. Zero: DefaultMargin
	// (one minute: 30 blocks of Base, 5 of Ethereum). Negative is an error.
	Margin time.Duration
	// Logger receives a line per spend resolved and per RPC failure. Nil: silent.
	Logger *slog.Logger
}

// Report is what one Run did: one line per spend that was reserved or
// unknown when it began.
type Report struct {
	Checked int // spends found reserved or unknown
	Settled int // now settled: the authorization was used on chain
	Voided  int // now voided: unused, and the chain's time is past validBefore
	Kept    int // still reserved or unknown; each line says why
	// Elsewhere counts spends that another toll process (toll serve recording the
	// outcome, or another reconcile) resolved while this run was checking them.
	Elsewhere int
	Lines     []Line
}

// Line is the outcome for one spend.
type Line struct {
	CallID  string
	Tool    string
	Network string
	Amount  money.Amount
	From    ledger.Status
	To      ledger.Status // equal to From when the spend was kept
	TxHash  string        // the settling transaction, when found
	Note    string        // why it changed or why it stayed
	// Elsewhere: another process resolved the spend while this run checked it; To is
	// the status it gave.
	Elsewhere bool
	// NoEndpoint is the CAIP-2 id of the spend's chain when it was kept because no
	// client was given for that chain; "" otherwise.
	NoEndpoint string
}

// Run resolves the spends whose outcome the ledger does not know (reserved or
// unknown) against the chain, through chains: one client per chain, keyed by the chain id
// in decimal ("84532"). For each such spend, on the chain its Network names:
//
//   - the token's authorizationState(payer, nonce) is used: the payment settled. The
//     AuthorizationUsed event gives the transaction; the spend becomes settled with it.
//   - unused at a block whose time is at least validBefore + Margin: the authorization can
//     never settle (EIP-3009 requires block.timestamp < validBefore, and later blocks are
//     later). The spend is voided and no longer counts against the caps.
//   - otherwise it stays as it is, and its line says why: still valid, no client for its
//     chain, or an RPC failure.
//
// The block time is read before the nonce state, and the state is read at that very
// block, so no settlement can hide between the two reads.
//
// Run is idempotent: settled and voided are final, and a spend that stays is not
// written. It is safe while toll serve runs on the same ledger: a spend that another
// process resolves in the meantime is reported as such, not as an error. Before using a
// client, Run checks that it serves the chain id it is keyed by.
//
// The error joins every RPC and ledger failure; the report is complete either way (a
// spend whose check failed is kept, with the failure in its line).
func Run(ctx context.Context, led *ledger.Ledger, chains map[string]*onchain.Client, opts Options) (Report, error) {
	var rep Report
	if led == nil {
		return rep, errors.New("reconcile: no ledger")
	}
	margin := opts.Margin
	if margin < 0 {
		return rep, fmt.Errorf("reconcile: negative margin %v", margin)
	}
	if margin == 0 {
		margin = DefaultMargin
	}
	r := &reconciler{led: led, chains: chains, margin: margin, checked: map[string]error{}, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	spends, err := led.Spends(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	var errs []error
	for _, sp := range spends {
		if sp.Status != ledger.StatusReserved && sp.Status != ledger.StatusUnknown {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		line, err := r.spend(ctx, sp)
		if err != nil {
			errs = append(errs, fmt.Errorf("call %s: %w", sp.CallID, err))
		}
		rep.Checked++
		switch {
		case line.Elsewhere:
			rep.Elsewhere++
		case line.To == ledger.StatusSettled:
			rep.Settled++
		case line.To == ledger.StatusVoided:
			rep.Voided++
		case line.To == ledger.StatusReserved || line.To == ledger.StatusUnknown:
			rep.Kept++
		}
		rep.Lines = append(rep.Lines, line)
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("reconcile: %w", errors.Join(errs...))
	}
	return rep, nil
}

type reconciler struct {
	led     *ledger.Ledger
	chains  map[string]*onchain.Client
	margin  time.Duration
	checked map[string]error // chain id → result of the client's chain id check
	log     *slog.Logger
}

// spend reconciles one spend. The error is an RPC or ledger failure; the line says what
// happened in any case.
func (r *reconciler) spend(ctx context.Context, sp ledger.Spend) (Line, error) {
	line := Line{CallID: sp.CallID, Tool: sp.Tool, Network: sp.Network, Amount: sp.Amount, From: sp.Status, To: sp.Status}
	keep := func(format string, args ...any) (Line, error) {
		line.Note = fmt.Sprintf(format, args...)
		return line, nil
	}
	id, err := x402.ChainID(sp.Network)
	if err != nil {
		return keep("kept: network %q is not an EVM chain toll knows", sp.Network)
	}
	chain := "eip155:" + id.String()
	c := r.chains[id.String()]
	if c == nil {
		line.NoEndpoint = chain
		return keep("kept: no RPC endpoint for %s", chain)
	}
	if first, err := r.checkChain(ctx, id, c); err != nil {
		line.Note = "kept: " + err.Error()
		if !first {
			err = nil // reported once, with the first spend of that chain
		}
		return line, err
	}
	token, err1 := wallet.ParseAddress(sp.Asset)
	payer, err2 := wallet.ParseAddress(sp.Payer)
	nonce, err3 := wallet.ParseNonce(sp.Nonce)
	if err := errors.Join(err1, err2, err3); err != nil {
		return keep("kept: the ledger entry cannot be checked on chain: %v", err)
	}

	// The block first, then the nonce state at that block: an unused nonce at a block
	// past validBefore stays unused on that chain.
	head, err := c.Head(ctx)
	if err != nil {
		line.Note = "kept: " + err.Error()
		r.log.Warn("reconcile: rpc failed", "call", sp.CallID, "err", err)
		return line, err
	}
	used, err := c.AuthorizationStateAt(ctx, token, payer, nonce, head.Hash)
	if err != nil {
		line.Note = "kept: " + err.Error()
		r.log.Warn("reconcile: rpc failed", "call", sp.CallID, "err", err)
		return line, err
	}
	if used {
		tx, found, err := c.FindAuthorization(ctx, token, payer, nonce)
		if err != nil {
			// Settled for sure, but settle it with its transaction on the next run.
			line.Note = "kept: the authorization is used on chain, but finding its transaction failed: " + err.Error()
			r.log.Warn("reconcile: rpc failed", "call", sp.CallID, "err", err)
			return line, err
		}
		note := fmt.Sprintf("authorization used on %s (block %d or before)", chain, head.Number)
		if !found {
			note = fmt.Sprintf("authorization used on %s (as of block %d), but no AuthorizationUsed event in the last %d blocks: settled without a transaction hash (or canceled by the payer's key)",
				chain, head.Number, onchain.SearchBlocks)
		}
		return r.transition(ctx, line, ledger.StatusSettled, tx, note)
	}
	deadline := sp.ValidBefore.Add(r.margin)
	if head.Time.Before(deadline) {
		return keep("kept: authorization unused on %s as of block %d (%s); it can still settle until validBefore %s, and is voided once the chain's time passes %s",
			chain, head.Number, stamp(head.Time), stamp(sp.ValidBefore), stamp(deadline))
	}
	reason := fmt.Sprintf("authorization unused on %s at block %d (%s), past validBefore %s: it can never settle",
		chain, head.Number, stamp(head.Time), stamp(sp.ValidBefore))
	return r.transition(ctx, line, ledger.StatusVoided, "", reason)
}

// transition settles or voids the spend. When another process resolved it in the
// meantime, the line reports its status now and there is no error.
func (r *reconciler) transition(ctx context.Context, line Line, to ledger.Status, tx, note string) (Line, error) {
	var err error
	if to == ledger.StatusSettled {
		err = r.led.Settle(ctx, line.CallID, tx)
	} else {
		err = r.led.Void(ctx, line.CallID, note)
	}
	if errors.Is(err, ledger.ErrBadTransition) {
		if now, serr := r.led.Spend(ctx, line.CallID); serr == nil && now.Status.Final() {
			line.To, line.TxHash, line.Elsewhere = now.Status, now.TxHash, true
			line.Note = fmt.Sprintf("meanwhile %s by another toll process (the chain says: %s)", now.Status, note)
			return line, nil
		}
	}
	if err != nil {
		line.Note = "kept: " + note + "; but the ledger write failed: " + err.Error()
		return line, err
	}
	line.To, line.TxHash, line.Note = to, tx, note
	r.log.Info("reconciled", "call", line.CallID, "from", line.From, "to", to, "tx", tx, "amount", line.Amount)
	return line, nil
}

// checkChain makes sure the client keyed by id serves chain id: settling or voiding by
// another chain's state would be wrong. It asks once per run; first is true on that
// first ask.
func (r *reconciler) checkChain(ctx context.Context, id *big.Int, c *onchain.Client) (first bool, err error) {
	key := id.String()
	if err, ok := r.checked[key]; ok {
		return false, err
	}
	got, err := c.ChainID(ctx)
	if err == nil && got.Cmp(id) != 0 {
		err = fmt.Errorf("the RPC endpoint %s serves chain eip155:%s, not eip155:%s", c.URL(), got, id)
	}
	r.checked[key] = err
	return true, err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

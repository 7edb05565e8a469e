package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// Completeness against the chain. The ledger's hash chain and signed heads prove that
// what it holds was not changed; they cannot prove that nothing was left out or made up.
// The chain can: every payment toll makes uses one EIP-3009 authorization of the payer,
// and the token logs AuthorizationUsed(payer, nonce) when it settles
// (https://eips.ethereum.org/EIPS/eip-3009). Audit lists those events for each payer and
// token of each chain and holds them against the ledger, both ways:
//
//   - every authorization the payer used on chain is a spend of the ledger (a deleted
//     spend cannot hide);
//   - every spend the ledger calls settled used its authorization on chain, in the
//     transaction it names, which moved exactly its amount from the payer to its payTo
//     (a forged or edited settled spend cannot hide).

// AuditOptions configures Audit. The zero value is ready to use.
type AuditOptions struct {
	// FromBlock is the first block searched, by chain id; a chain not named here is
	// searched from the block an hour before the ledger's first spend on it.
	FromBlock map[string]uint64
	// Payers are addresses whose authorizations are searched besides the payers the
	// ledger names (the wallet serve pays from: a ledger emptied of its spends names none).
	Payers []wallet.Address
	// Tokens are token addresses searched besides those the ledger's spends name, by
	// chain id (each chain's USDC: a token whose every spend was deleted is still read).
	Tokens map[string][]wallet.Address
}

// Finding is one disagreement between the ledger and the chain.
type Finding struct {
	CallID string // the ledger's spend, "" when the ledger has none
	Nonce  string
	TxHash string
	Block  uint64
	Detail string
}

// ChainAudit is what Audit found on one chain.
type ChainAudit struct {
	ChainID  string // decimal
	From, To uint64 // blocks searched
	Payers   []string
	Tokens   []string
	Used     int // authorizations used on chain, found in the range
	Matched  int // used on chain and settled in the ledger, as the chain says
	Pending  int // used on chain, reserved or unknown in the ledger: run reconcile
	// Missing: used on chain, not in the ledger. Mismatched: in both, but not as the
	// chain says. Unsettled: settled in the ledger, not used on chain.
	Missing, Mismatched, Unsettled []Finding
}

// Clean reports whether the chain and the ledger agree.
func (a *ChainAudit) Clean() bool {
	return len(a.Missing)+len(a.Mismatched)+len(a.Unsettled) == 0
}

// Audit holds the ledger against each chain of chains (keyed by chain id in decimal).
// It reads the ledger and the chains, and writes nothing.
func Audit(ctx context.Context, led *ledger.Ledger, chains map[string]*onchain.Client, opts AuditOptions) ([]ChainAudit, error) {
	spends, err := led.Spends(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []ChainAudit
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(chains)) {
		a, err := auditChain(ctx, chains[id], id, spendsOn(spends, id), opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("chain eip155:%s: %w", id, err))
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

// spendsOn returns the spends whose network is chain id.
func spendsOn(spends []ledger.Spend, id string) []ledger.Spend {
	var out []ledger.Spend
	for _, sp := range spends {
		if cid, err := x402.ChainID(sp.Network); err == nil && cid.String() == id {
			out = append(out, sp)
		}
	}
	return out
}

// spendKey identifies an authorization: payer and nonce, lower case.
func spendKey(payer, nonce string) string {
	return strings.ToLower(payer) + "/" + strings.ToLower(nonce)
}

func auditChain(ctx context.Context, c *onchain.Client, id string, spends []ledger.Spend, opts AuditOptions) (ChainAudit, error) {
	a := ChainAudit{ChainID: id}
	if got, err := c.ChainID(ctx); err != nil {
		return a, err
	} else if got.String() != id {
		return a, fmt.Errorf("the RPC endpoint %s serves chain eip155:%s", c.URL(), got)
	}
	payers, tokens := auditScope(spends, opts, id)
	for _, p := range payers {
		a.Payers = append(a.Payers, p.Hex())
	}
	for _, t := range tokens {
		a.Tokens = append(a.Tokens, t.Hex())
	}
	from, err := fromBlock(ctx, c, id, spends, opts)
	if err != nil {
		return a, err
	}
	a.From = from
	byKey := map[string]*ledger.Spend{}
	for i := range spends {
		byKey[spendKey(spends[i].Payer, spends[i].Nonce)] = &spends[i]
	}
	seen := map[string]bool{}
	for _, payer := range payers {
		for _, token := range tokens {
			used, to, err := c.AuthorizationsUsed(ctx, token, payer, from, a.To)
			if err != nil {
				return a, err
			}
			a.To = to // the first read fixes the head; the others read up to it
			for _, u := range used {
				a.Used++
				key := spendKey(payer.Hex(), fmt.Sprintf("0x%x", u.Nonce))
				seen[key] = true
				if err := a.holdUsed(ctx, c, u, payer, byKey[key]); err != nil {
					return a, err
				}
			}
		}
	}
	return a, a.holdSettled(ctx, c, spends, seen)
}

// auditScope is who and what to search: the ledger's payers and tokens on the chain,
// and those of opts.
func auditScope(spends []ledger.Spend, opts AuditOptions, id string) (payers, tokens []wallet.Address) {
	add := func(list []wallet.Address, a wallet.Address) []wallet.Address {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
		return list
	}
	for _, sp := range spends {
		if p, err := wallet.ParseAddress(sp.Payer); err == nil {
			payers = add(payers, p)
		}
		if t, err := wallet.ParseAddress(sp.Asset); err == nil {
			tokens = add(tokens, t)
		}
	}
	for _, p := range opts.Payers {
		payers = add(payers, p)
	}
	for _, t := range opts.Tokens[id] {
		tokens = add(tokens, t)
	}
	return payers, tokens
}

// fromBlock is where the search starts: opts' block, else an hour before the first
// spend's reservation, else (no spend) the head.
func fromBlock(ctx context.Context, c *onchain.Client, id string, spends []ledger.Spend, opts AuditOptions) (uint64, error) {
	if b, ok := opts.FromBlock[id]; ok {
		return b, nil
	}
	first := time.Time{}
	for _, sp := range spends {
		if first.IsZero() || sp.ReservedAt.Before(first) {
			first = sp.ReservedAt
		}
	}
	if first.IsZero() {
		head, err := c.Head(ctx)
		return head.Number, err
	}
	return c.BlockAt(ctx, first.Add(-time.Hour))
}

// holdUsed holds one authorization used on chain against the ledger's spend of it.
func (a *ChainAudit) holdUsed(ctx context.Context, c *onchain.Client, u onchain.UsedAuthorization, payer wallet.Address, sp *ledger.Spend) error {
	f := Finding{Nonce: fmt.Sprintf("0x%x", u.Nonce), TxHash: u.TxHash, Block: u.Block}
	if sp == nil {
		f.Detail = fmt.Sprintf("%s used this authorization of %s on chain; the ledger has no spend of it", u.TxHash, payer.Hex())
		a.Missing = append(a.Missing, f)
		return nil
	}
	f.CallID = sp.CallID
	switch sp.Status {
	case ledger.StatusReserved, ledger.StatusUnknown:
		a.Pending++
		return nil
	case ledger.StatusReleased, ledger.StatusVoided:
		f.Detail = fmt.Sprintf("the ledger says %s, but %s settled it on chain", sp.Status, u.TxHash)
		a.Mismatched = append(a.Mismatched, f)
		return nil
	}
	if sp.TxHash != "" && !strings.EqualFold(sp.TxHash, u.TxHash) {
		f.Detail = fmt.Sprintf("the ledger names transaction %s, the chain %s", sp.TxHash, u.TxHash)
		a.Mismatched = append(a.Mismatched, f)
		return nil
	}
	detail, err := transferMismatch(ctx, c, u, payer, sp)
	if err != nil {
		return err
	}
	if detail != "" {
		f.Detail = detail
		a.Mismatched = append(a.Mismatched, f)
		return nil
	}
	a.Matched++
	return nil
}

// transferMismatch says how the transaction that used u differs from the spend: it must
// have succeeded and moved exactly the spend's amount of u's token from payer to payTo.
func transferMismatch(ctx context.Context, c *onchain.Client, u onchain.UsedAuthorization, payer wallet.Address, sp *ledger.Spend) (string, error) {
	p, found, err := c.PaymentIn(ctx, u.TxHash)
	if err != nil || !found {
		return "transaction not found on chain", err
	}
	payTo, err := wallet.ParseAddress(sp.PayTo)
	if err != nil {
		return fmt.Sprintf("the ledger's payTo %q is not an address", sp.PayTo), nil
	}
	want := sp.Amount.Atomic()
	var seen []string
	for _, t := range p.Transfers {
		if t.Token == u.Token && t.From == payer {
			if t.To == payTo && t.Value.Cmp(want) == 0 {
				return "", nil
			}
			seen = append(seen, fmt.Sprintf("%s to %s", t.Value, t.To.Hex()))
		}
	}
	return fmt.Sprintf("the ledger says %s to %s; the transaction moved %s", want, payTo.Hex(), orNothing(seen)), nil
}

func orNothing(list []string) string {
	if len(list) == 0 {
		return "nothing from the payer"
	}
	return strings.Join(list, ", ")
}

// holdSettled finds the settled spends whose authorization was not seen used in the
// range: each is checked directly (authorizationState), so a spend from before the
// range is not reported when its nonce is used.
func (a *ChainAudit) holdSettled(ctx context.Context, c *onchain.Client, spends []ledger.Spend, seen map[string]bool) error {
	for _, sp := range spends {
		if sp.Status != ledger.StatusSettled || seen[spendKey(sp.Payer, sp.Nonce)] {
			continue
		}
		token, err1 := wallet.ParseAddress(sp.Asset)
		payer, err2 := wallet.ParseAddress(sp.Payer)
		nonce, err3 := wallet.ParseNonce(sp.Nonce)
		f := Finding{CallID: sp.CallID, Nonce: sp.Nonce, TxHash: sp.TxHash}
		if err := errors.Join(err1, err2, err3); err != nil {
			f.Detail = "the ledger entry cannot be checked on chain: " + err.Error()
			a.Unsettled = append(a.Unsettled, f)
			continue
		}
		used, err := c.AuthorizationState(ctx, token, payer, nonce)
		if err != nil {
			return err
		}
		if !used {
			f.Detail = "the ledger says settled; the authorization was never used on chain"
			a.Unsettled = append(a.Unsettled, f)
		}
	}
	return nil
}

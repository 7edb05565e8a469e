package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollhq/toll/ledger"
	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
)

// proofFlags are toll ledger verify's checks beyond the file's own chain: the signed
// heads against the payer's address, a head kept elsewhere, and the chain itself.
type proofFlags struct {
	expectHead string
	payer      string
	rpcs       listFlag
	fromBlock  string
}

func (p *proofFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.expectHead, "expect-head", "", "a last hash printed by an earlier verify (kept elsewhere): it must still be an event of the chain")
	fs.StringVar(&p.payer, "payer", "", "the payer's address: every signed head must be signed by it")
	fs.Var(&p.rpcs, "rpc", "hold the ledger against this chain, as NETWORK=URL: every payment the payer made there is in the ledger, every settled entry is on chain; repeatable (rpc: in toll.yaml is not used unless --rpc is given)")
	fs.StringVar(&p.fromBlock, "from-block", "", "with --rpc: the first block searched (default: an hour before the ledger's first payment on that chain)")
}

// errProof marks a proof that failed: the file's chain is whole, but it is not what the
// signatures, the kept head or the chain say. Exit 1.
var errProof = errors.New("the ledger does not hold up")

// recoverHead is the ledger's RecoverFunc: the EIP-191 signer of a signed head.
func recoverHead(text, sig []byte) (string, error) {
	a, err := wallet.RecoverMessage(text, sig)
	return a.Hex(), err
}

// check validates the flags before anything is read.
func (p *proofFlags) check() (payer wallet.Address, err error) {
	if p.payer != "" {
		if payer, err = wallet.ParseAddress(p.payer); err != nil {
			return payer, usagef("--payer %q: %v (the 0x address that pays, from toll wallet address)", p.payer, err)
		}
	}
	if h := strings.TrimPrefix(p.expectHead, "0x"); p.expectHead != "" && (len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "") {
		return payer, usagef("--expect-head %q: a last hash is 64 hex digits, as toll ledger verify prints it", p.expectHead)
	}
	if p.fromBlock != "" {
		if len(p.rpcs) == 0 {
			return payer, usagef("--from-block goes with --rpc: it is where the search of the chain starts")
		}
		if _, err := strconv.ParseUint(p.fromBlock, 10, 64); err != nil {
			return payer, usagef("--from-block %q: a block number", p.fromBlock)
		}
	}
	return payer, nil
}

// signedHeads prints what the signed heads prove, and fails when one is signed by
// another than the payer.
func (p *proofFlags) signedHeads(w io.Writer, rep ledger.Report, payer wallet.Address) error {
	if rep.SignedHeads == 0 {
		fmt.Fprintln(w, "no signed heads: nothing proves the entries were not rewritten (toll serve signs one after each payment settles)")
		if p.payer != "" && rep.UnsignedSettled > 0 {
			return fmt.Errorf("%w: %d settlements and no head signed by the payer %s: toll serve signs one after each settlement, so these entries were written without the payer's key", errProof, rep.UnsignedSettled, payer.Hex())
		}
		return nil
	}
	fmt.Fprintf(w, "%d signed heads, the last covering event %d, signed by %s\n", rep.SignedHeads, rep.LastSigned, strings.Join(rep.Signers, ", "))
	if rep.UnsignedSettled > 0 {
		fmt.Fprintf(w, "%d settlements after the last signed head (toll stopped before signing, or entries were cut and rewritten)\n", rep.UnsignedSettled)
	}
	switch {
	case p.payer == "" && len(rep.Signers) == 1:
		fmt.Fprintf(w, "check that %s is your payer's address (--payer makes this a check)\n", rep.Signers[0])
	case p.payer == "":
		fmt.Fprintln(w, "several signers: give --payer to say which is yours")
	default:
		if rep.UnsignedSettled > 0 {
			return fmt.Errorf("%w: %d settlements after the last head the payer signed (toll serve signs one in the same write as each settlement)", errProof, rep.UnsignedSettled)
		}
		for _, s := range rep.Signers {
			if !strings.EqualFold(s, payer.Hex()) {
				return fmt.Errorf("%w: a head is signed by %s, not by the payer %s: the entries it covers were rewritten by someone without the payer's key", errProof, s, payer.Hex())
			}
		}
		fmt.Fprintf(w, "every signed head is the payer's (%s): no entry up to event %d was changed\n", payer.Hex(), rep.LastSigned)
	}
	return nil
}

// keptHash is the hash of --expect-head as the ledger writes hashes (lower-case hex, no
// 0x), or none.
func (p *proofFlags) keptHash() []string {
	if p.expectHead == "" {
		return nil
	}
	return []string{strings.ToLower(strings.TrimPrefix(p.expectHead, "0x"))}
}

// keptHead checks that the head kept elsewhere is still an event of the chain, from the
// verify report that looked for it (VerifyReport with keptHash).
func (p *proofFlags) keptHead(w io.Writer, rep ledger.Report) error {
	for _, want := range p.keptHash() {
		at, ok := rep.Found[want]
		if !ok {
			return fmt.Errorf("%w: the head you kept (%s) is not in the chain: entries were cut from the end or rewritten since", errProof, want)
		}
		fmt.Fprintf(w, "the head you kept is event %d of the chain: nothing up to it was cut or changed\n", at)
	}
	return nil
}

// audit holds the ledger against each chain of --rpc.
func (p *proofFlags) audit(ctx context.Context, w io.Writer, led *ledger.Ledger, payer wallet.Address) error {
	if len(p.rpcs) == 0 {
		return nil
	}
	eps, err := parseEndpoints(p.rpcs)
	if err != nil {
		return err
	}
	chains, err := dialChains(ctx, eps)
	defer closeChains(chains)
	if err != nil {
		return err
	}
	opts := reconcile.AuditOptions{FromBlock: map[string]uint64{}, Tokens: map[string][]wallet.Address{}}
	if payer != (wallet.Address{}) {
		opts.Payers = []wallet.Address{payer}
	}
	for _, e := range eps {
		if p.fromBlock != "" {
			opts.FromBlock[e.chainID], _ = strconv.ParseUint(p.fromBlock, 10, 64)
		}
		if id, err := strconv.ParseInt(e.chainID, 10, 64); err == nil {
			if usdc, ok := x402.USDC(id); ok {
				a, _ := wallet.ParseAddress(usdc.Address)
				opts.Tokens[e.chainID] = []wallet.Address{a}
			}
		}
	}
	audits, err := reconcile.Audit(ctx, led, chains, opts)
	if err != nil {
		return err
	}
	clean := true
	for _, a := range audits {
		clean = writeAudit(w, a) && clean
	}
	if !clean {
		return fmt.Errorf("%w: the chain and the ledger disagree (above)", errProof)
	}
	return nil
}

// writeAudit prints one chain's audit; it returns whether the chain and the ledger agree.
func writeAudit(w io.Writer, a reconcile.ChainAudit) bool {
	fmt.Fprintf(w, "chain eip155:%s, blocks %d-%d, payers %s: %d payments on chain, %d settled in the ledger as the chain says, %d not yet reconciled\n",
		a.ChainID, a.From, a.To, orNone(a.Payers), a.Used, a.Matched, a.Pending)
	for _, f := range a.Missing {
		fmt.Fprintf(w, "  missing from the ledger: %s\n", f.Detail)
	}
	for _, f := range a.Mismatched {
		fmt.Fprintf(w, "  %s: %s\n", f.CallID, f.Detail)
	}
	for _, f := range a.Unsettled {
		fmt.Fprintf(w, "  %s: %s\n", f.CallID, f.Detail)
	}
	if a.Pending > 0 {
		fmt.Fprintln(w, "  run toll ledger reconcile to record the payments not yet reconciled")
	}
	return a.Clean()
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none (give --payer)"
	}
	return strings.Join(list, ", ")
}

// headSigner signs the ledger's heads with the payer's wallet (ledger.Options.Signer).
type headSigner struct{ w *wallet.Wallet }

func (h headSigner) SignerAddress() string                { return h.w.Address().Hex() }
func (h headSigner) SignHead(text []byte) ([]byte, error) { return h.w.SignLedgerHead(text) }

// signHeadAtStop signs the ledger's head when serve stops, so that what was recorded since
// the last settlement (refusals, approvals, reservations) is covered too.
func signHeadAtStop(led *ledger.Ledger, log interface{ Warn(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := led.SignHead(ctx); err != nil {
		log.Warn("the ledger's head was not signed at stop; the next settlement signs it", "err", err)
	}
}

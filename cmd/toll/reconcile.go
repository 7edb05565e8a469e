package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet/onchain"
)

// rpcFlag collects repeatable --rpc NETWORK=URL values. Unlike listFlag it does not split
// on commas, which a URL may hold.
type rpcFlag []string

func (r *rpcFlag) String() string     { return strings.Join(*r, " ") }
func (r *rpcFlag) Set(s string) error { *r = append(*r, strings.TrimSpace(s)); return nil }

// runReconcile is "toll ledger reconcile".
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("toll ledger reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rpcs rpcFlag
	path := fs.String("ledger", "", "ledger file (default $TOLL_LEDGER, else toll/ledger.db in the user config dir)")
	margin := fs.Duration("margin", reconcile.DefaultMargin, "how far the chain's time must be past an authorization's validBefore before an unused one is voided")
	format := fs.String("format", "table", "table or json")
	fs.Var(&rpcs, "rpc", "JSON-RPC endpoint of a chain, as NETWORK=URL (eip155:8453=https://…, or base=…); repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: toll ledger reconcile --rpc NETWORK=URL ... [--ledger FILE] [--margin 1m] [--format table|json]

Resolve the spends whose outcome toll does not know (reserved or unknown) against the chain:
the token's authorizationState(payer, nonce) and its AuthorizationUsed events.
  used                             -> settled, with the transaction hash
  unused, chain time > validBefore -> voided: released from the caps
  otherwise                        -> left as it is; the report says why
Safe to run while toll serve runs on the same ledger, and as often as you like.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("toll ledger reconcile takes no arguments (got %q); give endpoints with --rpc NETWORK=URL", fs.Arg(0))
	}
	if len(rpcs) == 0 {
		return usagef("toll ledger reconcile needs the chain's JSON-RPC endpoint: --rpc NETWORK=URL (e.g. --rpc eip155:8453=https://mainnet.base.org)")
	}
	if *margin <= 0 {
		return usagef("--margin %s: must be positive", *margin)
	}
	if *format != "table" && *format != "json" {
		return usagef("--format %q: want table or json", *format)
	}
	chains, err := dialChains(ctx, rpcs)
	defer closeChains(chains)
	if err != nil {
		return err
	}
	led, p, err := openLedger(*path, getenv)
	if err != nil {
		return err
	}
	defer led.Close()
	rep, rerr := reconcile.Run(ctx, led, chains, reconcile.Options{Margin: *margin})
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := writeReconcileTable(stdout, p, rep); err != nil {
		return err
	}
	if rerr != nil {
		return fmt.Errorf("%w\nThe spends above that stayed were not changed; fix the endpoint and run toll ledger reconcile again", rerr)
	}
	return nil
}

// writeReconcileTable prints a reconcile report for people.
func writeReconcileTable(w io.Writer, path string, rep reconcile.Report) error {
	if rep.Checked == 0 {
		_, err := fmt.Fprintf(w, "ledger %s: nothing to reconcile, no spend is reserved or unknown\n", path)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tTOOL\tAMOUNT (USDC)\tNETWORK\tWAS\tNOW\tTRANSACTION\tWHY")
	for _, l := range rep.Lines {
		tx := l.TxHash
		if tx == "" {
			tx = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.CallID, l.Tool, l.Amount,
			l.Network, l.From, l.To, tx, l.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d checked: %d settled, %d voided, %d still unresolved%s\n", rep.Checked, rep.Settled, rep.Voided, rep.Kept,
		elsewhere(rep.Elsewhere))
	return err
}

func elsewhere(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d resolved meanwhile by another toll process", n)
}

// dialChains connects to the --rpc NETWORK=URL endpoints, keyed by chain id. The caller
// closes what it returns, even with an error.
func dialChains(ctx context.Context, rpcs []string) (map[string]*onchain.Client, error) {
	chains := map[string]*onchain.Client{}
	for _, r := range rpcs {
		network, url, ok := strings.Cut(r, "=")
		if !ok || network == "" || url == "" {
			return chains, usagef("--rpc %q: want NETWORK=URL, e.g. eip155:8453=https://mainnet.base.org", onchain.Redact(r))
		}
		id, err := x402.ChainID(network)
		if err != nil {
			return chains, usagef("--rpc: %v", err)
		}
		if _, dup := chains[id.String()]; dup {
			return chains, usagef("--rpc: two endpoints for eip155:%s; give one", id)
		}
		c, err := onchain.Dial(ctx, url)
		if err != nil {
			return chains, err
		}
		chains[id.String()] = c
	}
	return chains, nil
}

func closeChains(chains map[string]*onchain.Client) {
	for _, c := range chains {
		c.Close()
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	neturl "net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/ledger/reconcile"
	"github.com/tollhq/toll/tools/x402"
	"github.com/tollhq/toll/wallet"
	"github.com/tollhq/toll/wallet/onchain"
)

// reconcileCmd is "toll ledger reconcile".
type reconcileCmd struct {
	ledgerFlags
	rpcs   repeated
	margin duration
	format *format
}

func (a *app) reconcileCommand() *cobra.Command {
	r := &reconcileCmd{ledgerFlags: ledgerFlags{app: a}, margin: duration(reconcile.DefaultMargin), format: textOrJSON()}
	c := &cobra.Command{
		Use:   "reconcile --rpc NETWORK=URL ... [flags]",
		Short: "resolve the spends whose outcome is unknown against the chain",
		Long: `Resolve the spends whose outcome toll does not know (reserved or unknown) against the chain:
the token's authorizationState(payer, nonce) and its AuthorizationUsed events.
  used                             -> settled, with the transaction hash
  unused, chain time > validBefore -> voided: released from the caps
  otherwise                        -> left as it is; the report says why
Safe to run while toll serve runs on the same ledger, and as often as you like.`,
		Example: "  toll ledger reconcile --rpc eip155:8453=https://mainnet.base.org",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return r.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.Var(&r.rpcs, "rpc", "JSON-RPC endpoint of a chain, as NETWORK=URL (eip155:8453=https://…, or base=…); repeatable; wins over rpc: in toll.yaml")
	r.ledgerFlags.register(fs)
	fs.Var(&r.margin, "margin", "how far the chain's time must be past an authorization's validBefore before an unused one is voided (0: the default)")
	fs.Var(r.format, "format", "text: a table for people; json: the report")
	return c
}

func (r *reconcileCmd) run(ctx context.Context) error {
	var cfg *fileConfig
	if path := r.env.configPath(r.config); path != "" {
		var err error
		if cfg, err = loadConfig(path); err != nil {
			return err
		}
	}
	eps, err := chainEndpoints(cfg, r.rpcs)
	if err != nil {
		return err
	}
	if len(eps) == 0 {
		return usagef("toll ledger reconcile needs the chain's JSON-RPC endpoint: --rpc NETWORK=URL (e.g. --rpc eip155:8453=https://mainnet.base.org), or rpc: in toll.yaml (--config)")
	}
	led, p, err := r.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	chains, err := dialChains(ctx, eps)
	defer closeChains(chains)
	if err != nil {
		return err
	}
	rep, rerr := reconcile.Run(ctx, led, chains, reconcile.Options{Margin: time.Duration(r.margin)})
	if r.format.value == "json" {
		err = writeJSON(r.stdout, rep)
	} else {
		err = writeReconcileTable(r.stdout, p, rep)
	}
	if err != nil {
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.CallID, l.Tool, l.Amount,
			l.Network, l.From, l.To, first(l.TxHash, "-"), l.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d checked: %d settled, %d voided, %d still unresolved%s\n", rep.Checked, rep.Settled, rep.Voided, rep.Kept,
		elsewhere(rep.Elsewhere))
	if err != nil {
		return err
	}
	return missingEndpoints(w, rep)
}

// missingEndpoints tells how to check the spends kept for want of a chain endpoint.
func missingEndpoints(w io.Writer, rep reconcile.Report) error {
	var chains []string
	for _, l := range rep.Lines {
		if l.NoEndpoint != "" && !slices.Contains(chains, l.NoEndpoint) {
			chains = append(chains, l.NoEndpoint)
		}
	}
	for _, c := range chains {
		if _, err := fmt.Fprintf(w, "To check the spends on %s, run again with --rpc %s=URL (a JSON-RPC endpoint of that chain).\n", c, c); err != nil {
			return err
		}
	}
	return nil
}

func elsewhere(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d resolved meanwhile by another toll process", n)
}

// endpoint is a chain's JSON-RPC endpoint, from --rpc NETWORK=URL.
type endpoint struct {
	chainID string // decimal
	url     string
}

// parseEndpoints reads the --rpc values: each NETWORK=URL, with a network toll knows and
// a URL dialChains can dial, or a usage error naming the value and the fix. Its errors
// show a value only as shownRPC does: a URL's path may hold an API key.
func parseEndpoints(rpcs []string) ([]endpoint, error) {
	var eps []endpoint
	seen := map[string]bool{}
	for _, r := range rpcs {
		network, url, ok := strings.Cut(r, "=")
		if !ok || network == "" || url == "" || strings.Contains(network, "://") { // an = in a URL's query
			return nil, rpcShapeError(r)
		}
		id, err := x402.ChainID(network)
		if err != nil {
			return nil, usagef("--rpc: unknown network %s; want a CAIP-2 id such as eip155:8453 or a v1 name such as base", shownRPC(network))
		}
		if !dialable(url) {
			return nil, usagef("--rpc %s=%s: not a JSON-RPC endpoint; want an http, https, ws or wss URL (e.g. %s=https://mainnet.base.org) or the path of an IPC socket",
				network, shownRPC(url), network)
		}
		if seen[id.String()] {
			return nil, usagef("--rpc: two endpoints for eip155:%s; give one", id)
		}
		seen[id.String()] = true
		eps = append(eps, endpoint{chainID: id.String(), url: url})
	}
	return eps, nil
}

// rpcShapeError is the error for an --rpc value that is not NETWORK=URL.
func rpcShapeError(r string) error {
	const example = "e.g. --rpc eip155:8453=https://mainnet.base.org"
	network, _, _ := strings.Cut(r, "=")
	switch {
	case r == "":
		return usagef("--rpc is empty: want NETWORK=URL, %s", example)
	case dialable(r):
		return usagef("--rpc %s names no network: want NETWORK=URL, %s", shownRPC(r), example)
	case network != "" && isNetwork(network):
		return usagef("--rpc %s names no URL: want %s=URL, %s", shownRPC(r), network, example)
	}
	return usagef("--rpc %s: want NETWORK=URL, %s", shownRPC(r), example)
}

func isNetwork(s string) bool {
	_, err := x402.ChainID(s)
	return err == nil
}

// dialable reports whether onchain.Dial can take u: an http, https, ws or wss URL with a
// host, or an IPC socket path (absolute, or ending in .ipc).
func dialable(u string) bool {
	if !strings.Contains(u, "://") {
		return strings.HasPrefix(u, "/") || strings.HasSuffix(u, ".ipc")
	}
	parsed, err := neturl.Parse(u)
	if err != nil || parsed.Host == "" {
		return false
	}
	switch parsed.Scheme {
	case "http", "https", "ws", "wss":
		return true
	}
	return false
}

// shownRPC is an --rpc value, or a part of one, as an error may show it: a URL by its
// scheme and host (its path or query may hold an API key), nothing of a value that looks
// like a private key or an API key, and anything else as given.
func shownRPC(v string) string {
	switch {
	case wallet.LooksLikeKey(v):
		return "(a value that looks like a private key, not shown)"
	case strings.Contains(v, "://"):
		return onchain.Redact(v)
	case looksLikeToken(v):
		return fmt.Sprintf("(a %d-character value, not shown: it may be an API key)", len(v))
	}
	return v
}

// looksLikeToken reports whether s may be an API key: one word of 20 characters or more
// that mixes letters and digits.
func looksLikeToken(s string) bool {
	if len(s) < 20 {
		return false
	}
	var letters, digits bool
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letters = true
		case r != '-' && r != '_':
			return false
		}
	}
	return letters && digits
}

// dialChains connects to the endpoints, keyed by chain id. The caller closes what it
// returns, even with an error.
func dialChains(ctx context.Context, eps []endpoint) (map[string]*onchain.Client, error) {
	chains := map[string]*onchain.Client{}
	for _, e := range eps {
		c, err := onchain.Dial(ctx, e.url)
		if err != nil {
			return chains, err
		}
		chains[e.chainID] = c
	}
	return chains, nil
}

func closeChains(chains map[string]*onchain.Client) {
	for _, c := range chains {
		c.Close()
	}
}

// writeJSON writes v as indented JSON: the json of every --format.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tollhq/toll/ledger"
)

const ledgerUsage = `Usage:
  toll ledger list   [--ledger FILE] [--format table|json]   every paid or reserved call, with its status
  toll ledger verify [--ledger FILE]                         check the hash chain: no entry edited or removed
  toll ledger export [--ledger FILE] [--format csv|jsonl]    every spend, for auditors
  toll ledger reconcile --rpc NETWORK=URL ... [--ledger FILE] resolve unknown spends against the chain
`

// runLedger is "toll ledger ...".
func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return usagef("toll ledger needs a subcommand: list, verify or export")
	}
	sub, rest := args[0], args[1:]
	if sub == "reconcile" {
		return runReconcile(ctx, rest, stdout, stderr, getenv)
	}
	fs := flag.NewFlagSet("toll ledger "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("ledger", "", "ledger file (default $TOLL_LEDGER, else toll/ledger.db in the user config dir)")
	var format *string
	switch sub {
	case "list":
		format = fs.String("format", "table", "table or json")
	case "export":
		format = fs.String("format", "csv", "csv or jsonl")
	case "verify":
	default:
		fmt.Fprint(stderr, ledgerUsage)
		return usagef("unknown ledger subcommand %q", sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("toll ledger %s takes no arguments (got %q)", sub, fs.Arg(0))
	}
	led, p, err := openLedger(*path, getenv)
	if err != nil {
		return err
	}
	defer led.Close()
	switch sub {
	case "list":
		spends, err := led.Spends(ctx)
		if err != nil {
			return err
		}
		switch *format {
		case "table":
			return writeSpendTable(stdout, spends)
		case "json":
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(spends)
		}
		return usagef("--format %q: want table or json", *format)
	case "export":
		switch *format {
		case "csv":
			return led.ExportCSV(ctx, stdout)
		case "jsonl":
			return led.ExportJSONL(ctx, stdout)
		}
		return usagef("--format %q: want csv or jsonl", *format)
	default:
		if err := led.Verify(ctx); err != nil {
			return fmt.Errorf("ledger %s: %w", p, err)
		}
		events, err := led.Events(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ledger %s: %d events, hash chain intact\n", p, len(events))
		return nil
	}
}

// writeSpendTable prints spends as an aligned table for people.
func writeSpendTable(w io.Writer, spends []ledger.Spend) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTOOL\tAMOUNT (USDC)\tSTATUS\tNETWORK\tPAY TO\tTRANSACTION")
	for _, s := range spends {
		tx := s.TxHash
		if tx == "" {
			tx = "-"
			if s.Reason != "" {
				tx = "(" + s.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ReservedAt.UTC().Format(time.DateTime), s.Tool,
			s.Amount, s.Status, s.Network, s.PayTo, tx)
	}
	return tw.Flush()
}

// openLedger opens the ledger at path, or at the default place when path is empty, and
// returns the path it used.
func openLedger(path string, getenv env) (*ledger.Ledger, string, error) {
	if path == "" {
		var err error
		if path, err = defaultLedgerPath(getenv); err != nil {
			return nil, "", err
		}
	}
	led, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("open ledger: %w", err)
	}
	return led, path, nil
}

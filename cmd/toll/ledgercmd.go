package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/ledger"
)

func (a *app) ledgerCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "ledger",
		Short: "inspect the spend ledger, and resolve unknown spends against the chain",
		Long: `Every payment is a sequence of hash-chained events in the ledger file: reserved (before
signing), then settled, unknown, released or voided. list, verify and export only read it, and
never create a file: a ledger path that holds no ledger is an error.`,
		Args: cobra.ArbitraryArgs,
		RunE: group("toll ledger", "a command: list, verify, export or reconcile"),
	}
	c.AddCommand(a.ledgerListCommand(), a.ledgerVerifyCommand(), a.ledgerExportCommand(), a.reconcileCommand())
	return c
}

// ledgerFlags say which ledger a command opens: --ledger, else ledger: in toll.yaml
// (--config or $TOLL_CONFIG), else $TOLL_LEDGER, else the default place.
type ledgerFlags struct {
	*app
	ledger string
	config string
}

func (l *ledgerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.ledger, "ledger", "", "ledger file (default: ledger: of the config, else $"+envLedger+", else toll/ledger.db in the user config dir)")
	fs.StringVar(&l.config, "config", "", "toll.yaml whose ledger to use (default $"+envConfig+")")
}

// open opens the ledger; unless create is set, a missing one is an error.
func (l *ledgerFlags) open(create bool) (*ledger.Ledger, string, error) {
	var fromConfig string
	if path := l.env.configPath(l.config); path != "" && l.ledger == "" {
		cfg, err := loadConfig(path)
		if err != nil {
			return nil, "", err
		}
		fromConfig = cfg.Ledger
	}
	return l.openLedger(l.ledger, fromConfig, create)
}

// textOrJSON is the --format of a command that prints for people and programs. "table",
// its older name for text, is still accepted.
func textOrJSON() *format {
	f := newFormat("text", "text", "json")
	f.alias = map[string]string{"table": "text"}
	return f
}

// ledgerListCmd is "toll ledger list".
type ledgerListCmd struct {
	ledgerFlags
	format *format
}

func (a *app) ledgerListCommand() *cobra.Command {
	l := &ledgerListCmd{ledgerFlags: ledgerFlags{app: a}, format: textOrJSON()}
	c := &cobra.Command{
		Use:   "list [flags]",
		Short: "every paid or reserved call, with its status",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return l.run(c.Context())
		},
	}
	fs := newFlags(c)
	l.register(fs)
	fs.Var(l.format, "format", "text: a table for people; json: the spends")
	return c
}

func (l *ledgerListCmd) run(ctx context.Context) error {
	led, p, err := l.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	if err := l.warnUnverified(ctx, led, p); err != nil {
		return err
	}
	spends, err := led.Spends(ctx)
	if err != nil {
		return err
	}
	if l.format.value == "json" {
		if spends == nil {
			spends = []ledger.Spend{}
		}
		return writeJSON(l.stdout, spends)
	}
	return writeSpendTable(l.stdout, spends)
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

// ledgerVerifyCmd is "toll ledger verify".
type ledgerVerifyCmd struct{ ledgerFlags }

func (a *app) ledgerVerifyCommand() *cobra.Command {
	v := &ledgerVerifyCmd{ledgerFlags{app: a}}
	c := &cobra.Command{
		Use:   "verify [flags]",
		Short: "check the hash chain: no entry edited or removed",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return v.run(c.Context()) },
	}
	v.register(newFlags(c))
	return c
}

func (v *ledgerVerifyCmd) run(ctx context.Context) error {
	led, p, err := v.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	if err := led.Verify(ctx); err != nil {
		return fmt.Errorf("ledger %s: %w", p, err)
	}
	events, err := led.Events(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(v.stdout, "ledger %s: %d events, hash chain intact\n", p, len(events))
	return err
}

// ledgerExportCmd is "toll ledger export".
type ledgerExportCmd struct {
	ledgerFlags
	format *format
}

func (a *app) ledgerExportCommand() *cobra.Command {
	x := &ledgerExportCmd{ledgerFlags: ledgerFlags{app: a}, format: newFormat("csv", "csv", "jsonl")}
	c := &cobra.Command{
		Use:   "export [flags]",
		Short: "every spend, for auditors, as CSV or JSON lines",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return x.run(c.Context()) },
	}
	fs := newFlags(c)
	x.register(fs)
	fs.Var(x.format, "format", "csv, or jsonl: one JSON object a line")
	return c
}

func (x *ledgerExportCmd) run(ctx context.Context) error {
	led, p, err := x.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	if x.format.value == "jsonl" {
		// The events themselves: an event whose hash does not match is refused.
		return led.ExportJSONL(ctx, x.stdout)
	}
	if err := x.warnUnverified(ctx, led, p); err != nil {
		return err
	}
	return led.ExportCSV(ctx, x.stdout)
}

// warnUnverified warns on stderr when the ledger at path does not verify (ledger.Check),
// for a command that prints the ledger's recorded state, which it prints all the same.
func (l *ledgerFlags) warnUnverified(ctx context.Context, led *ledger.Ledger, path string) error {
	err := led.Check(ctx)
	if errors.Is(err, ledger.ErrTampered) {
		fmt.Fprintf(l.stderr, "toll: warning: %v; what follows is what the ledger records, which its events do not bear out (inspect it with toll ledger verify --ledger %s)\n", err, path)
		return nil
	}
	return err
}

// trustLedger checks the ledger at path before a process pays from it (ledger.Checkpoint:
// from the last checkpoint on, which it moves to the head) and refuses one that does not
// verify, naming the first bad entry and how to inspect it.
func trustLedger(ctx context.Context, led *ledger.Ledger, path string) error {
	err := led.Checkpoint(ctx)
	if errors.Is(err, ledger.ErrTampered) {
		return fmt.Errorf("%w; toll pays from no ledger that does not verify: inspect it with toll ledger verify --ledger %s, and restore it from a copy", err, path)
	}
	return err
}

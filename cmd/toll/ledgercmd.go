package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tollhq/toll/ledger"
)

func (a *app) ledgerCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "ledger",
		Short: "inspect the spend ledger, and resolve unknown spends against the chain",
		Long: `Every payment is a sequence of hash-chained events in the ledger: a bbolt file, or a
PostgreSQL database for a team (--ledger postgres://..., $TOLL_LEDGER_URL): reserved (before
signing), then settled, unknown, released or voided. list, verify, export and report only read
it, and never create a file: a ledger path that holds no ledger is an error. migrate prepares a
PostgreSQL database; copy moves a file's ledger into one.`,
		Args: cobra.ArbitraryArgs,
		RunE: group("toll ledger", "a command: list, verify, export, report, reconcile, migrate or copy"),
	}
	c.AddCommand(a.ledgerListCommand(), a.ledgerVerifyCommand(), a.ledgerExportCommand(), a.reconcileCommand())
	c.AddCommand(a.ledgerReportCommand())
	c.AddCommand(a.ledgerMigrateCommand(), a.ledgerCopyCommand())
	return c
}

// ledgerFlags say which ledger a command opens: --ledger, else ledger: in toll.yaml
// (--config or $TOLL_CONFIG), else $TOLL_LEDGER, else the default place.
type ledgerFlags struct {
	*app
	ledger  string
	config  string
	timeout time.Duration
}

func (l *ledgerFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&l.ledger, "ledger", "", "ledger file or postgres:// URL (default: ledger: of the config, else $"+envLedgerURL+", else $"+envLedger+", else toll/ledger.db in the user config dir)")
	fs.StringVar(&l.config, "config", "", "toll.yaml whose ledger to use (default $"+envConfig+")")
	fs.DurationVar(&l.timeout, "timeout", 0, "how long each step waits for the ledger file's lock while toll serve writes (default 5s)")
}

// ledgerFromConfig is ledger: of the config file, when there is one and --ledger is not
// given; "" otherwise.
func (l *ledgerFlags) ledgerFromConfig() (string, error) {
	path := l.env.configPath(l.config)
	if path == "" || l.ledger != "" {
		return "", nil
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return "", err
	}
	return cfg.Ledger, nil
}

// open opens the ledger; unless create is set, a missing one is an error.
func (l *ledgerFlags) open(create bool) (*ledger.Ledger, string, error) {
	fromConfig, err := l.ledgerFromConfig()
	if err != nil {
		return nil, "", err
	}
	if l.timeout < 0 {
		return nil, "", usagef("--timeout %v is negative", l.timeout)
	}
	return l.openLedgerTimeout(l.ledger, fromConfig, create, l.timeout)
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
	filterFlags
	format *format
}

func (a *app) ledgerListCommand() *cobra.Command {
	l := &ledgerListCmd{ledgerFlags: ledgerFlags{app: a}, format: textOrJSON()}
	c := &cobra.Command{
		Use:   "list [flags]",
		Short: "every paid or reserved call, with its status",
		Long: `Every reserved call, with its status, as the ledger's events give it (checked as they are
read: an entry edited in the file stops the list), in reservation order; a call still open
while thousands of later ones were reserved comes when it became final. The ledger is read
in short steps, so toll serve goes on paying meanwhile; the table is aligned in blocks of
` + fmt.Sprint(tableBlock) + ` rows, so that a list of any length starts at once.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return l.run(c.Context())
		},
	}
	fs := newFlags(c)
	l.ledgerFlags.register(fs)
	l.filterFlags.register(fs, false)
	fs.Var(l.format, "format", "text: a table for people; json: the spends")
	return c
}

func (l *ledgerListCmd) run(ctx context.Context) error {
	f, err := l.filter()
	if err != nil {
		return err
	}
	led, _, err := l.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	out := bufio.NewWriterSize(l.stdout, 64<<10)
	var w spendWriter = newSpendTable(out)
	if l.format.value == "json" {
		w = &spendJSONWriter{w: out}
	}
	if err := led.ScanSpends(ctx, f, w.write); err != nil {
		out.Flush()
		return filterError(err)
	}
	if err := w.close(); err != nil {
		return err
	}
	return out.Flush()
}

// ledgerVerifyCmd is "toll ledger verify".
type ledgerVerifyCmd struct {
	ledgerFlags
	proofFlags
	file     string
	complete bool // with file: a partial export fails
}

func (a *app) ledgerVerifyCommand() *cobra.Command {
	v := &ledgerVerifyCmd{ledgerFlags: ledgerFlags{app: a}}
	c := &cobra.Command{
		Use:   "verify [flags]",
		Short: "check the hash chain: no entry edited or removed",
		Long: `Check the ledger's hash chain (every entry there, unedited, in order) and that the state the
caps are checked against is what the entries give. It reads the ledger in short steps, so
toll serve goes on paying meanwhile, and prints the hash of the last entry: keep it, and
compare it later, to see entries cut from the end.

It also checks the signed heads toll serve writes after each settlement (the chain's head
signed with the payer's key): --payer ADDR requires every one to be the payer's, so an
entry rewritten by someone without the key is found. --expect-head HASH checks that a last
hash kept elsewhere is still in the chain (nothing cut from the end). --rpc NETWORK=URL holds
the ledger against the chain: every payment the payer made there is in the ledger, and every
settled entry moved its amount to its payee in its transaction.

With --file, check an export written by toll ledger export --format jsonl on its own,
without the ledger: the chain of hashes, the history the entries tell and the signed heads
(--payer: each must be the payer's). An export made with a filter lacks events: it is
reported PARTIAL, with the positions missing, and what can be checked without them is:
each entry's hash, the links between consecutive entries, the signed heads in the file.
A whole export with lines removed looks the same: --complete makes a partial export fail.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return v.run(c.Context()) },
	}
	fs := newFlags(c)
	v.ledgerFlags.register(fs)
	v.proofFlags.register(fs)
	fs.StringVar(&v.file, "file", "", "an export (toll ledger export --format jsonl) to check instead of the ledger; - for stdin")
	fs.BoolVar(&v.complete, "complete", false, "with --file: the export must be whole (from the first event, no gap): a partial one fails")
	return c
}

func (v *ledgerVerifyCmd) run(ctx context.Context) error {
	if v.file != "" {
		if v.ledger != "" || v.config != "" {
			return usagef("toll ledger verify: --file checks an export on its own: leave out --ledger and --config")
		}
		if v.expectHead != "" || len(v.rpcs) > 0 || v.fromBlock != "" {
			return usagef("toll ledger verify: --expect-head, --rpc and --from-block check the ledger itself, not an export: run them without --file")
		}
		return v.runFile()
	}
	if v.complete {
		return usagef("toll ledger verify: --complete goes with --file")
	}
	payer, err := v.proofFlags.check()
	if err != nil {
		return err
	}
	led, p, err := v.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	rep, err := led.VerifyReport(ctx, recoverHead, v.keptHash()...)
	if err != nil {
		return fmt.Errorf("ledger %s: %w", p, err)
	}
	fmt.Fprintf(v.stdout, "ledger %s: %d events, hash chain intact; last hash %s\n", p, rep.Events, rep.Head)
	if err := v.signedHeads(v.stdout, rep, payer); err != nil {
		return err
	}
	if err := v.keptHead(v.stdout, rep); err != nil {
		return err
	}
	return v.audit(ctx, v.stdout, led, payer)
}

// runFile verifies an export.
func (v *ledgerVerifyCmd) runFile() error {
	var r io.Reader = v.stdin
	name := "stdin"
	if v.file != "-" {
		f, err := os.Open(v.file)
		if err != nil {
			return fmt.Errorf("verify %w", err)
		}
		defer f.Close()
		r, name = f, v.file
	}
	payer, err := v.proofFlags.check()
	if err != nil {
		return err
	}
	rep, err := ledger.VerifyFile(r, recoverHead)
	if err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	fileReport(v.stdout, name, rep)
	if !rep.Complete && v.complete {
		return fmt.Errorf("%w: export %s is partial (%d events missing) and --complete asks for a whole one: export again without filters, or find who removed lines", errProof, name, rep.Missing)
	}
	if !rep.Complete {
		// A filtered export leaves out signed heads (they name no agent) and the heads
		// after its period: its settlements say nothing of the payer's key.
		rep.UnsignedSettled = 0
	}
	return v.signedHeads(v.stdout, rep.Report, payer)
}

// ledgerExportCmd is "toll ledger export".
type ledgerExportCmd struct {
	ledgerFlags
	filterFlags
	format *format
	excel  bool
}

func (a *app) ledgerExportCommand() *cobra.Command {
	x := &ledgerExportCmd{ledgerFlags: ledgerFlags{app: a}, format: newFormat("csv", "csv", "jsonl", "hledger", "beancount")}
	c := &cobra.Command{
		Use:   "export [flags]",
		Short: "every spend, for auditors: CSV, JSON lines, or an hledger or beancount journal",
		Long: `csv: one row per reserved call and per refusal, for spreadsheets: the seq and hash of the
row's last event, times in UTC (2026-12-01 09:30:00.123), amounts as decimals with the
token's symbol and decimals and in atomic units; --excel adds the byte order mark and CRLF
line ends Excel expects. A text cell starting with = + - @ gets a leading ' so that no
spreadsheet runs it as a formula.
jsonl: the events themselves, hashes included, one JSON object a line; with no filter,
toll ledger verify --file checks the file on its own.
hledger, beancount: one transaction per settled payment, from assets:x402:NETWORK:PAYER to
expenses:x402:API:TOOL, in the token as a commodity; calls still reserved or unknown are
comments (hledger -f FILE bal and bean-check FILE read them).
Every format is checked as it is written: an entry edited in the file stops the export
(exit 1). The ledger is read in short steps, so toll serve goes on paying meanwhile.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return x.run(c.Context()) },
	}
	fs := newFlags(c)
	x.ledgerFlags.register(fs)
	x.filterFlags.register(fs, true)
	fs.Var(x.format, "format", "csv; jsonl: one JSON object a line; hledger or beancount: a journal of the settled payments")
	fs.BoolVar(&x.excel, "excel", false, "csv: start with a UTF-8 byte order mark and end lines with CRLF, for Excel")
	return c
}

func (x *ledgerExportCmd) run(ctx context.Context) error {
	if x.excel && x.format.value != "csv" {
		return usagef("toll ledger export: --excel is for --format csv, not %s", x.format.value)
	}
	f, err := x.filter()
	if err != nil {
		return err
	}
	led, _, err := x.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	switch x.format.value {
	case "jsonl":
		err = led.ExportJSONL(ctx, x.stdout, f)
	case "hledger", "beancount":
		err = led.ExportJournal(ctx, x.stdout, f, ledger.JournalFormat(x.format.value))
	default:
		err = led.ExportCSV(ctx, x.stdout, f, ledger.CSVOptions{Excel: x.excel})
	}
	return filterError(err)
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

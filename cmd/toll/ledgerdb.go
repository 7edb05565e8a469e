package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/ledger"
)

// A ledger in PostgreSQL: --ledger, ledger: in toll.yaml, $TOLL_LEDGER_URL or
// $TOLL_LEDGER given a postgres:// URL instead of a file. The password stays out of
// the URL when it can: PGPASSWORD, or a password file (PGPASSFILE, ~/.pgpass), as psql
// reads them; toll prints a URL only with its password removed.

// envLedgerURL is the ledger's database URL when neither --ledger nor toll.yaml names a
// ledger; it wins over $TOLL_LEDGER.
const envLedgerURL = "TOLL_LEDGER_URL"

// connectTimeout bounds the connection to a ledger database and the checks of its
// schema when a command opens it.
const connectTimeout = 30 * time.Second

// openLedgerStore opens the ledger at where: a PostgreSQL database when it is a
// postgres:// URL, else a bbolt file.
func openLedgerStore(where string, opts ledger.Options) (*ledger.Ledger, error) {
	if !ledger.IsURL(where) {
		return ledger.Open(where, opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	return ledger.OpenURL(ctx, where, opts)
}

// ledgerName is where for messages: a database URL without its password.
func ledgerName(where string) string {
	if ledger.IsURL(where) {
		return ledger.RedactURL(where)
	}
	return where
}

// ledgerMigrateCmd is "toll ledger migrate".
type ledgerMigrateCmd struct{ ledgerFlags }

func (a *app) ledgerMigrateCommand() *cobra.Command {
	m := &ledgerMigrateCmd{ledgerFlags{app: a}}
	c := &cobra.Command{
		Use:   "migrate [flags]",
		Short: "bring a PostgreSQL ledger's schema up to this toll's version",
		Long: `Apply to the ledger's PostgreSQL database (--ledger postgres://..., ledger: in toll.yaml,
$` + envLedgerURL + ` or $` + envLedger + `) the schema migrations it lacks, each in its own transaction,
and print the versions before and after. Run it once before the first toll serve on a new
database, and after upgrading toll (or let toll serve do it: ledger_migrate: true in toll.yaml).
A database whose schema is newer than this toll is left alone, with an error. Several toll
processes may run it at once: one applies, the others find it done. A bbolt ledger needs no
migration: it upgrades itself on its first write.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return m.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.StringVar(&m.ledger, "ledger", "", "the ledger's database URL (default: ledger: of the config, else $"+envLedgerURL+", else $"+envLedger+")")
	fs.StringVar(&m.config, "config", "", "toll.yaml whose ledger to use (default $"+envConfig+")")
	return c
}

func (m *ledgerMigrateCmd) run(ctx context.Context) error {
	where, err := m.where()
	if err != nil {
		return err
	}
	if !ledger.IsURL(where) {
		return usagef("toll ledger migrate: %s is a ledger file, which upgrades itself; migrate applies to a PostgreSQL ledger (--ledger postgres://...)", where)
	}
	from, to, err := ledger.Migrate(ctx, where)
	if err != nil {
		return err
	}
	if from == to {
		fmt.Fprintf(m.stdout, "ledger %s: schema version %d, up to date\n", ledgerName(where), to)
		return nil
	}
	fmt.Fprintf(m.stdout, "ledger %s: schema version %d -> %d\n", ledgerName(where), from, to)
	return nil
}

// where is the ledger the flags name, as ledgerFlags.open finds it.
func (l *ledgerFlags) where() (string, error) {
	fromConfig, err := l.ledgerFromConfig()
	if err != nil {
		return "", err
	}
	return l.env.ledgerPath(l.ledger, fromConfig)
}

// ledgerCopyCmd is "toll ledger copy".
type ledgerCopyCmd struct {
	*app
	from, to string
	migrate  bool
	timeout  time.Duration
}

func (a *app) ledgerCopyCommand() *cobra.Command {
	cp := &ledgerCopyCmd{app: a}
	c := &cobra.Command{
		Use:   "copy --from FILE --to postgres://... [flags]",
		Short: "move a ledger file into a PostgreSQL database, chain intact",
		Long: `Copy the ledger at --from (a bbolt file) into the ledger at --to (a PostgreSQL database, or
another file), which must hold no entry yet: every entry with its position and hash, and the
state the caps are checked against, in one transaction. The copy is then verified whole and
its last hash compared with the source's, which is printed. Stop toll serve on the source
first: what it writes after the copy began is not copied. --migrate applies the database's
schema migrations first (as toll ledger migrate).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return cp.run(c.Context()) },
	}
	fs := newFlags(c)
	fs.StringVar(&cp.from, "from", "", "the ledger to copy (a file; required)")
	fs.StringVar(&cp.to, "to", "", "the ledger to copy into: postgres://... or a file (required)")
	fs.BoolVar(&cp.migrate, "migrate", false, "apply the database's schema migrations first")
	fs.DurationVar(&cp.timeout, "timeout", 10*time.Minute, "how long the copy may take, and wait for each ledger")
	return c
}

func (cp *ledgerCopyCmd) run(ctx context.Context) error {
	if cp.from == "" || cp.to == "" {
		return usagef("toll ledger copy: give both --from FILE and --to postgres://...")
	}
	if cp.timeout <= 0 {
		return usagef("--timeout %v is not positive", cp.timeout)
	}
	from, err := openLedgerStore(cp.from, ledger.Options{NoCreate: true, Timeout: cp.timeout})
	if errors.Is(err, ledger.ErrNoLedger) {
		return fmt.Errorf("no ledger at %s: check --from", ledgerName(cp.from))
	}
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := openLedgerStore(cp.to, ledger.Options{Timeout: cp.timeout, Migrate: cp.migrate})
	if err != nil {
		return err
	}
	defer to.Close()
	head, err := ledger.Copy(ctx, to, from)
	if err != nil {
		return err
	}
	fmt.Fprintf(cp.stdout, "copied %d entries from %s to %s; the chain verifies, last hash %s\n",
		head.Seq, ledgerName(cp.from), ledgerName(cp.to), head.Hash)
	return nil
}

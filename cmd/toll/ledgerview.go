package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollhq/toll/ledger"
)

// filterFlags select what toll ledger list and export print.
type filterFlags struct {
	since, until                               string
	agent, session, api, tool, status, network string
}

func (f *filterFlags) register(fs *pflag.FlagSet, events bool) {
	fs.StringVar(&f.since, "since", "", "only from this time on: RFC 3339 (2026-12-01T09:00:00Z) or a date (2026-12-01, from its start, UTC)")
	fs.StringVar(&f.until, "until", "", "only before this time: RFC 3339, or a date (2026-12-31: up to its end, UTC)")
	fs.StringVar(&f.agent, "agent", "", "only the calls of this agent (agents: in toll.yaml)")
	fs.StringVar(&f.session, "session", "", "only the calls of this MCP session")
	fs.StringVar(&f.api, "api", "", "only the calls to this API (its namespace)")
	fs.StringVar(&f.tool, "tool", "", "only the calls of this tool")
	fs.StringVar(&f.network, "network", "", "only the payments on this network (eip155:8453, base-sepolia... as recorded)")
	status := "only the calls in this status: reserved, unknown, settled, released or voided"
	if events {
		status = "csv and journals: only the calls in this status (reserved, unknown, settled, released, voided; csv: refused for the refusals); jsonl: only the events of this kind (those, refused, approval-asked, approved, denied)"
	}
	fs.StringVar(&f.status, "status", "", status)
}

// filter returns the ledger.Filter the flags ask for; a time that does not parse is a
// usage error.
func (f *filterFlags) filter() (ledger.Filter, error) {
	out := ledger.Filter{
		Agent: f.agent, Session: f.session, API: f.api, Tool: f.tool, Network: f.network, Status: f.status,
	}
	var err error
	if out.Since, err = parseWhen("--since", f.since, false); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("--until", f.until, true); err != nil {
		return out, err
	}
	return out, nil
}

// parseWhen parses a --since or --until value: RFC 3339, or a date in UTC, which means its
// start, or with end its end (the start of the next day).
func parseWhen(flag, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, usagef("%s %q is not a time: write RFC 3339 (2026-12-01T09:00:00Z, or with an offset: 2026-12-01T10:00:00+01:00) or a date (2026-12-01, UTC)", flag, s)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// filterError makes a filter the ledger refuses (a status it does not know, an empty
// period) a usage error.
func filterError(err error) error {
	if errors.Is(err, ledger.ErrInvalid) {
		_, msg, _ := strings.Cut(err.Error(), ledger.ErrInvalid.Error()+": ")
		return usagef("%s", msg)
	}
	return err
}

// openLedgerTimeout is openLedger with the lock timeout of --timeout (zero: the default).
func (a *app) openLedgerTimeout(flag, fromConfig string, create bool, timeout time.Duration) (*ledger.Ledger, string, error) {
	if timeout == 0 {
		return a.openLedger(flag, fromConfig, create)
	}
	path, err := a.env.ledgerPath(flag, fromConfig)
	if err != nil {
		return nil, "", err
	}
	led, err := openLedgerStore(path, ledger.Options{NoCreate: !create, Timeout: timeout})
	if errors.Is(err, ledger.ErrNoLedger) {
		// The same answer as openLedger's.
		return a.openLedger(flag, fromConfig, create)
	}
	return led, ledgerName(path), err
}

// spendWriter prints spends as they are read.
type spendWriter interface {
	write(*ledger.Spend) error
	close() error
}

// tableBlock is how many rows of toll ledger list are aligned together.
const tableBlock = 1000

// spendTable prints spends as an aligned table for people, aligning blocks of
// tableBlock rows.
type spendTable struct {
	tw   *tabwriter.Writer
	rows int
}

func newSpendTable(w io.Writer) *spendTable {
	t := &spendTable{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.tw, "TIME\tTOOL\tAMOUNT (USDC)\tSTATUS\tHTTP\tNETWORK\tPAY TO\tTRANSACTION")
	return t
}

func (t *spendTable) write(s *ledger.Spend) error {
	tx := s.TxHash
	if tx == "" {
		tx = "-"
		if s.Reason != "" {
			tx = "(" + s.Reason + ")"
		}
	}
	httpStatus := "-" // no answer to the paid request (yet)
	switch {
	case s.HTTPStatus != 0:
		httpStatus = strconv.Itoa(s.HTTPStatus)
	case s.Method == "tools/call":
		httpStatus = "mcp" // a paid MCP server's tool: no HTTP status of its own
	}
	_, err := fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ReservedAt.UTC().Format(time.DateTime), s.Tool,
		s.Amount, s.Status, httpStatus, s.Network, s.PayTo, tx)
	if t.rows++; err == nil && t.rows%tableBlock == 0 {
		err = t.tw.Flush()
	}
	return err
}

func (t *spendTable) close() error { return t.tw.Flush() }

// writeSpendTable prints spends as an aligned table for people.
func writeSpendTable(w io.Writer, spends []ledger.Spend) error {
	t := newSpendTable(w)
	for i := range spends {
		if err := t.write(&spends[i]); err != nil {
			return err
		}
	}
	return t.close()
}

// spendJSONWriter prints spends as one indented JSON array, as writeJSON would
// (ledger.Spend.AppendJSON writes what json.MarshalIndent would).
type spendJSONWriter struct {
	w   io.Writer
	n   int
	buf []byte
}

func (j *spendJSONWriter) write(s *ledger.Spend) error {
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	j.buf = s.AppendJSON(append(j.buf[:0], sep...), "  ", "  ")
	_, err := j.w.Write(j.buf)
	return err
}

func (j *spendJSONWriter) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

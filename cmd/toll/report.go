package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollhq/toll/ledger"
)

// ledgerReportCmd is "toll ledger report".
type ledgerReportCmd struct {
	ledgerFlags
	filterFlags
	format *format
	html   string
}

func (a *app) ledgerReportCommand() *cobra.Command {
	r := &ledgerReportCmd{ledgerFlags: ledgerFlags{app: a}, format: textOrJSON()}
	c := &cobra.Command{
		Use:   "report [flags]",
		Short: "totals by API, tool, agent, day and status, for a period",
		Long: `What the calls of a period add up to: for the whole period, and by API, tool, agent and day
(UTC), the calls settled, unknown, reserved, released and voided, and the refusals (nothing
signed), each with its count and amount. A call belongs to the day, the agent... of its
reservation, and counts in the status it has now. The totals come from the ledger's events,
each checked against the hash chain as it is read; the ledger is read in short steps, so
toll serve goes on paying meanwhile.

--html FILE also writes one self-contained page (no scripts, fonts or network) with a chart
of the settled spend per day and API, and the same tables.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return r.run(c.Context()) },
	}
	fs := newFlags(c)
	r.ledgerFlags.register(fs)
	r.filterFlags.register(fs, false)
	fs.Lookup("status").Usage = "only the calls in this status (reserved, unknown, settled, released, voided), or only the refusals (refused)"
	fs.Var(r.format, "format", "text: tables for people; json: the totals, amounts in atomic units")
	fs.StringVar(&r.html, "html", "", "also write the report as one self-contained HTML page, with a chart, to this file")
	return c
}

func (r *ledgerReportCmd) run(ctx context.Context) error {
	f, err := r.filter()
	if err != nil {
		return err
	}
	led, _, err := r.open(false)
	if err != nil {
		return err
	}
	defer led.Close()
	sum, err := led.Summarize(ctx, f)
	if err != nil {
		return filterError(err)
	}
	if r.html != "" {
		var page bytes.Buffer
		if err := writeReportHTML(&page, sum); err != nil {
			return err
		}
		if err := writeFileAtomic(r.html, page.Bytes()); err != nil {
			return err
		}
	}
	if r.format.value == "json" {
		return writeJSON(r.stdout, sum)
	}
	out := bufio.NewWriter(r.stdout)
	if err := writeReportText(out, sum); err != nil {
		return err
	}
	return out.Flush()
}

// reportPeriod says in words which period a summary covers and what it read.
func reportPeriod(s *ledger.Summary) string {
	var p string
	switch {
	case s.Since.IsZero() && s.Until.IsZero():
		p = "the whole ledger"
	case s.Until.IsZero():
		p = "from " + s.Since.UTC().Format(time.RFC3339)
	case s.Since.IsZero():
		p = "before " + s.Until.UTC().Format(time.RFC3339)
	default:
		p = "from " + s.Since.UTC().Format(time.RFC3339) + ", before " + s.Until.UTC().Format(time.RFC3339)
	}
	p += fmt.Sprintf(" (events 1 to %d", s.Head)
	if !s.First.IsZero() {
		p += fmt.Sprintf("; calls and refusals from %s to %s", s.First.Format(time.DateTime), s.Last.Format(time.DateTime))
	}
	return p + ", UTC)"
}

// reportColumns are the columns of every table of a report, for people: released and
// voided calls (neither paid) share one.
var reportColumns = []string{"SETTLED", "UNKNOWN", "RESERVED", "RELEASED/VOIDED", "REFUSED"}

// reportCells are a breakdown's cells, in reportColumns' order: "amount (count)", or "-"
// for none.
func reportCells(b *ledger.Breakdown) []string {
	rv := ledger.Tally{Count: b.Released.Count + b.Voided.Count, Amount: b.Released.Amount.Add(b.Voided.Amount)}
	var cells []string
	for _, t := range []ledger.Tally{b.Settled, b.Unknown, b.Reserved, rv, b.Refused} {
		cell := "-"
		if t.Count > 0 {
			cell = fmt.Sprintf("%s (%d)", t.Amount, t.Count)
		}
		cells = append(cells, cell)
	}
	return cells
}

// reportKey is a group's key for people: "(none)" for calls made for no agent, or with no
// API or tool recorded.
func reportKey(k string) string {
	if k == "" {
		return "(none)"
	}
	return k
}

// reportSections are the tables of a report after the total: by API, tool, agent, day.
func reportSections(s *ledger.Summary) []struct {
	title string
	rows  []ledger.Group
} {
	return []struct {
		title string
		rows  []ledger.Group
	}{{"API", s.APIs}, {"TOOL", s.Tools}, {"AGENT", s.Agents}, {"DAY (UTC)", s.Days}}
}

// writeReportText writes a summary as aligned tables for people.
func writeReportText(w io.Writer, s *ledger.Summary) error {
	fmt.Fprintf(w, "Ledger report: %s\n", reportPeriod(s))
	fmt.Fprintf(w, "Amounts in USDC, each with its number of calls; a call counts in its status now.\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table := func(title string, rows []ledger.Group) {
		fmt.Fprintf(tw, "%s\t%s\n", title, strings.Join(reportColumns, "\t"))
		for i := range rows {
			fmt.Fprintf(tw, "%s\t%s\n", cleanCell(reportKey(rows[i].Key)), strings.Join(reportCells(&rows[i].Breakdown), "\t"))
		}
		fmt.Fprintln(tw)
	}
	table("TOTAL", []ledger.Group{{Key: "all", Breakdown: s.Total}})
	for _, sec := range reportSections(s) {
		if len(sec.rows) > 0 {
			table(sec.title, sec.rows)
		}
	}
	return tw.Flush()
}

// cleanCell keeps a name from the ledger from breaking the table: tabs, line breaks and
// other control characters become spaces.
func cleanCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

package ledger

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tollhq/toll/tools/money"
)

// Journals: the settled payments as plain-text accounting journals, which hledger
// (https://hledger.org/hledger.html#journal) and beancount
// (https://beancount.github.io/docs/beancount_language_syntax.html) read, so that their
// balance reports and checks work on toll's spends. One transaction per settled payment,
// dated the day (UTC) it settled: the amount goes to an expense account per API and tool
// from an asset account per payer and network, in the token as a commodity (USDC, or
// TOK-12345678 after the first hex digits of another token's address), with the call's
// ids in metadata. A call still reserved or unknown (its payment may or may not have
// settled) is a comment, not a transaction, so that the balances are the settled totals;
// released and voided calls and refusals moved nothing and are left out.

// JournalFormat is a journal's syntax.
type JournalFormat string

const (
	JournalHledger   JournalFormat = "hledger"
	JournalBeancount JournalFormat = "beancount"
)

// journalSyntax writes one journal's syntax.
type journalSyntax interface {
	account(root string, parts ...string) string
	commodity(symbol, asset string) string
	txn(w *bufio.Writer, t *journalTxn)
	// end writes what must follow the transactions: beancount's open directives.
	end(w *bufio.Writer, opened map[string]time.Time)
}

// journalTxn is one settled payment.
type journalTxn struct {
	date             time.Time
	payee, narration string
	expense, asset   string // accounts
	amount           string // decimal, then a space and the commodity
	meta             [][2]string
}

// ExportJournal writes the settled payments that f matches as a journal in format (see
// above), streaming: the rows are ExportCSV's, read and checked as ScanSpends reads them.
func (l *Ledger) ExportJournal(ctx context.Context, w io.Writer, f Filter, format JournalFormat) error {
	var syn journalSyntax
	switch format {
	case JournalHledger:
		syn = hledgerSyntax{}
	case JournalBeancount:
		syn = beancountSyntax{}
	default:
		return fmt.Errorf("export journal: %w: format %q: want hledger or beancount", ErrInvalid, clip(string(format)))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "; toll: the settled x402 payments of the ledger, one transaction each (%s journal).\n", format)
	bw.WriteString("; Calls still reserved or unknown are comments: their payment may not have settled.\n\n")
	opened := map[string]time.Time{} // account or commodity → first date used
	use := func(name string, d time.Time) {
		if first, ok := opened[name]; !ok || d.Before(first) {
			opened[name] = d
		}
	}
	err := l.scanRows(ctx, f, false, func(rec *spendRow) error {
		s := &rec.Spend
		switch s.Status {
		case StatusSettled:
		case StatusReserved, StatusUnknown:
			_, err := fmt.Fprintf(bw, "; %s, not settled: call %s, %s %s to %s, reserved %s\n\n", s.Status,
				journalText(s.CallID), s.Amount, syn.commodity(AssetSymbol(s.Network, s.Asset), s.Asset),
				journalText(s.PayTo), s.ReservedAt.UTC().Format(time.RFC3339))
			return err
		default:
			return nil
		}
		t := newJournalTxn(syn, rec)
		use(t.expense, t.date)
		use(t.asset, t.date)
		use("commodity "+syn.commodity(AssetSymbol(s.Network, s.Asset), s.Asset), t.date)
		syn.txn(bw, t)
		return nil
	})
	if err == nil {
		syn.end(bw, opened)
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", format, err)
	}
	return nil
}

func newJournalTxn(syn journalSyntax, rec *spendRow) *journalTxn {
	s := &rec.Spend
	commodity := syn.commodity(AssetSymbol(s.Network, s.Asset), s.Asset)
	t := &journalTxn{
		date:      s.UpdatedAt.UTC(),
		payee:     s.PayTo,
		narration: s.API + " " + s.Tool,
		expense:   syn.account("expenses", "x402", orUnknown(s.API), orUnknown(s.Tool)),
		asset:     syn.account("assets", "x402", orUnknown(s.Network), orUnknown(s.Payer)),
		amount:    fixedDecimal(s.Amount) + " " + commodity,
	}
	for _, m := range [][2]string{
		{"call_id", s.CallID}, {"tx_hash", s.TxHash}, {"pay_to", s.PayTo}, {"payer", s.Payer},
		{"network", s.Network}, {"asset", s.Asset}, {"agent", s.Agent}, {"session", s.Session},
		{"reserved", s.ReservedAt.UTC().Format(time.RFC3339Nano)}, {"settled", s.UpdatedAt.UTC().Format(time.RFC3339Nano)},
		{"payment_id", s.PaymentID}, {"seq", fmt.Sprint(rec.Last)}, {"hash", rec.lastHash},
	} {
		if m[1] != "" {
			t.meta = append(t.meta, m)
		}
	}
	return t
}

// fixedDecimal writes a (at Decimals) with all its decimals, 1.000000 rather than 1,
// so that the journal's amounts line up and show their precision.
func fixedDecimal(a money.Amount) string {
	d := a.AtomicString()
	if len(d) <= Decimals {
		d = strings.Repeat("0", Decimals+1-len(d)) + d
	}
	return d[:len(d)-Decimals] + "." + d[len(d)-Decimals:]
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// journalText is s on one line, for a comment or a tag value.
func journalText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// tokenCommodity names a token that has no symbol toll knows after its address.
func tokenCommodity(asset string) string {
	hex := strings.TrimPrefix(strings.ToLower(asset), "0x")
	hex = strings.Map(func(r rune) rune {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') {
			return unicode.ToUpper(r)
		}
		return -1
	}, hex)
	if len(hex) > 8 {
		hex = hex[:8]
	}
	if hex == "" {
		return "TOK-UNKNOWN"
	}
	return "TOK-" + hex
}

// hledgerSyntax writes hledger's journal format.
type hledgerSyntax struct{}

// account joins parts with colons; a part's colons, semicolons and runs of spaces
// (which end an account name) become dashes.
func (hledgerSyntax) account(root string, parts ...string) string {
	out := []string{root}
	for _, p := range parts {
		out = append(out, strings.Map(func(r rune) rune {
			if r == ':' || r == ';' || unicode.IsSpace(r) {
				return '-'
			}
			return r
		}, p))
	}
	return strings.Join(out, ":")
}

// commodity is the symbol, or a quoted name after the address (a dash and digits need
// the quotes).
func (hledgerSyntax) commodity(symbol, asset string) string {
	if symbol != "" {
		return symbol
	}
	return `"` + tokenCommodity(asset) + `"`
}

func (hledgerSyntax) txn(w *bufio.Writer, t *journalTxn) {
	// payee | note; a semicolon would start a comment.
	clean := strings.NewReplacer(";", ",", "|", "/").Replace
	fmt.Fprintf(w, "%s * %s | %s\n", t.date.Format(time.DateOnly), clean(journalText(t.payee)), clean(journalText(t.narration)))
	for _, m := range t.meta {
		// A tag's value ends at a comma.
		fmt.Fprintf(w, "    ; %s: %s\n", m[0], strings.ReplaceAll(journalText(m[1]), ",", ";"))
	}
	fmt.Fprintf(w, "    %s  %s\n    %s\n\n", t.expense, t.amount, t.asset)
}

func (hledgerSyntax) end(w *bufio.Writer, opened map[string]time.Time) {}

// beancountSyntax writes beancount's input format.
type beancountSyntax struct{}

// account capitalizes root and each part and makes the part a valid component: letters,
// digits and dashes, starting with a capital letter or a digit.
func (beancountSyntax) account(root string, parts ...string) string {
	out := []string{beancountComponent(root)}
	for _, p := range parts {
		out = append(out, beancountComponent(p))
	}
	return strings.Join(out, ":")
}

func beancountComponent(s string) string {
	c := []rune(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
			return r
		}
		return '-'
	}, s))
	switch {
	case len(c) == 0:
		return "Unknown"
	case unicode.IsLower(c[0]):
		c[0] = unicode.ToUpper(c[0])
	case !unicode.IsUpper(c[0]) && !unicode.IsDigit(c[0]):
		c = append([]rune("X"), c...)
	}
	return string(c)
}

func (beancountSyntax) commodity(symbol, asset string) string {
	if symbol != "" {
		return symbol
	}
	return tokenCommodity(asset)
}

func (beancountSyntax) txn(w *bufio.Writer, t *journalTxn) {
	fmt.Fprintf(w, "%s * %s %s\n", t.date.Format(time.DateOnly), beancountString(t.payee), beancountString(t.narration))
	for _, m := range t.meta {
		fmt.Fprintf(w, "  %s: %s\n", m[0], beancountString(m[1]))
	}
	fmt.Fprintf(w, "  %s  %s\n  %s\n\n", t.expense, t.amount, t.asset)
}

// end opens every account and declares every commodity on the day of its first
// transaction (beancount reads directives in date order, wherever they are in the file).
func (beancountSyntax) end(w *bufio.Writer, opened map[string]time.Time) {
	for _, name := range slices.Sorted(maps.Keys(opened)) {
		d := opened[name].Format(time.DateOnly)
		if c, ok := strings.CutPrefix(name, "commodity "); ok {
			fmt.Fprintf(w, "%s commodity %s\n  decimals: \"%d\"\n", d, c, Decimals)
			continue
		}
		fmt.Fprintf(w, "%s open %s\n", d, name)
	}
}

func beancountString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(journalText(s)) + `"`
}

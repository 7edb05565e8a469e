package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ledger")

// goldenDir holds the export goldens.
const goldenDir = "../testdata/ledger"

// goldenLedger fills a ledger through the API with a fixed clock and fixed ids: calls to
// two APIs on two networks from two payers, settled (one after being unknown), released,
// voided, still reserved and still unknown, a cap refusal and a policy refusal with no
// amount, and an approval asked and given (with &, < and > in its reason).
func goldenLedger(t *testing.T) *Ledger {
	t.Helper()
	ctx := t.Context()
	l, c := newLedger(t)
	step := func() { c.Add(1500*time.Millisecond + 123456789) }
	do := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		step()
	}
	weather := func(id string, n int64) Intent {
		in := intent(id, n)
		in.Agent, in.PaymentID, in.Method = "alice", "pay_"+id, "GET"
		return in
	}
	news := func(id string, n int64) Intent {
		in := intent(id, n)
		in.Agent, in.Session, in.API, in.Tool = "bob", "s2", "news", "news_top"
		in.Network, in.Asset = "base", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
		in.Payer = "0x2222222222222222222222222222222222222222"
		in.URL = "https://news.example.com/top?lang=en&n=5"
		in.Method = "POST"
		return in
	}
	other := intent("call-token", 2500000)
	other.API, other.Tool, other.Asset = "maps", "maps_route", "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"

	_, err := l.AskApproval(ctx, Approval{CallID: "call-1", Agent: "alice", API: "weather", Tool: "weather_get_forecast",
		Network: "eip155:84532", Asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e", Amount: money.USDC(27367),
		PayTo: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", Reasons: []string{"first payment to <0x2096…287C> & over 0.01"}})
	do(err)
	_, err = l.DecideApproval(ctx, Decision{CallID: "call-1", Approved: true, By: "os-user:alice"})
	do(err)
	do(reserve(ctx, l, weather("call-1", 27367)))
	do(l.Record(ctx, Outcome{CallID: "call-1", Kind: KindSettled, TxHash: "0x" + strings.Repeat("a1", 32), HTTPStatus: 200}))
	do(reserve(ctx, l, news("call-2", 1000000)))
	do(l.Record(ctx, Outcome{CallID: "call-2", Kind: KindUnknown, Reason: "facilitator timed out; the payment may have settled", HTTPStatus: 504}))
	do(l.Settle(ctx, "call-2", "0x"+strings.Repeat("b2", 32)))
	do(reserve(ctx, l, weather("call-3", 5000)))
	do(l.Release(ctx, "call-3", "signing failed"))
	do(reserve(ctx, l, news("call-4", 250000)))
	do(l.MarkUnknown(ctx, "call-4", "no answer"))
	do(l.Void(ctx, "call-4", "authorization expired unused"))
	if _, err := l.Reserve(ctx, weather("call-5", 900000), Caps{PerCall: amt(500000)}); !errors.Is(err, ErrCapExceeded) {
		t.Fatalf("Reserve over the cap: %v", err)
	}
	step()
	do(l.Refuse(ctx, Refusal{CallID: "call-6", Agent: "bob", API: "news", Tool: "news_top", Network: "eip155:1",
		Reason: "network eip155:1 is not allowed: allowed are base, eip155:84532"}))
	do(reserve(ctx, l, other))
	do(l.Settle(ctx, "call-token", "0x"+strings.Repeat("c3", 32)))
	c.Add(36 * time.Hour) // the next day
	do(reserve(ctx, l, weather("call-7", 30000)))
	signer := "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
	art := Artifacts{
		Offer:   &Artifact{Format: "eip712", Raw: json.RawMessage(`{"format":"eip712","payload":{"version":1},"signature":"0x01"}`), Verified: true, Signer: signer, SignerIsPayTo: true},
		Receipt: &Artifact{Format: "eip712", Raw: json.RawMessage(`{"format":"eip712","payload":{"version":1},"signature":"0x02"}`), Signer: signer, SignerIsPayTo: true, Problem: "the receipt names payer 0x3333333333333333333333333333333333333333"},
	}
	do(l.Record(ctx, Outcome{CallID: "call-7", Kind: KindSettled, TxHash: "0x" + strings.Repeat("d4", 32), HTTPStatus: 201, Artifacts: art.JSON()}))
	do(reserve(ctx, l, weather("call-8", 12000)))
	do(reserve(ctx, l, news("call-9", 3000)))
	do(l.MarkUnknown(ctx, "call-9", "connection reset"))
	return l
}

func reserve(ctx context.Context, l *Ledger, in Intent) error {
	_, err := l.Reserve(ctx, in, Caps{})
	return err
}

// TestExportGoldens: every export format of goldenLedger, compared with its golden file
// (go test ./ledger -run TestExportGoldens -update rewrites them).
func TestExportGoldens(t *testing.T) {
	l := goldenLedger(t)
	ctx := t.Context()
	for _, tt := range []struct {
		file   string
		export func(*bytes.Buffer) error
	}{
		{"export.csv", func(b *bytes.Buffer) error { return l.ExportCSV(ctx, b, Filter{}, CSVOptions{}) }},
		{"export-excel.csv", func(b *bytes.Buffer) error { return l.ExportCSV(ctx, b, Filter{}, CSVOptions{Excel: true}) }},
		{"export.jsonl", func(b *bytes.Buffer) error { return l.ExportJSONL(ctx, b, Filter{}) }},
		{"export.hledger", func(b *bytes.Buffer) error { return l.ExportJournal(ctx, b, Filter{}, JournalHledger) }},
		{"export.beancount", func(b *bytes.Buffer) error { return l.ExportJournal(ctx, b, Filter{}, JournalBeancount) }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.export(&buf); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), `\u00`) {
				t.Errorf("%s escapes characters (\\u00..): want &, < and > as they are", tt.file)
			}
			golden(t, tt.file, buf.String())
		})
	}
}

// golden compares got with the golden file name, or with -update writes it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./ledger -run TestExportGoldens -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from its golden file (-want +got; -update rewrites it):\n%s", name, diff)
	}
}

// needTool returns the path of a program a test runs: a failure under CI (TOLL_CI set),
// where .ci/run installs it, and a skip elsewhere.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not installed: apt-get install -y --no-install-recommends " + pkg
	if os.Getenv("TOLL_CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a program and returns its standard output; a failure fails the test with its
// standard error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, stderr.String(), out)
	}
	return string(out)
}

// settledTotals are the settled amounts of l by account, computed from its spends:
// the expense account of each API and tool and the asset account of each network and
// payer, as account names in syn.
func settledTotals(t *testing.T, l *Ledger, syn journalSyntax) map[string]money.Amount {
	t.Helper()
	out := map[string]money.Amount{}
	add := func(k string, a money.Amount) {
		out[k] = out[k].Add(a)
	}
	err := l.ScanSpends(t.Context(), Filter{}, func(s *Spend) error {
		if s.Status != StatusSettled {
			return nil
		}
		c := syn.commodity(AssetSymbol(s.Network, s.Asset), s.Asset)
		add(syn.account("expenses", "x402", s.API, s.Tool)+" "+c, s.Amount)
		add(syn.account("assets", "x402", s.Network, s.Payer)+" "+c, money.Amount{}.Sub(s.Amount))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHledgerJournal: hledger reads the journal, and its balance of every account is the
// ledger's settled total of that API and tool, or network and payer.
func TestHledgerJournal(t *testing.T) {
	hledger := needTool(t, "hledger", "hledger")
	l := goldenLedger(t)
	file := filepath.Join(t.TempDir(), "toll.journal")
	writeJournal(t, l, file, JournalHledger)
	// One line per account and commodity: "ACCOUNT","AMOUNT COMMODITY".
	out := run(t, hledger, "-f", file, "bal", "--flat", "--no-total", "-O", "csv", "--layout", "bare")
	got := map[string]money.Amount{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Split(strings.ReplaceAll(line, `"`, ""), ",")
		if len(f) != 3 {
			t.Fatalf("hledger bal line %q: want account, commodity, amount", line)
		}
		a, err := signedAmount(f[2])
		if err != nil {
			t.Fatalf("hledger bal line %q: %v", line, err)
		}
		got[f[0]+" "+f[1]] = a
	}
	want := settledTotals(t, l, hledgerSyntax{})
	for k, v := range want {
		delete(want, k)
		want[strings.ReplaceAll(k, `"`, "")] = v
	}
	if diff := cmp.Diff(want, got, amountCmp); diff != "" {
		t.Errorf("hledger bal (-ledger's settled totals +hledger):\n%s", diff)
	}
	// The API's total, as an auditor would ask for it.
	if out := run(t, hledger, "-f", file, "bal", "expenses:x402:weather", "--depth", "3", "--no-total", "--layout", "bare"); !strings.Contains(out, "0.057367  USDC  expenses:x402:weather") {
		t.Errorf("hledger bal expenses:x402:weather:\n%s\nwant 0.057367 USDC (27367 + 30000 settled)", out)
	}
}

// TestBeancountJournal: bean-check accepts the journal, and bean-query's sum per account
// is the ledger's settled total of that API and tool, or network and payer.
func TestBeancountJournal(t *testing.T) {
	beanCheck := needTool(t, "bean-check", "beancount")
	beanQuery := needTool(t, "bean-query", "beancount")
	l := goldenLedger(t)
	file := filepath.Join(t.TempDir(), "toll.beancount")
	writeJournal(t, l, file, JournalBeancount)
	if out := run(t, beanCheck, file); out != "" {
		t.Errorf("bean-check printed %s", out)
	}
	out := run(t, beanQuery, "-f", "csv", file, "SELECT account, currency, sum(number) AS total GROUP BY account, currency")
	got := map[string]money.Amount{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) != 3 {
			t.Fatalf("bean-query line %q: want account, currency, total", line)
		}
		a, err := signedAmount(strings.TrimSpace(f[2]))
		if err != nil {
			t.Fatalf("bean-query line %q: %v", line, err)
		}
		got[strings.TrimSpace(f[0])+" "+strings.TrimSpace(f[1])] = a
	}
	if diff := cmp.Diff(settledTotals(t, l, beancountSyntax{}), got, amountCmp); diff != "" {
		t.Errorf("bean-query sums (-ledger's settled totals +beancount):\n%s", diff)
	}
}

// signedAmount parses a decimal the tools print, which may be negative.
func signedAmount(s string) (money.Amount, error) {
	abs, neg := strings.CutPrefix(s, "-")
	a, err := money.Parse(abs, Decimals)
	if neg {
		a = money.Amount{}.Sub(a)
	}
	return a, err
}

func writeJournal(t *testing.T, l *Ledger, file string, format JournalFormat) {
	t.Helper()
	var buf bytes.Buffer
	if err := l.ExportJournal(t.Context(), &buf, Filter{}, format); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

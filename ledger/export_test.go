package ledger

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollhq/toll/tools/money"
)

func exportLedger(t *testing.T) *Ledger {
	t.Helper()
	ctx := t.Context()
	l, _ := newLedger(t)
	huge, _ := new(big.Int).SetString("98765432109876543210987654321", 10) // > 2^64
	in := intent("big", 1)
	in.Amount = money.New(huge, Decimals)
	in.URL = "https://api.example.com/a,b?q=\"x\""
	mustReserve(t, l, in, Caps{})
	mustReserve(t, l, intent("small", 10000), Caps{})
	if err := l.Settle(ctx, "small", "0xdead"); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, l, intent("gone", 7), Caps{})
	if err := l.Release(ctx, "gone", "signing failed,\nretry later"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(ctx, intent("over", 500), Caps{PerCall: amt(100)}); !errors.Is(err, ErrCapExceeded) {
		t.Fatalf("Reserve over the cap: %v", err)
	}
	return l
}

func TestExportCSV(t *testing.T) {
	l := exportLedger(t)
	var buf bytes.Buffer
	if err := l.ExportCSV(t.Context(), &buf, Filter{}, CSVOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v\n%s", err, buf.String())
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want a header, 3 spends and a refusal:\n%s", len(rows), buf.String())
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Errorf("header = %v, want %v", rows[0], csvHeader)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	want := []struct{ seq, id, status, rule, amount, atomic, txHash, reason string }{
		{"1", "big", "reserved", "", "98765432109876543210987.654321", "98765432109876543210987654321", "", ""},
		{"3", "small", "settled", "", "0.01", "10000", "0xdead", ""},
		{"5", "gone", "released", "", "0.000007", "7", "", "signing failed,\nretry later"},
		{"6", "over", "refused", "per-call", "0.0005", "500", "", "per-call cap exceeded: used 0 + asked 0.0005 > limit 0.0001"},
	}
	evs := events(t, l)
	for i, w := range want {
		r := rows[i+1]
		got := []string{r[col["seq"]], r[col["call_id"]], r[col["status"]], r[col["rule"]], r[col["amount"]],
			r[col["amount_atomic"]], r[col["tx_hash"]], r[col["reason"]]}
		if exp := []string{w.seq, w.id, w.status, w.rule, w.amount, w.atomic, w.txHash, w.reason}; !slices.Equal(got, exp) {
			t.Errorf("row %d = %q, want %q", i+1, got, exp)
		}
		if r[col["time_utc"]] != "2026-03-01T12:00:00.000" || r[col["symbol"]] != "USDC" || r[col["decimals"]] != "6" {
			t.Errorf("row %d: time_utc %q symbol %q decimals %q", i+1, r[col["time_utc"]], r[col["symbol"]], r[col["decimals"]])
		}
		if w.status != "refused" && r[col["nonce"]] != nonceFor(w.id) {
			t.Errorf("row %d: nonce %q", i+1, r[col["nonce"]])
		}
		if seq := evs[len(evs)-1].Seq; r[col["seq"]] == fmt.Sprint(seq) && r[col["hash"]] != evs[len(evs)-1].Hash {
			t.Errorf("row %d: hash %q, want the last event's %q", i+1, r[col["hash"]], evs[len(evs)-1].Hash)
		}
		for _, e := range evs {
			if fmt.Sprint(e.Seq) == r[col["seq"]] && e.Hash != r[col["hash"]] {
				t.Errorf("row %d: hash %q, want event %d's %q", i+1, r[col["hash"]], e.Seq, e.Hash)
			}
		}
	}
	if got := rows[1][col["url"]]; got != "https://api.example.com/a,b?q=\"x\"" {
		t.Errorf("url = %q", got)
	}
}

// TestExportCSVStale: a call that became unknown (with a reason) and then settled has no
// reason on its row; --status refused selects the refusals; a status that is neither a
// spend's nor refused is refused.
func TestExportCSVStale(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	mustReserve(t, l, intent("late", 10), Caps{})
	if err := l.MarkUnknown(ctx, "late", "facilitator timed out"); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(ctx, "late", "0xbeef"); err != nil {
		t.Fatal(err)
	}
	if err := l.Refuse(ctx, Refusal{CallID: "no", Reason: "network eip155:1 is not allowed"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status string
		rows   []string // status, rule, reason, amount of each row
	}{
		{"", []string{"settled,,,0.00001", "refused,policy,network eip155:1 is not allowed,"}},
		{"refused", []string{"refused,policy,network eip155:1 is not allowed,"}},
		{"settled", []string{"settled,,,0.00001"}},
	} {
		var buf bytes.Buffer
		if err := l.ExportCSV(ctx, &buf, Filter{Status: tt.status}, CSVOptions{}); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows[1:] {
			got = append(got, strings.Join([]string{r[3], r[4], r[25], r[18]}, ","))
		}
		if diff := cmp.Diff(tt.rows, got); diff != "" {
			t.Errorf("status %q (-want +got):\n%s", tt.status, diff)
		}
	}
	err := l.ExportCSV(ctx, io.Discard, Filter{Status: "paid"}, CSVOptions{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "or refused") {
		t.Errorf("ExportCSV(status paid) = %v, want ErrInvalid naming the row statuses", err)
	}
}

// TestExportCSVCells: text that a spreadsheet would run as a formula gets a leading
// quote; --excel writes a byte order mark and CRLF.
func TestExportCSVCells(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	for _, tt := range []struct{ agent, want string }{
		{"=1+2", "'=1+2"}, {"+1", "'+1"}, {"-1", "'-1"}, {"@SUM(A1)", "'@SUM(A1)"}, {"\tx", "'\tx"},
		{"a=b", "a=b"}, {"", ""},
	} {
		t.Run("", func(t *testing.T) {
			if got := cellText(tt.agent); got != tt.want {
				t.Errorf("cellText(%q) = %q, want %q", tt.agent, got, tt.want)
			}
		})
	}
	in := intent("x", 1)
	in.Agent = "=HYPERLINK(\"http://evil\")"
	mustReserve(t, l, in, Caps{})
	var buf bytes.Buffer
	if err := l.ExportCSV(ctx, &buf, Filter{}, CSVOptions{Excel: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\uFEFFseq,hash,") || strings.Count(out, "\r\n") != 2 || strings.Count(out, "\n") != 2 {
		t.Errorf("excel CSV does not start with a BOM and end 2 lines with CRLF:\n%q", out)
	}
	if !strings.Contains(out, `,"'=HYPERLINK(""http://evil"")",`) {
		t.Errorf("the agent is not written as text:\n%s", out)
	}
}

func TestExportJSONL(t *testing.T) {
	l := exportLedger(t)
	var buf bytes.Buffer
	if err := l.ExportJSONL(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	evs := events(t, l)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(evs) || len(evs) != 6 {
		t.Fatalf("%d lines for %d events, want 6:\n%s", len(lines), len(evs), buf.String())
	}
	if !strings.Contains(lines[0], `"amount":"98765432109876543210987654321"`) {
		t.Errorf("amount is not a decimal string: %s", lines[0])
	}
	back, err := ReadJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(evs, back, amountCmp); diff != "" {
		t.Errorf("JSONL round trip (-want +got):\n%s", diff)
	}
	if err := VerifyEvents(back); err != nil {
		t.Errorf("VerifyEvents(exported chain) = %v", err)
	}

	// An edited export no longer verifies, and says where.
	edited := strings.Replace(buf.String(), `"amount":"10000"`, `"amount":"1"`, 1)
	back, err = ReadJSONL(strings.NewReader(edited))
	if err != nil {
		t.Fatal(err)
	}
	var te *TamperError
	if err := VerifyEvents(back); !errors.As(err, &te) || te.Seq != 2 {
		t.Errorf("VerifyEvents(edited) = %v, want a *TamperError at event 2", err)
	}
	// So does one with a line removed.
	cut := strings.Join(slices.Delete(slices.Clone(lines), 2, 3), "\n")
	back, err = ReadJSONL(strings.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEvents(back); !errors.As(err, &te) || te.Seq != 3 {
		t.Errorf("VerifyEvents(cut) = %v, want a *TamperError at event 3", err)
	}
	if _, err := ReadJSONL(strings.NewReader(`{"seq":1,"bogus":true}`)); err == nil {
		t.Error("ReadJSONL accepted an unknown field")
	}
}

// TestRecordHTTPStatus: an outcome's HTTP status reaches the spend and its events, the
// last answer stays when a later outcome had none, and a status no HTTP answer has, or
// one on a void, is refused with nothing written.
func TestRecordHTTPStatus(t *testing.T) {
	ctx := t.Context()
	l, _ := newLedger(t)
	in := intent("c1", 10)
	in.Method = "POST"
	mustReserve(t, l, in, Caps{})
	for _, o := range []Outcome{
		{CallID: "c1", Kind: KindUnknown, Reason: "x", HTTPStatus: 99},
		{CallID: "c1", Kind: KindUnknown, Reason: "x", HTTPStatus: 1000},
		{CallID: "c1", Kind: KindVoided, Reason: "x", HTTPStatus: 200},
	} {
		if err := l.Record(ctx, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Record(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	if err := l.RecordLater(Outcome{CallID: "c1", Kind: KindVoided, Reason: "x"}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecordLater(void) = %v, want ErrInvalid", err)
	}
	if err := l.Record(ctx, Outcome{CallID: "c1", Kind: KindUnknown, Reason: "no proof", HTTPStatus: 502}); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(ctx, "c1", "0xbeef"); err != nil {
		t.Fatal(err)
	}
	sp, err := l.Spend(ctx, "c1")
	if err != nil || sp.Method != "POST" || sp.HTTPStatus != 502 || sp.Status != StatusSettled {
		t.Errorf("spend = %+v, %v; want settled, POST, 502", sp, err)
	}
	evs, err := l.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %q %d", e.Kind, e.Method, e.HTTPStatus))
	}
	want := []string{`reserved "POST" 0`, `unknown "" 502`, `settled "" 0`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if err := l.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

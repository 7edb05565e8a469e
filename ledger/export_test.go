package ledger

import (
	"bytes"
	"encoding/csv"
	"errors"
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
	if err := l.ExportCSV(t.Context(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v\n%s", err, buf.String())
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want a header and 3 spends:\n%s", len(rows), buf.String())
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Errorf("header = %v, want %v", rows[0], csvHeader)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	want := []struct{ id, status, amount, txHash, reason string }{
		{"big", "reserved", "98765432109876543210987654321", "", ""},
		{"small", "settled", "10000", "0xdead", ""},
		{"gone", "released", "7", "", "signing failed,\nretry later"},
	}
	for i, w := range want {
		r := rows[i+1]
		got := []string{r[col["call_id"]], r[col["status"]], r[col["amount"]], r[col["tx_hash"]], r[col["reason"]]}
		if exp := []string{w.id, w.status, w.amount, w.txHash, w.reason}; !slices.Equal(got, exp) {
			t.Errorf("row %d = %q, want %q", i+1, got, exp)
		}
		if r[col["reserved_at"]] != "2026-03-01T12:00:00Z" || r[col["nonce"]] != nonceFor(w.id) {
			t.Errorf("row %d: reserved_at %q nonce %q", i+1, r[col["reserved_at"]], r[col["nonce"]])
		}
	}
	if got := rows[1][col["url"]]; got != "https://api.example.com/a,b?q=\"x\"" {
		t.Errorf("url = %q", got)
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
